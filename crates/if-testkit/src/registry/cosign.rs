//! Cosign key-pair signatures made by tests and pushed as cosign pushes them
//! (sigstore/cosign `specs/SIGNATURE_SPEC.md`): a P-256 key generated with ring, a Simple
//! Signing payload, and an OCI manifest tagged `sha256-<hex>.sig` whose
//! `application/vnd.dev.cosign.simplesigning.v1+json` layers carry the base64 signature in
//! the `dev.cosignproject.cosign/signature` annotation.

use base64::Engine as _;
use if_model::digest::Digest;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::json;

use super::Must as _;
use super::push::Pusher;

/// DER of a P-256 `SubjectPublicKeyInfo` before its 65-byte point (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A signing key of the test's own.
pub struct CosignKey(EcdsaKeyPair);

impl CosignKey {
    /// A fresh P-256 key.
    pub fn generate() -> CosignKey {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).must("P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .must("P-256 key");
        CosignKey(pair)
    }

    /// The public key as `cosign generate-key-pair` writes `cosign.pub` (PEM SPKI).
    pub fn public_pem(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.public_key().as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// The base64 ASN.1 DER ECDSA-SHA256 signature of `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let sig = self
            .0
            .sign(&SystemRandom::new(), payload)
            .must("P-256 signature");
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }
}

/// A Simple Signing payload of `digest` for `reference`, as cosign writes it.
pub fn payload(reference: &str, digest: &Digest) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest.as_str()},
            "type": "cosign container image signature",
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// Pushes `layers` (`(payload, base64 signature)`) as the signature manifest of `digest` in
/// `repo`, tagged `sha256-<hex>.sig`; returns the manifest's digest.
pub fn push_signature(
    pusher: &Pusher,
    repo: &str,
    digest: &Digest,
    layers: &[(Vec<u8>, String)],
) -> Digest {
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = pusher.blob(repo, config);
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(payload, signature)| {
            let blob = pusher.blob(repo, payload);
            json!({
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "size": payload.len(),
                "digest": blob.as_str(),
                "annotations": {"dev.cosignproject.cosign/signature": signature},
            })
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": config.len(),
            "digest": config_digest.as_str(),
        },
        "layers": layers,
    })
    .to_string();
    let tag = format!("{}.sig", digest.as_str().replacen(':', "-", 1));
    pusher.manifest(
        repo,
        &tag,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    )
}
