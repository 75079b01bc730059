//! Vulnerability reports as input (issue 23): a Trivy or Grype JSON report, told apart by its
//! content, reduced to what the rebuild engine needs (counts by severity, the IDs at or above
//! HIGH, which of them have a fix), bounded in size. Pure: the caller reads the file.
//!
//! Shapes, as the tools document them:
//! * Trivy `--format json` (`SchemaVersion: 2`): `Results[].Vulnerabilities[]` with
//!   `VulnerabilityID`, `PkgName`, `InstalledVersion`, `FixedVersion`, `Severity`
//!   (`UNKNOWN`, `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`); "VulnerabilityID, PkgName,
//!   InstalledVersion, and Severity in Vulnerabilities are always filled with values, but other
//!   fields might be empty" (Trivy's reporting docs); `Vulnerabilities` may be `null`.
//! * Grype `-o json`: `matches[]` with `vulnerability.{id, severity, fix.{versions, state}}`
//!   (`Negligible`, `Low`, `Medium`, `High`, `Critical`, `Unknown`) and
//!   `artifact.{name, version}`.

use std::collections::{BTreeMap, BTreeSet};

use if_model::diag::Diagnostic;
use if_model::supply::{MAX_IDS, Scan};
use if_model::timestamp::Timestamp;
use if_model::yaml::Pos;
use serde::Deserialize;

/// The scanner that wrote a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    /// Aqua Security's Trivy.
    Trivy,
    /// Anchore's Grype.
    Grype,
}

impl Scanner {
    /// Its name in state.
    pub fn as_str(self) -> &'static str {
        match self {
            Scanner::Trivy => "trivy",
            Scanner::Grype => "grype",
        }
    }
}

#[derive(Deserialize)]
struct TrivyReport {
    #[serde(rename = "SchemaVersion", deserialize_with = "schema_two")]
    _schema: u32,
    #[serde(rename = "Results", default)]
    results: Option<Vec<TrivyResult>>,
}

fn schema_two<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v == 2 {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "Trivy report SchemaVersion {v} is not supported (only 2)"
        )))
    }
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Vulnerabilities", default)]
    vulnerabilities: Option<Vec<TrivyVuln>>,
}

#[derive(Deserialize)]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "Severity")]
    severity: String,
    #[serde(rename = "FixedVersion", default)]
    fixed_version: Option<String>,
}

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    #[serde(rename = "artifact")]
    _artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVuln {
    id: String,
    severity: String,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    #[serde(rename = "name")]
    _name: String,
    #[serde(rename = "version")]
    _version: String,
}

/// One vulnerability found: its ID, normalized severity, whether a fix exists.
type Finding = (String, String, bool);

/// Reads a report. `file` names it in messages; every problem is `file:line:col`.
pub fn parse_report(text: &str, file: &str) -> Result<(Scanner, Scan), Diagnostic> {
    let err = |e: serde_json::Error, what: &str| {
        let pos = Pos {
            line: u32::try_from(e.line()).unwrap_or(u32::MAX).max(1),
            col: u32::try_from(e.column()).unwrap_or(u32::MAX).max(1),
        };
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Diagnostic::error(file, pos, format!("{what}: {msg}"))
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| err(e, "not JSON"))?;
    let obj = value.as_object();
    let (scanner, findings) = if obj.is_some_and(|o| o.contains_key("SchemaVersion")) {
        let r: TrivyReport =
            serde_json::from_str(text).map_err(|e| err(e, "not a Trivy JSON report"))?;
        let findings: Vec<Finding> = r
            .results
            .unwrap_or_default()
            .into_iter()
            .flat_map(|res| res.vulnerabilities.unwrap_or_default())
            .map(|v| {
                let fixed = v.fixed_version.is_some_and(|f| !f.trim().is_empty());
                (v.id, severity(&v.severity), fixed)
            })
            .collect();
        (Scanner::Trivy, findings)
    } else if obj.is_some_and(|o| o.contains_key("matches")) {
        let r: GrypeReport =
            serde_json::from_str(text).map_err(|e| err(e, "not a Grype JSON report"))?;
        let findings: Vec<Finding> = r
            .matches
            .into_iter()
            .map(|m| {
                let v = m.vulnerability;
                let fixed = v.fix.is_some_and(|f| !f.versions.is_empty());
                (v.id, severity(&v.severity), fixed)
            })
            .collect();
        (Scanner::Grype, findings)
    } else {
        return Err(Diagnostic::error(
            file,
            Pos { line: 1, col: 1 },
            "neither a Trivy JSON report (`SchemaVersion`, `Results`) nor a Grype JSON report (`matches`)",
        ));
    };
    Ok((scanner, summarize(scanner, findings)))
}

/// Trivy's and Grype's severities in one spelling (upper case); anything else is `UNKNOWN`.
fn severity(s: &str) -> String {
    let up = s.trim().to_ascii_uppercase();
    match up.as_str() {
        "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" | "NEGLIGIBLE" | "UNKNOWN" => up,
        _ => "UNKNOWN".to_string(),
    }
}

/// The most characters of a vulnerability ID kept (CVE, GHSA, DSA, ALAS IDs are under 30).
pub const MAX_ID_CHARS: usize = 64;

/// A report's ID as state, `status`, `plan` and a build's inputs carry it: control
/// characters (a report is untrusted: they would reach terminals and CI logs) as `?`, cut at
/// [`MAX_ID_CHARS`]. The same ID in two reports gives the same text, so the policy's
/// comparisons between digests hold.
fn bounded_id(id: String) -> String {
    if id.len() <= MAX_ID_CHARS && !id.chars().any(char::is_control) {
        return id;
    }
    id.chars()
        .take(MAX_ID_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn summarize(scanner: Scanner, findings: Vec<Finding>) -> Scan {
    // One vulnerability found in several packages counts once, at its worst severity.
    let rank = |s: &str| match s {
        "CRITICAL" => 0,
        "HIGH" => 1,
        "MEDIUM" => 2,
        "LOW" => 3,
        "NEGLIGIBLE" => 4,
        _ => 5,
    };
    let mut by_id: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (id, sev, fixed) in findings {
        let e = by_id
            .entry(bounded_id(id))
            .or_insert_with(|| (sev.clone(), false));
        if rank(&sev) < rank(&e.0) {
            e.0 = sev;
        }
        e.1 |= fixed;
    }
    let mut counts = BTreeMap::new();
    let (mut critical, mut high) = (Vec::new(), Vec::new());
    let mut fixable = BTreeSet::new();
    let mut truncated = 0u32;
    let mut kept = 0usize;
    for pass in ["CRITICAL", "HIGH"] {
        for (id, (sev, fixed)) in &by_id {
            if sev != pass {
                continue;
            }
            if kept >= MAX_IDS {
                truncated = truncated.saturating_add(1);
                continue;
            }
            kept += 1;
            if *fixed {
                fixable.insert(id.clone());
            }
            if pass == "CRITICAL" {
                critical.push(id.clone());
            } else {
                high.push(id.clone());
            }
        }
    }
    for (sev, _) in by_id.values() {
        *counts.entry(sev.clone()).or_insert(0u32) += 1;
    }
    Scan {
        scanner: Some(scanner.as_str().to_string()),
        scanned_at: None,
        counts,
        critical,
        high,
        fixable: fixable.into_iter().collect(),
        truncated: (truncated > 0).then_some(truncated),
        extra: Vec::new(),
    }
}

/// Records `scan` (taken at `at`) for `digest` of the base image `base`.
pub fn record_scan(
    base: &mut if_model::state::BaseImageState,
    digest: &if_model::digest::Digest,
    mut scan: Scan,
    at: Timestamp,
) {
    scan.scanned_at = Some(at);
    let facts = if_model::supply::facts_mut(&mut base.digests, digest);
    facts.scan = Some(scan);
    facts.scan_failure = None;
}

/// Records that `scanner`, run at `at` for `digest` of `base`, gave no report, and why. A
/// recorded report stays (the failure is only noted beside it); without one the clock
/// decides, as for a digest never scanned.
pub fn record_scan_failure(
    base: &mut if_model::state::BaseImageState,
    digest: &if_model::digest::Digest,
    scanner: Scanner,
    reason: String,
    at: Timestamp,
) {
    if_model::supply::facts_mut(&mut base.digests, digest).scan_failure =
        Some(if_model::supply::ScanFailure {
            scanner: Some(scanner.as_str().to_string()),
            reason: Some(reason),
            at: Some(at),
            extra: Vec::new(),
        });
}

#[cfg(test)]
mod tests;
