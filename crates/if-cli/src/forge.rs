//! The forge side of the commands that trigger builds: options, a client built from the
//! environment (`GITHUB_TOKEN`, `GITLAB_TOKEN`, `IMAGE_FACTORY_GITHUB_API`,
//! `IMAGE_FACTORY_GITLAB_API`), and one trigger carried out.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use if_forge::{Client, Endpoints, Retry, Secret, Triggered};
use if_model::duration::Duration;
use if_state::rebuild::{Policy, Trigger};

use crate::settings;

/// Options of the commands that trigger builds.
#[derive(Debug, Clone, clap::Args)]
pub struct DispatchArgs {
    /// Trigger attempts before an image is marked `failed` (retried with exponential backoff
    /// between runs).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Wait after the first failed trigger before the next run may retry; doubled after each
    /// further failure (capped at a day).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub retry_backoff: Duration,
    /// HTTP retries within one trigger on connection errors, 429 and 5xx (Retry-After is
    /// honoured).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub http_retries: u32,
    /// The most seconds one trigger may take, waits between retries included.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub http_timeout: u64,
}

impl DispatchArgs {
    /// The engine's policy.
    pub fn policy(&self) -> Policy {
        Policy {
            max_attempts: self.max_attempts,
            retry_backoff: self.retry_backoff,
        }
    }
}

/// Parses a duration argument (`30m`, `12h`, `7d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::parse(s).map_err(|e| e.to_string())
}

/// A client from the environment for fetching files (Dockerfiles): three retries, a minute
/// per file.
pub fn fetch_client_from_env() -> Client {
    client_with(settings::retry(3, 60))
}

/// A client from the environment. A missing token is not an error here: it fails the
/// triggers that need it, one image at a time.
pub fn client_from_env(args: &DispatchArgs) -> Client {
    client_with(settings::retry(args.http_retries, args.http_timeout))
}

/// A client from the environment with this retry policy.
fn client_with(retry: Retry) -> Client {
    let endpoints = Endpoints {
        github_api: settings::env(if_forge::GITHUB_API_ENV)
            .unwrap_or_else(|| if_forge::DEFAULT_GITHUB_API.to_string()),
        gitlab_api: settings::env(if_forge::GITLAB_API_ENV)
            .unwrap_or_else(|| if_forge::DEFAULT_GITLAB_API.to_string()),
    };
    Client::new(
        endpoints,
        settings::env(if_forge::GITHUB_TOKEN_ENV).map(Secret::new),
        settings::env(if_forge::GITLAB_TOKEN_ENV).map(Secret::new),
        retry,
    )
}

/// Outcomes of the builds this process started, by image: a step re-run after a rejected
/// push (`--git-repo`) records them again instead of starting the builds twice.
static STARTED: Mutex<BTreeMap<String, Result<Option<u64>, String>>> = Mutex::new(BTreeMap::new());

/// Forgets the builds started so far: a new run begins (a re-run after a rejected push does
/// not call this, so it starts nothing twice).
pub fn new_run() {
    STARTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Starts one build: `Ok(pipeline id)` (GitLab gives one, GitHub does not) or the reason it
/// failed, for the state file (if-forge keeps tokens out of its messages). An image this
/// process already dispatched gets that outcome again, without a request.
pub fn dispatch(client: &Client, trigger: &Trigger) -> Result<Option<u64>, String> {
    let mut started = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(outcome) = started.get(&trigger.image) {
        return outcome.clone();
    }
    let outcome = match if_forge::trigger(client, &trigger.source, &trigger.inputs) {
        Ok(Triggered::Github { .. }) => Ok(None),
        Ok(Triggered::Gitlab { pipeline_id, .. }) => Ok(Some(pipeline_id)),
        Err(e) => Err(e.to_string()),
    };
    started.insert(trigger.image.clone(), outcome.clone());
    outcome
}

/// Where a trigger goes, for people: `github acme/app build.yml@main`.
pub fn target(trigger: &Trigger) -> String {
    let s = &trigger.source;
    let what = match s.provider {
        if_model::enrollment::Provider::Github => s.workflow.clone().unwrap_or_default(),
        if_model::enrollment::Provider::Gitlab => s
            .job
            .as_ref()
            .map(|j| format!("pipeline, job {j}"))
            .unwrap_or_else(|| "pipeline".to_string()),
    };
    format!("{} {} {what} on {}", s.provider, s.repo, s.branch)
}
