//! `--git-repo` over HTTP with a GitHub App: with `GITHUB_APP_*` set and no
//! `IMAGE_FACTORY_GIT_TOKEN`, the clone and push to a remote on the default GitHub's host
//! authenticate as `x-access-token:<installation token>`, as GitHub's "Authenticating as a
//! GitHub App installation" documents for git over HTTPS; an explicit
//! `IMAGE_FACTORY_GIT_TOKEN` comes first.
//!
//! One loopback host serves both, as a GitHub Enterprise Server does: `git http-backend`
//! (which accepts only an installation token the fake GitHub issued and has not expired) and,
//! relayed, the fake GitHub API that issues the tokens and checks the App's JWT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::rebuild::day;
use common::{bin, git, stderr, stdout};
use if_model::enrollment::Provider;
use if_testkit::FakeForge;
use if_testkit::app_key::{self, AppKeyFiles};
use if_testkit::git_http::Backend;

const APP_ID: &str = "27182";
const INSTALLATION: u64 = 1618;

struct Setup {
    dir: tempfile::TempDir,
    forge: FakeForge,
    server: Backend,
    key: AppKeyFiles,
}

fn setup() -> Option<Setup> {
    if !if_testkit::git::git_installed() {
        eprintln!("skipped: git is not installed");
        return None;
    }
    let exec = if_testkit::git::exec_path();
    if !(exec.join("git-remote-http").exists() && exec.join("git-http-backend").exists()) {
        eprintln!(
            "skipped: git was built without HTTP support (git-remote-http, git-http-backend)"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = app_key::generate(dir.path(), "app");
    let forge = FakeForge::start("ghp_NotUsed000000000000000000000", "glpat-unused");
    forge.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
    forge.add_file(
        Provider::Github,
        "acme/app",
        "main",
        "Dockerfile",
        "FROM alpine:3.20\n",
    );
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("factory")).unwrap();
    std::fs::write(
        work.join("factory/images.yaml"),
        "images:\n- name: app\n  registry: ghcr.io\n  repository: acme/app\n  rebuildDelay: 1d\n  source:\n    provider: github\n    repo: acme/app\n    dockerfile: Dockerfile\n    workflow: build.yml\n",
    )
    .unwrap();
    git(&work, &["init", "--quiet", "-b", "main"]);
    git(&work, &["add", "factory"]);
    git(&work, &["commit", "--quiet", "-m", "seed"]);
    let repos = dir.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let bare = repos.join("state.git");
    git(
        &work,
        &["clone", "--quiet", "--bare", ".", bare.to_str().unwrap()],
    );
    let relay = forge.url().trim_start_matches("http://").to_owned();
    let server = Backend::start_with(&repos, forge.installation_token_auth(), Some(relay));
    Some(Setup {
        dir,
        forge,
        server,
        key,
    })
}

impl Setup {
    /// `--git-repo URL --root factory analyze --all`, the App in the environment and the
    /// default GitHub API on the git host; `git_token` as `IMAGE_FACTORY_GIT_TOKEN`.
    fn analyze(&self, app: bool, git_token: Option<&str>) -> Output {
        self.analyze_with(app, git_token, None)
    }

    /// [`Setup::analyze`], with `rules` as `IMAGE_FACTORY_HOST_RULES`.
    fn analyze_with(&self, app: bool, git_token: Option<&str>, rules: Option<&Path>) -> Output {
        let empty = tempfile::tempdir().unwrap();
        let mut cmd = bin();
        cmd.current_dir(empty.path())
            .env_remove("IMAGE_FACTORY_GIT_TOKEN")
            .env("IMAGE_FACTORY_GITHUB_API", self.server.base())
            .env("GIT_TERMINAL_PROMPT", "0");
        if app {
            cmd.env("GITHUB_APP_ID", APP_ID)
                .env("GITHUB_APP_INSTALLATION_ID", INSTALLATION.to_string())
                .env("GITHUB_APP_PRIVATE_KEY_FILE", &self.key.pkcs1);
        }
        if let Some(r) = rules {
            cmd.env("IMAGE_FACTORY_HOST_RULES", r);
        }
        if let Some(t) = git_token {
            cmd.env("IMAGE_FACTORY_GIT_TOKEN", t);
        }
        cmd.args([
            "--git-repo",
            &self.server.url("state.git"),
            "--root",
            "factory",
        ])
        .args(["analyze", "--all", "--now", &day(-2)])
        .output()
        .unwrap()
    }

    fn bare(&self) -> std::path::PathBuf {
        self.dir.path().join("repos/state.git")
    }
}

fn head_count(bare: &Path) -> String {
    git(bare, &["rev-list", "--count", "main"])
        .trim()
        .to_owned()
}

#[test]
fn git_over_http_uses_the_apps_installation_token() {
    let Some(s) = setup() else { return };
    let out = s.analyze(true, None);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{o}\n{e}");
    assert_eq!(head_count(&s.bare()), "2", "the analysis was pushed");
    let tree = git(&s.bare(), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(tree.contains("factory/state/"), "{tree}");
    let requests = s.server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("200 POST") && r.contains("git-receive-pack")),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| !r.starts_with("401")),
        "{requests:?}"
    );
    let tokens = s.forge.installation_tokens();
    assert!(!tokens.is_empty(), "the fake issued the tokens");
    let log = git(&s.bare(), &["log", "-p", "--all"]);
    let config = std::fs::read_to_string(s.bare().join("config")).unwrap();
    for (token, _) in &tokens {
        for text in [&o, &e, &log, &config] {
            assert!(!text.contains(token.as_str()), "token shown: {text}");
        }
    }
}

#[test]
fn a_github_app_host_rule_for_the_git_host_serves_git_too() {
    let Some(s) = setup() else { return };
    let rules = s.dir.path().join("host-rules.yaml");
    let host = s.server.base().trim_start_matches("http://").to_owned();
    std::fs::write(
        &rules,
        format!(
            "- host: {host}\n  githubApp:\n    appId: \"{APP_ID}\"\n    installationId: {INSTALLATION}\n    privateKeyFile: {}\n",
            s.key.pkcs1.display()
        ),
    )
    .unwrap();
    let out = s.analyze_with(false, None, Some(&rules));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(head_count(&s.bare()), "2", "the analysis was pushed");
    assert!(!s.forge.installation_tokens().is_empty());
}

#[test]
fn an_explicit_git_token_comes_first_and_none_is_refused() {
    let Some(s) = setup() else { return };
    // IMAGE_FACTORY_GIT_TOKEN wins over the App: a wrong one is refused by the git host.
    let out = s.analyze(true, Some("wrong-explicit-token-0001"));
    let e = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{e}");
    assert!(!e.contains("wrong-explicit-token-0001"), "{e}");
    assert!(
        s.forge.installation_tokens().is_empty(),
        "no exchange for git"
    );
    // Neither a token nor an App: anonymous, refused.
    let out = s.analyze(false, None);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(head_count(&s.bare()), "1", "nothing pushed");
    let requests = s.server.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("401")),
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| !r.contains("git-receive-pack")),
        "{requests:?}"
    );
}
