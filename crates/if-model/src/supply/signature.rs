//! Signature checks of one digest (issue 23), one per key: images whose `requireSignature`
//! names different keys share a base digest without replacing each other's result.
//!
//! A check stands for the key whose fingerprint it records (`sha256:` of the key's DER
//! `SubjectPublicKeyInfo`); a check made when the key file could not be read records no
//! fingerprint and stands for that file. State files written before there were several keep
//! the one check under `signature:`; it is read as the first of the list and written back
//! under `signatures:`.

use crate::decode::{Decoder, Unknown};
use crate::state::Extra;
use crate::timestamp::Timestamp;
use crate::yaml::Node;
use crate::yaml::Tree;

use super::{map, whole};

/// At most this many keys' checks are kept per digest (the newest).
pub const MAX_SIGNATURES: usize = 8;

/// The result of verifying one digest's signature with one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SignatureCheck {
    /// Whether a signature verified with the key.
    pub verified: Option<bool>,
    /// The key file it was checked with.
    pub key: Option<String>,
    /// The fingerprint of the key it was checked with (`sha256:` of its DER
    /// `SubjectPublicKeyInfo`); absent when the key file could not be read.
    pub key_fingerprint: Option<String>,
    /// When.
    pub checked_at: Option<Timestamp>,
    /// Why it did not verify.
    pub reason: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl SignatureCheck {
    /// Whether `self` and `other` are checks of the same key: the same fingerprint, or,
    /// without one, the same key file.
    fn same_key(&self, other: &SignatureCheck) -> bool {
        match (&self.key_fingerprint, &other.key_fingerprint) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.key == other.key,
            _ => false,
        }
    }

    /// Whether `self` says what `other`, a check of the same key, says (its time aside, and
    /// the key file: two files holding one key share its check).
    fn same_outcome(&self, other: &SignatureCheck) -> bool {
        (&self.verified, &self.reason) == (&other.verified, &other.reason)
    }
}

/// What the caller knows about a key file's key now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRead<'a> {
    /// The file was not read (`status` without the keys, the engine's own tests): the newest
    /// check made with that file stands for it.
    NotRead,
    /// The file could not be read or parsed: only a check that could not read it either.
    Unreadable,
    /// The key in it has this fingerprint: only a check with that key.
    Fingerprint(&'a str),
}

impl super::DigestFacts {
    /// The check that stands for the key in `key_file`, as `read` says it is now.
    pub fn signature_for(&self, key_file: &str, read: KeyRead<'_>) -> Option<&SignatureCheck> {
        let of_file = |c: &&SignatureCheck| c.key.as_deref() == Some(key_file);
        match read {
            KeyRead::Fingerprint(fp) => self
                .signatures
                .iter()
                .find(|c| c.key_fingerprint.as_deref() == Some(fp)),
            KeyRead::Unreadable => self
                .signatures
                .iter()
                .rev()
                .filter(of_file)
                .find(|c| c.key_fingerprint.is_none()),
            KeyRead::NotRead => self.signatures.iter().rev().find(of_file),
        }
    }

    /// Records `check`: it replaces the check of the same key (one per fingerprint) and is
    /// the newest; at most [`MAX_SIGNATURES`] are kept, the oldest dropped. The same outcome
    /// again keeps the earlier record, its time and place included. Returns whether anything
    /// changed.
    pub fn record_signature(&mut self, check: SignatureCheck) -> bool {
        if let Some(old) = self.signatures.iter().find(|c| c.same_key(&check))
            && old.same_outcome(&check)
        {
            return false;
        }
        self.signatures.retain(|c| !c.same_key(&check));
        self.signatures.push(check);
        bound(&mut self.signatures);
        true
    }
}

fn bound(checks: &mut Vec<SignatureCheck>) {
    if checks.len() > MAX_SIGNATURES {
        let drop = checks.len() - MAX_SIGNATURES;
        checks.drain(..drop);
    }
}

const SIGNATURE_KEYS: &[&str] = &["verified", "key", "keyFingerprint", "checkedAt", "reason"];

/// Reads `signatures:` (each check whole or left out) and an older file's `signature:`
/// (the first, unless the list has a check of its key), newest [`MAX_SIGNATURES`] kept.
pub(crate) fn decode_checks<N: Tree>(
    d: &mut Decoder,
    list: Option<&N>,
    legacy: Option<&N>,
) -> Vec<SignatureCheck> {
    let mut out: Vec<SignatureCheck> = legacy
        .and_then(|n| whole(d, |d| decode_check(d, n)))
        .into_iter()
        .collect();
    let checks = d.list(list, "signatures", |d, n| whole(d, |d| decode_check(d, n)));
    for check in checks {
        out.retain(|c| !c.same_key(&check));
        out.push(check);
    }
    bound(&mut out);
    out
}

fn decode_check<N: Tree>(d: &mut Decoder, node: &N) -> Option<SignatureCheck> {
    let f = d.fields(node, "signature", SIGNATURE_KEYS, Unknown::Keep)?;
    Some(SignatureCheck {
        verified: d.boolean(f.get("verified"), "verified"),
        key: d.string(f.get("key"), "key"),
        key_fingerprint: d.string(f.get("keyFingerprint"), "keyFingerprint"),
        checked_at: d.timestamp(f.get("checkedAt"), "checkedAt"),
        reason: d.string(f.get("reason"), "reason"),
        extra: f.unknown(SIGNATURE_KEYS),
    })
}

/// Writes `signatures:` (absent when there is none).
pub(crate) fn encode_checks(checks: &[SignatureCheck]) -> Option<Node> {
    if checks.is_empty() {
        return None;
    }
    let items = checks
        .iter()
        .map(|s| {
            map(
                vec![
                    ("verified", s.verified.map(Node::bool)),
                    ("key", s.key.as_ref().map(Node::str)),
                    ("keyFingerprint", s.key_fingerprint.as_ref().map(Node::str)),
                    ("checkedAt", s.checked_at.map(|t| Node::str(t.to_string()))),
                    ("reason", s.reason.as_ref().map(Node::str)),
                ],
                &s.extra,
            )
        })
        .collect();
    Some(Node::seq(items))
}
