//! `resolve_digest`: the digest a tag (or digest) points to, from one `HEAD` of the
//! manifest with an `Accept` of all four manifest types, reading `Docker-Content-Digest`;
//! when a registry leaves that header out, a `GET` and the sha256 of the exact body bytes.

use if_model::digest::{Digest, DigestAlgorithm};
use if_model::reference::ImageRef;

use crate::Client;
use crate::error::{RegistryError, Subject};
use crate::http::{Method, Reply, Request, Tally};
use crate::ratelimit::RateLimit;
use crate::session::{self, Endpoint};

/// An OCI image index (a multi-platform image).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// A Docker manifest list (a multi-platform image).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A Docker image manifest, schema 2.
pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The `Accept` header of every manifest request: all four types, indexes first, so that a
/// registry returns the digest of what the tag points to, never a child's.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// What a tag (or digest) resolved to.
#[derive(Debug)]
pub struct Resolved {
    /// The digest of the manifest the tag points to (an index's own digest for a
    /// multi-platform image).
    pub digest: Digest,
    /// The manifest's media type (`Content-Type`, parameters dropped), when the registry gave
    /// one.
    pub media_type: Option<String>,
    /// The rate limit the registry reported with the answer (Docker Hub does).
    pub rate_limit: Option<RateLimit>,
    /// HTTP requests this call made: retries, auth round-trips, token requests and a mirror
    /// that failed included.
    pub requests: u32,
    /// The host that answered (the registry's API host, or its mirror).
    pub host: String,
    /// Why the configured mirror was not used, when it failed and the registry answered.
    pub mirror_failure: Option<Box<RegistryError>>,
}

/// Resolves `image` to the digest its tag points to now. A reference with a tag (or with
/// neither tag nor digest: `latest`) asks for the tag, even when it is also pinned; one
/// pinned by digest only asks for that digest (checking that it exists).
pub fn resolve_digest(client: &Client, image: &ImageRef) -> Result<Resolved, RegistryError> {
    let reference = match (image.effective_tag(), image.digest()) {
        (Some(tag), _) => tag.to_owned(),
        (None, Some(digest)) => digest.to_string(),
        // Unreachable: a reference without a tag has a digest.
        (None, None) => "latest".to_owned(),
    };
    let subject = Subject {
        registry: image.registry().to_owned(),
        repository: image.repository().to_owned(),
        reference: Some(reference.clone()),
    };
    let tally = Tally::default();
    let result = session::with_fallback(client, &subject, |endpoint| {
        resolve_at(client, endpoint, &reference, &tally)
    });
    let ((digest, media_type, rate_limit, host), mirror_failure) = result?;
    Ok(Resolved {
        digest,
        media_type,
        rate_limit,
        requests: tally.get(),
        host,
        mirror_failure,
    })
}

type Found = (Digest, Option<String>, Option<RateLimit>, String);

/// One origin: `HEAD`, then `GET` when the digest header is missing or the `HEAD` says 404
/// (whose body, unlike the `HEAD`'s, tells an unknown tag from an unknown repository).
fn resolve_at(
    client: &Client,
    endpoint: &Endpoint<'_>,
    reference: &str,
    tally: &Tally,
) -> Result<Found, RegistryError> {
    let url = endpoint.url(&format!("manifests/{reference}"));
    let (request, reply) = session::send_authed(
        client,
        endpoint,
        Method::Head,
        url.clone(),
        MANIFEST_ACCEPT,
        tally,
    )?;
    if reply.status == 200 {
        if let Some(value) = reply.header("docker-content-digest") {
            let digest = Digest::parse(value.trim()).map_err(|e| {
                invalid(
                    endpoint,
                    &request,
                    &reply,
                    format!("bad Docker-Content-Digest: {e}"),
                )
            })?;
            return Ok(found(endpoint, &reply, digest));
        }
    } else if reply.status != 404 {
        return Err(endpoint.status_error(client, &request, &reply));
    }
    let (request, reply) =
        session::send_authed(client, endpoint, Method::Get, url, MANIFEST_ACCEPT, tally)?;
    if reply.status != 200 {
        return Err(endpoint.status_error(client, &request, &reply));
    }
    let digest = Digest::of_sha256_bytes(&reply.body);
    if let Ok(asked) = Digest::parse(reference) {
        if asked.algorithm() == DigestAlgorithm::Sha256 && asked != digest {
            let message =
                format!("the manifest's bytes hash to {digest}, not to the digest asked for");
            return Err(invalid(endpoint, &request, &reply, message));
        }
        if asked.algorithm() != DigestAlgorithm::Sha256 {
            return Ok(found(endpoint, &reply, asked));
        }
    }
    Ok(found(endpoint, &reply, digest))
}

fn found(endpoint: &Endpoint<'_>, reply: &Reply, digest: Digest) -> Found {
    let media_type = reply
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    (
        digest,
        media_type,
        RateLimit::from_headers(&reply.headers),
        endpoint.origin.authority.clone(),
    )
}

/// An answer that breaks the protocol (`InvalidResponse`), with what was wrong.
pub(crate) fn invalid(
    endpoint: &Endpoint<'_>,
    request: &Request,
    reply: &Reply,
    message: String,
) -> RegistryError {
    RegistryError::InvalidResponse {
        subject: Box::new(endpoint.subject.clone()),
        host: endpoint.origin.authority.clone(),
        url: request.url.clone(),
        status: reply.status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_the_four_types_indexes_first() {
        let types: Vec<&str> = MANIFEST_ACCEPT.split(',').map(str::trim).collect();
        assert_eq!(
            types,
            [
                OCI_INDEX,
                DOCKER_MANIFEST_LIST,
                OCI_MANIFEST,
                DOCKER_MANIFEST_V2
            ]
        );
    }
}
