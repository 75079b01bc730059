//! `fetch_signatures` against a real registry (distribution 2.8): signatures made by the
//! test with its own P-256 key, pushed as cosign pushes them (sigstore/cosign
//! `specs/SIGNATURE_SPEC.md`: tag `sha256-<hex>.sig`, simple-signing layers annotated
//! `dev.cosignproject.cosign/signature`), then verified with `if-state::cosign`: valid,
//! wrong key, wrong digest in the payload, missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::RegistryAuth;
use common::client;
use common::cosign::{CosignKey, payload, push_signature};
use common::net::{Answer, FakeRegistry};
use common::push::Pusher;
use if_registry::{RegistryError, Signatures, fetch_signatures};
use if_state::cosign::{parse_public_key, verify_any};

fn layers(s: Signatures) -> Vec<(Vec<u8>, String)> {
    match s {
        Signatures::Found {
            layers, skipped, ..
        } => {
            assert_eq!(skipped, 0);
            layers
                .into_iter()
                .map(|l| (l.payload, l.signature))
                .collect()
        }
        Signatures::Missing => panic!("expected a signature manifest"),
    }
}

#[test]
fn signatures_are_fetched_and_judged_by_the_key() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    let key = CosignKey::generate();
    let other = CosignKey::generate();
    let public = parse_public_key(&key.public_pem()).unwrap();
    let client = client();
    let image = registry.image("library/base:1");
    let reference = format!("{}/library/base", registry.addr);

    let signed = push.oci_manifest("library/base", "1", "signed").digest;
    let p = payload(&reference, &signed);
    push_signature(&push, "library/base", &signed, &[(p.clone(), key.sign(&p))]);
    let got = layers(fetch_signatures(&client, &image, &signed).unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, p, "the payload's exact bytes");
    assert_eq!(verify_any(&public, &got, &signed), Ok(()));

    // Signed with another key.
    let foreign = push.oci_manifest("library/base", "2", "foreign").digest;
    let p = payload(&reference, &foreign);
    push_signature(
        &push,
        "library/base",
        &foreign,
        &[(p.clone(), other.sign(&p))],
    );
    let got = layers(fetch_signatures(&client, &image, &foreign).unwrap());
    let err = verify_any(&public, &got, &foreign).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");

    // A valid signature of another digest, stored under this digest's tag.
    let moved = push.oci_manifest("library/base", "3", "moved").digest;
    let p = payload(&reference, &signed);
    push_signature(&push, "library/base", &moved, &[(p.clone(), key.sign(&p))]);
    let got = layers(fetch_signatures(&client, &image, &moved).unwrap());
    let err = verify_any(&public, &got, &moved).unwrap_err();
    assert!(err.contains("another digest"), "{err}");

    // Two signings: the second (valid) one is enough.
    let twice = push.oci_manifest("library/base", "4", "twice").digest;
    let bad = payload(&reference, &twice);
    push_signature(
        &push,
        "library/base",
        &twice,
        &[
            (bad.clone(), other.sign(&bad)),
            (bad.clone(), key.sign(&bad)),
        ],
    );
    let got = layers(fetch_signatures(&client, &image, &twice).unwrap());
    assert_eq!(got.len(), 2);
    assert_eq!(verify_any(&public, &got, &twice), Ok(()));

    // Unsigned.
    let unsigned = push.oci_manifest("library/base", "5", "unsigned").digest;
    assert_eq!(
        fetch_signatures(&client, &image, &unsigned).unwrap(),
        Signatures::Missing
    );
}

#[test]
fn a_payload_blob_that_does_not_match_its_digest_is_refused() {
    let key = CosignKey::generate();
    let digest = if_model::digest::Digest::of_sha256_bytes(b"image");
    let p = payload("127.0.0.1/x", &digest);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": if_model::digest::Digest::of_sha256_bytes(b"{}").as_str()},
        "layers": [{
            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "size": p.len(),
            "digest": if_model::digest::Digest::of_sha256_bytes(&p).as_str(),
            "annotations": {"dev.cosignproject.cosign/signature": key.sign(&p)},
        }],
    })
    .to_string();
    let fake = FakeRegistry::start(vec![
        Answer::new(200)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.as_bytes()),
        Answer::new(200).body(b"tampered"),
    ]);
    let image = if_model::reference::ImageRef::parse(&format!("{}/x:1", fake.addr)).unwrap();
    let err = fetch_signatures(&client(), &image, &digest).unwrap_err();
    assert!(
        matches!(&err, RegistryError::InvalidResponse { message, .. } if message.contains("hash to")),
        "{err}"
    );
    let requests = fake.requests();
    assert!(
        requests[0].contains(&format!("/v2/x/manifests/sha256-{}.sig", digest.hex())),
        "{requests:?}"
    );
}
