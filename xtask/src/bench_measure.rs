//! Measuring one command of `cargo xtask bench scale` as a process: wall time and peak
//! RSS from the OS.
//!
//! Every measured command is started by a small wrapper, `xtask __measure --report FILE --
//! PROGRAM ARGS...` ([`measure`]), whose only child is the command, so
//! `getrusage(RUSAGE_CHILDREN)` after waiting for it is that command's own `ru_maxrss` (and
//! CPU time). The wrapper writes `{"exit":..,"wall_s":..,"cpu_s":..,"max_rss_kib":..}` to
//! `FILE`; the command's stdout
//! and stderr pass through it untouched. The command runs in an environment without forge or
//! registry credentials (the forge APIs point at a closed port) but what the caller adds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::resource::{UsageWho, getrusage};

/// Where the forge APIs point: a closed port, so that any request fails at once.
const NOWHERE: &str = "http://127.0.0.1:9";

/// How the measured commands run.
pub struct Env<'a> {
    /// This program's copy (the wrapper).
    pub xtask: &'a Path,
    /// The `image-factory` binary measured.
    pub binary: &'a Path,
    /// The synthetic factory's directory (the working directory).
    pub dir: &'a Path,
    /// Where the wrapper writes its figures.
    pub report: PathBuf,
}

/// One measured run.
pub struct Measured {
    /// The exit code (`None`: a signal).
    pub exit: Option<i32>,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Peak RSS, KiB.
    pub max_rss_kib: u64,
    /// CPU time (user and system), seconds.
    pub cpu_s: f64,
    /// What it printed.
    pub stdout: Vec<u8>,
    /// What it printed on stderr.
    pub stderr: Vec<u8>,
}

impl Env<'_> {
    /// Runs `image-factory --root DIR/image-factory ARGS` through the wrapper, with `env`
    /// added to its otherwise empty environment.
    pub fn measure(&self, args: &[String], env: &[(&str, String)]) -> Result<Measured, String> {
        let _ = std::fs::remove_file(&self.report);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let out = Command::new(self.xtask)
            .arg("__measure")
            .arg("--report")
            .arg(&self.report)
            .arg("--")
            .arg(self.binary)
            .arg("--root")
            .arg(self.dir.join("image-factory"))
            .args(args)
            .current_dir(self.dir)
            // No tokens, no Docker credentials, no settings from this machine.
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir)
            .env("LC_ALL", "C")
            .env("DOCKER_CONFIG", self.dir.join("no-docker-config"))
            .env("IMAGE_FACTORY_GITHUB_API", NOWHERE)
            .env("IMAGE_FACTORY_GITLAB_API", NOWHERE)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.xtask.display()))?;
        let text = std::fs::read_to_string(&self.report).map_err(|e| {
            format!(
                "the measuring wrapper wrote no report ({e}; exit {:?}):\n{}",
                out.status.code(),
                tail(&out.stderr)
            )
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("measure report `{text}`: {e}"))?;
        Ok(Measured {
            exit: v["exit"].as_i64().and_then(|c| i32::try_from(c).ok()),
            wall_s: v["wall_s"].as_f64().unwrap_or(f64::NAN),
            max_rss_kib: v["max_rss_kib"].as_u64().unwrap_or(0),
            cpu_s: v["cpu_s"].as_f64().unwrap_or(f64::NAN),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// `xtask __measure --report FILE -- PROGRAM ARGS...`: runs the program (stdio inherited),
/// waits, and writes its exit code, wall time and peak RSS (KiB, from
/// `getrusage(RUSAGE_CHILDREN)`: this process has no other child) to `FILE` as one JSON line.
pub fn measure(args: &[&str]) -> Result<bool, String> {
    let ["--report", report, "--", program, rest @ ..] = args else {
        return Err("usage: xtask __measure --report FILE -- PROGRAM [ARGS...]".to_string());
    };
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .status()
        .map_err(|e| format!("__measure: cannot run {program}: {e}"))?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage =
        getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("__measure: getrusage: {e}"))?;
    let line = serde_json::json!({
        "exit": status.code(),
        "wall_s": wall_s,
        "max_rss_kib": usage.max_rss(),
        "cpu_s": seconds(usage.user_time()) + seconds(usage.system_time()),
    });
    std::fs::write(report, format!("{line}\n")).map_err(|e| format!("__measure: {report}: {e}"))?;
    Ok(true)
}

fn seconds(t: nix::sys::time::TimeVal) -> f64 {
    t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6
}

/// The last lines of a command's stderr.
pub fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
