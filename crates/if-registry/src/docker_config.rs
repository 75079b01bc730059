//! Credentials from a Docker-style `config.json` text (`{"auths": {"host": {"auth":
//! base64("user:password")}}}`). Parsing only: the caller reads the file.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

use crate::credentials::Credentials;
use crate::endpoint::{DOCKER_HUB, strip_scheme};

/// The environment variable naming the directory of Docker's `config.json`
/// (default `~/.docker`); read by the caller, not here.
pub const DOCKER_CONFIG_ENV: &str = "DOCKER_CONFIG";

/// What a `config.json` gives.
#[derive(Debug, Default)]
pub struct DockerConfig {
    /// Credentials per registry, keyed as references name registries (`docker.io`,
    /// `ghcr.io`, `localhost:5000`).
    pub credentials: BTreeMap<String, Credentials>,
    /// Entries that could not be used, and why (credential helpers, identity tokens).
    pub skipped: Vec<Skipped>,
}

/// An entry of `config.json` that gives no usable credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The registry (normalized), or `*` for the whole file (`credsStore`).
    pub registry: String,
    /// Why.
    pub reason: &'static str,
}

/// Why a `config.json` text cannot be read. Never quotes the file's content.
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
}

/// The registry a `config.json` key names, as references name it: the scheme and path of
/// old-style keys (`https://index.docker.io/v1/`) dropped, Docker Hub's hosts folded into
/// `docker.io`, lowercased.
pub fn registry_key(key: &str) -> String {
    let host = strip_scheme(key);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_owned()
        }
        _ => host,
    }
}

/// Reads the `auths` of a `config.json` text: `auth` (base64 `user:password`) or
/// `username` + `password` per registry.
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
    if root
        .get("credsStore")
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    {
        config.skipped.push(Skipped {
            registry: "*".to_owned(),
            reason: "`credsStore` (a credential helper) is not supported",
        });
    }
    if let Some(helpers) = root.get("credHelpers").and_then(|v| v.as_object()) {
        for key in helpers.keys() {
            config.skipped.push(Skipped {
                registry: registry_key(key),
                reason: "`credHelpers` (a credential helper) is not supported",
            });
        }
    }
    let Some(auths) = root.get("auths") else {
        return Ok(config);
    };
    let auths = auths
        .as_object()
        .ok_or_else(|| shape("`auths` is not an object"))?;
    for (key, entry) in auths {
        let registry = registry_key(key);
        let entry = entry
            .as_object()
            .ok_or_else(|| shape(&format!("the entry of {registry} is not an object")))?;
        let text = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let credentials = if let Some(auth) = text("auth") {
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
            None => config.skipped.push(Skipped {
                registry,
                reason: if text("identitytoken").is_some() {
                    "an `identitytoken` (OAuth refresh token) is not supported"
                } else {
                    "no `auth` and no `username`/`password`"
                },
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
        let skipped: Vec<_> = config.skipped.iter().map(|s| s.registry.as_str()).collect();
        assert_eq!(skipped, ["*", "gcr.io", "empty.example", "quay.io"]);
        assert!(!format!("{config:?}").contains("s3cr"));
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
    }
}
