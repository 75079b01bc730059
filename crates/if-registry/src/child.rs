//! A program run within bounds: the credential helpers here and the CLI's scanners
//! (`check --scan-with`), both reading a registry on the factory's behalf. The child runs in
//! a process group of its own, its stdin is the given bytes (or empty), its stderr is
//! discarded (it can carry secrets), at most `cap` bytes of its stdout are read, and past
//! `timeout` the whole group is killed, so that a wrapper script's children cannot keep the
//! pipe open. The caller says what each outcome means to people; no output is quoted here.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How a bounded run ended, when it did not end on its own with its output read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunError {
    /// The program is not on `PATH`.
    NotFound,
    /// It could not be started for another reason.
    Start(std::io::ErrorKind),
    /// It ran past its time and was killed, with its group.
    TimedOut,
    /// It wrote more than the cap to stdout and was killed, with its group.
    TooLarge,
}

/// What a program that ended on its own gave: its exit status and stdout (at most the cap).
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
}

/// Runs `command` with `stdin` as its input, reading at most `cap` bytes of its stdout,
/// within `timeout`. How often it is polled: every 10 ms.
pub fn run_bounded(
    mut command: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
    cap: u64,
) -> Result<Finished, RunError> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunError::NotFound,
        kind => RunError::Start(kind),
    })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A program that exits without reading its input is judged by its exit status.
        let _ = pipe.write_all(input);
    }
    let mut stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.take(cap + 1).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let mut reader = Some(reader);
    let mut out: Option<Vec<u8>> = None;
    let status = loop {
        // Stdout closed or past the cap while the program still runs: a program blocked on
        // a full pipe would otherwise only end at the time limit.
        if out.is_none() && reader.as_ref().is_some_and(|r| r.is_finished()) {
            let got = reader.take().map(|r| r.join().unwrap_or_default());
            if got.as_ref().is_some_and(|o| o.len() as u64 > cap) {
                stop(&mut child);
                return Err(RunError::TooLarge);
            }
            out = got;
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => thread::sleep(Duration::from_millis(10)),
            Ok(None) | Err(_) => {
                stop(&mut child);
                // The reader is not joined: a process that escaped the group may still
                // hold the pipe.
                return Err(RunError::TimedOut);
            }
        }
    };
    let stdout = match (out, reader) {
        (Some(out), _) => out,
        (None, Some(reader)) => {
            // The program exited; members of its group may still hold stdout: they go too.
            if !reader.is_finished() {
                stop_group(&child);
            }
            reader.join().unwrap_or_default()
        }
        (None, None) => Vec::new(),
    };
    if stdout.len() as u64 > cap {
        return Err(RunError::TooLarge);
    }
    Ok(Finished { status, stdout })
}

/// `exit N`, or `killed by a signal`: how a failed status reads for people.
pub fn describe_status(status: ExitStatus) -> String {
    status
        .code()
        .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"))
}

/// Kills the program's process group and reaps the program.
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
