//! `--git-repo` over HTTP with a GitHub App: with `GITHUB_APP_*` set and no
//! `IMAGE_FACTORY_GIT_TOKEN`, the clone and push to a remote on the default GitHub's host
//! authenticate as `x-access-token:<installation token>`, as GitHub's "Authenticating as a
//! GitHub App installation" documents for git over HTTPS; an explicit
//! `IMAGE_FACTORY_GIT_TOKEN` comes first. A run longer than a token's life renews it at
//! every clone, fetch and push, as dispatches, polls and file fetches do.
//!
//! One loopback host serves both, as a GitHub Enterprise Server does: `git http-backend`
//! (which accepts only an installation token the fake GitHub issued and has not expired) and,
//! relayed, the fake GitHub API that issues the tokens and checks the App's JWT.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use common::rebuild::{day, digest, record_update};
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
    /// The token of every git request that carried one, in order (the server handles one
    /// request at a time).
    git_tokens: Arc<Mutex<Vec<String>>>,
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
    let git_tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&git_tokens);
    let accept = forge.installation_token_auth();
    let recording: if_testkit::git_http::AuthCheck = Box::new(move |header: &str| {
        use base64::Engine as _;
        let token = header
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .and_then(|pair| pair.strip_prefix("x-access-token:").map(str::to_owned))
            .unwrap_or_default();
        seen.lock().unwrap().push(token);
        accept(header)
    });
    let server = Backend::start_with(&repos, recording, Some(relay));
    Some(Setup {
        dir,
        forge,
        server,
        key,
        git_tokens,
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
        self.command(
            app,
            git_token,
            rules,
            &["analyze", "--all", "--now", &day(-2)],
        )
    }

    /// `--git-repo URL --root factory ARGS` with the App (when `app`), `git_token` and
    /// `rules`.
    fn command(
        &self,
        app: bool,
        git_token: Option<&str>,
        rules: Option<&Path>,
        args: &[&str],
    ) -> Output {
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
        .args(args)
        .output()
        .unwrap()
    }

    /// No installation token, JWT or line of the App's key in `texts`, the state
    /// repository's history or its configuration.
    fn assert_no_secrets(&self, texts: &[String]) {
        let pem = std::fs::read_to_string(&self.key.pkcs1).unwrap();
        let mut secrets = vec![pem.lines().nth(3).unwrap().to_owned()];
        secrets.extend(self.forge.installation_tokens().into_iter().map(|(t, _)| t));
        secrets.extend(self.forge.requests().iter().filter_map(|r| {
            r.header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        }));
        let log = git(&self.bare(), &["log", "-p", "--all"]);
        let config = std::fs::read_to_string(self.bare().join("config")).unwrap();
        for secret in &secrets {
            assert!(secret.len() > 20, "{secret}");
            for text in texts.iter().chain([&log, &config]) {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret was shown: {text}"
                );
            }
        }
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
    s.assert_no_secrets(&[o, e]);
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

#[test]
fn a_run_longer_than_a_token_renews_it_at_every_use() {
    // Tokens that expire 120 s after they are issued: less than the client's renewal margin
    // (if_forge::RENEW_BEFORE_SECS, 300 s before `expires_at`), so each use finds the kept
    // token due and asks for a new one, as it would an hour into a long run; and the fake
    // refuses a token once a newer one exists, so a kept token would fail (401).
    let Some(s) = setup() else { return };
    const { assert!(if_forge::RENEW_BEFORE_SECS > 120) };
    s.forge.set_installation_token_lifetime(120);
    s.forge.set_installation_tokens_latest_only(true);
    let (baseline, update) = (digest('a'), digest('b'));
    let (before, yesterday, today, d1, d2) = (day(-2), day(-1), day(0), day(1), day(2));
    let runs: [Vec<&str>; 5] = [
        // Clone, the Dockerfile fetch, push.
        vec!["analyze", "--all", "--now", &before],
        // Clone, push (the base image's first digest: a baseline).
        record_update("alpine:3.20", &baseline, &yesterday).to_vec(),
        // Clone, push: a rebuild of app is due a day later.
        record_update("alpine:3.20", &update, &today).to_vec(),
        // Clone, the dispatch, push (a checkpoint after the build is sent).
        vec!["reconcile", "--now", &d1],
        // Clone, the run's poll, push.
        vec!["reconcile", "--now", &d2],
    ];
    let mut texts = Vec::new();
    for args in &runs {
        let out = s.command(true, None, None, args);
        let (o, e) = (stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{o}\n{e}");
        texts.extend([o, e]);
    }
    let git_requests: Vec<String> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.contains(".git/"))
        .collect();
    assert!(
        git_requests.iter().all(|r| r.starts_with("200 ")),
        "{git_requests:?}"
    );
    let api = s.forge.requests();
    for r in &api {
        assert!(
            r.violations.is_empty(),
            "{} {}: {:?}",
            r.method,
            r.path,
            r.violations
        );
    }

    // One git network operation = the run of requests made with one token; an API use = one
    // request with an installation token.
    let tokens = s.git_tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), git_requests.len());
    let mut git_ops: Vec<(String, Vec<String>)> = Vec::new();
    for (token, request) in tokens.into_iter().zip(git_requests) {
        match git_ops.last_mut() {
            Some((t, requests)) if *t == token => requests.push(request),
            _ => git_ops.push((token, vec![request])),
        }
    }
    let pushes = git_ops
        .iter()
        .filter(|(_, r)| r.iter().any(|r| r.contains("git-receive-pack")))
        .count();
    let uses: Vec<(&str, String)> = api
        .iter()
        .filter(|r| !r.path.contains("/access_tokens"))
        .filter_map(|r| {
            let token = r.header("authorization")?.strip_prefix("Bearer ")?;
            let kind = if r.path.ends_with("/dispatches") {
                "dispatch"
            } else if r.path.contains("/actions/runs") {
                "poll"
            } else if r.path.contains("/contents/") {
                "file"
            } else {
                "other"
            };
            Some((kind, token.to_owned()))
        })
        .collect();
    let kinds: Vec<&str> = uses.iter().map(|(k, _)| *k).collect();
    for kind in ["dispatch", "poll", "file"] {
        assert!(kinds.contains(&kind), "no {kind}: {kinds:?}\n{texts:?}");
    }

    // Every use had a token of its own, each one the fake issued, one exchange each.
    let issued: Vec<String> = s
        .forge
        .installation_tokens()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let used: Vec<&String> = uses
        .iter()
        .map(|(_, t)| t)
        .chain(git_ops.iter().map(|(t, _)| t))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = used.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        used.len(),
        "a token was used twice: {used:?}"
    );
    assert_eq!(
        distinct,
        issued.iter().collect(),
        "every token issued was used once"
    );
    let exchanges = api
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/access_tokens"))
        .count();
    assert_eq!(exchanges, issued.len());
    assert_eq!(exchanges, uses.len() + git_ops.len());
    // Five runs: five clones and five pushes, the Dockerfile fetch, the dispatch, the poll.
    assert_eq!(kinds, ["file", "dispatch", "poll"]);
    assert_eq!((git_ops.len(), pushes), (10, 5));
    assert_eq!(exchanges, 13);
    s.assert_no_secrets(&texts);
}
