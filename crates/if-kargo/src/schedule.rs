//! The scheduled `reconcile`: a `batch/v1` CronJob in the Project's namespace running the
//! analyzer (`image-factory --git-repo ... reconcile`, after `check` when
//! `reconcile.check` is set, scanning new base digests with `reconcile.scanWith`) on
//! `reconcile.schedule` (hourly by default). Kargo's
//! verification is no clock: it runs once per Freight, so a rebuild whose delay ends while
//! no new Freight arrives is triggered by this job, at most one schedule period late.

use std::collections::BTreeMap;

use crate::batch::{BATCH_API_VERSION, CronJob, CronJobSpec};
use crate::config::{Config, ScanWith};
use crate::kargo::ObjectMeta;
use crate::pod::{self, Tokens};
use crate::rollouts::{Container, EnvVar};

/// The CronJob's name.
pub const RECONCILE_CRONJOB: &str = "image-factory-reconcile";
/// A run missed by more than this many seconds is skipped.
const STARTING_DEADLINE_SECONDS: u64 = 600;
/// Where Trivy keeps its vulnerability database and cache (`--cache-dir`, or this
/// variable): inside the pod's scratch `/tmp`, the one writable directory.
pub const TRIVY_CACHE_ENV: &str = "TRIVY_CACHE_DIR";
/// Its value.
pub const TRIVY_CACHE_DIR: &str = "/tmp/trivy-cache";
/// Finished (and failed) Jobs kept for their logs.
const HISTORY: u32 = 3;

/// `--scan-with SCANNER` when a scanner is asked for (`check`, `record-update`).
pub(crate) fn scan_args(scanner: Option<ScanWith>) -> Vec<&'static str> {
    scanner.map_or_else(Vec::new, |s| vec!["--scan-with", s.as_str()])
}

/// With a scanner, the container's scanner database and cache go to the pod's scratch
/// `/tmp` (the root filesystem is the image's; Trivy reads `TRIVY_CACHE_DIR`).
pub(crate) fn scanner_cache(container: &mut Container, scanner: Option<ScanWith>) {
    if scanner.is_some() {
        container
            .env
            .push(EnvVar::literal(TRIVY_CACHE_ENV, TRIVY_CACHE_DIR));
    }
}

/// The CronJob for `config`.
pub fn reconcile_cronjob(config: &Config, labels: &BTreeMap<String, String>) -> CronJob {
    let init = if config.reconcile.check {
        // `--exit-zero`: a failed lookup (recorded in state) must not fail this init
        // container, or the pod would never run `reconcile`.
        let mut args = vec!["check", "--exit-zero"];
        args.extend(scan_args(config.reconcile.scan_with));
        let mut check = pod::analyzer(config, "check", &args, Tokens::Registries);
        scanner_cache(&mut check, config.reconcile.scan_with);
        vec![check]
    } else {
        Vec::new()
    };
    let main = vec![pod::analyzer(
        config,
        "reconcile",
        &["reconcile"],
        Tokens::ForgesAndRegistries,
    )];
    CronJob {
        api_version: BATCH_API_VERSION.to_string(),
        kind: "CronJob".to_string(),
        metadata: ObjectMeta {
            name: RECONCILE_CRONJOB.to_string(),
            namespace: Some(config.project.clone()),
            labels: labels.clone(),
            annotations: BTreeMap::new(),
        },
        spec: CronJobSpec {
            schedule: config.reconcile.schedule.clone(),
            concurrency_policy: "Forbid".to_string(),
            starting_deadline_seconds: STARTING_DEADLINE_SECONDS,
            successful_jobs_history_limit: HISTORY,
            failed_jobs_history_limit: HISTORY,
            job_template: pod::job(config, init, main, 0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_runs_first_when_asked() {
        let mut config = Config::default();
        let plain = reconcile_cronjob(&config, &BTreeMap::new());
        let pod = &plain.spec.job_template.spec.template.spec;
        assert!(pod.init_containers.is_empty());
        assert_eq!(
            pod.containers[0].args.last().map(String::as_str),
            Some("reconcile")
        );
        assert_eq!(plain.spec.schedule, "0 * * * *");
        config.reconcile.check = true;
        config.reconcile.schedule = "*/20 * * * *".to_string();
        let with_check = reconcile_cronjob(&config, &BTreeMap::new());
        let pod = &with_check.spec.job_template.spec.template.spec;
        // A failed lookup exits 1 unless `--exit-zero`: without it the init container would
        // fail and keep the pod from running `reconcile` (Kubernetes runs the app
        // containers only after every init container succeeded).
        let args = &pod.init_containers[0].args;
        assert_eq!(
            args[args.len() - 2..],
            ["check".to_string(), "--exit-zero".to_string()]
        );
        assert_eq!(with_check.spec.schedule, "*/20 * * * *");
        assert!(
            pod.init_containers[0]
                .env
                .iter()
                .all(|e| e.name != TRIVY_CACHE_ENV)
        );
    }

    /// `reconcile.scanWith: trivy` makes the init container `check --scan-with trivy`, with
    /// Trivy's cache in the scratch `/tmp`: Trivy maps each flag to a variable ("Add TRIVY_
    /// prefix, make it all uppercase, replace - with _": `--cache-dir` => `TRIVY_CACHE_DIR`,
    /// trivy.dev, Configuration), and its default, `$HOME/.cache/trivy`, is not writable.
    #[test]
    fn check_scans_with_the_scanner_asked_for() {
        let mut config = Config::default();
        config.reconcile.check = true;
        config.reconcile.scan_with = Some(crate::config::ScanWith::Trivy);
        let job = reconcile_cronjob(&config, &BTreeMap::new());
        let check = &job.spec.job_template.spec.template.spec.init_containers[0];
        assert_eq!(
            check.args[check.args.len() - 4..],
            ["check", "--exit-zero", "--scan-with", "trivy"].map(String::from)
        );
        let cache = check.env.iter().find(|e| e.name == "TRIVY_CACHE_DIR");
        assert_eq!(
            cache.and_then(|e| e.value.as_deref()),
            Some("/tmp/trivy-cache")
        );
        assert!(
            check
                .volume_mounts
                .iter()
                .any(|m| m.mount_path == "/tmp" && !m.read_only)
        );
    }
}
