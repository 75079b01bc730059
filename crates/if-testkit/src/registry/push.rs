//! Pushing small images over the distribution API: monolithic blob uploads (`POST` then
//! `PUT <location>&digest=`), then manifests with their media type as `Content-Type`.
//!
//! The media types are written here from the OCI and Docker specifications, independently
//! of the client under test.

use std::time::Duration;

use if_model::digest::Digest;
use serde_json::json;

use super::Must as _;

/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The Docker image manifest (schema 2) media type.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Pushes to one registry, with an optional `Authorization` value.
pub struct Pusher {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
}

/// What was pushed: the manifest (or index) digest and its children's.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The digest of the manifest or index pushed under the tag.
    pub digest: Digest,
    /// The digests of an index's manifests, in order (empty for a single manifest).
    pub children: Vec<Digest>,
}

impl Pusher {
    /// A pusher to `http://addr`, sending `auth` (if any) as `Authorization`.
    pub fn new(addr: &str, auth: Option<String>) -> Pusher {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Pusher {
            base: format!("http://{addr}"),
            auth,
            agent,
        }
    }

    /// Uploads `bytes` as a blob in one `PUT`; returns its digest. Panics unless the
    /// registry answers 202 then 201.
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::of_sha256_bytes(bytes);
        let mut post = self
            .agent
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base));
        if let Some(auth) = &self.auth {
            post = post.header("Authorization", auth.as_str());
        }
        let response = post.send_empty().must("POST blob upload");
        assert_eq!(
            response.status().as_u16(),
            202,
            "POST blob upload to {repo}"
        );
        let location = response
            .headers()
            .get("location")
            .must("upload Location")
            .to_str()
            .must("upload Location")
            .to_owned();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let mut put = self
            .agent
            .put(format!("{location}{separator}digest={digest}"))
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = &self.auth {
            put = put.header("Authorization", auth.as_str());
        }
        let response = put.send(bytes).must("PUT blob");
        assert_eq!(
            response.status().as_u16(),
            201,
            "PUT blob {digest} to {repo}"
        );
        digest
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with exactly `body`; returns the digest of
    /// those bytes (checked against `Docker-Content-Digest`).
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> Digest {
        let mut put = self
            .agent
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("Content-Type", media_type);
        if let Some(auth) = &self.auth {
            put = put.header("Authorization", auth.as_str());
        }
        let mut response = put.send(body).must("PUT manifest");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "PUT manifest {repo}:{reference}: {text}");
        let digest = Digest::of_sha256_bytes(body);
        let header = response
            .headers()
            .get("docker-content-digest")
            .must("Docker-Content-Digest");
        assert_eq!(
            header.to_str().must("Docker-Content-Digest"),
            digest.as_str()
        );
        digest
    }

    /// An image manifest (OCI or Docker schema 2) with a config blob and one layer, both
    /// made unique by `seed`, under `reference` (a tag or the manifest's own digest).
    fn image(&self, repo: &str, reference: Option<&str>, seed: &str, oci: bool) -> Pushed {
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "config": {"Labels": {"seed": seed}},
        })
        .to_string();
        let layer = format!("layer of {seed}");
        let config_digest = self.blob(repo, config.as_bytes());
        let layer_digest = self.blob(repo, layer.as_bytes());
        let (media_type, config_type, layer_type) = if oci {
            (
                OCI_MANIFEST,
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        } else {
            (
                DOCKER_MANIFEST_V2,
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        };
        // Pretty-printed on purpose: the digest must be of these exact bytes.
        let body = serde_json::to_string_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": config_type, "digest": config_digest.as_str(), "size": config.len()},
            "layers": [{"mediaType": layer_type, "digest": layer_digest.as_str(), "size": layer.len()}],
        }))
        .must("manifest JSON");
        let own = Digest::of_sha256_bytes(body.as_bytes());
        let reference = reference.map_or_else(|| own.to_string(), str::to_owned);
        let digest = self.manifest(repo, &reference, media_type, body.as_bytes());
        Pushed {
            digest,
            children: Vec::new(),
        }
    }

    /// An OCI image manifest tagged `tag`.
    pub fn oci_manifest(&self, repo: &str, tag: &str, seed: &str) -> Pushed {
        self.image(repo, Some(tag), seed, true)
    }

    /// A Docker schema 2 manifest tagged `tag`.
    pub fn docker_manifest(&self, repo: &str, tag: &str, seed: &str) -> Pushed {
        self.image(repo, Some(tag), seed, false)
    }

    /// An OCI index (two OCI manifests, amd64 and arm64, pushed by digest) tagged `tag`.
    pub fn oci_index(&self, repo: &str, tag: &str, seed: &str) -> Pushed {
        self.multi(repo, tag, seed, true)
    }

    /// A Docker manifest list (two schema 2 manifests) tagged `tag`.
    pub fn docker_list(&self, repo: &str, tag: &str, seed: &str) -> Pushed {
        self.multi(repo, tag, seed, false)
    }

    fn multi(&self, repo: &str, tag: &str, seed: &str, oci: bool) -> Pushed {
        let (index_type, child_type) = if oci {
            (OCI_INDEX, OCI_MANIFEST)
        } else {
            (DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2)
        };
        let mut children = Vec::new();
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let child = self.image(repo, None, &format!("{seed}-{arch}"), oci);
            let size = self.manifest_size(repo, &child.digest);
            entries.push(json!({
                "mediaType": child_type,
                "digest": child.digest.as_str(),
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }));
            children.push(child.digest);
        }
        let body = json!({
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": entries,
        })
        .to_string();
        let digest = self.manifest(repo, tag, index_type, body.as_bytes());
        Pushed { digest, children }
    }

    /// The stored size of a manifest (`GET` by digest, with every type accepted).
    pub fn manifest_size(&self, repo: &str, digest: &Digest) -> usize {
        let accept = [
            OCI_INDEX,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            DOCKER_MANIFEST_V2,
        ]
        .join(", ");
        let mut get = self
            .agent
            .get(format!("{}/v2/{repo}/manifests/{digest}", self.base))
            .header("Accept", accept.as_str());
        if let Some(auth) = &self.auth {
            get = get.header("Authorization", auth.as_str());
        }
        let mut response = get.call().must("GET manifest");
        assert_eq!(response.status().as_u16(), 200);
        response
            .body_mut()
            .read_to_vec()
            .must("manifest body")
            .len()
    }
}
