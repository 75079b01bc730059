//! `publish` against a real `git daemon`: no change, concurrent publishers, rejected pushes
//! retried (or not), unreachable remotes, and tokens kept out of every message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use common::http::ErrServer;
use common::{
    BASE_A, Daemon, IMAGES, bare_git, free_port, git, push_from_elsewhere, seed_in, write,
};
use if_git::{GitError, Identity, PublishError, Published, Remote, Secret};

type Step = Result<Option<(Vec<PathBuf>, String)>, String>;

/// A step writing `content` to `rela` and asking to commit it with `message`.
fn edit(root: &Path, rela: &str, content: &str, message: &str) -> Step {
    write(root, rela, content);
    Ok(Some((vec![PathBuf::from(rela)], message.to_owned())))
}

#[test]
fn a_step_that_changes_nothing_makes_no_commit_and_no_push() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let before = bare_git(&bare, &["rev-parse", "main"]);
    let remote = Remote::new(daemon.url("repo.git"), "main");
    let work = tempfile::tempdir().unwrap();

    let published = if_git::publish(
        &remote,
        &work.path().join("a"),
        &Identity::default(),
        3,
        |_| -> Step { Ok(None) },
    )
    .unwrap();
    assert_eq!(
        published,
        Published {
            commit: None,
            attempts: 0
        }
    );

    // Files rewritten with the content they already have: still nothing to commit.
    let published = if_git::publish(
        &remote,
        &work.path().join("b"),
        &Identity::default(),
        3,
        |c| {
            edit(
                c.root(),
                BASE_A,
                "image: docker.io/library/alpine:3\n",
                "same",
            )
        },
    )
    .unwrap();
    assert_eq!(published.commit, None);
    assert_eq!(published.attempts, 0);
    assert_eq!(bare_git(&bare, &["rev-parse", "main"]), before);
}

#[test]
fn concurrent_publishers_both_land_in_a_linear_history() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let remote = Remote::new(daemon.url("repo.git"), "main");
    let work = tempfile::tempdir().unwrap();
    // Both steps wait for each other on their first run, so both clones are taken before
    // either pushes: one of the pushes must be rejected.
    let barrier = Arc::new(Barrier::new(2));

    let run = |name: &'static str| {
        let (remote, barrier) = (remote.clone(), Arc::clone(&barrier));
        let workdir = work.path().join(name);
        std::thread::spawn(move || {
            let mut calls = 0;
            let published = if_git::publish(&remote, &workdir, &Identity::default(), 3, |c| {
                calls += 1;
                if calls == 1 {
                    barrier.wait();
                }
                let rela = format!("factory/state/images/{name}.yaml");
                edit(
                    c.root(),
                    &rela,
                    &format!("name: {name}\n"),
                    &format!("state: {name}"),
                )
            });
            (published, calls)
        })
    };
    let (a, b) = (run("a"), run("b"));
    let (a, a_calls) = a.join().unwrap();
    let (b, b_calls) = b.join().unwrap();
    let (a, b) = (a.unwrap(), b.unwrap());

    let mut attempts = [a.attempts, b.attempts];
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2], "{a:?} {b:?}");
    let mut calls = [a_calls, b_calls];
    calls.sort_unstable();
    assert_eq!(calls, [1, 2]);
    let head = bare_git(&bare, &["rev-parse", "main"]);
    let last = if a.attempts == 2 { &a } else { &b };
    assert_eq!(last.commit.as_deref(), Some(head.as_str()));
    assert_eq!(bare_git(&bare, &["rev-list", "--count", "main"]), "3");
    assert_eq!(
        bare_git(&bare, &["rev-list", "--merges", "--count", "main"]),
        "0"
    );
    let subjects = bare_git(&bare, &["log", "--format=%s", "main"]);
    assert!(
        subjects.contains("state: a") && subjects.contains("state: b"),
        "{subjects}"
    );
    let files = bare_git(&bare, &["ls-tree", "-r", "--name-only", "main"]);
    assert!(files.contains("factory/state/images/a.yaml"), "{files}");
    assert!(files.contains("factory/state/images/b.yaml"), "{files}");
}

#[test]
fn a_rejected_push_is_retried_on_the_new_head() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let remote = Remote::new(daemon.url("repo.git"), "main");
    let work = tempfile::tempdir().unwrap();
    let mut theirs = String::new();
    let mut saw_theirs = false;

    let published = if_git::publish(
        &remote,
        &work.path().join("w"),
        &Identity::default(),
        3,
        |c| {
            if theirs.is_empty() {
                // Someone pushes between our clone and our push.
                theirs = push_from_elsewhere(&bare, "factory/theirs.yaml", "x\n", "theirs");
            } else {
                saw_theirs = c.root().join("factory/theirs.yaml").exists();
            }
            edit(c.root(), BASE_A, "ours\n", "ours")
        },
    )
    .unwrap();
    assert_eq!(published.attempts, 2);
    assert!(saw_theirs, "the second run must see the new head");
    let head = bare_git(&bare, &["rev-parse", "main"]);
    assert_eq!(published.commit.as_deref(), Some(head.as_str()));
    assert_eq!(bare_git(&bare, &["rev-parse", "main~1"]), theirs);
    assert_eq!(
        bare_git(&bare, &["log", "-1", "--format=%s", "main"]),
        "ours"
    );
}

#[test]
fn with_one_attempt_a_rejected_push_is_an_error() {
    git_or_skip!();
    let daemon = Daemon::start();
    let bare = seed_in(&daemon, "repo.git", 0);
    let url = daemon.url("repo.git");
    let remote = Remote::new(url.clone(), "main");
    let work = tempfile::tempdir().unwrap();
    let mut theirs = String::new();

    let err = if_git::publish(
        &remote,
        &work.path().join("w"),
        &Identity::default(),
        1,
        |c| {
            theirs = push_from_elsewhere(&bare, "factory/theirs.yaml", "x\n", "theirs");
            edit(c.root(), BASE_A, "ours\n", "ours")
        },
    )
    .unwrap_err();
    match &err {
        PublishError::Rejected {
            attempts, reason, ..
        } => {
            assert_eq!(*attempts, 1);
            assert!(reason.contains("rejected"), "{reason}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    let text = err.to_string();
    eprintln!("rejected: {text}");
    assert!(text.contains("rejected") && text.contains(&url), "{text}");
    assert_eq!(bare_git(&bare, &["rev-parse", "main"]), theirs);
}

#[test]
fn an_unreachable_remote_names_the_url_and_leaves_nothing() {
    git_or_skip!();
    let url = format!("git://127.0.0.1:{}/x.git", free_port());
    let remote = Remote::new(url.clone(), "main");
    let work = tempfile::tempdir().unwrap();
    let mut ran = false;

    // A work directory that does not exist yet is not left behind...
    let workdir = work.path().join("w");
    let err = if_git::publish(&remote, &workdir, &Identity::default(), 3, |_| -> Step {
        ran = true;
        Ok(None)
    })
    .unwrap_err();
    eprintln!("unreachable: {err}");
    assert!(!ran, "the step must not run without a clone");
    assert!(
        matches!(err, PublishError::Git(GitError::Remote { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert!(!workdir.exists());

    // ...and an empty one given is left empty.
    let err = if_git::clone(&remote, work.path()).unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);

    // A destination with files in it is refused before any connection.
    write(work.path(), "keep.txt", "x");
    let err = if_git::clone(&remote, work.path()).unwrap_err();
    assert!(matches!(err, GitError::DestinationNotEmpty { .. }), "{err}");
    assert!(work.path().join("keep.txt").exists());
}

const TOKEN: &str = "tok-SECRET-123";
// base64("x-access-token:tok-SECRET-123")
const BASIC: &str = "eC1hY2Nlc3MtdG9rZW46dG9rLVNFQ1JFVC0xMjM=";

fn assert_hidden(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains(BASIC), "credential leaked: {text}");
}

#[test]
fn a_token_never_appears_in_errors() {
    git_or_skip!();
    let token = Secret::new(TOKEN.to_owned());
    let work = tempfile::tempdir().unwrap();

    // Nobody listening.
    let url = format!("http://127.0.0.1:{}/x.git", free_port());
    let remote = Remote::new(url.clone(), "main").with_token(token.clone());
    let err = if_git::clone(&remote, &work.path().join("a")).unwrap_err();
    let text = format!("{err} {err:?}");
    eprintln!("closed port: {err}");
    assert_hidden(&text);
    assert!(text.contains(&url), "{text}");
    assert!(matches!(err, GitError::Command { .. }), "{text}");
    let err = if_git::publish(
        &remote,
        &work.path().join("b"),
        &Identity::default(),
        2,
        |_| -> Step { Ok(None) },
    )
    .unwrap_err();
    assert_hidden(&format!("{err} {err:?}"));

    // A server that repeats the token back in its error: git prints it, we scrub it; and
    // the token reached the server only as the Basic credential.
    let server = ErrServer::start(&format!("denied for {TOKEN}"));
    let remote = Remote::new(server.url("x.git"), "main").with_token(token.clone());
    let err = if_git::clone(&remote, &work.path().join("c")).unwrap_err();
    let text = format!("{err} {err:?}");
    assert_hidden(&text);
    eprintln!("echoing server: {err}");
    assert!(text.contains("denied for ***"), "{text}");
    let requests = server.requests();
    assert!(!requests.is_empty());
    for head in &requests {
        assert!(
            head.contains(&format!("Authorization: Basic {BASIC}")),
            "{head}"
        );
    }

    // Push sends it the same way, and scrubs it the same way.
    let daemon = Daemon::start();
    seed_in(&daemon, "repo.git", 0);
    let checkout = if_git::clone(
        &Remote::new(daemon.url("repo.git"), "main"),
        &work.path().join("d"),
    )
    .unwrap();
    let err = if_git::push(&checkout, &remote).unwrap_err();
    let text = format!("{err} {err:?}");
    assert_hidden(&text);
    eprintln!("push to echoing server: {err}");
    assert!(text.contains("***"), "{text}");
    let pushes = server.requests();
    assert!(
        pushes.iter().any(|h| h.contains("git-receive-pack")),
        "{pushes:?}"
    );

    // The token only goes to HTTP(S) remotes.
    let plain = Remote::new(daemon.url("repo.git"), "main").with_token(token);
    let published = if_git::publish(
        &plain,
        &work.path().join("e"),
        &Identity::default(),
        1,
        |c| edit(c.root(), IMAGES, "images: []\n", "empty"),
    )
    .unwrap();
    assert_eq!(published.attempts, 1);
    assert!(
        git(&work.path().join("e"), &["config", "--list"])
            .find(TOKEN)
            .is_none()
    );
}
