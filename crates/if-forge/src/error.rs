//! `ForgeError`: every way a forge call fails, with the provider, URL, status and attempts.
//!
//! No variant holds a token: URLs never carry one, and every message taken from a response
//! or a transport error is scrubbed of the token before it is stored here.

use if_http::GaveUp;
use if_model::enrollment::Provider;

/// A failed forge call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgeError {
    /// The provider's token was not given (or is blank); no request was made.
    #[error("no {provider} token: set the {env} environment variable")]
    MissingToken {
        /// The provider that needs the token.
        provider: Provider,
        /// The environment variable the caller reads it from.
        env: &'static str,
    },
    /// A GitHub source has no `workflow`; no request was made.
    #[error("GitHub source {repo} has no `workflow` to dispatch")]
    MissingWorkflow {
        /// The source repository (`owner/repo`).
        repo: String,
    },
    /// More workflow inputs than GitHub accepts; no request was made.
    #[error("{count} workflow inputs given, but GitHub accepts at most {max}")]
    TooManyInputs {
        /// How many inputs were given.
        count: usize,
        /// GitHub's limit.
        max: usize,
    },
    /// The provider refused the request with a status a retry cannot change (4xx other
    /// than 429, or an unexpected status).
    #[error("{provider} rejected POST {url}: HTTP {status}: {message}")]
    Rejected {
        /// The provider.
        provider: Provider,
        /// The HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// The provider's own message (or the start of the body).
        message: String,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// The provider kept answering 429 or 5xx until the retries ran out.
    #[error(
        "{provider} still answered HTTP {status} to POST {url} after {attempts} attempt(s) \
         ({gave_up}): {message}"
    )]
    Unavailable {
        /// The provider.
        provider: Provider,
        /// The last HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// The provider's last message (or the start of the body).
        message: String,
        /// Requests made.
        attempts: u32,
        /// Why the retries stopped.
        gave_up: GaveUp,
    },
    /// No HTTP answer at all (connection refused, DNS, TLS, timeout) until the retries ran
    /// out, or a transport failure that a retry cannot fix.
    #[error("cannot reach {provider} at {url} after {attempts} attempt(s) ({gave_up}): {message}")]
    Connection {
        /// The provider.
        provider: Provider,
        /// The request URL.
        url: String,
        /// The last transport error.
        message: String,
        /// Requests tried.
        attempts: u32,
        /// Why the retries stopped.
        gave_up: GaveUp,
    },
    /// A success status with a body that does not say what it should (GitLab without `id`).
    #[error("{provider} answered HTTP {status} to POST {url} with an unexpected body: {message}")]
    InvalidResponse {
        /// The provider.
        provider: Provider,
        /// The HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// What is wrong, with the start of the body.
        message: String,
        /// Requests made, this one included.
        attempts: u32,
    },
}

impl ForgeError {
    /// The HTTP status the provider answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ForgeError::Rejected { status, .. }
            | ForgeError::Unavailable { status, .. }
            | ForgeError::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How many requests were made (0 when the call failed before any).
    pub fn attempts(&self) -> u32 {
        match self {
            ForgeError::Rejected { attempts, .. }
            | ForgeError::Unavailable { attempts, .. }
            | ForgeError::Connection { attempts, .. }
            | ForgeError::InvalidResponse { attempts, .. } => *attempts,
            _ => 0,
        }
    }
}
