//! Signature verification with keys the tests make (ring's P-256 key generation), per
//! sigstore/cosign `specs/SIGNATURE_SPEC.md`: valid, wrong key, wrong digest in the
//! payload, not a cosign payload, malformed inputs.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use super::*;

struct Signer(EcdsaKeyPair);

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        Signer(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }

    /// The public key as `cosign.pub` holds it (PEM SPKI).
    fn pem(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.0.public_key().as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    fn sign(&self, payload: &[u8]) -> String {
        let sig = self.0.sign(&SystemRandom::new(), payload).unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }
}

fn digest(c: char) -> Digest {
    Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
}

/// A Simple Signing payload as cosign writes it.
fn payload(d: &Digest) -> Vec<u8> {
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/library/python"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
    )
    .into_bytes()
}

#[test]
fn the_tag_is_the_digest_with_a_dash_and_sig() {
    assert_eq!(
        signature_tag(&digest('a')),
        format!("sha256-{}.sig", "a".repeat(64))
    );
}

#[test]
fn a_valid_signature_verifies_and_every_fault_is_named() {
    let signer = Signer::new();
    let key = parse_public_key(&signer.pem()).unwrap();
    let d = digest('1');
    let p = payload(&d);
    assert_eq!(verify(&key, &p, &signer.sign(&p), &d), Ok(()));

    let other = parse_public_key(&Signer::new().pem()).unwrap();
    assert_eq!(
        verify(&other, &p, &signer.sign(&p), &d),
        Err("the signature does not verify with the key".into())
    );
    let wrong = payload(&digest('2'));
    assert_eq!(
        verify(&key, &wrong, &signer.sign(&wrong), &d),
        Err(format!(
            "the signature is of another digest ({})",
            digest('2')
        ))
    );
    let not_cosign = br#"{"critical":{"image":{"docker-manifest-digest":"x"},"type":"atomic container signature"}}"#;
    assert!(
        verify(&key, not_cosign, &signer.sign(not_cosign), &d)
            .unwrap_err()
            .contains("critical.type")
    );
    // The spec's own example spelling of the key.
    let spec = String::from_utf8(p.clone())
        .unwrap()
        .replace("docker-manifest-digest", "Docker-manifest-digest")
        .into_bytes();
    assert_eq!(verify(&key, &spec, &signer.sign(&spec), &d), Ok(()));
    // A payload changed after signing.
    let mut tampered = p.clone();
    tampered.push(b' ');
    assert!(verify(&key, &tampered, &signer.sign(&p), &d).is_err());
    assert!(verify(&key, &p, "***", &d).unwrap_err().contains("base64"));

    assert_eq!(
        verify_any(&key, &[], &d),
        Err("the signature manifest has no signature layer".into())
    );
    let layers = vec![
        (wrong.clone(), signer.sign(&wrong)),
        (p.clone(), signer.sign(&p)),
    ];
    assert_eq!(
        verify_any(&key, &layers, &d),
        Ok(()),
        "any one layer is enough"
    );
}

#[test]
fn keys_other_than_pem_p256_are_refused() {
    assert!(
        parse_public_key("hello")
            .unwrap_err()
            .contains("not a PEM public key")
    );
    assert!(
        parse_public_key("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----")
            .unwrap_err()
            .contains("base64")
    );
    let short = base64::engine::general_purpose::STANDARD.encode([0x30, 0x59, 0x30]);
    assert!(
        parse_public_key(&format!(
            "-----BEGIN PUBLIC KEY-----\n{short}\n-----END PUBLIC KEY-----"
        ))
        .unwrap_err()
        .contains("P-256")
    );
}

#[test]
fn the_fingerprint_is_the_sha256_of_the_pem_body_and_tells_keys_apart() {
    let signer = Signer::new();
    let pem = signer.pem();
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let key = parse_public_key(&pem).unwrap();
    assert_eq!(key.fingerprint(), Digest::of_sha256_bytes(&der).to_string());
    let other = parse_public_key(&Signer::new().pem()).unwrap();
    assert_ne!(key.fingerprint(), other.fingerprint());
}
