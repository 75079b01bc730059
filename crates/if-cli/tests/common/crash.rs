//! Crashing a run on purpose: a factory of many images due at once, and a proxy in front of
//! the fake forge that holds one dispatch (never forwarded) while the test kills the run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use if_testkit::FakeForge;
use if_testkit::loopback::Loopback;

use super::rebuild::{GH_TOKEN, GL_TOKEN, day, digest};

/// `n` images `app-00`... built on GitHub from `node:22` (rebuildDelay 1d), analysed, with
/// node:22's new digest recorded on day 0: all due on day 1.
pub struct Many {
    /// Holds `factory/` and `src/`.
    pub dir: tempfile::TempDir,
    /// The factory root.
    pub root: PathBuf,
    n: usize,
}

impl Many {
    /// Writes the factory and its Dockerfiles.
    pub fn new(n: usize) -> Many {
        let dir = tempfile::tempdir().unwrap();
        let (root, src) = (dir.path().join("factory"), dir.path().join("src"));
        let mut yaml = String::from("images:\n");
        for i in 0..n {
            let name = format!("app-{i:02}");
            yaml.push_str(&format!(
                "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    \
                 source:\n      provider: github\n      repo: acme/{name}\n      \
                 dockerfile: {name}/Dockerfile\n      workflow: build.yml\n    \
                 rebuildDelay: 1d\n"
            ));
            std::fs::create_dir_all(src.join(&name)).unwrap();
            std::fs::write(src.join(&name).join("Dockerfile"), "FROM node:22\n").unwrap();
        }
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("images.yaml"), yaml).unwrap();
        Many { dir, root, n }
    }

    /// The binary with both tokens and the forge API at `api`, on this factory's root.
    pub fn cli(&self, api: &str, args: &[&str]) -> Command {
        let mut cmd = self.bare(api);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// The binary with both tokens and the forge API at `api`, in `dir`, with `args` as given
    /// (a `--git-repo` run names its own `--root`).
    pub fn cli_in(&self, api: &str, args: &[&str], dir: &Path) -> Command {
        let mut cmd = self.bare(api);
        cmd.current_dir(dir).args(args);
        cmd
    }

    fn bare(&self, api: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-factory"));
        cmd.env_remove("IMAGE_FACTORY_ROOT")
            .env("GITHUB_TOKEN", GH_TOKEN)
            .env("GITLAB_TOKEN", GL_TOKEN)
            .env("IMAGE_FACTORY_GITHUB_API", api)
            .env("IMAGE_FACTORY_GITLAB_API", format!("{api}/api/v4"))
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Analyses the factory and records node:22's baseline (day -1) and new digest (day 0).
    pub fn prepare(&self, forge: &FakeForge) {
        let src = self.dir.path().join("src").display().to_string();
        let (a, b) = (digest('a'), digest('b'));
        let steps: [&[&str]; 3] = [
            &["analyze", "--all", "--source-dir", &src, "--now", &day(-2)],
            &[
                "record-update",
                "--image",
                "node:22",
                "--digest",
                &a,
                "--now",
                &day(-1),
            ],
            &[
                "record-update",
                "--image",
                "node:22",
                "--digest",
                &b,
                "--now",
                &day(0),
            ],
        ];
        for args in steps {
            let status = self.cli(&forge.url(), args).status().unwrap();
            assert!(status.success(), "{args:?}");
        }
    }

    /// Commits the factory to a bare repository `state.git` served by a `git daemon`; the
    /// daemon (keep it) and the repository's URL.
    pub fn publish(&self) -> (if_testkit::git::Daemon, String) {
        let (daemon, _) = super::serve_state(self.dir.path());
        let url = daemon.url("state.git");
        (daemon, url)
    }

    /// Runs `args` on this root through a proxy that holds the `hold`-th dispatch, kills
    /// the run (SIGKILL) once it waits there; whether it got there.
    pub fn kill_at_dispatch(&self, forge: &FakeForge, hold: usize, args: &[&str]) -> bool {
        let root_args: Vec<&str> = ["--root", self.root.to_str().unwrap()]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        self.kill_at_dispatch_in(forge, hold, &root_args, self.dir.path())
    }

    /// [`Many::kill_at_dispatch`] with `args` as given, in `dir`.
    pub fn kill_at_dispatch_in(
        &self,
        forge: &FakeForge,
        hold: usize,
        args: &[&str],
        dir: &Path,
    ) -> bool {
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let proxy = holding_proxy(forge, hold, held_tx, release_rx);
        let mut child = self.cli_in(&proxy.url(), args, dir).spawn().unwrap();
        let held = held_rx.recv_timeout(Duration::from_secs(120)).is_ok();
        let _ = child.kill();
        let _ = child.wait();
        let _ = release_tx.send(());
        drop(proxy);
        held
    }

    /// How many images the fake started a build of, after checking none was started twice.
    pub fn started_once(&self, forge: &FakeForge) -> usize {
        let repos: Vec<String> = forge.runs().iter().map(|r| r.repo.clone()).collect();
        let mut unique = repos.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            repos.len(),
            "a build was started twice: {repos:?}"
        );
        assert!(unique.len() <= self.n);
        unique.len()
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes) from `stream`.
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return buf,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if stream.read_exact(&mut body).is_ok() {
        buf.extend(body);
    }
    buf
}

/// A proxy in front of the fake forge that forwards every request but holds the `hold`-th
/// POST (never forwarded) and says so on `held`, until `release` (or 20 s).
fn holding_proxy(
    forge: &FakeForge,
    hold: usize,
    held: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
) -> Loopback {
    let upstream = forge.url().trim_start_matches("http://").to_string();
    let mut posts = 0;
    Loopback::start_bounded("holding proxy", 200, move |mut client| {
        let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
        let request = read_request(&mut client);
        if request.starts_with(b"POST ") {
            posts += 1;
            if posts == hold {
                let _ = held.send(());
                let _ = release.recv_timeout(Duration::from_secs(20));
                return;
            }
        }
        let Ok(mut up) = TcpStream::connect(&upstream) else {
            return;
        };
        let mut answer = Vec::new();
        if up.write_all(&request).is_ok() && up.read_to_end(&mut answer).is_ok() {
            let _ = client.write_all(&answer);
        }
    })
}
