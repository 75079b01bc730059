//! Real-git test support: a `git daemon` on a free 127.0.0.1 port serving bare repositories
//! made by the test, seeded through a temporary clone, and a `git` runner for checks.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_imports)] // only the HTTP tests need it
pub use if_testkit::git_http as backend;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use if_git::{Checkout, Identity};
pub use if_testkit::git::{Daemon, exec_path, git_installed};
#[allow(unused_imports)] // not every test file needs it
pub use if_testkit::registry::free_port;

/// The seed's files.
pub const IMAGES: &str = "factory/images.yaml";
pub const BASE_A: &str = "factory/state/base-images/a.yaml";

/// Returns from the test with a printed reason when `git` is not installed.
#[macro_export]
macro_rules! git_or_skip {
    () => {
        if !$crate::common::git_installed() {
            eprintln!("skipping: `git` is not installed");
            return;
        }
    };
}

/// Returns from the test with a printed reason when `git` or its HTTP parts
/// (`git-remote-http`, `git-http-backend`) are not installed.
#[macro_export]
macro_rules! git_http_or_skip {
    () => {
        $crate::git_or_skip!();
        if !$crate::common::git_http_installed() {
            eprintln!(
                "skipped: git was built without HTTP support (git-remote-http, git-http-backend)"
            );
            return;
        }
    };
}

/// True when git's exec path has `git-remote-http` and `git-http-backend`.
pub fn git_http_installed() -> bool {
    let dir = exec_path();
    dir.join("git-remote-http").exists() && dir.join("git-http-backend").exists()
}

/// Runs `git args` in `dir` with a fixed test identity; panics with stderr on failure and
/// returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir, args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Someone Else")
        .env("GIT_AUTHOR_EMAIL", "someone@example.com")
        .env("GIT_COMMITTER_NAME", "Someone Else")
        .env("GIT_COMMITTER_EMAIL", "someone@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null());
    cmd
}

/// Creates bare repository `name` served by `daemon`: see [`seed`].
pub fn seed_in(daemon: &Daemon, name: &str, extra: usize) -> PathBuf {
    seed(daemon.base(), name, extra)
}

/// Creates bare repository `base/name` on branch `main` with the seed commit (`IMAGES` and
/// `BASE_A`) and `extra` more commits changing `IMAGES`, through a temporary clone; returns
/// its path.
pub fn seed(base: &Path, name: &str, extra: usize) -> PathBuf {
    let bare = base.join(name);
    git(
        base,
        &["init", "--quiet", "--bare", "--initial-branch=main", name],
    );
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("seed");
    git(
        work.path(),
        &[
            "clone",
            "--quiet",
            bare.to_str().expect("utf-8 path"),
            "seed",
        ],
    );
    git(&dir, &["checkout", "--quiet", "-b", "main"]);
    write(&dir, IMAGES, "images:\n  - name: app\n");
    write(&dir, BASE_A, "image: docker.io/library/alpine:3\n");
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "--quiet", "-m", "seed"]);
    for n in 0..extra {
        write(&dir, IMAGES, &format!("images:\n  - name: app{n}\n"));
        git(&dir, &["commit", "--quiet", "-am", &format!("change {n}")]);
    }
    git(&dir, &["push", "--quiet", "origin", "main"]);
    bare
}

/// Writes `content` to `root/rela`, creating directories.
pub fn write(root: &Path, rela: &str, content: &str) {
    let path = root.join(rela);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(path, content).expect("write file");
}

/// Writes `content` to `rela` in `checkout` and commits that one path with `message` as the
/// bot, at the current time; returns the new commit (panics when there is none).
pub fn commit_one(checkout: &Checkout, rela: &str, content: &str, message: &str) -> String {
    write(checkout.root(), rela, content);
    if_git::commit(
        checkout,
        &[PathBuf::from(rela)],
        message,
        &Identity::default(),
        None,
    )
    .unwrap()
    .expect("a commit")
}

/// `git --git-dir <bare> args`.
pub fn bare_git(bare: &Path, args: &[&str]) -> String {
    let mut all = vec!["--git-dir", bare.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    git(bare.parent().expect("parent"), &all)
}

/// Pushes a commit changing `rela` to `content` from a separate full clone of `bare`, as
/// someone else would; returns the new upstream head.
pub fn push_from_elsewhere(bare: &Path, rela: &str, content: &str, message: &str) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    git(
        work.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            "main",
            bare.to_str().expect("utf-8 path"),
            "other",
        ],
    );
    let dir = work.path().join("other");
    write(&dir, rela, content);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "--quiet", "-m", message]);
    git(&dir, &["push", "--quiet", "origin", "main"]);
    bare_git(bare, &["rev-parse", "main"])
}
