//! How long a verification holds a Stage, the reconcile CronJob's schedule, and the names Argo Rollouts gives the Jobs.

use super::*;

/// How long one verification holds the Stage: Argo Rollouts takes the first measurement at
/// once and each later one an `interval` after the previous finished
/// (analysis/analysis.go, `generateMetricTasks`); a metric without an effective count never
/// ends on its own (`None`).
fn verification_minutes(m: &if_kargo::rollouts::Metric) -> Option<u64> {
    let count = effective_count(m)?;
    let interval = m.interval.as_deref().map_or(0, go_minutes);
    Some(u64::from(count - 1) * interval)
}

#[test]
fn verification_is_one_shot_so_the_next_freight_is_promoted_at_once() {
    // Kargo v1.11.2 pkg/controller/stages/regular_stages.go, `syncPromotions`: "If the current
    // Freight exists and has a non-terminal verification, wait for it to complete ... before
    // allowing new promotions to start". So a verification must end with its one measurement.
    for case in cases() {
        let by_name: BTreeMap<&str, _> = templates(&case.rendered)
            .into_iter()
            .map(|t| (t.metadata.name.as_str(), t))
            .collect();
        let verified = stages(&case.rendered);
        assert!(!verified.is_empty(), "{}: no Stage", case.label);
        for s in verified {
            for r in &s.spec.verification.analysis_templates {
                let t = by_name[r.name.as_str()];
                for m in &t.spec.metrics {
                    assert_eq!(
                        (effective_count(m), verification_minutes(m)),
                        (Some(1), Some(0)),
                        "{}: Stage/{} metric {} ({:?} x {:?}) holds the next Freight",
                        case.label,
                        s.metadata.name,
                        m.name,
                        m.count,
                        m.interval
                    );
                    assert_eq!(m.failure_limit, 0, "{}: {}", case.label, m.name);
                }
            }
        }
    }
}

/// Minutes between two runs of a schedule the generator accepts, for the forms used here
/// (`M * * * *`, `*/N * * * *`, `@hourly`, `@daily`, `M H * * *`).
fn schedule_period_minutes(schedule: &str) -> u64 {
    let f: Vec<&str> = schedule.split_whitespace().collect();
    match f.as_slice() {
        ["@hourly"] => 60,
        ["@daily" | "@midnight"] => 24 * 60,
        [m, "*", "*", "*", "*"] if m.starts_with("*/") => m[2..].parse().unwrap(),
        [m, "*", "*", "*", "*"] if m.parse::<u32>().is_ok() => 60,
        [m, h, "*", "*", "*"] if m.parse::<u32>().is_ok() && h.parse::<u32>().is_ok() => 24 * 60,
        _ => panic!("schedule {schedule} is not one the tests can time"),
    }
}

#[test]
fn reconcile_runs_on_a_schedule_in_a_forbid_cronjob() {
    // Kubernetes batch/v1 CronJob (k8s.io/api/batch/v1 types.go): `concurrencyPolicy: Forbid`
    // skips a run while the previous one is still going, so two reconciles never race on the
    // state repository; the schedule is robfig/cron's standard five fields.
    for case in cases() {
        let jobs = cronjobs(&case.rendered);
        assert_eq!(jobs.len(), 1, "{}: one CronJob", case.label);
        let c = jobs[0];
        assert_eq!(
            (c.api_version.as_str(), c.kind.as_str()),
            ("batch/v1", "CronJob")
        );
        assert_eq!(
            c.metadata.namespace.as_deref(),
            Some(case.config.project.as_str())
        );
        assert_eq!(c.spec.concurrency_policy, "Forbid", "{}", case.label);
        assert_eq!(
            c.spec.schedule, case.config.reconcile.schedule,
            "{}",
            case.label
        );
        assert_eq!(check_cron(&c.spec.schedule), Ok(()), "{}", case.label);
        let period = schedule_period_minutes(&c.spec.schedule);
        let job = &c.spec.job_template.spec;
        assert!(
            job.active_deadline_seconds <= period * 60,
            "{}: a hung run outlives the next schedule",
            case.label
        );
        let pod = &job.template.spec;
        // The command: the first argument after the global options.
        let globals = if_kargo::pod::global_args(&case.config).len();
        let commands: Vec<&str> = containers(&c.spec.job_template)
            .map(|c| c.args[globals].as_str())
            .collect();
        let expected: &[&str] = if case.config.reconcile.check {
            &["check", "reconcile"]
        } else {
            &["reconcile"]
        };
        assert_eq!(commands, expected, "{}", case.label);
        // The same non-root pod as the analysis Jobs.
        let template = &templates(&case.rendered)[0].spec.metrics[0].provider.job;
        assert_eq!(
            pod.security_context, template.spec.template.spec.security_context,
            "{}",
            case.label
        );
        assert!(pod.security_context.run_as_non_root && pod.security_context.run_as_user != 0);
        for k in containers(&c.spec.job_template) {
            assert!(!k.security_context.allow_privilege_escalation);
            assert_eq!(k.security_context.capabilities.drop, ["ALL"]);
            for r in ["cpu", "memory"] {
                assert!(
                    k.resources.limits.contains_key(r) && k.resources.requests.contains_key(r),
                    "{}: container {} has no {r} request and limit",
                    case.label,
                    k.name
                );
            }
        }
    }
    // The default is hourly; kargo.yaml's `reconcile.schedule` replaces it.
    assert_eq!(Config::default().reconcile.schedule, "0 * * * *");
    let (c, d) = Config::parse("reconcile:\n  schedule: '*/15 * * * *'\n", "kargo.yaml");
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(schedule_period_minutes(&c.reconcile.schedule), 15);
}

/// The Job name Argo Rollouts' job provider gives a metric's `n`-th measurement for a run of
/// UID `uid` (metricproviders/job/job.go, `newJobName`: v1.7 and v1.8 never shorten it; v1.9
/// cuts the metric name to fit 63).
fn job_name(uid: &str, metric: &str, n: u32) -> String {
    format!("{uid}.{metric}.{n}")
}

#[test]
fn metric_names_fit_argo_rollouts_job_names() {
    // An AnalysisRun UID is 36 characters; Kubernetes refuses a Job name over 63 (the
    // `job-name` label its pods get is a label value). Up to 999 measurements (retries
    // included: the suffix is count + errors + 1) must fit.
    let uid = "0f2c9a4e-6b1d-4c3a-9e8f-7a6b5c4d3e2f";
    let name_chars = Regex::new("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$").unwrap();
    for case in cases() {
        for t in templates(&case.rendered) {
            for m in &t.spec.metrics {
                assert!(
                    m.name.len() <= if_kargo::analysis::MAX_METRIC_NAME
                        && name_chars.is_match(&m.name),
                    "{}: metric `{}`",
                    case.label,
                    m.name
                );
                let longest = job_name(uid, &m.name, 999);
                assert!(longest.len() <= 63, "{}: {longest}", case.label);
            }
        }
    }
}
