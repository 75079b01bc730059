//! Indexes carrying BuildKit attestation manifests, pushed as Docker's "Image attestation
//! storage" describes them: an attestation manifest per platform in the index, annotated
//! `vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest`, its
//! layers (`application/vnd.in-toto+json` statements) annotated `in-toto.io/predicate-type`.

use if_model::digest::Digest;
use serde_json::json;

use super::push::Pusher;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes an attestation manifest whose layers have `predicate_types`; returns its
/// descriptor for the index, describing `platform`.
pub fn attestation(
    push: &Pusher,
    repo: &str,
    platform: &Digest,
    predicate_types: &[&str],
) -> serde_json::Value {
    let config = br#"{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = push.blob(repo, config);
    let layers: Vec<_> = predicate_types
        .iter()
        .map(|t| {
            let statement = json!({"_type": "https://in-toto.io/Statement/v0.1",
                                   "predicateType": t, "subject": [], "predicate": {}})
            .to_string();
            let d = push.blob(repo, statement.as_bytes());
            json!({"mediaType": "application/vnd.in-toto+json", "digest": d.as_str(),
                   "size": statement.len(), "annotations": {"in-toto.io/predicate-type": t}})
        })
        .collect();
    let body = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest.as_str(), "size": config.len()},
        "layers": layers,
    })
    .to_string();
    let own = Digest::of_sha256_bytes(body.as_bytes());
    let digest = push.manifest(repo, own.as_str(), OCI_MANIFEST, body.as_bytes());
    json!({
        "mediaType": OCI_MANIFEST, "digest": digest.as_str(), "size": body.len(),
        "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": platform.as_str()},
    })
}

/// Pushes the index `tag` of one linux/amd64 image (its content from `tag`) and an
/// attestation manifest per entry of `attestations` (its predicate types); returns the
/// index's digest.
pub fn index(push: &Pusher, repo: &str, tag: &str, attestations: &[&[&str]]) -> Digest {
    index_seeded(push, repo, tag, tag, attestations)
}

/// [`index`] whose image content comes from `seed`, so one tag can move to new digests.
pub fn index_seeded(
    push: &Pusher,
    repo: &str,
    tag: &str,
    seed: &str,
    attestations: &[&[&str]],
) -> Digest {
    let image = push
        .oci_manifest(repo, &format!("{tag}-amd64"), seed)
        .digest;
    let mut manifests = vec![json!({
        "mediaType": OCI_MANIFEST, "digest": image.as_str(),
        "size": push.manifest_size(repo, &image),
        "platform": {"architecture": "amd64", "os": "linux"},
    })];
    for types in attestations {
        manifests.push(attestation(push, repo, &image, types));
    }
    let body =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).to_string();
    push.manifest(repo, tag, OCI_INDEX, body.as_bytes())
}
