//! Helpers shared by the CLI tests: the binary, the example factory, `../shared` fixtures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `image-factory` binary. The forge APIs point at a closed loopback port (a test that
/// wants a forge sets its fake's), so no test can reach GitHub or GitLab.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("image-factory").unwrap();
    cmd.env_remove("IMAGE_FACTORY_ROOT")
        // No forge credential from the developer's environment (`validate` names the images
        // without one when any is set): a test sets the ones it means.
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITLAB_TOKEN")
        .env_remove("GITHUB_APP_ID")
        .env_remove("GITHUB_APP_INSTALLATION_ID")
        .env_remove("GITHUB_APP_PRIVATE_KEY_FILE")
        .env_remove("IMAGE_FACTORY_HOST_RULES")
        .env("IMAGE_FACTORY_GITHUB_API", "http://127.0.0.1:9")
        .env("IMAGE_FACTORY_GITLAB_API", "http://127.0.0.1:9/api/v4");
    cmd
}

/// Points every registry credentials source `check` reads into `home` (`HOME`,
/// `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`, `DOCKER_CONFIG` below it) and removes the
/// credential variables, so that no file or variable of the machine's is read.
pub fn registry_env(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("DOCKER_CONFIG", home.join(".docker"));
    for v in [
        "IMAGE_FACTORY_REGISTRY_HOST",
        "IMAGE_FACTORY_REGISTRY_USERNAME",
        "IMAGE_FACTORY_REGISTRY_PASSWORD",
        "REGISTRY_AUTH_FILE",
    ] {
        cmd.env_remove(v);
    }
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
pub mod supply;

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

/// Copies the eda-mesh fixture's factory (`../shared/fixtures/eda-mesh/image-factory`) to
/// `to` without its `*.example.yaml` samples, and removes from its `images.yaml` the
/// `updates:` key of the original implementation (its "Requirement 18"), which Image Factory
/// does not define: every command but `validate` refuses an unknown key (issue 20), so the
/// tests that want the rest of the fixture read it without that key. Returns the root.
pub fn eda_mesh_factory(shared: &Path, to: &Path) -> PathBuf {
    copy_tree(&shared.join("fixtures/eda-mesh/image-factory"), to, &|p| {
        p.to_string_lossy().ends_with(".example.yaml")
    });
    let images = to.join("images.yaml");
    let text = std::fs::read_to_string(&images).unwrap();
    std::fs::write(&images, without_key(&text, "updates")).unwrap();
    to.to_path_buf()
}

/// `text` (block YAML) without every `KEY:` line of an image entry and the lines indented
/// below it.
pub fn without_key(text: &str, key: &str) -> String {
    let mut out = String::new();
    let mut dropping: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = dropping {
            if line.trim().is_empty() || indent > level {
                continue;
            }
            dropping = None;
        }
        if line.trim_start().starts_with(&format!("{key}:")) {
            dropping = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The example factory (`image-factory/`) with the Dockerfiles its images name beside it
/// (`examples/`, the root `Dockerfile`), as a checkout has them, in a fresh temporary
/// directory; returns it and the factory root inside it.
pub fn example_factory() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace();
    copy_tree(
        &ws.join("image-factory"),
        &dir.path().join("image-factory"),
        &|_| false,
    );
    copy_tree(&ws.join("examples"), &dir.path().join("examples"), &|_| {
        false
    });
    std::fs::copy(ws.join("Dockerfile"), dir.path().join("Dockerfile")).unwrap();
    let root = dir.path().join("image-factory");
    (dir, root)
}

/// Every file under `dir` with its bytes.
pub fn tree_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}
