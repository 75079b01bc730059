//! A program run within bounds: the credential helpers here and the CLI's scanners
//! (`check --scan-with`), both reading a registry on the factory's behalf. The child runs in
//! a process group of its own, its stdin is the given bytes (or empty), its stderr is
//! discarded (it can carry secrets), at most `cap` bytes of its stdout are read, and past
//! `timeout` the whole group is killed, so that a wrapper script's children cannot keep the
//! pipe open. The caller says what each outcome means to people; no output is quoted here.
//!
//! [`run_guarded`] also outlives no `kill -9` of this process (Linux): the program is started
//! through the running binary itself, re-executed with the hidden first argument
//! [`GUARD_ARG`], whose [`guard_main`] asks the kernel to kill it when its parent dies
//! (`PR_SET_PDEATHSIG`, see `man 2 prctl`; kept across `execve` for a program that is not
//! set-user-ID), checks that the parent is still the one that started it, and then
//! `execvp`s the program in its own place. The kernel sends the signal when the *thread*
//! that started the child ends: [`run_bounded`] starts it on the caller's thread and returns
//! only once it ended, so that thread lives for the whole run. Only the program itself is
//! covered: processes it starts are not (Trivy is one process). Elsewhere than on Linux the
//! program is started directly, and a killed caller leaves it running until it ends.

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

/// The hidden first argument with which a binary runs as a program's guard: `BINARY
/// __guard-child PARENT-PID PROGRAM ARGS...`. A binary that uses [`run_guarded`] must hand
/// such a command line to [`guard_main`] before anything else.
pub const GUARD_ARG: &str = "__guard-child";

/// The guard's exit status when the program is not found on `PATH` (a shell's).
#[cfg(target_os = "linux")]
const GUARD_NOT_FOUND: u8 = 127;
/// The guard's exit status when the program cannot be started, or the parent is gone.
#[cfg(target_os = "linux")]
const GUARD_CANNOT_START: u8 = 126;

/// Like [`run_bounded`] (no input), and on Linux the program is killed with the caller when
/// the caller is killed (see the module's documentation): it runs under the guard, the
/// running binary (`/proc/self/exe`) re-executed with [`GUARD_ARG`]. The guard's own
/// failures are its exit statuses 127 (not on `PATH`) and 126 (cannot be started), read
/// as [`RunError::NotFound`] and [`RunError::Start`]; a program that itself exits 127 or
/// 126 reads so too.
pub fn run_guarded(command: Command, timeout: Duration, cap: u64) -> Result<Finished, RunError> {
    #[cfg(target_os = "linux")]
    {
        let exe = std::path::Path::new("/proc/self/exe");
        if exe.exists() {
            let done = run_bounded(guarded(&command, exe), None, timeout, cap)?;
            return match done.status.code().and_then(|c| u8::try_from(c).ok()) {
                Some(GUARD_NOT_FOUND) => Err(RunError::NotFound),
                Some(GUARD_CANNOT_START) => Err(RunError::Start(std::io::ErrorKind::Other)),
                _ => Ok(done),
            };
        }
    }
    run_bounded(command, None, timeout, cap)
}

/// `command` as the guard's: `EXE GUARD_ARG OUR-PID PROGRAM ARGS...`, with its environment
/// changes and working directory.
#[cfg(target_os = "linux")]
fn guarded(command: &Command, exe: &std::path::Path) -> Command {
    let mut guard = Command::new(exe);
    guard
        .arg(GUARD_ARG)
        .arg(std::process::id().to_string())
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => guard.env(key, value),
            None => guard.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        guard.current_dir(dir);
    }
    guard
}

/// The guard (`args`: what follows [`GUARD_ARG`], the parent's pid, the program and its
/// arguments): asks for SIGKILL when the parent dies, checks the parent is still the one
/// that started it (it may have died before the request), and becomes the program. Returns
/// only when that fails, with the exit status to end with (127: not on `PATH`, 126: any
/// other failure). It writes nothing: its stdout is the program's.
#[cfg(target_os = "linux")]
pub fn guard_main(mut args: impl Iterator<Item = std::ffi::OsString>) -> u8 {
    use std::os::unix::ffi::OsStringExt as _;

    let parent = args
        .next()
        .and_then(|p| p.into_string().ok())
        .and_then(|p| p.parse::<i32>().ok());
    let argv: Option<Vec<std::ffi::CString>> = args
        .map(|a| std::ffi::CString::new(a.into_vec()).ok())
        .collect();
    let (Some(parent), Some(argv)) = (parent, argv) else {
        return GUARD_CANNOT_START;
    };
    let Some(program) = argv.first() else {
        return GUARD_CANNOT_START;
    };
    if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_err()
        || nix::unistd::getppid().as_raw() != parent
    {
        return GUARD_CANNOT_START;
    }
    match nix::unistd::execvp(program, &argv) {
        Err(nix::errno::Errno::ENOENT) => GUARD_NOT_FOUND,
        Err(_) => GUARD_CANNOT_START,
    }
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
