//! `fetch_attestations` against a real registry (distribution 2.8), with indexes laid out as
//! Docker's "Image attestation storage" describes BuildKit's: an attestation manifest per
//! platform in the index, annotated `vnd.docker.reference.type: attestation-manifest` and
//! `vnd.docker.reference.digest`, its layers annotated `in-toto.io/predicate-type`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::RegistryAuth;
use common::client;
use common::push::Pusher;
use if_model::digest::Digest;
use if_registry::{Attestations, fetch_attestations};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes an attestation manifest whose layers have `predicate_types`; returns its
/// descriptor for the index, describing `platform`.
fn attestation(
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

/// An index `tag` of one linux/amd64 image and an attestation manifest per entry of
/// `attestations` (its predicate types).
fn index(push: &Pusher, repo: &str, tag: &str, attestations: &[&[&str]]) -> Digest {
    let image = push.oci_manifest(repo, &format!("{tag}-amd64"), tag).digest;
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

#[test]
fn provenance_and_sbom_attestations_are_told_apart() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    let client = client();
    let image = registry.image("lib/base:1");
    let slsa1 = "https://slsa.dev/provenance/v1";
    let slsa02 = "https://slsa.dev/provenance/v0.2";
    let spdx = "https://spdx.dev/Document";
    let cdx = "https://cyclonedx.org/bom";

    let both = index(&push, "lib/base", "both", &[&[spdx, slsa02]]);
    assert_eq!(
        fetch_attestations(&client, &image, &both).unwrap(),
        Attestations {
            index: true,
            manifests: 1,
            provenance: true,
            sbom: true,
            predicate_types: vec![slsa02.into(), spdx.into()],
            skipped: 0,
        }
    );

    let prov = index(&push, "lib/base", "prov", &[&[slsa1]]);
    let got = fetch_attestations(&client, &image, &prov).unwrap();
    assert!(got.provenance && !got.sbom, "{got:?}");

    let sbom = index(
        &push,
        "lib/base",
        "sbom",
        &[&[cdx], &["https://example.com/other"]],
    );
    let got = fetch_attestations(&client, &image, &sbom).unwrap();
    assert!(!got.provenance && got.sbom && got.manifests == 2, "{got:?}");

    let none = index(&push, "lib/base", "none", &[]);
    let got = fetch_attestations(&client, &image, &none).unwrap();
    assert_eq!(
        (got.index, got.manifests, got.provenance, got.sbom),
        (true, 0, false, false)
    );

    // A single manifest is not an index: nothing attested.
    let single = push.oci_manifest("lib/base", "single", "s").digest;
    let got = fetch_attestations(&client, &image, &single).unwrap();
    assert_eq!(got, Attestations::default());
}
