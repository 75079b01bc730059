//! The forge adapter: triggers a managed image's build on GitHub Actions (`workflow_dispatch`)
//! or GitLab CI (a new pipeline) over their REST APIs ([`trigger`]), and fetches a file (the
//! image's Dockerfile) from its repository at its branch ([`fetch_file`]).
//!
//! An I/O crate that makes no decisions: the caller says which source to build and with which
//! inputs, and gets back what the forge answered. It reads no environment variables: the
//! caller (the CLI) reads [`GITHUB_TOKEN_ENV`], [`GITLAB_TOKEN_ENV`], [`GITHUB_API_ENV`] and
//! [`GITLAB_API_ENV`] and passes the values to [`Client::new`].
//!
//! * `http`: the one place that sends HTTP (POST or GET) through the retry loop (connection
//!   errors, 429 and 5xx; `Retry-After`; backoff; budget), reading at most 1 MiB of an answer;
//! * `github`, `gitlab`: each provider's URLs, headers and bodies, exactly as documented;
//! * `fetch`: what a file's answer means (the content, 404, a directory, too large, not
//!   UTF-8);
//! * `path`: percent-encoding of path segments; `error`: [`ForgeError`].
//!
//! [`Secret`], [`Retry`] and [`GaveUp`] are `if-http`'s, shared with the registry client.
//!
//! Tokens never appear in any `Debug`, `Display` or error message.

use std::fmt;

use if_model::enrollment::{Provider, Source};

mod error;
mod fetch;
mod github;
mod gitlab;
mod http;
mod path;

pub use error::ForgeError;
pub use fetch::fetch_file;
pub use if_http::{GaveUp, Retry, Secret};

/// The environment variable that overrides the GitHub API base URL.
pub const GITHUB_API_ENV: &str = "IMAGE_FACTORY_GITHUB_API";
/// The environment variable that overrides the GitLab API base URL.
pub const GITLAB_API_ENV: &str = "IMAGE_FACTORY_GITLAB_API";
/// The environment variable that holds the GitHub token.
pub const GITHUB_TOKEN_ENV: &str = "GITHUB_TOKEN";
/// The environment variable that holds the GitLab token.
pub const GITLAB_TOKEN_ENV: &str = "GITLAB_TOKEN";
/// GitHub's public API.
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
/// GitLab.com's API (v4).
pub const DEFAULT_GITLAB_API: &str = "https://gitlab.com/api/v4";
/// The most inputs GitHub's `workflow_dispatch` accepts.
pub const GITHUB_MAX_INPUTS: usize = github::MAX_INPUTS;
/// The largest file [`fetch_file`] reads (1 MiB): a larger one is [`ForgeError::FileTooLarge`].
pub const MAX_FILE_BYTES: u64 = http::MAX_BODY;

/// The base URLs of the two APIs (a trailing slash is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// GitHub's REST API, e.g. `https://api.github.com` (or a GHES `https://host/api/v3`).
    pub github_api: String,
    /// GitLab's REST API v4, e.g. `https://gitlab.com/api/v4`.
    pub gitlab_api: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            github_api: DEFAULT_GITHUB_API.to_owned(),
            gitlab_api: DEFAULT_GITLAB_API.to_owned(),
        }
    }
}

/// What a successful trigger started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triggered {
    /// GitHub accepted the dispatch (it returns no run id).
    Github,
    /// GitLab created a pipeline.
    Gitlab {
        /// The pipeline's id.
        pipeline_id: u64,
        /// The pipeline's page, when GitLab gave it.
        web_url: Option<String>,
    },
}

/// A forge client: endpoints, tokens, retry policy and one HTTP agent (connections are
/// reused across calls).
pub struct Client {
    endpoints: Endpoints,
    github_token: Option<Secret>,
    gitlab_token: Option<Secret>,
    retry: Retry,
    agent: ureq::Agent,
    user_agent: String,
}

impl Client {
    /// A client for these endpoints and tokens. A missing or blank token fails only the
    /// calls that need it ([`trigger`]), with [`ForgeError::MissingToken`]; [`fetch_file`]
    /// then sends no token (enough for a public repository).
    ///
    /// HTTP status codes are answers, not transport errors; redirects are not followed (a
    /// redirected POST would lose its token); proxy environment variables are not read.
    pub fn new(
        endpoints: Endpoints,
        github_token: Option<Secret>,
        gitlab_token: Option<Secret>,
        retry: Retry,
    ) -> Self {
        let user_agent = format!("image-factory/{}", env!("CARGO_PKG_VERSION"));
        Client {
            endpoints,
            github_token,
            gitlab_token,
            retry,
            agent: if_http::agent(if_http::REQUEST_TIMEOUT, &user_agent),
            user_agent,
        }
    }

    /// The API base URLs.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The retry policy.
    pub fn retry(&self) -> &Retry {
        &self.retry
    }

    /// The `User-Agent` sent with every request (`image-factory/<version>`).
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// Every non-blank token, for scrubbing messages.
    fn secrets(&self) -> Vec<&Secret> {
        [&self.github_token, &self.gitlab_token]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_blank())
            .collect()
    }

    /// The provider's token, or `MissingToken` naming the variable to set.
    fn token(&self, provider: Provider) -> Result<&Secret, ForgeError> {
        let env = match provider {
            Provider::Github => GITHUB_TOKEN_ENV,
            Provider::Gitlab => GITLAB_TOKEN_ENV,
        };
        self.optional_token(provider)
            .ok_or(ForgeError::MissingToken { provider, env })
    }

    /// The provider's token, if one is set and not blank.
    fn optional_token(&self, provider: Provider) -> Option<&Secret> {
        let token = match provider {
            Provider::Github => &self.github_token,
            Provider::Gitlab => &self.gitlab_token,
        };
        token.as_ref().filter(|t| !t.is_blank())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("github_token", &self.github_token)
            .field("gitlab_token", &self.gitlab_token)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// Starts a build of `source` on its forge, on its branch.
///
/// `inputs` are `(name, value)` pairs with lowercase snake_case names (`image`, `reason`,
/// `base_image`): on GitHub they are the workflow's inputs (at most [`GITHUB_MAX_INPUTS`]);
/// on GitLab each becomes the variable `IMAGE_FACTORY_<NAME>`, in order, followed by
/// `IMAGE_FACTORY_JOB` when `source.job` is set.
pub fn trigger(
    client: &Client,
    source: &Source,
    inputs: &[(String, String)],
) -> Result<Triggered, ForgeError> {
    match source.provider {
        Provider::Github => github::dispatch(client, source, inputs),
        Provider::Gitlab => gitlab::create_pipeline(client, source, inputs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_debug_hides_tokens() {
        let client = Client::new(
            Endpoints::default(),
            Some(Secret::new("ghp_hidden".to_owned())),
            Some(Secret::new("glpat-hidden".to_owned())),
            Retry::default(),
        );
        let debug = format!("{client:?}");
        assert!(!debug.contains("hidden"), "{debug}");
        assert!(debug.contains("api.github.com"), "{debug}");
    }

    #[test]
    fn blank_token_is_missing() {
        let client = Client::new(
            Endpoints::default(),
            Some(Secret::new(" ".to_owned())),
            None,
            Retry::default(),
        );
        for provider in [Provider::Github, Provider::Gitlab] {
            assert!(matches!(
                client.token(provider),
                Err(ForgeError::MissingToken { provider: p, .. }) if p == provider
            ));
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let e = Endpoints::default();
        assert_eq!(e.github_api, "https://api.github.com");
        assert_eq!(e.gitlab_api, "https://gitlab.com/api/v4");
    }
}
