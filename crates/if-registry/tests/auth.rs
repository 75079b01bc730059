//! Authentication against a real registry: htpasswd Basic auth, and the Bearer token flow
//! with a token server the test runs (tokens cached per registry and scope, one token
//! request per scope even when resolving concurrently, exactly one manifest request per
//! image after the first); plain HTTP realms refused; secrets never printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use common::net::CountingProxy;
use common::push::Pusher;
use common::token::{ISSUER, SERVICE, Signer, TokenPolicy, TokenServer};
use common::{RegistryAuth, client, client_with};
use if_model::reference::ImageRef;
use if_registry::{Client, RegistryError, resolve_all, resolve_digest};

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery";

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Resolving `image` with `client` is refused: `Unauthorized`, with credentials sent or not
/// as `with_credentials` says.
fn refused(client: &Client, image: &ImageRef, with_credentials: bool) -> RegistryError {
    let err = resolve_digest(client, image).unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::Unauthorized { with_credentials: w, .. } if *w == with_credentials
        ),
        "{err:?}"
    );
    err
}

/// None of `hidden` shows in the error (`Display` or `Debug`) or in the client's `Debug`.
fn assert_hidden(err: &RegistryError, client: &Client, hidden: &[&str]) {
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        for secret in hidden {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn htpasswd_basic_auth() {
    let registry = registry_or_skip!(RegistryAuth::Htpasswd {
        user: USER.into(),
        password: PASSWORD.into(),
    });
    let pushed =
        Pusher::new(&registry.addr, Some(basic(USER, PASSWORD))).oci_index("app", "1", "h");
    let image = registry.image("app:1");

    let err = refused(&client(), &image, false);
    assert!(
        matches!(err, RegistryError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(err.subject().reference.as_deref(), Some("1"));

    let client = client_with(&registry.addr, USER, PASSWORD);
    let first = resolve_digest(&client, &image).unwrap();
    assert_eq!(first.digest, pushed.digest);
    assert_eq!(first.requests, 2, "anonymous HEAD, 401, HEAD with Basic");
    let again = resolve_digest(&client, &image).unwrap();
    assert_eq!(
        again.requests, 1,
        "Basic is sent up front once the registry asked for it"
    );
    assert_eq!(client.stats().token_requests, 0);

    let wrong = client_with(&registry.addr, USER, "wrong-password-123");
    let err = refused(&wrong, &image, true);
    let encoded = basic(USER, "wrong-password-123");
    assert_hidden(&err, &wrong, &["wrong-password-123", &encoded[6..]]);
}

/// A token server and a registry that trusts it, with `repos` pushed (tags `1..=n`).
struct TokenSetup {
    tokens: TokenServer,
    registry: common::Registry,
    _dir: tempfile::TempDir,
}

impl TokenSetup {
    /// A pusher to the registry, with a token that may push to `repos`.
    fn pusher(&self, repos: &[&str]) -> Pusher {
        Pusher::new(
            &self.registry.addr,
            Some(self.tokens.signer.push_auth(repos)),
        )
    }
}

fn token_setup(policy: TokenPolicy) -> Option<TokenSetup> {
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(dir.path(), policy);
    let registry = common::Registry::start(RegistryAuth::Token {
        realm: tokens.realm(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        rootcertbundle: tokens.cert_path.clone(),
    })?;
    Some(TokenSetup {
        tokens,
        registry,
        _dir: dir,
    })
}

macro_rules! token_setup_or_skip {
    ($policy:expr) => {
        match token_setup($policy) {
            Some(setup) => setup,
            None => {
                eprintln!(
                    "skipping: docker-registry is not installed (apt-get install docker-registry)"
                );
                return;
            }
        }
    };
}

fn open_policy(expires_in: u64) -> TokenPolicy {
    TokenPolicy {
        require: None,
        expires_in,
    }
}

#[test]
fn bearer_flow_with_a_cached_token() {
    let setup = token_setup_or_skip!(open_policy(300));
    let push = setup.pusher(&["team/app"]);
    let pushed = push.oci_index("team/app", "1", "t");
    let proxy = CountingProxy::start(&setup.registry.addr);
    let image = ImageRef::parse(&format!("{}/team/app:1", proxy.addr)).unwrap();
    let client = client();

    let first = resolve_digest(&client, &image).unwrap();
    assert_eq!(first.digest, pushed.digest);
    assert_eq!(first.requests, 3, "HEAD (401), token, HEAD");
    let requests = setup.tokens.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].service.as_deref(), Some(SERVICE));
    assert_eq!(requests[0].scopes, ["repository:team/app:pull"]);
    assert_eq!(
        requests[0].authorization, None,
        "anonymous: no credentials configured"
    );

    let again = resolve_digest(&client, &image).unwrap();
    assert_eq!(again.digest, pushed.digest);
    assert_eq!(again.requests, 1, "the cached token is sent up front");
    assert_eq!(setup.tokens.count(), 1, "no new token request");
    assert_eq!(proxy.count("HEAD", "/manifests/"), 3);
    assert_eq!(client.stats().token_requests, 1);
}

/// Five images in two repositories, with a fresh client each time: exactly two token
/// requests, and one manifest request per image plus the first one's 401.
#[test]
fn tokens_per_scope_then_shared_across_expected_scopes_one_manifest_request_per_image() {
    let setup = token_setup_or_skip!(open_policy(300));
    let push = setup.pusher(&["one", "two"]);
    let mut expected = Vec::new();
    for (repo, tag) in [
        ("one", "1"),
        ("one", "2"),
        ("one", "3"),
        ("two", "1"),
        ("two", "2"),
    ] {
        expected.push(push.oci_manifest(repo, tag, &format!("{repo}{tag}")).digest);
    }
    let proxy = CountingProxy::start(&setup.registry.addr);
    let images: Vec<ImageRef> = ["one:1", "one:2", "one:3", "two:1", "two:2"]
        .iter()
        .map(|p| ImageRef::parse(&format!("{}/{p}", proxy.addr)).unwrap())
        .collect();

    // Sequentially.
    let client = client();
    let results: Vec<_> = images
        .iter()
        .map(|i| resolve_digest(&client, i).unwrap())
        .collect();
    let digests: Vec<_> = results.iter().map(|r| r.digest.clone()).collect();
    assert_eq!(digests, expected);
    assert_eq!(setup.tokens.count(), 2);
    assert_eq!(proxy.count("HEAD", "/manifests/"), 6);
    assert_eq!(proxy.requests().len(), 6, "nothing but manifest HEADs");
    let per_image: Vec<u32> = results.iter().map(|r| r.requests).collect();
    // one:1 learns the scheme (HEAD 401, token, HEAD); two:1 needs its own token.
    assert_eq!(per_image, [3, 1, 1, 2, 1]);
    let scopes: BTreeSet<String> = setup
        .tokens
        .requests()
        .into_iter()
        .flat_map(|r| r.scopes)
        .collect();
    assert_eq!(
        scopes,
        BTreeSet::from([
            "repository:one:pull".to_owned(),
            "repository:two:pull".to_owned()
        ])
    );

    // Concurrently, eight at a time, told the images first (`resolve_all` does): one token
    // request carrying both scopes (the token spec allows `scope` repeated).
    let client = common::client();
    let results = resolve_all(&client, &images, 8);
    let digests: Vec<_> = results.into_iter().map(|r| r.unwrap().digest).collect();
    assert_eq!(digests, expected);
    assert_eq!(setup.tokens.count(), 3, "one more token request");
    let mut last = setup.tokens.requests().pop().unwrap().scopes;
    last.sort();
    assert_eq!(last, ["repository:one:pull", "repository:two:pull"]);
    assert_eq!(
        proxy.count("HEAD", "/manifests/"),
        12,
        "six more manifest requests"
    );
    let stats = client.stats();
    assert_eq!((stats.requests, stats.token_requests), (6, 1));
    assert_eq!(
        stats.token_requests_by_registry.get(proxy.addr.as_str()),
        Some(&1)
    );
}

#[test]
fn concurrent_callers_share_one_token_request() {
    let setup = token_setup_or_skip!(open_policy(300));
    let push = setup.pusher(&["many"]);
    for i in 0..16 {
        push.oci_manifest("many", &format!("t{i}"), &format!("s{i}"));
    }
    let images: Vec<ImageRef> = (0..16)
        .map(|i| setup.registry.image(&format!("many:t{i}")))
        .collect();
    let client = client();
    let results = resolve_all(&client, &images, 8);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(setup.tokens.count(), 1);
    assert_eq!(client.stats().requests, 17);
}

#[test]
fn an_expired_token_is_fetched_again() {
    let setup = token_setup_or_skip!(open_policy(1));
    let push = setup.pusher(&["app"]);
    push.oci_manifest("app", "1", "e");
    let client = client();
    let image = setup.registry.image("app:1");
    resolve_digest(&client, &image).unwrap();
    assert_eq!(resolve_digest(&client, &image).unwrap().requests, 1);
    assert_eq!(setup.tokens.count(), 1);
    thread::sleep(Duration::from_millis(1000));
    let later = resolve_digest(&client, &image).unwrap();
    assert_eq!(later.requests, 2, "a new token, then the HEAD");
    assert_eq!(setup.tokens.count(), 2);
}

#[test]
fn token_realm_credentials() {
    let setup = token_setup_or_skip!(TokenPolicy {
        require: Some(basic(USER, PASSWORD)),
        expires_in: 300,
    });
    let push = setup.pusher(&["private"]);
    let pushed = push.docker_list("private", "1", "p");
    let image = setup.registry.image("private:1");

    let err = resolve_digest(&client(), &image).unwrap_err();
    let RegistryError::Unauthorized {
        host,
        with_credentials,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        setup.tokens.realm().contains(host.as_str()),
        "the realm's host refused: {host}"
    );
    assert!(!with_credentials);

    let client = client_with(&setup.registry.addr, USER, PASSWORD);
    assert_eq!(
        resolve_digest(&client, &image).unwrap().digest,
        pushed.digest
    );
    let last = setup.tokens.requests().pop().unwrap();
    assert_eq!(last.authorization, Some(basic(USER, PASSWORD)));

    let wrong = client_with(&setup.registry.addr, USER, "Wr0ngSecretValue");
    let err = refused(&wrong, &image, true);
    assert_hidden(&err, &wrong, &["Wr0ngSecretValue"]);
}

#[test]
fn a_plain_http_realm_elsewhere_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let _signer = Signer::new(&cert);
    let registry = registry_or_skip!(RegistryAuth::Token {
        realm: "http://auth.example.com/token".into(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        rootcertbundle: cert,
    });
    let client = client_with(&registry.addr, USER, PASSWORD);
    let err = resolve_digest(&client, &registry.image("app:1")).unwrap_err();
    let RegistryError::InsecureRefused {
        host, purpose, url, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        (host.as_str(), *purpose),
        ("auth.example.com", "token realm")
    );
    assert_eq!(url, "http://auth.example.com/token");
    let stats = client.stats();
    assert_eq!(
        (stats.requests, stats.token_requests),
        (1, 0),
        "only the registry was asked"
    );
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
}
