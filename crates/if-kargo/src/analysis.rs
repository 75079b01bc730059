//! The shared `AnalysisTemplate`s the Stages verify Freight with. Each has one metric,
//! measured once: no `interval`, no `count` (Argo Rollouts' `Metric.EffectiveCount` is then
//! 1), so a Stage's verification ends with its one Job, and Kargo (which starts no queued
//! Promotion while the current Freight's verification is not terminal) promotes the next
//! Freight at once. Waiting rebuilds are served on time by the reconcile CronJob
//! ([`crate::schedule`]), not by re-running verification.
//!
//! * `image-factory-record-update` (every watched image): `record-update --image --tag
//!   --digest` with the Freight's image (an init container), then `reconcile`. With
//!   `verification.scanWith` the record also scans the digest (`--scan-with`), in a
//!   container with the registries' credentials and the scanner's cache in `/tmp`, as the
//!   CronJob's `check` does.
//! * `image-factory-analyze` (Dockerfile watch): `analyze --image NAME --source-ref COMMIT`,
//!   which fetches the Dockerfile from the forge at the Freight's commit.
//!
//! Every container is the analyzer (`image-factory --git-repo ...`, see [`crate::pod`]).

use std::collections::BTreeMap;

use crate::config::Config;
use crate::kargo::ObjectMeta;
use crate::pod::{self, Tokens};
use crate::rollouts::{
    AnalysisTemplate, AnalysisTemplateSpec, Argument, Metric, MetricProvider, ROLLOUTS_API_VERSION,
};
use crate::schedule;

/// Name of the template verifying watched images.
pub const RECORD_UPDATE_TEMPLATE: &str = "image-factory-record-update";
/// Arguments of [`RECORD_UPDATE_TEMPLATE`]: the Freight's repository, tag and digest.
pub const RECORD_UPDATE_ARGS: [&str; 3] = ["image", "tag", "digest"];
/// The metric of [`RECORD_UPDATE_TEMPLATE`].
pub const RECORD_UPDATE_METRIC: &str = "record-update";
/// Name of the template re-running `analyze` (Dockerfile watch).
pub const ANALYZE_TEMPLATE: &str = "image-factory-analyze";
/// Arguments of [`ANALYZE_TEMPLATE`]: the image name and the Freight's commit.
pub const ANALYZE_ARGS: [&str; 2] = ["image", "commit"];
/// The metric of [`ANALYZE_TEMPLATE`].
pub const ANALYZE_METRIC: &str = "analyze";
/// The longest metric name: Argo Rollouts names a metric's Job `<AnalysisRun UID (36)>.
/// <metric>.<measurement>` and, before v1.9, does not shorten it below Kubernetes' 63; 22
/// leaves three digits for the measurement number.
pub const MAX_METRIC_NAME: usize = 22;
pub use crate::pod::{ANALYZER_COMMAND, RUN_AS};

/// `{{args.NAME}}`, an argument reference in a template.
pub fn arg(name: &str) -> String {
    format!("{{{{args.{name}}}}}")
}

/// A duration in the short Go form Kargo and Argo Rollouts read (`6h`, `90m`).
pub fn go_duration(minutes: u64) -> String {
    if minutes.is_multiple_of(60) && minutes > 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The template verifying watched images.
pub fn record_update(config: &Config, labels: &BTreeMap<String, String>) -> AnalysisTemplate {
    let (image, tag, digest) = (arg("image"), arg("tag"), arg("digest"));
    let scanner = config.verification.scan_with;
    let mut args = vec![
        "record-update",
        "--image",
        &image,
        "--tag",
        &tag,
        "--digest",
        &digest,
    ];
    args.extend(schedule::scan_args(scanner));
    // A scanner pulls the digest from its registry: the registries' credentials too.
    let tokens = if scanner.is_some() {
        Tokens::Registries
    } else {
        Tokens::Git
    };
    let mut record = pod::analyzer(config, "record-update", &args, tokens);
    schedule::scanner_cache(&mut record, scanner);
    let reconcile = pod::analyzer(
        config,
        "reconcile",
        &["reconcile"],
        Tokens::ForgesAndRegistries,
    );
    // Two retries of the pod: recording the same digest twice records nothing new, reconcile
    // triggers only what the pushed state says is due, and a digest whose record failed (a
    // git hiccup) would otherwise wait for the next digest.
    let metric = one_shot(
        RECORD_UPDATE_METRIC,
        pod::job(config, vec![record], vec![reconcile], 2),
    );
    template(
        config,
        RECORD_UPDATE_TEMPLATE,
        &RECORD_UPDATE_ARGS,
        metric,
        labels,
    )
}

/// The template re-running `analyze` for one image (Dockerfile watch).
pub fn analyze(config: &Config, labels: &BTreeMap<String, String>) -> AnalysisTemplate {
    let run = pod::analyzer(
        config,
        "analyze",
        &[
            "analyze",
            "--image",
            &arg("image"),
            "--source-ref",
            &arg("commit"),
        ],
        Tokens::Forges,
    );
    let metric = one_shot(ANALYZE_METRIC, pod::job(config, Vec::new(), vec![run], 2));
    template(config, ANALYZE_TEMPLATE, &ANALYZE_ARGS, metric, labels)
}

/// A metric measured once: no interval, no count; the Job failing fails it.
fn one_shot(name: &str, job: crate::rollouts::JobMetric) -> Metric {
    Metric {
        name: name.to_string(),
        interval: None,
        count: None,
        failure_limit: 0,
        provider: MetricProvider { job },
    }
}

fn template(
    config: &Config,
    name: &str,
    args: &[&str],
    metric: Metric,
    labels: &BTreeMap<String, String>,
) -> AnalysisTemplate {
    AnalysisTemplate {
        api_version: ROLLOUTS_API_VERSION.to_string(),
        kind: "AnalysisTemplate".to_string(),
        metadata: ObjectMeta {
            name: name.to_string(),
            namespace: Some(config.project.clone()),
            labels: labels.clone(),
            annotations: BTreeMap::new(),
        },
        spec: AnalysisTemplateSpec {
            args: args
                .iter()
                .map(|a| Argument {
                    name: (*a).to_string(),
                    value: None,
                })
                .collect(),
            metrics: vec![metric],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(360), "6h");
        assert_eq!(go_duration(90), "90m");
        assert_eq!(go_duration(0), "0m");
    }

    /// `verification.scanWith: trivy`: the record scans the Freight's digest, with Trivy's
    /// cache in the scratch `/tmp` (trivy.dev, Configuration: `--cache-dir` is read from
    /// `TRIVY_CACHE_DIR`) and the registries' pull Secret as the CronJob's `check` has it.
    #[test]
    fn the_verification_scans_the_freight_when_asked() {
        let mut config = Config::default();
        config.credentials.registry_auth = Some("pull".to_string());
        let plain = record_update(&config, &BTreeMap::new());
        let init = |t: &AnalysisTemplate| {
            t.spec.metrics[0]
                .provider
                .job
                .spec
                .template
                .spec
                .init_containers[0]
                .clone()
        };
        let record = init(&plain);
        assert!(!record.args.iter().any(|a| a == "--scan-with"));
        assert!(
            record
                .env
                .iter()
                .all(|e| e.name != schedule::TRIVY_CACHE_ENV)
        );
        assert!(record.env.iter().all(|e| e.name != "REGISTRY_AUTH_FILE"));
        config.verification.scan_with = Some(crate::config::ScanWith::Trivy);
        let record = init(&record_update(&config, &BTreeMap::new()));
        assert_eq!(
            record.args[record.args.len() - 9..],
            [
                "record-update",
                "--image",
                "{{args.image}}",
                "--tag",
                "{{args.tag}}",
                "--digest",
                "{{args.digest}}",
                "--scan-with",
                "trivy"
            ]
            .map(String::from)
        );
        let cache = record.env.iter().find(|e| e.name == "TRIVY_CACHE_DIR");
        assert_eq!(
            cache.and_then(|e| e.value.as_deref()),
            Some("/tmp/trivy-cache")
        );
        assert!(record.env.iter().any(|e| e.name == "REGISTRY_AUTH_FILE"));
        assert!(
            record
                .volume_mounts
                .iter()
                .any(|m| m.mount_path == "/tmp" && !m.read_only)
        );
    }

    #[test]
    fn metrics_are_one_shot_and_short() {
        let mut config = Config::default();
        config.state.repo_url = Some("https://github.com/acme/platform.git".to_string());
        for t in [
            record_update(&config, &BTreeMap::new()),
            analyze(&config, &BTreeMap::new()),
        ] {
            for m in &t.spec.metrics {
                assert_eq!((&m.interval, m.count), (&None, None), "{}", m.name);
                assert!(m.name.len() <= MAX_METRIC_NAME, "{}", m.name);
                let pod = &m.provider.job.spec.template.spec;
                for c in pod.init_containers.iter().chain(&pod.containers) {
                    assert_eq!(c.command, [ANALYZER_COMMAND]);
                    assert_eq!(c.args[0], "--git-repo");
                }
            }
        }
    }
}
