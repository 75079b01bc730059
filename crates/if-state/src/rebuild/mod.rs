//! The rebuild engine (DESIGN.md §5): from the state, one event and the time `now`, the new
//! state and the actions to carry out. Pure: no clock, no network; the caller dispatches the
//! triggers it returns and reports each outcome back with [`trigger_result`].
//!
//! Rules:
//! * **Update recorded** ([`record_update`]): the first digest of an image is a baseline; the
//!   same digest again is a no-op; a new one goes into the history and gives every direct
//!   dependent a [`Cause`] scheduled at `t + rebuildDelay` (an internal parent we build:
//!   `t + cascadeDelay`). A dependent that pins the base by digest is not scheduled: its pin
//!   needs a bump.
//! * **Coalescing**: an image has one pending rebuild; causes join it and the earliest schedule
//!   wins. One trigger serves every cause.
//! * **Due** ([`reconcile`]): at the schedule, `autoRebuild: true` triggers; `false` becomes
//!   `due` and waits for a person ([`manual`]).
//! * **Gating**: no image is triggered while an internal ancestor is `pending`, `due` or
//!   `triggered`, so a diamond rebuilds each image once, in topological order. Images in a
//!   dependency cycle are reported and never triggered. A `failed` ancestor does not block.
//! * **Failures**: `attempts`, `lastError`, `nextAttemptAt` with exponential backoff; after
//!   [`Policy::max_attempts`] the image is `failed` until a new cause or a person. A failed
//!   trigger and a failed build ([`build_result`]: the forge's conclusion, a timeout, or the
//!   build's own report) count alike; a failed build's causes are pending again.
//! * **Outcomes** ([`trigger_result`], [`running`], [`build_result`]): a trigger records the
//!   run's identity; the caller polls every [`running`] build and reports what it saw. A
//!   build that succeeds is closed even before its digest is seen. No build waits forever:
//!   [`reconcile`] gives up a build with no outcome after its image's `buildTimeout`.
//! * **Completion** ([`record_build`], or [`record_update`] of an enrolled image): the image's
//!   new digest closes its open history entry and schedules its dependents (the cascade); a
//!   `record_build` of an unchanged digest closes it too, with nothing to cascade.
//! * **Supply chain** ([`reconcile`], issue 23): with a `vulnerabilityPolicy` or
//!   `requireSignature`, a base-image update cause whose digest brings a vulnerability or has
//!   no verified signature is `held` (never triggered) until a newer digest or [`release`];
//!   one whose digest fixes a vulnerability of the digest built on is due now.
//! * **Idempotence**: the same event, or the same `now`, twice gives no new action.

mod check;
mod decide;
mod graph;
mod index;
mod outcome;
mod plan;
mod record;
mod supply;
#[cfg(test)]
mod tests;
mod trigger;

use if_model::digest::Digest;
use if_model::duration::Duration;
use if_model::enrollment::{Enrollment, Source};
use if_model::factory::Factory;
use if_model::reference::ImageRef;
use if_model::state::{BaseImageState, Cause, ImageState, RebuildState};
use if_model::timestamp::Timestamp;

use crate::analyze::Analysis;

pub use check::{check_failed, check_found};
pub use decide::{Decision, Wait, expedite, manual, preview, reconcile};
pub use graph::cycles;
pub use index::Index;
pub use outcome::{
    BuildOutcome, NO_OUTCOME, Observed, REPORTED, Running, SUCCESS, Started, build_result,
    give_up_at, report_failure, running, time_out, trigger_result,
};
pub use plan::{Plan, Step, StepKind, plan, plan_on};
pub use record::{Recorded, record, record_build, record_update};
pub use supply::{judge, release};

/// Rebuild status: nothing waits.
pub const MONITORING: &str = "monitoring";
/// Rebuild status: a rebuild waits for its schedule, its ancestors or a retry.
pub const PENDING: &str = "pending";
/// Rebuild status: the schedule passed and `autoRebuild` is false; waits for a person.
pub const DUE: &str = "due";
/// Rebuild status: the build was started; waits for the image's new digest.
pub const TRIGGERED: &str = "triggered";
/// Rebuild status: every trigger attempt failed; waits for a new cause or a person.
pub const FAILED: &str = "failed";
/// Rebuild status: every cause is held by the supply-chain policy (a new vulnerability, no
/// verified signature); waits for a newer digest or `image-factory release`.
pub const HELD: &str = "held";

/// Cause kind: a base image got a new digest.
pub const BY_UPDATE: &str = "base-image-update";
/// Cause kind: an internal parent got a new digest.
pub const BY_CASCADE: &str = "cascade";
/// Cause kind: a person asked.
pub const BY_MANUAL: &str = "manual";
/// Cause kind: a person made a pending rebuild due now.
pub const BY_EXPEDITE: &str = "expedite";

/// The knobs of the engine that are not per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Trigger attempts before an image is `failed` (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one (capped at a day).
    pub retry_backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 5,
            retry_backoff: Duration::from_minutes(5),
        }
    }
}

/// What the engine refuses to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The reference is neither an enrolled image nor a known base image.
    #[error(
        "{}; neither an enrolled image nor a base image of this factory (run `image-factory analyze --all` first?)",
        if_model::diag::no_such_image(reference, suggestion.as_deref())
    )]
    UnknownImage {
        /// What was asked for.
        reference: String,
        /// The closest known image or base-image name.
        suggestion: Option<String>,
    },
    /// The name is not in `images.yaml`.
    #[error(
        "{}; not in images.yaml",
        if_model::diag::no_such_image(name, suggestion.as_deref())
    )]
    NotEnrolled {
        /// The name.
        name: String,
        /// The closest enrolled name.
        suggestion: Option<String>,
    },
    /// The image has no `source`: the factory does not build it.
    #[error("`{name}` is not built by the factory (its entry in images.yaml has no `source`)")]
    NotManaged {
        /// The name.
        name: String,
    },
    /// The image has no state file yet.
    #[error("`{name}` has no state yet: run `image-factory analyze --image {name}` first")]
    NoState {
        /// The name.
        name: String,
    },
}

/// A build to start: the image, where it is built, and the inputs to pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The enrolled image.
    pub image: String,
    /// Where it is built.
    pub source: Source,
    /// Every cause this build serves, earliest schedule first.
    pub causes: Vec<Cause>,
    /// Per base image (state name), the digest the build should use: the newest whose delay
    /// was served. A manual build names every base of the image (the others at the digest
    /// they are on now), so that its snapshot is what it was really built on.
    pub builds_on: Vec<(String, Digest)>,
    /// One line for people (all causes).
    pub reason: String,
    /// The kind of the first cause.
    pub triggered_by: String,
    /// The attempt this is (1 for the first).
    pub attempt: u32,
    /// The id put in the `reason` input to find the run later (`if-1a2b3c4d`).
    pub dispatch_id: String,
    /// The inputs passed to the build ([`INPUTS`]).
    pub inputs: Vec<(String, String)>,
}

/// The names of the inputs every build receives (GitHub `workflow_dispatch` inputs; GitLab
/// variables `IMAGE_FACTORY_<NAME>`), with what they hold. Seven, within GitHub's limit of 25
/// `workflow_dispatch` inputs.
pub const INPUTS: [(&str, &str); 7] = [
    ("image", "the enrolled image name"),
    (
        "reason",
        "why, one line (all causes), ending in the dispatch id [if-...]",
    ),
    (
        "triggered_by",
        "base-image-update, cascade, manual or expedite",
    ),
    (
        "base_image",
        "the base image whose update served the delay (first cause)",
    ),
    (
        "base_digest",
        "its digest: build FROM base_image@base_digest",
    ),
    (
        "causes",
        "JSON array, one entry per base image: baseImage, digest, detectedAt",
    ),
    ("scheduled_for", "when the rebuild became due (RFC 3339)"),
];

/// The factory's state as it is on disk, keyed like an [`Analysis`]: images by name, base
/// images by identity. The engine works on this.
pub fn current(factory: &Factory) -> Analysis {
    world(
        factory.images.iter().map(|(_, s)| s.clone()),
        factory.bases.iter().map(|(_, b)| b.clone()),
    )
}

/// [`current`], taking the states out of the factory instead of copying them (at 100,000
/// images a copy is hundreds of megabytes); the enrollment is returned beside. Take
/// [`crate::baseline`] first to write only what changed.
pub fn take(factory: Factory) -> (Enrollment, Analysis) {
    let Factory {
        enrollment,
        images,
        bases,
    } = factory;
    let world = world(
        images.into_iter().map(|(_, s)| s),
        bases.into_iter().map(|(_, b)| b),
    );
    (enrollment, world)
}

/// States keyed like an [`Analysis`] (the first base-image state of an identity wins).
fn world(
    images: impl Iterator<Item = ImageState>,
    bases: impl Iterator<Item = BaseImageState>,
) -> Analysis {
    let mut out = Analysis::default();
    for s in images {
        out.images.insert(s.name.clone(), s);
    }
    for b in bases {
        if let Some(r) = b.image_ref() {
            out.bases.entry(r.identity()).or_insert(b);
        }
    }
    out
}

/// What a reference or name given by a person or Kargo means in this factory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A base image: its identity and state name.
    Base {
        /// Identity (`docker.io/library/node:22`).
        identity: String,
        /// State name (`node-22`).
        name: String,
    },
    /// An image with a state file (enrolled, or removed but still a base of others).
    Image {
        /// Its name.
        name: String,
    },
}

impl Subject {
    /// The name dependents list in `baseImages`.
    pub fn name(&self) -> &str {
        match self {
            Subject::Base { name, .. } | Subject::Image { name } => name,
        }
    }
}

/// Finds what `text` means: a plain name is tried first as an image name, then as a base
/// image's state name, then as a reference (see [`resolve_ref`]). One lookup; a caller that
/// resolves many builds an [`Index`] once.
pub fn resolve(enrollment: &Enrollment, world: &Analysis, text: &str) -> Option<Subject> {
    Index::new(enrollment, world).resolve(text)
}

/// Finds what `text` means, or the "no such image" error with a did-you-mean.
pub fn resolve_or_unknown(
    enrollment: &Enrollment,
    world: &Analysis,
    text: &str,
) -> Result<Subject, EngineError> {
    let index = Index::new(enrollment, world);
    index.resolve(text).ok_or_else(|| index.unknown(text))
}

/// The "not in images.yaml" error for `name`, with the closest enrolled name.
pub fn not_enrolled(enrollment: &Enrollment, name: &str) -> EngineError {
    let names = enrollment.images().iter().map(|e| e.name.as_str());
    EngineError::NotEnrolled {
        name: name.to_string(),
        suggestion: if_model::diag::closest_name(name, names).map(str::to_string),
    }
}

/// Finds what `reference` means: an enrolled image (same registry and repository, any tag),
/// else a base image (same identity). One lookup; see [`Index::resolve_ref`].
pub fn resolve_ref(
    enrollment: &Enrollment,
    world: &Analysis,
    reference: &ImageRef,
) -> Option<Subject> {
    Index::new(enrollment, world).resolve_ref(reference)
}

/// Brings the summary fields of a rebuild state in line with its causes and status.
pub(crate) fn refresh(rs: &mut RebuildState) {
    let first = rs
        .causes
        .iter()
        .min_by_key(|c| c.scheduled_for.map(Timestamp::unix));
    rs.rebuild_scheduled_for = first.and_then(|c| c.scheduled_for);
    rs.triggered_by = first.and_then(|c| c.triggered_by.clone());
    rs.pending_rebuild = Some(!rs.causes.is_empty());
    let reasons: Vec<&str> = rs
        .causes
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .collect();
    rs.rebuild_reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    let status = rs.status.as_deref().unwrap_or(MONITORING);
    rs.status = Some(
        match (status, rs.causes.is_empty()) {
            (TRIGGERED | FAILED, _) => status,
            (_, true) => MONITORING,
            (MONITORING, false) => PENDING,
            (other, false) => other,
        }
        .to_string(),
    );
    if rs.causes.is_empty() && rs.status.as_deref() == Some(MONITORING) {
        rs.attempts = None;
        rs.last_error = None;
        rs.next_attempt_at = None;
    }
}
