//! GitHub `workflow_dispatch` against the fake forge: the exact request, and each refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use if_forge::{Endpoints, ForgeError, RunLink, Triggered, trigger};
use if_model::enrollment::Provider;
use if_testkit::Scripted;
use serde_json::json;

#[test]
fn dispatch_sends_exactly_the_documented_request() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let given = inputs(&[
        ("image", "app"),
        ("reason", "base updated"),
        ("base_image", "x:1"),
    ]);
    let result = trigger(&client, &github_source(), &given);
    // "Create a workflow dispatch event" with `return_run_details: true`: 200 and the run.
    assert_eq!(
        result.unwrap(),
        Triggered::Github {
            run: Some(RunLink {
                id: 5000,
                html_url: Some(format!("{}/acme/app/actions/runs/5000", forge.url())),
            })
        }
    );

    let requests = forge.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        "/repos/acme/app/actions/workflows/build.yml/dispatches"
    );
    let host = forge.url().trim_start_matches("http://").to_owned();
    let user_agent = format!("image-factory/{}", env!("CARGO_PKG_VERSION"));
    let mut headers = r.headers.clone();
    headers.sort();
    let mut want = vec![
        ("accept", "application/vnd.github+json".to_owned()),
        ("authorization", format!("Bearer {GITHUB_TOKEN}")),
        ("content-length", r.body.len().to_string()),
        ("content-type", "application/json".to_owned()),
        ("host", host),
        ("user-agent", user_agent),
        ("x-github-api-version", "2022-11-28".to_owned()),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect::<Vec<_>>();
    want.sort();
    assert_eq!(headers, want);
    assert_eq!(
        r.json(),
        json!({"ref": "main", "inputs": {"image": "app", "reason": "base updated", "base_image": "x:1"},
               "return_run_details": true})
    );
    assert_eq!(r.response_status, 200);
    assert_eq!(r.violations, Vec::<String>::new());
}

#[test]
fn workflow_name_is_one_encoded_segment_and_base_slash_is_ignored() {
    let forge = forge();
    let mut endpoints = endpoints(&forge);
    endpoints.github_api.push('/');
    let client = client_with(endpoints, Some(GITHUB_TOKEN), None);
    let mut source = github_source();
    source.workflow = Some("build image.yml".to_owned());
    source.branch = "release/1.x".to_owned();
    trigger(&client, &source, &[]).unwrap();
    let r = &forge.requests()[0];
    assert_eq!(
        r.path,
        "/repos/acme/app/actions/workflows/build%20image.yml/dispatches"
    );
    assert_eq!(
        r.json(),
        json!({"ref": "release/1.x", "inputs": {}, "return_run_details": true})
    );
    assert_eq!(r.violations, Vec::<String>::new());
}

#[test]
fn missing_workflow_fails_without_a_request() {
    let forge = forge();
    let mut source = github_source();
    source.workflow = None;
    let err = trigger(&client(&forge, fast_retry(3)), &source, &[]).unwrap_err();
    assert!(
        matches!(&err, ForgeError::MissingWorkflow { repo } if repo == "acme/app"),
        "{err:?}"
    );
    assert_eq!(err.attempts(), 0);
    assert!(forge.requests().is_empty());
}

/// GitHub allows 25 `workflow_dispatch` inputs (it was 10).
#[test]
fn more_than_25_inputs_fail_without_a_request() {
    let forge = forge();
    let client = client(&forge, fast_retry(3));
    let many: Vec<(String, String)> = (0..26)
        .map(|i| (format!("in{i}"), "v".to_owned()))
        .collect();
    let err = trigger(&client, &github_source(), &many).unwrap_err();
    assert!(
        matches!(err, ForgeError::TooManyInputs { count: 26, max: 25 }),
        "{err:?}"
    );
    assert_eq!(if_forge::GITHUB_MAX_INPUTS, if_testkit::GITHUB_MAX_INPUTS);
    assert!(forge.requests().is_empty());
    trigger(&client, &github_source(), &many[..25]).unwrap();
    assert_eq!(forge.requests().len(), 1);
    assert_eq!(forge.requests()[0].violations, Vec::<String>::new());
}

#[test]
fn missing_or_blank_token_fails_without_a_request() {
    let forge = forge();
    for token in [None, Some(""), Some("   ")] {
        let client = client_with(endpoints(&forge), token, Some(GITLAB_TOKEN));
        let err = trigger(&client, &github_source(), &[]).unwrap_err();
        assert!(
            matches!(
                err,
                ForgeError::MissingToken {
                    provider: Provider::Github,
                    env: "GITHUB_TOKEN"
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("GITHUB_TOKEN"), "{err}");
    }
    assert!(forge.requests().is_empty());
}

#[test]
fn wrong_token_fails_at_once_with_bad_credentials() {
    let forge = forge();
    let wrong = "ghp_WRONGtoken";
    let client = client_with(endpoints(&forge), Some(wrong), None);
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    let ForgeError::Rejected {
        provider,
        method,
        status,
        url,
        message,
        attempts,
    } = &err
    else {
        panic!("expected Rejected, got {err:?}");
    };
    assert_eq!((*provider, *status, *attempts), (Provider::Github, 401, 1));
    assert_eq!(*method, "POST");
    assert_eq!(message, "Bad credentials");
    assert!(url.ends_with("/repos/acme/app/actions/workflows/build.yml/dispatches"));
    assert!(err.to_string().contains("Bad credentials"), "{err}");
    assert!(!err.to_string().contains(wrong) && !format!("{err:?}").contains(wrong));
    assert_eq!(forge.requests().len(), 1);
}

#[test]
fn unprocessable_422_fails_at_once_with_the_message() {
    let forge = forge();
    forge.push_response(
        Scripted::status(422).json(&json!({"message": "Unexpected inputs provided: [\"x\"]"})),
    );
    let err = trigger(&client(&forge, fast_retry(4)), &github_source(), &[]).unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(err.attempts(), 1);
    assert!(
        err.to_string().contains("Unexpected inputs provided"),
        "{err}"
    );
    assert_eq!(forge.requests().len(), 1);
}

#[test]
fn not_found_404_fails_at_once() {
    let forge = forge();
    let client = client_with(
        Endpoints {
            github_api: format!("{}/nowhere", forge.url()),
            gitlab_api: forge.gitlab_api(),
        },
        Some(GITHUB_TOKEN),
        None,
    );
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::Rejected {
                status: 404,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Not Found"), "{err}");
}
