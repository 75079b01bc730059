//! `fetch_signatures`: the cosign signature layers stored for a digest in its repository
//! (issue 23), fetched and not judged: verifying them is `if-state::cosign`'s.
//!
//! sigstore/cosign's `specs/SIGNATURE_SPEC.md`: the signatures of `sha256:<hex>` are the
//! manifest tagged `sha256-<hex>.sig` in the same repository, whose layers of media type
//! `application/vnd.dev.cosign.simplesigning.v1+json` are the signed payloads, each with its
//! base64 signature in the layer annotation `dev.cosignproject.cosign/signature`. cosign
//! pushes that manifest as OCI (or Docker schema 2 on registries that refuse OCI), so both
//! types are accepted. No such tag (404) is "no signature", not an error.
//!
//! Bounded: at most [`MAX_SIGNATURE_LAYERS`] payloads are fetched, each at most
//! [`MAX_PAYLOAD_BYTES`] (by the manifest's `size`, and by what arrives), and each blob's
//! bytes must hash to the digest the manifest names.

use if_model::digest::{Digest, DigestAlgorithm};
use if_model::reference::ImageRef;

use crate::Client;
use crate::error::{RegistryError, Subject};
use crate::http::{Method, Tally};
use crate::manifest::{DOCKER_MANIFEST_V2, OCI_MANIFEST, invalid};
use crate::session::{self, Endpoint};

/// The payload layers' media type.
pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const COSIGN_SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The most payload layers read from one signature manifest (each signing adds one).
pub const MAX_SIGNATURE_LAYERS: usize = 16;
/// The largest payload blob read (a Simple Signing payload is a few hundred bytes).
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024;

/// The `Accept` of the signature manifest request: the two image manifest types.
const SIGNATURE_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// One signature layer: the payload's exact bytes and the annotation's base64 signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The Simple Signing payload, as stored.
    pub payload: Vec<u8>,
    /// The `dev.cosignproject.cosign/signature` annotation.
    pub signature: String,
}

/// What the registry holds for a digest's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signatures {
    /// No `sha256-<hex>.sig` tag.
    Missing,
    /// The signature manifest's payload layers (possibly none that carry a signature).
    Found {
        /// The signature tag that was read.
        tag: String,
        /// Its payload layers with a signature annotation, in manifest order.
        layers: Vec<SignatureLayer>,
        /// Layers past [`MAX_SIGNATURE_LAYERS`] that were not fetched.
        skipped: usize,
    },
}

/// The tag holding the signatures of `digest` (`sha256:<hex>` → `sha256-<hex>.sig`).
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}.sig", digest.as_str().replacen(':', "-", 1))
}

/// Fetches the cosign signatures of `digest` from `image`'s repository (the image's tag and
/// digest are ignored). Mirrors are not asked: a mirror may not carry `.sig` tags, and
/// "missing" from a mirror would hold a signed digest.
pub fn fetch_signatures(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Signatures, RegistryError> {
    let tag = signature_tag(digest);
    let subject = Subject {
        registry: image.registry().to_owned(),
        repository: image.repository().to_owned(),
        reference: Some(tag.clone()),
    };
    let endpoint = session::source_endpoint(client, &subject)?;
    let tally = Tally::default();
    let url = endpoint.url(&format!("manifests/{tag}"));
    let (request, reply) = session::send_authed(
        client,
        &endpoint,
        Method::Get,
        url,
        SIGNATURE_ACCEPT,
        &tally,
    )?;
    match reply.status {
        200 => {}
        404 => return Ok(Signatures::Missing),
        _ => return Err(endpoint.status_error(client, &request, &reply)),
    }
    let manifest: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| {
        invalid(
            &endpoint,
            &request,
            &reply,
            format!("the signature manifest is not JSON: {e}"),
        )
    })?;
    let media_type = manifest["mediaType"].as_str().unwrap_or(OCI_MANIFEST);
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST_V2 {
        let message = format!("the signature manifest is a {media_type}, not an image manifest");
        return Err(invalid(&endpoint, &request, &reply, message));
    }
    let wanted = payload_layers(&manifest)
        .map_err(|message| invalid(&endpoint, &request, &reply, message))?;
    let skipped = wanted.len().saturating_sub(MAX_SIGNATURE_LAYERS);
    let mut layers = Vec::new();
    for (blob, signature) in wanted.into_iter().take(MAX_SIGNATURE_LAYERS) {
        let payload = fetch_payload(client, &endpoint, &blob, &tally)?;
        layers.push(SignatureLayer { payload, signature });
    }
    Ok(Signatures::Found {
        tag,
        layers,
        skipped,
    })
}

/// The `(blob digest, signature)` of each simple-signing layer carrying a signature
/// annotation; a layer whose `size` is past [`MAX_PAYLOAD_BYTES`] is refused.
fn payload_layers(manifest: &serde_json::Value) -> Result<Vec<(Digest, String)>, String> {
    let Some(layers) = manifest["layers"].as_array() else {
        return Err("the signature manifest has no `layers` list".to_owned());
    };
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        if layer["mediaType"].as_str() != Some(SIMPLESIGNING_MEDIA_TYPE) {
            continue;
        }
        let Some(signature) = layer["annotations"][COSIGN_SIGNATURE_ANNOTATION].as_str() else {
            continue;
        };
        let digest = layer["digest"]
            .as_str()
            .and_then(|d| Digest::parse(d).ok())
            .filter(|d| d.algorithm() == DigestAlgorithm::Sha256)
            .ok_or_else(|| format!("layer {i} has no sha256 `digest`"))?;
        match layer["size"].as_u64() {
            Some(size) if size <= MAX_PAYLOAD_BYTES => {}
            Some(size) => {
                return Err(format!(
                    "layer {i}'s payload is {size} bytes, more than {MAX_PAYLOAD_BYTES}"
                ));
            }
            None => return Err(format!("layer {i} has no `size`")),
        }
        out.push((digest, signature.to_owned()));
    }
    Ok(out)
}

/// `GET /v2/<repo>/blobs/<digest>`: the bytes, checked against the digest and the bound.
fn fetch_payload(
    client: &Client,
    endpoint: &Endpoint<'_>,
    blob: &Digest,
    tally: &Tally,
) -> Result<Vec<u8>, RegistryError> {
    let url = endpoint.url(&format!("blobs/{blob}"));
    let (request, reply) = session::send_authed(client, endpoint, Method::Get, url, "*/*", tally)?;
    if reply.status != 200 {
        return Err(endpoint.status_error(client, &request, &reply));
    }
    if reply.body.len() as u64 > MAX_PAYLOAD_BYTES {
        let message = format!("the payload blob {blob} is past {MAX_PAYLOAD_BYTES} bytes");
        return Err(invalid(endpoint, &request, &reply, message));
    }
    let got = Digest::of_sha256_bytes(&reply.body);
    if &got != blob {
        let message = format!("the payload blob's bytes hash to {got}, not to {blob}");
        return Err(invalid(endpoint, &request, &reply, message));
    }
    Ok(reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layer(media_type: &str, size: u64, sig: Option<&str>) -> serde_json::Value {
        let digest = Digest::of_sha256_bytes(b"p");
        let mut l = json!({"mediaType": media_type, "digest": digest.as_str(), "size": size});
        if let Some(sig) = sig {
            l["annotations"] = json!({ COSIGN_SIGNATURE_ANNOTATION: sig });
        }
        l
    }

    #[test]
    fn only_annotated_simplesigning_layers_are_payloads() {
        let manifest = json!({"layers": [
            layer(SIMPLESIGNING_MEDIA_TYPE, 1, Some("c2ln")),
            layer(SIMPLESIGNING_MEDIA_TYPE, 1, None),
            layer("application/vnd.oci.image.layer.v1.tar", 1, Some("eA==")),
        ]});
        let got = payload_layers(&manifest).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, "c2ln");
    }

    #[test]
    fn oversized_or_sizeless_payloads_are_refused() {
        let big =
            json!({"layers": [layer(SIMPLESIGNING_MEDIA_TYPE, MAX_PAYLOAD_BYTES + 1, Some("x"))]});
        assert!(payload_layers(&big).unwrap_err().contains("more than"));
        let mut sizeless = layer(SIMPLESIGNING_MEDIA_TYPE, 1, Some("x"));
        sizeless.as_object_mut().unwrap().remove("size");
        let err = payload_layers(&json!({"layers": [sizeless]})).unwrap_err();
        assert!(err.contains("no `size`"), "{err}");
        assert!(payload_layers(&json!({})).is_err());
    }

    #[test]
    fn the_tag_replaces_the_colon_and_appends_sig() {
        let d = Digest::of_sha256_bytes(b"x");
        assert_eq!(signature_tag(&d), format!("sha256-{}.sig", d.hex()));
    }
}
