//! The Argo Rollouts `AnalysisTemplate` (`argoproj.io/v1alpha1`, which Kargo uses for
//! verification) with the subset of the Kubernetes Job and Pod specs that the analyzer job
//! needs. Field names are exactly the CRD's; absent fields are left out.

use serde::Serialize;

use crate::kargo::ObjectMeta;

/// The API version of `AnalysisTemplate`.
pub const ROLLOUTS_API_VERSION: &str = "argoproj.io/v1alpha1";

/// `AnalysisTemplate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplate {
    /// Always [`ROLLOUTS_API_VERSION`].
    pub api_version: String,
    /// Always `AnalysisTemplate`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// Arguments and metrics.
    pub spec: AnalysisTemplateSpec,
}

/// `AnalysisTemplate.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    /// Declared arguments (`{{args.NAME}}`), each passed by the Stages.
    pub args: Vec<Argument>,
    /// The metrics (one job metric).
    pub metrics: Vec<Metric>,
}

/// `spec.args[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// Name.
    pub name: String,
    /// The default, used when a Stage does not pass the argument.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `spec.metrics[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// Name.
    pub name: String,
    /// Time between measurements; absent (with `count`) for a single measurement, which is
    /// all Image Factory emits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Number of measurements; absent: one (Argo Rollouts' `EffectiveCount` without an
    /// interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Failed measurements tolerated before the metric fails.
    pub failure_limit: u32,
    /// The job.
    pub provider: MetricProvider,
}

/// `metrics[].provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    /// A Kubernetes Job: the measurement succeeds when the Job completes.
    pub job: JobMetric,
}

/// `provider.job` (also the `jobTemplate` of a CronJob: the same two fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMetric {
    /// Labels of the Jobs.
    pub metadata: JobMetadata,
    /// The Job spec.
    pub spec: JobSpec,
}

/// `provider.job.metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMetadata {
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A Kubernetes `JobSpec` (subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// Retries of a failed pod.
    pub backoff_limit: u32,
    /// Hard time limit of one measurement.
    pub active_deadline_seconds: u64,
    /// The pod.
    pub template: PodTemplate,
}

/// `template` of a Job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// The pod's labels (`kargo.yaml` `analyzer.podLabels`; absent when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PodMetadata>,
    /// The pod spec.
    pub spec: PodSpec,
}

/// `template.metadata` of a Job: the pod's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetadata {
    /// Labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A Kubernetes `PodSpec` (subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Always `Never`.
    pub restart_policy: String,
    /// The pod's service account, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// One non-root user for every container, so that they can all write the shared volume.
    pub security_context: PodSecurityContext,
    /// Run one after the other, before `containers`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    /// The main containers.
    pub containers: Vec<Container>,
    /// Volumes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

/// A Kubernetes `Container` (subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Entry point.
    pub command: Vec<String>,
    /// Arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Environment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// CPU and memory requested and allowed.
    pub resources: ResourceRequirements,
    /// No privilege escalation, no capabilities.
    pub security_context: SecurityContext,
}

/// A Kubernetes `ResourceRequirements` (quantities as strings, sorted by resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// What the scheduler reserves.
    pub requests: std::collections::BTreeMap<String, String>,
    /// What the container may use at most (memory: killed beyond; CPU: throttled).
    pub limits: std::collections::BTreeMap<String, String>,
}

/// A Kubernetes `PodSecurityContext` (subset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// Refuse to run as root.
    pub run_as_non_root: bool,
    /// The user of every container.
    pub run_as_user: u32,
    /// Its group.
    pub run_as_group: u32,
    /// The group owning the volumes.
    pub fs_group: u32,
    /// The runtime's default seccomp profile.
    pub seccomp_profile: SeccompProfile,
}

/// `seccompProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    /// `RuntimeDefault`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A Kubernetes container `SecurityContext` (subset): what Pod Security "restricted" asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// Always false.
    pub allow_privilege_escalation: bool,
    /// Capabilities dropped.
    pub capabilities: Capabilities,
}

/// `capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// `ALL`.
    pub drop: Vec<String>,
}

impl SecurityContext {
    /// No escalation, every capability dropped.
    pub fn restricted() -> Self {
        SecurityContext {
            allow_privilege_escalation: false,
            capabilities: Capabilities {
                drop: vec!["ALL".to_string()],
            },
        }
    }
}

/// `env[]`: a literal value or a key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Value from a Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

impl EnvVar {
    /// A literal variable.
    pub fn literal(name: &str, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.to_string(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    /// A variable read from `key` of Secret `secret`; optional, so that a missing Secret
    /// shows up as an authentication error in the job's log, not as a pod that never starts.
    pub fn secret(name: &str, secret: &str, key: &str) -> Self {
        EnvVar {
            name: name.to_string(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: SecretKeySelector {
                    name: secret.to_string(),
                    key: key.to_string(),
                    optional: true,
                },
            }),
        }
    }
}

/// `env[].valueFrom`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// The Secret key.
    pub secret_key_ref: SecretKeySelector,
}

/// `valueFrom.secretKeyRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// The Secret.
    pub name: String,
    /// The key.
    pub key: String,
    /// Whether the pod may start without it.
    pub optional: bool,
}

/// `volumeMounts[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// The volume.
    pub name: String,
    /// Where.
    pub mount_path: String,
    /// Mounted read-only (the credential volumes); left out when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// `volumes[]`: an `emptyDir` or a `secret`, exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Scratch space for the pod's lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    /// The keys of a Secret as files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
}

/// `emptyDir: {}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct EmptyDir {}

/// `volumes[].secret` (Kubernetes' `SecretVolumeSource`): without `items`, every key of the
/// Secret becomes a file named by the key; with them, only the listed keys, at their paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    /// The Secret, in the pod's namespace.
    pub secret_name: String,
    /// Keys projected to chosen paths; empty: every key, under its own name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<KeyToPath>,
    /// Mode bits of the files (written in decimal, which both YAML and JSON read).
    pub default_mode: u32,
    /// The pod starts without the Secret (the volume is then empty).
    pub optional: bool,
}

/// `secret.items[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyToPath {
    /// The Secret's key.
    pub key: String,
    /// The file, relative to the mount.
    pub path: String,
}
