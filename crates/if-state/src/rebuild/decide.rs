//! Deciding at `now`: which pending rebuilds trigger, which become due, which wait and why;
//! and the steps people take (a manual trigger, an expedite) and the outcome of a trigger.

use std::collections::{BTreeMap, BTreeSet};

use if_model::digest::Digest;
use if_model::duration::Duration;
use if_model::enrollment::{Enrollment, Source};
use if_model::state::{BaseImageState, Cause, ImageState, RebuildRecord, RebuildState};
use if_model::timestamp::Timestamp;

use super::graph::Graph;
use super::record::add_cause;
use super::{
    BY_EXPEDITE, BY_MANUAL, DUE, EngineError, FAILED, PENDING, Policy, Subject, TRIGGERED, Trigger,
    entries, refresh, resolve,
};
use crate::analyze::Analysis;

/// Longest kept reason passed to a build (GitHub limits an input's size).
const MAX_REASON: usize = 1000;
/// Longest wait between two trigger attempts.
const MAX_BACKOFF_MINUTES: u64 = 24 * 60;

/// What [`reconcile`] decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Builds to start now, every image after its internal parents.
    pub triggers: Vec<Trigger>,
    /// Images that became `due` (their schedule passed; `autoRebuild: false`).
    pub became_due: Vec<String>,
    /// Images with a pending rebuild that does not start now, and why.
    pub waiting: Vec<Wait>,
    /// Dependency cycles among the factory's images (never triggered).
    pub cycles: Vec<Vec<String>>,
}

/// A pending rebuild that waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The image.
    pub image: String,
    /// Until when, when the wait is for a time.
    pub until: Option<Timestamp>,
    /// The internal ancestors it waits for.
    pub blocked_by: Vec<String>,
    /// Why, for people.
    pub why: String,
}

fn status(s: &ImageState) -> &str {
    s.rebuild_state
        .as_ref()
        .and_then(|r| r.status.as_deref())
        .unwrap_or("")
}

/// Whether an image has a rebuild that its descendants must wait for.
fn busy(s: &ImageState) -> bool {
    matches!(status(s), PENDING | DUE | TRIGGERED)
}

/// Decides at `now`. Marks images `due`; every other change waits for the outcome of the
/// triggers, reported with [`trigger_result`].
pub fn reconcile(enrollment: &Enrollment, world: &mut Analysis, now: Timestamp) -> Decision {
    let entries = entries(enrollment);
    let mut out = Decision::default();
    let mut due = Vec::new();
    {
        let graph = Graph::of(world);
        out.cycles = graph.cycles();
        let cyclic: BTreeMap<&str, &Vec<String>> = out
            .cycles
            .iter()
            .flat_map(|c| c.iter().map(move |n| (n.as_str(), c)))
            .collect();
        let bases = bases_by_name(world);
        for name in graph.topological() {
            let Some(s) = world.images.get(name) else {
                continue;
            };
            let Some(rs) = s.rebuild_state.as_ref().filter(|r| !r.causes.is_empty()) else {
                continue;
            };
            let mut wait = |until: Option<Timestamp>, blocked_by: Vec<String>, why: String| {
                out.waiting.push(Wait {
                    image: name.to_string(),
                    until,
                    blocked_by,
                    why,
                });
            };
            match status(s) {
                TRIGGERED => {
                    wait(None, Vec::new(), "queued behind the running build".into());
                    continue;
                }
                FAILED => {
                    let n = rs.attempts.unwrap_or(0);
                    wait(None, Vec::new(), format!("gave up after {n} attempts"));
                    continue;
                }
                DUE => {
                    wait(
                        None,
                        Vec::new(),
                        format!("due; waits for `image-factory trigger {name}`"),
                    );
                    continue;
                }
                _ => {}
            }
            let Some((entry, source)) = entries
                .get(name)
                .and_then(|e| Some((e, e.source.as_ref()?)))
            else {
                wait(None, Vec::new(), "not built by the factory".into());
                continue;
            };
            let ready_at = match (rs.rebuild_scheduled_for, rs.next_attempt_at) {
                (Some(a), Some(b)) => Some(if a.unix() >= b.unix() { a } else { b }),
                (a, b) => a.or(b),
            };
            if let Some(t) = ready_at.filter(|t| t.unix() > now.unix()) {
                let why = if rs.next_attempt_at == Some(t) {
                    "retry after a failed trigger"
                } else {
                    "waiting for the delay"
                };
                wait(Some(t), Vec::new(), why.into());
                continue;
            }
            if let Some(cycle) = cyclic.get(name) {
                wait(
                    None,
                    Vec::new(),
                    format!("in a dependency cycle: {}", cycle.join(" -> ")),
                );
                continue;
            }
            let blockers: Vec<String> = graph
                .ancestors(name)
                .into_iter()
                .filter(|a| world.images.get(*a).is_some_and(busy))
                .map(str::to_string)
                .collect();
            if !blockers.is_empty() {
                let why = format!("waits for {} to be rebuilt first", blockers.join(", "));
                wait(None, blockers, why);
                continue;
            }
            if !entry.auto_rebuild {
                due.push(name.to_string());
                continue;
            }
            out.triggers
                .push(build_trigger(world, &bases, name, source, rs, now));
        }
    }
    for name in due {
        if let Some(rs) = world
            .images
            .get_mut(&name)
            .and_then(|s| s.rebuild_state.as_mut())
        {
            rs.status = Some(DUE.to_string());
            world.changes.push(format!(
                "{name}: rebuild due; autoRebuild is false, run `image-factory trigger {name}`"
            ));
        }
        out.became_due.push(name);
    }
    out
}

fn bases_by_name(world: &Analysis) -> BTreeMap<&str, &BaseImageState> {
    world.bases.values().map(|b| (b.name.as_str(), b)).collect()
}

/// The causes one trigger serves, and the digest it builds on for each base. Per base, the
/// digests whose schedule has passed are served and the newest of them is built on; later
/// digests of that base stay queued for their own schedule (the build pins the aged
/// digest). A base none of whose digests has aged joined by coalescing: all of them are
/// served, the newest built on. Manual causes are always served.
fn served(causes: &[Cause], now: Timestamp) -> (Vec<Cause>, Vec<(String, Digest)>) {
    let mut by_base: BTreeMap<&str, Vec<&Cause>> = BTreeMap::new();
    let mut out = Vec::new();
    for c in causes {
        match c.base_image.as_deref() {
            Some(b) => by_base.entry(b).or_default().push(c),
            None => out.push(c.clone()),
        }
    }
    let mut builds_on = Vec::new();
    let key = |c: &&&Cause| c.detected_at.map_or(i64::MIN, Timestamp::unix);
    for (base, cs) in by_base {
        let aged: Vec<&Cause> = cs
            .iter()
            .copied()
            .filter(|c| c.scheduled_for.is_none_or(|t| t.unix() <= now.unix()))
            .collect();
        let take = if aged.is_empty() { cs } else { aged };
        if let Some(d) = take.iter().max_by_key(key).and_then(|c| c.digest.clone()) {
            builds_on.push((base.to_string(), d));
        }
        out.extend(take.into_iter().cloned());
    }
    out.sort_by_key(|c| c.scheduled_for.map(Timestamp::unix));
    (out, builds_on)
}

fn build_trigger(
    world: &Analysis,
    bases: &BTreeMap<&str, &BaseImageState>,
    name: &str,
    source: &Source,
    rs: &RebuildState,
    now: Timestamp,
) -> Trigger {
    let (causes, builds_on) = served(&rs.causes, now);
    let reasons: Vec<&str> = causes.iter().filter_map(|c| c.reason.as_deref()).collect();
    let reason = if reasons.is_empty() {
        "rebuild".to_string()
    } else {
        reasons.join("; ")
    };
    let first = causes.first();
    let triggered_by = first
        .and_then(|c| c.triggered_by.clone())
        .unwrap_or_default();
    let label = |base: &str| -> String {
        if let Some(b) = bases.get(base) {
            return b.full_image.clone().unwrap_or_else(|| base.to_string());
        }
        match world.images.get(base) {
            Some(s) => s.watch.repo_url.clone().unwrap_or_else(|| base.to_string()),
            None => base.to_string(),
        }
    };
    let detected = |base: &str, d: &Digest| {
        causes
            .iter()
            .find(|c| c.base_image.as_deref() == Some(base) && c.digest.as_ref() == Some(d))
            .and_then(|c| c.detected_at)
    };
    let primary_base = causes.iter().find_map(|c| c.base_image.as_deref());
    let primary = builds_on
        .iter()
        .find(|(b, _)| Some(b.as_str()) == primary_base);
    let json_causes: Vec<serde_json::Value> = builds_on
        .iter()
        .map(|(base, d)| {
            serde_json::json!({
                "baseImage": label(base),
                "digest": d.as_str(),
                "detectedAt": detected(base, d).map(|t| t.to_string()),
            })
        })
        .collect();
    let inputs = vec![
        ("image".to_string(), name.to_string()),
        ("reason".to_string(), truncate(&reason, MAX_REASON)),
        ("triggered_by".to_string(), triggered_by.clone()),
        (
            "base_image".to_string(),
            primary.map(|(b, _)| label(b)).unwrap_or_default(),
        ),
        (
            "base_digest".to_string(),
            primary
                .map(|(_, d)| d.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "causes".to_string(),
            serde_json::Value::Array(json_causes).to_string(),
        ),
        (
            "scheduled_for".to_string(),
            first
                .and_then(|c| c.scheduled_for)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ),
    ];
    Trigger {
        image: name.to_string(),
        source: source.clone(),
        causes,
        builds_on,
        reason,
        triggered_by,
        attempt: rs.attempts.unwrap_or(0) + 1,
        inputs,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Records what came of `trigger` at `now`: `Ok(pipeline id)` marks the image `triggered`
/// and opens a history entry; `Err(message)` counts an attempt and schedules a retry with
/// exponential backoff, or gives up (`failed`) after [`Policy::max_attempts`].
pub fn trigger_result(
    world: &mut Analysis,
    trigger: &Trigger,
    outcome: Result<Option<u64>, String>,
    now: Timestamp,
    policy: &Policy,
) {
    let Some(s) = world.images.get_mut(&trigger.image) else {
        return;
    };
    let name = &trigger.image;
    let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
    match outcome {
        Ok(pipeline_id) => {
            let snapshots = trigger
                .builds_on
                .iter()
                .map(|(b, d)| (b.clone(), d.to_string()))
                .collect();
            s.rebuild_history.push(RebuildRecord {
                triggered_at: Some(now),
                reason: Some(trigger.reason.clone()),
                base_image_snapshots: snapshots,
                triggered_by: Some(trigger.triggered_by.clone()),
                pipeline_id,
                ..RebuildRecord::default()
            });
            rs.causes.retain(|c| !trigger.causes.contains(c));
            rs.status = Some(TRIGGERED.to_string());
            rs.attempts = None;
            rs.last_error = None;
            rs.next_attempt_at = None;
            refresh(rs);
            let pipeline = pipeline_id
                .map(|p| format!(", pipeline {p}"))
                .unwrap_or_default();
            world.changes.push(format!(
                "{name}: triggered on {} {}{pipeline}",
                trigger.source.provider, trigger.source.repo
            ));
        }
        Err(message) => {
            let attempts = rs.attempts.unwrap_or(0).saturating_add(1);
            rs.attempts = Some(attempts);
            rs.last_error = Some(message.clone());
            if rs.status.as_deref() == Some(TRIGGERED) {
                // A second trigger of a running build failed: the running build stays
                // recorded (its digest will close it); the new request waits behind it.
                rs.next_attempt_at = (attempts < policy.max_attempts.max(1))
                    .then(|| now.plus(backoff(policy.retry_backoff, attempts)));
                world.changes.push(format!(
                    "{name}: trigger failed (attempt {attempts}) while a build runs: {message}"
                ));
            } else if attempts >= policy.max_attempts.max(1) {
                rs.status = Some(FAILED.to_string());
                rs.next_attempt_at = None;
                s.rebuild_history.push(RebuildRecord {
                    triggered_at: Some(now),
                    reason: Some(trigger.reason.clone()),
                    success: Some(false),
                    triggered_by: Some(trigger.triggered_by.clone()),
                    completed_at: Some(now),
                    ..RebuildRecord::default()
                });
                world.changes.push(format!(
                    "{name}: trigger failed {attempts} times, giving up: {message}"
                ));
            } else {
                let next = now.plus(backoff(policy.retry_backoff, attempts));
                rs.status = Some(PENDING.to_string());
                rs.next_attempt_at = Some(next);
                world.changes.push(format!(
                    "{name}: trigger failed (attempt {attempts}), retry at {next}: {message}"
                ));
            }
        }
    }
}

/// The wait after `attempts` failed attempts: `base`, doubled for each further one.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.saturating_sub(1).min(16);
    Duration::from_minutes(
        base.as_minutes()
            .max(1)
            .saturating_mul(factor)
            .min(MAX_BACKOFF_MINUTES),
    )
}

/// A person asks to rebuild `name` now (also for a `due` or `failed` image): the returned
/// trigger serves every pending cause plus this request; ancestors and delays are not waited
/// for. Report its outcome with [`trigger_result`].
pub fn manual(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<Trigger, EngineError> {
    let entry = enrollment
        .get(name)
        .ok_or_else(|| EngineError::NotEnrolled {
            name: name.to_string(),
        })?;
    let source = entry
        .source
        .as_ref()
        .ok_or_else(|| EngineError::NotManaged {
            name: name.to_string(),
        })?;
    let s = world
        .images
        .get_mut(name)
        .ok_or_else(|| EngineError::NoState {
            name: name.to_string(),
        })?;
    let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
    rs.causes
        .retain(|c| c.triggered_by.as_deref() != Some(BY_MANUAL));
    let why = reason.unwrap_or("requested by a person");
    add_cause(
        rs,
        Cause {
            detected_at: Some(now),
            scheduled_for: Some(now),
            triggered_by: Some(BY_MANUAL.to_string()),
            reason: Some(format!("manual: {why}")),
            ..Cause::default()
        },
    );
    let rs = rs.clone();
    let bases = bases_by_name(world);
    Ok(build_trigger(world, &bases, name, source, &rs, now))
}

/// Makes every pending rebuild caused by `base` (a reference, base-image name or image name)
/// due at `now`, recording `reason`. Returns the images expedited (none when nothing waits).
pub fn expedite(
    enrollment: &Enrollment,
    world: &mut Analysis,
    base: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<String>, EngineError> {
    let subject = resolve(enrollment, world, base).ok_or_else(|| EngineError::UnknownImage {
        reference: base.to_string(),
    })?;
    let target = match &subject {
        Subject::Base { name, .. } | Subject::Image { name } => name.clone(),
    };
    let mut done = BTreeSet::new();
    for (name, s) in &mut world.images {
        let Some(rs) = s.rebuild_state.as_mut() else {
            continue;
        };
        let mut touched = false;
        for c in &mut rs.causes {
            if c.base_image.as_deref() != Some(&target)
                || c.triggered_by.as_deref() == Some(BY_EXPEDITE)
            {
                continue;
            }
            if c.scheduled_for.is_none_or(|t| t.unix() > now.unix()) {
                c.scheduled_for = Some(now);
            }
            c.triggered_by = Some(BY_EXPEDITE.to_string());
            let old = c.reason.take().unwrap_or_default();
            c.reason = Some(format!("expedited ({reason}): {old}"));
            touched = true;
        }
        if touched {
            refresh(rs);
            done.insert(name.clone());
        }
    }
    for name in &done {
        world
            .changes
            .push(format!("{name}: expedited ({reason}), due now"));
    }
    Ok(done.into_iter().collect())
}
