//! What became of a build, against the fake forge: run ids at trigger time (and the old
//! GHES fallback), every run state on both providers, finding a run by its marker, polls
//! retried, and tokens kept out of every error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use if_forge::{
    ForgeError, RunLink, RunState, RunStatus, Triggered, find_run, run_status, trigger,
};
use if_model::enrollment::Provider;
use if_testkit::{RunScript, Scripted};
use serde_json::json;

/// "Create a workflow dispatch event" with `return_run_details: true` answers 200 with the
/// run's id; "Get a workflow run" then reports that run.
#[test]
fn dispatch_returns_the_run_and_its_state_follows() {
    let forge = forge();
    forge.script_runs(
        Provider::Github,
        "acme/app",
        [RunScript::running_for(1, RunScript::Succeed)],
    );
    let client = client(&forge, fast_retry(1));
    let Triggered::Github { run: Some(run) } = trigger(&client, &github_source(), &[]).unwrap()
    else {
        panic!("no run details");
    };
    let html_url = format!("{}/acme/app/actions/runs/5000", forge.url());
    assert_eq!(
        run,
        RunLink {
            id: 5000,
            html_url: Some(html_url.clone())
        }
    );
    assert!(!client.run_details_unsupported());
    let running = run_status(&client, &github_source(), run.id).unwrap();
    assert_eq!(
        running,
        RunStatus {
            id: 5000,
            state: RunState::Running {
                status: "in_progress".to_owned()
            },
            url: Some(html_url.clone()),
        }
    );
    let done = run_status(&client, &github_source(), run.id).unwrap();
    assert_eq!(done.state, RunState::Succeeded);
    let requests = forge.requests();
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].path, "/repos/acme/app/actions/runs/5000");
    assert_eq!(requests[1].body, "");
    assert_eq!(
        requests[1].header("authorization"),
        Some(&*format!("Bearer {GITHUB_TOKEN}"))
    );
    assert!(
        requests.iter().all(|r| r.violations.is_empty()),
        "{requests:?}"
    );
}

/// An older GitHub Enterprise Server answers 422 naming `return_run_details`: the client
/// dispatches once more without it (two requests, one run), remembers it, and the next
/// dispatch sends one request without the field.
#[test]
fn an_old_ghes_gets_one_fallback_and_no_duplicate_run() {
    let forge = forge();
    forge.set_run_details(false);
    let client = client(&forge, fast_retry(3));
    let first = trigger(&client, &github_source(), &[]).unwrap();
    assert_eq!(first, Triggered::Github { run: None });
    assert!(client.run_details_unsupported());
    let requests = forge.requests();
    assert_eq!(
        requests.len(),
        2,
        "the refused dispatch and the one without the field"
    );
    assert_eq!(
        requests
            .iter()
            .map(|r| r.response_status)
            .collect::<Vec<_>>(),
        [422, 204]
    );
    assert_eq!(requests[0].json()["return_run_details"], json!(true));
    assert_eq!(requests[1].json(), json!({"ref": "main", "inputs": {}}));
    assert_eq!(forge.runs().len(), 1, "no duplicate build");

    let second = trigger(&client, &github_source(), &[]).unwrap();
    assert_eq!(second, Triggered::Github { run: None });
    let requests = forge.requests();
    assert_eq!(requests.len(), 3, "one request on the next dispatch");
    assert_eq!(requests[2].json(), json!({"ref": "main", "inputs": {}}));
    assert_eq!(forge.runs().len(), 2);
    assert!(
        requests.iter().all(|r| r.violations.is_empty()),
        "{requests:?}"
    );

    // A fresh client asks again (what it learned is per client).
    let fresh = common::client(&forge, fast_retry(3));
    trigger(&fresh, &github_source(), &[]).unwrap();
    assert_eq!(forge.requests().len(), 5);
}

/// Another 422 is a refusal: no second request, nothing learned.
#[test]
fn another_422_is_not_a_fallback() {
    let forge = forge();
    forge.push_response(
        Scripted::status(422).json(&json!({"message": "Unexpected inputs provided: [\"x\"]"})),
    );
    let client = client(&forge, fast_retry(3));
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert!(!client.run_details_unsupported());
    assert_eq!(forge.requests().len(), 1);
}

fn failed(word: &str) -> RunState {
    RunState::Failed {
        conclusion: word.to_owned(),
    }
}

fn running(word: &str) -> RunState {
    RunState::Running {
        status: word.to_owned(),
    }
}

/// Every scripted outcome reads as the provider reports it: GitHub `completed` with a
/// conclusion (only `success` succeeds), GitLab's status words.
#[test]
fn run_status_for_every_state_on_both_providers() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let cases = [
        (
            github_source(),
            vec![
                (RunScript::Succeed, RunState::Succeeded),
                (RunScript::fail("failure"), failed("failure")),
                (RunScript::fail("cancelled"), failed("cancelled")),
                (RunScript::fail("timed_out"), failed("timed_out")),
                (RunScript::fail("skipped"), failed("skipped")),
                (RunScript::RunForever, running("in_progress")),
            ],
        ),
        (
            gitlab_source(),
            vec![
                (RunScript::Succeed, RunState::Succeeded),
                (RunScript::fail("failed"), failed("failed")),
                (RunScript::fail("canceled"), failed("canceled")),
                (RunScript::fail("skipped"), failed("skipped")),
                (RunScript::RunForever, running("running")),
            ],
        ),
    ];
    for (source, outcomes) in cases {
        let (scripts, states): (Vec<_>, Vec<_>) = outcomes.into_iter().unzip();
        forge.script_runs(source.provider, &source.repo, scripts);
        for want in states {
            let id = match trigger(&client, &source, &[]).unwrap() {
                Triggered::Github { run } => run.unwrap().id,
                Triggered::Gitlab { pipeline_id, .. } => pipeline_id,
            };
            // Twice: a finished run stays finished, one running forever stays running.
            for _ in 0..2 {
                let status = run_status(&client, &source, id).unwrap();
                assert_eq!((status.id, &status.state), (id, &want), "{source:?}");
                assert!(status.url.is_some_and(|u| u.ends_with(&id.to_string())));
            }
        }
    }
    // An unscripted run succeeds at once; the GitLab one was created as `created`.
    let Triggered::Gitlab { pipeline_id, .. } = trigger(&client, &gitlab_source(), &[]).unwrap()
    else {
        panic!("not a pipeline");
    };
    let status = run_status(&client, &gitlab_source(), pipeline_id).unwrap();
    assert_eq!(status.state, RunState::Succeeded);
    let gitlab_get = forge
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.starts_with("/api/v4"))
        .unwrap();
    assert_eq!(
        gitlab_get.path,
        "/api/v4/projects/acme%2Fplatform%2Fsvc/pipelines/1000"
    );
    assert_eq!(gitlab_get.header("private-token"), Some(GITLAB_TOKEN));
    assert!(forge.requests().iter().all(|r| r.violations.is_empty()));
}

/// An unknown id is the provider's 404, not retried.
#[test]
fn an_unknown_run_is_404() {
    let forge = forge();
    let client = client(&forge, fast_retry(3));
    for (source, message) in [
        (github_source(), "Not Found"),
        (gitlab_source(), "404 Not found"),
    ] {
        let err = run_status(&client, &source, 999).unwrap_err();
        assert!(
            matches!(&err, ForgeError::Rejected { status: 404, attempts: 1, method: "GET", message: m, .. } if m == message),
            "{err:?}"
        );
    }
    assert_eq!(forge.requests().len(), 2);
}

/// "List workflow runs for a workflow", filtered by event, branch and `created>=`, matched
/// on the marker in `display_title`: the newest matching run, not an older one, not one of
/// another branch or workflow, not one created before the time given.
#[test]
fn find_run_matches_the_marker_and_ignores_older_or_other_runs() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let source = github_source();
    let reason = |marker: &str| inputs(&[("image", "app"), ("reason", marker)]);
    forge.set_clock("2027-01-01T00:00:00Z");
    trigger(&client, &source, &reason("rebuild [if-7]")).unwrap(); // 5000: too old
    forge.set_clock("2027-01-02T00:00:00Z");
    trigger(&client, &source, &reason("rebuild [if-7]")).unwrap(); // 5001
    let mut other_branch = source.clone();
    other_branch.branch = "dev".to_owned();
    trigger(&client, &other_branch, &reason("rebuild [if-7]")).unwrap(); // 5002
    let mut other_workflow = source.clone();
    other_workflow.workflow = Some("other.yml".to_owned());
    trigger(&client, &other_workflow, &reason("rebuild [if-7]")).unwrap(); // 5003
    trigger(&client, &source, &reason("rebuild [if-8]")).unwrap(); // 5004: other marker
    forge.set_clock("2027-01-02T00:05:00Z");
    forge.script_runs(Provider::Github, "acme/app", [RunScript::RunForever]);
    trigger(&client, &source, &reason("rebuild [if-7] again")).unwrap(); // 5005: newest

    let found = find_run(&client, &source, "2027-01-02T00:00:00Z", "[if-7]").unwrap();
    assert_eq!(
        found,
        Some(RunStatus {
            id: 5005,
            state: running("in_progress"),
            url: Some(format!("{}/acme/app/actions/runs/5005", forge.url())),
        })
    );
    let found = find_run(&client, &source, "2027-01-02T00:00:00Z", "[if-8]").unwrap();
    assert_eq!(
        found.map(|r| (r.id, r.state)),
        Some((5004, RunState::Succeeded))
    );
    let since_later = find_run(&client, &source, "2027-01-02T00:01:00Z", "[if-8]").unwrap();
    assert_eq!(since_later, None);
    assert_eq!(
        find_run(&client, &source, "2027-01-01T00:00:00Z", "[if-9]").unwrap(),
        None
    );
    assert_eq!(
        find_run(&client, &gitlab_source(), "2027-01-01T00:00:00Z", "[if-7]").unwrap(),
        None,
        "GitLab always returns the pipeline id: nothing to find"
    );

    let lists: Vec<_> = forge
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(lists.len(), 4, "one request per GitHub lookup");
    assert_eq!(
        lists[0].path,
        "/repos/acme/app/actions/workflows/build.yml/runs?event=workflow_dispatch&branch=main\
         &created=%3E%3D2027-01-02T00%3A00%3A00Z&per_page=100"
    );
    assert!(forge.requests().iter().all(|r| r.violations.is_empty()));
    // Looking runs up polls nothing: the forever-running run was not advanced.
    assert!(forge.runs().iter().all(|r| r.polls == 0));
}

/// Polls are GETs: 5xx and 429 are retried like any read.
#[test]
fn polls_retry_429_and_5xx() {
    let forge = forge();
    let client = client(&forge, fast_retry(4));
    let Triggered::Github { run: Some(run) } = trigger(&client, &github_source(), &[]).unwrap()
    else {
        panic!("no run details");
    };
    forge.push_response(Scripted::status(503));
    forge.push_response(Scripted::status(429).retry_after(0));
    let status = run_status(&client, &github_source(), run.id).unwrap();
    assert_eq!(status.state, RunState::Succeeded);
    forge.push_response(Scripted::status(502));
    let found = find_run(&client, &github_source(), "2000-01-01T00:00:00Z", "").unwrap();
    assert_eq!(found.map(|r| r.id), Some(run.id));
    let statuses: Vec<u16> = forge.requests().iter().map(|r| r.response_status).collect();
    assert_eq!(statuses, [200, 503, 429, 200, 502, 200]);
}

/// A refused connection is retried for a POST too (nothing reached the forge).
#[test]
fn a_refused_dispatch_is_retried() {
    let (_, client) = dead_client();
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert!(
        matches!(err, ForgeError::Connection { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(!client.run_details_unsupported());
}

#[test]
fn tokens_never_appear_in_run_errors() {
    let forge = forge();
    let client = client(&forge, fast_retry(2));
    let echo = echo_tokens();
    let mut errors = Vec::new();
    forge.push_response(Scripted::status(404).json(&echo));
    errors.push(run_status(&client, &github_source(), 1).unwrap_err());
    for _ in 0..2 {
        forge.push_response(Scripted::status(500).json(&echo));
    }
    errors.push(run_status(&client, &gitlab_source(), 1).unwrap_err());
    forge.push_response(Scripted::status(200).body(format!("not json {GITHUB_TOKEN}")));
    errors.push(find_run(&client, &github_source(), "2027-01-01T00:00:00Z", "x").unwrap_err());
    forge.push_response(Scripted::status(200).json(&json!({"id": 1, "token": GITLAB_TOKEN})));
    errors.push(run_status(&client, &gitlab_source(), 1).unwrap_err());
    forge.push_response(Scripted::hang_up());
    errors.push(trigger(&client, &github_source(), &[]).unwrap_err());
    let wrong = client_with(endpoints(&forge), Some(WRONG_GITHUB), Some(WRONG_GITLAB));
    errors.push(run_status(&wrong, &github_source(), 1).unwrap_err());
    errors.push(run_status(&wrong, &gitlab_source(), 1).unwrap_err());
    let none = client_with(endpoints(&forge), None, None);
    errors.push(run_status(&none, &github_source(), 1).unwrap_err());

    assert_eq!(errors.len(), 8);
    assert_scrubbed(&errors);
    assert!(
        matches!(errors[3], ForgeError::InvalidResponse { .. }),
        "{:?}",
        errors[3]
    );
    assert!(
        matches!(errors[4], ForgeError::OutcomeUnknown { .. }),
        "{:?}",
        errors[4]
    );
    assert!(
        matches!(errors[7], ForgeError::MissingToken { .. }),
        "{:?}",
        errors[7]
    );
}
