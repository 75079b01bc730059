//! Verifying a cosign key-pair signature of a digest (issue 23), pure: the caller fetches the
//! signature manifest and payload blobs (`if-registry`) and reads the key file; [`owed`]
//! says which digests need a check, [`record_owed`] keeps the outcome.
//!
//! As sigstore/cosign's `specs/SIGNATURE_SPEC.md` specifies: signatures of `sha256:<hex>`
//! are found at the tag `sha256-<hex>.sig` ("Replace the `:` character with a `-`; append
//! the `.sig` suffix"), an OCI image manifest whose layers of media type
//! `application/vnd.dev.cosign.simplesigning.v1+json` are the payload blobs, each with its
//! base64 signature in the annotation `dev.cosignproject.cosign/signature`; the payload is
//! Simple Signing JSON whose `critical.image.docker-manifest-digest` is the signed digest
//! and whose `critical.type` is `cosign container image signature`; the scheme is
//! ECDSA-P256 with SHA-256 (an ASN.1 DER signature). Keyless signatures (a Fulcio
//! certificate, a Rekor bundle) are not verified: only a public key given by the factory.

use base64::Engine as _;
use if_model::digest::Digest;
use if_model::supply::KeyRead;

/// The payload layers' media type.
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";

/// DER of a P-256 `SubjectPublicKeyInfo` up to its 65-byte uncompressed point: SEQUENCE,
/// AlgorithmIdentifier (id-ecPublicKey 1.2.840.10045.2.1, prime256v1 1.2.840.10045.3.1.7),
/// BIT STRING of 66 bytes (no unused bits).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 public key (the uncompressed point).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(Vec<u8>);

impl PublicKey {
    /// `sha256:<hex>` of the key's DER `SubjectPublicKeyInfo`: what a signature check is
    /// recorded with, so a changed key (the same file, other content) is checked again.
    pub fn fingerprint(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        Digest::of_sha256_bytes(&der).to_string()
    }
}

/// The tag where the signatures of `digest` are stored.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}.sig", digest.as_str().replacen(':', "-", 1))
}

/// Reads a PEM `PUBLIC KEY` (SPKI) holding a P-256 key, as `cosign generate-key-pair`
/// writes `cosign.pub`.
pub fn parse_public_key(pem: &str) -> Result<PublicKey, String> {
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|b| b.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or("not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("the PEM body is not base64: {e}"))?;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 0x04 => Ok(PublicKey(point.to_vec())),
        _ => Err("not an ECDSA P-256 public key (only P-256 keys are supported)".to_string()),
    }
}

/// Verifies one signature layer: `signature` (base64 DER) over `payload` with `key`, and
/// that the payload is a cosign Simple Signing payload of `digest`.
pub fn verify(
    key: &PublicKey,
    payload: &[u8],
    signature: &str,
    digest: &Digest,
) -> Result<(), String> {
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .map_err(|e| format!("the signature is not base64: {e}"))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &key.0)
        .verify(payload, &sig)
        .map_err(|_| "the signature does not verify with the key".to_string())?;
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the signed payload is not JSON: {e}"))?;
    let critical = &v["critical"];
    if critical["type"].as_str() != Some(PAYLOAD_TYPE) {
        return Err(format!(
            "the signed payload's critical.type is not `{PAYLOAD_TYPE}`"
        ));
    }
    // The spec's example spells the key `Docker-manifest-digest`; cosign writes it in
    // lower case (containers-signature.5.md): either is read.
    let signed = critical["image"].as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("docker-manifest-digest"))
            .and_then(|(_, v)| v.as_str())
    });
    match signed {
        Some(d) if d == digest.as_str() => Ok(()),
        Some(d) => Err(format!("the signature is of another digest ({d})")),
        None => Err("the signed payload names no critical.image.docker-manifest-digest".into()),
    }
}

/// Of several signature layers (`(payload, signature)`), the first that verifies; else why
/// none did (the first layer's reason, or that there is none).
pub fn verify_any(
    key: &PublicKey,
    layers: &[(Vec<u8>, String)],
    digest: &Digest,
) -> Result<(), String> {
    let mut first = None;
    for (payload, sig) in layers {
        match verify(key, payload, sig, digest) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| "the signature manifest has no signature layer".to_string()))
}

/// Records the outcome of checking `digest`'s signature with the key file `key_file` (its
/// key's `fingerprint`, when it could be read) at `at` on the base image's `digests` entry
/// (what the engine's `requireSignature` reads), as the check of that key: other keys'
/// checks of the digest stay. Returns whether the record changed: the same outcome again
/// keeps the earlier record, its time included, so a digest checked on every run while it
/// stays unsigned makes no diff.
pub fn record_signature(
    base: &mut if_model::state::BaseImageState,
    digest: &Digest,
    key_file: &str,
    fingerprint: Option<&str>,
    outcome: Result<(), String>,
    at: if_model::timestamp::Timestamp,
) -> bool {
    let check = if_model::supply::SignatureCheck {
        verified: Some(outcome.is_ok()),
        key: Some(key_file.to_string()),
        key_fingerprint: fingerprint.map(str::to_string),
        checked_at: Some(at),
        reason: outcome.err(),
        extra: Vec::new(),
    };
    if_model::supply::facts_mut(&mut base.digests, digest).record_signature(check)
}

/// A signature check `check` owes: a pending cause of an image under `requireSignature`
/// names a digest of a base whose signature was never checked with that image's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owed {
    /// The base image's key in [`crate::Analysis::bases`].
    pub base: String,
    /// The base image's reference (`fullImage`), whose repository holds the signature.
    pub image: String,
    /// The digest to check.
    pub digest: Digest,
    /// `requireSignature.publicKeyFile`, relative to the factory root.
    pub key_file: String,
    /// The fingerprint of the key in it now, when it could be read.
    pub key_fingerprint: Option<String>,
}

/// The key files of every image under `requireSignature`, sorted, without repeats: what the
/// caller reads to give [`owed`] their fingerprints.
pub fn key_files(enrollment: &if_model::enrollment::Enrollment) -> Vec<String> {
    let files: std::collections::BTreeSet<String> = enrollment
        .images()
        .iter()
        .filter_map(|e| e.require_signature.as_ref())
        .map(|p| p.public_key_file.clone())
        .collect();
    files.into_iter().collect()
}

/// The signature checks owed at this state, sorted and without repeats. `fingerprints`
/// gives the fingerprint of each key file's key now (absent: it could not be read). A
/// digest verified with the same key (its fingerprint; the file it was read from aside) is
/// not owed again; one that did not verify with it is owed on every run (its signature may
/// be pushed later), and so is one whose key file cannot be read or holds another key now.
/// Each key has its own check, so images with different keys on one digest do not make each
/// other's owed.
pub fn owed(
    enrollment: &if_model::enrollment::Enrollment,
    world: &crate::Analysis,
    fingerprints: &std::collections::BTreeMap<String, String>,
) -> Vec<Owed> {
    let by_name: std::collections::BTreeMap<&str, (&String, &if_model::state::BaseImageState)> =
        world
            .bases
            .iter()
            .map(|(key, b)| (b.name.as_str(), (key, b)))
            .collect();
    let mut out = std::collections::BTreeSet::new();
    for (name, image) in &world.images {
        let Some(policy) = enrollment
            .get(name)
            .and_then(|e| e.require_signature.as_ref())
        else {
            continue;
        };
        let Some(rs) = image.rebuild_state.as_ref() else {
            continue;
        };
        for cause in &rs.causes {
            let (Some(base_name), Some(digest)) = (&cause.base_image, &cause.digest) else {
                continue;
            };
            let Some((key, base)) = by_name.get(base_name.as_str()) else {
                continue;
            };
            let Some(image) = base.full_image.clone() else {
                continue;
            };
            let file = policy.public_key_file.as_str();
            let fingerprint = fingerprints.get(file);
            let settled = fingerprint.is_some_and(|fp| {
                if_model::supply::facts(&base.digests, digest)
                    .and_then(|f| f.signature_for(file, KeyRead::Fingerprint(fp)))
                    .is_some_and(|c| c.verified == Some(true))
            });
            if !settled {
                out.insert(Owed {
                    base: (*key).clone(),
                    image,
                    digest: digest.clone(),
                    key_file: file.to_string(),
                    key_fingerprint: fingerprint.cloned(),
                });
            }
        }
    }
    out.into_iter().collect()
}

/// Records the outcome of an owed check at `at` on its base image, with a line in
/// `world.changes` when it differs from the one recorded.
pub fn record_owed(
    world: &mut crate::Analysis,
    owed: &Owed,
    outcome: Result<(), String>,
    at: if_model::timestamp::Timestamp,
) {
    let Some(base) = world.bases.get_mut(&owed.base) else {
        return;
    };
    let name = base.name.clone();
    let line = match &outcome {
        Ok(()) => format!(
            "{name}: signature of {} verified with {}",
            owed.digest.short(),
            owed.key_file
        ),
        Err(why) => format!(
            "{name}: signature of {} not verified with {}: {why}",
            owed.digest.short(),
            owed.key_file
        ),
    };
    let fingerprint = owed.key_fingerprint.as_deref();
    if record_signature(base, &owed.digest, &owed.key_file, fingerprint, outcome, at) {
        world.changes.push(line);
    }
}

#[cfg(test)]
mod tests;
