//! Deciding at `now`: which pending rebuilds trigger, which become due, which wait and why;
//! and the steps people take (a manual trigger, an expedite) and the outcome of a trigger.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use if_model::enrollment::Enrollment;
use if_model::state::{Cause, ImageState, RebuildState};
use if_model::timestamp::Timestamp;

use super::graph::{BaseNames, Links};
use super::outcome::{give_up_at, time_out, time_out_among, timeout_of};
use super::record::add_cause;
use super::trigger::build_trigger;
use super::{
    BY_EXPEDITE, BY_MANUAL, DUE, EngineError, FAILED, PENDING, Policy, Subject, TRIGGERED, Trigger,
    refresh,
};
use crate::analyze::Analysis;

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
    /// Images whose build had no outcome within its `buildTimeout` (now a failed attempt).
    pub timed_out: Vec<String>,
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

/// Whether an image has a rebuild that its descendants must wait for: one pending, due or
/// running, or one that a poll saw succeed whose new digest is not recorded yet (the
/// descendants build on that digest; without the wait they would build on the old one and
/// again on the new). The last wait ends at the build's `buildTimeout` after it succeeded,
/// so a build that changed nothing blocks nobody for long.
fn busy(enrollment: &Enrollment, s: &ImageState, now: Timestamp) -> bool {
    matches!(status(s), PENDING | DUE | TRIGGERED) || awaits_digest(enrollment, s, now)
}

/// Whether `s`'s newest build succeeded (seen by a poll) after its digest was last recorded,
/// less than its `buildTimeout` ago.
fn awaits_digest(enrollment: &Enrollment, s: &ImageState, now: Timestamp) -> bool {
    let Some(r) = s.rebuild_history.last() else {
        return false;
    };
    let (Some(true), Some(triggered), Some(done)) = (r.success, r.triggered_at, r.completed_at)
    else {
        return false;
    };
    let digest_since = s.last_built.is_some_and(|b| b.unix() >= triggered.unix());
    let timeout = timeout_of(enrollment, &s.name);
    !digest_since && now.unix() < done.plus(timeout).unix()
}

/// Decides at `now`. First gives up every build with no outcome past its `buildTimeout`
/// (a failed attempt, see [`super::time_out`]); then marks images `due`; every other change
/// waits for the outcome of the triggers, reported with [`super::trigger_result`].
pub fn reconcile(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    policy: &Policy,
) -> Decision {
    let links = Links::of(enrollment, world);
    reconcile_with(enrollment, world, now, policy, &links, None)
}

/// [`reconcile`] for a caller that shows what it would start but starts nothing (`status`):
/// the triggers' inputs are not built (at 100,000 images that was most of a decision), so
/// [`Decision::triggers`] is empty; the images that would be triggered are returned beside,
/// in the order `reconcile` gives their triggers. Everything else is `reconcile`'s.
pub fn preview(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    policy: &Policy,
) -> (Decision, Vec<String>) {
    let links = Links::of(enrollment, world);
    let mut ready = Vec::new();
    let decision = decide(
        enrollment,
        world,
        now,
        policy,
        &links,
        None,
        Some(&mut ready),
    );
    (decision, ready)
}

/// [`reconcile`] with the links of the graph given: worked out once by a caller that
/// decides many times on the same images (their `FROM` links do not change between
/// decisions). Visits only the images with a pending rebuild. `open`, when given, names
/// every image that can have a build waiting for an outcome (the caller keeps it, from one
/// scan of the states): only those are looked at for timeouts.
pub(crate) fn reconcile_with(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    policy: &Policy,
    links: &Links,
    open: Option<&BTreeSet<String>>,
) -> Decision {
    decide(enrollment, world, now, policy, links, open, None)
}

/// [`reconcile_with`]; with `names`, an image that starts now is named there instead of
/// given a trigger (see [`preview`]).
fn decide(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    policy: &Policy,
    links: &Links,
    open: Option<&BTreeSet<String>>,
    mut names: Option<&mut Vec<String>>,
) -> Decision {
    let timed_out = match open {
        Some(among) => time_out_among(enrollment, world, among, now, policy),
        None => time_out(enrollment, world, now, policy),
    };
    let mut out = Decision {
        timed_out,
        cycles: links.cycles.clone(),
        ..Decision::default()
    };
    let held = super::supply::apply(enrollment, world, now, &links.base_names, &links.policed);
    let graph = &links.graph;
    let mut due = Vec::new();
    {
        // Whether an image holds back its descendants, found once per decision (nothing
        // changes the states while it is made): the same parents are asked about for each
        // of their pending descendants.
        let mut busy_ancestors: HashMap<&str, bool> = HashMap::new();
        let cyclic: BTreeMap<&str, &Vec<String>> = out
            .cycles
            .iter()
            .flat_map(|c| c.iter().map(move |n| (n.as_str(), c)))
            .collect();
        let bases = &links.base_names;
        for name in links.pending(world) {
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
                    let open = s.rebuild_history.iter().rev().find(|r| r.success.is_none());
                    let until = open.and_then(|r| give_up_at(enrollment, name, r));
                    let why = match open.and_then(|r| r.run_url.as_deref()) {
                        Some(url) => format!("queued behind the running build {url}"),
                        None => "queued behind the running build".to_string(),
                    };
                    wait(until, Vec::new(), why);
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
            if let Some(why) = held.get(name) {
                let why = format!(
                    "held: {}; waits for a newer digest or `image-factory release {name}`",
                    why.join("; ")
                );
                wait(None, Vec::new(), why);
                continue;
            }
            let Some((entry, source)) = enrollment
                .get(name)
                .and_then(|e| Some((e, e.source.as_ref()?)))
            else {
                wait(None, Vec::new(), "not built by the factory".into());
                continue;
            };
            // Held causes (some, not all) neither trigger nor make the rebuild ready.
            let scheduled = rs
                .causes
                .iter()
                .filter(|c| c.held.is_none())
                .min_by_key(|c| c.scheduled_for.map(Timestamp::unix))
                .and_then(|c| c.scheduled_for);
            let ready_at = match (scheduled, rs.next_attempt_at) {
                (Some(a), Some(b)) => Some(if a.unix() >= b.unix() { a } else { b }),
                (a, b) => a.or(b),
            };
            if let Some(t) = ready_at.filter(|t| t.unix() > now.unix()) {
                let why = if rs.next_attempt_at == Some(t) {
                    "retry after a failed attempt"
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
                .filter(|a| {
                    *busy_ancestors.entry(a).or_insert_with(|| {
                        world
                            .images
                            .get(*a)
                            .is_some_and(|s| busy(enrollment, s, now))
                    })
                })
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
            match names.as_deref_mut() {
                Some(names) => names.push(name.to_string()),
                None => out
                    .triggers
                    .push(build_trigger(world, bases, name, source, rs, now)),
            }
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
    let bases = BaseNames::of(world);
    manual_with(enrollment, world, name, reason, now, &bases)
}

/// [`manual`] with the base images' names worked out once, by a caller that triggers many
/// ([`super::plan`]: every image that becomes due), not one pass over the bases each.
pub(crate) fn manual_with(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    reason: Option<&str>,
    now: Timestamp,
    bases: &BaseNames,
) -> Result<Trigger, EngineError> {
    let entry = enrollment
        .get(name)
        .ok_or_else(|| super::not_enrolled(enrollment, name))?;
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
    Ok(build_trigger(world, bases, name, source, &rs, now))
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
    let subject = super::resolve_or_unknown(enrollment, world, base)?;
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
