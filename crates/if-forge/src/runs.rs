//! What a run's or pipeline's JSON says: GitHub's workflow run (`status`, `conclusion`,
//! `html_url`, `created_at`) and GitLab's pipeline (`status`, `web_url`),
//! read into [`RunStatus`].
//!
//! GitHub: a run is finished when its `status` is `completed`; then only the conclusion
//! `success` succeeds, every other conclusion (`failure`, `cancelled`, `timed_out`,
//! `skipped`, `neutral`, `action_required`, `stale`, `startup_failure`) is a failure; any
//! other status (`queued`, `in_progress`, `waiting`, `requested`, `pending`) is running.
//! GitLab: `success` succeeds; `failed`, `canceled` and `skipped` are failures; every other
//! status (`created`, `waiting_for_resource`, `preparing`, `pending`, `running`, `manual`,
//! `scheduled`, and any word GitLab adds later) is not finished.

use serde_json::Value;

use crate::{RunState, RunStatus};

/// GitLab's statuses of a pipeline that finished without success.
const GITLAB_FAILED: [&str; 3] = ["failed", "canceled", "skipped"];

/// A GitHub workflow run, with its creation time (which [`find_run`](crate::find_run)
/// compares).
#[derive(Debug)]
pub(crate) struct GithubRun {
    pub status: RunStatus,
    pub created_at: Option<String>,
}

/// The numeric `id` and the string `status` every run and pipeline has.
fn id_and_status(run: &Value) -> Result<(u64, &str), &'static str> {
    let id = run
        .get("id")
        .and_then(Value::as_u64)
        .ok_or("no numeric `id`")?;
    let status = run
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("no `status`")?;
    Ok((id, status))
}

fn text(run: &Value, key: &str) -> Option<String> {
    run.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A GitHub workflow run ("Get a workflow run", or an item of `workflow_runs`).
pub(crate) fn github_run(run: &Value) -> Result<GithubRun, &'static str> {
    let (id, status) = id_and_status(run)?;
    let state = if status == "completed" {
        match run.get("conclusion").and_then(Value::as_str) {
            Some("success") => RunState::Succeeded,
            Some(conclusion) if !conclusion.is_empty() => RunState::Failed {
                conclusion: conclusion.to_owned(),
            },
            _ => return Err("a `completed` run without a `conclusion`"),
        }
    } else {
        RunState::Running {
            status: status.to_owned(),
        }
    };
    Ok(GithubRun {
        status: RunStatus {
            id,
            state,
            url: text(run, "html_url"),
        },
        created_at: text(run, "created_at"),
    })
}

/// A GitLab pipeline ("Get a single pipeline").
pub(crate) fn gitlab_pipeline(pipeline: &Value) -> Result<RunStatus, &'static str> {
    let (id, status) = id_and_status(pipeline)?;
    let state = match status {
        "success" => RunState::Succeeded,
        s if GITLAB_FAILED.contains(&s) => RunState::Failed {
            conclusion: s.to_owned(),
        },
        s => RunState::Running {
            status: s.to_owned(),
        },
    };
    Ok(RunStatus {
        id,
        state,
        url: text(pipeline, "web_url"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn github(status: &str, conclusion: Value) -> Result<RunState, &'static str> {
        let run = json!({"id": 7, "status": status, "conclusion": conclusion,
                         "html_url": "https://github.com/a/b/actions/runs/7"});
        github_run(&run).map(|r| r.status.state)
    }

    #[test]
    fn github_runs_are_running_until_completed() {
        for status in ["queued", "in_progress", "waiting", "requested", "pending"] {
            assert_eq!(
                github(status, Value::Null),
                Ok(RunState::Running {
                    status: status.to_owned()
                })
            );
        }
    }

    #[test]
    fn only_the_conclusion_success_succeeds() {
        assert_eq!(
            github("completed", json!("success")),
            Ok(RunState::Succeeded)
        );
        for conclusion in if_testkit::GITHUB_FAILED_CONCLUSIONS {
            assert_eq!(
                github("completed", json!(conclusion)),
                Ok(RunState::Failed {
                    conclusion: conclusion.to_owned()
                })
            );
        }
        assert!(github("completed", Value::Null).is_err());
    }

    #[test]
    fn github_run_keeps_url_and_creation() {
        let run = json!({"id": 5000, "status": "queued", "html_url": "u",
                         "display_title": "rebuild x", "created_at": "2027-01-01T00:00:00Z"});
        let run = github_run(&run).unwrap();
        assert_eq!(run.status.id, 5000);
        assert_eq!(run.status.url.as_deref(), Some("u"));
        assert_eq!(run.created_at.as_deref(), Some("2027-01-01T00:00:00Z"));
        assert!(github_run(&json!({"status": "queued"})).is_err());
        assert!(github_run(&json!({"id": "1", "status": "queued"})).is_err());
        assert!(github_run(&json!({"id": 1})).is_err());
    }

    #[test]
    fn gitlab_statuses() {
        let state = |status: &str| {
            gitlab_pipeline(&json!({"id": 1000, "status": status, "web_url": "w"}))
                .unwrap()
                .state
        };
        assert_eq!(state("success"), RunState::Succeeded);
        for status in if_testkit::GITLAB_FAILED_STATUSES {
            assert_eq!(
                state(status),
                RunState::Failed {
                    conclusion: status.to_owned()
                }
            );
        }
        for status in [
            "created",
            "waiting_for_resource",
            "preparing",
            "pending",
            "running",
            "manual",
            "scheduled",
        ] {
            assert_eq!(
                state(status),
                RunState::Running {
                    status: status.to_owned()
                }
            );
        }
        assert!(gitlab_pipeline(&json!({"id": 1})).is_err());
    }
}
