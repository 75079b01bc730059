//! Supply chain (issue 23) end to end: `record-scan` with Trivy and Grype reports written
//! by the tests, `vulnerabilityPolicy` holding and expediting, `release`, and what `status`
//! and `plan` say about them. The report shapes are the tools' documented JSON: Trivy
//! `--format json` (`SchemaVersion: 2`, `Results[].Vulnerabilities[]` with
//! `VulnerabilityID`, `PkgName`, `InstalledVersion`, `FixedVersion`, `Severity`), Grype
//! `-o json` (`matches[].vulnerability.{id,severity,fix.versions}`, `artifact.{name,version}`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;

use common::rebuild::{Factory, day, digest};
use common::supply::{report, scan, scan_args, strs, trivy};
use serde_json::{Value, json};

/// A Grype report: `(id, severity, fix versions)` per match.
fn grype(vulns: &[(&str, &str, &[&str])]) -> String {
    let ms: Vec<Value> = vulns
        .iter()
        .map(|(id, sev, fix)| {
            json!({"vulnerability": {"id": id, "severity": sev,
                                     "fix": {"versions": fix, "state": if fix.is_empty() {"not-fixed"} else {"fixed"}}},
                   "artifact": {"name": "glibc", "version": "2.36"}})
        })
        .collect();
    serde_json::to_string_pretty(&json!({"matches": ms, "source": {"type": "image"}})).unwrap()
}

/// The `digests` entry of `d` in the base image `name`'s state file, as JSON.
fn facts(f: &Factory, name: &str, d: &str) -> Value {
    let path = f.root.join(format!("state/base-images/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let (state, diags) = if_model::state::parse_base(&text, "b");
    assert!(diags.is_empty(), "{diags:?}");
    let state = state.unwrap();
    let fact = state
        .digests
        .iter()
        .find(|x| x.digest.as_ref().map(|g| g.as_str()) == Some(d))
        .unwrap_or_else(|| panic!("no facts of {d} in {text}"));
    let s = fact.scan.as_ref().unwrap();
    json!({"scanner": s.scanner, "at": s.scanned_at.map(|t| t.to_string()), "counts": s.counts,
           "critical": s.critical, "high": s.high, "fixable": s.fixable})
}

#[test]
fn record_scan_keeps_counts_and_ids_per_digest_from_trivy_and_grype() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('1'), &day(-1));
    f.record("python:3.12-slim", &digest('2'), &day(0));

    let t = report(
        &f,
        "trivy.json",
        &trivy(&[
            ("CVE-2026-1000", "CRITICAL", ""),
            ("CVE-2026-1001", "HIGH", "3.0.2"),
            ("CVE-2026-1002", "LOW", ""),
        ]),
    );
    let v = scan(&f, "python:3.12-slim", &digest('1'), &t, &day(0));
    assert_eq!(v["scanner"], "trivy");
    assert_eq!(v["baseImage"], "python-3.12-slim");
    assert_eq!(
        v["written"],
        json!(["state/base-images/python-3.12-slim.yaml"])
    );
    assert_eq!(
        facts(&f, "python-3.12-slim", &digest('1')),
        json!({"scanner": "trivy", "at": day(0), "counts": {"CRITICAL": 1, "HIGH": 1, "LOW": 1},
               "critical": ["CVE-2026-1000"], "high": ["CVE-2026-1001"],
               "fixable": ["CVE-2026-1001"]})
    );

    let g = report(
        &f,
        "grype.json",
        &grype(&[
            ("CVE-2026-2000", "High", &["2.37"]),
            ("CVE-2026-2001", "Medium", &[]),
        ]),
    );
    let v = scan(&f, "python:3.12-slim", &digest('2'), &g, &day(1));
    assert_eq!(v["scanner"], "grype");
    assert_eq!(
        facts(&f, "python-3.12-slim", &digest('2')),
        json!({"scanner": "grype", "at": day(1), "counts": {"HIGH": 1, "MEDIUM": 1},
               "critical": [], "high": ["CVE-2026-2000"], "fixable": ["CVE-2026-2000"]})
    );
    // The first digest's scan is still there: facts are per digest.
    assert_eq!(
        facts(&f, "python-3.12-slim", &digest('1'))["critical"],
        json!(["CVE-2026-1000"])
    );
    // Two digests later the baseline is still one the factory has seen (the history's
    // first entry): a late report of it is recorded.
    f.record("python:3.12-slim", &digest('3'), &day(2));
    let v = scan(&f, "python:3.12-slim", &digest('1'), &t, &day(2));
    assert_eq!(v["scanner"], "trivy");
    // The same report again writes nothing.
    let v = scan(&f, "python:3.12-slim", &digest('2'), &g, &day(1));
    assert_eq!(v["written"], json!([]));
    let text = f.ok(&strs(&scan_args(
        "python:3.12-slim",
        &digest('2'),
        &g,
        &day(1),
    )));
    assert_eq!(
        text,
        "python-3.12-slim: grype scan of sha256:22222222 recorded (HIGH 1, MEDIUM 1)\n"
    );
}

#[test]
fn record_scan_refuses_unknown_digests_and_malformed_reports_writing_nothing() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('1'), &day(-1));
    let good = report(&f, "good.json", &trivy(&[("CVE-1", "HIGH", "")]));
    let bad = report(
        &f,
        "bad.json",
        "{\n  \"SchemaVersion\": 2,\n  \"Results\": [{\"Vulnerabilities\": [{\"Severity\": 3}]}]\n}\n",
    );
    let neither = report(&f, "neither.json", "{\"bomFormat\": \"CycloneDX\"}");
    let args = |image: &str, d: &str, path: &PathBuf| scan_args(image, d, path, &day(0));
    let run = |a: Vec<String>| f.refused(&strs(&a));

    let e = run(args("python:3.12-slim", &digest('9'), &good));
    assert!(
        e.contains("python-3.12-slim: the factory has not seen digest sha256:9999"),
        "{e}"
    );
    let e = run(args("python:3.12-slim", &digest('1'), &bad));
    assert!(
        e.contains(&format!("{}:3:", bad.display())) && e.contains("not a Trivy JSON report"),
        "{e}"
    );
    let e = run(args("python:3.12-slim", &digest('1'), &neither));
    assert!(
        e.contains(&format!(
            "{}:1:1: error: neither a Trivy",
            neither.display()
        )),
        "{e}"
    );
    let e = run(args("no-such:1", &digest('1'), &good));
    assert!(e.contains("no such image"), "{e}");
    let e = run(args("base-py", &digest('1'), &good));
    assert!(e.contains("not a base image"), "{e}");
    let e = run(args(
        "python:3.12-slim",
        &digest('1'),
        &f.dir.path().join("missing.json"),
    ));
    assert!(e.contains("no such report file"), "{e}");
}

/// Gives `base-py` (on python:3.12-slim, delay 7d) `vulnerabilityPolicy: {expediteOn:
/// CRITICAL, holdOn: CRITICAL}`, built on GitHub or (`gitlab`) on GitLab.
fn with_policy(f: &Factory, gitlab: bool) {
    let path = f.root.join("images.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let github = "    source:\n      provider: github\n      repo: acme/base-py\n      dockerfile: base-py/Dockerfile\n      workflow: build.yml\n";
    assert!(text.contains(github));
    let source = if gitlab {
        "    source:\n      provider: gitlab\n      repo: acme/base-py\n      dockerfile: base-py/Dockerfile\n      pipeline: .gitlab-ci.yml\n      job: build-base-py\n"
    } else {
        github
    };
    let policy = "    vulnerabilityPolicy:\n      expediteOn: CRITICAL\n      holdOn: CRITICAL\n";
    std::fs::write(&path, text.replace(github, &format!("{source}{policy}"))).unwrap();
}

/// The inputs of the dispatches of `base-py` the fake forge received, in order.
fn base_py_inputs(f: &Factory, gitlab: bool) -> Vec<Value> {
    common::supply::dispatched(f, gitlab, "base-py")
}

fn fix_then_bring_then_release(gitlab: bool) {
    let f = Factory::setup();
    with_policy(&f, gitlab);
    let base = "python:3.12-slim";
    f.record(base, &digest('1'), &day(-1));
    let r1 = report(
        &f,
        "d1.json",
        &trivy(&[("CVE-2026-0001", "CRITICAL", "3.0.2")]),
    );
    scan(&f, base, &digest('1'), &r1, &day(-1));

    // Digest 2 fixes the critical CVE of digest 1: rebuilt at once, not after 7 days.
    f.record(base, &digest('2'), &day(0));
    let clean = report(&f, "d2.json", &trivy(&[("CVE-2026-0100", "LOW", "")]));
    scan(&f, base, &digest('2'), &clean, &day(0));
    let v = f.reconcile(&day(0), &[]);
    let images: Vec<&str> = v["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["base-py"], "{v}");
    let inputs = base_py_inputs(&f, gitlab);
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        inputs[0]["reason"],
        format!(
            "expedited (fixes CVE-2026-0001): base image python:3.12-slim updated to {}",
            &digest('2')[..15]
        )
    );
    assert_eq!(inputs[0]["triggered_by"], "expedite");
    assert_eq!(inputs[0]["base_digest"], digest('2'));
    f.ok(&[
        "record-build",
        "--image",
        "base-py",
        "--digest",
        &digest('b'),
        "--now",
        &day(0),
    ]);

    // Digest 3 brings a critical CVE digest 2 did not have: held past its delay.
    f.record(base, &digest('3'), &day(1));
    let bad = report(
        &f,
        "d3.json",
        &trivy(&[
            ("CVE-2026-0200", "CRITICAL", ""),
            ("CVE-2026-0100", "LOW", ""),
        ]),
    );
    scan(&f, base, &digest('3'), &bad, &day(1));
    let v = f.reconcile(&day(10), &[]);
    assert!(
        !v["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["image"] == "base-py"),
        "{v}"
    );
    let why = format!(
        "held: {} brings CRITICAL or worse: CVE-2026-0200; waits for a newer digest or `image-factory release base-py`",
        &digest('3')[..15]
    );
    let wait = v["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["image"] == "base-py")
        .unwrap()
        .clone();
    assert_eq!(wait["why"], why.as_str());
    let row = f.status_with(&["--now", &day(10)])["base-py"]["rebuild"].clone();
    assert_eq!(row["status"], "held");
    assert_eq!(
        row["held"],
        json!([format!(
            "{} brings CRITICAL or worse: CVE-2026-0200",
            &digest('3')[..15]
        )])
    );
    assert_eq!(row["unscanned"], json!([]));
    let line = f.status_line("base-py");
    assert!(
        line.contains(" held ") && line.contains("CVE-2026-0200"),
        "{line}"
    );
    let plan = f.json(&["plan", base, "--now", &day(10)]);
    assert_eq!(
        plan["held"],
        json!([{"image": "base-py",
                "why": format!("{} brings CRITICAL or worse: CVE-2026-0200", &digest('3')[..15])}])
    );
    let text = f.ok(&["plan", base, "--now", &day(10)]);
    assert!(
        text.contains(
            "held now (until a newer digest or `image-factory release IMAGE`):\n  base-py: "
        ),
        "{text}"
    );
    assert_eq!(
        base_py_inputs(&f, gitlab).len(),
        1,
        "nothing sent while held"
    );

    // A person releases it: triggered once, the release in the build's reason.
    let text = f.ok(&[
        "release",
        "base-py",
        "--reason",
        "not reachable, ok by security",
        "--now",
        &day(10),
    ]);
    assert!(
        text.starts_with("base-py: released (not reachable, ok by security)"),
        "{text}"
    );
    f.reconcile(&day(10), &[]);
    let inputs = base_py_inputs(&f, gitlab);
    assert_eq!(inputs.len(), 2);
    assert!(
        inputs[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("released (not reachable, ok by security; was held: "),
        "{}",
        inputs[1]["reason"]
    );
    assert_eq!(inputs[1]["base_digest"], digest('3'));
    f.reconcile(&day(11), &[]);
    assert_eq!(base_py_inputs(&f, gitlab).len(), 2, "never twice");
    f.assert_no_secrets();
}

#[test]
fn a_fix_is_rebuilt_at_once_a_new_critical_is_held_until_released_on_github() {
    fix_then_bring_then_release(false);
}

#[test]
fn a_fix_is_rebuilt_at_once_a_new_critical_is_held_until_released_on_gitlab() {
    fix_then_bring_then_release(true);
}

#[test]
fn status_names_pending_digests_without_a_report() {
    let f = Factory::setup();
    with_policy(&f, false);
    f.record("python:3.12-slim", &digest('1'), &day(-1));
    f.record("python:3.12-slim", &digest('2'), &day(0));
    let row = f.status_with(&["--now", &day(1)])["base-py"]["rebuild"].clone();
    assert_eq!(row["status"], "pending");
    assert_eq!(
        row["unscanned"],
        json!([format!("python-3.12-slim@{}", &digest('2')[..15])])
    );
    let line = f.status_line("base-py");
    assert!(
        line.contains("no vulnerability report yet: python-3.12-slim@sha256:22222222"),
        "{line}"
    );
    // Without a report the clock decides: due after the 7-day delay, not before.
    assert!(
        f.reconcile(&day(6), &[])["triggers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.reconcile(&day(7), &[])["triggers"][0]["image"], "base-py");
}

/// `check --scan-with trivy` with a fake `trivy` on PATH (a script the test writes): each
/// new base digest is scanned with `trivy image --format json --quiet REF@DIGEST` and the
/// report recorded as `record-scan` would; a scanner that fails, hangs past
/// `--scan-timeout` or writes garbage is recorded as no report with the reason, never
/// stops the check, and its stderr is never shown.
#[test]
fn check_scan_with_trivy_records_reports_and_why_there_is_none() {
    use common::supply::{dispatched, facts_of, registry_factory, triggers};

    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    let f = registry_factory(
        &reg,
        false,
        "    vulnerabilityPolicy:\n      holdOn: CRITICAL\n",
    );
    let log = f.dir.path().join("trivy-args.log");
    let script = |body: &str| {
        common::supply::fake_trivy(&f, body);
    };
    let path = common::supply::fake_trivy(&f, "exit 1");
    let check = |now: &str, extra: &[&str], path: &str| {
        let mut args = vec![
            "--format",
            "json",
            "check",
            "--now",
            now,
            "--scan-with",
            "trivy",
        ];
        args.extend_from_slice(extra);
        common::supply::run_scanning(&f, &args, path)
    };
    let failure = |d: &if_model::digest::Digest| {
        let facts = facts_of(&f, d.as_str()).unwrap();
        assert!(facts.scan.is_none(), "{facts:?}");
        facts.scan_failure.unwrap().reason.unwrap()
    };
    let report = common::supply::report(
        &f,
        "trivy.json",
        &trivy(&[
            ("CVE-2026-0300", "CRITICAL", ""),
            ("CVE-2026-0301", "LOW", ""),
        ]),
    );

    // The baseline is not scanned.
    push.oci_manifest("lib/base", "1", "d0");
    script(&format!("cat '{}'", report.display()));
    check(&day(-1), &[], &path);
    assert!(!log.exists(), "a baseline is not scanned");

    // A report: recorded on the digest, and the policy holds it.
    let d1 = push.oci_manifest("lib/base", "1", "d1").digest;
    let (v, _) = check(&day(0), &[], &path);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("image --format json --quiet {reg}/lib/base@{d1}\n")
    );
    assert_eq!(v["scans"][0]["result"], "recorded", "{v:#}");
    assert_eq!(v["scans"][0]["counts"], json!({"CRITICAL": 1, "LOW": 1}));
    let scan = facts_of(&f, d1.as_str()).unwrap().scan.unwrap();
    assert_eq!(
        (
            scan.scanner.as_deref(),
            scan.critical.clone(),
            scan.scanned_at
        ),
        (
            Some("trivy"),
            vec!["CVE-2026-0300".to_string()],
            Some(day(0).parse().unwrap())
        )
    );
    assert!(triggers(&f.reconcile(&day(2), &[])).is_empty());
    assert_eq!(f.rebuild("app")["status"], "held");

    // It fails: no report, the reason recorded and shown; the clock decides.
    let d2 = push.oci_manifest("lib/base", "1", "d2").digest;
    script("echo '{\"SchemaVersion\": 2,'; exit 3");
    let (v, stderr) = check(&day(3), &[], &path);
    assert_eq!(failure(&d2), "trivy failed (exit 3)");
    assert_eq!(v["scans"][0]["reason"], "trivy failed (exit 3)");
    assert!(
        stderr.contains(": no report: trivy failed (exit 3)"),
        "{stderr}"
    );
    let row = f.status_with(&["--now", &day(3)])["app"]["rebuild"].clone();
    assert_eq!(
        row["unscanned"],
        json!([format!(
            "{}@{} (scan failed: trivy failed (exit 3))",
            v["scans"][0]["image"].as_str().unwrap(),
            d2.short()
        )])
    );
    assert_eq!(
        triggers(&f.reconcile(&day(4), &[])),
        ["app"],
        "the clock decides"
    );
    assert_eq!(dispatched(&f, false, "app")[0]["base_digest"], d2.as_str());

    // It hangs: stopped at the time budget, its children with it.
    let d3 = push.oci_manifest("lib/base", "1", "d3").digest;
    let pid_file = f.dir.path().join("sleep.pid");
    script(&format!(
        "sleep 120 &\necho $! > '{}'\nwait",
        pid_file.display()
    ));
    let started = std::time::Instant::now();
    check(&day(5), &["--scan-timeout", "1"], &path);
    assert!(
        started.elapsed().as_secs() < 60,
        "the scanner was not stopped"
    );
    assert_eq!(
        failure(&d3),
        "trivy did not finish within 1s and was stopped"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let proc = format!("/proc/{}", pid.trim());
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        // A killed child not yet reaped by init is a zombie: gone for our purpose.
        std::fs::read_to_string(format!("{proc}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    });
    assert!(gone, "the scanner's child {proc} still runs");

    // It writes garbage: no report, the parse error as the reason.
    let d4 = push.oci_manifest("lib/base", "1", "d4").digest;
    script("echo 'not a report {'");
    check(&day(6), &[], &path);
    let why = failure(&d4);
    assert!(
        why.starts_with(&format!(
            "trivy report of {reg}/lib/base@{d4}:1:2: error: not JSON"
        )),
        "{why}"
    );

    // Not on PATH.
    let d5 = push.oci_manifest("lib/base", "1", "d5").digest;
    check(&day(7), &[], "/nonexistent");
    assert_eq!(failure(&d5), "trivy is not on PATH");

    // The next check tries the failed digest again (it is still the base's digest): the
    // report replaces the failure; once recorded, it is not scanned again.
    script(&format!("cat '{}'", report.display()));
    std::fs::remove_file(&log).unwrap();
    let (v, _) = check(&day(8), &[], &path);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("image --format json --quiet {reg}/lib/base@{d5}\n")
    );
    assert_eq!(v["scans"][0]["result"], "recorded", "{v:#}");
    let facts = facts_of(&f, d5.as_str()).unwrap();
    assert!(
        facts.scan_failure.is_none() && facts.scan.is_some(),
        "{facts:?}"
    );
    // Older failed digests (d2..d4) are history, not retried; d5 is not scanned twice.
    let (v, _) = check(&day(9), &[], &path);
    assert_eq!(v["scans"], json!([]), "{v:#}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    f.assert_no_secrets();
}

mod capstone;
