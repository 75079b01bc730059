//! Failed triggers end to end: HTTP errors, retries within one run and between runs, wrong
//! and missing tokens, `--max-attempts`; tokens never reach output or state. The happy paths
//! are in `rebuild_cli.rs` and `rebuild_scenario.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::rebuild::{
    Factory, GH_TOKEN, GL_TOKEN, WRONG_GH_TOKEN, day, day_at, digest, github_inputs,
    github_inputs_of, gitlab_inputs, waiting,
};
use common::stderr;
use if_testkit::{Recorded, RunScript, Scripted};
use serde_json::{Value, json};

/// python:3.12-slim gets a new digest at day 0: base-py is due at day 7.
fn python_update(f: &Factory) {
    for (d, at) in [(digest('a'), day(-1)), (digest('b'), day(0))] {
        let args = [
            "record-update",
            "--image",
            "python:3.12-slim",
            "--digest",
            &d,
        ];
        f.ok(&[&args[..], &["--now", &at]].concat());
    }
}

/// base-py is rebuilt at day 0: svc-a (GitLab) is due at once, svc-b (GitHub) at day 1.
fn base_py_update(f: &Factory) {
    for (d, at) in [(digest('c'), day(-1)), (digest('d'), day(0))] {
        let args = ["record-update", "--image", "ghcr.io/acme/base-py:latest"];
        f.ok(&[&args[..], &["--digest", &d, "--now", &at]].concat());
    }
}

/// The trigger row of `image` in a reconcile report.
fn row<'a>(report: &'a Value, image: &str) -> &'a Value {
    let rows = report["triggers"].as_array().unwrap();
    let found = rows.iter().find(|t| t["image"] == image);
    found.unwrap_or_else(|| panic!("no trigger of {image} in {report}"))
}

/// The requests whose path contains `part`.
fn to(reqs: &[Recorded], part: &str) -> Vec<Recorded> {
    reqs.iter()
        .filter(|r| r.path.contains(part))
        .cloned()
        .collect()
}

#[test]
fn a_failed_trigger_is_retried_by_a_later_run_after_the_backoff() {
    let f = Factory::setup();
    python_update(&f);
    // The forge answers 500 and echoes both tokens: the stored error must not hold them.
    let echo = format!("backend down (auth {GH_TOKEN} / {GL_TOKEN})");
    f.forge
        .push_response(Scripted::status(500).json(&json!({ "message": echo })));
    let out = f.run(&["reconcile", "--now", &day(7), "--http-retries", "0"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: trigger of base-py (github acme/base-py build.yml on main) failed: \
             github still answered HTTP 500"
        ),
        "{err}"
    );
    assert!(err.contains("backend down (auth *** / ***)"), "{err}");
    assert_eq!(f.requests().len(), 1);

    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert_eq!(r["nextAttemptAt"], day_at(7, "10:05"));
    let last_error = r["lastError"].as_str().unwrap();
    assert!(
        last_error.contains("HTTP 500") && last_error.contains("***"),
        "{last_error}"
    );
    let s = f.image_state("base-py").rebuild_state.unwrap();
    assert_eq!(s.attempts, Some(1));
    assert_eq!(s.next_attempt_at.unwrap().to_string(), day_at(7, "10:05"));
    // The table says the same in words, the retry at its exact time.
    let line = f.status_line("base-py");
    assert!(
        line.contains("  pending     2026-03-17T10:05:00Z  ")
            && line.contains("retry: attempt 1 failed: github still answered HTTP 500"),
        "{line}"
    );

    // Before the backoff has passed: nothing is sent.
    let v = f.reconcile(&day_at(7, "10:04"), &[]);
    assert_eq!(v["triggers"], json!([]));
    assert_eq!(
        v["waiting"],
        json!([waiting(
            "base-py",
            Some(&day_at(7, "10:05")),
            &[],
            "retry after a failed attempt"
        )])
    );
    assert_eq!(f.requests().len(), 1);

    // At nextAttemptAt: attempt 2 succeeds and the failure is forgotten.
    let v = f.reconcile(&day_at(7, "10:05"), &["--http-retries", "0"]);
    let t = row(&v, "base-py");
    assert_eq!(
        (&t["attempt"], &t["result"]),
        (&json!(2), &json!("triggered"))
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].response_status, 500);
    // The same build again: the same inputs, but for the dispatch id of the new attempt.
    let first = github_inputs_of(&reqs[0]);
    assert_eq!(
        first,
        github_inputs(&reqs[1], "acme/base-py", "build.yml", "main")
    );
    let inputs = github_inputs(&reqs[1], "acme/base-py", "build.yml", "main");
    assert_eq!(inputs["base_digest"], digest('b'));
    // The failed attempt still counts until the build itself succeeds (a failed build would
    // be attempt 2 of --max-attempts); its error is gone.
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"], &r["lastError"]),
        (&json!("triggered"), &json!(1), &Value::Null)
    );
    assert_eq!(
        (&r["lastError"], &r["nextAttemptAt"]),
        (&Value::Null, &Value::Null)
    );
    f.assert_no_secrets();
}

#[test]
fn a_429_with_retry_after_is_retried_within_the_same_run() {
    let f = Factory::setup();
    python_update(&f);
    f.forge.push_response(Scripted::status(429).retry_after(1));
    let v = f.reconcile(&day(7), &["--http-retries", "1"]);
    assert_eq!(row(&v, "base-py")["result"], "triggered");
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        (reqs[0].response_status, reqs[1].response_status),
        (429, 200)
    );
    assert_eq!(reqs[0].violations, Vec::<String>::new());
    assert_eq!(reqs[0].body, reqs[1].body);
    github_inputs(&reqs[1], "acme/base-py", "build.yml", "main");
    let waited = reqs[1].received_at.duration_since(reqs[0].received_at);
    assert!(
        waited >= Duration::from_secs(1),
        "Retry-After: 1 not honoured: {waited:?}"
    );
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("triggered"), &Value::Null)
    );

    // A Retry-After longer than --http-timeout allows is not waited for: one request, an
    // error naming the budget, a retry by a later run.
    python_update_again(&f);
    f.forge.push_response(Scripted::status(429).retry_after(30));
    let v = f.reconcile(&day(16), &["--http-retries", "3", "--http-timeout", "2"]);
    let t = row(&v, "base-py");
    assert_eq!(t["result"], "failed");
    assert!(t["error"].as_str().unwrap().contains("HTTP 429"), "{t}");
    assert!(t["error"].as_str().unwrap().contains("retry budget"), "{t}");
    assert_eq!(f.requests().len(), 3);
    assert_eq!(f.rebuild("base-py")["nextAttemptAt"], day_at(16, "10:05"));
    f.assert_no_secrets();
}

/// base-py's build finished and python:3.12-slim moved again at day 9: due at day 16.
fn python_update_again(f: &Factory) {
    let at = day(8);
    let args = ["record-update", "--image", "ghcr.io/acme/base-py:latest"];
    f.ok(&[&args[..], &["--digest", &digest('e'), "--now", &at]].concat());
    let args = ["record-update", "--image", "python:3.12-slim", "--digest"];
    f.ok(&[&args[..], &[&digest('f'), "--now", &day(9)]].concat());
}

#[test]
fn a_wrong_token_is_recorded_and_the_other_images_still_trigger() {
    let f = Factory::setup();
    base_py_update(&f);
    let mut cmd = f.cmd(&["--format", "json", "reconcile", "--now", &day(1)]);
    cmd.env("GITHUB_TOKEN", WRONG_GH_TOKEN);
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, b) = (row(&v, "svc-a"), row(&v, "svc-b"));
    assert_eq!(
        (&a["result"], &a["pipelineId"]),
        (&json!("triggered"), &json!(1000))
    );
    assert_eq!(b["result"], "failed");
    let error = b["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 401") && error.contains("Bad credentials"),
        "{error}"
    );

    let reqs = f.requests();
    assert_eq!(reqs.len(), 2, "a 401 is not retried");
    let bad = &to(&reqs, "/repos/acme/svc-b/")[0];
    assert_eq!(bad.response_status, 401);
    assert_eq!(
        bad.header("authorization"),
        Some(format!("Bearer {WRONG_GH_TOKEN}").as_str())
    );
    assert_eq!(
        bad.violations,
        ["authorization: missing or wrong GitHub token"]
    );
    gitlab_inputs(
        &to(&reqs, "/api/v4/")[0],
        "acme/platform/svc-a",
        "main",
        "build-svc-a",
    );

    let r = f.rebuild("svc-b");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert!(r["lastError"].as_str().unwrap().contains("Bad credentials"));
    assert_eq!(f.rebuild("svc-a")["status"], "triggered");
    assert_eq!(
        f.image_state("svc-a").rebuild_history[0].pipeline_id,
        Some(1000)
    );
    f.assert_no_secrets();
}

#[test]
fn a_missing_token_fails_only_the_images_that_need_it() {
    let f = Factory::setup();
    // svc-a's pipeline keeps running, so the person's `trigger` below waits behind it.
    f.forge.script_runs(
        if_model::enrollment::Provider::Gitlab,
        "acme/platform/svc-a",
        [RunScript::RunForever],
    );
    base_py_update(&f);
    let mut cmd = f.cmd(&["reconcile", "--now", &day(1)]);
    cmd.env_remove("GITHUB_TOKEN");
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "trigger of svc-b (github acme/svc-b image.yml on release) failed: \
             no github token: set the GITHUB_TOKEN environment variable"
        ),
        "{}",
        stderr(&out)
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 1, "no request without a token");
    gitlab_inputs(&reqs[0], "acme/platform/svc-a", "main", "build-svc-a");
    let r = f.rebuild("svc-b");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert!(r["lastError"].as_str().unwrap().contains("GITHUB_TOKEN"));
    assert_eq!(f.rebuild("svc-a")["status"], "triggered");

    // A blank GITLAB_TOKEN counts as missing too; the GitHub retry goes through.
    let (retry, reason) = (day_at(1, "10:05"), "base-py is needed now");
    let mut cmd = f.cmd(&["trigger", "svc-a", "--reason", reason, "--now", &retry]);
    cmd.env("GITLAB_TOKEN", "  ");
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("set the GITLAB_TOKEN environment variable"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.requests().len(), 1);
    f.reconcile(&retry, &[]);
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    github_inputs(&reqs[1], "acme/svc-b", "image.yml", "release");
    assert_eq!(f.rebuild("svc-b")["status"], "triggered");
    f.assert_no_secrets();
}

#[test]
fn max_attempts_marks_the_image_failed_until_a_person_triggers_it() {
    let f = Factory::setup();
    python_update(&f);
    for _ in 0..2 {
        f.forge.push_response(Scripted::status(500));
    }
    let limits = ["--http-retries", "0", "--max-attempts", "2"];
    let v = f.reconcile(&day(7), &limits);
    assert_eq!(row(&v, "base-py")["result"], "failed");
    assert_eq!(f.rebuild("base-py")["status"], "pending");
    let v = f.reconcile(&day_at(7, "10:05"), &limits);
    assert_eq!(row(&v, "base-py")["attempt"], 2);
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("failed"), &json!(2))
    );
    assert_eq!(r["nextAttemptAt"], Value::Null);
    let text = f.ok(&["status"]);
    assert!(
        text.contains("    failed after 2 attempts: github still answered HTTP 500"),
        "{text}"
    );
    let last = f.image_state("base-py").rebuild_history.pop().unwrap();
    assert_eq!(last.success, Some(false));

    // Failed: later runs leave it alone.
    let v = f.reconcile(&day(8), &limits);
    assert_eq!(v["triggers"], json!([]));
    assert!(v["waiting"].as_array().unwrap().contains(&waiting(
        "base-py",
        None,
        &[],
        "gave up after 2 attempts"
    )));
    assert_eq!(f.requests().len(), 2);

    // A person triggers it: it goes through.
    let text = f.ok(&[
        "trigger",
        "base-py",
        "--reason",
        "forge is back",
        "--now",
        &day(8),
    ]);
    assert!(
        text.starts_with("triggered base-py (github acme/base-py build.yml on main, run 5"),
        "{text}"
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 3);
    let inputs = github_inputs(&reqs[2], "acme/base-py", "build.yml", "main");
    let reason = inputs["reason"].as_str().unwrap();
    assert!(reason.ends_with("; manual: forge is back"), "{reason}");
    assert_eq!(f.rebuild("base-py")["status"], "triggered");
    f.assert_no_secrets();
}

/// BUG(#5), fails today: a failed `trigger` of an image whose build is running sets its
/// status from `triggered` to `pending` (if-state `trigger_result`), so the digest that build
/// pushes is no longer its completion: the history entry of pipeline 1000 stays open forever
/// and, svc-a having no digest before, the result is taken as a mere baseline (no cascade).
#[test]
fn a_failed_manual_trigger_does_not_forget_the_running_build() {
    let f = Factory::setup();
    base_py_update(&f);
    f.reconcile(&day(1), &[]);
    assert_eq!(f.rebuild("svc-a")["status"], "triggered");
    let mut cmd = f.cmd(&[
        "trigger",
        "svc-a",
        "--reason",
        "again",
        "--now",
        &day_at(1, "11:00"),
    ]);
    cmd.env_remove("GITLAB_TOKEN");
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("set the GITLAB_TOKEN environment variable"));
    assert_eq!(
        f.rebuild("svc-a")["lastError"],
        "no gitlab token: set the GITLAB_TOKEN environment variable"
    );

    // The build started at day 1 (pipeline 1000) pushes its digest.
    let at = day_at(1, "12:00");
    let args = ["record-build", "--image", "svc-a", "--digest", &digest('5')];
    let v = f.json(&[&args[..], &["--now", &at]].concat());
    let h = f.image_state("svc-a").rebuild_history;
    assert_eq!(h[0].pipeline_id, Some(1000));
    assert_eq!(
        (v["completed"].clone(), h[0].success),
        (json!(true), Some(true)),
        "the running build was forgotten: {v}"
    );
    assert_eq!(h[0].completed_at.map(|t| t.to_string()), Some(at));
    f.assert_no_secrets();
}

#[test]
fn a_token_with_a_trailing_newline_is_trimmed_and_never_printed() {
    let f = Factory::setup();
    python_update(&f);
    let mut cmd = f.cmd(&["--format", "json", "reconcile", "--now", &day(7)]);
    // A token read from a mounted Secret file often ends with a newline.
    cmd.env("GITHUB_TOKEN", format!("{GH_TOKEN}\n"));
    let out = f.exec(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row(&v, "base-py")["result"], "triggered", "{v}");
    let requests = f.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {GH_TOKEN}").as_str())
    );
    f.assert_no_secrets();
}
