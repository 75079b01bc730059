//! The forge adapter: triggers a managed image's build on GitHub Actions (`workflow_dispatch`)
//! or GitLab CI (a new pipeline) over their REST APIs ([`trigger`]), says what became of it
//! ([`run_status`], and on GitHub [`find_run`] for a dispatch that returned no run id), and
//! fetches a file (the image's Dockerfile) from its repository at its branch ([`fetch_file`]).
//!
//! An I/O crate that makes no decisions: the caller says which source to build and with which
//! inputs, and gets back what the forge answered. It reads no environment variables: the
//! caller (the CLI) reads [`GITHUB_TOKEN_ENV`], [`GITLAB_TOKEN_ENV`], [`GITHUB_API_ENV`] and
//! [`GITLAB_API_ENV`] and passes the values to [`Client::new`].
//!
//! * `http`: the one place that sends HTTP (POST or GET) through the retry loop (connection
//!   errors, 429 and 5xx; `Retry-After`; backoff; budget), reading at most 1 MiB of an answer;
//! * `github`, `gitlab`: each provider's URLs, headers and bodies, exactly as documented;
//! * `runs`: what a run's or pipeline's JSON says ([`RunStatus`]);
//! * `fetch`: what a file's answer means (the content, 404, a directory, too large, not
//!   UTF-8);
//! * `path`: percent-encoding of path segments; `error`: [`ForgeError`].
//!
//! [`Secret`], [`Retry`] and [`GaveUp`] are `if-http`'s, shared with the registry client.
//!
//! Tokens never appear in any `Debug`, `Display` or error message. A POST whose request may
//! have reached the forge is never sent again ([`ForgeError::OutcomeUnknown`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use if_model::enrollment::{Provider, Source};

mod app;
mod error;
mod fetch;
mod github;
mod gitlab;
mod http;
mod path;
mod runs;

pub use app::{
    AppKey, GithubApp, JWT_BACKDATE_SECS, JWT_LIFETIME_SECS, KeyError, RENEW_BEFORE_SECS, jwt,
    needs_renewal,
};
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
/// The most inputs GitHub's `workflow_dispatch` accepts (25, was 10: GitHub's "Workflow
/// syntax for GitHub Actions", `on.workflow_dispatch.inputs`).
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
    /// GitHub accepted the dispatch; `run` when GitHub returned run details (200 with
    /// `workflow_run_id`), `None` for a 204 (an API without run details).
    Github {
        /// The run the dispatch created.
        run: Option<RunLink>,
    },
    /// GitLab created a pipeline.
    Gitlab {
        /// The pipeline's id.
        pipeline_id: u64,
        /// The pipeline's page, when GitLab gave it.
        web_url: Option<String>,
    },
}

/// A GitHub run a dispatch created: its id and its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLink {
    /// The workflow run's id (`workflow_run_id`).
    pub id: u64,
    /// The run's page (`html_url`), when GitHub gave it.
    pub html_url: Option<String>,
}

/// What the forge says of a run or pipeline now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Not finished; the provider's own status word (`queued`, `in_progress`, `waiting`,
    /// `running`, `manual`, ...).
    Running {
        /// The status word as the provider gave it.
        status: String,
    },
    /// Finished with success (GitHub conclusion `success`, GitLab status `success`).
    Succeeded,
    /// Finished otherwise; the conclusion or status word (`failure`, `cancelled`,
    /// `timed_out`, `skipped`, GitLab `failed`, `canceled`, `skipped`, ...). Only `success`
    /// succeeds.
    Failed {
        /// The conclusion (GitHub) or status (GitLab) word.
        conclusion: String,
    },
}

/// A run (GitHub) or pipeline (GitLab) as the forge describes it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    /// The run's or pipeline's id.
    pub id: u64,
    /// Finished or not, and how.
    pub state: RunState,
    /// Its page (`html_url`, `web_url`), when given.
    pub url: Option<String>,
}

/// The clock a client reads (Unix seconds): the system's, or a test's.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A forge client: endpoints, tokens (or a GitHub App), retry policy and one HTTP agent
/// (connections are reused across calls).
pub struct Client {
    endpoints: Endpoints,
    github_token: Option<Secret>,
    gitlab_token: Option<Secret>,
    /// A GitHub App whose installation token is used on GitHub instead of `github_token`.
    github_app: Option<app::AppAuth>,
    /// Read when a JWT is signed and an installation token's age is judged.
    clock: Clock,
    retry: Retry,
    agent: ureq::Agent,
    user_agent: String,
    /// Set once the GitHub API answered that `return_run_details` is not a permitted key.
    no_run_details: AtomicBool,
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
            github_app: None,
            clock: Arc::new(system_clock),
            retry,
            agent: if_http::agent(if_http::REQUEST_TIMEOUT, &user_agent),
            user_agent,
            no_run_details: AtomicBool::new(false),
        }
    }

    /// This client authenticating to GitHub as `app`: every GitHub request (dispatches,
    /// run polls, file fetches) carries the App installation's token, asked for with a JWT
    /// at the first request and again from [`RENEW_BEFORE_SECS`] before it expires; the
    /// GitHub token given to [`Client::new`] is then not used.
    pub fn with_github_app(mut self, app: GithubApp) -> Self {
        self.github_app = Some(app::AppAuth::new(app));
        self
    }

    /// This client reading `clock` (Unix seconds) instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock's time now (Unix seconds).
    fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The GitHub App installation's token, asked for (or renewed) when needed; `None`
    /// without an App. For git over HTTPS (user `x-access-token`).
    pub fn github_app_token(&self) -> Result<Option<Secret>, ForgeError> {
        self.github_app
            .as_ref()
            .map(|auth| app::installation_token(self, auth))
            .transpose()
    }

    /// Whether this client holds a credential for `provider` (an App or a non-blank token);
    /// no request is made.
    pub fn has_credential(&self, provider: Provider) -> bool {
        match provider {
            Provider::Github => {
                self.github_app.is_some()
                    || self.github_token.as_ref().is_some_and(|t| !t.is_blank())
            }
            Provider::Gitlab => self.gitlab_token.as_ref().is_some_and(|t| !t.is_blank()),
        }
    }

    /// Whether this client learned that its GitHub API does not return run details (an
    /// older GitHub Enterprise Server answered 422 to `return_run_details`): its dispatches
    /// then no longer ask for them.
    pub fn run_details_unsupported(&self) -> bool {
        self.no_run_details.load(Ordering::Relaxed)
    }

    /// Remembers that the GitHub API does not take `return_run_details`.
    fn learn_no_run_details(&self) {
        self.no_run_details.store(true, Ordering::Relaxed);
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

    /// Every non-blank token (an App's current installation token included), for
    /// scrubbing messages.
    fn secrets(&self) -> Vec<Secret> {
        let mut secrets = self.static_secrets();
        secrets.extend(self.github_app.as_ref().and_then(app::AppAuth::current));
        secrets
    }

    /// The non-blank tokens given to [`Client::new`] (not the App's: reading those takes
    /// the App's lock).
    fn static_secrets(&self) -> Vec<Secret> {
        [&self.github_token, &self.gitlab_token]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_blank())
            .cloned()
            .collect()
    }

    /// The provider's token, or `MissingToken` naming the variable to set.
    fn token(&self, provider: Provider) -> Result<Secret, ForgeError> {
        let env = match provider {
            Provider::Github => GITHUB_TOKEN_ENV,
            Provider::Gitlab => GITLAB_TOKEN_ENV,
        };
        self.optional_token(provider)?
            .ok_or(ForgeError::MissingToken { provider, env })
    }

    /// The provider's token, if there is one: on GitHub the App's installation token when
    /// an App is set (asked for when needed, which may fail), else the static token if set
    /// and not blank.
    fn optional_token(&self, provider: Provider) -> Result<Option<Secret>, ForgeError> {
        if provider == Provider::Github
            && let Some(auth) = &self.github_app
        {
            return app::installation_token(self, auth).map(Some);
        }
        let token = match provider {
            Provider::Github => &self.github_token,
            Provider::Gitlab => &self.gitlab_token,
        };
        Ok(token.as_ref().filter(|t| !t.is_blank()).cloned())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("github_token", &self.github_token)
            .field("gitlab_token", &self.gitlab_token)
            .field("github_app", &self.github_app)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("run_details_unsupported", &self.run_details_unsupported())
            .finish_non_exhaustive()
    }
}

/// The system clock in Unix seconds (0 before 1970, which no real clock reads).
fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Starts a build of `source` on its forge, on its branch.
///
/// `inputs` are `(name, value)` pairs with lowercase snake_case names (`image`, `reason`,
/// `base_image`): on GitHub they are the workflow's inputs (at most [`GITHUB_MAX_INPUTS`]);
/// on GitLab each becomes the variable `IMAGE_FACTORY_<NAME>`, in order, followed by
/// `IMAGE_FACTORY_JOB` when `source.job` is set.
///
/// GitHub: the dispatch asks for run details (`"return_run_details": true`) unless this
/// client has learned that its API does not take them. On the 422 that names
/// `return_run_details` it remembers that ([`Client::run_details_unsupported`]) and
/// dispatches once more without it: one extra request, and no duplicate build (the refused
/// request started none).
///
/// A POST whose request may have reached the forge (a timeout after the connection was
/// made, a connection closed without an answer) is never sent again: it fails with
/// [`ForgeError::OutcomeUnknown`]. One whose connection could not be made, and 429/5xx
/// answers, are retried as [`Retry`] allows.
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

/// The state of run `id` of `source` now: GitHub "Get a workflow run" (`GET /repos/{owner}/
/// {repo}/actions/runs/{id}`), GitLab "Get a single pipeline" (`GET /projects/{id}/
/// pipelines/{pipeline_id}`). Needs the provider's token; retried like every GET.
pub fn run_status(client: &Client, source: &Source, id: u64) -> Result<RunStatus, ForgeError> {
    match source.provider {
        Provider::Github => github::run_status(client, source, id),
        Provider::Gitlab => gitlab::pipeline_status(client, source, id),
    }
}

/// GitHub only (GitLab: `Ok(None)`, its trigger always returns the pipeline id): the newest
/// run of `source`'s workflow on its branch, event `workflow_dispatch`, created at or after
/// `created_since` (RFC 3339, whole seconds, UTC: `2027-01-01T00:00:00Z`), whose
/// `display_title` contains `marker` (the caller puts an id of its own in an input the
/// workflow's `run-name` shows). One request ("List workflow runs for a workflow",
/// `per_page=100`), no pagination: a run beyond the newest 100 is not found.
pub fn find_run(
    client: &Client,
    source: &Source,
    created_since: &str,
    marker: &str,
) -> Result<Option<RunStatus>, ForgeError> {
    match source.provider {
        Provider::Github => github::find_run(client, source, created_since, marker),
        Provider::Gitlab => Ok(None),
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
