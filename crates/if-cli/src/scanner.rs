//! Running a vulnerability scanner found on `PATH` (`check --scan-with trivy`, issue 23):
//! `trivy image --format json --quiet REF@DIGEST`, its report read from stdout.
//!
//! Bounded: the scanner runs in a process group of its own and the whole group is killed
//! when it runs past its time budget (a wrapper script's children included, so nothing
//! keeps the pipe open); at most [`crate::cmd::scan::MAX_REPORT_BYTES`] of stdout are read,
//! more stops it; stdin is empty and stderr is discarded, never echoed (a scanner's stderr
//! can carry registry URLs and credentials' errors). Every failure is a reason for people
//! ("exit 1", "did not finish within 300s"), never the scanner's output.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The scanners `check --scan-with` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanWith {
    /// Aqua Security's Trivy: `trivy image --format json --quiet REF@DIGEST`.
    Trivy,
}

impl ScanWith {
    /// The program looked up on `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            ScanWith::Trivy => "trivy",
        }
    }

    /// Its arguments for scanning `reference` (`repository@digest`).
    pub fn args(self, reference: &str) -> Vec<String> {
        match self {
            ScanWith::Trivy => ["image", "--format", "json", "--quiet", reference]
                .map(String::from)
                .to_vec(),
        }
    }

    /// The scanner as the engine's report parser names it.
    pub fn scanner(self) -> if_state::scan::Scanner {
        match self {
            ScanWith::Trivy => if_state::scan::Scanner::Trivy,
        }
    }
}

/// Runs `scanner` on `reference` within `timeout`; returns its stdout (the report), or why
/// there is none.
pub fn scan(scanner: ScanWith, reference: &str, timeout: Duration) -> Result<String, String> {
    let program = scanner.program();
    let mut command = Command::new(program);
    command
        .args(scanner.args(reference))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{program} is not on PATH"),
        kind => format!("{program} cannot be started ({kind})"),
    })?;
    let cap = crate::cmd::scan::MAX_REPORT_BYTES;
    let mut stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.take(cap + 1).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let too_large = || {
        format!(
            "{program}'s report is larger than {} MiB",
            cap / 1024 / 1024
        )
    };
    let mut reader = Some(reader);
    let mut out: Option<Vec<u8>> = None;
    let status = loop {
        if out.is_none() && reader.as_ref().is_some_and(|r| r.is_finished()) {
            let got = reader.take().map(|r| r.join().unwrap_or_default());
            if got.as_ref().is_some_and(|o| o.len() as u64 > cap) {
                stop(&mut child);
                return Err(too_large());
            }
            out = got;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                stop(&mut child);
                // The reader is not joined if a process that escaped the group still holds
                // the pipe.
                return Err(overrun(program, timeout));
            }
        }
    };
    let out = match (out, reader) {
        (Some(out), _) => out,
        (None, Some(reader)) => {
            // The scanner exited; members of its group may still hold stdout: they go too.
            if !reader.is_finished() {
                stop_group(&child);
            }
            reader.join().unwrap_or_default()
        }
        (None, None) => Vec::new(),
    };
    if out.len() as u64 > cap {
        return Err(too_large());
    }
    if !status.success() {
        let code = status
            .code()
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
        return Err(format!("{program} failed ({code})"));
    }
    String::from_utf8(out).map_err(|_| format!("{program}'s report is not UTF-8"))
}

fn overrun(program: &str, timeout: Duration) -> String {
    format!(
        "{program} did not finish within {}s and was stopped",
        timeout.as_secs()
    )
}

/// Kills the scanner's process group and reaps the scanner.
fn stop(child: &mut Child) {
    stop_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

fn stop_group(child: &Child) {
    #[cfg(target_os = "linux")]
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = child;
}
