//! Supply-chain facts and policies (issue 23): what is known about one digest of a base image
//! (its vulnerability scan, its signature check, the attestations its index carries) and
//! what an image asks of them
//! (`vulnerabilityPolicy`, `requireSignature` in `images.yaml`).

use std::collections::BTreeMap;
use std::fmt;

use crate::decode::{Decoder, Unknown};
use crate::digest::Digest;
use crate::state::Extra;
use crate::timestamp::Timestamp;
use crate::yaml::Node;
use crate::yaml::Tree;

/// At most this many vulnerability IDs are kept per digest (critical and high together);
/// the rest are counted in [`Scan::truncated`].
pub const MAX_IDS: usize = 200;
/// At most this many digests of one base image keep their facts (the newest).
pub const MAX_DIGESTS: usize = 20;

/// The severities a policy can name (`CRITICAL`, `HIGH`), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
}

impl Severity {
    /// The spelling in `images.yaml` and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
        }
    }

    /// Parses `CRITICAL` or `HIGH`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CRITICAL" => Some(Severity::Critical),
            "HIGH" => Some(Severity::High),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `vulnerabilityPolicy` of an image: off unless a key is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VulnerabilityPolicy {
    /// A new base digest that fixes a vulnerability this severe (or worse) of the digest the
    /// image was built on makes the rebuild due now.
    pub expedite_on: Option<Severity>,
    /// A new base digest that brings a vulnerability this severe (or worse) is held.
    pub hold_on: Option<Severity>,
}

/// `requireSignature` of an image: base digests must carry a cosign signature that this key
/// verifies before they may trigger a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// A PEM public key file, relative to the factory root.
    pub public_key_file: String,
}

/// What is known about one digest of a base image (`digests:` in its state file).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DigestFacts {
    /// The digest.
    pub digest: Option<Digest>,
    /// Its vulnerability scan (`record-scan`).
    pub scan: Option<Scan>,
    /// Its signature checks (`check`, `reconcile`), one per key, newest last, at most
    /// [`MAX_SIGNATURES`] (see [`DigestFacts::signature_for`]).
    pub signatures: Vec<SignatureCheck>,
    /// The attestations its index carries (`check`).
    pub attestations: Option<Attestations>,
    /// Why the last scan by `check --scan-with` gave no report (the clock decides).
    pub scan_failure: Option<ScanFailure>,
    /// Unknown keys.
    pub extra: Extra,
}

/// A scan that gave no report: the scanner failed, hung, or wrote something else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ScanFailure {
    /// The scanner run (`trivy`).
    pub scanner: Option<String>,
    /// Why there is no report.
    pub reason: Option<String>,
    /// When it was run.
    pub at: Option<Timestamp>,
    /// Unknown keys.
    pub extra: Extra,
}

/// The SBOM formats an attestation can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SbomFormat {
    /// SPDX (`https://spdx.dev/Document`, BuildKit's).
    Spdx,
    /// CycloneDX (`https://cyclonedx.org/bom...`).
    CycloneDx,
}

impl SbomFormat {
    /// The spelling in state and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "SPDX",
            SbomFormat::CycloneDx => "CycloneDX",
        }
    }

    /// Parses `SPDX` or `CycloneDX`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "SPDX" => Some(SbomFormat::Spdx),
            "CycloneDX" => Some(SbomFormat::CycloneDx),
            _ => None,
        }
    }

    /// The format an in-toto predicate type names, if it is an SBOM.
    pub fn of_predicate(predicate_type: &str) -> Option<Self> {
        if predicate_type == "https://spdx.dev/Document" {
            Some(SbomFormat::Spdx)
        } else if predicate_type.starts_with("https://cyclonedx.org/bom") {
            Some(SbomFormat::CycloneDx)
        } else {
            None
        }
    }
}

/// Whether an in-toto predicate type is SLSA provenance (v0.2 or v1).
pub fn is_provenance(predicate_type: &str) -> bool {
    matches!(
        predicate_type,
        "https://slsa.dev/provenance/v0.2" | "https://slsa.dev/provenance/v1"
    )
}

/// What a digest's index carries: BuildKit's attestation manifests (Docker's "Image
/// attestation storage"), recorded once per digest by `check`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Attestations {
    /// Whether the digest is an index (a single manifest carries no attestation manifest).
    pub index: Option<bool>,
    /// Whether a SLSA provenance attestation is there.
    pub provenance: Option<bool>,
    /// Its predicate type (the first, sorted, when several).
    pub provenance_type: Option<String>,
    /// Whether an SBOM attestation is there.
    pub sbom: Option<bool>,
    /// Its format (SPDX before CycloneDX when both).
    pub sbom_format: Option<SbomFormat>,
    /// When `check` read them.
    pub checked_at: Option<Timestamp>,
    /// Why they could not be read (the next `check` that finds the digest reads again).
    pub error: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Attestations {
    /// The facts of an index whose attestation layers name `predicate_types` (`index`:
    /// whether the digest is an index at all), read at `at`.
    pub fn from_predicates<'a>(
        index: bool,
        predicate_types: impl IntoIterator<Item = &'a str>,
        at: Timestamp,
    ) -> Attestations {
        let mut types: Vec<&str> = predicate_types.into_iter().collect();
        types.sort_unstable();
        let provenance_type = types
            .iter()
            .find(|t| is_provenance(t))
            .map(|t| t.to_string());
        let mut formats: Vec<SbomFormat> = types
            .iter()
            .filter_map(|t| SbomFormat::of_predicate(t))
            .collect();
        formats.sort_by_key(|f| *f != SbomFormat::Spdx);
        Attestations {
            index: Some(index),
            provenance: Some(provenance_type.is_some()),
            provenance_type,
            sbom: Some(!formats.is_empty()),
            sbom_format: formats.first().copied(),
            checked_at: Some(at),
            error: None,
            extra: Vec::new(),
        }
    }

    /// A read at `at` that failed, and why.
    pub fn failed(why: String, at: Timestamp) -> Attestations {
        Attestations {
            checked_at: Some(at),
            error: Some(why),
            ..Attestations::default()
        }
    }

    /// One line for people: `provenance (TYPE), SBOM (FORMAT)`, or what is missing.
    pub fn summary(&self) -> String {
        if let Some(why) = &self.error {
            return format!("not read: {why}");
        }
        if self.index == Some(false) {
            return "no attestations (not an index)".to_string();
        }
        let provenance = match (self.provenance, &self.provenance_type) {
            (Some(true), Some(t)) => format!("provenance ({t})"),
            (Some(true), None) => "provenance".to_string(),
            _ => "no provenance".to_string(),
        };
        let sbom = match (self.sbom, self.sbom_format) {
            (Some(true), Some(f)) => format!("SBOM ({f})"),
            (Some(true), None) => "SBOM".to_string(),
            _ => "no SBOM".to_string(),
        };
        format!("{provenance}, {sbom}")
    }
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A vulnerability scan of one digest, bounded in size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scan {
    /// `trivy` or `grype`.
    pub scanner: Option<String>,
    /// When it was recorded.
    pub scanned_at: Option<Timestamp>,
    /// Vulnerabilities by severity (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `NEGLIGIBLE`,
    /// `UNKNOWN`).
    pub counts: BTreeMap<String, u32>,
    /// IDs of the critical vulnerabilities, sorted.
    pub critical: Vec<String>,
    /// IDs of the high vulnerabilities, sorted.
    pub high: Vec<String>,
    /// Which of those IDs have a fixed version.
    pub fixable: Vec<String>,
    /// IDs at or above HIGH left out past [`MAX_IDS`].
    pub truncated: Option<u32>,
    /// Unknown keys.
    pub extra: Extra,
}

impl Scan {
    /// The IDs at `severity` or worse, sorted.
    pub fn at_least(&self, severity: Severity) -> Vec<&str> {
        let mut out: Vec<&str> = self.critical.iter().map(String::as_str).collect();
        if severity == Severity::High {
            out.extend(self.high.iter().map(String::as_str));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

const FACT_KEYS: &[&str] = &[
    "digest",
    "scan",
    "scanFailure",
    "signatures",
    "signature",
    "attestations",
];
const SCAN_FAILURE_KEYS: &[&str] = &["scanner", "reason", "at"];
const ATTESTATION_KEYS: &[&str] = &[
    "index",
    "provenance",
    "provenanceType",
    "sbom",
    "sbomFormat",
    "checkedAt",
    "error",
];
const SCAN_KEYS: &[&str] = &[
    "scanner",
    "scannedAt",
    "counts",
    "critical",
    "high",
    "fixable",
    "truncated",
];

/// Reads one `digests` entry.
pub(crate) fn decode_facts<N: Tree>(d: &mut Decoder, node: &N) -> Option<DigestFacts> {
    let f = d.fields(node, "a digests entry", FACT_KEYS, Unknown::Keep)?;
    Some(DigestFacts {
        digest: d.digest(f.get("digest"), "digest"),
        scan: f.get("scan").and_then(|n| whole(d, |d| decode_scan(d, n))),
        scan_failure: f.get("scanFailure").and_then(|n| {
            whole(d, |d| {
                let g = d.fields(n, "scanFailure", SCAN_FAILURE_KEYS, Unknown::Keep)?;
                Some(ScanFailure {
                    scanner: d.string(g.get("scanner"), "scanner"),
                    reason: d.string(g.get("reason"), "reason"),
                    at: d.timestamp(g.get("at"), "at"),
                    extra: g.unknown(SCAN_FAILURE_KEYS),
                })
            })
        }),
        signatures: signature::decode_checks(d, f.get("signatures"), f.get("signature")),
        attestations: f
            .get("attestations")
            .and_then(|n| whole(d, |d| decode_attestations(d, n))),
        extra: f.unknown(FACT_KEYS),
    })
}

/// A block of facts read whole or not at all: one with a bad value (reported) is left out,
/// so that a half-read block never stands for a whole one when the file is written again
/// (a scan whose counts were lost would read as a clean digest, a signature check without
/// its key as a check of no key). Left out, each is what it is without a record: no report
/// (the clock decides), a signature owed (checked again), attestations owed (read again).
pub(crate) fn whole<T>(d: &mut Decoder, read: impl FnOnce(&mut Decoder) -> Option<T>) -> Option<T> {
    let before = d.fatal_count();
    let got = read(d);
    if d.fatal_count() == before { got } else { None }
}

fn decode_attestations<N: Tree>(d: &mut Decoder, node: &N) -> Option<Attestations> {
    let f = d.fields(node, "attestations", ATTESTATION_KEYS, Unknown::Keep)?;
    let sbom_format = f.get("sbomFormat").and_then(|at| {
        let text = d.string(Some(at), "sbomFormat")?;
        let parsed = SbomFormat::parse(&text);
        if parsed.is_none() {
            d.error(
                at.pos(),
                format!("`sbomFormat` must be SPDX or CycloneDX, found `{text}`"),
            );
        }
        parsed
    });
    Some(Attestations {
        index: d.boolean(f.get("index"), "index"),
        provenance: d.boolean(f.get("provenance"), "provenance"),
        provenance_type: d.string(f.get("provenanceType"), "provenanceType"),
        sbom: d.boolean(f.get("sbom"), "sbom"),
        sbom_format,
        checked_at: d.timestamp(f.get("checkedAt"), "checkedAt"),
        error: d.string(f.get("error"), "error"),
        extra: f.unknown(ATTESTATION_KEYS),
    })
}

fn decode_scan<N: Tree>(d: &mut Decoder, node: &N) -> Option<Scan> {
    let f = d.fields(node, "scan", SCAN_KEYS, Unknown::Keep)?;
    let mut counts = BTreeMap::new();
    if let Some(c) = f.get("counts")
        && let Some(cf) = d.fields(c, "scan.counts", &[], Unknown::Keep)
    {
        for (k, v) in cf.unknown(&[]) {
            if let Some(n) = d.count(Some(&v), &format!("scan.counts.{k}")) {
                counts.insert(k, n);
            }
        }
    }
    Some(Scan {
        scanner: d.string(f.get("scanner"), "scanner"),
        scanned_at: d.timestamp(f.get("scannedAt"), "scannedAt"),
        counts,
        critical: d.strings(f.get("critical"), "critical"),
        high: d.strings(f.get("high"), "high"),
        fixable: d.strings(f.get("fixable"), "fixable"),
        truncated: d.count(f.get("truncated"), "truncated"),
        extra: f.unknown(SCAN_KEYS),
    })
}

pub(crate) fn strs(items: &[String]) -> Node {
    Node::seq(items.iter().map(Node::str).collect())
}

pub(crate) fn map(entries: Vec<(&str, Option<Node>)>, extra: &Extra) -> Node {
    let mut out: Vec<(String, Node)> = entries
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
    out.extend(extra.iter().cloned());
    Node::map(out)
}

/// Writes one `digests` entry.
pub(crate) fn encode_facts(f: &DigestFacts) -> Node {
    let scan = f.scan.as_ref().map(|s| {
        let counts = Node::map(
            s.counts
                .iter()
                .map(|(k, v)| (k.clone(), Node::int(i64::from(*v))))
                .collect(),
        );
        map(
            vec![
                ("scanner", s.scanner.as_ref().map(Node::str)),
                ("scannedAt", s.scanned_at.map(|t| Node::str(t.to_string()))),
                ("counts", Some(counts)),
                (
                    "critical",
                    (!s.critical.is_empty()).then(|| strs(&s.critical)),
                ),
                ("high", (!s.high.is_empty()).then(|| strs(&s.high))),
                ("fixable", (!s.fixable.is_empty()).then(|| strs(&s.fixable))),
                ("truncated", s.truncated.map(|n| Node::int(i64::from(n)))),
            ],
            &s.extra,
        )
    });
    let signatures = signature::encode_checks(&f.signatures);
    let scan_failure = f.scan_failure.as_ref().map(|x| {
        map(
            vec![
                ("scanner", x.scanner.as_ref().map(Node::str)),
                ("reason", x.reason.as_ref().map(Node::str)),
                ("at", x.at.map(|t| Node::str(t.to_string()))),
            ],
            &x.extra,
        )
    });
    let attestations = f.attestations.as_ref().map(|a| {
        map(
            vec![
                ("index", a.index.map(Node::bool)),
                ("provenance", a.provenance.map(Node::bool)),
                ("provenanceType", a.provenance_type.as_ref().map(Node::str)),
                ("sbom", a.sbom.map(Node::bool)),
                ("sbomFormat", a.sbom_format.map(|s| Node::str(s.as_str()))),
                ("checkedAt", a.checked_at.map(|t| Node::str(t.to_string()))),
                ("error", a.error.as_ref().map(Node::str)),
            ],
            &a.extra,
        )
    });
    map(
        vec![
            ("digest", f.digest.as_ref().map(|d| Node::str(d.as_str()))),
            ("scan", scan),
            ("scanFailure", scan_failure),
            ("signatures", signatures),
            ("attestations", attestations),
        ],
        &f.extra,
    )
}

/// The facts of `digest` in `list`, added (newest last, at most [`MAX_DIGESTS`]) when absent.
pub fn facts_mut<'a>(list: &'a mut Vec<DigestFacts>, digest: &Digest) -> &'a mut DigestFacts {
    let at = match list.iter().position(|f| f.digest.as_ref() == Some(digest)) {
        Some(i) => i,
        None => {
            list.push(DigestFacts {
                digest: Some(digest.clone()),
                ..DigestFacts::default()
            });
            if list.len() > MAX_DIGESTS {
                let drop = list.len() - MAX_DIGESTS;
                list.drain(..drop);
            }
            list.len() - 1
        }
    };
    &mut list[at]
}

/// The facts of `digest` in `list`.
pub fn facts<'a>(list: &'a [DigestFacts], digest: &Digest) -> Option<&'a DigestFacts> {
    list.iter().find(|f| f.digest.as_ref() == Some(digest))
}

const VULN_POLICY_KEYS: &[&str] = &["expediteOn", "holdOn"];
const SIGNATURE_POLICY_KEYS: &[&str] = &["publicKeyFile"];

/// Reads `vulnerabilityPolicy` of an `images.yaml` entry.
pub(crate) fn decode_vulnerability_policy<N: Tree>(
    d: &mut Decoder,
    node: Option<&N>,
) -> VulnerabilityPolicy {
    let Some(node) = node else {
        return VulnerabilityPolicy::default();
    };
    let Some(f) = d.fields(
        node,
        "vulnerabilityPolicy",
        VULN_POLICY_KEYS,
        Unknown::Reject,
    ) else {
        return VulnerabilityPolicy::default();
    };
    let severity = |d: &mut Decoder, key: &str| {
        let at = f.get(key)?;
        let text = d.string(Some(at), key)?;
        let parsed = Severity::parse(&text);
        if parsed.is_none() {
            d.error(
                at.pos(),
                format!("`{key}` must be CRITICAL or HIGH, found `{text}`"),
            );
        }
        parsed
    };
    VulnerabilityPolicy {
        expedite_on: severity(d, "expediteOn"),
        hold_on: severity(d, "holdOn"),
    }
}

/// Reads `requireSignature` of an `images.yaml` entry (the key file must stay inside the
/// factory: relative, no `..`).
pub(crate) fn decode_signature_policy<N: Tree>(
    d: &mut Decoder,
    node: Option<&N>,
) -> Option<SignaturePolicy> {
    let node = node?;
    let f = d.fields(
        node,
        "requireSignature",
        SIGNATURE_POLICY_KEYS,
        Unknown::Reject,
    )?;
    let path = d.required(
        f.get("publicKeyFile"),
        "publicKeyFile",
        f.pos,
        "requireSignature",
    )?;
    if let Err(e) = crate::enrollment::check_relative_path(&path)
        && let Some(at) = f.get("publicKeyFile")
    {
        d.error(at.pos(), format!("`publicKeyFile` `{path}`: {e}"));
        return None;
    }
    Some(SignaturePolicy {
        public_key_file: path,
    })
}

mod signature;
#[cfg(test)]
mod tests;

pub use signature::{KeyRead, MAX_SIGNATURES, SignatureCheck};
