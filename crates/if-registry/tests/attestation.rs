//! `fetch_attestations` against a real registry (distribution 2.8), with indexes laid out as
//! Docker's "Image attestation storage" describes BuildKit's: an attestation manifest per
//! platform in the index, annotated `vnd.docker.reference.type: attestation-manifest` and
//! `vnd.docker.reference.digest`, its layers annotated `in-toto.io/predicate-type`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::RegistryAuth;
use common::attest::index;
use common::client;
use common::push::Pusher;
use if_registry::{Attestations, fetch_attestations};

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
