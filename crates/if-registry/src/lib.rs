//! The registry client: resolves the digest a tag points to, and lists tags, over the OCI
//! distribution API, as cheaply as the API allows (one `HEAD` per tag).
//!
//! An I/O crate that makes no decisions: the caller says which images to look at and gets
//! back what the registries answered. It reads no files and no environment variables: the
//! caller reads the credentials files (`auth.json`, `config.json`: see
//! [`parse_docker_config`]) and any credentials from the environment and passes them in
//! [`Config`]. The one process it runs is a credential helper (`helper`), lazily: only for
//! a registry actually asked, once per helper and registry per client.
//!
//! * `manifest`: [`resolve_digest`] (`HEAD` with all four manifest types in `Accept`,
//!   `Docker-Content-Digest`, else `GET` and sha256 of the exact bytes);
//! * `tags`: [`list_tags`] (`Link` pagination, bounded, de-duplicated and sorted);
//! * `signature`: [`fetch_signatures`] (the cosign `sha256-<hex>.sig` manifest and its
//!   payload blobs, bounded; verifying is `if-state::cosign`'s);
//! * `attestation`: [`fetch_attestations`] (BuildKit's attestation manifests in an index
//!   and their in-toto predicate types: provenance, SBOM);
//! * `batch`: [`resolve_all`] (scoped threads, a work queue, results in input order);
//! * `session`: one authenticated request, and mirror-then-source fallback;
//! * `auth`: challenges, the token flow with a shared per-registry-and-scope cache, Basic;
//! * `flight`: the single-flight cache behind it; `http`: the retry loop;
//! * `endpoint`: API hosts, `http` only for loopback or insecure hosts, `Link`;
//! * `docker_config`: credentials files, most specific key first; `helper`: credential
//!   helpers; `ratelimit`: Docker Hub's headers, and the floor below which a host is no
//!   longer asked;
//! * `credentials`, `error`.
//!
//! [`Secret`], [`Retry`] and [`GaveUp`] are `if-http`'s, shared with the forge adapter.
//! Passwords and tokens never appear in any `Debug`, `Display` or error message.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

mod attestation;
mod auth;
mod batch;
pub mod child;
mod credentials;
mod docker_config;
mod endpoint;
mod error;
mod flight;
mod helper;
mod http;
mod manifest;
mod ratelimit;
mod session;
mod signature;
mod tags;

pub use attestation::{
    ATTESTATION_MANIFEST, Attestations, MAX_ATTESTATION_MANIFESTS, PREDICATE_TYPE_ANNOTATION,
    REFERENCE_DIGEST_ANNOTATION, REFERENCE_TYPE_ANNOTATION, fetch_attestations, is_provenance,
    is_sbom,
};
pub use batch::{DEFAULT_CONCURRENCY, map_bounded, resolve_all, resolve_all_with_progress};
pub use credentials::Credentials;
pub use docker_config::{
    DOCKER_CONFIG_ENV, DockerConfig, DockerConfigError, Found, IDENTITY_TOKEN_USER, Skipped,
    auth_key, parse_docker_config, registry_key,
};
pub use endpoint::{DOCKER_HUB, DOCKER_HUB_API, api_host, is_loopback};
pub use error::{RegistryError, Subject};
pub use helper::{HELPER_TIMEOUT, run_helper, server_url};
pub use if_http::{GaveUp, Retry, Secret};
pub use manifest::{
    DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, Resolved,
    resolve_digest,
};
pub use ratelimit::RateLimit;
pub use signature::{
    COSIGN_SIGNATURE_ANNOTATION, MAX_PAYLOAD_BYTES, MAX_SIGNATURE_LAYERS, SIMPLESIGNING_MEDIA_TYPE,
    SignatureLayer, Signatures, fetch_signatures, signature_tag,
};
pub use tags::{TagList, TagQuery, list_tags};

use if_model::reference::ImageRef;

/// A lock that survives a panic elsewhere (every change under these locks is one step).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a [`Client`] is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials per registry, keyed as references name it (`docker.io`, `ghcr.io`,
    /// `localhost:5000`), or by a mirror's `host[:port]`. Sent to that registry (Basic) or
    /// to the token realm it names, never elsewhere. They win over `auth_files`.
    pub credentials: BTreeMap<String, Credentials>,
    /// Credentials files, in lookup order: the first that has an entry (or a helper with
    /// credentials) for a repository gives them.
    pub auth_files: Vec<AuthFile>,
    /// How long a credential helper may take.
    pub helper_timeout: Duration,
    /// Stop asking a host once its `ratelimit-remaining` is at or below this percentage of
    /// its `ratelimit-limit` (or it answered 429): later requests to it fail with
    /// [`RegistryError::NotChecked`] without being sent. `None`: never stop.
    pub rate_limit_floor: Option<u8>,
    /// Registries (`host[:port]`) that may be spoken to over plain `http://`, and are.
    /// Loopback hosts always may.
    pub insecure: Vec<String>,
    /// A mirror per registry (`docker.io` → `mirror.gcr.io`, or `https://…`/`http://…`):
    /// asked first; on any failure the registry itself is asked.
    pub mirrors: BTreeMap<String, String>,
    /// The retry policy of every request.
    pub retry: Retry,
    /// The longest one request may take.
    pub timeout: Duration,
    /// The `User-Agent` of every request.
    pub user_agent: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            credentials: BTreeMap::new(),
            auth_files: Vec::new(),
            helper_timeout: HELPER_TIMEOUT,
            rate_limit_floor: None,
            insecure: Vec::new(),
            mirrors: BTreeMap::new(),
            retry: Retry::default(),
            timeout: if_http::REQUEST_TIMEOUT,
            user_agent: format!("image-factory/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One credentials file: where it is (for messages) and what it says.
#[derive(Debug, Clone)]
pub struct AuthFile {
    /// Its path, as shown to people.
    pub path: String,
    /// Its content.
    pub config: DockerConfig,
}

/// Requests a client has made since it was made.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Requests to registries and mirrors (retries included).
    pub requests: u64,
    /// Requests to token realms.
    pub token_requests: u64,
    /// Token requests per registry (as references name it), by registry.
    pub token_requests_by_registry: BTreeMap<String, u64>,
    /// Credential helper runs.
    pub helper_runs: u64,
    /// Hosts no longer asked because their rate limit ran low, with the last limit seen.
    pub stopped: BTreeMap<String, Option<RateLimit>>,
}

/// The repositories of one registry about to be asked, in the order told, and where the
/// next token request starts looking for scopes to join it.
#[derive(Default)]
struct Expected {
    repos: Vec<String>,
    known: HashSet<String>,
    /// How many repositories token requests have looked at so far, every pass counted
    /// (the next one looks from `cursor % repos.len()` on, wrapping): those before it were
    /// joined to a request or had a token already, so a run over many repositories looks
    /// at each about once instead of at every earlier one again for each request.
    cursor: u64,
}

/// Repositories copied out of [`Expected`] at once, so that the lock is not held while a
/// token request looks at them (it may run a credential helper).
const EXPECTED_WINDOW: usize = 256;

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    token_requests: AtomicU64,
    helper_runs: AtomicU64,
    token_by_registry: Mutex<BTreeMap<String, u64>>,
}

/// A registry client: configuration, one HTTP agent (connections are reused), and the auth
/// caches. Share one client across threads (`&Client` is `Sync`) to share its tokens.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    auth: auth::AuthState,
    counters: Counters,
    /// Per (helper, server URL): what the helper said, asked once.
    helpers: flight::Flights<(String, String), Result<Option<Credentials>, String>>,
    /// Repositories about to be asked, per registry: their scopes join a token request.
    expected: Mutex<BTreeMap<String, Expected>>,
    /// Hosts whose rate limit ran low.
    stopped: Mutex<BTreeMap<String, Option<RateLimit>>>,
}

impl Client {
    /// A client for this configuration.
    ///
    /// HTTP status codes are answers, not transport errors; redirects are not followed (a
    /// redirect could carry a token to another host); proxy environment variables are not
    /// read.
    pub fn new(config: Config) -> Self {
        Client {
            agent: if_http::agent(config.timeout, &config.user_agent),
            config,
            auth: auth::AuthState::new(),
            counters: Counters::default(),
            helpers: flight::Flights::new(),
            expected: Mutex::new(BTreeMap::new()),
            stopped: Mutex::new(BTreeMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Requests made so far by every call on this client.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            token_requests: self.counters.token_requests.load(Ordering::Relaxed),
            token_requests_by_registry: lock(&self.counters.token_by_registry).clone(),
            helper_runs: self.counters.helper_runs.load(Ordering::Relaxed),
            stopped: lock(&self.stopped).clone(),
        }
    }

    /// Says which images are about to be asked: when a token is needed for one of them,
    /// one token request asks for the scopes of the others on that registry too (those
    /// with the same credentials and no token yet).
    pub fn expect(&self, images: &[ImageRef]) {
        let mut expected = lock(&self.expected);
        for image in images {
            let repos = expected.entry(image.registry().to_owned()).or_default();
            if repos.known.insert(image.repository().to_owned()) {
                repos.repos.push(image.repository().to_owned());
            }
        }
    }

    /// Calls `go_on` on the repositories of `registry` said to be about to be asked, from
    /// where the last call stopped on (wrapping), each at most once, until it returns
    /// false; the next call starts after the last one it returned true for.
    fn each_expected(&self, registry: &str, mut go_on: impl FnMut(&str) -> bool) {
        let (start, total) = match lock(&self.expected).get(registry) {
            Some(e) => (e.cursor, e.repos.len()),
            None => return,
        };
        let mut seen = 0;
        'windows: while seen < total {
            let window: Vec<String> = match lock(&self.expected).get(registry) {
                Some(e) if !e.repos.is_empty() => (seen..total.min(seen + EXPECTED_WINDOW))
                    .filter_map(|i| {
                        let at = (start + i as u64) % e.repos.len() as u64;
                        e.repos.get(usize::try_from(at).ok()?).cloned()
                    })
                    .collect(),
                _ => break,
            };
            if window.is_empty() {
                break;
            }
            for repo in &window {
                if !go_on(repo) {
                    break 'windows;
                }
                seen += 1;
            }
        }
        if let Some(e) = lock(&self.expected).get_mut(registry) {
            e.cursor = e.cursor.max(start + seen as u64);
        }
    }

    /// The credentials for a repository: the configured ones of its registry (by name, else
    /// by API host), else the first credentials file that has some for it (running its
    /// helper, once per helper and server per client). `Err` says why a helper failed.
    fn credentials_for(
        &self,
        registry: &str,
        authority: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, String> {
        let credentials = &self.config.credentials;
        if let Some(c) = credentials
            .get(registry)
            .or_else(|| credentials.get(authority))
        {
            return Ok(Some(c.clone()));
        }
        for file in &self.config.auth_files {
            match file.config.find(registry, repository) {
                None => {}
                Some(Found::Entry(c)) => return Ok(Some(c.clone())),
                Some(Found::Helper(name)) => {
                    let key = (name.to_owned(), server_url(&registry_key(registry)));
                    let answer = match self.helpers.turn(&key, |_| true) {
                        flight::Turn::Ready(answer) => answer,
                        flight::Turn::Lead(lead) => {
                            self.counters.helper_runs.fetch_add(1, Ordering::Relaxed);
                            let answer = run_helper(name, &key.1, self.config.helper_timeout)
                                .map_err(|e| format!("{}: {e}", file.path));
                            lead.finish(answer.clone());
                            answer
                        }
                    };
                    if let Some(c) = answer? {
                        return Ok(Some(c));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Counts one token request for `registry`.
    fn count_token_request(&self, registry: &str) {
        *lock(&self.counters.token_by_registry)
            .entry(registry.to_owned())
            .or_default() += 1;
    }

    /// `text` with every known password (configured, from files, from helpers) replaced by
    /// `***`.
    fn scrub(&self, text: &str) -> String {
        let from_helpers: Vec<Credentials> = self
            .helpers
            .values()
            .into_iter()
            .filter_map(|answer| answer.ok().flatten())
            .collect();
        self.config
            .credentials
            .values()
            .chain(
                self.config
                    .auth_files
                    .iter()
                    .flat_map(|f| f.config.credentials.values()),
            )
            .chain(from_helpers.iter())
            .fold(text.to_owned(), |text, c| {
                let text = c.password.scrub(&text);
                c.basic_header().scrub(&text)
            })
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_debug_hides_passwords() {
        let mut config = Config::default();
        config
            .credentials
            .insert("ghcr.io".into(), Credentials::new("me", "ghp_hidden"));
        let debug = format!("{:?}", Client::new(config));
        assert!(!debug.contains("ghp_hidden"), "{debug}");
        assert!(debug.contains("ghcr.io") && debug.contains("me"), "{debug}");
    }

    #[test]
    fn credentials_by_registry_then_api_host() {
        let mut config = Config::default();
        config
            .credentials
            .insert("docker.io".into(), Credentials::new("hub", "x"));
        config
            .credentials
            .insert("r.example:5000".into(), Credentials::new("r", "y"));
        let client = Client::new(config);
        let hub = client.credentials_for("docker.io", "registry-1.docker.io", "library/x");
        assert_eq!(hub.unwrap().map(|c| c.username), Some("hub".to_owned()));
        assert!(
            client
                .credentials_for("ghcr.io", "ghcr.io", "a")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn configured_credentials_win_then_files_in_order_by_repository() {
        let file = |text: &str| AuthFile {
            path: "f".into(),
            config: parse_docker_config(text).unwrap(),
        };
        let mut config = Config {
            auth_files: vec![
                file(r#"{"auths": {"q.example/org/a": {"username": "a", "password": "1"}}}"#),
                file(r#"{"auths": {"q.example": {"username": "host", "password": "2"}}}"#),
            ],
            ..Config::default()
        };
        let client = Client::new(config.clone());
        let user = |c: &Client, repo: &str| {
            c.credentials_for("q.example", "q.example", repo)
                .unwrap()
                .map(|c| c.username)
        };
        assert_eq!(user(&client, "org/a").as_deref(), Some("a"));
        assert_eq!(user(&client, "org/b").as_deref(), Some("host"));
        config
            .credentials
            .insert("q.example".into(), Credentials::new("env", "3"));
        assert_eq!(user(&Client::new(config), "org/a").as_deref(), Some("env"));
        // A helper that is not installed: an error naming the file and the helper.
        let client = Client::new(Config {
            auth_files: vec![file(r#"{"credsStore": "if-test-missing"}"#)],
            ..Config::default()
        });
        let err = client
            .credentials_for("q.example", "q.example", "x")
            .unwrap_err();
        assert_eq!(
            err,
            "f: helper docker-credential-if-test-missing is not on PATH"
        );
        // Asked once per helper and server.
        let _ = client.credentials_for("q.example", "q.example", "y");
        assert_eq!(client.stats().helper_runs, 1);
    }

    #[test]
    fn expected_repositories_are_kept_once_and_looked_at_from_where_the_last_look_stopped() {
        let client = Client::new(Config::default());
        let refs: Vec<ImageRef> = ["r.example/a", "r.example/b", "r.example/a", "r.example/c"]
            .iter()
            .map(|r| ImageRef::parse(r).unwrap())
            .collect();
        client.expect(&refs);
        client.expect(&refs[1..2]);
        let look = |stop_after: usize| {
            let mut seen = Vec::new();
            client.each_expected("r.example", |repo| {
                if seen.len() == stop_after {
                    return false;
                }
                seen.push(repo.to_owned());
                true
            });
            seen
        };
        // Told once each, in the order told.
        assert_eq!(look(usize::MAX), ["a", "b", "c"]);
        // A full look went round once: the next starts where it began.
        assert_eq!(look(1), ["a"]);
        // It starts after the last one taken, and wraps.
        assert_eq!(look(usize::MAX), ["b", "c", "a"]);
        assert_eq!(look(0), Vec::<String>::new());
        assert_eq!(look(2), ["b", "c"]);
        let mut none = 0;
        client.each_expected("other.example", |_| {
            none += 1;
            true
        });
        assert_eq!(none, 0);
    }

    #[test]
    fn scrub_hides_passwords_and_their_basic_form() {
        let mut config = Config::default();
        config
            .credentials
            .insert("r".into(), Credentials::new("u", "pw123"));
        let client = Client::new(config);
        let basic = Credentials::new("u", "pw123").basic_header();
        let text = format!("pw123 {}", basic.expose());
        assert_eq!(client.scrub(&text), "*** ***");
    }
}
