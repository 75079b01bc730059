//! `ForgeError`: every way a forge call fails, with the provider, URL, status and attempts
//! (and, for a file, the repository, branch and path).
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
    /// The GitHub App's private key cannot sign a JWT (never holds the key).
    #[error("the GitHub App's private key cannot sign: {problem}")]
    AppKey {
        /// What went wrong.
        problem: String,
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
    #[error("{provider} rejected {method} {url}: HTTP {status}: {message}")]
    Rejected {
        /// The provider.
        provider: Provider,
        /// The request method (`GET`, `POST`).
        method: &'static str,
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
        "{provider} still answered HTTP {status} to {method} {url} after {attempts} attempt(s) \
         ({gave_up}): {message}"
    )]
    Unavailable {
        /// The provider.
        provider: Provider,
        /// The request method (`GET`, `POST`).
        method: &'static str,
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
    /// A POST (a dispatch, a new pipeline) failed after its connection was made (a timeout
    /// while sending or waiting for the answer, the connection closed without an answer):
    /// the provider may have started the build, so the request is not sent again.
    #[error(
        "no answer to {method} {url}, which may have reached {provider}; not sent again \
         ({attempts} attempt(s)): {message}"
    )]
    OutcomeUnknown {
        /// The provider.
        provider: Provider,
        /// The request method (`POST`).
        method: &'static str,
        /// The request URL.
        url: String,
        /// The transport error.
        message: String,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// A success status with a body that does not say what it should (GitLab without `id`,
    /// GitHub's JSON description of a file instead of its raw content).
    #[error(
        "{provider} answered HTTP {status} to {method} {url} with an unexpected body: {message}"
    )]
    InvalidResponse {
        /// The provider.
        provider: Provider,
        /// The request method (`GET`, `POST`).
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// The request URL.
        url: String,
        /// What is wrong, with the start of the body.
        message: String,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// The path given to fetch is not a relative path inside the repository (empty,
    /// absolute, with `..` or NUL); no request was made.
    #[error("cannot fetch `{path}` from {repo}: {problem}")]
    InvalidPath {
        /// The source repository.
        repo: String,
        /// The path as given.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The forge answered 404: no such file on that branch (or no such branch or repository,
    /// or one the request may not read: a private repository answers 404 too).
    #[error(
        "{provider} has no file `{path}` on branch `{branch}` of {repo} (HTTP 404 to GET {url}: \
         {message}){}",
        not_found_hint(*provider, *authenticated)
    )]
    FileNotFound {
        /// The provider.
        provider: Provider,
        /// The source repository (`owner/repo`, or the GitLab project path).
        repo: String,
        /// The branch read.
        branch: String,
        /// The file's path in the repository.
        path: String,
        /// The request URL.
        url: String,
        /// The provider's own message (`Not Found`, `404 File Not Found`, ...).
        message: String,
        /// Whether the request carried a token.
        authenticated: bool,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// The path names something that is not a file (a directory, a submodule, a symlink out
    /// of the repository).
    #[error(
        "`{path}` on branch `{branch}` of {provider} repository {repo} is a {kind}, not a file"
    )]
    NotAFile {
        /// The provider.
        provider: Provider,
        /// The source repository.
        repo: String,
        /// The branch read.
        branch: String,
        /// The path in the repository.
        path: String,
        /// What it is instead (`directory`, `submodule`, `symlink`).
        kind: String,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// The file is larger than the most that is read of an answer ([`crate::MAX_FILE_BYTES`],
    /// 1 MiB); nothing of it is kept.
    #[error(
        "`{path}` on branch `{branch}` of {provider} repository {repo} is larger than {max} \
         bytes (1 MiB), the most image-factory reads of a file{}",
        size.map(|s| format!("; the forge announced {s} bytes")).unwrap_or_default()
    )]
    FileTooLarge {
        /// The provider.
        provider: Provider,
        /// The source repository.
        repo: String,
        /// The branch read.
        branch: String,
        /// The path in the repository.
        path: String,
        /// The size the forge announced (`Content-Length`), when it did.
        size: Option<u64>,
        /// The most that is read.
        max: u64,
        /// Requests made, this one included.
        attempts: u32,
    },
    /// The file is not UTF-8 text.
    #[error(
        "`{path}` on branch `{branch}` of {provider} repository {repo} is not UTF-8 text \
         (invalid byte at offset {offset}); a Dockerfile must be UTF-8"
    )]
    NotUtf8 {
        /// The provider.
        provider: Provider,
        /// The source repository.
        repo: String,
        /// The branch read.
        branch: String,
        /// The path in the repository.
        path: String,
        /// The offset of the first byte that is not UTF-8.
        offset: usize,
        /// Requests made, this one included.
        attempts: u32,
    },
}

/// What else a 404 may mean, by whether a token was sent.
fn not_found_hint(provider: Provider, authenticated: bool) -> String {
    let env = match provider {
        Provider::Github => crate::GITHUB_TOKEN_ENV,
        Provider::Gitlab => crate::GITLAB_TOKEN_ENV,
    };
    if authenticated {
        "; a repository the token cannot read answers 404 too".to_owned()
    } else {
        format!("; a private repository answers 404 without a token: set {env}")
    }
}

impl ForgeError {
    /// The HTTP status the provider answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ForgeError::Rejected { status, .. }
            | ForgeError::Unavailable { status, .. }
            | ForgeError::InvalidResponse { status, .. } => Some(*status),
            ForgeError::FileNotFound { .. } => Some(404),
            ForgeError::NotAFile { .. }
            | ForgeError::FileTooLarge { .. }
            | ForgeError::NotUtf8 { .. } => Some(200),
            _ => None,
        }
    }

    /// How many requests were made (0 when the call failed before any).
    pub fn attempts(&self) -> u32 {
        match self {
            ForgeError::Rejected { attempts, .. }
            | ForgeError::Unavailable { attempts, .. }
            | ForgeError::Connection { attempts, .. }
            | ForgeError::OutcomeUnknown { attempts, .. }
            | ForgeError::InvalidResponse { attempts, .. }
            | ForgeError::FileNotFound { attempts, .. }
            | ForgeError::NotAFile { attempts, .. }
            | ForgeError::FileTooLarge { attempts, .. }
            | ForgeError::NotUtf8 { attempts, .. } => *attempts,
            _ => 0,
        }
    }
}
