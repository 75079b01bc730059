//! State changes as git commits: `--git-repo` (clone, run, commit as the bot, push, re-run on
//! a rejected push) against bare repositories served by `git daemon` on 127.0.0.1, and
//! `--commit` in a local work tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use if_testkit::git::Daemon;

use common::git;
use common::rebuild::{Factory, digest, record_update};

const T1: &str = "2027-01-05T00:00:00Z";

/// The binary, run in `dir`, with no factory root from the environment.
fn bin_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = common::bin();
    cmd.current_dir(dir);
    cmd
}

fn git_installed() -> bool {
    let ok = if_testkit::git::git_installed();
    if !ok {
        eprintln!("skipping: git is not installed");
    }
    ok
}

/// The rebuild fixture's factory (analysed) committed to a bare repository `state.git`,
/// served by a daemon.
struct Upstream {
    f: Factory,
    bare: PathBuf,
    daemon: Daemon,
}

impl Upstream {
    fn new() -> Upstream {
        let f = Factory::setup();
        let dir = f.dir.path();
        let (daemon, bare) = common::serve_state(dir);
        Upstream { f, bare, daemon }
    }

    fn url(&self) -> String {
        self.daemon.url("state.git")
    }

    /// `image-factory --git-repo URL --root factory ARGS` from an empty directory.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let empty = tempfile::tempdir().unwrap();
        let mut cmd = bin_in(empty.path());
        cmd.args(["--git-repo", &self.url(), "--root", "factory"])
            .args(args);
        self.f.exec(cmd)
    }

    fn log(&self, format: &str) -> String {
        git(
            &self.bare,
            &["log", "-1", &format!("--format={format}"), "main"],
        )
    }

    fn head(&self) -> String {
        git(&self.bare, &["rev-parse", "main"]).trim().to_string()
    }

    fn files_of_last_commit(&self) -> Vec<String> {
        git(&self.bare, &["show", "--name-only", "--format=", "main"])
            .lines()
            .map(str::to_string)
            .collect()
    }
}

#[test]
fn record_update_is_committed_by_the_bot_and_pushed() {
    if !git_installed() {
        return;
    }
    let up = Upstream::new();
    let before = up.head();
    let d = digest('a');
    let out = up.run(&record_update("node:22", &d, T1));
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("pushed ") && err.contains("after 1 attempt(s)"),
        "{err}"
    );
    assert_eq!(
        up.log("%an <%ae>%n%P"),
        format!(
            "{} <{}>\n{before}\n",
            if_git::Identity::DEFAULT_NAME,
            if_git::Identity::DEFAULT_EMAIL
        )
    );
    let subject = up.log("%s");
    assert!(
        subject.starts_with("image-factory record-update: node:22: baseline sha256:aaaaaaaa"),
        "{subject}"
    );
    assert_eq!(
        up.files_of_last_commit(),
        ["factory/state/base-images/node-22.yaml"]
    );
    let text = git(
        &up.bare,
        &["show", "main:factory/state/base-images/node-22.yaml"],
    );
    assert!(text.contains(&format!("currentDigest: {d}")), "{text}");
    // The local factory was not touched.
    let local = std::fs::read_to_string(up.f.root.join("state/base-images/node-22.yaml")).unwrap();
    assert!(!local.contains(&d));

    // The same digest again changes nothing: no commit, no push.
    let head = up.head();
    let out = up.run(&record_update("node:22", &d, T1));
    assert!(out.status.success());
    assert!(
        common::stderr(&out).contains("nothing to commit"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(up.head(), head);

    // A new digest schedules dependents: the image states are in the commit too.
    let out = up.run(
        &[
            &["--format", "json"][..],
            &record_update("node:22", &digest('b'), T1),
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "updated", "one JSON document on stdout");
    let files = up.files_of_last_commit();
    assert!(
        files.contains(&"factory/state/images/manual-img.yaml".to_string()),
        "{files:?}"
    );
    let body = up.log("%b");
    assert!(body.contains("- node:22: new digest"), "{body}");
    up.f.assert_no_secrets();
}

#[test]
fn concurrent_runs_for_different_base_images_both_land() {
    if !git_installed() {
        return;
    }
    let up = Upstream::new();
    let start = up.head();
    let runs: Vec<_> = [("node:22", 'c'), ("python:3.12-slim", 'd')]
        .into_iter()
        .map(|(image, c)| {
            Command::new(assert_cmd::cargo::cargo_bin("image-factory"))
                .args(["--git-repo", &up.url(), "--root", "factory"])
                .args(record_update(image, &digest(c), T1))
                .current_dir(up.f.dir.path().join("src"))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let log = git(&up.bare, &["log", "--format=%s", &format!("{start}..main")]);
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(
        log.contains("node:22") && log.contains("python:3.12-slim"),
        "{log}"
    );
    let merges = git(&up.bare, &["rev-list", "--merges", "--count", "main"]);
    assert_eq!(merges.trim(), "0", "linear history");
    for (file, c) in [("node-22", 'c'), ("python-3.12-slim", 'd')] {
        let text = git(
            &up.bare,
            &[
                "show",
                &format!("main:factory/state/base-images/{file}.yaml"),
            ],
        );
        assert!(text.contains(&digest(c)), "{file}: {text}");
    }
}

#[test]
fn an_unreachable_remote_fails_clearly_and_writes_nothing() {
    if !git_installed() {
        return;
    }
    let f = Factory::setup();
    let before = f.tree();
    let port = if_testkit::registry::free_port();
    let url = format!("git://127.0.0.1:{port}/nobody.git");
    let mut cmd = bin_in(f.dir.path());
    cmd.args([
        "--git-repo",
        &url,
        "--root",
        "factory",
        "record-update",
        "--image",
        "node:22",
        "--digest",
        &digest('e'),
    ]);
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("git:") && err.contains(&url), "{err}");
    assert!(common::stdout(&out).is_empty());
    assert_eq!(f.tree(), before);
}

#[test]
fn git_options_are_refused_where_they_make_no_sense() {
    let f = Factory::setup();
    let out = f.run(&["--commit", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("for commands that write state"));
    let out = f.run(&["--git-repo", "git://127.0.0.1:1/x.git", "reconcile"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("a path inside the repository"),
        "{}",
        common::stderr(&out)
    );
    let out = f.run(&[
        "--commit",
        "record-update",
        "--image",
        "node:22",
        "--digest",
        &digest('f'),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the fixture is not a git work tree"
    );
    assert!(
        common::stderr(&out).contains("git:"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn commit_in_the_local_work_tree() {
    if !git_installed() {
        return;
    }
    let f = Factory::setup();
    let dir = f.dir.path();
    git(dir, &["init", "--quiet", "-b", "main"]);
    git(dir, &["add", "factory", "src"]);
    git(dir, &["commit", "--quiet", "-m", "seed"]);
    let out = f.run(
        &[
            &["--commit"][..],
            &record_update("node:22", &digest('a'), T1),
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        git(dir, &["log", "-1", "--format=%an%n%s"])
            .lines()
            .collect::<Vec<_>>(),
        [
            if_git::Identity::DEFAULT_NAME,
            "image-factory record-update: node:22: baseline sha256:aaaaaaaa"
        ]
    );
    assert_eq!(
        git(dir, &["status", "--porcelain"]),
        "",
        "work tree and index are clean"
    );
    // Nothing new: no commit.
    let head = git(dir, &["rev-parse", "HEAD"]);
    let out = f.run(
        &[
            &["--commit"][..],
            &record_update("node:22", &digest('a'), T1),
        ]
        .concat(),
    );
    assert!(out.status.success());
    assert_eq!(git(dir, &["rev-parse", "HEAD"]), head);
}

/// The entries of `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_password_in_the_url_is_never_shown_and_clones_do_not_outlive_the_run() {
    if !git_installed() {
        return;
    }
    let up = Upstream::new();
    let tmp = tempfile::tempdir().unwrap();
    // A clone that a `kill -9`ed run left an hour ago (its process is gone: a pid above
    // Linux's largest), and one of a run that may still be going.
    let stale = tmp.path().join("image-factory-clone-4194304-AbCdEf");
    let recent = tmp.path().join("image-factory-clone-4194305-GhIjKl");
    for d in [&stale, &recent] {
        std::fs::create_dir_all(d.join(".git")).unwrap();
    }
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::open(&stale)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let run = |url: &str, args: &[&str]| {
        let empty = tempfile::tempdir().unwrap();
        let mut cmd = bin_in(empty.path());
        cmd.env("TMPDIR", tmp.path())
            .args(["--git-repo", url, "--root", "factory"])
            .args(args);
        up.f.exec(cmd)
    };
    let out = run(&up.url(), &record_update("node:22", &digest('a'), T1));
    assert!(out.status.success(), "{}", common::stderr(&out));
    // The clone is gone, and so is the stale one; the recent one is left alone.
    assert_eq!(names_in(tmp.path()), ["image-factory-clone-4194305-GhIjKl"]);
    let out = run(&up.url(), &record_update("node:22", &digest('a'), T1));
    assert!(common::stderr(&out).contains("nothing to commit"));
    assert_eq!(names_in(tmp.path()), ["image-factory-clone-4194305-GhIjKl"]);

    let secret_url = up.url().replace("git://", "git://bot:s3cret-pw@");
    let out = run(&secret_url, &record_update("node:22", &digest('b'), T1));
    assert_eq!(out.status.code(), Some(2));
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(text.contains("git://bot:***@127.0.0.1"), "{text}");
    assert_eq!(names_in(tmp.path()), ["image-factory-clone-4194305-GhIjKl"]);
}
