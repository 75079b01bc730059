//! The rebuild engine's timelines end to end: simulated days with `--now` through the
//! binary, from a base image's new digest to the last image of a diamond, with a `FakeForge`
//! that checks and records every request. Single commands are in `rebuild_cli.rs`, failures
//! and retries in `rebuild_failures.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rebuild::{Factory, day, day_at, digest, github_inputs, gitlab_inputs, waiting};
use serde_json::{Value, json};

/// A step of `plan --format json` that triggers `image` at `at` for the changes of `via`.
fn step(at: &str, image: &str, via: Value) -> Value {
    json!({"at": at, "image": image, "action": "trigger", "via": via})
}

#[test]
fn a_base_image_update_rebuilds_the_chain_then_the_diamond_once_each() {
    let f = Factory::setup();
    let (old, new) = (digest('a'), digest('b'));

    // The first digest seen is a baseline: nothing is scheduled.
    let v = f.record("python:3.12-slim", &old, &day(-1));
    assert_eq!(
        (v["outcome"].clone(), v["scheduled"].clone()),
        (json!("baseline"), json!([]))
    );
    assert_eq!(f.status()["base-py"]["rebuild"]["status"], "monitoring");

    // Day 0: a new digest schedules base-py after its rebuildDelay (7d).
    let v = f.record("python:3.12-slim", &new, &day(0));
    assert_eq!(v["outcome"], "updated");
    assert_eq!(v["scheduled"], json!([{"image": "base-py", "at": day(7)}]));
    let r = f.rebuild("base-py");
    assert_eq!(r["status"], "pending");
    assert_eq!(r["scheduledFor"], day(7));
    assert_eq!(r["causes"], 1);
    assert_eq!(
        r["reason"],
        "base image python:3.12-slim updated to sha256:bbbbbbbb"
    );
    assert!(
        f.status_line("base-py")
            .contains("  pending     2026-03-17T10:00:00Z  ")
    );

    // The plan: base-py at day 7, svc-a right after it (cascadeDelay 0m), svc-b a day later
    // (1d), top once, after both. It changes nothing.
    let before = f.tree();
    let text = f.ok(&["plan", "python:3.12-slim", "--now", &day(0)]);
    assert_eq!(
        text,
        "a new digest of python-3.12-slim at 2026-03-10T10:00:00Z would rebuild:\n\
         \x20 2026-03-17T10:00:00Z  base-py                  trigger, for python-3.12-slim\n\
         \x20 2026-03-17T10:00:00Z  svc-a                    trigger, for base-py\n\
         \x20 2026-03-18T10:00:00Z  svc-b                    trigger, for base-py\n\
         \x20 2026-03-18T10:00:00Z  top                      trigger, for svc-a, svc-b\n"
    );
    let plan = f.json(&["plan", "python:3.12-slim", "--now", &day(0)]);
    assert_eq!(
        plan,
        json!({
            "schemaVersion": 1, "base": "python-3.12-slim", "at": day(0), "pinned": [], "stuck": [], "running": [], "held": [], "expedited": [],
            "steps": [
                step(&day(7), "base-py", json!(["python-3.12-slim"])),
                step(&day(7), "svc-a", json!(["base-py"])),
                step(&day(8), "svc-b", json!(["base-py"])),
                step(&day(8), "top", json!(["svc-a", "svc-b"])),
            ],
        })
    );
    assert_eq!(f.tree(), before);

    // Day 6: still waiting, nothing sent.
    let v = f.reconcile(&day(6), &[]);
    assert_eq!(v["triggers"], json!([]));
    assert_eq!(
        v["waiting"],
        json!([waiting(
            "base-py",
            Some(&day(7)),
            &[],
            "waiting for the delay"
        )])
    );
    assert!(f.requests().is_empty());

    // Day 7: exactly one workflow_dispatch for base-py, with the new digest.
    let v = f.reconcile(&day(7), &[]);
    let t = &v["triggers"][0];
    assert_eq!(v["triggers"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        (&t["image"], &t["provider"], &t["result"], &t["attempt"]),
        (
            &json!("base-py"),
            &json!("github"),
            &json!("triggered"),
            &json!(1)
        )
    );
    assert_eq!(v["written"], json!(["state/images/base-py.yaml"]));
    let reqs = f.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        github_inputs(&reqs[0], "acme/base-py", "build.yml", "main"),
        json!({
            "image": "base-py",
            "reason": "base image python:3.12-slim updated to sha256:bbbbbbbb",
            "triggered_by": "base-image-update",
            "base_image": "python:3.12-slim",
            "base_digest": new,
            "causes": [{"baseImage": "python:3.12-slim", "digest": new, "detectedAt": day(0)}],
            "scheduled_for": day(7),
        })
    );
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["triggeredAt"]),
        (&json!("triggered"), &json!(day(7)))
    );
    assert_eq!(
        (&r["scheduledFor"], &r["causes"]),
        (&Value::Null, &json!(0))
    );

    // The same time again: nothing new (idempotent), nothing written.
    // (It polls the run it started, which the fake says succeeded: the rebuild is closed.)
    let text = f.ok(&["reconcile", "--now", &day(7)]);
    let run = format!("{}/acme/base-py/actions/runs/5000", f.forge.url());
    assert_eq!(
        text,
        format!(
            "build of base-py: succeeded (success) {run}\n\
             nothing to trigger at 2026-03-17T10:00:00Z\n"
        )
    );
    assert_eq!(f.requests().len(), 1);

    // The build of base-py is seen (Kargo: its tag got a new digest): the rebuild was already
    // closed by the poll, and the digest schedules its dependents, each after its
    // cascadeDelay.
    let (base_py, at) = (digest('c'), day_at(7, "12:00"));
    let v = f.record("ghcr.io/acme/base-py:latest", &base_py, &at);
    assert_eq!(
        (&v["subject"], &v["completed"], &v["outcome"]),
        (&json!("base-py"), &json!(false), &json!("updated"))
    );
    assert_eq!(
        v["scheduled"],
        json!([{"image": "svc-a", "at": at}, {"image": "svc-b", "at": day_at(8, "12:00")}])
    );
    let s = f.image_state("base-py");
    let h = &s.rebuild_history[..];
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].success, Some(true));
    // Closed when the poll saw the run succeed, before the digest came.
    assert_eq!(h[0].completed_at.map(|t| t.to_string()), Some(day(7)));
    assert_eq!(h[0].conclusion.as_deref(), Some("success"));
    assert_eq!(h[0].base_image_snapshots["python-3.12-slim"], new);
    assert_eq!(s.current_digest.unwrap().to_string(), base_py);

    // Right after: svc-a (GitLab, cascadeDelay 0m) gets a pipeline; svc-b waits a day.
    let v = f.reconcile(&at, &[]);
    assert_eq!(v["triggers"].as_array().unwrap().len(), 1, "{v}");
    let t = &v["triggers"][0];
    assert_eq!(
        (&t["image"], &t["job"], &t["pipelineId"]),
        (&json!("svc-a"), &json!("build-svc-a"), &json!(1000))
    );
    assert_eq!(
        v["waiting"],
        json!([waiting(
            "svc-b",
            Some(&day_at(8, "12:00")),
            &[],
            "waiting for the delay"
        )])
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    let cascade = "internal base base-py rebuilt as sha256:cccccccc";
    let causes =
        json!([{"baseImage": "ghcr.io/acme/base-py", "digest": base_py, "detectedAt": at}]);
    assert_eq!(
        gitlab_inputs(&reqs[1], "acme/platform/svc-a", "main", "build-svc-a"),
        json!({
            "image": "svc-a", "reason": cascade, "triggered_by": "cascade",
            "base_image": "ghcr.io/acme/base-py", "base_digest": base_py,
            "causes": causes, "scheduled_for": at,
        })
    );
    let svc_a = f.image_state("svc-a");
    assert_eq!(
        svc_a.rebuild_history.last().unwrap().pipeline_id,
        Some(1000)
    );
    assert!(f.status_line("top").contains("  monitoring  "));
    assert_eq!(f.rebuild("svc-b")["scheduledFor"], day_at(8, "12:00"));

    // svc-a is built: top gets its first cause but waits for svc-b.
    let at_a = day_at(7, "15:00");
    let (svc_a_digest, svc_b_digest) = (digest('d'), digest('e'));
    let v = f.json(&[
        "record-build",
        "--image",
        "svc-a",
        "--digest",
        &svc_a_digest,
        "--version",
        "2.0.1",
        "--now",
        &at_a,
    ]);
    assert_eq!(v["scheduled"], json!([{"image": "top", "at": at_a}]));
    let svc_a = f.image_state("svc-a");
    let last = svc_a.rebuild_history.last().unwrap();
    assert_eq!(
        (last.success, last.result_version.as_deref()),
        (Some(true), Some("2.0.1"))
    );
    let v = f.reconcile(&at_a, &[]);
    assert_eq!(v["triggers"], json!([]));
    let top_wait = waiting(
        "top",
        None,
        &["svc-b"],
        "waits for svc-b to be rebuilt first",
    );
    assert!(v["waiting"].as_array().unwrap().contains(&top_wait), "{v}");
    assert_eq!(f.rebuild("top")["status"], "pending");

    // Day 8: svc-b is dispatched (on its branch); top still waits for it.
    let v = f.reconcile(&day_at(8, "12:00"), &[]);
    assert_eq!(v["triggers"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["triggers"][0]["image"], "svc-b");
    assert_eq!(v["waiting"], json!([top_wait]));
    // `status --now` says what top waits for beyond its schedule.
    let st = f.json(&["status", "--now", &day_at(8, "12:00")]);
    let top = st["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "top")
        .unwrap();
    assert_eq!(
        (&top["rebuild"]["waiting"], &top["rebuild"]["blockedBy"]),
        (
            &json!("waits for svc-b to be rebuilt first"),
            &json!(["svc-b"])
        ),
        "{top}"
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        github_inputs(&reqs[2], "acme/svc-b", "image.yml", "release"),
        json!({
            "image": "svc-b", "reason": cascade, "triggered_by": "cascade",
            "base_image": "ghcr.io/acme/base-py", "base_digest": base_py,
            "causes": causes, "scheduled_for": day_at(8, "12:00"),
        })
    );
    let v = f.reconcile(&day_at(8, "13:00"), &[]);
    assert_eq!(
        (v["triggers"].clone(), v["waiting"].clone()),
        (json!([]), json!([top_wait]))
    );

    // svc-b is built: top is dispatched exactly once, for both causes.
    let at_b = day_at(8, "16:00");
    let args = [
        "record-build",
        "--image",
        "svc-b",
        "--digest",
        &svc_b_digest,
    ];
    let v = f.json(&[&args[..], &["--now", &at_b]].concat());
    assert_eq!(v["scheduled"], json!([{"image": "top", "at": at_b}]));
    assert_eq!(f.rebuild("top")["causes"], 2);
    let v = f.reconcile(&at_b, &[]);
    assert_eq!(v["triggers"].as_array().unwrap().len(), 1, "{v}");
    let reqs = f.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        github_inputs(&reqs[3], "acme/top", "build.yml", "main"),
        json!({
            "image": "top",
            "reason": "internal base svc-a rebuilt as sha256:dddddddd; \
                       internal base svc-b rebuilt as sha256:eeeeeeee",
            "triggered_by": "cascade",
            "base_image": "registry.gitlab.com/acme/platform/svc-a",
            "base_digest": svc_a_digest,
            "causes": [
                {"baseImage": "registry.gitlab.com/acme/platform/svc-a",
                 "digest": svc_a_digest, "detectedAt": at_a},
                {"baseImage": "ghcr.io/acme/svc-b", "digest": svc_b_digest, "detectedAt": at_b},
            ],
            "scheduled_for": at_a,
        })
    );

    // Later runs send nothing more: the first polls top's run, which succeeded; every image
    // is back to monitoring.
    for now in [day_at(8, "17:00"), day(12)] {
        assert_eq!(f.reconcile(&now, &[])["triggers"], json!([]));
    }
    assert_eq!(f.requests().len(), 4);
    let status = f.status();
    for name in ["base-py", "svc-a", "svc-b", "top"] {
        assert_eq!(status[name]["rebuild"]["status"], "monitoring", "{name}");
    }
    let top = f.image_state("top");
    let last = top.rebuild_history.last().unwrap();
    assert_eq!(
        (last.success, last.conclusion.as_deref()),
        (Some(true), Some("success"))
    );
    f.assert_no_secrets();
}

#[test]
fn a_digest_seen_while_a_rebuild_waits_is_built_next_after_its_own_delay() {
    let f = Factory::setup();
    // base-py's build keeps running until its digest is recorded.
    f.forge.script_runs(
        if_model::enrollment::Provider::Github,
        "acme/base-py",
        [if_testkit::RunScript::RunForever],
    );
    let (b, c) = (digest('b'), digest('c'));
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &b, &day(0));
    let v = f.record("python:3.12-slim", &c, &day(3));
    assert_eq!(v["scheduled"], json!([{"image": "base-py", "at": day(10)}]));
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["causes"], &r["scheduledFor"]),
        (&json!(2), &json!(day(7)))
    );

    // Day 7: the build pins the digest whose delay was served; the newer one stays queued.
    f.reconcile(&day(7), &[]);
    let reqs = f.requests();
    let inputs = github_inputs(&reqs[0], "acme/base-py", "build.yml", "main");
    assert_eq!(
        (&inputs["base_digest"], &inputs["scheduled_for"]),
        (&json!(b), &json!(day(7)))
    );
    let causes = json!([{"baseImage": "python:3.12-slim", "digest": b, "detectedAt": day(0)}]);
    assert_eq!(inputs["causes"], causes);
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["causes"]),
        (&json!("triggered"), &json!(1))
    );
    let v = f.reconcile(&day(10), &[]);
    // It waits until the build's outcome, at most until its buildTimeout (7d) after day 7.
    let run = format!("{}/acme/base-py/actions/runs/5000", f.forge.url());
    let why = format!("queued behind the running build {run}");
    let queued = waiting("base-py", Some(&day(14)), &[], &why);
    assert_eq!(
        (v["triggers"].clone(), v["waiting"].clone()),
        (json!([]), json!([queued]))
    );

    // The build finishes: the queued digest is next, and base-py's dependents wait for it.
    let at = day_at(10, "12:00");
    assert_eq!(
        f.record("ghcr.io/acme/base-py:latest", &digest('5'), &at)["completed"],
        true
    );
    assert_eq!(f.rebuild("base-py")["status"], "pending");
    let v = f.reconcile(&at, &[]);
    assert_eq!(v["triggers"].as_array().unwrap().len(), 1, "{v}");
    let blocked = waiting(
        "svc-a",
        None,
        &["base-py"],
        "waits for base-py to be rebuilt first",
    );
    assert!(v["waiting"].as_array().unwrap().contains(&blocked), "{v}");
    let reqs = f.requests();
    assert_eq!(reqs.len(), 2);
    let inputs = github_inputs(&reqs[1], "acme/base-py", "build.yml", "main");
    assert_eq!(
        (&inputs["base_digest"], &inputs["scheduled_for"]),
        (&json!(c), &json!(day(10)))
    );
    f.assert_no_secrets();
}
