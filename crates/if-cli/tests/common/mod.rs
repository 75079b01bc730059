//! Helpers shared by the CLI tests: the binary, the example factory, `../shared` fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `image-factory` binary. The forge APIs point at a closed loopback port (a test that
/// wants a forge sets its fake's), so no test can reach GitHub or GitLab.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("image-factory").unwrap();
    cmd.env_remove("IMAGE_FACTORY_ROOT")
        .env("IMAGE_FACTORY_GITHUB_API", "http://127.0.0.1:9")
        .env("IMAGE_FACTORY_GITLAB_API", "http://127.0.0.1:9/api/v4");
    cmd
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `../shared` beside the checkout, or `None` (with the reason printed) when it is absent.
pub fn shared(what: &str) -> Option<PathBuf> {
    let dir = workspace().join("..").join("shared");
    if dir.join(what).exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: {} not found (../shared is not present beside this checkout)",
            dir.join(what).display()
        );
        None
    }
}

/// Copies a directory tree (files only), skipping files for which `skip` returns true.
pub fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let target = to.join(entry.file_name());
        if skip(&path) {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &target, skip);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A copy of the repository's example factory (`image-factory/`, its committed state
/// included) in a temporary directory, and the copy's root.
pub fn example_factory() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image-factory");
    copy_tree(&workspace().join("image-factory"), &root, &|_| false);
    (dir, root)
}

/// stdout of a finished command as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// stderr of a finished command as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Runs `image-factory --root ROOT ARGS...` and waits for it.
pub fn run_in(root: impl AsRef<Path>, args: &[&str]) -> std::process::Output {
    bin()
        .arg("--root")
        .arg(root.as_ref())
        .args(args)
        .output()
        .unwrap()
}

/// Runs `image-factory ARGS...` in the directory `dir` and waits for it.
pub fn run_from(dir: impl AsRef<Path>, args: &[&str]) -> std::process::Output {
    bin().current_dir(dir.as_ref()).args(args).output().unwrap()
}

pub mod crash;
pub mod rebuild;

/// Runs `git ARGS` in `dir` with a fixed test identity; asserts success, returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Commits `factory/` and `src/` of `dir` (a new repository on `main`) and serves a bare clone
/// of it as `state.git` from a `git daemon` on 127.0.0.1; returns the daemon and the clone.
pub fn serve_state(dir: &Path) -> (if_testkit::git::Daemon, PathBuf) {
    git(dir, &["init", "--quiet", "-b", "main"]);
    git(dir, &["add", "factory", "src"]);
    git(dir, &["commit", "--quiet", "-m", "seed"]);
    let daemon = if_testkit::git::Daemon::start();
    let bare = daemon.path("state.git");
    git(
        dir,
        &["clone", "--quiet", "--bare", ".", bare.to_str().unwrap()],
    );
    (daemon, bare)
}
