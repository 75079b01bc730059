//! HTTP remotes go through the `git` command (clone, fetch, push) with the token as an
//! `Authorization` header: tested against `git http-backend` behind a small CGI server that
//! refuses every request without the expected header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::backend::Backend;
use common::{BASE_A, bare_git, commit_one, git, push_from_elsewhere, seed};
use if_git::{GitError, Pushed, Remote, Secret};

const TOKEN: &str = "tok-SECRET-123";
// base64("x-access-token:tok-SECRET-123")
const BASIC: &str = "eC1hY2Nlc3MtdG9rZW46dG9rLVNFQ1JFVC0xMjM=";

#[test]
fn http_remotes_use_git_with_the_token_in_a_header() {
    git_http_or_skip!();
    let repos = tempfile::tempdir().unwrap();
    let bare = seed(repos.path(), "repo.git", 2);
    let server = Backend::start(repos.path(), &format!("Basic {BASIC}"));
    let remote =
        Remote::new(server.url("repo.git"), "main").with_token(Secret::new(TOKEN.to_owned()));
    let work = tempfile::tempdir().unwrap();
    let into = work.path().join("clone");

    // Shallow clone with git.
    let mut checkout = if_git::clone(&remote, &into).unwrap();
    assert_eq!(git(&into, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        checkout.head().as_deref(),
        Some(bare_git(&bare, &["rev-parse", "main"]).as_str())
    );
    // The token is not kept in the clone's config.
    let config = std::fs::read_to_string(into.join(".git/config")).unwrap();
    assert!(
        !config.contains(TOKEN) && !config.contains(BASIC),
        "{config}"
    );

    // Commit and push.
    let id = commit_one(&checkout, BASE_A, "ours\n", "ours");
    assert_eq!(if_git::push(&checkout, &remote).unwrap(), Pushed::Ok);
    assert_eq!(bare_git(&bare, &["rev-parse", "main"]), id);

    // Rejected when behind; fetch (git) and reset (gix) bring it level.
    let theirs = push_from_elsewhere(&bare, "factory/theirs.yaml", "x\n", "theirs");
    commit_one(&checkout, BASE_A, "ours again\n", "again");
    assert!(matches!(
        if_git::push(&checkout, &remote).unwrap(),
        Pushed::Rejected { .. }
    ));
    if_git::reset_to_remote(&mut checkout, &remote).unwrap();
    assert_eq!(checkout.head().as_deref(), Some(theirs.as_str()));
    assert!(into.join("factory/theirs.yaml").exists());
    assert_eq!(git(&into, &["status", "--porcelain"]), "");

    // Every request carried the header (none was refused).
    let requests = server.requests();
    eprintln!("requests: {requests:?}");
    assert!(
        requests.iter().any(|r| r.contains("git-receive-pack")),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.starts_with("200 ")),
        "{requests:?}"
    );

    // Without the token the server refuses, and git does not prompt.
    let anonymous = Remote::new(server.url("repo.git"), "main");
    let err = if_git::clone(&anonymous, &work.path().join("anon")).unwrap_err();
    eprintln!("anonymous: {err}");
    assert!(matches!(err, GitError::Command { .. }), "{err}");
    assert!(err.to_string().contains(&server.url("repo.git")), "{err}");
    assert!(!work.path().join("anon").exists());
    // A wrong token is refused too, and not shown.
    let wrong = Remote::new(server.url("repo.git"), "main")
        .with_token(Secret::new("wrong-token-456".to_owned()));
    let err = if_git::clone(&wrong, &work.path().join("wrong")).unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains("wrong-token-456"),
        "{err}"
    );
}
