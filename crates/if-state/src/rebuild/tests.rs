//! Unit tests of the rebuild engine: every rule of DESIGN.md §5 with explicit times.

mod props;
mod supply;

use std::collections::BTreeMap;

use if_model::digest::Digest;
use if_model::enrollment::{self, Enrollment};
use if_model::factory::Factory;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;

use super::*;
use crate::analyze::{Discovery, Request, analyze};

/// One image of a test factory: name, what its Dockerfile is `FROM` (`node:22`, or `@parent`
/// for another image of the factory), `rebuildDelay`, `cascadeDelay`, `autoRebuild`.
pub(super) struct Img<'a> {
    pub name: &'a str,
    pub from: &'a [&'a str],
    pub delay: &'a str,
    pub cascade: &'a str,
    pub auto: bool,
}

pub(super) fn img<'a>(name: &'a str, from: &'a [&'a str]) -> Img<'a> {
    Img {
        name,
        from,
        delay: "7d",
        cascade: "0m",
        auto: true,
    }
}

pub(super) fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub(super) fn day(n: i64) -> Timestamp {
    Timestamp::from_unix(1_798_761_600 + n * 86_400).unwrap() // 2027-01-01 + n days
}

pub(super) fn digest(n: u32) -> Digest {
    Digest::of_sha256_bytes(format!("digest {n}").as_bytes())
}

pub(super) fn reference(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

fn repo_of(from: &str) -> String {
    match from.strip_prefix('@') {
        Some(parent) => format!("ghcr.io/acme/{parent}:latest"),
        None => from.to_string(),
    }
}

/// The enrollment and the analysed state of a factory of managed GitHub images.
pub(super) fn setup(images: &[Img<'_>]) -> (Enrollment, Analysis) {
    let mut yaml = String::new();
    for i in images {
        yaml.push_str(&format!(
            "- name: {}\n  registry: ghcr.io\n  repository: acme/{}\n  source:\n    provider: github\n    repo: acme/{}\n    dockerfile: Dockerfile\n    workflow: build.yml\n  rebuildDelay: {}\n  cascadeDelay: {}\n  autoRebuild: {}\n",
            i.name, i.name, i.name, i.delay, i.cascade, i.auto
        ));
    }
    let (en, diags) = enrollment::parse(&yaml, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}\n{yaml}");
    let factory = Factory {
        enrollment: en.clone(),
        images: Vec::new(),
        bases: Vec::new(),
    };
    let discoveries = images
        .iter()
        .map(|i| {
            let refs = i.from.iter().map(|f| reference(&repo_of(f))).collect();
            (i.name.to_string(), Discovery::Found(refs))
        })
        .collect();
    let req = Request {
        now: day(-30),
        discoveries,
        published: BTreeMap::new(),
        only: None,
    };
    let mut world = analyze(factory.clone(), &req);
    world.changes.clear();
    (en, world)
}

fn rs<'a>(w: &'a Analysis, name: &str) -> &'a if_model::state::RebuildState {
    w.images[name].rebuild_state.as_ref().unwrap()
}

fn status<'a>(w: &'a Analysis, name: &str) -> &'a str {
    w.images[name]
        .rebuild_state
        .as_ref()
        .and_then(|r| r.status.as_deref())
        .unwrap_or("-")
}

fn names(d: &Decision) -> Vec<&str> {
    d.triggers.iter().map(|t| t.image.as_str()).collect()
}

fn update(en: &Enrollment, w: &mut Analysis, r: &str, d: u32, at: Timestamp) -> Recorded {
    record_update(en, w, &reference(r), &digest(d), at).unwrap()
}

/// Reconciles at `now` and reports every trigger as dispatched.
fn run(en: &Enrollment, w: &mut Analysis, now: Timestamp) -> Vec<String> {
    let d = reconcile(en, w, now, &Policy::default());
    for tr in &d.triggers {
        trigger_result(w, tr, Ok(Started::default()), now, &Policy::default());
    }
    names(&d).into_iter().map(str::to_string).collect()
}

fn build(en: &Enrollment, w: &mut Analysis, name: &str, d: u32, at: Timestamp) -> Recorded {
    record_build(en, w, name, &digest(d), Some("v"), at).unwrap()
}

#[test]
fn first_digest_is_a_baseline_the_same_digest_a_no_op_a_new_one_schedules() {
    let (en, mut w) = setup(&[img("app", &["node:22"])]);
    let r = update(&en, &mut w, "node:22", 1, day(0));
    assert_eq!((r.outcome, r.scheduled.len()), ("baseline", 0));
    let base = &w.bases["docker.io/library/node:22"];
    assert_eq!(base.current_digest, Some(digest(1)));
    // The baseline is the history's first entry, scheduling nothing: the digest the first
    // builds are made on stays known after newer ones arrive.
    assert_eq!(base.update_history.len(), 1);
    assert_eq!(base.update_history[0].digest, Some(digest(1)));
    assert_eq!(base.update_history[0].detected_at, Some(day(0)));
    assert!(base.update_history[0].triggered_rebuilds.is_empty());
    assert!(run(&en, &mut w, day(30)).is_empty());

    let before = w.clone();
    let r = update(&en, &mut w, "node:22", 1, day(1));
    assert_eq!(r.outcome, "unchanged");
    assert_eq!(w.images, before.images);
    assert_eq!(w.bases, before.bases);

    let r = update(&en, &mut w, "docker.io/library/node:22", 2, day(2));
    assert_eq!(r.outcome, "updated");
    assert_eq!(r.scheduled, vec![("app".to_string(), day(9))]);
    let base = &w.bases["docker.io/library/node:22"];
    assert_eq!(base.previous_digest, Some(digest(1)));
    assert_eq!(base.last_updated, Some(day(2)));
    assert_eq!(base.update_history.len(), 2);
    assert_eq!(base.update_history[1].triggered_rebuilds, vec!["app"]);
    let state = rs(&w, "app");
    assert_eq!(state.status.as_deref(), Some(PENDING));
    assert_eq!(state.pending_rebuild, Some(true));
    assert_eq!(state.rebuild_scheduled_for, Some(day(9)));
    assert_eq!(state.triggered_by.as_deref(), Some(BY_UPDATE));

    // The same event again adds nothing.
    let again = w.clone();
    assert_eq!(
        update(&en, &mut w, "node:22", 2, day(3)).outcome,
        "unchanged"
    );
    assert_eq!(w.images, again.images);
}

#[test]
fn nothing_before_the_delay_then_one_trigger_with_the_documented_inputs() {
    let (en, mut w) = setup(&[img("app", &["node:22"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    let d = reconcile(&en, &mut w, day(6), &Policy::default());
    assert!(d.triggers.is_empty());
    assert_eq!(d.waiting[0].until, Some(day(7)));
    let d = reconcile(&en, &mut w, day(7), &Policy::default());
    assert_eq!(names(&d), ["app"]);
    let tr = &d.triggers[0];
    let inputs: BTreeMap<&str, &str> = tr
        .inputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected_names: Vec<&str> = INPUTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        tr.inputs
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        expected_names
    );
    assert_eq!(inputs["image"], "app");
    assert_eq!(inputs["triggered_by"], "base-image-update");
    assert_eq!(inputs["base_image"], "node:22");
    assert_eq!(inputs["base_digest"], digest(2).as_str());
    assert_eq!(inputs["scheduled_for"], day(7).to_string());
    let causes: serde_json::Value = serde_json::from_str(inputs["causes"]).unwrap();
    assert_eq!(
        causes,
        serde_json::json!([{"baseImage": "node:22", "digest": digest(2).as_str(), "detectedAt": day(0).to_string()}])
    );
    assert!(inputs["reason"].contains("node:22 updated"));
    // Until the outcome is reported, the same `now` gives the same trigger.
    assert_eq!(
        names(&reconcile(&en, &mut w, day(7), &Policy::default())),
        ["app"]
    );
    trigger_result(
        &mut w,
        tr,
        Ok(Started {
            pipeline_id: Some(42),
            ..Started::default()
        }),
        day(7),
        &Policy::default(),
    );
    assert_eq!(status(&w, "app"), TRIGGERED);
    let h = w.images["app"].rebuild_history.last().unwrap();
    assert_eq!(h.pipeline_id, Some(42));
    assert_eq!(h.success, None);
    assert_eq!(
        h.base_image_snapshots.get("node-22").map(String::as_str),
        Some(digest(2).as_str())
    );
    // Idempotent: the same `now` again triggers nothing, and neither does a later one.
    assert!(run(&en, &mut w, day(7)).is_empty());
    assert!(run(&en, &mut w, t("2027-01-08T06:00:00Z")).is_empty());
    // Completion closes the history entry.
    let r = build(&en, &mut w, "app", 10, day(8));
    assert!(r.completed);
    let h = w.images["app"].rebuild_history.last().unwrap();
    assert_eq!((h.success, h.completed_at), (Some(true), Some(day(8))));
    assert_eq!(status(&w, "app"), MONITORING);
    assert_eq!(rs(&w, "app").pending_rebuild, Some(false));
}

#[test]
fn causes_coalesce_with_the_earliest_schedule_and_one_trigger_serves_all() {
    let (en, mut w) = setup(&[img("app", &["node:22", "python:3.12"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "python:3.12", 1, day(0));
    update(&en, &mut w, "python:3.12", 2, day(3));
    update(&en, &mut w, "node:22", 2, day(1));
    let state = rs(&w, "app");
    assert_eq!(state.causes.len(), 2);
    assert_eq!(state.rebuild_scheduled_for, Some(day(8)));
    assert!(run(&en, &mut w, day(7)).is_empty());
    let d = reconcile(&en, &mut w, day(8), &Policy::default());
    assert_eq!(names(&d), ["app"]);
    assert_eq!(d.triggers[0].causes.len(), 2);
    assert_eq!(d.triggers[0].inputs[3].1, "node:22", "the first cause");
    trigger_result(
        &mut w,
        &d.triggers[0],
        Ok(Started::default()),
        day(8),
        &Policy::default(),
    );
    let app = w.images["app"].rebuild_state.as_ref();
    assert!(app.is_none_or(|r| r.causes.is_empty()), "{app:?}");
    assert!(
        run(&en, &mut w, day(11)).is_empty(),
        "python's cause was served"
    );
}

#[test]
fn auto_rebuild_false_becomes_due_and_waits_for_a_person() {
    let mut i = img("app", &["node:22"]);
    i.auto = false;
    let (en, mut w) = setup(&[i]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    let d = reconcile(&en, &mut w, day(7), &Policy::default());
    assert!(d.triggers.is_empty());
    assert_eq!(d.became_due, ["app"]);
    assert_eq!(status(&w, "app"), DUE);
    let d = reconcile(&en, &mut w, day(8), &Policy::default());
    assert!(d.became_due.is_empty() && d.triggers.is_empty());
    let tr = manual(
        &en,
        &mut w,
        "app",
        Some("checked the release notes"),
        day(9),
    )
    .unwrap();
    assert_eq!(tr.causes.len(), 2);
    assert!(tr.reason.contains("manual: checked the release notes"));
    trigger_result(
        &mut w,
        &tr,
        Ok(Started::default()),
        day(9),
        &Policy::default(),
    );
    assert_eq!(status(&w, "app"), TRIGGERED);
    let app = w.images["app"].rebuild_state.as_ref();
    assert!(app.is_none_or(|r| r.causes.is_empty()), "{app:?}");
}

#[test]
fn an_internal_parents_new_digest_cascades_with_the_cascade_delay() {
    let mut child = img("child", &["@parent"]);
    child.cascade = "1d";
    let (en, mut w) = setup(&[img("parent", &["node:22"]), child]);
    // Kargo's first sight of the parent is a baseline, not a cascade.
    let r = update(&en, &mut w, "ghcr.io/acme/parent:latest", 5, day(-1));
    assert_eq!(r.outcome, "baseline");
    assert_eq!(status(&w, "child"), "-", "nothing scheduled");
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    assert_eq!(run(&en, &mut w, day(7)), ["parent"]);
    let r = update(&en, &mut w, "ghcr.io/acme/parent:latest", 6, day(7));
    assert!(r.completed);
    assert_eq!(r.scheduled, vec![("child".to_string(), day(8))]);
    assert_eq!(rs(&w, "child").triggered_by.as_deref(), Some(BY_CASCADE));
    assert!(run(&en, &mut w, day(7)).is_empty());
    assert_eq!(run(&en, &mut w, day(8)), ["child"]);
}

#[test]
fn a_diamond_rebuilds_each_image_once_in_topological_order() {
    let (en, mut w) = setup(&[
        img("a", &["node:22"]),
        img("b", &["@a"]),
        img("c", &["@a"]),
        img("d", &["@b", "@c", "node:22"]),
    ]);
    update(&en, &mut w, "node:22", 1, day(0));
    build(&en, &mut w, "a", 100, day(0));
    build(&en, &mut w, "b", 200, day(0));
    build(&en, &mut w, "c", 300, day(0));
    update(&en, &mut w, "node:22", 2, day(1));
    let d = reconcile(&en, &mut w, day(8), &Policy::default());
    assert_eq!(names(&d), ["a"]);
    assert_eq!(d.waiting[0].image, "d");
    assert_eq!(d.waiting[0].blocked_by, ["a"]);
    run(&en, &mut w, day(8));
    build(&en, &mut w, "a", 101, day(8));
    assert_eq!(run(&en, &mut w, day(8)), ["b", "c"]);
    build(&en, &mut w, "b", 201, day(8));
    assert!(run(&en, &mut w, day(8)).is_empty(), "c is still building");
    build(&en, &mut w, "c", 301, day(9));
    let d = reconcile(&en, &mut w, day(9), &Policy::default());
    assert_eq!(names(&d), ["d"]);
    let mut via: Vec<_> = d.triggers[0]
        .causes
        .iter()
        .filter_map(|c| c.base_image.clone())
        .collect();
    via.sort();
    assert_eq!(via, ["b", "c", "node-22"]);
    trigger_result(
        &mut w,
        &d.triggers[0],
        Ok(Started::default()),
        day(9),
        &Policy::default(),
    );
    assert!(run(&en, &mut w, day(9)).is_empty());
}

#[test]
fn cycles_are_reported_and_never_triggered() {
    let (en, mut w) = setup(&[img("a", &["@b", "node:22"]), img("b", &["@a", "node:22"])]);
    assert_eq!(cycles(&w), vec![vec!["a".to_string(), "b".to_string()]]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    let d = reconcile(&en, &mut w, day(30), &Policy::default());
    assert!(d.triggers.is_empty());
    assert_eq!(d.cycles, vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(d.waiting.iter().all(|w| w.why.contains("cycle")));
}

#[test]
fn failed_triggers_back_off_exponentially_then_give_up() {
    let (en, mut w) = setup(&[img("app", &["node:22"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    let policy = Policy {
        max_attempts: 3,
        retry_backoff: if_model::duration::Duration::from_minutes(10),
    };
    let start = day(7);
    let d = reconcile(&en, &mut w, start, &Policy::default());
    trigger_result(
        &mut w,
        &d.triggers[0],
        Err("HTTP 500".into()),
        start,
        &policy,
    );
    let state = rs(&w, "app");
    assert_eq!(
        (state.attempts, state.status.as_deref()),
        (Some(1), Some(PENDING))
    );
    assert_eq!(state.last_error.as_deref(), Some("HTTP 500"));
    let retry = t("2027-01-08T00:10:00Z");
    assert_eq!(state.next_attempt_at, Some(retry));
    assert!(
        reconcile(&en, &mut w, t("2027-01-08T00:09:59Z"), &Policy::default())
            .triggers
            .is_empty()
    );
    let d = reconcile(&en, &mut w, retry, &Policy::default());
    assert_eq!(d.triggers[0].attempt, 2);
    trigger_result(
        &mut w,
        &d.triggers[0],
        Err("HTTP 502".into()),
        retry,
        &policy,
    );
    let next = t("2027-01-08T00:30:00Z");
    assert_eq!(rs(&w, "app").next_attempt_at, Some(next), "doubled");
    let d = reconcile(&en, &mut w, next, &Policy::default());
    trigger_result(
        &mut w,
        &d.triggers[0],
        Err("HTTP 503".into()),
        next,
        &policy,
    );
    assert_eq!(status(&w, "app"), FAILED);
    assert_eq!(
        w.images["app"].rebuild_history.last().unwrap().success,
        Some(false)
    );
    assert!(
        reconcile(&en, &mut w, day(30), &Policy::default())
            .triggers
            .is_empty()
    );
    // A new upstream change starts over.
    update(&en, &mut w, "node:22", 3, day(30));
    let state = rs(&w, "app");
    assert_eq!(
        (state.status.as_deref(), state.attempts),
        (Some(PENDING), None)
    );
    assert_eq!(
        names(&reconcile(&en, &mut w, day(37), &Policy::default())),
        ["app"]
    );
}

#[test]
fn expedite_makes_pending_dependents_due_now_with_the_reason() {
    let (en, mut w) = setup(&[img("app", &["node:22"]), img("other", &["python:3"])]);
    for r in ["node:22", "python:3"] {
        update(&en, &mut w, r, 1, day(0));
        update(&en, &mut w, r, 2, day(0));
    }
    let done = expedite(&en, &mut w, "node:22", "CVE-2026-1234", day(1)).unwrap();
    assert_eq!(done, ["app"]);
    assert_eq!(rs(&w, "app").rebuild_scheduled_for, Some(day(1)));
    assert_eq!(rs(&w, "app").triggered_by.as_deref(), Some(BY_EXPEDITE));
    let d = reconcile(&en, &mut w, day(1), &Policy::default());
    assert_eq!(names(&d), ["app"]);
    assert!(d.triggers[0].reason.contains("CVE-2026-1234"));
    assert!(
        expedite(&en, &mut w, "node:22", "again", day(1))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        expedite(&en, &mut w, "nothing:here", "x", day(1)),
        Err(EngineError::UnknownImage {
            reference: "nothing:here".into(),
            suggestion: None,
        })
    );
}

#[test]
fn a_pinned_base_schedules_nothing_and_asks_for_a_bump() {
    let pinned = format!("node:22@{}", digest(1));
    let from = [pinned.as_str()];
    let (en, mut w) = setup(&[img("app", &from), img("free", &["node:22"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    let r = update(&en, &mut w, "node:22", 2, day(0));
    assert_eq!(r.pinned, ["app"]);
    assert_eq!(r.scheduled, vec![("free".to_string(), day(7))]);
    assert_eq!(status(&w, "app"), "-");
    assert!(w.changes.iter().any(|c| c.contains("bump the pin")));
}

#[test]
fn a_change_while_building_is_queued_for_after_the_build() {
    let (en, mut w) = setup(&[img("app", &["node:22"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    assert_eq!(run(&en, &mut w, day(7)), ["app"]);
    update(&en, &mut w, "node:22", 3, day(7));
    assert_eq!(status(&w, "app"), TRIGGERED);
    assert_eq!(rs(&w, "app").causes.len(), 1);
    assert!(run(&en, &mut w, day(14)).is_empty(), "the build still runs");
    build(&en, &mut w, "app", 9, day(15));
    assert_eq!(status(&w, "app"), PENDING);
    assert_eq!(run(&en, &mut w, day(15)), ["app"]);
}

#[test]
fn plan_lists_the_rebuilds_in_order_with_times() {
    let mut slow = img("c", &["@a"]);
    slow.cascade = "2d";
    let mut person = img("e", &["@d"]);
    person.auto = false;
    let pinned = format!("node:22@{}", digest(1));
    let from = [pinned.as_str()];
    let (en, w) = setup(&[
        img("a", &["node:22"]),
        img("b", &["@a"]),
        slow,
        img("d", &["@b", "@c"]),
        person,
        img("p", &from),
    ]);
    let before = w.clone();
    let p = plan(&en, &w, "node:22", day(0), &Policy::default()).unwrap();
    assert_eq!(w.images, before.images, "plan changes nothing");
    let steps: Vec<(&str, Timestamp, StepKind)> = p
        .steps
        .iter()
        .map(|s| (s.image.as_str(), s.at, s.kind))
        .collect();
    assert_eq!(
        steps,
        [
            ("a", day(7), StepKind::Trigger),
            ("b", day(7), StepKind::Trigger),
            ("c", day(9), StepKind::Trigger),
            ("d", day(9), StepKind::Trigger),
            ("e", day(9), StepKind::Due),
        ]
    );
    assert_eq!(p.steps[3].via, ["b", "c"]);
    assert_eq!(p.pinned, ["p"]);
    assert!(p.stuck.is_empty());
}

#[test]
fn unknown_images_and_unmanaged_ones_are_clear_errors() {
    let (en, mut w) = setup(&[img("app", &["node:22"])]);
    let e = record_update(&en, &mut w, &reference("redis:7"), &digest(1), day(0)).unwrap_err();
    assert!(e.to_string().contains("redis:7"), "{e}");
    assert_eq!(
        record_build(&en, &mut w, "nope", &digest(1), None, day(0)),
        Err(EngineError::NotEnrolled {
            name: "nope".into(),
            suggestion: None,
        })
    );
    assert!(manual(&en, &mut w, "nope", None, day(0)).is_err());
    // A near miss names the image meant, in the one wording every command uses.
    assert_eq!(
        manual(&en, &mut w, "ap", None, day(0))
            .unwrap_err()
            .to_string(),
        "no such image `ap` (did you mean `app`?); not in images.yaml"
    );
    assert_eq!(
        expedite(&en, &mut w, "nod-22", "x", day(0))
            .unwrap_err()
            .to_string(),
        "no such image `nod-22` (did you mean `node-22`?); neither an enrolled image nor a \
         base image of this factory (run `image-factory analyze --all` first?)"
    );
}

#[test]
fn state_with_causes_round_trips_through_yaml() {
    let (en, mut w) = setup(&[img("app", &["node:22", "python:3"])]);
    for r in ["node:22", "python:3"] {
        update(&en, &mut w, r, 1, day(0));
        update(&en, &mut w, r, 2, day(1));
    }
    let d = reconcile(&en, &mut w, day(8), &Policy::default());
    trigger_result(
        &mut w,
        &d.triggers[0],
        Ok(Started {
            pipeline_id: Some(7),
            ..Started::default()
        }),
        day(8),
        &Policy::default(),
    );
    update(&en, &mut w, "node:22", 3, day(9));
    let s = &w.images["app"];
    let text = s.to_yaml().unwrap();
    let (back, diags) = if_model::state::parse_image(&text, "app.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(back.as_ref(), Some(s), "{text}");
}

#[test]
fn a_failed_second_trigger_keeps_the_running_build_and_its_digest_closes_everything() {
    let (en, mut w) = setup(&[img("app", &["node:22"]), img("child", &["@app"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    update(&en, &mut w, "node:22", 2, day(0));
    assert_eq!(run(&en, &mut w, day(7)), ["app"]);
    let again = manual(&en, &mut w, "app", Some("again"), day(7)).unwrap();
    trigger_result(
        &mut w,
        &again,
        Err("no token".into()),
        day(7),
        &Policy::default(),
    );
    assert_eq!(
        status(&w, "app"),
        TRIGGERED,
        "the running build is not forgotten"
    );
    let twice = manual(&en, &mut w, "app", None, day(7)).unwrap();
    trigger_result(
        &mut w,
        &twice,
        Ok(Started::default()),
        day(7),
        &Policy::default(),
    );
    assert_eq!(w.images["app"].rebuild_history.len(), 2);
    let r = build(&en, &mut w, "app", 9, day(8));
    assert!(r.completed);
    assert_eq!(r.scheduled, vec![("child".to_string(), day(8))]);
    assert!(
        w.images["app"]
            .rebuild_history
            .iter()
            .all(|h| h.success == Some(true))
    );
}

#[test]
fn an_external_image_keeps_a_history_like_a_base_image_and_is_never_built() {
    let yaml = "- name: pg\n  registry: docker.io\n  repository: library/postgres\n  allowTags: ^16$\n- name: app\n  registry: ghcr.io\n  repository: acme/app\n  source:\n    provider: github\n    repo: acme/app\n    dockerfile: Dockerfile\n    workflow: build.yml\n  rebuildDelay: 1d\n";
    let (en, diags) = enrollment::parse(yaml, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let factory = Factory {
        enrollment: en.clone(),
        images: Vec::new(),
        bases: Vec::new(),
    };
    let req = Request {
        now: day(-30),
        discoveries: [(
            "app".to_string(),
            Discovery::Found(vec![reference("postgres:16")]),
        )]
        .into_iter()
        .collect(),
        published: BTreeMap::new(),
        only: None,
    };
    let mut w = analyze(factory, &req);
    let pg = reference("docker.io/library/postgres:16");
    assert_eq!(
        record_update(&en, &mut w, &pg, &digest(1), day(0))
            .unwrap()
            .outcome,
        "baseline"
    );
    let r = record_update(&en, &mut w, &pg, &digest(2), day(1)).unwrap();
    assert_eq!(r.outcome, "updated");
    let s = &w.images["pg"];
    assert_eq!(s.previous_digest, Some(digest(1)));
    assert_eq!(s.last_updated, Some(day(1)));
    assert_eq!(s.last_built, None, "nobody here built pg");
    let h: Vec<_> = s
        .update_history
        .iter()
        .map(|u| {
            (
                u.detected_at,
                u.digest.clone(),
                u.triggered_rebuilds.clone(),
            )
        })
        .collect();
    assert_eq!(
        h,
        [(Some(day(1)), Some(digest(2)), vec!["app".to_string()])]
    );
    // The history survives a round trip through the state file.
    let text = s.to_yaml().unwrap();
    let (back, diags) = if_model::state::parse_image(&text, "pg.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(back.as_ref(), Some(s));
}

#[test]
fn a_build_that_reports_the_digest_the_image_has_closes_its_rebuild_without_a_cascade() {
    let (en, mut w) = setup(&[img("base", &["node:22"]), img("app", &["@base"])]);
    update(&en, &mut w, "node:22", 1, day(0));
    build(&en, &mut w, "base", 5, day(0));
    update(&en, &mut w, "node:22", 2, day(1));
    assert_eq!(run(&en, &mut w, day(8)), ["base"]);
    // The build reproduced the same image: the rebuild ends, app has nothing new to build on.
    let r = build(&en, &mut w, "base", 5, day(8));
    assert_eq!((r.outcome, r.completed), ("unchanged", true));
    assert!(r.scheduled.is_empty());
    assert_eq!(status(&w, "base"), MONITORING);
    let h = w.images["base"].rebuild_history.last().unwrap();
    assert_eq!(
        (h.success, h.conclusion.as_deref()),
        (Some(true), Some(SUCCESS))
    );
    let app = w.images["app"].rebuild_state.as_ref();
    assert!(app.is_none_or(|r| r.causes.is_empty()), "{app:?}");
    // Reported again: nothing more.
    let again = build(&en, &mut w, "base", 5, day(8));
    assert!(!again.completed);
}
