//! Writing state files: a fixed key order (the seeds' order), unknown keys after the known
//! ones in the order they were read, absent values left out.

use super::{
    BaseImageState, Cause, Extra, ImageState, RebuildRecord, RebuildState, UpdateRecord, Watch,
};
use crate::yaml::{self, Node, WriteError};

/// Builds a mapping node, leaving out absent values.
struct MapBuilder(Vec<(String, Node)>);

impl MapBuilder {
    fn new() -> Self {
        MapBuilder(Vec::new())
    }
    fn node(&mut self, key: &str, value: Option<Node>) -> &mut Self {
        if let Some(v) = value {
            self.0.push((key.to_string(), v));
        }
        self
    }
    fn text(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        self.node(key, value.map(|v| Node::str(v.to_string())))
    }
    fn list(&mut self, key: &str, items: &[String], keep_empty: bool) -> &mut Self {
        if items.is_empty() && !keep_empty {
            return self;
        }
        self.node(key, Some(Node::seq(items.iter().map(Node::str).collect())))
    }
    fn watch(&mut self, w: &Watch) -> &mut Self {
        let [repo, allow, strategy] = super::watch_keys();
        self.text(repo, w.repo_url.as_ref())
            .text(allow, w.allow_tags.as_ref())
            .text(strategy, w.image_selection_strategy.map(|s| s.as_str()))
    }
    fn extra(&mut self, extra: &Extra) -> &mut Self {
        self.0.extend(extra.iter().cloned());
        self
    }
    fn build(&mut self) -> Node {
        Node::map(std::mem::take(&mut self.0))
    }
}

fn digest_map(map: &std::collections::BTreeMap<String, crate::digest::Digest>) -> Option<Node> {
    (!map.is_empty()).then(|| {
        Node::map(
            map.iter()
                .map(|(k, v)| (k.clone(), Node::str(v.as_str())))
                .collect(),
        )
    })
}

fn rebuild_state(s: &RebuildState) -> Node {
    MapBuilder::new()
        .text("status", s.status.as_ref())
        .node("pendingRebuild", s.pending_rebuild.map(Node::bool))
        .text("rebuildReason", s.rebuild_reason.as_ref())
        .text("rebuildScheduledFor", s.rebuild_scheduled_for)
        .text("triggeredBy", s.triggered_by.as_ref())
        .node("attempts", s.attempts.map(|a| Node::int(i64::from(a))))
        .text("lastError", s.last_error.as_ref())
        .text("nextAttemptAt", s.next_attempt_at)
        .node(
            "causes",
            (!s.causes.is_empty()).then(|| Node::seq(s.causes.iter().map(cause).collect())),
        )
        .node(
            "runningCauses",
            (!s.running_causes.is_empty())
                .then(|| Node::seq(s.running_causes.iter().map(cause).collect())),
        )
        .extra(&s.extra)
        .build()
}

fn cause(c: &Cause) -> Node {
    MapBuilder::new()
        .text("baseImage", c.base_image.as_ref())
        .text("digest", c.digest.as_ref())
        .text("detectedAt", c.detected_at)
        .text("scheduledFor", c.scheduled_for)
        .text("triggeredBy", c.triggered_by.as_ref())
        .text("reason", c.reason.as_ref())
        .text("held", c.held.as_ref())
        .text("released", c.released.as_ref())
        .extra(&c.extra)
        .build()
}

fn rebuild_record(r: &RebuildRecord) -> Node {
    let snapshots = (!r.base_image_snapshots.is_empty()).then(|| {
        Node::map(
            r.base_image_snapshots
                .iter()
                .map(|(k, v)| (k.clone(), Node::str(v)))
                .collect(),
        )
    });
    MapBuilder::new()
        .text("triggeredAt", r.triggered_at)
        .text("reason", r.reason.as_ref())
        .node("baseImageSnapshots", snapshots)
        .text("resultVersion", r.result_version.as_ref())
        .node("success", r.success.map(Node::bool))
        .text("triggeredBy", r.triggered_by.as_ref())
        .node(
            "pipelineId",
            r.pipeline_id
                .and_then(|p| i64::try_from(p).ok())
                .map(Node::int),
        )
        .node(
            "runId",
            r.run_id.and_then(|p| i64::try_from(p).ok()).map(Node::int),
        )
        .text("runUrl", r.run_url.as_ref())
        .text("dispatchId", r.dispatch_id.as_ref())
        .text("runStatus", r.run_status.as_ref())
        .text("runError", r.run_error.as_ref())
        .text("conclusion", r.conclusion.as_ref())
        .text("failureReason", r.failure_reason.as_ref())
        .text("completedAt", r.completed_at)
        .extra(&r.extra)
        .build()
}

fn update_record(u: &UpdateRecord) -> Node {
    MapBuilder::new()
        .text("detectedAt", u.detected_at)
        .text("digest", u.digest.as_ref())
        .list("triggeredRebuilds", &u.triggered_rebuilds, true)
        .extra(&u.extra)
        .build()
}

impl ImageState {
    /// The state as a YAML tree, keys in the written order.
    pub fn to_node(&self) -> Node {
        let history = (!self.rebuild_history.is_empty())
            .then(|| Node::seq(self.rebuild_history.iter().map(rebuild_record).collect()));
        MapBuilder::new()
            .text("name", Some(&self.name))
            .text("status", self.status.as_ref())
            .text("enrolledAt", self.enrolled_at)
            .text("lastDiscovery", self.last_discovery)
            .text("discoveryStatus", self.discovery_status.as_ref())
            .text("discoveryError", self.discovery_error.as_ref())
            .node("enrollment", self.enrollment.clone())
            .watch(&self.watch)
            .list("baseImages", &self.base_images, true)
            .node("baseImagePins", digest_map(&self.base_image_pins))
            .list("dependentImages", &self.dependent_images, false)
            .text("currentVersion", self.current_version.as_ref())
            .text("currentDigest", self.current_digest.as_ref())
            .text("lastBuilt", self.last_built)
            .text("previousDigest", self.previous_digest.as_ref())
            .text("lastUpdated", self.last_updated)
            .node(
                "updateHistory",
                (!self.update_history.is_empty())
                    .then(|| Node::seq(self.update_history.iter().map(update_record).collect())),
            )
            .node(
                "rebuildState",
                self.rebuild_state.as_ref().map(rebuild_state),
            )
            .node("rebuildHistory", history)
            .text("checkError", self.check_error.as_ref())
            .text("checkErrorSince", self.check_error_since)
            .extra(&self.extra)
            .build()
    }

    /// The file's text.
    pub fn to_yaml(&self) -> Result<String, WriteError> {
        yaml::to_string(&self.to_node())
    }
}

impl BaseImageState {
    /// The state as a YAML tree, keys in the written order.
    pub fn to_node(&self) -> Node {
        MapBuilder::new()
            .text("name", Some(&self.name))
            .text("fullImage", self.full_image.as_ref())
            .text("registry", self.registry.as_ref())
            .text("repository", self.repository.as_ref())
            .text("tag", self.tag.as_ref())
            .text("status", self.status.as_ref())
            .watch(&self.watch)
            .text("firstDiscovered", self.first_discovered)
            .text("lastChecked", self.last_checked)
            .text("currentDigest", self.current_digest.as_ref())
            .text("lastUpdated", self.last_updated)
            .text("previousDigest", self.previous_digest.as_ref())
            .list("dependentImages", &self.dependent_images, true)
            .node(
                "updateHistory",
                (!self.update_history.is_empty())
                    .then(|| Node::seq(self.update_history.iter().map(update_record).collect())),
            )
            .text("checkError", self.check_error.as_ref())
            .text("checkErrorSince", self.check_error_since)
            .node(
                "digests",
                (!self.digests.is_empty()).then(|| {
                    Node::seq(
                        self.digests
                            .iter()
                            .map(crate::supply::encode_facts)
                            .collect(),
                    )
                }),
            )
            .extra(&self.extra)
            .build()
    }

    /// The file's text.
    pub fn to_yaml(&self) -> Result<String, WriteError> {
        yaml::to_string(&self.to_node())
    }
}
