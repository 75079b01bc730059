//! The scanner `image-factory` runs (`--scan-with trivy`, issue 23) as a process: a fake
//! `trivy` on `PATH` (a shell script written by the test) stands for the real one.
//! `PR_SET_PDEATHSIG` (`man 2 prctl`): a process can ask for a signal when its parent dies,
//! and keeps that request across `execve` of a program that is not set-user-ID; that is what
//! takes the scanner with a `kill -9`ed `check`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::rebuild::day;
use common::supply::fake_trivy;

/// Whether process `pid` is gone: no `/proc/PID`, or a zombie (killed, not yet reaped by
/// whoever inherited it).
fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
        s.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            == Some("Z")
    })
}

/// Polls `what` every 20 ms for at most `limit`.
fn within(limit: Duration, what: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    what()
}

/// Kills the fake scanner at the end of the test whatever happened, so that a failing test
/// leaves no process behind.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status();
        }
    }
}

fn pid_in(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.ends_with('\n').then(|| text.trim().to_string())
}

#[cfg(target_os = "linux")]
#[test]
fn a_check_killed_with_sigkill_takes_its_scanner_with_it() {
    use common::supply::{check, registry_factory};

    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    let f = registry_factory(&reg, false, "");
    push.oci_manifest("lib/base", "1", "d0");
    check(&f, &day(-1));
    push.oci_manifest("lib/base", "1", "d1");
    let pid_file = f.dir.path().join("trivy.pid");
    let _cleanup = KillOnDrop(pid_file.clone());
    // The scanner itself runs on (its `sleep`s are short-lived children).
    let path = fake_trivy(
        &f,
        &format!(
            "echo $$ > '{}'\nwhile :; do sleep 0.2; done",
            pid_file.display()
        ),
    );
    let mut check = std::process::Command::new(assert_cmd::cargo::cargo_bin("image-factory"));
    check
        .env_remove("IMAGE_FACTORY_ROOT")
        .env("PATH", &path)
        .arg("--root")
        .arg(&f.root)
        .args(["check", "--now", &day(0), "--scan-with", "trivy"])
        .args(["--scan-timeout", "600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = check.spawn().unwrap();
    let started = within(Duration::from_secs(60), || pid_in(&pid_file).is_some());
    assert!(started, "the fake trivy never started");
    let pid = pid_in(&pid_file).unwrap();
    assert!(
        !gone(&pid),
        "the scanner should run while check waits for it"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        within(Duration::from_secs(5), || gone(&pid)),
        "the scanner {pid} outlived the killed check"
    );
}

/// Kargo's verification with `verification.scanWith: trivy` runs `record-update --image REPO
/// --tag TAG --digest D --scan-with trivy`: the digest it records is scanned as `check
/// --scan-with` scans a new one, the report recorded as `record-scan` records it, and a scan
/// that fails never fails the verification (no report, the reason recorded). Trivy's JSON
/// is `trivy image --format json` (`SchemaVersion: 2`, `Results[].Vulnerabilities[]`).
#[test]
fn record_update_scans_the_digest_it_records_and_never_fails_on_a_scan() {
    use common::rebuild::digest;
    use common::supply::{facts_of, registry_factory, report, run_scanning, triggers, trivy};
    use serde_json::{Value, json};

    // No registry is asked: the fake scanner reads nothing.
    let reg = "registry.test:5000";
    let f = registry_factory(
        reg,
        false,
        "    vulnerabilityPolicy:\n      holdOn: CRITICAL\n",
    );
    let log = f.dir.path().join("trivy-args.log");
    let clean = report(&f, "clean.json", &trivy(&[("CVE-2026-0001", "LOW", "")]));
    let critical = report(
        &f,
        "critical.json",
        &trivy(&[("CVE-2026-0300", "CRITICAL", "")]),
    );
    let record = |d: &str, now: &str, extra: &[&str], path: &str| -> (Value, String) {
        let mut args = vec![
            "--format",
            "json",
            "record-update",
            "--image",
            "registry.test:5000/lib/base",
            "--tag",
            "1",
            "--digest",
            d,
            "--now",
            now,
        ];
        args.extend_from_slice(extra);
        run_scanning(&f, &args, path)
    };
    let scan = ["--scan-with", "trivy"];
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();

    // The first Freight (the baseline) is scanned too: verification runs once per Freight.
    let path = fake_trivy(&f, &format!("cat '{}'", clean.display()));
    let (d0, d1) = (digest('0'), digest('1'));
    let (v, _) = record(&d0, &day(-1), &scan, &path);
    assert_eq!(v["scans"][0]["result"], "recorded", "{v:#}");
    assert_eq!(
        logged(),
        format!("image --format json --quiet {reg}/lib/base@{d0}\n")
    );

    // A new digest that brings a critical: recorded, and the policy holds it.
    let path = fake_trivy(&f, &format!("cat '{}'", critical.display()));
    let (v, _) = record(&d1, &day(0), &scan, &path);
    assert_eq!(v["outcome"], "updated", "{v:#}");
    assert_eq!(
        (&v["scans"][0]["result"], &v["scans"][0]["counts"]),
        (&json!("recorded"), &json!({"CRITICAL": 1}))
    );
    let facts = facts_of(&f, &d1).unwrap();
    assert_eq!(facts.scan.unwrap().critical, ["CVE-2026-0300"]);
    assert!(triggers(&f.reconcile(&day(2), &[])).is_empty());
    assert_eq!(f.rebuild("app")["status"], "held");

    // The same Freight verified again: it has a report, no scan.
    let before = logged();
    record(&d1, &day(0), &scan, &path);
    assert_eq!(logged(), before);
    // Without --scan-with nothing is scanned.
    let (v, _) = record(&digest('2'), &day(3), &[], &path);
    assert!(v.get("scans").is_none(), "{v:#}");
    assert_eq!(logged(), before);

    // A failing scanner, one not on PATH, one past its time: no report, the reason.
    let path = fake_trivy(&f, "echo '{\"SchemaVersion\": 2,'; exit 3");
    let (v, stderr) = record(&digest('3'), &day(4), &scan, &path);
    assert_eq!(v["scans"][0]["reason"], "trivy failed (exit 3)", "{v:#}");
    assert!(stderr.contains("warning: scan of "), "{stderr}");
    let failure = |d: &str| {
        facts_of(&f, d)
            .unwrap()
            .scan_failure
            .unwrap()
            .reason
            .unwrap()
    };
    assert_eq!(failure(&digest('3')), "trivy failed (exit 3)");
    let (v, _) = record(&digest('4'), &day(5), &scan, "/nonexistent");
    assert_eq!(v["scans"][0]["reason"], "trivy is not on PATH");
    let path = fake_trivy(&f, "sleep 30");
    let started = Instant::now();
    record(
        &digest('5'),
        &day(6),
        &["--scan-with", "trivy", "--scan-timeout", "1"],
        &path,
    );
    assert!(started.elapsed() < Duration::from_secs(20), "not stopped");
    assert_eq!(
        failure(&digest('5')),
        "trivy did not finish within 1s and was stopped"
    );
    f.assert_no_secrets();
}
