//! The registry client: resolves the digest a tag points to, and lists tags, over the OCI
//! distribution API, as cheaply as the API allows (one `HEAD` per tag).
//!
//! An I/O crate that makes no decisions: the caller says which images to look at and gets
//! back what the registries answered. It reads no files and no environment variables: the
//! caller reads Docker's `config.json` (see [`parse_docker_config`]) and any credentials
//! from the environment and passes them in [`Config`].
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
//! * `ratelimit`, `docker_config`, `credentials`, `error`.
//!
//! [`Secret`], [`Retry`] and [`GaveUp`] are `if-http`'s, shared with the forge adapter.
//! Passwords and tokens never appear in any `Debug`, `Display` or error message.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod attestation;
mod auth;
mod batch;
mod credentials;
mod docker_config;
mod endpoint;
mod error;
mod flight;
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
pub use batch::{DEFAULT_CONCURRENCY, resolve_all, resolve_all_with_progress};
pub use credentials::Credentials;
pub use docker_config::{
    DOCKER_CONFIG_ENV, DockerConfig, DockerConfigError, Skipped, parse_docker_config, registry_key,
};
pub use endpoint::{DOCKER_HUB, DOCKER_HUB_API, api_host, is_loopback};
pub use error::{RegistryError, Subject};
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

/// Everything a [`Client`] is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials per registry, keyed as references name it (`docker.io`, `ghcr.io`,
    /// `localhost:5000`), or by a mirror's `host[:port]`. Sent to that registry (Basic) or
    /// to the token realm it names, never elsewhere.
    pub credentials: BTreeMap<String, Credentials>,
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
            insecure: Vec::new(),
            mirrors: BTreeMap::new(),
            retry: Retry::default(),
            timeout: if_http::REQUEST_TIMEOUT,
            user_agent: format!("image-factory/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Requests a client has made since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Requests to registries and mirrors (retries included).
    pub requests: u64,
    /// Requests to token realms.
    pub token_requests: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    token_requests: AtomicU64,
}

/// A registry client: configuration, one HTTP agent (connections are reused), and the auth
/// caches. Share one client across threads (`&Client` is `Sync`) to share its tokens.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    auth: auth::AuthState,
    counters: Counters,
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
        }
    }

    /// The credentials for a registry: by its name, else by its API host.
    fn credentials_for(&self, registry: &str, authority: &str) -> Option<&Credentials> {
        let credentials = &self.config.credentials;
        credentials
            .get(registry)
            .or_else(|| credentials.get(authority))
    }

    /// `text` with every configured password replaced by `***`.
    fn scrub(&self, text: &str) -> String {
        self.config
            .credentials
            .values()
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
        let hub = client.credentials_for("docker.io", "registry-1.docker.io");
        assert_eq!(hub.map(|c| c.username.as_str()), Some("hub"));
        assert!(client.credentials_for("ghcr.io", "ghcr.io").is_none());
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
