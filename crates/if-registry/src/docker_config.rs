//! Credentials files: Docker's `config.json` and containers' `auth.json` (one format:
//! `{"auths": {KEY: {"auth": base64("user:password")}}, "credHelpers": {..}, "credsStore":
//! ".."}`). Parsing and lookup only: the caller reads the files, [`crate::helper`] runs the
//! helpers.
//!
//! A key is a registry (`quay.io`) or, as containers-auth.json(5) allows, a namespace
//! (`quay.io/org`) or repository (`quay.io/org/app`); the most specific key that matches a
//! repository wins. A key with a scheme (`https://index.docker.io/v1/`, Docker's legacy
//! form) names its host only. Docker Hub's hosts are one registry, `docker.io`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use crate::credentials::Credentials;
use crate::endpoint::{DOCKER_HUB, strip_scheme};

/// The environment variable naming the directory of Docker's `config.json`
/// (default `~/.docker`); read by the caller, not here.
pub const DOCKER_CONFIG_ENV: &str = "DOCKER_CONFIG";

/// What one credentials file gives.
#[derive(Debug, Default, Clone)]
pub struct DockerConfig {
    /// Credentials per key (`docker.io`, `quay.io/org`, `localhost:5000/a/b`), normalized by
    /// [`auth_key`]. An `identitytoken` entry is a [`Credentials`] with the user
    /// [`IDENTITY_TOKEN_USER`].
    pub credentials: BTreeMap<String, Credentials>,
    /// `credHelpers`: the helper (`docker-credential-<name>`) per registry.
    pub helpers: BTreeMap<String, String>,
    /// `credsStore`: the helper for every registry without a `credHelpers` entry or an
    /// `auths` entry with credentials.
    pub store: Option<String>,
    /// Entries that give nothing, and why.
    pub skipped: Vec<Skipped>,
}

/// The user name that marks a password as an OAuth2 refresh token (an `identitytoken`), as
/// credential helpers say it (`{"Username": "<token>", "Secret": ..}`).
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// Where a file says a repository's credentials are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    /// In the file.
    Entry(&'a Credentials),
    /// With this credential helper (`credHelpers` or `credsStore`).
    Helper(&'a str),
}

/// An entry of a credentials file that gives no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The key (normalized).
    pub registry: String,
    /// Why.
    pub reason: &'static str,
}

/// Why a credentials file text cannot be read. Never quotes the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerConfigError {
    /// Not JSON.
    #[error("not valid JSON (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// JSON, but not the expected shape.
    #[error("unexpected shape: {problem}")]
    Shape {
        /// What is wrong.
        problem: String,
    },
    /// An `auth` value that is not base64 of `user:password`.
    #[error("the `auth` of {registry} is not base64 of `user:password`")]
    BadAuth {
        /// The registry whose entry is bad.
        registry: String,
    },
    /// A helper name that is not a plain name (it becomes part of a program name).
    #[error(
        "the credential helper name of {registry} is not a plain name (letters, digits, `.`, `_`, `-`)"
    )]
    BadHelper {
        /// The registry whose entry is bad.
        registry: String,
    },
}

/// The registry a key names, as references name it: the scheme and path of old-style keys
/// (`https://index.docker.io/v1/`) dropped, Docker Hub's hosts folded into `docker.io`,
/// lowercased.
pub fn registry_key(key: &str) -> String {
    let host = strip_scheme(key);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    fold_docker_hub(host)
}

fn fold_docker_hub(host: String) -> String {
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

/// A key of `auths` normalized: with a scheme, its host only (Docker's legacy URL keys);
/// else `registry[/namespace[/repo]]` with the registry as [`registry_key`] says.
pub fn auth_key(key: &str) -> String {
    let trimmed = key.trim();
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        return registry_key(trimmed);
    }
    let trimmed = trimmed.trim_end_matches('/');
    match trimmed.split_once('/') {
        Some((host, path)) => format!("{}/{path}", registry_key(host)),
        None => registry_key(trimmed),
    }
}

impl DockerConfig {
    /// Where this file says `registry`'s `repository` has its credentials: the registry's
    /// `credHelpers` entry; else the most specific `auths` key (`registry/a/b`, then
    /// `registry/a`, then `registry`); else `credsStore`.
    pub fn find(&self, registry: &str, repository: &str) -> Option<Found<'_>> {
        let registry = registry_key(registry);
        if let Some(helper) = self.helpers.get(&registry) {
            return Some(Found::Helper(helper));
        }
        let mut key = format!("{registry}/{repository}");
        loop {
            if let Some(c) = self.credentials.get(&key) {
                return Some(Found::Entry(c));
            }
            match key.rsplit_once('/') {
                Some((shorter, _)) => key = shorter.to_owned(),
                None => break,
            }
        }
        self.store.as_deref().map(Found::Helper)
    }
}

/// A helper name is `docker-credential-<name>`'s suffix: a plain name only.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.')
}

/// Reads a credentials file text: `auths` (`auth`, `username` + `password`, or
/// `identitytoken`), `credHelpers` and `credsStore`.
pub fn parse_docker_config(text: &str) -> Result<DockerConfig, DockerConfigError> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DockerConfigError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
    let shape = |problem: &str| DockerConfigError::Shape {
        problem: problem.to_owned(),
    };
    let root = json
        .as_object()
        .ok_or_else(|| shape("the file is not a JSON object"))?;
    let mut config = DockerConfig::default();
    if let Some(store) = root
        .get("credsStore")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        if !plain_name(store) {
            return Err(DockerConfigError::BadHelper {
                registry: "credsStore".to_owned(),
            });
        }
        config.store = Some(store.to_owned());
    }
    if let Some(helpers) = root.get("credHelpers") {
        let helpers = helpers
            .as_object()
            .ok_or_else(|| shape("`credHelpers` is not an object"))?;
        for (key, name) in helpers {
            let registry = registry_key(key);
            match name.as_str() {
                Some(name) if plain_name(name) => {
                    config.helpers.insert(registry, name.to_owned());
                }
                _ => return Err(DockerConfigError::BadHelper { registry }),
            }
        }
    }
    let Some(auths) = root.get("auths") else {
        return Ok(config);
    };
    let auths = auths
        .as_object()
        .ok_or_else(|| shape("`auths` is not an object"))?;
    for (key, entry) in auths {
        let registry = auth_key(key);
        let entry = entry
            .as_object()
            .ok_or_else(|| shape(&format!("the entry of {registry} is not an object")))?;
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let credentials = if let Some(token) = text("identitytoken") {
            Some(Credentials::new(IDENTITY_TOKEN_USER, token))
        } else if let Some(auth) = text("auth") {
            Some(decode_auth(auth).ok_or_else(|| DockerConfigError::BadAuth {
                registry: registry.clone(),
            })?)
        } else if let (Some(user), Some(password)) = (text("username"), text("password")) {
            Some(Credentials::new(user, password))
        } else {
            None
        };
        match credentials {
            Some(credentials) => {
                config.credentials.insert(registry, credentials);
            }
            // With a `credsStore`, Docker leaves empty entries behind: the store has them.
            None if config.store.is_some() => {}
            None => config.skipped.push(Skipped {
                registry,
                reason: "no `auth`, `username`/`password` or `identitytoken`",
            }),
        }
    }
    Ok(config)
}

/// `base64("user:password")` (padded or not) to credentials.
fn decode_auth(auth: &str) -> Option<Credentials> {
    let auth = auth.trim();
    let bytes = STANDARD
        .decode(auth)
        .or_else(|_| STANDARD_NO_PAD.decode(auth))
        .ok()?;
    let pair = String::from_utf8(bytes).ok()?;
    let (user, password) = pair.split_once(':')?;
    (!user.is_empty()).then(|| Credentials::new(user, password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn auths_with_base64_and_plain_fields() {
        // base64("alice:s3cr:et") and base64("bob:pw") without padding.
        let text = r#"{
            "auths": {
                "https://index.docker.io/v1/": {"auth": "YWxpY2U6czNjcjpldA=="},
                "GHCR.io": {"username": "carol", "password": "tok"},
                "localhost:5000": {"auth": "Ym9iOnB3"},
                "quay.io": {"auth": "", "identitytoken": "xyz"},
                "empty.example": {}
            },
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud"}
        }"#;
        let config = parse_docker_config(text).unwrap();
        let hub = &config.credentials["docker.io"];
        assert_eq!(hub.username, "alice");
        assert_eq!(hub.password, Secret::new("s3cr:et".into()));
        assert_eq!(config.credentials["ghcr.io"].username, "carol");
        assert_eq!(
            config.credentials["localhost:5000"].password,
            Secret::new("pw".into())
        );
        assert!(config.skipped.is_empty(), "{:?}", config.skipped);
        assert_eq!(config.credentials["quay.io"].username, IDENTITY_TOKEN_USER);
        assert_eq!(config.store.as_deref(), Some("desktop"));
        assert_eq!(config.helpers["gcr.io"], "gcloud");
        assert!(!format!("{config:?}").contains("s3cr"));
        let bare = parse_docker_config(r#"{"auths": {"empty.example": {}}}"#).unwrap();
        assert_eq!(bare.skipped[0].registry, "empty.example");
    }

    /// containers-auth.json(5): "Each entry contains a single hostname (e.g., docker.io) or
    /// a namespace (e.g., quay.io/user/image) as a key"; the most specific matching key
    /// wins, `credHelpers` of the registry before `auths`, and (Docker's config.json)
    /// `credsStore` for the rest.
    #[test]
    fn the_most_specific_key_wins_then_helpers_and_the_store() {
        let text = r#"{
            "auths": {
                "quay.io": {"username": "host", "password": "h"},
                "quay.io/org": {"username": "org", "password": "o"},
                "quay.io/org/app/": {"username": "app", "password": "a"},
                "https://index.docker.io/v1/": {"username": "hub", "password": "d"}
            },
            "credHelpers": {"registry-1.docker.io": "hubhelper"}
        }"#;
        let config = parse_docker_config(text).unwrap();
        let user = |reg: &str, repo: &str| match config.find(reg, repo) {
            Some(Found::Entry(c)) => c.username.clone(),
            Some(Found::Helper(h)) => format!("helper {h}"),
            None => "none".to_owned(),
        };
        assert_eq!(user("quay.io", "org/app"), "app");
        assert_eq!(user("quay.io", "org/app2"), "org");
        assert_eq!(user("quay.io", "org/app/sub"), "app");
        assert_eq!(user("quay.io", "other/x"), "host");
        assert_eq!(user("QUAY.io", "orgx/y"), "host");
        // `credHelpers` of docker.io, keyed by another of Docker Hub's names, wins.
        assert_eq!(user("docker.io", "library/node"), "helper hubhelper");
        assert_eq!(user("ghcr.io", "a/b"), "none");
        let store = parse_docker_config(
            r#"{"credsStore": "pass", "auths": {"r.example": {"auth": "dTpw"}, "s.example": {}}}"#,
        )
        .unwrap();
        assert!(matches!(
            store.find("r.example", "x"),
            Some(Found::Entry(_))
        ));
        assert_eq!(store.find("s.example", "x"), Some(Found::Helper("pass")));
        assert!(store.skipped.is_empty());
    }

    #[test]
    fn helper_names_are_plain_names() {
        for bad in [
            r#"{"credsStore": "../../bin/sh"}"#,
            r#"{"credHelpers": {"r": "a b"}}"#,
            r#"{"credHelpers": {"r": 3}}"#,
        ] {
            assert!(
                matches!(
                    parse_docker_config(bad),
                    Err(DockerConfigError::BadHelper { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_never_quote_the_file() {
        let err =
            parse_docker_config(r#"{"auths": {"r.example": {"auth": "!!secret!!"}}}"#).unwrap_err();
        assert_eq!(
            err,
            DockerConfigError::BadAuth {
                registry: "r.example".into()
            }
        );
        assert!(!err.to_string().contains("secret"));
        let err = parse_docker_config("{\"auths\": secret").unwrap_err();
        assert!(matches!(err, DockerConfigError::NotJson { line: 1, .. }));
        assert!(!err.to_string().contains("secret"));
        assert!(matches!(
            parse_docker_config("[]"),
            Err(DockerConfigError::Shape { .. })
        ));
        // base64("nocolon")
        assert!(parse_docker_config(r#"{"auths": {"r": {"auth": "bm9jb2xvbg=="}}}"#).is_err());
        assert!(parse_docker_config("{}").unwrap().credentials.is_empty());
    }

    #[test]
    fn registry_keys_are_normalized() {
        assert_eq!(registry_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_key("registry-1.docker.io"), "docker.io");
        assert_eq!(registry_key("http://localhost:5000"), "localhost:5000");
        assert_eq!(registry_key("ghcr.io"), "ghcr.io");
        assert_eq!(registry_key("index.docker.io"), "docker.io");
        assert_eq!(auth_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(auth_key("Quay.IO/Org/App/"), "quay.io/Org/App");
        assert_eq!(
            auth_key("registry-1.docker.io/library"),
            "docker.io/library"
        );
        assert_eq!(auth_key("http://localhost:5000/v2/"), "localhost:5000");
    }
}
