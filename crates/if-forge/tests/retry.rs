//! The retry loop against the fake forge: 5xx, 429 with Retry-After, hang-ups, dead ports,
//! the attempt and time budgets, and tokens kept out of every error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use if_forge::{Endpoints, ForgeError, GaveUp, Retry, Triggered, trigger};
use if_model::enrollment::Provider;
use if_testkit::Scripted;
use serde_json::json;

#[test]
fn server_error_then_success_is_retried() {
    let forge = forge();
    forge.push_response(Scripted::status(500));
    let result = trigger(&client(&forge, fast_retry(4)), &github_source(), &[]);
    assert!(
        matches!(result.unwrap(), Triggered::Github { run: Some(_) }),
        "the run's details"
    );
    let requests = forge.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| r.response_status)
            .collect::<Vec<_>>(),
        vec![500, 200]
    );
    assert!(requests.iter().all(|r| r.violations.is_empty()));
}

#[test]
fn gitlab_502_then_success_returns_the_pipeline() {
    let forge = forge();
    forge.push_response(Scripted::status(502));
    let result = trigger(&client(&forge, fast_retry(4)), &gitlab_source(), &[]).unwrap();
    assert!(
        matches!(
            result,
            Triggered::Gitlab {
                pipeline_id: 1000,
                ..
            }
        ),
        "{result:?}"
    );
    assert_eq!(forge.requests().len(), 2);
}

#[test]
fn retry_after_is_honoured() {
    let forge = forge();
    forge.push_response(Scripted::status(429).retry_after(1));
    let start = Instant::now();
    trigger(&client(&forge, fast_retry(4)), &github_source(), &[]).unwrap();
    let requests = forge.requests();
    assert_eq!(requests.len(), 2);
    // Lower bounds only: the backoff alone would wait 10 ms.
    let gap = requests[1].received_at - requests[0].received_at;
    assert!(
        gap >= Duration::from_millis(950),
        "second request after {gap:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn gives_up_after_the_attempts_and_reports_the_status() {
    let forge = forge();
    for _ in 0..3 {
        forge.push_response(Scripted::status(503).json(&json!({"message": "try later"})));
    }
    let err = trigger(&client(&forge, fast_retry(3)), &github_source(), &[]).unwrap_err();
    let ForgeError::Unavailable {
        provider,
        status,
        attempts,
        gave_up,
        message,
        ..
    } = &err
    else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert_eq!((*provider, *status, *attempts), (Provider::Github, 503, 3));
    assert_eq!(*gave_up, GaveUp::Attempts);
    assert_eq!(message, "try later");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert_eq!(forge.requests().len(), 3);
}

#[test]
fn a_wait_past_the_budget_is_not_made() {
    let forge = forge();
    forge.push_response(Scripted::status(429).retry_after(3600));
    let retry = Retry {
        attempts: 5,
        base_delay: Duration::from_millis(10),
        max_total: Duration::from_secs(5),
    };
    let err = trigger(&client(&forge, retry), &github_source(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::Unavailable {
                status: 429,
                attempts: 1,
                gave_up: GaveUp::Budget { next_wait },
                ..
            } if next_wait == Duration::from_secs(3600)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("retry budget"), "{err}");
    assert_eq!(forge.requests().len(), 1);
}

#[test]
fn github_rate_limit_403_is_retried() {
    let forge = forge();
    forge.push_response(Scripted::status(403).retry_after(0));
    trigger(&client(&forge, fast_retry(3)), &github_source(), &[]).unwrap();
    assert_eq!(forge.requests().len(), 2);
}

/// A GET is safe to send again: a hang-up before the answer is retried.
#[test]
fn hang_up_on_a_get_then_success_is_retried() {
    let forge = forge();
    let client = client(&forge, fast_retry(3));
    let Triggered::Gitlab { pipeline_id, .. } = trigger(&client, &gitlab_source(), &[]).unwrap()
    else {
        panic!("not a pipeline");
    };
    forge.push_response(Scripted::hang_up());
    let status = if_forge::run_status(&client, &gitlab_source(), pipeline_id).unwrap();
    assert_eq!(status.state, if_forge::RunState::Succeeded);
    let statuses: Vec<u16> = forge.requests().iter().map(|r| r.response_status).collect();
    assert_eq!(statuses, vec![201, 0, 200]);
}

/// The rule for a POST: once its request may have reached the forge (here: read whole,
/// then the connection closed without an answer) it is never sent again, since the forge
/// may have started the build; it fails with `OutcomeUnknown` after exactly one request.
#[test]
fn a_post_that_may_have_reached_the_forge_is_never_sent_again() {
    for source in [github_source(), gitlab_source()] {
        let forge = forge();
        forge.push_response(Scripted::hang_up());
        let err = trigger(&client(&forge, fast_retry(4)), &source, &[]).unwrap_err();
        let ForgeError::OutcomeUnknown {
            provider,
            method,
            attempts,
            ..
        } = &err
        else {
            panic!("expected OutcomeUnknown, got {err:?}");
        };
        assert_eq!(
            (*provider, *method, *attempts),
            (source.provider, "POST", 1)
        );
        assert!(err.to_string().contains("not sent again"), "{err}");
        assert_eq!(err.attempts(), 1);
        assert_no_token(&err);
        assert_eq!(forge.requests().len(), 1, "exactly one request");
        assert!(forge.runs().is_empty(), "the hang-up started nothing here");
    }
}

/// The same rule for a timeout: a server that takes the request and never answers may have
/// acted on it, so the POST times out once and fails with `OutcomeUnknown` (without the
/// rule it would be a `Connection` error, retried while the budget allows).
#[test]
fn a_post_that_timed_out_waiting_for_the_answer_is_not_sent_again() {
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&accepted);
    // Accepts every connection and keeps it open, silent, until the test ends.
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(3) {
            counter.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    // A budget of 1 s cuts each request's timeout to 1 s (the shortest there is).
    let retry = Retry {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_total: Duration::from_millis(1),
    };
    let endpoints = Endpoints {
        github_api: url.clone(),
        gitlab_api: format!("{url}/api/v4"),
    };
    let client = if_forge::Client::new(
        endpoints,
        Some(if_forge::Secret::new(GITHUB_TOKEN.to_owned())),
        None,
        retry,
    );
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert!(
        matches!(err, ForgeError::OutcomeUnknown { attempts: 1, .. }),
        "{err:?}"
    );
    assert_no_token(&err);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one connection, one request"
    );
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let (dead, client) = dead_client();
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    let ForgeError::Connection {
        provider,
        url,
        attempts,
        gave_up,
        ..
    } = &err
    else {
        panic!("expected Connection, got {err:?}");
    };
    assert_eq!(
        (*provider, *attempts, *gave_up),
        (Provider::Gitlab, 3, GaveUp::Attempts)
    );
    assert_eq!(
        url,
        &format!("{dead}/api/v4/projects/acme%2Fplatform%2Fsvc/pipeline")
    );
    let text = err.to_string();
    assert!(
        text.starts_with("cannot reach gitlab at http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert_no_token(&err);
}

#[test]
fn a_malformed_base_url_is_not_retried() {
    let client = client_with(
        Endpoints {
            github_api: "not a url".to_owned(),
            gitlab_api: "not a url".to_owned(),
        },
        Some(GITHUB_TOKEN),
        None,
    );
    let err = trigger(&client, &github_source(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::Connection {
                attempts: 1,
                gave_up: GaveUp::NotRetryable,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn tokens_never_appear_in_errors() {
    let forge = forge();
    let client = client(&forge, fast_retry(2));
    let echo = echo_tokens();
    let mut errors = Vec::new();

    forge.push_response(Scripted::status(422).json(&echo));
    errors.push(trigger(&client, &github_source(), &[]).unwrap_err());
    forge.push_response(Scripted::status(400).body(format!("bad {GITLAB_TOKEN}")));
    errors.push(trigger(&client, &gitlab_source(), &[]).unwrap_err());
    for _ in 0..2 {
        forge.push_response(Scripted::status(500).json(&echo));
    }
    errors.push(trigger(&client, &github_source(), &[]).unwrap_err());
    forge.push_response(Scripted::status(201).body(format!("no id {GITLAB_TOKEN}")));
    errors.push(trigger(&client, &gitlab_source(), &[]).unwrap_err());
    let wrong = client_with(endpoints(&forge), Some(WRONG_GITHUB), Some(WRONG_GITLAB));
    errors.push(trigger(&wrong, &github_source(), &[]).unwrap_err());
    errors.push(trigger(&wrong, &gitlab_source(), &[]).unwrap_err());

    assert_eq!(errors.len(), 6);
    assert_scrubbed(&errors);
    assert!(format!("{client:?}").contains("***"));
    assert!(!format!("{client:?}").contains(GITHUB_TOKEN));
}
