//! The Kubernetes `batch/v1` `CronJob` Image Factory emits (the scheduled `reconcile`), with
//! exactly the API's field names; its Job template is the analyzer Job of [`crate::pod`].

use serde::Serialize;

use crate::kargo::ObjectMeta;
use crate::rollouts::JobMetric;

/// The API version of `CronJob`.
pub const BATCH_API_VERSION: &str = "batch/v1";

/// `CronJob`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJob {
    /// Always [`BATCH_API_VERSION`].
    pub api_version: String,
    /// Always `CronJob`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The schedule and the Job.
    pub spec: CronJobSpec,
}

/// `CronJob.spec` (subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    /// Cron schedule, in the controller manager's time zone.
    pub schedule: String,
    /// `Forbid`: a run still going when the next is due makes the next one skipped.
    pub concurrency_policy: String,
    /// A run missed by more than this (controller down) is skipped, not made up.
    pub starting_deadline_seconds: u64,
    /// Finished Jobs kept.
    pub successful_jobs_history_limit: u32,
    /// Failed Jobs kept.
    pub failed_jobs_history_limit: u32,
    /// The Job (labels and spec).
    pub job_template: JobMetric,
}
