//! The forge side of the commands that trigger builds: options, the clients built from the
//! environment (`forge_auth`: host rules, GitHub App, `GITHUB_TOKEN`, `GITLAB_TOKEN`,
//! `IMAGE_FACTORY_GITHUB_API`, `IMAGE_FACTORY_GITLAB_API`), and one trigger carried out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use if_forge::{Client, RunState, Triggered};
use if_model::duration::Duration;
use if_model::enrollment::{Enrollment, Provider};
use if_state::Analysis;
use if_state::rebuild::{self, BuildOutcome, Observed, Policy, Running, Started, Trigger};

use crate::exit::CliError;
use crate::forge_auth::{Forges, forges_from_env};
use crate::settings;

/// How failed attempts (a failed trigger, a failed build) are retried.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Attempts (failed triggers and failed builds) before an image is marked `failed`
    /// (retried with exponential backoff between runs).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Wait after the first failed attempt before the next run may retry; doubled after each
    /// further failure (capped at a day).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub retry_backoff: Duration,
}

impl PolicyArgs {
    /// The engine's policy.
    pub fn policy(&self) -> Policy {
        Policy {
            max_attempts: self.max_attempts,
            retry_backoff: self.retry_backoff,
        }
    }
}

/// Options of the commands that trigger builds.
#[derive(Debug, Clone, clap::Args)]
pub struct DispatchArgs {
    /// Retries of failed attempts.
    #[command(flatten)]
    pub retries: PolicyArgs,
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
        self.retries.policy()
    }
}

/// Parses a duration argument (`30m`, `12h`, `7d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::parse(s).map_err(|e| e.to_string())
}

/// The clients from the environment for fetching the files (Dockerfiles) of `sources`:
/// three retries, a minute per file.
pub fn fetch_clients_from_env<'a>(
    sources: impl IntoIterator<Item = &'a if_model::enrollment::Source>,
) -> Result<Forges, CliError> {
    forges_from_env(&settings::retry(3, 60), sources)
}

/// The clients from the environment for the managed images of `enrollment`. A missing token
/// for a default host is not an error here: it fails the triggers that need it, one image at
/// a time; a host without credentials that is known up front (an image's `source.api`, or
/// any host once a host-rules file is set) refuses the run, before anything is dispatched.
pub fn client_from_env(args: &DispatchArgs, enrollment: &Enrollment) -> Result<Forges, CliError> {
    let retry = settings::retry(args.http_retries, args.http_timeout);
    let managed: Vec<(&str, &if_model::enrollment::Source)> = enrollment
        .images()
        .iter()
        .filter_map(|i| i.source.as_ref().map(|s| (i.name.as_str(), s)))
        .collect();
    let forges = forges_from_env(&retry, managed.iter().map(|(_, s)| *s))?;
    let missing = forges.missing(managed);
    if !missing.is_empty() {
        return Err(CliError::Input(format!(
            "{}\nnothing was dispatched",
            missing.join("\n")
        )));
    }
    Ok(forges)
}

/// Outcomes of the builds this process started, by image: a step re-run after a rejected
/// push (`--git-repo`) records them again instead of starting the builds twice.
static STARTED: Mutex<BTreeMap<String, Result<Started, String>>> = Mutex::new(BTreeMap::new());

/// Forgets the builds started so far: a new run begins (a re-run after a rejected push does
/// not call this, so it starts nothing twice).
pub fn new_run() {
    STARTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Starts one build: what the forge said of the run it started (GitHub's run with
/// `return_run_details`, GitLab's pipeline), or the reason it failed, for the state file
/// (if-forge keeps tokens out of its messages). An image this process already dispatched
/// gets that outcome again, without a request.
pub fn dispatch(forges: &Forges, trigger: &Trigger) -> Result<Started, String> {
    let mut started = STARTED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(outcome) = started.get(&trigger.image) {
        return outcome.clone();
    }
    let client = forges.client(&trigger.source);
    let outcome = match if_forge::trigger(client, &trigger.source, &trigger.inputs) {
        Ok(Triggered::Github { run }) => Ok(Started {
            run_id: run.as_ref().map(|r| r.id),
            url: run.and_then(|r| r.html_url),
            ..Started::default()
        }),
        Ok(Triggered::Gitlab {
            pipeline_id,
            web_url,
        }) => Ok(Started {
            pipeline_id: Some(pipeline_id),
            url: web_url,
            ..Started::default()
        }),
        // The request may have reached the forge: never sent again; the build is found by a
        // poll or given up after its buildTimeout.
        Err(e @ if_forge::ForgeError::OutcomeUnknown { .. }) => Ok(Started {
            unconfirmed: Some(e.to_string()),
            ..Started::default()
        }),
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

/// The most polls under way at once.
const POLL_WORKERS: usize = 8;

/// What one poll of a running build learned.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Polled {
    /// The image.
    pub image: String,
    /// Its entry in `rebuildHistory`.
    #[serde(skip)]
    pub entry: usize,
    /// The GitHub run or GitLab pipeline asked about.
    pub run_id: Option<u64>,
    /// Its page.
    pub url: Option<String>,
    /// `running`, `succeeded`, `failed` or `unknown`.
    pub state: &'static str,
    /// The forge's word: the running status or the conclusion.
    pub status: Option<String>,
    /// Why nothing could be learned.
    pub error: Option<String>,
    /// What the engine is told.
    #[serde(skip)]
    pub observed: Observed,
}

/// Asks the forges, a few at a time, for the state of every running build that can be found
/// (a GitHub run id, a GitLab pipeline id, or a GitHub dispatch id to look the run up by);
/// builds that cannot be found are left to their `buildTimeout`. Each request is bounded by
/// the client's retry policy; nothing is triggered.
pub fn poll_all(forges: &Forges, enrollment: &Enrollment, world: &Analysis) -> Vec<Polled> {
    let running: Vec<Running> = rebuild::running(enrollment, world)
        .into_iter()
        .filter(|r| r.source.is_some())
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Polled)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..POLL_WORKERS.min(running.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = running.get(i) else { break };
                    let client = r.source.as_ref().map(|s| forges.client(s));
                    if let Some(p) = client.and_then(|c| poll(c, r)) {
                        results
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((i, p));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, p)| p).collect()
}

/// Polls one build; `None` when there is nothing to ask by.
fn poll(client: &Client, r: &Running) -> Option<Polled> {
    let source = r.source.as_ref()?;
    let asked = match (source.provider, r.run_id, r.pipeline_id) {
        (Provider::Github, Some(id), _) | (Provider::Gitlab, _, Some(id)) => {
            if_forge::run_status(client, source, id).map(Some)
        }
        (Provider::Github, None, _) => {
            let marker = r.dispatch_id.as_deref()?;
            let since = r.triggered_at?.to_string();
            if_forge::find_run(client, source, &since, marker)
        }
        (Provider::Gitlab, _, None) => return None,
    };
    let polled = |state,
                  status: Option<String>,
                  error: Option<String>,
                  outcome,
                  run_id: Option<u64>,
                  url: Option<String>| Polled {
        image: r.image.clone(),
        entry: r.entry,
        run_id,
        url: url.clone(),
        state,
        status,
        error,
        observed: Observed {
            outcome,
            run_id,
            url,
        },
    };
    Some(match asked {
        Ok(None) => return None,
        Ok(Some(run)) => {
            let id = Some(run.id);
            match run.state {
                RunState::Running { status } => polled(
                    "running",
                    Some(status.clone()),
                    None,
                    BuildOutcome::Running { status },
                    id,
                    run.url,
                ),
                RunState::Succeeded => polled(
                    "succeeded",
                    Some("success".to_string()),
                    None,
                    BuildOutcome::Succeeded,
                    id,
                    run.url,
                ),
                RunState::Failed { conclusion } => {
                    let reason = format!("the {} run ended `{conclusion}`", source.provider);
                    polled(
                        "failed",
                        Some(conclusion.clone()),
                        None,
                        BuildOutcome::Failed { conclusion, reason },
                        id,
                        run.url,
                    )
                }
            }
        }
        Err(e) => {
            let error = e.to_string();
            polled(
                "unknown",
                None,
                Some(error.clone()),
                BuildOutcome::Unknown { error },
                r.run_id.or(r.pipeline_id),
                None,
            )
        }
    })
}

/// One line for people about a poll.
pub fn polled_line(p: &Polled) -> String {
    let url = p.url.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
    match (&p.status, &p.error) {
        (_, Some(e)) => format!("build of {}: state unknown: {e}", p.image),
        (Some(s), None) => format!("build of {}: {} ({s}){url}", p.image, p.state),
        (None, None) => format!("build of {}: {}{url}", p.image, p.state),
    }
}
