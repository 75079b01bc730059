//! Real-git test support: `git daemon` on a free 127.0.0.1 port serving the bare repositories
//! under a temporary base directory (pushes enabled), killed and reaped on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::registry::{Must as _, free_port};

/// True when `git --version` runs.
pub fn git_installed() -> bool {
    Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where git keeps its programs (`git --exec-path`).
pub fn exec_path() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .must("git --exec-path");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A `git daemon` serving the bare repositories under its base directory, with pushes
/// enabled; killed and reaped on drop.
pub struct Daemon {
    child: Child,
    port: u16,
    base: tempfile::TempDir,
}

impl Daemon {
    /// Starts the daemon and waits (bounded) until it accepts connections. Panics when it
    /// does not start on any of 5 ports.
    pub fn start() -> Daemon {
        let base = tempfile::tempdir().must("git daemon: temporary directory");
        for _ in 0..5 {
            let port = free_port();
            // `git-daemon` itself, not `git daemon`: `git` would run the daemon as its own
            // child, which killing `git` would leave running.
            let mut child = Command::new(exec_path().join("git-daemon"))
                .arg("--reuseaddr")
                .arg(format!("--base-path={}", base.path().display()))
                .arg("--export-all")
                .arg("--enable=receive-pack")
                .arg("--informative-errors")
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(base.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .must("spawn git daemon");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Answered: by this daemon only if it still runs (one that lost the port
                    // to another server exits).
                    std::thread::sleep(Duration::from_millis(50));
                    if child.try_wait().ok().flatten().is_none() {
                        return Daemon { child, port, base };
                    }
                    break;
                }
                if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("git daemon did not start");
    }

    /// The `git://` URL of repository `name` (`repo.git`).
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// Where bare repository `name` is (or goes).
    pub fn path(&self, name: &str) -> PathBuf {
        self.base.path().join(name)
    }

    /// The base directory served.
    pub fn base(&self) -> &Path {
        self.base.path()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
