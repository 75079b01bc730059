//! What came of a trigger and of the build it started: [`trigger_result`] records the
//! forge's answer to a dispatch; [`running`] lists the builds that still wait for an outcome
//! (for the caller to poll); [`build_result`] records what a poll, a timeout or the build
//! itself (`record-build --failed`) said. A failed build is a failed attempt like a failed
//! trigger: its causes are pending again, with the same backoff and `maxAttempts`.

use std::collections::BTreeSet;

use if_model::duration::Duration;
use if_model::enrollment::{Enrollment, Source};
use if_model::state::{ImageState, RebuildRecord, RebuildState};
use if_model::timestamp::Timestamp;

use super::record::add_cause;
use super::{FAILED, MONITORING, PENDING, Policy, TRIGGERED, Trigger, refresh};
use crate::analyze::Analysis;

/// Longest wait between two attempts.
const MAX_BACKOFF_MINUTES: u64 = 24 * 60;

/// Conclusion of a build that succeeded.
pub const SUCCESS: &str = "success";
/// Conclusion of a build that reported its own failure (`record-build --failed`).
pub const REPORTED: &str = "reported";
/// Conclusion of a build with no outcome within its image's `buildTimeout`.
pub const NO_OUTCOME: &str = "no-outcome";

/// What the forge said when a build was started.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Started {
    /// The GitHub Actions run (GitHub returns it with `return_run_details`).
    pub run_id: Option<u64>,
    /// The GitLab pipeline.
    pub pipeline_id: Option<u64>,
    /// The run's or pipeline's page.
    pub url: Option<String>,
    /// Why the start is not confirmed: the request may have reached the forge but its
    /// answer was lost. The build is then recorded as running and found by a poll, or given
    /// up after `buildTimeout`; it is never dispatched again blindly.
    pub unconfirmed: Option<String>,
}

impl Started {
    /// `, pipeline 1001`, `, run 5001`, or nothing: for people, after the forge and repo.
    pub fn label(&self) -> String {
        match (self.pipeline_id, self.run_id) {
            (Some(p), _) => format!(", pipeline {p}"),
            (None, Some(r)) => format!(", run {r}"),
            (None, None) => String::new(),
        }
    }
}

/// What is known of a running build now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutcome {
    /// Still queued or running: the forge's own word (`queued`, `in_progress`, `running`).
    Running {
        /// The forge's status word.
        status: String,
    },
    /// It finished with success.
    Succeeded,
    /// It finished otherwise, or gave no outcome in time, or reported its own failure.
    Failed {
        /// The forge's word (`failure`, `cancelled`, `timed_out`, `skipped`, `failed`,
        /// `canceled`), [`REPORTED`] or [`NO_OUTCOME`].
        conclusion: String,
        /// Why, for people.
        reason: String,
    },
    /// Nothing could be learned (the poll failed): recorded on the build, nothing else
    /// changes.
    Unknown {
        /// Why (never a secret).
        error: String,
    },
}

/// One observation of a build: its outcome, and what the observer learned of its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The outcome.
    pub outcome: BuildOutcome,
    /// The run, when it was found only now (by its dispatch id).
    pub run_id: Option<u64>,
    /// The run's page.
    pub url: Option<String>,
}

impl Observed {
    /// An observation that only says `outcome`.
    pub fn just(outcome: BuildOutcome) -> Self {
        Observed {
            outcome,
            run_id: None,
            url: None,
        }
    }
}

/// A build that waits for an outcome: where it runs and how to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The image.
    pub image: String,
    /// Its entry in `rebuildHistory` (pass it back to [`build_result`]).
    pub entry: usize,
    /// Where it is built (absent when the image left `images.yaml`).
    pub source: Option<Source>,
    /// When it was triggered.
    pub triggered_at: Option<Timestamp>,
    /// The GitHub run, when known.
    pub run_id: Option<u64>,
    /// The GitLab pipeline, when known.
    pub pipeline_id: Option<u64>,
    /// The id in the build's `reason` input.
    pub dispatch_id: Option<String>,
    /// The run's or pipeline's page, when known.
    pub run_url: Option<String>,
    /// Its state at the last poll.
    pub run_status: Option<String>,
    /// Why its state is not known.
    pub run_error: Option<String>,
    /// When it is given up if it has no outcome by then.
    pub give_up_at: Option<Timestamp>,
}

/// The build timeout of `name` (its entry's `buildTimeout`, else the default).
pub(crate) fn timeout_of(enrollment: &Enrollment, name: &str) -> Duration {
    enrollment
        .get(name)
        .map_or(if_model::enrollment::DEFAULT_BUILD_TIMEOUT, |e| {
            e.build_timeout
        })
}

/// When the build of `record` is given up.
pub fn give_up_at(
    enrollment: &Enrollment,
    name: &str,
    record: &RebuildRecord,
) -> Option<Timestamp> {
    record
        .triggered_at
        .map(|t| t.plus(timeout_of(enrollment, name)))
}

/// Every build that waits for an outcome, image by image (in name order), oldest first.
pub fn running(enrollment: &Enrollment, world: &Analysis) -> Vec<Running> {
    let mut out = Vec::new();
    for (name, s) in &world.images {
        open_builds(enrollment, name, s, &mut out);
    }
    out
}

/// [`running`] of the images named in `among` only (in name order): a caller that decides
/// many times keeps the set of images that can have a build open instead of scanning every
/// state for each decision.
pub(crate) fn running_among(
    enrollment: &Enrollment,
    world: &Analysis,
    among: &BTreeSet<String>,
) -> Vec<Running> {
    let mut out = Vec::new();
    for name in among {
        if let Some(s) = world.images.get(name) {
            open_builds(enrollment, name, s, &mut out);
        }
    }
    out
}

/// Adds the builds of `s` that wait for an outcome, oldest first.
fn open_builds(enrollment: &Enrollment, name: &str, s: &ImageState, out: &mut Vec<Running>) {
    for (entry, r) in s.rebuild_history.iter().enumerate() {
        if r.success.is_some() {
            continue;
        }
        out.push(Running {
            image: name.to_string(),
            entry,
            source: enrollment.get(name).and_then(|e| e.source.clone()),
            triggered_at: r.triggered_at,
            run_id: r.run_id,
            pipeline_id: r.pipeline_id,
            dispatch_id: r.dispatch_id.clone(),
            run_url: r.run_url.clone(),
            run_status: r.run_status.clone(),
            run_error: r.run_error.clone(),
            give_up_at: give_up_at(enrollment, name, r),
        });
    }
}

/// Records what came of `trigger` at `now`: `Ok` marks the image `triggered`, opens a
/// history entry with the run's identity and moves the causes it serves to
/// `runningCauses`; `Err(message)` counts an attempt and schedules a retry with exponential
/// backoff, or gives up (`failed`) after [`Policy::max_attempts`].
pub fn trigger_result(
    world: &mut Analysis,
    trigger: &Trigger,
    outcome: Result<Started, String>,
    now: Timestamp,
    policy: &Policy,
) {
    let Some(s) = world.images.get_mut(&trigger.image) else {
        return;
    };
    let name = &trigger.image;
    let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
    match outcome {
        Ok(started) => {
            let snapshots = trigger
                .builds_on
                .iter()
                .map(|(b, d)| (b.clone(), d.to_string()))
                .collect();
            let what = started.label();
            let unconfirmed = started
                .unconfirmed
                .as_ref()
                .map(|u| format!(" (not confirmed: {u})"))
                .unwrap_or_default();
            s.rebuild_history.push(RebuildRecord {
                triggered_at: Some(now),
                reason: Some(trigger.reason.clone()),
                base_image_snapshots: snapshots,
                triggered_by: Some(trigger.triggered_by.clone()),
                pipeline_id: started.pipeline_id,
                run_id: started.run_id,
                run_url: started.url,
                dispatch_id: Some(trigger.dispatch_id.clone()),
                run_error: started.unconfirmed,
                ..RebuildRecord::default()
            });
            rs.causes.retain(|c| !trigger.causes.contains(c));
            for c in &trigger.causes {
                if !rs.running_causes.contains(c) {
                    rs.running_causes.push(c.clone());
                }
            }
            rs.status = Some(TRIGGERED.to_string());
            rs.last_error = None;
            rs.next_attempt_at = None;
            refresh(rs);
            world.changes.push(format!(
                "{name}: triggered on {} {}{what}{unconfirmed}",
                trigger.source.provider, trigger.source.repo
            ));
        }
        Err(message) => {
            if rs.status.as_deref() == Some(TRIGGERED) {
                // A second trigger of a running build failed: the running build stays
                // recorded (its outcome or digest will close it); the request waits behind it.
                let attempts = rs.attempts.unwrap_or(0).saturating_add(1);
                rs.attempts = Some(attempts);
                rs.last_error = Some(message.clone());
                rs.next_attempt_at = (attempts < policy.max_attempts.max(1))
                    .then(|| now.plus(backoff(policy.retry_backoff, attempts)));
                world.changes.push(format!(
                    "{name}: trigger failed (attempt {attempts}) while a build runs: {message}"
                ));
                return;
            }
            let gave_up = failed_attempt(rs, &message, now, policy);
            let attempts = rs.attempts.unwrap_or(0);
            if gave_up {
                s.rebuild_history.push(RebuildRecord {
                    triggered_at: Some(now),
                    reason: Some(trigger.reason.clone()),
                    success: Some(false),
                    triggered_by: Some(trigger.triggered_by.clone()),
                    failure_reason: Some(message.clone()),
                    completed_at: Some(now),
                    ..RebuildRecord::default()
                });
                world.changes.push(format!(
                    "{name}: trigger failed {attempts} times, giving up: {message}"
                ));
            } else {
                let next = rs
                    .next_attempt_at
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                world.changes.push(format!(
                    "{name}: trigger failed (attempt {attempts}), retry at {next}: {message}"
                ));
            }
        }
    }
}

/// Counts a failed attempt of the pending rebuild: `failed` after the last one (returns
/// true), else `pending` with the next attempt after the backoff.
fn failed_attempt(rs: &mut RebuildState, message: &str, now: Timestamp, policy: &Policy) -> bool {
    let attempts = rs.attempts.unwrap_or(0).saturating_add(1);
    rs.attempts = Some(attempts);
    rs.last_error = Some(message.to_string());
    if attempts >= policy.max_attempts.max(1) {
        rs.status = Some(FAILED.to_string());
        rs.next_attempt_at = None;
        true
    } else {
        rs.status = Some(PENDING.to_string());
        rs.next_attempt_at = Some(now.plus(backoff(policy.retry_backoff, attempts)));
        false
    }
}

/// The wait after `attempts` failed attempts: `base`, doubled for each further one.
pub(crate) fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 1u64 << attempts.saturating_sub(1).min(16);
    Duration::from_minutes(
        base.as_minutes()
            .max(1)
            .saturating_mul(factor)
            .min(MAX_BACKOFF_MINUTES),
    )
}

/// Records what was observed at `now` of the build in history entry `entry` of `name`
/// (from [`running`]). Returns whether anything changed; an observation of a build that is
/// already closed changes nothing (a poll and `record-build --failed` may both report it).
///
/// * running: the polled status is kept (only when it changes, so polls make no diff);
/// * success: the entry is closed with success, the causes it served are done; the image's
///   new digest, when it comes, still starts the cascade;
/// * failure: the entry is closed as failed with its conclusion, the causes it served are
///   pending again, and the attempt counts (backoff, then `failed` after the last);
/// * unknown: the error is kept on the entry, nothing else changes.
pub fn build_result(
    world: &mut Analysis,
    name: &str,
    entry: usize,
    observed: Observed,
    now: Timestamp,
    policy: &Policy,
) -> bool {
    let Some(s) = world.images.get_mut(name) else {
        return false;
    };
    let Some(r) = s
        .rebuild_history
        .get_mut(entry)
        .filter(|r| r.success.is_none())
    else {
        return false;
    };
    let before = r.clone();
    if observed.run_id.is_some() {
        r.run_id = observed.run_id;
    }
    if observed.url.is_some() {
        r.run_url = observed.url;
    }
    let link = r
        .run_url
        .as_ref()
        .map(|u| format!(" ({u})"))
        .unwrap_or_default();
    let change = match observed.outcome {
        BuildOutcome::Running { status } => {
            r.run_status = Some(status.clone());
            r.run_error = None;
            (*r != before).then(|| format!("{name}: build {status}{link}"))
        }
        BuildOutcome::Unknown { error } => {
            r.run_error = Some(error.clone());
            (*r != before).then(|| format!("{name}: build state unknown: {error}"))
        }
        BuildOutcome::Succeeded => {
            close(r, true, SUCCESS, None, now);
            finish(s, true, "", now, policy);
            Some(format!("{name}: build succeeded{link}"))
        }
        BuildOutcome::Failed { conclusion, reason } => {
            close(r, false, &conclusion, Some(&reason), now);
            let message = format!("build failed: {reason}{link}");
            let gave_up = finish(s, false, &message, now, policy);
            Some(failure_change(s, name, &message, gave_up))
        }
    };
    match change {
        Some(c) => {
            world.changes.push(c);
            true
        }
        None => false,
    }
}

/// The change line of a failed build.
fn failure_change(s: &ImageState, name: &str, message: &str, gave_up: bool) -> String {
    let rs = s.rebuild_state.as_ref();
    let attempts = rs.and_then(|r| r.attempts).unwrap_or(0);
    if gave_up {
        return format!("{name}: {message}; giving up after {attempts} attempts");
    }
    match rs.and_then(|r| r.next_attempt_at) {
        Some(next) => format!("{name}: {message}; attempt {attempts}, retry at {next}"),
        None => format!("{name}: {message}"),
    }
}

fn close(
    r: &mut RebuildRecord,
    success: bool,
    conclusion: &str,
    why: Option<&str>,
    now: Timestamp,
) {
    r.success = Some(success);
    r.conclusion = Some(conclusion.to_string());
    r.failure_reason = why.map(str::to_string);
    r.run_status = None;
    r.run_error = None;
    r.completed_at = Some(now);
}

/// After an entry closed: when no build of the image is still open, its rebuild state
/// follows (success: the served causes are done; failure: they are pending again and the
/// attempt counts). Returns whether the image gave up (`failed`).
fn finish(
    s: &mut ImageState,
    success: bool,
    message: &str,
    now: Timestamp,
    policy: &Policy,
) -> bool {
    let still_open = s.rebuild_history.iter().any(|r| r.success.is_none());
    let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
    if still_open {
        return false;
    }
    if success {
        done(rs);
        return false;
    }
    let running = std::mem::take(&mut rs.running_causes);
    rs.status = Some(PENDING.to_string());
    for c in running {
        add_cause(rs, c);
    }
    let gave_up = failed_attempt(rs, message, now, policy);
    refresh(rs);
    gave_up
}

/// Gives up every build without an outcome at `now` past its image's `buildTimeout`: each is
/// recorded as failed ([`NO_OUTCOME`]) and handled like any failed attempt. Returns the
/// images given up.
pub fn time_out(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    policy: &Policy,
) -> Vec<String> {
    let open = running(enrollment, world);
    give_up(enrollment, world, open, now, policy)
}

/// [`time_out`] of the images named in `among` only (see [`running_among`]).
pub(crate) fn time_out_among(
    enrollment: &Enrollment,
    world: &mut Analysis,
    among: &BTreeSet<String>,
    now: Timestamp,
    policy: &Policy,
) -> Vec<String> {
    let open = running_among(enrollment, world, among);
    give_up(enrollment, world, open, now, policy)
}

/// Gives up the builds of `open` past their timeout at `now`.
fn give_up(
    enrollment: &Enrollment,
    world: &mut Analysis,
    open: Vec<Running>,
    now: Timestamp,
    policy: &Policy,
) -> Vec<String> {
    let due: Vec<(String, usize, Duration)> = open
        .into_iter()
        .filter(|r| r.give_up_at.is_none_or(|t| t.unix() <= now.unix()))
        .map(|r| {
            let timeout = timeout_of(enrollment, &r.image);
            (r.image, r.entry, timeout)
        })
        .collect();
    let mut out = Vec::new();
    for (image, entry, timeout) in due {
        let observed = Observed::just(BuildOutcome::Failed {
            conclusion: NO_OUTCOME.to_string(),
            reason: format!("no outcome within {timeout}"),
        });
        if build_result(world, &image, entry, observed, now, policy) && out.last() != Some(&image) {
            out.push(image);
        }
    }
    out
}

/// Closes every open build of `name` with success at `now` (its new digest was seen, or it
/// reported an unchanged one); true when there was one.
pub(crate) fn close_all(s: &mut ImageState, now: Timestamp, version: Option<&str>) -> bool {
    let mut closed = false;
    for open in s.rebuild_history.iter_mut().filter(|r| r.success.is_none()) {
        close(open, true, SUCCESS, None, now);
        open.result_version = version.map(str::to_string);
        closed = true;
    }
    let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
    if closed || rs.status.as_deref() == Some(TRIGGERED) {
        done(rs);
        return true;
    }
    false
}

/// The image's builds succeeded: the causes they served are done, the attempts forgotten;
/// causes that came meanwhile keep it `pending`.
fn done(rs: &mut RebuildState) {
    rs.running_causes.clear();
    rs.status = Some(MONITORING.to_string());
    rs.attempts = None;
    rs.last_error = None;
    rs.next_attempt_at = None;
    refresh(rs);
}

/// A build reported its own failure (`record-build --failed`): its open entry (the newest)
/// is closed as failed with `reason` and, when given, the run's page. Returns whether there
/// was a running build to close.
pub fn report_failure(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    reason: Option<&str>,
    url: Option<&str>,
    now: Timestamp,
    policy: &Policy,
) -> Result<bool, super::EngineError> {
    if enrollment.get(name).is_none() {
        return Err(super::not_enrolled(enrollment, name));
    }
    let Some(s) = world.images.get(name) else {
        return Err(super::EngineError::NoState {
            name: name.to_string(),
        });
    };
    let Some(entry) = s.rebuild_history.iter().rposition(|r| r.success.is_none()) else {
        return Ok(false);
    };
    let observed = Observed {
        outcome: BuildOutcome::Failed {
            conclusion: REPORTED.to_string(),
            reason: reason.unwrap_or("the build reported a failure").to_string(),
        },
        run_id: None,
        url: url.map(str::to_string),
    };
    Ok(build_result(world, name, entry, observed, now, policy))
}
