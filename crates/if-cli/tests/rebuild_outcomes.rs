//! What became of every build, end to end through the CLI against the fake forge's scripted
//! runs (issue 17): a run that succeeds before its digest is seen, a failure retried after
//! the backoff, cancellations up to `failed`, a GitLab pipeline that never finishes given up
//! after `buildTimeout`, a build that reports its own failure, an old GitHub Enterprise
//! Server without run details, and a crash in the middle of a reconcile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::crash::Many;
use common::rebuild::{Factory, GH_TOKEN, GL_TOKEN, day, day_at, digest, github_inputs};
use common::stderr;
use if_model::enrollment::Provider;
use if_testkit::{FakeForge, RunScript};
use serde_json::{Value, json};

/// python:3.12-slim gets a new digest on day 0: base-py is due on day 7.
fn python_update(f: &Factory) {
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
}

/// The polls of the fake so far: GETs of a run, a pipeline or a run list.
fn polls(f: &Factory) -> usize {
    f.all_requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count()
}

/// The newest history entry of `name`.
fn last_build(f: &Factory, name: &str) -> if_model::state::RebuildRecord {
    f.image_state(name).rebuild_history.last().cloned().unwrap()
}

#[test]
fn a_run_that_succeeds_closes_the_rebuild_before_the_digest_and_the_digest_still_cascades() {
    let f = Factory::setup();
    f.forge.script_runs(
        Provider::Github,
        "acme/base-py",
        [RunScript::running_for(1, RunScript::Succeed)],
    );
    python_update(&f);
    let v = f.reconcile(&day(7), &[]);
    let run = format!("{}/acme/base-py/actions/runs/5000", f.forge.url());
    assert_eq!(
        (&v["triggers"][0]["runId"], &v["triggers"][0]["runUrl"]),
        (&json!(5000), &json!(run))
    );
    // The poll says `in_progress`: kept, shown by status with the time it is given up.
    let v = f.reconcile(&day_at(7, "11:00"), &[]);
    assert_eq!(v["polled"][0]["state"], "running");
    assert_eq!(
        last_build(&f, "base-py").run_status.as_deref(),
        Some("in_progress")
    );
    let detail = &f.status()["base-py"]["rebuild"];
    assert_eq!(
        (&detail["runUrl"], &detail["runStatus"], &detail["giveUpAt"]),
        (&json!(run), &json!("in_progress"), &json!(day(14)))
    );
    // The next poll says success: closed, although no digest was seen.
    let v = f.reconcile(&day_at(7, "12:00"), &[]);
    assert_eq!(v["polled"][0]["state"], "succeeded");
    let h = last_build(&f, "base-py");
    assert_eq!(
        (h.success, h.conclusion.as_deref(), h.run_url.as_deref()),
        (Some(true), Some("success"), Some(run.as_str()))
    );
    assert_eq!(f.rebuild("base-py")["status"], "monitoring");
    // Its dependents wait for its new digest (they are built on it), and nothing is sent.
    assert_eq!(f.reconcile(&day_at(7, "13:00"), &[])["triggers"], json!([]));
    assert_eq!(f.requests().len(), 1);
    assert_eq!(polls(&f), 2, "no poll of a closed build");
    // The digest comes: the cascade starts as before.
    // (base-py had no digest before: this first one is the build's, not a baseline.)
    let v = f.record(
        "ghcr.io/acme/base-py:latest",
        &digest('c'),
        &day_at(7, "14:00"),
    );
    assert_eq!(
        (&v["outcome"], &v["scheduled"][0]["image"]),
        (&json!("updated"), &json!("svc-a"))
    );
    let v = f.reconcile(&day_at(7, "14:00"), &[]);
    assert_eq!(v["triggers"][0]["image"], "svc-a");
    f.assert_no_secrets();
}

#[test]
fn a_failed_run_is_a_failed_attempt_retried_after_the_backoff_then_it_succeeds() {
    let f = Factory::setup();
    f.forge.script_runs(
        Provider::Github,
        "acme/base-py",
        [RunScript::fail("failure"), RunScript::Succeed],
    );
    python_update(&f);
    f.reconcile(&day(7), &[]);
    let v = f.reconcile(&day_at(7, "10:30"), &[]);
    assert_eq!(
        (&v["polled"][0]["state"], &v["polled"][0]["status"]),
        (&json!("failed"), &json!("failure"))
    );
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"], &r["nextAttemptAt"]),
        (&json!("pending"), &json!(1), &json!(day_at(7, "10:35")))
    );
    let run = format!("{}/acme/base-py/actions/runs/5000", f.forge.url());
    assert!(r["lastError"].as_str().unwrap().contains(&run), "{r}");
    let h = last_build(&f, "base-py");
    assert_eq!(
        (h.success, h.conclusion.as_deref()),
        (Some(false), Some("failure"))
    );
    // Not before the backoff; then the same build again, on the same aged digest.
    assert_eq!(f.reconcile(&day_at(7, "10:34"), &[])["triggers"], json!([]));
    let v = f.reconcile(&day_at(7, "10:35"), &[]);
    assert_eq!(v["triggers"][0]["attempt"], 2);
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    let first = github_inputs(&reqs[0], "acme/base-py", "build.yml", "main");
    let second = github_inputs(&reqs[1], "acme/base-py", "build.yml", "main");
    assert_eq!(first["base_digest"], second["base_digest"]);
    // The second run succeeds: the attempts are forgotten.
    f.reconcile(&day_at(7, "11:00"), &[]);
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("monitoring"), &Value::Null)
    );
    f.assert_no_secrets();
}

#[test]
fn cancelled_runs_up_to_the_last_attempt_leave_the_image_failed_with_the_run_page() {
    let f = Factory::setup();
    f.forge.script_runs(
        Provider::Github,
        "acme/base-py",
        [RunScript::fail("cancelled"), RunScript::fail("skipped")],
    );
    python_update(&f);
    let limits = ["--max-attempts", "2"];
    f.reconcile(&day(7), &limits);
    f.reconcile(&day_at(7, "10:05"), &limits);
    f.reconcile(&day_at(7, "10:10"), &limits);
    f.reconcile(&day_at(7, "10:20"), &limits);
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["attempts"]),
        (&json!("failed"), &json!(2))
    );
    let run = format!("{}/acme/base-py/actions/runs/5001", f.forge.url());
    assert_eq!(r["runUrl"], run);
    assert!(
        f.status_line("base-py").contains(&run),
        "{}",
        f.status_line("base-py")
    );
    // Given up: later runs send nothing and ask nothing.
    let before = polls(&f);
    assert_eq!(f.reconcile(&day(9), &limits)["triggers"], json!([]));
    assert_eq!((f.requests().len(), polls(&f)), (2, before));
}

#[test]
fn a_pipeline_that_stays_running_is_given_up_after_build_timeout_and_retried() {
    let f = Factory::setup();
    f.forge.script_runs(
        Provider::Gitlab,
        "acme/platform/svc-a",
        [RunScript::RunForever, RunScript::Succeed],
    );
    // base-py's new digest schedules svc-a now (cascadeDelay 0m).
    f.record("ghcr.io/acme/base-py:latest", &digest('c'), &day(-1));
    f.record("ghcr.io/acme/base-py:latest", &digest('d'), &day(0));
    let v = f.reconcile(&day(0), &[]);
    assert_eq!(v["triggers"][0]["pipelineId"], 1000);
    for hour in ["12:00", "18:00"] {
        let v = f.reconcile(&day_at(0, hour), &[]);
        assert_eq!(v["polled"][0]["status"], "running");
    }
    assert_eq!(f.status()["svc-a"]["rebuild"]["giveUpAt"], json!(day(1)));
    // A day after the trigger: no outcome, a failed attempt.
    let out = f.exec(f.cmd(&["reconcile", "--now", &day(1)]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the build of svc-a had no outcome within its buildTimeout"),
        "{}",
        stderr(&out)
    );
    let h = last_build(&f, "svc-a");
    assert_eq!(
        (
            h.success,
            h.conclusion.as_deref(),
            h.failure_reason.as_deref()
        ),
        (
            Some(false),
            Some("no-outcome"),
            Some("no outcome within 1d")
        )
    );
    let v = f.reconcile(&day_at(1, "10:05"), &[]);
    assert_eq!(v["triggers"][0]["pipelineId"], 1001);
    f.reconcile(&day_at(1, "11:00"), &[]);
    assert_eq!(f.rebuild("svc-a")["status"], "monitoring");
    let pipelines = f
        .requests()
        .iter()
        .filter(|r| r.path.contains("svc-a"))
        .count();
    assert_eq!(pipelines, 2, "one pipeline given up, one that succeeded");
    f.assert_no_secrets();
}

#[test]
fn a_build_that_reports_its_failure_is_a_failed_attempt_and_the_same_report_twice_changes_nothing()
{
    let f = Factory::setup();
    f.forge
        .script_runs(Provider::Github, "acme/base-py", [RunScript::RunForever]);
    python_update(&f);
    f.reconcile(&day(7), &[]);
    let url = "https://ci.example/acme/base-py/runs/1";
    let args = [
        "record-build",
        "--image",
        "base-py",
        "--failed",
        "--reason",
        "tests failed on arm64",
        "--run-url",
        url,
        "--now",
        &day_at(7, "10:30"),
    ];
    let v = f.json(&args);
    assert_eq!(v["outcome"], "failed");
    let h = last_build(&f, "base-py");
    assert_eq!(
        (
            h.conclusion.as_deref(),
            h.failure_reason.as_deref(),
            h.run_url.as_deref()
        ),
        (Some("reported"), Some("tests failed on arm64"), Some(url))
    );
    assert_eq!(f.rebuild("base-py")["attempts"], 1);
    let before = f.tree();
    let v = f.json(&args);
    assert_eq!(v["outcome"], "no-running-build");
    assert_eq!(f.tree(), before, "the same report twice wrote something");
    // --failed takes no digest, and --reason needs --failed.
    f.refused(&[
        "record-build",
        "--image",
        "base-py",
        "--failed",
        "--digest",
        &digest('e'),
    ]);
    f.refused(&["record-build", "--image", "base-py", "--reason", "x"]);
}

#[test]
fn an_old_enterprise_server_is_asked_again_without_run_details_and_the_run_found_by_its_id() {
    let f = Factory::setup();
    f.forge.set_run_details(false);
    f.forge.set_clock(&day(7));
    python_update(&f);
    let v = f.reconcile(&day(7), &[]);
    assert_eq!(
        (&v["triggers"][0]["result"], &v["triggers"][0]["runId"]),
        (&json!("triggered"), &Value::Null)
    );
    // One refused dispatch, one accepted: one run, no duplicate.
    let posts = f.requests();
    assert_eq!(
        posts.iter().map(|r| r.response_status).collect::<Vec<_>>(),
        [422, 204]
    );
    assert_eq!(f.forge.runs().len(), 1);
    let h = last_build(&f, "base-py");
    let id = h.dispatch_id.clone().unwrap();
    assert!(
        f.forge.runs()[0]
            .display_title
            .ends_with(&format!("[{id}]"))
    );
    // The next reconcile finds the run by its dispatch id in the run list, and closes it.
    let v = f.reconcile(&day_at(7, "11:00"), &[]);
    assert_eq!(
        (&v["polled"][0]["runId"], &v["polled"][0]["state"]),
        (&json!(5000), &json!("succeeded"))
    );
    let list = f
        .all_requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert!(
        list.path
            .starts_with("/repos/acme/base-py/actions/workflows/build.yml/runs?"),
        "{}",
        list.path
    );
    assert_eq!(list.violations, Vec::<String>::new());
    assert_eq!(last_build(&f, "base-py").run_id, Some(5000));
    assert_eq!(f.rebuild("base-py")["status"], "monitoring");
}

/// Thirty images on node:22 (GitHub), all due on day 1.
const IMAGES: usize = 30;
/// The dispatch a crash interrupts.
const HOLD: usize = 17;

#[test]
fn a_crash_in_the_middle_of_a_reconcile_sends_again_at_most_the_build_in_flight() {
    let many = Many::new(IMAGES);
    let forge = FakeForge::start(GH_TOKEN, GL_TOKEN);
    many.prepare(&forge);
    // The reconcile is killed while its HOLD-th dispatch waits for an answer.
    let killed = many.kill_at_dispatch(&forge, HOLD, &["reconcile", "--now", &day(1)]);
    assert!(killed, "the reconcile never reached the held dispatch");
    let before: Vec<String> = forge.runs().iter().map(|r| r.repo.clone()).collect();
    assert_eq!(before.len(), HOLD - 1, "{before:?}");
    // Every build sent before the crash is recorded as running: the rerun sends the others,
    // the one in flight among them, and none twice.
    assert!(
        many.cli(&forge.url(), &["reconcile", "--now", &day_at(1, "10:01")])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(many.started_once(&forge), IMAGES);
    // Every state file is whole and parses.
    let out = many.cli(&forge.url(), &["validate"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_crash_in_a_git_repo_reconcile_loses_none_of_the_builds_it_pushed() {
    if !if_testkit::git::git_installed() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let many = Many::new(IMAGES);
    let forge = FakeForge::start(GH_TOKEN, GL_TOKEN);
    many.prepare(&forge);
    let (_daemon, url) = many.publish();
    let empty = tempfile::tempdir().unwrap();
    let args = [
        "--git-repo",
        url.as_str(),
        "--root",
        "factory",
        "reconcile",
        "--now",
        &day(1),
    ];
    let killed = many.kill_at_dispatch_in(&forge, HOLD, &args, empty.path());
    assert!(killed, "the reconcile never reached the held dispatch");
    assert_eq!(forge.runs().len(), HOLD - 1);
    // The killed run pushed a checkpoint after each build it started: the rerun, from a
    // fresh clone, sends only the others.
    let args = [
        "--git-repo",
        url.as_str(),
        "--root",
        "factory",
        "reconcile",
        "--now",
        &day_at(1, "10:01"),
    ];
    let status = many
        .cli_in(&forge.url(), &args, empty.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(many.started_once(&forge), IMAGES);
}

#[test]
fn weeks_of_failing_hanging_and_succeeding_builds_end_with_every_image_rebuilt_or_failed() {
    let f = Factory::setup();
    // base-py (GitHub) fails once; svc-a (GitLab) hangs once; svc-b (GitHub) is cancelled
    // every time; top succeeds. `--max-attempts 3`.
    f.forge.script_runs(
        Provider::Github,
        "acme/base-py",
        [RunScript::fail("failure"), RunScript::Succeed],
    );
    f.forge.script_runs(
        Provider::Gitlab,
        "acme/platform/svc-a",
        [RunScript::RunForever, RunScript::Succeed],
    );
    f.forge.script_runs(
        Provider::Github,
        "acme/svc-b",
        vec![RunScript::fail("cancelled"); 3],
    );
    python_update(&f);
    let limits = ["--max-attempts", "3"];
    // Two weeks, hourly: reconcile (polls, timeouts, triggers), and record the digest a
    // finished build pushed, as Kargo's Warehouse would, an hour after its success.
    let mut pushed: std::collections::BTreeMap<String, usize> = Default::default();
    let images = ["base-py", "svc-a", "svc-b", "top"];
    let mut last = String::new();
    for hour in 0..(14 * 24) {
        let (d, h) = (7 + hour / 24, hour % 24);
        if d > 21 {
            break;
        }
        last = day_at(d, &format!("{h:02}:00"));
        f.reconcile(&last, &limits);
        for (i, name) in images.iter().enumerate() {
            let successes = f
                .image_state(name)
                .rebuild_history
                .iter()
                .filter(|r| r.success == Some(true))
                .count();
            let seen = pushed.entry(name.to_string()).or_default();
            if successes > *seen {
                *seen = successes;
                let n = u32::try_from(2 + i * 3 + successes).unwrap();
                let c = char::from_digit(n, 16).unwrap();
                let registry = if *name == "svc-a" {
                    "registry.gitlab.com/acme/platform/svc-a:latest".to_string()
                } else {
                    format!("ghcr.io/acme/{name}:latest")
                };
                f.record(&registry, &digest(c), &last);
            }
        }
    }
    // Every image is back to monitoring, or failed with a reason and the run's page.
    let status = f.status();
    for name in ["base-py", "svc-a", "top"] {
        assert_eq!(status[name]["rebuild"]["status"], "monitoring", "{name}");
    }
    let svc_b = &status["svc-b"]["rebuild"];
    assert_eq!(
        (&svc_b["status"], &svc_b["attempts"]),
        (&json!("failed"), &json!(3))
    );
    assert!(
        svc_b["lastError"].as_str().unwrap().contains("cancelled"),
        "{svc_b}"
    );
    // Each change that served its delay was built once: base-py on python's digest, svc-a
    // and top on base-py's new one (top on svc-a's, svc-b having failed); no build is open.
    let built = |name: &str| -> Vec<Option<bool>> {
        f.image_state(name)
            .rebuild_history
            .iter()
            .map(|r| r.success)
            .collect()
    };
    assert_eq!(built("base-py"), [Some(false), Some(true)]);
    assert_eq!(built("svc-a"), [Some(false), Some(true)]);
    assert_eq!(built("svc-b"), [Some(false); 3]);
    assert_eq!(built("top"), [Some(true)]);
    // The replay of the last step sends nothing and writes nothing.
    let (posts, tree) = (f.requests().len(), f.tree());
    f.reconcile(&last, &limits);
    assert_eq!((f.requests().len(), f.tree()), (posts, tree));
    f.assert_no_secrets();
}
