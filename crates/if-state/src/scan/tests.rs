//! Report parsing: both shapes as the tools document them, detection by content, bounds,
//! and `path:line:col` for malformed reports.

use super::*;

/// Trivy's JSON (SchemaVersion 2, `Results[].Vulnerabilities[]`; Trivy's reporting docs:
/// "VulnerabilityID, PkgName, InstalledVersion, and Severity in Vulnerabilities are always
/// filled", `FixedVersion` may be empty, `Vulnerabilities` may be null).
const TRIVY: &str = r#"{
  "SchemaVersion": 2,
  "ArtifactName": "node:22",
  "Results": [
    {"Target": "debian 12", "Vulnerabilities": [
      {"VulnerabilityID": "CVE-2026-0001", "PkgName": "openssl", "InstalledVersion": "3.0.1",
       "FixedVersion": "3.0.2", "Severity": "CRITICAL"},
      {"VulnerabilityID": "CVE-2026-0002", "PkgName": "zlib", "InstalledVersion": "1.2",
       "FixedVersion": "", "Severity": "HIGH"},
      {"VulnerabilityID": "CVE-2026-0003", "PkgName": "curl", "InstalledVersion": "8",
       "Severity": "LOW"},
      {"VulnerabilityID": "CVE-2026-0002", "PkgName": "zlib1g", "InstalledVersion": "1.2",
       "Severity": "MEDIUM"}
    ]},
    {"Target": "app/package-lock.json", "Vulnerabilities": null}
  ]
}"#;

/// Grype's JSON (`matches[].vulnerability.{id,severity,fix.versions}`, `artifact`).
const GRYPE: &str = r#"{
  "matches": [
    {"vulnerability": {"id": "CVE-2026-0009", "severity": "Critical",
       "fix": {"versions": [], "state": "not-fixed"}},
     "artifact": {"name": "glibc", "version": "2.36"}},
    {"vulnerability": {"id": "GHSA-xxxx-yyyy", "severity": "High",
       "fix": {"versions": ["1.2.3"], "state": "fixed"}},
     "artifact": {"name": "lodash", "version": "1.0"}},
    {"vulnerability": {"id": "CVE-2026-0010", "severity": "Negligible"},
     "artifact": {"name": "tar", "version": "1"}}
  ],
  "source": {"type": "image"}
}"#;

#[test]
fn trivy_counts_ids_and_fixes() {
    let (scanner, s) = parse_report(TRIVY, "r.json").expect("parses");
    assert_eq!(scanner, Scanner::Trivy);
    assert_eq!(s.critical, ["CVE-2026-0001"]);
    // Found in two packages, counted once at its worst severity.
    assert_eq!(s.high, ["CVE-2026-0002"]);
    assert_eq!(
        s.fixable,
        ["CVE-2026-0001"],
        "an empty FixedVersion is no fix"
    );
    assert_eq!(s.counts.get("CRITICAL"), Some(&1));
    assert_eq!(s.counts.get("HIGH"), Some(&1));
    assert_eq!(s.counts.get("LOW"), Some(&1));
    assert_eq!(s.counts.get("MEDIUM"), None);
    assert_eq!(s.truncated, None);
}

#[test]
fn grype_counts_ids_and_fixes() {
    let (scanner, s) = parse_report(GRYPE, "r.json").expect("parses");
    assert_eq!(scanner, Scanner::Grype);
    assert_eq!(s.critical, ["CVE-2026-0009"]);
    assert_eq!(s.high, ["GHSA-xxxx-yyyy"]);
    assert_eq!(s.fixable, ["GHSA-xxxx-yyyy"]);
    assert_eq!(s.counts.get("NEGLIGIBLE"), Some(&1));
}

/// A report is untrusted: an ID with control characters (a terminal escape) or of any
/// length is kept bounded and printable, the same way in every report, so it still
/// compares equal across digests.
#[test]
fn ids_are_printable_and_bounded() {
    let long = "CVE-".to_string() + &"9".repeat(5000);
    let report = format!(
        r#"{{"SchemaVersion": 2, "Results": [{{"Target": "t", "Vulnerabilities": [
          {{"VulnerabilityID": "CVE-2026-1\u001b[31m", "PkgName": "a", "InstalledVersion": "1", "Severity": "CRITICAL"}},
          {{"VulnerabilityID": "{long}", "PkgName": "b", "InstalledVersion": "1", "Severity": "HIGH"}}
        ]}}]}}"#
    );
    let (_, s) = parse_report(&report, "r.json").expect("parses");
    assert_eq!(s.critical, ["CVE-2026-1?[31m"]);
    assert_eq!(s.high.len(), 1);
    assert_eq!(s.high[0].chars().count(), MAX_ID_CHARS);
    assert!(long.starts_with(&s.high[0]));
    let (_, again) = parse_report(&report, "r.json").expect("parses");
    assert_eq!(again.high, s.high);
    assert_eq!(s.counts.get("CRITICAL"), Some(&1));
}

#[test]
fn ids_are_capped_and_the_rest_counted() {
    let vulns: Vec<String> = (0..250)
        .map(|i| {
            format!(
                r#"{{"VulnerabilityID":"CVE-2026-{i:05}","PkgName":"p","InstalledVersion":"1","Severity":"{}"}}"#,
                if i < 10 { "CRITICAL" } else { "HIGH" }
            )
        })
        .collect();
    let text = format!(
        r#"{{"SchemaVersion":2,"Results":[{{"Vulnerabilities":[{}]}}]}}"#,
        vulns.join(",")
    );
    let (_, s) = parse_report(&text, "r.json").expect("parses");
    assert_eq!(s.critical.len(), 10, "critical IDs are kept first");
    assert_eq!(s.high.len(), MAX_IDS - 10);
    assert_eq!(s.truncated, Some(50));
    assert_eq!(s.counts.get("HIGH"), Some(&240), "counts are not capped");
}

#[test]
fn malformed_reports_point_at_line_and_column() {
    let cases = [
        (
            "{\n  \"SchemaVersion\": 2,\n  \"Results\": [\n",
            "r.json:4:",
        ),
        (
            "{\"SchemaVersion\": 2,\n \"Results\": [{\"Vulnerabilities\": [{\"Severity\": \"HIGH\"}]}]}",
            "r.json:2:",
        ),
        ("{\"SchemaVersion\": 1, \"Results\": []}", "r.json:1:"),
        (
            "{\"matches\": [{\"vulnerability\": {\"id\": 5}}]}",
            "r.json:1:",
        ),
        ("[1, 2]", "r.json:1:1:"),
        ("{\"something\": true}", "r.json:1:1:"),
    ];
    for (text, at) in cases {
        let e = parse_report(text, "r.json").expect_err(text);
        assert!(e.to_string().starts_with(at), "{text}: {e}");
    }
    let e = parse_report("{\"SchemaVersion\": 1}", "r.json").expect_err("v1");
    assert!(
        e.to_string().contains("SchemaVersion 1 is not supported"),
        "{e}"
    );
    let e = parse_report(
        "{\"matches\": [{\"vulnerability\": {\"id\": \"x\", \"severity\": \"High\"}}]}",
        "r.json",
    )
    .expect_err("no artifact");
    assert!(e.to_string().contains("artifact"), "{e}");
}

#[test]
fn at_least_includes_worse_severities() {
    let (_, s) = parse_report(TRIVY, "r.json").expect("parses");
    assert_eq!(
        s.at_least(if_model::supply::Severity::Critical),
        ["CVE-2026-0001"]
    );
    assert_eq!(
        s.at_least(if_model::supply::Severity::High),
        ["CVE-2026-0001", "CVE-2026-0002"]
    );
}
