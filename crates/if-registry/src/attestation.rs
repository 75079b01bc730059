//! `fetch_attestations`: which in-toto attestations BuildKit stored in a digest's index
//! (issue 23), read and not judged.
//!
//! Docker's "Image attestation storage" (docs.docker.com/build/metadata/attestations/
//! attestation-storage): attestation manifests are OCI image manifests listed in the root
//! image index, annotated `vnd.docker.reference.type: attestation-manifest` and
//! `vnd.docker.reference.digest: <the platform manifest they describe>`; each layer is one
//! attestation blob (`application/vnd.in-toto+json`) annotated `in-toto.io/predicate-type`.
//! Provenance is `https://slsa.dev/provenance/v0.2` or `v1`; an SBOM is
//! `https://spdx.dev/Document` (BuildKit's) or CycloneDX (`https://cyclonedx.org/bom`).
//!
//! Bounded: at most [`MAX_ATTESTATION_MANIFESTS`] attestation manifests are read (each a
//! manifest, within the HTTP layer's body cap); the blobs themselves are not fetched.

use if_model::digest::Digest;
use if_model::reference::ImageRef;

use crate::Client;
use crate::error::{RegistryError, Subject};
use crate::http::{Method, Tally};
use crate::manifest::{DOCKER_MANIFEST_LIST, MANIFEST_ACCEPT, OCI_INDEX, invalid};
use crate::session::{self, Endpoint};

/// The index annotation that marks an attestation manifest.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";
/// Its value.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";
/// The index annotation naming the manifest an attestation manifest describes.
pub const REFERENCE_DIGEST_ANNOTATION: &str = "vnd.docker.reference.digest";
/// The layer annotation naming an attestation's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// The most attestation manifests read from one index.
pub const MAX_ATTESTATION_MANIFESTS: usize = 32;

/// What a digest's index carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attestations {
    /// Whether the digest is an index at all (a single manifest carries none).
    pub index: bool,
    /// Attestation manifests listed in the index.
    pub manifests: usize,
    /// A SLSA provenance attestation (v0.2 or v1) is among them.
    pub provenance: bool,
    /// An SBOM attestation (SPDX or CycloneDX) is among them.
    pub sbom: bool,
    /// Every predicate type seen, sorted, without repeats.
    pub predicate_types: Vec<String>,
    /// Attestation manifests past [`MAX_ATTESTATION_MANIFESTS`] that were not read.
    pub skipped: usize,
}

/// Whether `predicate_type` is SLSA provenance (the model's one classification).
pub use if_model::supply::is_provenance;

/// Whether `predicate_type` is an SBOM (SPDX or CycloneDX).
pub fn is_sbom(predicate_type: &str) -> bool {
    if_model::supply::SbomFormat::of_predicate(predicate_type).is_some()
}

/// Reads the attestation manifests of the index `digest` in `image`'s repository.
pub fn fetch_attestations(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Attestations, RegistryError> {
    let subject = Subject {
        registry: image.registry().to_owned(),
        repository: image.repository().to_owned(),
        reference: Some(digest.to_string()),
    };
    let tally = Tally::default();
    let (found, _) = session::with_fallback(client, &subject, |endpoint| {
        read_index(client, endpoint, digest, &tally)
    })?;
    Ok(found)
}

fn get_json(
    client: &Client,
    endpoint: &Endpoint<'_>,
    reference: &str,
    tally: &Tally,
) -> Result<serde_json::Value, RegistryError> {
    let url = endpoint.url(&format!("manifests/{reference}"));
    let (request, reply) =
        session::send_authed(client, endpoint, Method::Get, url, MANIFEST_ACCEPT, tally)?;
    if reply.status != 200 {
        return Err(endpoint.status_error(client, &request, &reply));
    }
    serde_json::from_slice(&reply.body).map_err(|e| {
        invalid(
            endpoint,
            &request,
            &reply,
            format!("the manifest {reference} is not JSON: {e}"),
        )
    })
}

fn read_index(
    client: &Client,
    endpoint: &Endpoint<'_>,
    digest: &Digest,
    tally: &Tally,
) -> Result<Attestations, RegistryError> {
    let index = get_json(client, endpoint, digest.as_str(), tally)?;
    let media_type = index["mediaType"].as_str().unwrap_or_default();
    let mut out = Attestations::default();
    if media_type != OCI_INDEX && media_type != DOCKER_MANIFEST_LIST {
        return Ok(out);
    }
    out.index = true;
    let listed: Vec<Digest> = index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|m| {
            m["annotations"][REFERENCE_TYPE_ANNOTATION].as_str() == Some(ATTESTATION_MANIFEST)
        })
        .filter_map(|m| m["digest"].as_str().and_then(|d| Digest::parse(d).ok()))
        .collect();
    out.manifests = listed.len();
    out.skipped = listed.len().saturating_sub(MAX_ATTESTATION_MANIFESTS);
    let mut types = std::collections::BTreeSet::new();
    for d in listed.iter().take(MAX_ATTESTATION_MANIFESTS) {
        let manifest = get_json(client, endpoint, d.as_str(), tally)?;
        for layer in manifest["layers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(t) = layer["annotations"][PREDICATE_TYPE_ANNOTATION].as_str() {
                types.insert(t.to_owned());
            }
        }
    }
    out.provenance = types.iter().any(|t| is_provenance(t));
    out.sbom = types.iter().any(|t| is_sbom(t));
    out.predicate_types = types.into_iter().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_types_are_classified() {
        assert!(is_provenance("https://slsa.dev/provenance/v0.2"));
        assert!(is_provenance("https://slsa.dev/provenance/v1"));
        assert!(!is_provenance("https://slsa.dev/provenance/v2"));
        assert!(is_sbom("https://spdx.dev/Document"));
        assert!(is_sbom("https://cyclonedx.org/bom/v1.5"));
        assert!(!is_sbom("https://in-toto.io/attestation/vulns"));
    }
}
