//! The builds the fake runs: every accepted dispatch and every created pipeline becomes a
//! [`Run`] (an id, its repository, workflow, branch, inputs, title and creation time), whose
//! outcome plays out over the polls as scripted per repository ([`RunScript`]); and the
//! answers of the endpoints that report them: GitHub's "Get a workflow run" and "List
//! workflow runs for a workflow", GitLab's "Get a single pipeline" (`run_requests` checks
//! those requests).
//!
//! GitHub's dispatch answers 200 with `{workflow_run_id, run_url, html_url}` when the body
//! says `"return_run_details": true`, else 204 ("Create a workflow dispatch event"); in the
//! mode of an older GitHub Enterprise Server ([`Runs::run_details`] false) a body with
//! `return_run_details` answers 422 naming it as not permitted, and starts nothing.

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use if_model::enrollment::Provider;
use if_model::timestamp::Timestamp;
use serde_json::{Value, json};

/// The first GitHub run id handed out.
pub(crate) const FIRST_RUN_ID: u64 = 5000;
/// The first GitLab pipeline id handed out.
pub(crate) const FIRST_PIPELINE_ID: u64 = 1000;
/// GitHub's conclusions of a completed run other than `success`.
pub const GITHUB_FAILED_CONCLUSIONS: [&str; 8] = [
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
    "startup_failure",
];
/// GitLab's statuses of a pipeline that finished without success.
pub const GITLAB_FAILED_STATUSES: [&str; 3] = ["failed", "canceled", "skipped"];
/// Where GitHub's 404 body for a run points.
const GITHUB_RUN_DOCS: &str =
    "https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run";

/// What becomes of a run, as its polls (`GET` of the run or pipeline) see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScript {
    /// Finished with success (GitHub `completed`/`success`, GitLab `success`).
    Succeed,
    /// Finished with this conclusion (GitHub `failure`, `cancelled`, `timed_out`,
    /// `skipped`, ...) or status (GitLab `failed`, `canceled`, `skipped`).
    Fail(String),
    /// Never finishes (GitHub `in_progress`, GitLab `running`).
    RunForever,
    /// Running for `polls` polls, then `then`.
    RunningFor {
        /// How many polls still see it running.
        polls: u32,
        /// What comes after.
        then: Box<RunScript>,
    },
}

impl RunScript {
    /// Fails with `conclusion`.
    pub fn fail(conclusion: &str) -> Self {
        RunScript::Fail(conclusion.to_owned())
    }

    /// Running for `polls` polls, then `then`.
    pub fn running_for(polls: u32, then: RunScript) -> Self {
        RunScript::RunningFor {
            polls,
            then: Box::new(then),
        }
    }

    /// Panics (a test-setup mistake) when a failure word is not one `provider` documents.
    fn validate(&self, provider: Provider) {
        match self {
            RunScript::Fail(word) => {
                let known: &[&str] = match provider {
                    Provider::Github => &GITHUB_FAILED_CONCLUSIONS,
                    Provider::Gitlab => &GITLAB_FAILED_STATUSES,
                };
                assert!(
                    known.contains(&word.as_str()),
                    "RunScript::Fail({word:?}): {provider} documents only {known:?}"
                );
            }
            RunScript::RunningFor { then, .. } => then.validate(provider),
            RunScript::Succeed | RunScript::RunForever => {}
        }
    }

    /// Where the run stands now; `poll` consumes one poll of a `RunningFor`.
    fn phase(&mut self, poll: bool) -> Phase {
        match self {
            RunScript::Succeed => Phase::Succeeded,
            RunScript::Fail(word) => Phase::Failed(word.clone()),
            RunScript::RunForever => Phase::Running,
            RunScript::RunningFor { polls: 0, then } => {
                let then = std::mem::replace(then.as_mut(), RunScript::RunForever);
                *self = then;
                self.phase(poll)
            }
            RunScript::RunningFor { polls, .. } => {
                if poll {
                    *polls -= 1;
                }
                Phase::Running
            }
        }
    }
}

/// A run's state at one moment.
enum Phase {
    Running,
    Succeeded,
    Failed(String),
}

/// A build the fake started: a GitHub workflow run or a GitLab pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Which forge.
    pub provider: Provider,
    /// The run id (GitHub, from 5000) or pipeline id (GitLab, from 1000).
    pub id: u64,
    /// `owner/repo` or the GitLab project path.
    pub repo: String,
    /// The workflow (GitHub) as named in the dispatch path.
    pub workflow: Option<String>,
    /// The branch (`ref`).
    pub branch: String,
    /// The inputs (GitHub) or variables (GitLab), in order.
    pub inputs: Vec<(String, String)>,
    /// GitHub's `display_title`: the `reason` input when given (as if the workflow said
    /// `run-name: ${{ inputs.reason }}`), else the workflow's name.
    pub display_title: String,
    /// When it was created (the fake's clock).
    pub created_at: String,
    /// How many times its state was asked for.
    pub polls: u32,
    /// What is left of its script.
    pub script: RunScript,
}

/// A dispatch that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dispatch {
    pub repo: String,
    pub workflow: String,
    pub branch: String,
    pub inputs: Vec<(String, String)>,
    /// The `return_run_details` value, when the body had one.
    pub run_details: Option<bool>,
}

/// The filters of a run list, as GitHub applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListFilter {
    pub event: Option<String>,
    pub branch: Option<String>,
    pub status: Option<String>,
    pub created_since: Option<Timestamp>,
    pub per_page: usize,
    pub page: usize,
}

/// The runs so far, what comes next, and the fake's settings.
#[derive(Debug)]
pub(crate) struct Runs {
    runs: Vec<Run>,
    scripts: BTreeMap<(Provider, String), VecDeque<RunScript>>,
    next_run: u64,
    next_pipeline: u64,
    /// False: an older GitHub Enterprise Server, which refuses `return_run_details`.
    pub run_details: bool,
    clock: Option<String>,
}

impl Default for Runs {
    fn default() -> Self {
        Runs {
            runs: Vec::new(),
            scripts: BTreeMap::new(),
            next_run: FIRST_RUN_ID,
            next_pipeline: FIRST_PIPELINE_ID,
            run_details: true,
            clock: None,
        }
    }
}

/// An answer: a status and a JSON body (`None`: no body).
pub(crate) type JsonAnswer = (u16, Option<Value>);

impl Runs {
    pub(crate) fn all(&self) -> Vec<Run> {
        self.runs.clone()
    }

    pub(crate) fn script(&mut self, provider: Provider, repo: &str, items: Vec<RunScript>) {
        for item in &items {
            item.validate(provider);
        }
        self.scripts
            .entry((provider, repo.to_owned()))
            .or_default()
            .extend(items);
    }

    /// Sets the clock (RFC 3339); panics on anything else (a test-setup mistake).
    pub(crate) fn set_clock(&mut self, now: &str) {
        match Timestamp::parse(now) {
            Ok(at) => self.clock = Some(at.to_string()),
            Err(err) => panic!("FakeForge::set_clock({now:?}): {err}"),
        }
    }

    /// The clock in Unix seconds.
    pub(crate) fn now_unix(&self) -> i64 {
        Timestamp::parse(&self.now()).map_or(0, Timestamp::unix)
    }

    fn now(&self) -> String {
        if let Some(clock) = &self.clock {
            return clock.clone();
        }
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        i64::try_from(seconds)
            .ok()
            .and_then(Timestamp::from_unix)
            .map_or_else(String::new, |t| t.to_string())
    }

    fn create(
        &mut self,
        provider: Provider,
        repo: String,
        workflow: Option<String>,
        branch: String,
        inputs: Vec<(String, String)>,
    ) -> &Run {
        let id = match provider {
            Provider::Github => &mut self.next_run,
            Provider::Gitlab => &mut self.next_pipeline,
        };
        let run_id = *id;
        *id += 1;
        let reason = inputs
            .iter()
            .find(|(name, value)| reason_input(provider, name) && !value.is_empty())
            .map(|(_, value)| value.clone());
        let script = self
            .scripts
            .get_mut(&(provider, repo.clone()))
            .and_then(VecDeque::pop_front)
            .unwrap_or(RunScript::Succeed);
        let display_title = reason
            .or_else(|| workflow.clone())
            .unwrap_or_else(|| branch.clone());
        let created_at = self.now();
        self.runs.push(Run {
            provider,
            id: run_id,
            repo,
            workflow,
            branch,
            inputs,
            display_title,
            created_at,
            polls: 0,
            script,
        });
        &self.runs[self.runs.len() - 1]
    }

    /// A checked dispatch: 200 with the run's details, 204, or an old GHES's 422.
    pub(crate) fn dispatch(&mut self, base: &str, d: Dispatch) -> JsonAnswer {
        if d.run_details.is_some() && !self.run_details {
            let body = json!({
                "message": "Invalid request.\n\n\"return_run_details\" is not a permitted key.",
                "documentation_url": "https://docs.github.com/enterprise-server@3.14/rest/actions/workflows#create-a-workflow-dispatch-event",
                "status": "422",
            });
            return (422, Some(body));
        }
        let run = self.create(
            Provider::Github,
            d.repo,
            Some(d.workflow),
            d.branch,
            d.inputs,
        );
        if d.run_details == Some(true) {
            let body = json!({
                "workflow_run_id": run.id,
                "run_url": format!("{base}/repos/{}/actions/runs/{}", run.repo, run.id),
                "html_url": github_html_url(base, run),
            });
            (200, Some(body))
        } else {
            (204, None)
        }
    }

    /// A checked pipeline creation: 201 with the pipeline, status `created`.
    pub(crate) fn pipeline(
        &mut self,
        base: &str,
        project: String,
        reference: String,
        variables: Vec<(String, String)>,
    ) -> JsonAnswer {
        let run = self
            .create(Provider::Gitlab, project, None, reference, variables)
            .clone();
        (201, Some(gitlab_json(base, &run, "created")))
    }

    /// A run's or pipeline's state (one poll), or the provider's 404.
    pub(crate) fn state(
        &mut self,
        base: &str,
        provider: Provider,
        repo: &str,
        id: u64,
    ) -> JsonAnswer {
        let found = self
            .runs
            .iter_mut()
            .find(|r| r.provider == provider && r.repo == repo && r.id == id);
        let Some(run) = found else {
            return (404, Some(not_found(provider)));
        };
        run.polls += 1;
        let phase = run.script.phase(true);
        let run = run.clone();
        let body = match provider {
            Provider::Github => github_json(base, &run, &phase),
            Provider::Gitlab => gitlab_json(base, &run, gitlab_status(&phase)),
        };
        (200, Some(body))
    }

    /// GitHub's list of `workflow`'s runs in `repo`, newest first, filtered and paged.
    pub(crate) fn list(
        &mut self,
        base: &str,
        repo: &str,
        workflow: &str,
        f: &ListFilter,
    ) -> JsonAnswer {
        let mut matched: Vec<Value> = Vec::new();
        for run in self.runs.iter_mut().rev() {
            let mine = run.provider == Provider::Github
                && run.repo == repo
                && run.workflow.as_deref() == Some(workflow);
            let since = f
                .created_since
                .is_none_or(|since| Timestamp::parse(&run.created_at).is_ok_and(|at| at >= since));
            let event = f.event.as_deref().is_none_or(|e| e == "workflow_dispatch");
            let branch = f.branch.as_deref().is_none_or(|b| b == run.branch);
            if !(mine && since && event && branch) {
                continue;
            }
            let phase = run.script.phase(false);
            let (status, conclusion) = github_words(&phase);
            if f.status
                .as_deref()
                .is_some_and(|s| s != status && Some(s) != conclusion)
            {
                continue;
            }
            matched.push(github_json(base, run, &phase));
        }
        let total = matched.len();
        let page: Vec<Value> = matched
            .into_iter()
            .skip(f.per_page.saturating_mul(f.page.saturating_sub(1)))
            .take(f.per_page)
            .collect();
        (
            200,
            Some(json!({"total_count": total, "workflow_runs": page})),
        )
    }
}

/// The input that titles a run: `reason` on GitHub, its variable on GitLab.
fn reason_input(provider: Provider, name: &str) -> bool {
    match provider {
        Provider::Github => name == "reason",
        Provider::Gitlab => name == "IMAGE_FACTORY_REASON",
    }
}

fn github_html_url(base: &str, run: &Run) -> String {
    format!("{base}/{}/actions/runs/{}", run.repo, run.id)
}

/// GitHub's `status` and `conclusion` of a phase.
fn github_words(phase: &Phase) -> (&str, Option<&str>) {
    match phase {
        Phase::Running => ("in_progress", None),
        Phase::Succeeded => ("completed", Some("success")),
        Phase::Failed(word) => ("completed", Some(word.as_str())),
    }
}

fn gitlab_status(phase: &Phase) -> &str {
    match phase {
        Phase::Running => "running",
        Phase::Succeeded => "success",
        Phase::Failed(word) => word.as_str(),
    }
}

/// A workflow run as "Get a workflow run" describes it (the fields the factory reads, and
/// a few more).
fn github_json(base: &str, run: &Run, phase: &Phase) -> Value {
    let (status, conclusion) = github_words(phase);
    let workflow = run.workflow.clone().unwrap_or_default();
    json!({
        "id": run.id,
        "name": workflow,
        "display_title": run.display_title,
        "event": "workflow_dispatch",
        "status": status,
        "conclusion": conclusion,
        "head_branch": run.branch,
        "path": format!(".github/workflows/{workflow}"),
        "run_number": run.id - FIRST_RUN_ID + 1,
        "run_attempt": 1,
        "created_at": run.created_at,
        "updated_at": run.created_at,
        "url": format!("{base}/repos/{}/actions/runs/{}", run.repo, run.id),
        "html_url": github_html_url(base, run),
        "repository": {"full_name": run.repo},
    })
}

/// A pipeline as "Get a single pipeline" describes it.
fn gitlab_json(base: &str, run: &Run, status: &str) -> Value {
    json!({
        "id": run.id,
        "iid": run.id - FIRST_PIPELINE_ID + 1,
        "project_id": 1,
        "status": status,
        "source": "api",
        "ref": run.branch,
        "web_url": format!("{base}/{}/-/pipelines/{}", run.repo, run.id),
        "created_at": run.created_at,
        "updated_at": run.created_at,
    })
}

fn not_found(provider: Provider) -> Value {
    match provider {
        Provider::Github => {
            json!({"message": "Not Found", "documentation_url": GITHUB_RUN_DOCS, "status": "404"})
        }
        Provider::Gitlab => json!({"message": "404 Not found"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_plays_out_over_polls() {
        let mut script = RunScript::running_for(2, RunScript::fail("cancelled"));
        assert!(matches!(script.phase(false), Phase::Running));
        assert!(matches!(script.phase(true), Phase::Running));
        assert!(matches!(script.phase(true), Phase::Running));
        assert!(matches!(script.phase(true), Phase::Failed(ref w) if w == "cancelled"));
        assert!(matches!(RunScript::RunForever.phase(true), Phase::Running));
    }

    #[test]
    #[should_panic(expected = "documents only")]
    fn a_failure_word_must_be_the_providers() {
        RunScript::fail("cancelled").validate(Provider::Gitlab);
    }
}
