//! Running a vulnerability scanner found on `PATH` (`check --scan-with trivy`, issue 23):
//! `trivy image --format json --quiet REF@DIGEST`, its report read from stdout.
//!
//! Bounded ([`if_registry::child`], the runner of the credential helpers too): the scanner
//! runs in a process group of its own and the whole group is killed when it runs past its
//! time budget (a wrapper script's children included, so nothing keeps the pipe open); at
//! most [`crate::cmd::scan::MAX_REPORT_BYTES`] of stdout are read,
//! more stops it; stdin is empty and stderr is discarded, never echoed (a scanner's stderr
//! can carry registry URLs and credentials' errors). Every failure is a reason for people
//! ("exit 1", "did not finish within 300s"), never the scanner's output. On Linux a
//! `kill -9` of `image-factory` takes the scanner with it ([`run_guarded`]: the scanner runs
//! under this binary re-executed as its guard, `main` hands that command line to
//! `guard_main`); elsewhere it runs on until it ends or its own time runs out.

use std::process::Command;
use std::time::Duration;

use if_registry::child::{RunError, describe_status, run_guarded};

/// `--scan-with SCANNER` and `--scan-timeout SECONDS` (`check`, `record-update`).
#[derive(Debug, Clone, clap::Args)]
pub struct ScanArgs {
    /// Scan the base digests this run records (`check`: each new one; `record-update`: the
    /// one given, unless it has a report) with this scanner, found on PATH (`trivy image
    /// --format json --quiet REF@DIGEST`), and record its report as `record-scan` does; a
    /// scan that fails or runs past `--scan-timeout` is recorded as no report, with the
    /// reason, and never fails the command.
    #[arg(long, value_name = "SCANNER")]
    pub scan_with: Option<ScanWith>,
    /// The most seconds one scan may take; the scanner is stopped past that.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub scan_timeout: u64,
}

impl ScanArgs {
    /// `--scan-timeout` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.scan_timeout)
    }
}

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
    command.args(scanner.args(reference));
    let cap = crate::cmd::scan::MAX_REPORT_BYTES;
    let done = run_guarded(command, timeout, cap).map_err(|e| match e {
        RunError::NotFound => format!("{program} is not on PATH"),
        RunError::Start(kind) => format!("{program} cannot be started ({kind})"),
        RunError::TimedOut => format!(
            "{program} did not finish within {}s and was stopped",
            timeout.as_secs()
        ),
        RunError::TooLarge => format!(
            "{program}'s report is larger than {} MiB",
            cap / 1024 / 1024
        ),
    })?;
    if !done.status.success() {
        let code = describe_status(done.status);
        return Err(format!("{program} failed ({code})"));
    }
    String::from_utf8(done.stdout).map_err(|_| format!("{program}'s report is not UTF-8"))
}
