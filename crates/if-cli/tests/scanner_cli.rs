//! The scanner `image-factory` runs (`--scan-with trivy`, issue 23) as a process: a fake
//! `trivy` on `PATH` (a shell script written by the test) stands for the real one.
//! `PR_SET_PDEATHSIG` (`man 2 prctl`): a process can ask for a signal when its parent dies,
//! and keeps that request across `execve` of a program that is not set-user-ID; that is what
//! takes the scanner with a `kill -9`ed `check`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::rebuild::{Factory, day};

/// Writes the fake `trivy` (`body` after a first line that logs its arguments to
/// `trivy-args.log`) into a `bin` directory beside the factory; returns the `PATH` to use.
fn fake_trivy(f: &Factory, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("trivy");
    let log = f.dir.path().join("trivy-args.log");
    let text = format!("#!/bin/sh\necho \"$@\" >> '{}'\n{body}\n", log.display());
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

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
