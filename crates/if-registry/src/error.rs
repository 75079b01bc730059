//! `RegistryError`: every way a registry call fails, naming the registry, repository and
//! reference ([`Subject`]), the host that answered, and what it said.
//!
//! No variant holds a secret: URLs never carry one, and every message taken from a response
//! or a transport error is scrubbed of every password and token before it is stored here.

use std::fmt;
use std::time::Duration;

use if_http::GaveUp;

use crate::ratelimit::RateLimit;

/// What a call was about: the image's registry and repository, and the tag or digest asked
/// for (none for a tag listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The registry as the reference names it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path (`library/node`).
    pub repository: String,
    /// The tag or digest asked for; `None` for a tag listing.
    pub reference: Option<String>,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match &self.reference {
            // A tag never contains `:`; a digest always does.
            Some(digest) if digest.contains(':') => write!(f, "@{digest}"),
            Some(tag) => write!(f, ":{tag}"),
            None => Ok(()),
        }
    }
}

/// A failed registry call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry does not know the tag, digest or repository (HTTP 404).
    #[error("{subject}: not found on {host}: {message}")]
    NotFound {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that answered (the API host, or a mirror).
        host: String,
        /// The registry's error code (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`), when it gave one.
        code: Option<String>,
        /// The registry's message, or `HTTP 404`.
        message: String,
    },
    /// The registry (or its token service) refused access: HTTP 401 or 403, with the
    /// configured credentials or without any.
    #[error(
        "{subject}: {host} refused access (HTTP {status}, {}): {message}",
        if *with_credentials { "with the configured credentials" } else { "no credentials configured" }
    )]
    Unauthorized {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that refused (the registry, a mirror, or the token realm's host).
        host: String,
        /// 401 or 403.
        status: u16,
        /// Whether credentials were configured (and sent) for this registry.
        with_credentials: bool,
        /// The registry's message or challenge error.
        message: String,
    },
    /// The registry kept answering 429 until the retries ran out.
    #[error("{subject}: {host} is rate limiting (HTTP 429) after {attempts} attempt(s) ({gave_up}){}",
        rate_limit.map(|r| format!("; {r}")).unwrap_or_default())]
    RateLimited {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that answered.
        host: String,
        /// The limit and remaining requests, when the registry said.
        rate_limit: Option<RateLimit>,
        /// The last `Retry-After`, when given in seconds.
        retry_after: Option<Duration>,
        /// Requests made.
        attempts: u32,
        /// Why the retries stopped.
        gave_up: GaveUp,
    },
    /// The registry kept answering 5xx until the retries ran out.
    #[error(
        "{subject}: {host} still answered HTTP {status} to {url} after {attempts} attempt(s) ({gave_up}): {message}"
    )]
    Unavailable {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that answered.
        host: String,
        /// The request URL.
        url: String,
        /// The last HTTP status.
        status: u16,
        /// The registry's last message (or the start of the body).
        message: String,
        /// Requests made.
        attempts: u32,
        /// Why the retries stopped.
        gave_up: GaveUp,
    },
    /// No HTTP answer at all (connection refused, DNS, TLS, timeout) until the retries ran
    /// out, or a transport failure that a retry cannot fix.
    #[error(
        "{subject}: cannot reach {host} at {url} after {attempts} attempt(s) ({gave_up}): {message}"
    )]
    Connection {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that did not answer.
        host: String,
        /// The request URL.
        url: String,
        /// The last transport error.
        message: String,
        /// Requests tried.
        attempts: u32,
        /// Why the retries stopped.
        gave_up: GaveUp,
    },
    /// An answer that does not follow the distribution API: an unexpected status, a bad
    /// `Docker-Content-Digest`, a token response without a token, a bad `Link`.
    #[error("{subject}: unexpected answer from {host} (HTTP {status}) to {url}: {message}")]
    InvalidResponse {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that answered.
        host: String,
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What is wrong.
        message: String,
    },
    /// A plain-`http://` URL for a host that is neither loopback nor listed as insecure (a
    /// token realm, a mirror); refused before any request to it.
    #[error(
        "{subject}: refusing plain HTTP to {host} ({purpose} {url}): not loopback and not listed as insecure"
    )]
    InsecureRefused {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host that would have been contacted.
        host: String,
        /// The refused URL.
        url: String,
        /// What the URL was for: `token realm`, `mirror`, `registry`.
        purpose: &'static str,
    },
    /// The credentials could not be had: a credential helper failed, timed out or is not
    /// installed. Never quotes what the helper printed.
    #[error("{subject}: no credentials for {host}: {message}")]
    Credentials {
        /// What was asked for.
        subject: Box<Subject>,
        /// The registry whose credentials were looked up.
        host: String,
        /// What went wrong (`helper docker-credential-x failed (exit 1)`).
        message: String,
    },
    /// Not asked: the host's rate limit ran low earlier in this run (or it answered 429),
    /// and no more requests are sent to it.
    #[error("{subject}: not checked: rate limit low on {host}{}; not asked again in this run",
        rate_limit.map(|r| format!(" ({r})")).unwrap_or_else(|| " (after a 429 answer to another request)".to_owned()))]
    NotChecked {
        /// What was asked for.
        subject: Box<Subject>,
        /// The host no longer asked.
        host: String,
        /// The last limit it reported.
        rate_limit: Option<RateLimit>,
    },
}

impl RegistryError {
    /// What the failed call was about.
    pub fn subject(&self) -> &Subject {
        match self {
            RegistryError::NotFound { subject, .. }
            | RegistryError::Unauthorized { subject, .. }
            | RegistryError::RateLimited { subject, .. }
            | RegistryError::Unavailable { subject, .. }
            | RegistryError::Connection { subject, .. }
            | RegistryError::InvalidResponse { subject, .. }
            | RegistryError::InsecureRefused { subject, .. }
            | RegistryError::Credentials { subject, .. }
            | RegistryError::NotChecked { subject, .. } => subject,
        }
    }

    /// The host the error came from (or would have).
    pub fn host(&self) -> &str {
        match self {
            RegistryError::NotFound { host, .. }
            | RegistryError::Unauthorized { host, .. }
            | RegistryError::RateLimited { host, .. }
            | RegistryError::Unavailable { host, .. }
            | RegistryError::Connection { host, .. }
            | RegistryError::InvalidResponse { host, .. }
            | RegistryError::InsecureRefused { host, .. }
            | RegistryError::Credentials { host, .. }
            | RegistryError::NotChecked { host, .. } => host,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(reference: Option<&str>) -> Subject {
        Subject {
            registry: "docker.io".into(),
            repository: "library/node".into(),
            reference: reference.map(str::to_owned),
        }
    }

    #[test]
    fn subject_displays_tag_digest_or_repository() {
        assert_eq!(subject(Some("22")).to_string(), "docker.io/library/node:22");
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            subject(Some(&digest)).to_string(),
            format!("docker.io/library/node@{digest}")
        );
        assert_eq!(subject(None).to_string(), "docker.io/library/node");
    }

    #[test]
    fn messages_name_registry_repository_and_reference() {
        let err = RegistryError::NotFound {
            subject: Box::new(subject(Some("nope"))),
            host: "registry-1.docker.io".into(),
            code: Some("MANIFEST_UNKNOWN".into()),
            message: "MANIFEST_UNKNOWN: manifest unknown".into(),
        };
        assert_eq!(
            err.to_string(),
            "docker.io/library/node:nope: not found on registry-1.docker.io: \
             MANIFEST_UNKNOWN: manifest unknown"
        );
        let err = RegistryError::Unauthorized {
            subject: Box::new(subject(Some("22"))),
            host: "auth.docker.io".into(),
            status: 401,
            with_credentials: true,
            message: "incorrect username or password".into(),
        };
        assert!(err.to_string().contains("with the configured credentials"));
        assert_eq!(err.host(), "auth.docker.io");
    }
}
