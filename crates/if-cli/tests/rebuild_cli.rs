//! The rebuild commands end to end, one at a time (`trigger`, `expedite`, `plan`, `status`,
//! `--dry-run`, bad input, Kargo's command lines): a factory analysed in a temporary
//! directory, `--now` for time, and a `FakeForge` that checks and records every request.
//! Timelines are in `rebuild_scenario.rs`, failures and retries in `rebuild_failures.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rebuild::{Factory, day, digest, github_inputs, gitlab_inputs};
use serde_json::json;

#[test]
fn an_image_without_auto_rebuild_becomes_due_and_waits_for_a_person() {
    let f = Factory::setup();
    f.record("node:22", &digest('1'), &day(-1));
    let v = f.record("node:22", &digest('f'), &day(0));
    assert_eq!(
        v["scheduled"],
        json!([{"image": "manual-img", "at": day(2)}])
    );

    let v = f.reconcile(&day(2), &[]);
    assert_eq!(
        (v["triggers"].clone(), v["due"].clone()),
        (json!([]), json!(["manual-img"]))
    );
    assert_eq!(v["written"], json!(["state/images/manual-img.yaml"]));
    assert_eq!(f.rebuild("manual-img")["status"], "due");
    assert!(
        f.status_line("manual-img")
            .contains("  due         2026-03-12T10:00:00Z  "),
        "{}",
        f.status_line("manual-img")
    );
    let text = f.ok(&["reconcile", "--now", &day(3)]);
    assert!(
        text.contains("waiting: manual-img: due; waits for `image-factory trigger manual-img`"),
        "{text}"
    );
    assert!(f.requests().is_empty());

    let text = f.ok(&[
        "trigger",
        "manual-img",
        "--reason",
        "release notes checked by ops",
        "--now",
        &day(3),
    ]);
    assert!(
        text.starts_with("triggered manual-img (github acme/manual-img build.yml on main, run 5"),
        "{text}"
    );
    let reqs = f.requests();
    assert_eq!(reqs.len(), 1);
    let f_digest = digest('f');
    assert_eq!(
        github_inputs(&reqs[0], "acme/manual-img", "build.yml", "main"),
        json!({
            "image": "manual-img",
            "reason": "base image node:22 updated to sha256:ffffffff; \
                       manual: release notes checked by ops",
            "triggered_by": "base-image-update",
            "base_image": "node:22",
            "base_digest": f_digest,
            "causes": [{"baseImage": "node:22", "digest": f_digest, "detectedAt": day(0)}],
            "scheduled_for": day(2),
        })
    );
    let r = f.rebuild("manual-img");
    assert_eq!(
        (&r["status"], &r["triggeredAt"]),
        (&json!("triggered"), &json!(day(3)))
    );
    assert_eq!(f.reconcile(&day(4), &[])["triggers"], json!([]));
    assert_eq!(f.requests().len(), 1);
    f.assert_no_secrets();
}

#[test]
fn a_dependent_pinned_by_digest_is_not_scheduled_its_pin_needs_a_bump() {
    let f = Factory::setup();
    // The pinned digest is the baseline: nothing to bump yet.
    f.record("node:22", &digest('1'), &day(-1));
    assert_eq!(f.status()["pinned"]["pinsToBump"], json!([]));
    assert!(!f.status_line("pinned").contains("needs a bump"));

    let v = f.record("node:22", &digest('f'), &day(0));
    assert_eq!(v["pinned"], json!(["pinned"]));
    assert_eq!(
        v["scheduled"],
        json!([{"image": "manual-img", "at": day(2)}])
    );
    assert!(
        v["changes"].as_array().unwrap().contains(&json!(
            "pinned: pins node-22 by digest; bump the pin to sha256:ffffffff"
        )),
        "{v}"
    );
    let row = &f.status()["pinned"];
    assert_eq!(row["pinsToBump"], json!(["node-22"]));
    assert_eq!(row["rebuild"]["status"], "monitoring");
    assert!(
        f.status_line("pinned")
            .contains("pin of node-22 needs a bump")
    );

    let text = f.ok(&["plan", "node:22", "--now", &day(1)]);
    assert!(
        text.contains("  pinned: pins node-22 by digest; not rebuilt, bump the pin\n"),
        "{text}"
    );
    assert!(
        text.contains("manual-img               due (autoRebuild false"),
        "{text}"
    );
    assert!(!text.contains("  pinned "), "{text}");

    let v = f.reconcile(&day(9), &[]);
    assert_eq!(
        (v["triggers"].clone(), v["due"].clone()),
        (json!([]), json!(["manual-img"]))
    );
    assert!(
        f.image_state("pinned")
            .rebuild_state
            .is_none_or(|r| r.causes.is_empty())
    );
    assert!(f.requests().is_empty());
    f.assert_no_secrets();
}

#[test]
fn expedite_makes_a_pending_rebuild_due_now_and_passes_the_reason_on() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
    assert_eq!(f.reconcile(&day(1), &[])["triggers"], json!([]));

    let v = f.json(&[
        "expedite",
        "python:3.12-slim",
        "--reason",
        "CVE-2026-0001",
        "--now",
        &day(1),
    ]);
    assert_eq!(
        (&v["base"], &v["expedited"]),
        (&json!("python:3.12-slim"), &json!(["base-py"]))
    );
    let reason =
        "expedited (CVE-2026-0001): base image python:3.12-slim updated to sha256:bbbbbbbb";
    let r = f.rebuild("base-py");
    assert_eq!(
        (&r["status"], &r["scheduledFor"], &r["reason"]),
        (&json!("pending"), &json!(day(1)), &json!(reason))
    );
    assert!(f.requests().is_empty());

    let v = f.reconcile(&day(1), &[]);
    assert_eq!(v["triggers"][0]["result"], "triggered");
    let reqs = f.requests();
    assert_eq!(reqs.len(), 1);
    let b = digest('b');
    assert_eq!(
        github_inputs(&reqs[0], "acme/base-py", "build.yml", "main"),
        json!({
            "image": "base-py", "reason": reason, "triggered_by": "expedite",
            "base_image": "python:3.12-slim", "base_digest": b,
            "causes": [{"baseImage": "python:3.12-slim", "digest": b, "detectedAt": day(0)}],
            "scheduled_for": day(1),
        })
    );
    let text = f.ok(&[
        "expedite",
        "python:3.12-slim",
        "--reason",
        "again",
        "--now",
        &day(1),
    ]);
    assert_eq!(
        text,
        "nothing waits for python:3.12-slim; nothing expedited\n"
    );
    f.assert_no_secrets();
}

#[test]
fn dry_runs_print_the_triggers_and_their_inputs_and_change_nothing() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
    f.record("node:22", &digest('1'), &day(-1));
    f.record("node:22", &digest('f'), &day(0));
    let before = f.tree();

    let text = f.ok(&["reconcile", "--dry-run", "--now", &day(7)]);
    let b = digest('b');
    for line in [
        "would trigger base-py (github acme/base-py build.yml on main), attempt 1: \
         base image python:3.12-slim updated to sha256:bbbbbbbb\n",
        "    image = base-py\n",
        "    triggered_by = base-image-update\n",
        &format!("    base_digest = {b}\n"),
        &format!(
            "    causes = [{{\"baseImage\":\"python:3.12-slim\",\
             \"detectedAt\":\"2026-03-10T10:00:00Z\",\"digest\":\"{b}\"}}]\n"
        ),
        "    scheduled_for = 2026-03-17T10:00:00Z\n",
        "due: manual-img (autoRebuild is false; run `image-factory trigger manual-img`)\n",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    let v = f.json(&["reconcile", "--dry-run", "--now", &day(7)]);
    assert_eq!((&v["dryRun"], &v["written"]), (&json!(true), &json!([])));
    let t = &v["triggers"][0];
    assert_eq!(
        (&t["image"], &t["result"]),
        (&json!("base-py"), &json!("dry-run"))
    );
    assert_eq!(t["inputs"]["base_digest"], b);
    assert_eq!(t["inputs"]["scheduled_for"], day(7));
    assert_eq!(v["due"], json!(["manual-img"]));

    let text = f.ok(&[
        "trigger",
        "top",
        "--dry-run",
        "--reason",
        "try",
        "--now",
        &day(7),
    ]);
    assert!(
        text.starts_with(
            "would trigger top (github acme/top build.yml on main), attempt 1: manual: try\n"
        ),
        "{text}"
    );
    let v = f.json(&["trigger", "svc-a", "--dry-run", "--now", &day(7)]);
    assert_eq!(v["triggers"][0]["job"], "build-svc-a");
    assert_eq!(v["triggers"][0]["inputs"]["triggered_by"], "manual");

    assert_eq!(f.tree(), before);
    assert!(f.requests().is_empty());
    // The same run for real does what the dry run printed.
    assert_eq!(
        f.reconcile(&day(7), &[])["triggers"][0]["result"],
        "triggered"
    );
    assert_eq!(f.requests().len(), 1);
    assert_ne!(f.tree(), before);
    f.assert_no_secrets();
}

#[test]
fn bad_input_exits_2_with_a_clear_message_and_writes_nothing() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
    let d = digest('9');
    let now = day(8);
    let unknown = "neither an enrolled image nor a base image of this factory";
    for (args, message) in [
        (
            vec![
                "record-update",
                "--image",
                "quay.io/acme/nope:1",
                "--digest",
                &d,
            ],
            "no such image `quay.io/acme/nope:1`; ",
        ),
        (
            vec![
                "record-update",
                "--image",
                "docker.io/library/python",
                "--tag",
                "3.13-slim",
                "--digest",
                &d,
            ],
            // A near miss of a base image's state name is named.
            "no such image `python:3.13-slim` (did you mean `python-3.12-slim`?); ",
        ),
        (
            vec!["record-update", "--image", "Not A Ref", "--digest", &d],
            "--image `Not A Ref`",
        ),
        (
            vec![
                "record-update",
                "--image",
                "python:3.12-slim",
                "--digest",
                "sha256:xyz",
            ],
            "--digest",
        ),
        (
            vec![
                "record-update",
                "--image",
                "python:3.12-slim",
                "--digest",
                "latest",
            ],
            "--digest",
        ),
        (
            vec!["record-build", "--image", "nope", "--digest", &d],
            "no such image `nope`",
        ),
        (
            vec!["trigger", "nope", "--now", &now],
            "no such image `nope`",
        ),
        // One wording everywhere a name is looked up, with the closest name (issue 20).
        (
            vec!["trigger", "base-pi", "--now", &now],
            "no such image `base-pi` (did you mean `base-py`?)",
        ),
        (
            vec!["record-build", "--image", "svc-c", "--digest", &d],
            "no such image `svc-c` (did you mean `svc-a`?)",
        ),
        (
            vec!["plan", "svc-bb", "--now", &now],
            "no such image `svc-bb` (did you mean `svc-b`?)",
        ),
        (
            vec!["expedite", "base-pyy", "--reason", "CVE-1", "--now", &now],
            "no such image `base-pyy` (did you mean `base-py`?)",
        ),
        (
            vec!["trigger", "redis-ext", "--now", &now],
            "`redis-ext` is not built by the factory",
        ),
        (
            vec!["expedite", "nope:1", "--reason", "CVE-1", "--now", &now],
            unknown,
        ),
        (vec!["plan", "nope", "--now", &now], unknown),
        (vec!["reconcile", "--now", "yesterday"], "--now"),
        (vec!["reconcile", "--now", "2026-03-18"], "--now"),
        (vec!["trigger", "base-py", "--now", "soon"], "--now"),
    ] {
        let err = f.refused(&args);
        assert!(err.contains(message), "{args:?}: {err}");
        let more = [
            "record-update",
            "trigger",
            "expedite",
            "plan",
            "record-build",
        ];
        if more.contains(&args[0]) && !message.starts_with("--") {
            assert!(err.starts_with("image-factory: "), "{args:?}: {err}");
        }
    }
    // Unknown-image errors are about the image, whatever the rest of the line.
    assert!(
        f.refused(&["record-update", "--image", "nope", "--digest", &d])
            .contains(unknown)
    );
    assert!(f.requests().is_empty());
    f.assert_no_secrets();
}

#[test]
fn the_kargo_verification_command_lines_work_as_kargo_passes_them() {
    let f = Factory::setup();
    // As generated: `record-update --image {{repoURL}} --tag T --digest D`, then `reconcile`,
    // with the clock as the time.
    let kargo = |repo: &str, tag: &str, d: &str| {
        f.ok(&[
            "record-update",
            "--image",
            repo,
            "--tag",
            tag,
            "--digest",
            d,
        ])
    };
    let python = "docker.io/library/python";
    let (a, c, d) = (digest('a'), digest('c'), digest('d'));
    assert!(kargo(python, "3.12-slim", &a).contains("python:3.12-slim: baseline sha256:aaaaaaaa"));
    assert_eq!(
        kargo(python, "3.12-slim", &a),
        "python-3.12-slim: unchanged, nothing to do\n"
    );
    assert!(f.ok(&["reconcile"]).starts_with("nothing to trigger at "));
    assert!(
        kargo("ghcr.io/acme/base-py", "latest", &c).contains("base-py: baseline sha256:cccccccc")
    );
    let text = kargo("ghcr.io/acme/base-py", "latest", &d);
    assert!(
        text.contains("base-py: new digest sha256:dddddddd"),
        "{text}"
    );
    assert!(text.contains("svc-a: rebuild scheduled for "), "{text}");

    let text = f.ok(&["reconcile"]);
    assert!(
        text.contains(
            "triggered svc-a (gitlab acme/platform/svc-a pipeline, job build-svc-a on main, \
             pipeline 1000) http"
        ),
        "{text}"
    );
    assert!(text.contains("waiting: svc-b until "), "{text}");
    let reqs = f.requests();
    assert_eq!(reqs.len(), 1);
    let inputs = gitlab_inputs(&reqs[0], "acme/platform/svc-a", "main", "build-svc-a");
    assert_eq!(inputs["base_image"], "ghcr.io/acme/base-py");
    assert_eq!(inputs["base_digest"], d);
    assert_eq!(inputs["scheduled_for"], inputs["causes"][0]["detectedAt"]);
    assert_eq!(
        f.image_state("svc-a").rebuild_history[0].pipeline_id,
        Some(1000)
    );
    assert_eq!(f.rebuild("svc-b")["status"], "pending");
    f.assert_no_secrets();
}
