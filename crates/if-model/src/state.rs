//! The state files the tool writes: `state/images/<name>.yaml` ([`ImageState`]) and
//! `state/base-images/<slug>.yaml` ([`BaseImageState`]), with seed 000's field names plus
//! DESIGN.md §2's additions. Keys this version does not know are kept and written back
//! unchanged, so a newer tool's fields survive an older one.

mod encode;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::decode::{Decoder, Fields, Unknown};
use crate::diag::Diagnostic;
use crate::digest::Digest;
use crate::enrollment::{SelectionStrategy, decode_allow_tags, decode_strategy};
use crate::reference::ImageRef;
use crate::timestamp::Timestamp;
use crate::yaml::{self, Borrowed, Node, Tree};

/// Keys not known to this version, in file order, written back unchanged.
pub type Extra = Vec<(String, Node)>;

/// Monitoring configuration of an image Kargo watches (the data-alignment contract: a
/// Warehouse is generated if and only if `repo_url` and `allow_tags` are present).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Watch {
    /// `registry/repository`.
    pub repo_url: Option<String>,
    /// Anchored regex of the tags to watch.
    pub allow_tags: Option<String>,
    /// How Kargo selects among tags.
    pub image_selection_strategy: Option<SelectionStrategy>,
}

/// The rebuild bookkeeping of an enrolled image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RebuildState {
    /// `monitoring`, `pending`, `due`, `triggered`, `failed`.
    pub status: Option<String>,
    /// Whether a rebuild waits.
    pub pending_rebuild: Option<bool>,
    /// Why (one line per cause).
    pub rebuild_reason: Option<String>,
    /// When the pending rebuild becomes due.
    pub rebuild_scheduled_for: Option<Timestamp>,
    /// What caused it (`base-image-update`, `cascade`, `manual`, `expedite`).
    pub triggered_by: Option<String>,
    /// Trigger attempts made for the pending rebuild.
    pub attempts: Option<u32>,
    /// The last trigger error (never a secret).
    pub last_error: Option<String>,
    /// When a failed trigger is tried again (exponential backoff).
    pub next_attempt_at: Option<Timestamp>,
    /// Every upstream change the pending rebuild answers (coalesced: one trigger serves all).
    pub causes: Vec<Cause>,
    /// The causes the running build serves (`triggered`): dropped when it succeeds, back in
    /// `causes` when it fails, so a failed build is retried for them.
    pub running_causes: Vec<Cause>,
    /// Unknown keys.
    pub extra: Extra,
}

/// One reason for a pending rebuild: an upstream change, a person, or an expedite.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Cause {
    /// The base image (state name) or internal parent (image name) that changed; absent for
    /// a manual request.
    pub base_image: Option<String>,
    /// Its new digest: the one the rebuild should use.
    pub digest: Option<Digest>,
    /// When the change was observed.
    pub detected_at: Option<Timestamp>,
    /// When this cause makes the rebuild due (`detectedAt` + the delay).
    pub scheduled_for: Option<Timestamp>,
    /// `base-image-update`, `cascade`, `manual` or `expedite`.
    pub triggered_by: Option<String>,
    /// One line for people.
    pub reason: Option<String>,
    /// Why the supply-chain policy holds this cause (a new vulnerability, no verified
    /// signature): it does not trigger while held (issue 23).
    pub held: Option<String>,
    /// Why a person released it from a hold (`image-factory release`): never held again.
    pub released: Option<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// One rebuild in an image's history (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RebuildRecord {
    /// When it was triggered.
    pub triggered_at: Option<Timestamp>,
    /// Why.
    pub reason: Option<String>,
    /// Base image → digest it was built on.
    pub base_image_snapshots: BTreeMap<String, String>,
    /// The version it produced.
    pub result_version: Option<String>,
    /// Whether it succeeded (absent while the build runs).
    pub success: Option<bool>,
    /// What caused it (`base-image-update`, `cascade`, `manual`, `expedite`).
    pub triggered_by: Option<String>,
    /// The GitLab pipeline the trigger created.
    pub pipeline_id: Option<u64>,
    /// The GitHub Actions run the dispatch started (`return_run_details`, or found by its
    /// dispatch id).
    pub run_id: Option<u64>,
    /// The run's or pipeline's page.
    pub run_url: Option<String>,
    /// The id the trigger put in the build's `reason` input (`if-1a2b3c4d`), to find a run
    /// whose id the forge did not return.
    pub dispatch_id: Option<String>,
    /// The run's state at the last poll while it ran (`queued`, `in_progress`, `running`).
    pub run_status: Option<String>,
    /// Why the run's state is not known (the last poll failed, the dispatch's answer was
    /// lost); cleared by the next answer.
    pub run_error: Option<String>,
    /// How the build ended: `success`, the forge's word (`failure`, `cancelled`,
    /// `timed_out`, `skipped`, `failed`, `canceled`), `reported` (`record-build --failed`)
    /// or `no-outcome` (nothing within `buildTimeout`).
    pub conclusion: Option<String>,
    /// Why it failed, for people.
    pub failure_reason: Option<String>,
    /// When the new digest was recorded (or when the factory gave up).
    pub completed_at: Option<Timestamp>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `state/images/<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ImageState {
    /// The enrolled name.
    pub name: String,
    /// `archived` once the image left `images.yaml` with no dependents.
    pub status: Option<String>,
    /// First enrollment.
    pub enrolled_at: Option<Timestamp>,
    /// Last discovery that found a change.
    pub last_discovery: Option<Timestamp>,
    /// `success`, `failed`, `pending`, `external`.
    pub discovery_status: Option<String>,
    /// Why the last discovery failed.
    pub discovery_error: Option<String>,
    /// Copy of the `images.yaml` entry, for reference.
    pub enrollment: Option<Node>,
    /// Monitoring configuration (external images, and managed images others build on).
    pub watch: Watch,
    /// Base images (state names) this image is built on.
    pub base_images: Vec<String>,
    /// Base images pinned by digest in the Dockerfile (`FROM node:22@sha256:...`): state name
    /// to the pinned digest. A new upstream digest does not change such an image.
    pub base_image_pins: BTreeMap<String, Digest>,
    /// Enrolled images built on this one.
    pub dependent_images: Vec<String>,
    /// Current published version.
    pub current_version: Option<String>,
    /// Current published digest.
    pub current_digest: Option<Digest>,
    /// When the current version was built (images the factory builds).
    pub last_built: Option<Timestamp>,
    /// The digest before the current one (external images).
    pub previous_digest: Option<Digest>,
    /// When the digest last changed (external images).
    pub last_updated: Option<Timestamp>,
    /// Observed digest changes (external images: nobody here built them).
    pub update_history: Vec<UpdateRecord>,
    /// Rebuild bookkeeping.
    pub rebuild_state: Option<RebuildState>,
    /// Past rebuilds.
    pub rebuild_history: Vec<RebuildRecord>,
    /// Why the last registry check of this image failed (`check`); absent once one succeeds.
    pub check_error: Option<String>,
    /// Since when checks fail with `check_error` (moves only when the message changes).
    pub check_error_since: Option<Timestamp>,
    /// Unknown keys.
    pub extra: Extra,
}

/// One observed digest change of a base image (seed 004).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UpdateRecord {
    /// When it was observed.
    pub detected_at: Option<Timestamp>,
    /// The new digest.
    pub digest: Option<Digest>,
    /// The images it scheduled.
    pub triggered_rebuilds: Vec<String>,
    /// Unknown keys.
    pub extra: Extra,
}

/// `state/base-images/<slug>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BaseImageState {
    /// The state name (the file's slug when the tool created it).
    pub name: String,
    /// The reference as found (`node:22-bookworm-slim`).
    pub full_image: Option<String>,
    /// Registry host.
    pub registry: Option<String>,
    /// Repository path.
    pub repository: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// `archived` once no enrolled image depends on it.
    pub status: Option<String>,
    /// Monitoring configuration.
    pub watch: Watch,
    /// First discovery.
    pub first_discovered: Option<Timestamp>,
    /// Last check that found a change.
    pub last_checked: Option<Timestamp>,
    /// Current digest.
    pub current_digest: Option<Digest>,
    /// When the digest last changed.
    pub last_updated: Option<Timestamp>,
    /// The digest before.
    pub previous_digest: Option<Digest>,
    /// Enrolled images built on it.
    pub dependent_images: Vec<String>,
    /// Observed digest changes.
    pub update_history: Vec<UpdateRecord>,
    /// Why the last registry check of this image failed (`check`); absent once one succeeds.
    pub check_error: Option<String>,
    /// Since when checks fail with `check_error` (moves only when the message changes).
    pub check_error_since: Option<Timestamp>,
    /// What is known about its recent digests: scans and signature checks (issue 23).
    pub digests: Vec<crate::supply::DigestFacts>,
    /// Unknown keys.
    pub extra: Extra,
}

impl BaseImageState {
    /// The image reference this file tracks (`fullImage`, else registry/repository:tag).
    pub fn image_ref(&self) -> Option<ImageRef> {
        if let Some(full) = &self.full_image {
            return ImageRef::parse(full).ok();
        }
        let (reg, repo) = (self.registry.as_ref()?, self.repository.as_ref()?);
        let tag = self.tag.as_deref().unwrap_or("latest");
        ImageRef::parse(&format!("{reg}/{repo}:{tag}")).ok()
    }
}

const WATCH_KEYS: [&str; 3] = ["repoURL", "allowTags", "imageSelectionStrategy"];
const IMAGE_KEYS: &[&str] = &[
    "name",
    "status",
    "enrolledAt",
    "lastDiscovery",
    "discoveryStatus",
    "discoveryError",
    "enrollment",
    "repoURL",
    "allowTags",
    "imageSelectionStrategy",
    "baseImages",
    "baseImagePins",
    "dependentImages",
    "currentVersion",
    "currentDigest",
    "lastBuilt",
    "previousDigest",
    "lastUpdated",
    "updateHistory",
    "rebuildState",
    "rebuildHistory",
    "checkError",
    "checkErrorSince",
];
const REBUILD_STATE_KEYS: &[&str] = &[
    "status",
    "pendingRebuild",
    "rebuildReason",
    "rebuildScheduledFor",
    "triggeredBy",
    "attempts",
    "lastError",
    "nextAttemptAt",
    "causes",
    "runningCauses",
];
const CAUSE_KEYS: &[&str] = &[
    "baseImage",
    "digest",
    "detectedAt",
    "scheduledFor",
    "triggeredBy",
    "reason",
    "held",
    "released",
];
const REBUILD_RECORD_KEYS: &[&str] = &[
    "triggeredAt",
    "reason",
    "baseImageSnapshots",
    "resultVersion",
    "success",
    "triggeredBy",
    "pipelineId",
    "runId",
    "runUrl",
    "dispatchId",
    "runStatus",
    "runError",
    "conclusion",
    "failureReason",
    "completedAt",
];
const BASE_KEYS: &[&str] = &[
    "name",
    "fullImage",
    "registry",
    "repository",
    "tag",
    "status",
    "repoURL",
    "allowTags",
    "imageSelectionStrategy",
    "firstDiscovered",
    "lastChecked",
    "currentDigest",
    "lastUpdated",
    "previousDigest",
    "dependentImages",
    "updateHistory",
    "checkError",
    "checkErrorSince",
    "digests",
];
const UPDATE_KEYS: &[&str] = &["detectedAt", "digest", "triggeredRebuilds"];

fn watch(d: &mut Decoder, f: &Fields<'_, Borrowed<'_>>) -> Watch {
    let allow_tags = decode_allow_tags(d, f.get("allowTags"));
    let strategy = decode_strategy(d, f.get("imageSelectionStrategy"));
    let repo_url = d.string(f.get("repoURL"), "repoURL");
    if let (Some(url), Some(at)) = (&repo_url, f.get("repoURL"))
        && let Err(e) = ImageRef::parse(url)
    {
        d.error(
            at.pos,
            format!("repoURL `{url}` is not a valid repository: {e}"),
        );
    }
    Watch {
        repo_url,
        allow_tags,
        image_selection_strategy: strategy,
    }
}

/// Reads an image state file. `file` is the name used in messages. `None` when the file is
/// not a state file at all (not YAML, not a mapping, no name); problems are in the list.
pub fn parse_image(src: &str, file: &str) -> (Option<ImageState>, Vec<Diagnostic>) {
    let mut d = Decoder::new(file);
    let doc = match yaml::read(src) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(e.pos, e.message);
            return (None, d.finish());
        }
    };
    let Some(f) = d.fields(&doc, "an image state file", IMAGE_KEYS, Unknown::Keep) else {
        return (None, d.finish());
    };
    let name = d.required(f.get("name"), "name", f.pos, "image state file");
    let state = ImageState {
        name: name.unwrap_or_default(),
        status: d.string(f.get("status"), "status"),
        enrolled_at: d.timestamp(f.get("enrolledAt"), "enrolledAt"),
        last_discovery: d.timestamp(f.get("lastDiscovery"), "lastDiscovery"),
        discovery_status: d.string(f.get("discoveryStatus"), "discoveryStatus"),
        discovery_error: d.string(f.get("discoveryError"), "discoveryError"),
        enrollment: f.get("enrollment").map(Tree::to_node),
        watch: watch(&mut d, &f),
        base_images: d.strings(f.get("baseImages"), "baseImages"),
        base_image_pins: digest_map(&mut d, f.get("baseImagePins"), "baseImagePins"),
        dependent_images: d.strings(f.get("dependentImages"), "dependentImages"),
        current_version: d.string(f.get("currentVersion"), "currentVersion"),
        current_digest: d.digest(f.get("currentDigest"), "currentDigest"),
        last_built: d.timestamp(f.get("lastBuilt"), "lastBuilt"),
        previous_digest: d.digest(f.get("previousDigest"), "previousDigest"),
        last_updated: d.timestamp(f.get("lastUpdated"), "lastUpdated"),
        update_history: d.list(f.get("updateHistory"), "updateHistory", update_record),
        rebuild_state: f.get("rebuildState").and_then(|n| rebuild_state(&mut d, n)),
        rebuild_history: d.list(f.get("rebuildHistory"), "rebuildHistory", rebuild_record),
        check_error: d.string(f.get("checkError"), "checkError"),
        check_error_since: d.timestamp(f.get("checkErrorSince"), "checkErrorSince"),
        extra: f.unknown(IMAGE_KEYS),
    };
    let ok = !state.name.is_empty();
    (ok.then_some(state), d.finish())
}

fn rebuild_state(d: &mut Decoder, node: &Borrowed<'_>) -> Option<RebuildState> {
    let f = d.fields(node, "rebuildState", REBUILD_STATE_KEYS, Unknown::Keep)?;
    Some(RebuildState {
        status: d.string(f.get("status"), "rebuildState.status"),
        pending_rebuild: d.boolean(f.get("pendingRebuild"), "pendingRebuild"),
        rebuild_reason: d.string(f.get("rebuildReason"), "rebuildReason"),
        rebuild_scheduled_for: d.timestamp(f.get("rebuildScheduledFor"), "rebuildScheduledFor"),
        triggered_by: d.string(f.get("triggeredBy"), "triggeredBy"),
        attempts: d.count(f.get("attempts"), "attempts"),
        last_error: d.string(f.get("lastError"), "lastError"),
        next_attempt_at: d.timestamp(f.get("nextAttemptAt"), "nextAttemptAt"),
        causes: d.list(f.get("causes"), "causes", cause),
        running_causes: d.list(f.get("runningCauses"), "runningCauses", cause),
        extra: f.unknown(REBUILD_STATE_KEYS),
    })
}

fn cause(d: &mut Decoder, node: &Borrowed<'_>) -> Option<Cause> {
    let f = d.fields(node, "a causes entry", CAUSE_KEYS, Unknown::Keep)?;
    Some(Cause {
        base_image: d.string(f.get("baseImage"), "baseImage"),
        digest: d.digest(f.get("digest"), "digest"),
        detected_at: d.timestamp(f.get("detectedAt"), "detectedAt"),
        scheduled_for: d.timestamp(f.get("scheduledFor"), "scheduledFor"),
        triggered_by: d.string(f.get("triggeredBy"), "triggeredBy"),
        reason: d.string(f.get("reason"), "reason"),
        held: d.string(f.get("held"), "held"),
        released: d.string(f.get("released"), "released"),
        extra: f.unknown(CAUSE_KEYS),
    })
}

/// A mapping of names to digests (`baseImagePins`, `baseImageSnapshots`).
fn digest_map(
    d: &mut Decoder,
    node: Option<&Borrowed<'_>>,
    what: &str,
) -> BTreeMap<String, Digest> {
    let mut out = BTreeMap::new();
    let Some(node) = node else { return out };
    if let Some(f) = d.fields(node, what, &[], Unknown::Keep) {
        for (k, _, v) in f.entries() {
            if let Some(digest) = d.digest(Some(v), &format!("{what}.{k}")) {
                out.insert(k.to_string(), digest);
            }
        }
    }
    out
}

fn rebuild_record(d: &mut Decoder, node: &Borrowed<'_>) -> Option<RebuildRecord> {
    let f = d.fields(
        node,
        "a rebuildHistory entry",
        REBUILD_RECORD_KEYS,
        Unknown::Keep,
    )?;
    let snapshots = digest_map(d, f.get("baseImageSnapshots"), "baseImageSnapshots")
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    Some(RebuildRecord {
        triggered_at: d.timestamp(f.get("triggeredAt"), "triggeredAt"),
        reason: d.string(f.get("reason"), "reason"),
        base_image_snapshots: snapshots,
        result_version: d.string(f.get("resultVersion"), "resultVersion"),
        success: d.boolean(f.get("success"), "success"),
        triggered_by: d.string(f.get("triggeredBy"), "triggeredBy"),
        pipeline_id: d.count64(f.get("pipelineId"), "pipelineId"),
        run_id: d.count64(f.get("runId"), "runId"),
        run_url: d.string(f.get("runUrl"), "runUrl"),
        dispatch_id: d.string(f.get("dispatchId"), "dispatchId"),
        run_status: d.string(f.get("runStatus"), "runStatus"),
        run_error: d.string(f.get("runError"), "runError"),
        conclusion: d.string(f.get("conclusion"), "conclusion"),
        failure_reason: d.string(f.get("failureReason"), "failureReason"),
        completed_at: d.timestamp(f.get("completedAt"), "completedAt"),
        extra: f.unknown(REBUILD_RECORD_KEYS),
    })
}

/// Reads a base-image state file. `None` when it is not a state file at all.
pub fn parse_base(src: &str, file: &str) -> (Option<BaseImageState>, Vec<Diagnostic>) {
    let mut d = Decoder::new(file);
    let doc = match yaml::read(src) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(e.pos, e.message);
            return (None, d.finish());
        }
    };
    let Some(f) = d.fields(&doc, "a base-image state file", BASE_KEYS, Unknown::Keep) else {
        return (None, d.finish());
    };
    let name = d.required(f.get("name"), "name", f.pos, "base-image state file");
    let full_image = d.string(f.get("fullImage"), "fullImage");
    if let (Some(full), Some(at)) = (&full_image, f.get("fullImage"))
        && let Err(e) = ImageRef::parse(full)
    {
        d.error(
            at.pos,
            format!("fullImage `{full}` is not a valid image reference: {e}"),
        );
    }
    let state = BaseImageState {
        name: name.unwrap_or_default(),
        full_image,
        registry: d.string(f.get("registry"), "registry"),
        repository: d.string(f.get("repository"), "repository"),
        tag: d.string(f.get("tag"), "tag"),
        status: d.string(f.get("status"), "status"),
        watch: watch(&mut d, &f),
        first_discovered: d.timestamp(f.get("firstDiscovered"), "firstDiscovered"),
        last_checked: d.timestamp(f.get("lastChecked"), "lastChecked"),
        current_digest: d.digest(f.get("currentDigest"), "currentDigest"),
        last_updated: d.timestamp(f.get("lastUpdated"), "lastUpdated"),
        previous_digest: d.digest(f.get("previousDigest"), "previousDigest"),
        dependent_images: d.strings(f.get("dependentImages"), "dependentImages"),
        update_history: d.list(f.get("updateHistory"), "updateHistory", update_record),
        check_error: d.string(f.get("checkError"), "checkError"),
        check_error_since: d.timestamp(f.get("checkErrorSince"), "checkErrorSince"),
        digests: d.list(f.get("digests"), "digests", crate::supply::decode_facts),
        extra: f.unknown(BASE_KEYS),
    };
    if state.full_image.is_none() && (state.registry.is_none() || state.repository.is_none()) {
        d.error(
            f.pos,
            "base-image state file has neither `fullImage` nor `registry` and `repository`",
        );
    }
    let ok = !state.name.is_empty();
    (ok.then_some(state), d.finish())
}

fn update_record(d: &mut Decoder, node: &Borrowed<'_>) -> Option<UpdateRecord> {
    let f = d.fields(node, "an updateHistory entry", UPDATE_KEYS, Unknown::Keep)?;
    Some(UpdateRecord {
        detected_at: d.timestamp(f.get("detectedAt"), "detectedAt"),
        digest: d.digest(f.get("digest"), "digest"),
        triggered_rebuilds: d.strings(f.get("triggeredRebuilds"), "triggeredRebuilds"),
        extra: f.unknown(UPDATE_KEYS),
    })
}

/// Keys of [`Watch`], in the order they are written.
pub(crate) const fn watch_keys() -> [&'static str; 3] {
    WATCH_KEYS
}
