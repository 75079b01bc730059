//! Recording events: a new digest of a base image or of an image of the factory, and what it
//! schedules.

use if_model::digest::Digest;
use if_model::enrollment::Enrollment;
use if_model::reference::ImageRef;
use if_model::state::{Cause, RebuildState, UpdateRecord};
use if_model::timestamp::Timestamp;

use super::outcome::close_all;
use super::{
    BY_CASCADE, BY_UPDATE, EngineError, FAILED, MONITORING, PENDING, Subject, TRIGGERED, refresh,
    resolve_ref,
};
use crate::analyze::Analysis;

/// What recording one digest did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The image or base image (state name).
    pub subject: String,
    /// `baseline`, `unchanged`, `updated`.
    pub outcome: &'static str,
    /// Images given a new cause, with the time it makes them due.
    pub scheduled: Vec<(String, Timestamp)>,
    /// Dependents that pin the previous digest: their pin needs a bump.
    pub pinned: Vec<String>,
    /// Whether it closed the image's running rebuild.
    pub completed: bool,
}

/// Records that `reference` has `digest`, observed at `at` (Kargo's Warehouse, `check`). An
/// enrolled image's digest is its build result (see [`record_build`]); a base image's new
/// digest schedules its dependents.
pub fn record_update(
    enrollment: &Enrollment,
    world: &mut Analysis,
    reference: &ImageRef,
    digest: &Digest,
    at: Timestamp,
) -> Result<Recorded, EngineError> {
    let subject = resolve_ref(enrollment, world, reference)
        .ok_or_else(|| super::Index::new(enrollment, world).unknown(&reference.familiar()))?;
    Ok(record(enrollment, world, &subject, digest, at))
}

/// Records that the factory's image `name` was built as `digest` (version `version`) at `at`:
/// closes its running rebuild and schedules its dependents.
pub fn record_build(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    digest: &Digest,
    version: Option<&str>,
    at: Timestamp,
) -> Result<Recorded, EngineError> {
    if enrollment.get(name).is_none() {
        return Err(super::not_enrolled(enrollment, name));
    }
    if !world.images.contains_key(name) {
        return Err(EngineError::NoState {
            name: name.to_string(),
        });
    }
    Ok(image_digest(
        enrollment, world, name, digest, version, at, true,
    ))
}

/// Records that the resolved `subject` has `digest`, observed at `at`: [`record_update`]
/// without the lookup, for callers that resolve many references with one [`super::Index`].
pub fn record(
    enrollment: &Enrollment,
    world: &mut Analysis,
    subject: &Subject,
    digest: &Digest,
    at: Timestamp,
) -> Recorded {
    match subject {
        Subject::Image { name } => image_digest(enrollment, world, name, digest, None, at, false),
        Subject::Base { identity, name } => {
            base_digest(enrollment, world, identity, name, digest, at)
        }
    }
}

fn base_digest(
    enrollment: &Enrollment,
    world: &mut Analysis,
    identity: &str,
    name: &str,
    digest: &Digest,
    at: Timestamp,
) -> Recorded {
    let mut out = Recorded {
        subject: name.to_string(),
        ..Recorded::default()
    };
    let Some(b) = world.bases.get_mut(identity) else {
        return out;
    };
    let label = b.full_image.clone().unwrap_or_else(|| name.to_string());
    match &b.current_digest {
        Some(d) if d == digest => {
            out.outcome = "unchanged";
            return out;
        }
        None => {
            out.outcome = "baseline";
            b.current_digest = Some(digest.clone());
            b.last_updated = Some(at);
            b.last_checked = Some(at);
            b.update_history.push(UpdateRecord {
                detected_at: Some(at),
                digest: Some(digest.clone()),
                triggered_rebuilds: Vec::new(),
                extra: Vec::new(),
            });
            world
                .changes
                .push(format!("{label}: baseline {}", digest.short()));
            return out;
        }
        Some(_) => {}
    }
    out.outcome = "updated";
    b.previous_digest = b.current_digest.replace(digest.clone());
    b.last_updated = Some(at);
    b.last_checked = Some(at);
    let dependents = b.dependent_images.clone();
    world
        .changes
        .push(format!("{label}: new digest {}", digest.short()));
    let change = Change {
        parent: name,
        label: &label,
        digest,
        at,
        kind: Kind::Upstream,
    };
    let (scheduled, pinned) = schedule(enrollment, world, &dependents, &change);
    if let Some(b) = world.bases.get_mut(identity) {
        b.update_history.push(UpdateRecord {
            detected_at: Some(at),
            digest: Some(digest.clone()),
            triggered_rebuilds: scheduled.iter().map(|(n, _)| n.clone()).collect(),
            extra: Vec::new(),
        });
    }
    out.scheduled = scheduled;
    out.pinned = pinned;
    out
}

fn image_digest(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    digest: &Digest,
    version: Option<&str>,
    at: Timestamp,
    built: bool,
) -> Recorded {
    let mut out = Recorded {
        subject: name.to_string(),
        ..Recorded::default()
    };
    let managed = enrollment.get(name).is_some_and(|e| e.is_managed());
    let Some(s) = world.images.get_mut(name) else {
        return out;
    };
    // A first digest is a baseline, unless a build of ours that a poll saw succeed made it:
    // then it is that build's result and still starts the cascade.
    let first = s.current_digest.is_none()
        && s.rebuild_history
            .last()
            .is_none_or(|r| r.success != Some(true));
    if s.current_digest.as_ref() == Some(digest) {
        out.outcome = "unchanged";
        if built
            && let Some(v) = version
            && s.current_version.as_deref() != Some(v)
        {
            s.current_version = Some(v.to_string());
            world.changes.push(format!("{name}: version {v}"));
        }
        // A build that reports the digest the image already has (a reproducible build, or
        // one whose success a poll saw first) still ends its running rebuild.
        if built && close_all(s, at, version) {
            out.completed = true;
            world
                .changes
                .push(format!("{name}: rebuild done, digest unchanged"));
        }
        return out;
    }
    let previous = s.current_digest.replace(digest.clone());
    if let Some(v) = version {
        s.current_version = Some(v.to_string());
    }
    if managed || built {
        s.last_built = Some(at);
    } else {
        // Nobody here built it: its history is that of a base image.
        s.previous_digest = previous;
        s.last_updated = Some(at);
    }
    let open = s.rebuild_history.iter().any(|r| r.success.is_none());
    let triggered = s
        .rebuild_state
        .as_ref()
        .is_some_and(|r| r.status.as_deref() == Some(TRIGGERED));
    if triggered || open {
        // Every build still open is closed: the image has its new digest.
        out.completed = close_all(s, at, version);
    } else {
        let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
        if rs.status.is_none() {
            rs.status = Some(MONITORING.to_string());
            refresh(rs);
        }
    }
    let dependents = s.dependent_images.clone();
    let done = if out.completed { ", rebuild done" } else { "" };
    if first && !out.completed {
        out.outcome = "baseline";
        world
            .changes
            .push(format!("{name}: baseline {}", digest.short()));
        return out;
    }
    out.outcome = "updated";
    world
        .changes
        .push(format!("{name}: new digest {}{done}", digest.short()));
    let change = Change {
        parent: name,
        label: name,
        digest,
        at,
        kind: if managed {
            Kind::Cascade
        } else {
            Kind::Upstream
        },
    };
    let (scheduled, pinned) = schedule(enrollment, world, &dependents, &change);
    if !managed
        && !built
        && let Some(s) = world.images.get_mut(name)
    {
        s.update_history.push(UpdateRecord {
            detected_at: Some(at),
            digest: Some(digest.clone()),
            triggered_rebuilds: scheduled.iter().map(|(n, _)| n.clone()).collect(),
            extra: Vec::new(),
        });
    }
    out.scheduled = scheduled;
    out.pinned = pinned;
    out
}

#[derive(Clone, Copy)]
enum Kind {
    /// An upstream change: the dependent's `rebuildDelay`.
    Upstream,
    /// An internal parent we build: the dependent's `cascadeDelay`.
    Cascade,
}

/// A new digest of `parent` (shown to people as `label`), observed at `at`.
struct Change<'a> {
    parent: &'a str,
    label: &'a str,
    digest: &'a Digest,
    at: Timestamp,
    kind: Kind,
}

impl Change<'_> {
    /// The cause's reason, for people.
    fn reason(&self) -> String {
        let (label, digest) = (self.label, self.digest.short());
        match self.kind {
            Kind::Upstream => format!("base image {label} updated to {digest}"),
            Kind::Cascade => format!("internal base {label} rebuilt as {digest}"),
        }
    }
}

/// Gives every enrolled, managed dependent that does not pin the changed parent a cause.
fn schedule(
    enrollment: &Enrollment,
    world: &mut Analysis,
    dependents: &[String],
    change: &Change<'_>,
) -> (Vec<(String, Timestamp)>, Vec<String>) {
    let Change {
        parent,
        digest,
        at,
        kind,
        ..
    } = *change;
    let reason = change.reason();
    let mut scheduled = Vec::new();
    let mut pinned = Vec::new();
    for dep in dependents {
        let Some(entry) = enrollment.get(dep).filter(|e| e.is_managed()) else {
            continue;
        };
        let Some(s) = world.images.get_mut(dep) else {
            continue;
        };
        if s.base_image_pins.contains_key(parent) {
            world.changes.push(format!(
                "{dep}: pins {parent} by digest; bump the pin to {}",
                digest.short()
            ));
            pinned.push(dep.clone());
            continue;
        }
        let (delay, by) = match kind {
            Kind::Upstream => (entry.rebuild_delay, BY_UPDATE),
            Kind::Cascade => (entry.cascade_delay, BY_CASCADE),
        };
        let when = at.plus(delay);
        let cause = Cause {
            base_image: Some(parent.to_string()),
            digest: Some(digest.clone()),
            detected_at: Some(at),
            scheduled_for: Some(when),
            triggered_by: Some(by.to_string()),
            reason: Some(reason.to_string()),
            ..Cause::default()
        };
        let rs = s.rebuild_state.get_or_insert_with(RebuildState::default);
        if add_cause(rs, cause) {
            world
                .changes
                .push(format!("{dep}: rebuild scheduled for {when} ({reason})"));
            scheduled.push((dep.clone(), when));
        }
    }
    (scheduled, pinned)
}

/// Joins `cause` to the pending rebuild; false when the same change is already there.
pub(crate) fn add_cause(rs: &mut RebuildState, cause: Cause) -> bool {
    let same = |c: &Cause| {
        c.base_image.is_some() && c.base_image == cause.base_image && c.digest == cause.digest
    };
    if rs.causes.iter().any(same) {
        return false;
    }
    if rs.status.as_deref() == Some(FAILED) {
        rs.status = Some(PENDING.to_string());
        rs.attempts = None;
        rs.next_attempt_at = None;
    }
    rs.causes.push(cause);
    refresh(rs);
    true
}
