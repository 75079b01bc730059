//! Digest facts in a base image's state file: attestations round-trip, old files read.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::state::parse_base;

/// A base image's state as the tool wrote it before attestations were recorded.
const OLD: &str = "name: b\nfullImage: r.example/lib/b:1\ndependentImages: []\ndigests:\n  - digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n    signature:\n      verified: true\n      key: keys/cosign.pub\n";

/// [`OLD`] as the tool writes it now: the one check under `signatures:`.
const OLD_NOW: &str = "name: b\nfullImage: r.example/lib/b:1\ndependentImages: []\ndigests:\n  - digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n    signatures:\n      - verified: true\n        key: keys/cosign.pub\n";

#[test]
fn a_file_from_before_attestations_and_several_keys_reads_and_writes_back_its_facts() {
    let (state, diags) = parse_base(OLD, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let state = state.unwrap();
    assert_eq!(state.digests[0].attestations, None);
    // The one `signature:` block is the list's only check, nothing lost.
    let check = SignatureCheck {
        verified: Some(true),
        key: Some("keys/cosign.pub".into()),
        ..SignatureCheck::default()
    };
    assert_eq!(state.digests[0].signatures, [check]);
    assert_eq!(state.to_yaml().unwrap(), OLD_NOW);
    let (again, diags) = parse_base(OLD_NOW, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(again.unwrap(), state);
}

fn check(fp: Option<&str>, file: &str, ok: bool, at: i64) -> SignatureCheck {
    SignatureCheck {
        verified: Some(ok),
        key: Some(file.into()),
        key_fingerprint: fp.map(str::to_string),
        checked_at: Some(Timestamp::from_unix(1_800_000_000 + at).unwrap()),
        reason: (!ok).then(|| "no signature".to_string()),
        extra: Vec::new(),
    }
}

#[test]
fn each_key_keeps_its_own_check_of_a_digest() {
    let mut f = DigestFacts::default();
    assert!(f.record_signature(check(Some("sha256:a"), "keys/a.pub", true, 0)));
    assert!(f.record_signature(check(Some("sha256:b"), "keys/b.pub", false, 1)));
    let of = |f: &DigestFacts, file: &str, read: KeyRead<'_>| {
        f.signature_for(file, read).and_then(|c| c.verified)
    };
    assert_eq!(
        of(&f, "keys/a.pub", KeyRead::Fingerprint("sha256:a")),
        Some(true)
    );
    assert_eq!(
        of(&f, "keys/b.pub", KeyRead::Fingerprint("sha256:b")),
        Some(false)
    );
    // Another key in a's file: a's check does not stand for it.
    assert_eq!(of(&f, "keys/a.pub", KeyRead::Fingerprint("sha256:c")), None);
    assert_eq!(of(&f, "keys/a.pub", KeyRead::Unreadable), None);
    assert_eq!(of(&f, "keys/a.pub", KeyRead::NotRead), Some(true));
    // The same outcome again changes nothing, its time included; another one replaces
    // that key's check only.
    assert!(!f.record_signature(check(Some("sha256:b"), "keys/b.pub", false, 5)));
    assert_eq!(
        f.signatures[1].checked_at,
        check(None, "", true, 1).checked_at
    );
    // The same key read from another file is the same key: one check.
    assert!(!f.record_signature(check(Some("sha256:a"), "keys/copy.pub", true, 6)));
    assert!(f.record_signature(check(Some("sha256:b"), "keys/b.pub", true, 7)));
    assert_eq!(f.signatures.len(), 2);
    assert_eq!(
        of(&f, "keys/a.pub", KeyRead::Fingerprint("sha256:a")),
        Some(true)
    );
    assert_eq!(
        of(&f, "keys/b.pub", KeyRead::Fingerprint("sha256:b")),
        Some(true)
    );
    // A file that could not be read has its own check, by file.
    assert!(f.record_signature(check(None, "keys/gone.pub", false, 8)));
    assert_eq!(of(&f, "keys/gone.pub", KeyRead::Unreadable), Some(false));
    assert_eq!(of(&f, "keys/a.pub", KeyRead::Unreadable), None);
}

#[test]
fn at_most_max_signatures_checks_are_kept_newest_last() {
    let mut f = DigestFacts::default();
    for i in 0..MAX_SIGNATURES + 3 {
        let fp = format!("sha256:{i}");
        f.record_signature(check(Some(&fp), "keys/k.pub", true, i as i64));
    }
    let kept: Vec<&str> = f
        .signatures
        .iter()
        .filter_map(|c| c.key_fingerprint.as_deref())
        .collect();
    assert_eq!(kept.len(), MAX_SIGNATURES);
    assert_eq!(kept.first(), Some(&"sha256:3"));
    assert_eq!(
        kept.last(),
        Some(&format!("sha256:{}", MAX_SIGNATURES + 2).as_str())
    );
    // A file with more is read bounded too, and the list wins over an old block of its key.
    let mut src = String::from(
        "name: b\nfullImage: r.example/lib/b:1\ndigests:\n  - digest: sha256:1111111111111111111111111111111111111111111111111111111111111111\n    signature:\n      verified: false\n      key: k\n      keyFingerprint: sha256:0\n    signatures:\n",
    );
    for i in 0..MAX_SIGNATURES + 1 {
        src.push_str(&format!(
            "      - verified: true\n        key: k\n        keyFingerprint: sha256:{i}\n"
        ));
    }
    let (state, diags) = parse_base(&src, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let sigs = &state.unwrap().digests[0].signatures;
    assert_eq!(sigs.len(), MAX_SIGNATURES);
    assert!(sigs.iter().all(|c| c.verified == Some(true)), "{sigs:?}");
    assert_eq!(sigs[0].key_fingerprint.as_deref(), Some("sha256:1"));
}

#[test]
fn attestations_round_trip_in_a_fixed_key_order() {
    let (state, _) = parse_base(OLD, "b.yaml");
    let mut state = state.unwrap();
    let at = Timestamp::parse("2026-03-10T10:00:00Z").unwrap();
    state.digests[0].attestations = Some(Attestations::from_predicates(
        true,
        [
            "https://cyclonedx.org/bom/v1.5",
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document",
        ],
        at,
    ));
    let text = state.to_yaml().unwrap();
    assert!(
        text.ends_with(
            "    attestations:\n      index: true\n      provenance: true\n      provenanceType: https://slsa.dev/provenance/v1\n      sbom: true\n      sbomFormat: SPDX\n      checkedAt: \"2026-03-10T10:00:00Z\"\n"
        ),
        "{text}"
    );
    let (again, diags) = parse_base(&text, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(again.unwrap(), state);
}

#[test]
fn attestation_facts_say_what_is_there_and_what_is_not() {
    let at = Timestamp::parse("2026-03-10T10:00:00Z").unwrap();
    let both = Attestations::from_predicates(
        true,
        [
            "https://spdx.dev/Document",
            "https://slsa.dev/provenance/v0.2",
        ],
        at,
    );
    assert_eq!(
        both.summary(),
        "provenance (https://slsa.dev/provenance/v0.2), SBOM (SPDX)"
    );
    let cdx = Attestations::from_predicates(true, ["https://cyclonedx.org/bom"], at);
    assert_eq!(cdx.sbom_format, Some(SbomFormat::CycloneDx));
    assert_eq!(cdx.summary(), "no provenance, SBOM (CycloneDX)");
    let none = Attestations::from_predicates(true, ["https://example.com/x"], at);
    assert_eq!(
        (none.provenance, none.sbom, none.summary().as_str()),
        (Some(false), Some(false), "no provenance, no SBOM")
    );
    let single = Attestations::from_predicates(false, [], at);
    assert_eq!(single.summary(), "no attestations (not an index)");
    assert!(!is_provenance("https://slsa.dev/provenance/v2"));
}

#[test]
fn an_unknown_sbom_format_is_an_error_at_its_position() {
    let text = format!("{OLD}    attestations:\n      sbomFormat: SWID\n");
    let (_, diags) = parse_base(&text, "b.yaml");
    let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("b.yaml:10:19: error: `sbomFormat` must be SPDX or CycloneDX"),
        "{shown:?}"
    );
}

#[test]
fn a_scan_failure_round_trips_beside_the_other_facts() {
    let (state, _) = parse_base(OLD, "b.yaml");
    let mut state = state.unwrap();
    state.digests[0].scan_failure = Some(ScanFailure {
        scanner: Some("trivy".into()),
        reason: Some("trivy failed (exit 3)".into()),
        at: Some(Timestamp::parse("2026-03-10T10:00:00Z").unwrap()),
        extra: Vec::new(),
    });
    let text = state.to_yaml().unwrap();
    assert!(
        text.contains(
            "    scanFailure:\n      scanner: trivy\n      reason: trivy failed (exit 3)\n      at: \"2026-03-10T10:00:00Z\"\n    signatures:\n"
        ),
        "{text}"
    );
    let (again, diags) = parse_base(&text, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(again.unwrap(), state);
}

/// A block with a bad value is reported and left out whole, never kept half-read: a scan
/// whose counts and IDs were dropped would be written back as a clean digest.
#[test]
fn a_block_with_a_bad_value_is_left_out_whole() {
    let src = format!(
        "{OLD}    scan:\n      scanner: trivy\n      counts: {{CRITICAL: lots}}\n      critical: [CVE-2026-1]\n    attestations:\n      provenance: maybe\n"
    );
    let (state, diags) = parse_base(&src, "b.yaml");
    let messages: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "b.yaml:11:26: error: `scan.counts.CRITICAL` must be a whole number, found `lots`",
            "b.yaml:14:19: error: `provenance` must be true or false, found a string",
        ]
    );
    let facts = &state.unwrap().digests[0];
    assert_eq!(
        (facts.scan.as_ref(), facts.attestations.as_ref()),
        (None, None)
    );
    // The sound block beside them stays.
    assert_eq!(
        facts.signatures.first().and_then(|s| s.verified),
        Some(true)
    );
}
