//! The loopback registry of `cargo xtask bench check` and of `bench scale`'s `check
//! --dry-run`: Debian's `docker-registry` on 127.0.0.1 (started by `if-testkit`), anonymous
//! or behind a local token server; pushing to it in parallel; the credentials `image-factory
//! check` is given for it; and the figures of check's JSON report.

use std::path::Path;

use if_testkit::registry::push::Pusher;
use if_testkit::registry::token::{ISSUER, SERVICE, TokenPolicy, TokenServer};
use if_testkit::registry::{Registry, RegistryAuth};

/// The user `check` logs in as (the token server grants anyone pull).
const USER: &str = "bench";
const PASSWORD: &str = "bench-password";
/// Pushing threads.
const PUSH_THREADS: usize = 8;
/// Pushes made with one push token (its scopes are their repositories).
const PUSH_GROUP: usize = 50;

/// A running registry, and its token server when it asks for Bearer tokens.
pub struct Loopback {
    /// The registry (killed on drop).
    pub registry: Registry,
    /// The token server, when the registry asks for tokens.
    pub tokens: Option<TokenServer>,
}

impl Loopback {
    /// Starts a registry, behind a token server (its key and certificate in `dir`) when
    /// `bearer`; `None` (with the reason printed) when `docker-registry` is not installed.
    pub fn start(dir: &Path, bearer: bool) -> Option<Loopback> {
        let tokens = bearer.then(|| {
            TokenServer::start(
                dir,
                TokenPolicy {
                    require: None,
                    expires_in: 3600,
                },
            )
        });
        let auth = match &tokens {
            None => RegistryAuth::None,
            Some(t) => RegistryAuth::Token {
                realm: t.realm(),
                service: SERVICE.to_string(),
                issuer: ISSUER.to_string(),
                rootcertbundle: t.cert_path.clone(),
            },
        };
        let Some(registry) = Registry::start(auth) else {
            println!(
                "  skipped: docker-registry is not installed (apt-get install docker-registry)"
            );
            return None;
        };
        Some(Loopback { registry, tokens })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.registry.addr
    }

    /// `bearer` or `anonymous`.
    pub fn label(&self) -> &'static str {
        if self.tokens.is_some() {
            "bearer"
        } else {
            "anonymous"
        }
    }

    /// The environment that gives `image-factory check` credentials for this registry
    /// (none for an anonymous one).
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        if self.tokens.is_none() {
            return Vec::new();
        }
        vec![
            ("IMAGE_FACTORY_REGISTRY_HOST", self.addr().to_string()),
            ("IMAGE_FACTORY_REGISTRY_USERNAME", USER.to_string()),
            ("IMAGE_FACTORY_REGISTRY_PASSWORD", PASSWORD.to_string()),
        ]
    }

    /// Calls `push(pusher, repository, tag)` for every pair, [`PUSH_THREADS`] at a time,
    /// each with a pusher allowed to push to that repository (behind tokens: one push token
    /// per [`PUSH_GROUP`] pairs, whose scopes are their repositories).
    pub fn push_each(&self, pairs: &[(&str, String)], push: impl Fn(&Pusher, &str, &str) + Sync) {
        let chunk = pairs.len().div_ceil(PUSH_THREADS).max(1);
        let push = &push;
        std::thread::scope(|scope| {
            for part in pairs.chunks(chunk) {
                scope.spawn(move || {
                    for group in part.chunks(PUSH_GROUP) {
                        let auth = self.tokens.as_ref().map(|t| {
                            let mut names: Vec<&str> = group.iter().map(|(r, _)| *r).collect();
                            names.sort_unstable();
                            names.dedup();
                            t.signer.push_auth(&names)
                        });
                        let pusher = Pusher::new(self.addr(), auth);
                        for (repo, tag) in group {
                            push(&pusher, repo, tag);
                        }
                    }
                });
            }
        });
    }
}

/// The figures of one `image-factory --format json check` run, from its report.
#[derive(Debug, Clone)]
pub struct CheckRun {
    /// Wall time, seconds.
    pub secs: f64,
    /// Images looked up.
    pub checked: u64,
    /// Lookups that failed.
    pub failed: u64,
    /// Images found with a new digest.
    pub updated: u64,
    /// HTTP requests to registries (token requests included).
    pub requests: u64,
    /// Token requests.
    pub token_requests: u64,
    /// Token requests per registry, as the report says them (`host N, ...`).
    pub per_registry: String,
    /// Files written.
    pub written: usize,
}

impl CheckRun {
    /// The figures of the JSON report `stdout`, for a run that took `secs`.
    pub fn parse(stdout: &[u8], secs: f64) -> Result<CheckRun, String> {
        let report: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| format!("check printed no JSON report: {e}"))?;
        let s = &report["summary"];
        let n = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
        Ok(CheckRun {
            secs,
            checked: n("checked"),
            failed: n("failed"),
            updated: n("updated"),
            requests: n("requests"),
            token_requests: n("tokenRequests"),
            per_registry: s["tokenRequestsByRegistry"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(r, n)| format!("{r} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            written: report["written"].as_array().map_or(usize::MAX, Vec::len),
        })
    }

    /// Requests per image checked.
    pub fn per_image(&self) -> f64 {
        self.requests as f64 / self.checked.max(1) as f64
    }
}
