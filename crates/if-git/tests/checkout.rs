//! Clone, open, read, commit, push and reset against bare repositories served by a real
//! `git daemon`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{
    BASE_A, Daemon, IMAGES, bare_git, commit_one, git, push_from_elsewhere, seed_in, write,
};
use if_git::{GitError, Identity, Pushed, Remote};

fn remote(daemon: &Daemon, name: &str) -> Remote {
    Remote::new(daemon.url(name), "main")
}

fn read(checkout: &if_git::Checkout, rev: &str, path: &str) -> Option<String> {
    if_git::read_file(checkout, rev, path)
        .unwrap()
        .map(|b| String::from_utf8(b).unwrap())
}

#[test]
fn a_shallow_clone_commits_and_pushes_as_the_bot() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 2);
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("clone");

    let checkout = if_git::clone(&remote(&daemon, "repo.git"), &into).unwrap();
    assert_eq!(checkout.root(), into.as_path());
    assert_eq!(bare_git(&bare, &["rev-list", "--count", "main"]), "3");
    assert_eq!(git(&into, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        git(&into, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );
    assert_eq!(
        checkout.head().as_deref(),
        Some(bare_git(&bare, &["rev-parse", "main"]).as_str())
    );
    assert_eq!(git(&into, &["status", "--porcelain"]), "");

    // What is in HEAD, and what is not; older revisions are not in a shallow clone.
    assert_eq!(
        read(&checkout, "HEAD", IMAGES).as_deref(),
        Some("images:\n  - name: app1\n")
    );
    assert_eq!(read(&checkout, "main", "factory/missing.yaml"), None);
    let err = if_git::read_file(&checkout, "HEAD~1", IMAGES).unwrap_err();
    assert!(matches!(err, GitError::Revision { .. }), "{err}");
    let err = if_git::read_file(&checkout, "HEAD", "factory").unwrap_err();
    assert!(matches!(err, GitError::InvalidPath { .. }), "{err}");
    let err = if_git::read_file(&checkout, "HEAD", "../outside").unwrap_err();
    assert!(matches!(err, GitError::InvalidPath { .. }), "{err}");

    // Change one file, add another; commit as the bot at a fixed time; push.
    write(&into, BASE_A, "image: docker.io/library/alpine:3.20\n");
    write(&into, "factory/state/images/app.yaml", "name: app\n");
    let paths = [
        PathBuf::from(BASE_A),
        PathBuf::from("factory/state/images/app.yaml"),
    ];
    let id = if_git::commit(
        &checkout,
        &paths,
        "state: record alpine",
        &Identity::default(),
        Some(1_700_000_000),
    )
    .unwrap()
    .expect("a commit");
    assert_eq!(checkout.head().as_deref(), Some(id.as_str()));
    assert_eq!(
        if_git::push(&checkout, &remote(&daemon, "repo.git")).unwrap(),
        Pushed::Ok
    );

    assert_eq!(bare_git(&bare, &["rev-parse", "main"]), id);
    assert_eq!(
        bare_git(
            &bare,
            &["log", "-1", "--format=%an%n%ae%n%cn%n%ce%n%s%n%at"]
        ),
        "Image Factory Bot\nimage-factory-bot@users.noreply.github.com\n\
         Image Factory Bot\nimage-factory-bot@users.noreply.github.com\n\
         state: record alpine\n1700000000"
    );
    assert_eq!(
        bare_git(&bare, &["show", "--name-status", "--format=", "main"]),
        format!("M\t{BASE_A}\nA\tfactory/state/images/app.yaml")
    );
    let stat = bare_git(&bare, &["show", "--stat", "--format=", "main"]);
    assert!(
        stat.ends_with("2 files changed, 2 insertions(+), 1 deletion(-)"),
        "{stat}"
    );
    assert_eq!(bare_git(&bare, &["rev-list", "--count", "main"]), "4");
}

#[test]
fn read_file_reads_older_revisions_of_a_full_clone() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 2);
    let work = tempfile::tempdir().unwrap();
    git(
        work.path(),
        &["clone", "--quiet", bare.to_str().unwrap(), "full"],
    );
    let sub = work.path().join("full/factory/state");
    let checkout = if_git::open(&sub).unwrap();
    assert_eq!(checkout.root(), work.path().join("full"));

    let first = bare_git(&bare, &["rev-list", "--max-parents=0", "main"]);
    let seed = "images:\n  - name: app\n";
    assert_eq!(read(&checkout, "HEAD~2", IMAGES).as_deref(), Some(seed));
    assert_eq!(read(&checkout, &first, IMAGES).as_deref(), Some(seed));
    assert_eq!(
        read(&checkout, "HEAD~1", IMAGES).as_deref(),
        Some("images:\n  - name: app0\n")
    );
    assert_eq!(
        read(&checkout, "origin/main", BASE_A).as_deref(),
        Some("image: docker.io/library/alpine:3\n")
    );
    let err = if_git::read_file(&checkout, "no-such-branch", IMAGES).unwrap_err();
    assert!(err.to_string().contains("no-such-branch"), "{err}");
}

#[test]
fn commit_updates_the_index_and_commits_deletions() {
    git_or_skip!();
    let daemon = Daemon::start();
    seed_in(&daemon, "repo.git", 0);
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("clone");
    let checkout = if_git::clone(&remote(&daemon, "repo.git"), &into).unwrap();

    std::fs::remove_file(into.join(IMAGES)).unwrap();
    write(&into, BASE_A, "image: docker.io/library/alpine:3.21\n");
    write(
        &into,
        "factory/state/base-images/b.yaml",
        "image: debian:12\n",
    );
    // Not given to commit: must stay a change in the work tree only.
    write(&into, "notes.txt", "scratch\n");
    let paths: Vec<PathBuf> = [IMAGES, BASE_A, "./factory/state/base-images/b.yaml"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let id = if_git::commit(&checkout, &paths, "state", &Identity::default(), None)
        .unwrap()
        .expect("a commit");

    assert_eq!(git(&into, &["status", "--porcelain"]), "?? notes.txt");
    assert_eq!(git(&into, &["diff", "--cached", "--name-only"]), "");
    assert_eq!(
        git(&into, &["show", "--name-status", "--format=", &id]),
        format!("D\t{IMAGES}\nM\t{BASE_A}\nA\tfactory/state/base-images/b.yaml")
    );
    assert_eq!(
        git(&into, &["ls-files"]),
        format!("{BASE_A}\nfactory/state/base-images/b.yaml")
    );

    // The same paths again: nothing differs from HEAD, so no commit.
    assert_eq!(
        if_git::commit(&checkout, &paths, "again", &Identity::default(), None).unwrap(),
        None
    );
    assert_eq!(checkout.head().as_deref(), Some(id.as_str()));

    // git itself builds on the index we wrote (no stale cached tree).
    write(
        &into,
        "factory/state/base-images/b.yaml",
        "image: debian:13\n",
    );
    git(&into, &["commit", "--quiet", "-am", "by git"]);
    assert_eq!(
        git(&into, &["show", "--name-status", "--format=", "HEAD"]),
        "M\tfactory/state/base-images/b.yaml"
    );
    assert_eq!(git(&into, &["status", "--porcelain"]), "?? notes.txt");

    // Refused before anything is written.
    for bad in ["factory", "/etc/passwd", "../x", ".git/config"] {
        let err = if_git::commit(
            &checkout,
            &[PathBuf::from(bad)],
            "bad",
            &Identity::default(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, GitError::InvalidPath { .. }), "{bad}: {err}");
    }
}

#[test]
fn reset_to_remote_discards_the_local_commit() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let remote = remote(&daemon, "repo.git");
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("clone");
    let mut checkout = if_git::clone(&remote, &into).unwrap();

    commit_one(&checkout, "factory/state/local.yaml", "mine\n", "local");
    write(&into, BASE_A, "dirty\n");
    write(&into, "untracked.txt", "kept\n");
    // Upstream moves: a new file, and the seed's images.yaml deleted.
    let work2 = tempfile::tempdir().unwrap();
    git(
        work2.path(),
        &["clone", "--quiet", bare.to_str().unwrap(), "o"],
    );
    let other = work2.path().join("o");
    git(&other, &["rm", "--quiet", IMAGES]);
    write(&other, "factory/state/theirs.yaml", "theirs\n");
    git(&other, &["add", "-A"]);
    git(&other, &["commit", "--quiet", "-m", "theirs"]);
    git(&other, &["push", "--quiet", "origin", "main"]);
    let upstream = bare_git(&bare, &["rev-parse", "main"]);

    if_git::reset_to_remote(&mut checkout, &remote).unwrap();
    assert_eq!(checkout.head().as_deref(), Some(upstream.as_str()));
    assert_eq!(git(&into, &["rev-parse", "HEAD"]), upstream);
    assert_eq!(git(&into, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    assert_eq!(git(&into, &["status", "--porcelain"]), "?? untracked.txt");
    assert!(!into.join("factory/state/local.yaml").exists());
    assert!(!into.join(IMAGES).exists());
    assert_eq!(
        std::fs::read_to_string(into.join("factory/state/theirs.yaml")).unwrap(),
        "theirs\n"
    );
    assert_eq!(
        std::fs::read_to_string(into.join(BASE_A)).unwrap(),
        "image: docker.io/library/alpine:3\n"
    );

    // After the reset a commit pushes cleanly on top of the new head.
    commit_one(&checkout, BASE_A, "again\n", "again");
    assert_eq!(if_git::push(&checkout, &remote).unwrap(), Pushed::Ok);
    assert_eq!(bare_git(&bare, &["rev-list", "--count", "main"]), "3");
}

#[test]
fn a_push_behind_the_remote_is_rejected_not_an_error() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let remote = remote(&daemon, "repo.git");
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("clone");
    let checkout = if_git::clone(&remote, &into).unwrap();
    let theirs = push_from_elsewhere(&bare, "factory/x.yaml", "x\n", "theirs");

    commit_one(&checkout, BASE_A, "ours\n", "ours");
    match if_git::push(&checkout, &remote).unwrap() {
        Pushed::Rejected { reason } => assert!(reason.contains("rejected"), "{reason}"),
        Pushed::Ok => panic!("pushed over someone else's commit"),
    }
    assert_eq!(bare_git(&bare, &["rev-parse", "main"]), theirs);
}

#[test]
fn open_outside_a_work_tree_names_the_path() {
    git_or_skip!();
    let dir = tempfile::tempdir().unwrap();
    let err = if_git::open(dir.path()).unwrap_err();
    assert!(matches!(err, GitError::NotAWorkTree { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );

    let missing = dir.path().join("missing");
    let err = if_git::open(&missing).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    git(dir.path(), &["init", "--quiet", "--bare", "bare.git"]);
    let bare: &Path = &dir.path().join("bare.git");
    let err = if_git::open(bare).unwrap_err();
    assert!(err.to_string().contains("bare"), "{err}");
}
