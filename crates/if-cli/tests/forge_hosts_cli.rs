//! Forge credentials end to end: two GitHub hosts in one factory (the default one through a
//! GitHub App, a second through `source.api` with a token, or with its own App), chosen by a
//! host-rules file;
//! refusals up front (a host without credentials, a bad rules file, a bad key file); and no
//! key, JWT or token in any output or file.
//!
//! The App's JWT and installation tokens follow GitHub's "Generating a JSON Web Token (JWT)
//! for a GitHub App" and "Generating an installation access token for a GitHub App"; the fake
//! GitHub checks them (`if_testkit::FakeForge::add_github_app`). Renewal before `expires_at`
//! within one long-lived client is pinned in `crates/if-forge/tests/app.rs` on a fake clock;
//! here every command is one process, which exchanges once per host.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::rebuild::{day, digest};
use common::{bin, stderr, stdout, tree_of};
use if_model::enrollment::Provider;
use if_testkit::FakeForge;
use if_testkit::app_key::{self, AppKeyFiles};

const B_TOKEN: &str = "ghp_SecondHostTok3n0123456789abcdefXYZ";
const APP_ID: &str = "31337";
const INSTALLATION: u64 = 4242;

struct Hosts {
    dir: tempfile::TempDir,
    root: PathBuf,
    a: FakeForge,
    b: FakeForge,
    key: AppKeyFiles,
    rules: PathBuf,
    outputs: std::cell::RefCell<Vec<String>>,
}

fn host(forge: &FakeForge) -> String {
    forge.url().trim_start_matches("http://").to_owned()
}

impl Hosts {
    /// Host A (the default API): app-a, through the App. Host B (`source.api`): app-b, with a
    /// token. `extra` is appended to images.yaml.
    fn setup(extra: &str) -> Hosts {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("factory");
        std::fs::create_dir_all(&root).unwrap();
        let key = app_key::generate(dir.path(), "app");
        let a = FakeForge::start("ghp_NotUsedOnHostA000000000000", "glpat-unused");
        let b = FakeForge::start(B_TOKEN, "glpat-unused");
        a.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
        for (forge, repo) in [(&a, "acme/app-a"), (&b, "acme/app-b")] {
            forge.add_file(
                Provider::Github,
                repo,
                "main",
                "Dockerfile",
                "FROM alpine:3.20\n",
            );
        }
        let images = format!(
            "images:\n\
             - name: app-a\n  registry: ghcr.io\n  repository: acme/app-a\n  rebuildDelay: 1d\n  source:\n    provider: github\n    repo: acme/app-a\n    dockerfile: Dockerfile\n    workflow: build.yml\n\
             - name: app-b\n  registry: ghe.example\n  repository: acme/app-b\n  rebuildDelay: 1d\n  source:\n    provider: github\n    repo: acme/app-b\n    dockerfile: Dockerfile\n    workflow: build.yml\n    api: {}\n{extra}",
            b.github_api()
        );
        std::fs::write(root.join("images.yaml"), images).unwrap();
        let rules = dir.path().join("host-rules.yaml");
        std::fs::write(
            &rules,
            format!(
                "- host: {}\n  githubApp:\n    appId: \"{APP_ID}\"\n    installationId: {INSTALLATION}\n    privateKeyFile: {}\n- host: {}\n  token: {B_TOKEN}\n",
                host(&a),
                key.pkcs1.display(),
                host(&b)
            ),
        )
        .unwrap();
        Hosts {
            dir,
            root,
            a,
            b,
            key,
            rules,
            outputs: Default::default(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = bin()
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITLAB_TOKEN")
            .env("IMAGE_FACTORY_GITHUB_API", self.a.github_api())
            .env("IMAGE_FACTORY_GITLAB_API", self.a.gitlab_api())
            .env("IMAGE_FACTORY_HOST_RULES", &self.rules)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .output()
            .unwrap();
        let mut log = self.outputs.borrow_mut();
        log.push(stdout(&out));
        log.push(stderr(&out));
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Every secret there is: a line of the key, the JWTs and tokens seen on the wire.
    fn secrets(&self) -> Vec<String> {
        let pem = std::fs::read_to_string(&self.key.pkcs1).unwrap();
        let mut secrets = vec![pem.lines().nth(3).unwrap().to_owned(), B_TOKEN.to_owned()];
        for forge in [&self.a, &self.b] {
            secrets.extend(forge.installation_tokens().into_iter().map(|(t, _)| t));
            for r in forge.requests() {
                if let Some(jwt) = r
                    .header("authorization")
                    .and_then(|v| v.strip_prefix("Bearer "))
                {
                    secrets.push(jwt.to_owned());
                }
            }
        }
        secrets.sort();
        secrets.dedup();
        secrets
    }

    fn assert_no_secrets(&self) {
        let log = self.outputs.borrow();
        let files: Vec<(PathBuf, String)> = tree_of(&self.root)
            .into_iter()
            .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
            .collect();
        for secret in self.secrets() {
            assert!(secret.len() > 20, "{secret}");
            for text in log.iter() {
                assert!(!text.contains(&secret), "a secret was printed: {text}");
            }
            for (path, text) in &files {
                assert!(!text.contains(&secret), "{} holds a secret", path.display());
            }
        }
    }
}

fn record_update(h: &Hosts) {
    for (d, at) in [(digest('a'), day(-1)), (digest('b'), day(0))] {
        h.ok(&[
            "record-update",
            "--image",
            "alpine:3.20",
            "--digest",
            &d,
            "--now",
            &at,
        ]);
    }
}

/// `forge`'s requests, when its image's credential is an App (installation `installation`)
/// and the commands were analyze, two record-updates and two reconciles: one exchange per
/// process that talked to it, each request after it carrying the token it issued (never a
/// static token), every request exactly as documented.
fn assert_dispatched_with_app(forge: &FakeForge, installation: u64, repo: &str) {
    let issued = forge.installation_tokens();
    // One exchange per process that talked to the host: analyze, and each reconcile.
    assert_eq!(issued.len(), 3, "{issued:?}");
    let requests = forge.requests();
    let kinds: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.split('?').next().unwrap().to_owned(),
            )
        })
        .collect();
    let exchange = format!("/app/installations/{installation}/access_tokens");
    let want: Vec<(String, String)> = [
        ("POST", exchange.clone()),
        ("GET", format!("/repos/{repo}/contents/Dockerfile")),
        ("POST", exchange.clone()),
        (
            "POST",
            format!("/repos/{repo}/actions/workflows/build.yml/dispatches"),
        ),
        ("POST", exchange.clone()),
        ("GET", format!("/repos/{repo}/actions/runs/5000")),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p))
    .collect();
    assert_eq!(kinds, want, "{requests:#?}");
    // Each request after an exchange carries the token it issued, none a static token.
    let mut token = 0;
    for r in &requests {
        assert!(r.violations.is_empty(), "{r:#?}");
        if r.path == exchange {
            token += 1;
            continue;
        }
        let want = format!("Bearer {}", issued[token - 1].0);
        assert_eq!(r.header("authorization"), Some(want.as_str()), "{r:#?}");
    }
}

#[test]
fn reconcile_dispatches_on_two_github_hosts_with_an_app_and_a_token() {
    let h = Hosts::setup("");
    // analyze fetches both Dockerfiles, each from its own host with its own credential.
    h.ok(&["analyze", "--all", "--now", &day(-2)]);
    record_update(&h);
    h.ok(&["reconcile", "--now", &day(1)]);
    // The next run polls both builds.
    h.ok(&["reconcile", "--now", &day(2)]);

    assert_dispatched_with_app(&h.a, INSTALLATION, "acme/app-a");
    let b = h.b.requests();
    assert_eq!(b.len(), 3, "fetch, dispatch, poll: {b:#?}");
    for r in &b {
        assert!(r.violations.is_empty(), "{r:#?}");
        let want = format!("Bearer {B_TOKEN}");
        assert_eq!(r.header("authorization"), Some(want.as_str()));
    }
    h.assert_no_secrets();
}

#[test]
fn reconcile_dispatches_with_an_app_on_each_of_two_github_hosts() {
    // Issue 21's "done when": an App's installation token on two GitHub hosts, two Apps
    // (each host its own App, key and installation), chosen by the host-rules file.
    let h = Hosts::setup("");
    let key_b = app_key::generate(h.dir.path(), "app-b");
    h.b.add_github_app("31338", 4343, key_b.public_der.clone());
    let rules = std::fs::read_to_string(&h.rules).unwrap();
    let token_rule = format!("- host: {}\n  token: {B_TOKEN}\n", host(&h.b));
    assert!(rules.contains(&token_rule));
    let app_rule = format!(
        "- host: {}\n  githubApp:\n    appId: \"31338\"\n    installationId: 4343\n    privateKeyFile: {}\n",
        host(&h.b),
        key_b.pkcs1.display()
    );
    std::fs::write(&h.rules, rules.replace(&token_rule, &app_rule)).unwrap();
    h.ok(&["analyze", "--all", "--now", &day(-2)]);
    record_update(&h);
    h.ok(&["reconcile", "--now", &day(1)]);
    h.ok(&["reconcile", "--now", &day(2)]);
    assert_dispatched_with_app(&h.a, INSTALLATION, "acme/app-a");
    assert_dispatched_with_app(&h.b, 4343, "acme/app-b");
    let pem_b = std::fs::read_to_string(&key_b.pkcs1).unwrap();
    let line_b = pem_b.lines().nth(3).unwrap();
    for text in h.outputs.borrow().iter() {
        assert!(
            !text.contains(line_b),
            "a line of B's key was printed: {text}"
        );
    }
    h.assert_no_secrets();
}

#[test]
fn an_image_whose_host_has_no_credentials_stops_reconcile_before_any_dispatch() {
    let c = "http://127.0.0.1:9/api/v3";
    let extra = format!(
        "- name: app-c\n  registry: ghcr.io\n  repository: acme/app-c\n  rebuildDelay: 1d\n  source:\n    provider: github\n    repo: acme/app-c\n    dockerfile: Dockerfile\n    workflow: build.yml\n    api: {c}\n"
    );
    let h = Hosts::setup(&extra);
    let src = h.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    h.ok(&[
        "analyze",
        "--all",
        "--source-dir",
        &src.display().to_string(),
        "--now",
        &day(-2),
    ]);
    record_update(&h);
    let before = tree_of(&h.root);
    let out = h.run(&["reconcile", "--now", &day(1)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("image app-c: no credentials for host 127.0.0.1:9 (add a rule for it"),
        "{err}"
    );
    assert!(err.contains("nothing was dispatched"), "{err}");
    assert_eq!(tree_of(&h.root), before, "nothing written");
    for forge in [&h.a, &h.b] {
        assert!(forge.requests().is_empty(), "{:#?}", forge.requests());
    }
}

#[test]
fn a_bad_rules_file_or_key_file_is_named_with_exit_2() {
    let h = Hosts::setup("");
    let rules = std::fs::read_to_string(&h.rules).unwrap();
    std::fs::write(&h.rules, rules.replace("  token:", "  tokn:")).unwrap();
    let out = h.run(&["reconcile", "--now", &day(1)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let at = format!("{}:7:3: error: unknown key `tokn`", h.rules.display());
    assert!(err.contains(&at), "{err}");

    // A key file that is not a key: its path named, its content never shown.
    let bad: &Path = &h.dir.path().join("not-a-key.pem");
    std::fs::write(
        bad,
        "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWxpbmU=\n-----END RSA PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(
        &h.rules,
        rules.replace(
            &h.key.pkcs1.display().to_string(),
            &bad.display().to_string(),
        ),
    )
    .unwrap();
    let out = h.run(&["reconcile", "--now", &day(1)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "GitHub App private key file {}: not an RSA private key",
            bad.display()
        )),
        "{err}"
    );
    assert!(!err.contains("c2VjcmV0"), "{err}");
    assert!(h.a.requests().is_empty() && h.b.requests().is_empty());
}
