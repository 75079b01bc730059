//! GitHub App authentication against the fake GitHub: the JWT (checked there with the App's
//! public key, derived by openssl), the installation token exchange, its renewal before
//! `expires_at` on a fake clock, and the refusal of an expired token.
//!
//! The rules are GitHub's "Generating a JSON Web Token (JWT) for a GitHub App"
//! (docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/
//! generating-a-json-web-token-jwt-for-a-github-app): RS256; `iat` "60 seconds in the past"
//! against clock drift; `exp` "no more than 10 minutes into the future"; `iss` the App's id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use common::*;
use if_forge::{AppKey, Client, ForgeError, GithubApp, fetch_file, run_status, trigger};
use if_model::enrollment::Provider;
use if_model::timestamp::Timestamp;
use if_testkit::app_key::{self, AppKeyFiles};

const APP_ID: &str = "424242";
const INSTALLATION: u64 = 77;
const T0: i64 = 1_900_000_000;

fn key() -> (tempfile::TempDir, AppKeyFiles) {
    let dir = tempfile::tempdir().unwrap();
    let files = app_key::generate(dir.path(), "app");
    (dir, files)
}

fn app(pem: &std::path::Path) -> GithubApp {
    GithubApp {
        app_id: APP_ID.to_owned(),
        installation_id: INSTALLATION,
        key: AppKey::from_pem(&std::fs::read_to_string(pem).unwrap()).unwrap(),
    }
}

/// The fake's clock and the client's, moved together.
struct Clocks {
    now: Arc<AtomicI64>,
}

impl Clocks {
    fn set(&self, forge: &if_testkit::FakeForge, t: i64) {
        self.now.store(t, Ordering::SeqCst);
        forge.set_clock(&Timestamp::from_unix(t).unwrap().to_string());
    }
}

/// A client of the App on `forge` (no static GitHub token) reading a settable clock.
fn app_client(forge: &if_testkit::FakeForge, pem: &std::path::Path) -> (Client, Clocks) {
    let now = Arc::new(AtomicI64::new(T0));
    let clock = Arc::clone(&now);
    let client = client_with(endpoints(forge), None, Some(GITLAB_TOKEN))
        .with_github_app(app(pem))
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let clocks = Clocks { now };
    clocks.set(forge, T0);
    (client, clocks)
}

fn bearer_tokens(forge: &if_testkit::FakeForge) -> Vec<String> {
    forge
        .requests()
        .iter()
        .filter(|r| !r.path.starts_with("/app/"))
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

#[test]
fn the_jwt_follows_githubs_rules() {
    let (_dir, key) = key();
    let jwt = if_forge::jwt(&app(&key.pkcs1), T0).unwrap();
    let parts: Vec<&str> = jwt.expose().split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |p: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    assert_eq!(
        decode(parts[0]),
        serde_json::json!({"alg": "RS256", "typ": "JWT"})
    );
    let claims = decode(parts[1]);
    assert_eq!(claims["iat"], T0 - 60, "iat 60 s in the past");
    assert_eq!(claims["exp"], T0 - 60 + 600, "exp 10 minutes after iat");
    assert!(claims["exp"].as_i64().unwrap() - T0 <= 600);
    assert_eq!(claims["iss"], APP_ID);
    // Debug of the App and of the JWT shows nothing of either.
    let debug = format!("{:?} {jwt:?}", app(&key.pkcs1));
    assert!(
        !debug.contains(parts[2]) && !debug.contains("BEGIN"),
        "{debug}"
    );
}

#[test]
fn both_pem_formats_exchange_and_dispatch_with_the_installation_token() {
    let (_dir, key) = key();
    for pem in [&key.pkcs1, &key.pkcs8] {
        let forge = forge();
        forge.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
        let (client, _clocks) = app_client(&forge, pem);
        trigger(&client, &github_source(), &[]).unwrap();
        let requests = forge.requests();
        assert_eq!(requests.len(), 2, "{requests:#?}");
        assert_eq!(requests[0].method, "POST");
        assert_eq!(
            requests[0].path,
            format!("/app/installations/{INSTALLATION}/access_tokens")
        );
        assert!(
            requests.iter().all(|r| r.violations.is_empty()),
            "{requests:#?}"
        );
        let issued = forge.installation_tokens();
        assert_eq!(issued.len(), 1);
        assert_eq!(bearer_tokens(&forge), [format!("Bearer {}", issued[0].0)]);
    }
}

#[test]
fn a_key_the_app_does_not_have_is_refused_with_401() {
    let (_dir, key) = key();
    let (_dir2, other) = self::key();
    let forge = forge();
    forge.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
    let (client, _clocks) = app_client(&forge, &other.pkcs1);
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert!(
        matches!(err, ForgeError::Rejected { status: 401, .. }),
        "{err}"
    );
    let requests = forge.requests();
    assert_eq!(requests.len(), 1, "nothing dispatched");
    assert!(
        requests[0].violations[0].contains("signature"),
        "{requests:#?}"
    );
    assert!(!err.to_string().contains("eyJ"), "no JWT in {err}");
}

#[test]
fn a_long_run_renews_the_token_once_before_it_expires_and_never_sends_it_expired() {
    let (_dir, key) = key();
    let forge = forge();
    forge.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
    forge.add_file(
        Provider::Github,
        "acme/app",
        "main",
        "Dockerfile",
        "FROM alpine\n",
    );
    let (client, clocks) = app_client(&forge, &key.pkcs1);
    let source = github_source();
    let mut runs = Vec::new();
    // Every 7 minutes for 1 h 45 min: a dispatch, a poll of it and a file fetch.
    let steps = 16;
    for step in 0..steps {
        clocks.set(&forge, T0 + step * 420);
        let if_forge::Triggered::Github { run: Some(run) } =
            trigger(&client, &source, &[]).unwrap()
        else {
            panic!("no run");
        };
        run_status(&client, &source, run.id).unwrap();
        fetch_file(&client, &source, "Dockerfile").unwrap();
        runs.push(run.id);
    }
    let issued = forge.installation_tokens();
    // Each token lives an hour and is renewed from 5 minutes before: the first at 56 min
    // (4 min left), while it is still valid; the second (expiring at 1 h 56) is kept to the end.
    let at: Vec<i64> = issued.iter().map(|(_, exp)| exp - 3600 - T0).collect();
    assert_eq!(at, [0, 8 * 420], "{issued:?}");
    for r in forge.requests() {
        assert!(r.violations.is_empty(), "{r:#?}");
        assert_ne!(r.response_status, 401, "{r:#?}");
    }
    assert_eq!(
        forge.requests().len(),
        usize::try_from(steps).unwrap() * 3 + issued.len()
    );
}

#[test]
fn an_expired_token_is_refused_with_401_and_not_shown() {
    let (_dir, key) = key();
    let forge = forge();
    forge.add_github_app(APP_ID, INSTALLATION, key.public_der.clone());
    let (client, clocks) = app_client(&forge, &key.pkcs1);
    trigger(&client, &github_source(), &[]).unwrap();
    // The fake's clock runs past the token's expiry while the client's stays: GitHub refuses.
    forge.set_clock(&Timestamp::from_unix(T0 + 3600).unwrap().to_string());
    let _ = &clocks;
    let err = run_status(&client, &github_source(), 5000).unwrap_err();
    assert!(
        matches!(err, ForgeError::Rejected { status: 401, .. }),
        "{err}"
    );
    let token = &forge.installation_tokens()[0].0;
    let text = format!("{err} {err:?} {client:?}");
    assert!(!text.contains(token.as_str()), "{text}");
    let last = forge.requests().pop().unwrap();
    assert!(last.violations[0].contains("expires_at"), "{last:#?}");
}
