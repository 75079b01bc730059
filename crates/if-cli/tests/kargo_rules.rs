//! The rules a live Kargo v1.11.2 + Argo Rollouts v1.7–v1.9 install enforces, beyond its
//! schemas, each pinned by one test named after it, on what `generate` produces for the
//! example factory and for the eda-mesh fixture of the original implementation (skipped, with
//! the reason printed, when `../shared` is absent), and on `deploy/`. Each test names the rule
//! and the file of Kargo's, Argo Rollouts' or Argo CD's source it follows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::Parser;
use if_cli::cli::Cli;
use if_cli::cmd::generate::{self, Options, Rendered};
use if_kargo::config::check_cron;
use if_kargo::rollouts::{Container, JobMetric};
use if_kargo::{Config, Resource};
use if_model::yaml::{self, Node, Value as YValue};
use regex::Regex;
use serde_json::Value;

use common::{shared, workspace};

/// One generated factory: its label, its resources and the configuration they came from.
struct Case {
    label: String,
    rendered: Rendered,
    config: Config,
}

fn config_of(root: &Path) -> Config {
    let path = root.join(if_kargo::config::FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (c, diags) = Config::parse(&text, &path.display().to_string());
            assert!(diags.is_empty(), "{diags:?}");
            c
        }
        Err(_) => Config::default(),
    }
}

/// The example factory, and the eda-mesh fixture with and without the Dockerfile watch.
fn cases() -> Vec<Case> {
    let example = workspace().join("image-factory");
    let mut out = vec![Case {
        label: "example".to_string(),
        rendered: generate::render_root(&example, &Options::default()).unwrap(),
        config: config_of(&example),
    }];
    if let Some(shared_dir) = shared("fixtures/eda-mesh/image-factory") {
        let tmp = tempfile::tempdir().unwrap();
        let root = common::eda_mesh_factory(&shared_dir, &tmp.path().join("image-factory"));
        for watch in [false, true] {
            let options = Options {
                image: None,
                dockerfile_watch: watch,
            };
            let mut config = config_of(&root);
            config.dockerfile_watch.enabled |= watch;
            out.push(Case {
                label: format!("eda-mesh (dockerfile watch {watch})"),
                rendered: generate::render_root(&root, &options).unwrap(),
                config,
            });
        }
    }
    out
}

/// The resources `pick` selects, in order.
fn of<'r, T>(r: &'r Rendered, pick: fn(&'r Resource) -> Option<&'r T>) -> Vec<&'r T> {
    r.resources
        .iter()
        .filter_map(|g| pick(&g.resource))
        .collect()
}

fn templates(r: &Rendered) -> Vec<&if_kargo::rollouts::AnalysisTemplate> {
    of(r, |x| match x {
        Resource::AnalysisTemplate(t) => Some(t),
        _ => None,
    })
}

fn stages(r: &Rendered) -> Vec<&if_kargo::kargo::Stage> {
    of(r, |x| match x {
        Resource::Stage(s) => Some(s),
        _ => None,
    })
}

fn cronjobs(r: &Rendered) -> Vec<&if_kargo::batch::CronJob> {
    of(r, |x| match x {
        Resource::CronJob(c) => Some(c),
        _ => None,
    })
}

/// Every Job the factory's pods run: the templates' metrics and the CronJob's template.
fn jobs(r: &Rendered) -> Vec<(String, &JobMetric)> {
    let mut out: Vec<(String, &JobMetric)> = Vec::new();
    for t in templates(r) {
        for m in &t.spec.metrics {
            out.push((
                format!("AnalysisTemplate/{}", t.metadata.name),
                &m.provider.job,
            ));
        }
    }
    for c in cronjobs(r) {
        out.push((format!("CronJob/{}", c.metadata.name), &c.spec.job_template));
    }
    out
}

fn containers(job: &JobMetric) -> impl Iterator<Item = &Container> {
    let pod = &job.spec.template.spec;
    pod.init_containers.iter().chain(&pod.containers)
}

/// Argo Rollouts' `Metric.EffectiveCount` (pkg/apis/rollouts/v1alpha1/analysis_types.go,
/// v1.7.2 to v1.9.1): `count`, or 1 when neither `count` nor `interval` is set, or none
/// (the metric runs until the run is terminated) with only an interval.
fn effective_count(m: &if_kargo::rollouts::Metric) -> Option<u32> {
    match (m.count, &m.interval) {
        (Some(n), _) if n > 0 => Some(n),
        (_, None) => Some(1),
        (_, Some(_)) => None,
    }
}

/// Minutes in a Go duration of the form the generator writes (`90m`, `6h`, `1h30m`).
fn go_minutes(d: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    for c in d.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' => total += 60 * number.drain(..).as_str().parse::<u64>().unwrap(),
            'm' => total += number.drain(..).as_str().parse::<u64>().unwrap(),
            's' => total += number.drain(..).as_str().parse::<u64>().unwrap() / 60,
            _ => panic!("unexpected duration {d}"),
        }
    }
    total
}

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

/// A value standing for what a Kargo expression yields, the worst case for typing: a tag
/// such as `1.10`, an all-digit commit ID, an image or Freight name made of digits.
const NUMERIC: &str = "1.10";

/// Kargo's evaluation of one template string (pkg/expressions/json_templates.go,
/// `EvaluateTemplate`, v1.11.2) when every expression yields [`NUMERIC`]: `quote(x)` yields
/// it in double quotes. Afterwards a result in double quotes is a string with the quotes
/// removed; else a result that parses as a float is a number, as a bool a boolean, as JSON
/// that value; anything else a string. `Ok` is the string, `Err` the type it became.
fn evaluate(template: &str) -> Result<String, &'static str> {
    if !template.contains("${{") {
        return Ok(template.to_string());
    }
    let expr = Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").unwrap();
    let result = expr
        .replace_all(template, |c: &regex::Captures<'_>| {
            if c[1].starts_with("quote(") && c[1].ends_with(')') {
                format!("\"{NUMERIC}\"")
            } else {
                NUMERIC.to_string()
            }
        })
        .to_string();
    if result.len() > 1 && result.starts_with('"') && result.ends_with('"') {
        return Ok(result[1..result.len() - 1].to_string());
    }
    if result.parse::<f64>().is_ok() {
        return Err("a number");
    }
    if matches!(
        result.as_str(),
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    ) {
        return Err("a boolean");
    }
    if serde_json::from_str::<Value>(&result).is_ok() {
        return Err("JSON");
    }
    Ok(result)
}

/// Every string in `v` with its path.
fn strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_string(), s.clone())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                strings(x, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_expression_that_can_yield_a_number_is_quoted() {
    // Kargo v1.11.2 pkg/rollouts/analysis_run_builder.go, `buildArgs`: "evaluated argument %q
    // value is not a string" fails verification; promotion step configs (set-metadata values,
    // the Freight name) go through the same evaluation.
    assert_eq!(
        evaluate("${{ imageFrom(vars.repoURL).Tag }}"),
        Err("a number")
    );
    assert_eq!(
        evaluate("${{ quote(imageFrom(vars.repoURL).Tag) }}"),
        Ok(NUMERIC.to_string())
    );
    assert_eq!(evaluate("plain 1.10"), Ok("plain 1.10".to_string()));
    for case in cases() {
        let mut checked = 0;
        for s in stages(&case.rendered) {
            let v = serde_json::to_value(s).unwrap();
            let mut all = Vec::new();
            strings(
                &v["spec"],
                &format!("Stage/{}.spec", s.metadata.name),
                &mut all,
            );
            for (at, text) in all.iter().filter(|(_, t)| t.contains("${{")) {
                checked += 1;
                assert!(
                    evaluate(text).is_ok(),
                    "{}: {at} = `{text}` evaluates to {}",
                    case.label,
                    evaluate(text).unwrap_err()
                );
            }
        }
        assert!(checked > 0, "{}: no expression", case.label);
    }
}

#[test]
fn every_template_arg_is_passed_by_the_stage_or_defaulted() {
    // Argo Rollouts utils/analysis/helpers.go, `ResolveArgs`: "args.%s was not resolved" for
    // a template argument with neither a value nor valueFrom after the run's args are merged
    // in; Kargo passes exactly the Stage's `verification.args` (analysis_run_builder.go).
    for case in cases() {
        let by_name: BTreeMap<&str, _> = templates(&case.rendered)
            .into_iter()
            .map(|t| (t.metadata.name.as_str(), t))
            .collect();
        for s in stages(&case.rendered) {
            let passed: BTreeSet<&str> = s
                .spec
                .verification
                .args
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            for r in &s.spec.verification.analysis_templates {
                let t = by_name[r.name.as_str()];
                let declared: BTreeSet<&str> =
                    t.spec.args.iter().map(|a| a.name.as_str()).collect();
                for a in &t.spec.args {
                    assert!(
                        a.value.is_some() || passed.contains(a.name.as_str()),
                        "{}: Stage/{} leaves args.{} of {} unresolved",
                        case.label,
                        s.metadata.name,
                        a.name,
                        t.metadata.name
                    );
                }
                let extra: Vec<_> = passed.difference(&declared).collect();
                assert!(
                    extra.is_empty(),
                    "{}: {extra:?} are not declared",
                    case.label
                );
            }
        }
    }
}

/// A value standing for an `{{args.X}}` placeholder.
fn sample(arg: &str) -> String {
    arg.replace("{{args.digest}}", &format!("sha256:{}", "ab".repeat(32)))
        .replace("{{args.tag}}", "22-bookworm-slim")
        .replace("{{args.image}}", "docker.io/library/node")
        .replace(
            "{{args.commit}}",
            "0123456789abcdef0123456789abcdef01234567",
        )
}

#[test]
fn analyzer_jobs_clone_and_push_through_the_cli_with_tokens_from_secrets() {
    // One code path with the CLI: every container runs `image-factory`, no shell; with a state
    // repository, `--git-repo URL --git-branch B` makes the CLI clone, commit and push; every
    // token comes from a Secret through the environment (never a literal, never an argument).
    let token_vars = ["IMAGE_FACTORY_GIT_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN"];
    for case in cases() {
        for (what, job) in jobs(&case.rendered) {
            for c in containers(job) {
                let at = format!("{}: {what}/{}", case.label, c.name);
                assert_eq!(c.command, [if_kargo::analysis::ANALYZER_COMMAND], "{at}");
                assert!(
                    !c.args.iter().any(|a| a.contains("git clone") || a == "-c"),
                    "{at}"
                );
                let full: Vec<String> = std::iter::once("image-factory".to_string())
                    .chain(c.args.iter().map(|a| sample(a)))
                    .collect();
                let cli = Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(cli.git_repo, case.config.state.repo_url, "{at}");
                if cli.git_repo.is_some() {
                    assert_eq!(cli.git_branch, case.config.state.branch, "{at}");
                    assert!(
                        c.env.iter().any(|e| e.name == "IMAGE_FACTORY_GIT_TOKEN"),
                        "{at}: no git token"
                    );
                }
                assert_eq!(cli.root, PathBuf::from(&case.config.state.path), "{at}");
                for e in &c.env {
                    if token_vars.contains(&e.name.as_str()) {
                        assert!(
                            e.value.is_none() && e.value_from.is_some(),
                            "{at}: {}",
                            e.name
                        );
                    }
                }
            }
        }
    }
}

/// The documents of a YAML file of the repository.
fn documents(path: &Path) -> Vec<Node> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs = Vec::new();
    for chunk in format!("\n{text}").split("\n---\n") {
        if chunk
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        docs.push(yaml::parse(chunk).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    }
    docs
}

fn scalar(n: Option<&Node>) -> Option<&str> {
    match n.map(|n| &n.value) {
        Some(YValue::Scalar(_, s)) => Some(s.as_str()),
        _ => None,
    }
}

fn at<'n>(n: &'n Node, keys: &[&str]) -> Option<&'n Node> {
    keys.iter().try_fold(n, |n, k| n.get(k))
}

/// Argo CD's sync wave of an object (gitops-engine: the annotation's integer, 0 without it).
fn wave(n: &Node) -> i64 {
    scalar(at(
        n,
        &["metadata", "annotations", "argocd.argoproj.io/sync-wave"],
    ))
    .map_or(0, |w| w.parse().unwrap())
}

/// The objects Argo CD applies: the generated file and deploy/'s kustomization.
fn applied(case: &Case) -> Vec<Node> {
    let mut docs: Vec<Node> = case
        .rendered
        .text
        .split("\n---\n")
        .skip(1)
        .map(|d| yaml::parse(d).unwrap())
        .collect();
    docs.extend(documents(&workspace().join("deploy/serviceaccount.yaml")));
    docs
}

#[test]
fn the_project_is_synced_before_everything_else() {
    // Kargo creates the Project's namespace (pkg/controller/management/projects/projects.go,
    // `ensureNamespace`); Argo CD applies waves in order, lowest first, and waits for each.
    for case in cases() {
        let docs = applied(&case);
        let project: Vec<&Node> = docs
            .iter()
            .filter(|d| scalar(d.get("kind")) == Some("Project"))
            .collect();
        assert_eq!(project.len(), 1, "{}", case.label);
        let first = wave(project[0]);
        for d in docs
            .iter()
            .filter(|d| scalar(d.get("kind")) != Some("Project"))
        {
            assert!(
                wave(d) > first,
                "{}: {} {} is in wave {} (the Project: {first})",
                case.label,
                scalar(d.get("kind")).unwrap(),
                scalar(at(d, &["metadata", "name"])).unwrap(),
                wave(d)
            );
        }
    }
}

#[test]
fn no_manifest_creates_the_project_namespace_without_its_label_and_the_application_retries() {
    // Kargo refuses a Project whose namespace exists without `kargo.akuity.io/project: "true"`
    // (projects.go, `errProjectNamespaceExists`) and adopts a labelled one. Argo CD's
    // `CreateNamespace=true` creates the destination namespace before the sync, labelled with
    // `managedNamespaceMetadata` (argo-cd controller/sync.go).
    let mut manifests: Vec<(String, Node)> = Vec::new();
    for case in cases() {
        manifests.extend(applied(&case).into_iter().map(|d| (case.label.clone(), d)));
    }
    let deploy = workspace().join("deploy");
    for entry in std::fs::read_dir(&deploy).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            manifests.extend(
                documents(&p)
                    .into_iter()
                    .map(|d| (p.display().to_string(), d)),
            );
        }
    }
    let label = |n: &Node, path: &[&str]| {
        scalar(at(n, path).and_then(|l| l.get("kargo.akuity.io/project"))) == Some("true")
    };
    let mut applications = 0;
    for (file, d) in &manifests {
        match scalar(d.get("kind")) {
            Some("Namespace") => assert!(
                label(d, &["metadata", "labels"]),
                "{file}: a Namespace without the label"
            ),
            Some("Application") => {
                applications += 1;
                let policy = at(d, &["spec", "syncPolicy"]).expect("syncPolicy");
                let options: Vec<&str> = match policy.get("syncOptions").map(|n| &n.value) {
                    Some(YValue::Seq(items)) => {
                        items.iter().filter_map(|i| scalar(Some(i))).collect()
                    }
                    _ => Vec::new(),
                };
                if options.contains(&"CreateNamespace=true") {
                    assert!(
                        label(policy, &["managedNamespaceMetadata", "labels"]),
                        "{file}: CreateNamespace without Kargo's label"
                    );
                }
                let limit =
                    scalar(at(policy, &["retry", "limit"])).expect("syncPolicy.retry.limit");
                assert!(
                    limit.parse::<i64>().unwrap() > 0,
                    "{file}: retry limit {limit}"
                );
                assert!(
                    at(policy, &["retry", "backoff", "duration"]).is_some(),
                    "{file}: no backoff"
                );
            }
            _ => {}
        }
    }
    assert_eq!(applications, 1, "the example Application in deploy/");
}

/// The Secret Kargo uses for a repository (pkg/credentials/kubernetes/database.go,
/// `getCredentialsSecret`, v1.11.2): those labelled with the credential type, in name order,
/// the first whose `repoURL` equals the normalized URL, or (with `repoURLIsRegex: "true"`)
/// matches the URL as written or normalized.
fn kargo_secret<'s>(secrets: &'s [Node], cred_type: &str, url: &str) -> Option<&'s str> {
    let mut candidates: Vec<&Node> = secrets
        .iter()
        .filter(|s| {
            scalar(at(s, &["metadata", "labels", "kargo.akuity.io/cred-type"])) == Some(cred_type)
        })
        .collect();
    candidates.sort_by_key(|s| scalar(at(s, &["metadata", "name"])));
    let normalized = normalize(cred_type, url);
    candidates.into_iter().find_map(|s| {
        let data = s.get("stringData")?;
        let repo = scalar(data.get("repoURL"))?;
        let hit = if scalar(data.get("repoURLIsRegex")) == Some("true") {
            let re = Regex::new(repo).unwrap();
            re.is_match(url) || re.is_match(&normalized)
        } else {
            normalize(cred_type, repo) == normalized
        };
        hit.then(|| scalar(at(s, &["metadata", "name"])).unwrap())
    })
}

/// Kargo's URL normalization for the cases here (pkg/urls/image.go `NormalizeImage`: Docker
/// Hub's host and `library/` dropped; pkg/urls/git.go `NormalizeGit`: lowercase, no `.git`).
fn normalize(cred_type: &str, url: &str) -> String {
    let url = url.to_ascii_lowercase();
    if cred_type == "image" {
        for host in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
            if let Some(rest) = url.strip_prefix(host) {
                return rest.strip_prefix("library/").unwrap_or(rest).to_string();
            }
        }
        url
    } else {
        url.trim_end_matches('/')
            .trim_end_matches(".git")
            .to_string()
    }
}

#[test]
fn kargo_finds_the_example_credentials_for_every_repository_that_needs_them() {
    let secrets = documents(&workspace().join("deploy/secrets.example.yaml"));
    for s in &secrets {
        if let Some(t) = scalar(at(s, &["metadata", "labels", "kargo.akuity.io/cred-type"])) {
            assert!(matches!(t, "git" | "image"), "cred-type {t}");
            assert!(
                scalar(at(s, &["stringData", "repoURL"])).is_some(),
                "a cred-type Secret without repoURL"
            );
        }
    }
    let dockerhub: Vec<&Node> = secrets
        .iter()
        .filter(|s| scalar(at(s, &["stringData", "repoURLIsRegex"])) == Some("true"))
        .filter(|s| {
            kargo_secret(std::slice::from_ref(*s), "image", "docker.io/library/node").is_some()
        })
        .collect();
    assert_eq!(
        dockerhub.len(),
        1,
        "one repoURLIsRegex Secret for Docker Hub"
    );
    for case in cases() {
        let mut seen = 0;
        for g in &case.rendered.resources {
            let Resource::Warehouse(w) = &g.resource else {
                continue;
            };
            for sub in &w.spec.subscriptions {
                let (kind, url) = match sub {
                    if_kargo::kargo::Subscription::Image(i) => ("image", i.repo_url.as_str()),
                    if_kargo::kargo::Subscription::Git(g) => ("git", g.repo_url.as_str()),
                };
                let found = kargo_secret(&secrets, kind, url);
                // Docker Hub (rate limits) and the example organisation's private repositories
                // have credentials; public registries elsewhere are read anonymously.
                let needs = url.starts_with("docker.io/")
                    || (case.label == "example"
                        && (url.starts_with("ghcr.io/acme/")
                            || url.starts_with("https://github.com/acme/")
                            || url.starts_with("https://gitlab.com/acme/")));
                if needs {
                    seen += 1;
                    assert!(
                        found.is_some(),
                        "{}: no Secret Kargo would use for {kind} {url}",
                        case.label
                    );
                }
            }
        }
        assert!(seen > 0, "{}: nothing checked", case.label);
    }
    // The state repository's Secret serves Kargo and the analyzer alike.
    let example = config_of(&workspace().join("image-factory"));
    let state = example
        .state
        .repo_url
        .expect("the example has a state repository");
    assert_eq!(
        kargo_secret(&secrets, "git", &state),
        Some(example.secrets.git.as_str())
    );
}

#[test]
fn credential_files_are_read_only_secret_mounts_at_the_paths_the_cli_reads() {
    // The variables the generated containers set are the ones the CLI reads.
    use if_kargo::pod;
    assert_eq!(pod::APP_ID_ENV, if_cli::forge_auth::APP_ID_ENV);
    assert_eq!(
        pod::APP_INSTALLATION_ENV,
        if_cli::forge_auth::APP_INSTALLATION_ENV
    );
    assert_eq!(pod::APP_KEY_FILE_ENV, if_cli::forge_auth::APP_KEY_FILE_ENV);
    assert_eq!(pod::HOST_RULES_ENV, if_cli::forge_auth::HOST_RULES_ENV);
    assert_eq!(pod::REGISTRY_AUTH_ENV, if_cli::registry::AUTH_FILE_ENV);
    let file_vars = [
        pod::APP_KEY_FILE_ENV,
        pod::HOST_RULES_ENV,
        pod::REGISTRY_AUTH_ENV,
    ];
    let mut seen = BTreeSet::new();
    for case in cases() {
        for (what, job) in jobs(&case.rendered) {
            let pod_spec = &job.spec.template.spec;
            for c in containers(job) {
                let at = format!("{}: {what}/{}", case.label, c.name);
                for e in &c.env {
                    if !file_vars.contains(&e.name.as_str()) {
                        continue;
                    }
                    seen.insert((c.name.clone(), e.name.clone()));
                    // A literal path inside a read-only mount of an optional Secret volume.
                    let path = e
                        .value
                        .as_deref()
                        .unwrap_or_else(|| panic!("{at}: {}", e.name));
                    let mount = c
                        .volume_mounts
                        .iter()
                        .find(|m| path.starts_with(&format!("{}/", m.mount_path)))
                        .unwrap_or_else(|| panic!("{at}: {path} is in no mount"));
                    assert!(mount.read_only, "{at}: {}", mount.name);
                    assert!(mount.mount_path.starts_with(pod::CREDENTIALS_DIR), "{at}");
                    let volume = pod_spec
                        .volumes
                        .iter()
                        .find(|v| v.name == mount.name)
                        .unwrap_or_else(|| panic!("{at}: volume {} not declared", mount.name));
                    let secret = volume.secret.as_ref().expect("a secret volume");
                    assert!(secret.optional, "{at}");
                    assert_eq!(secret.default_mode, 0o440, "{at}");
                    // The file is a key of the Secret: listed in `items`, or (no items) the
                    // key of that name.
                    let file = &path[mount.mount_path.len() + 1..];
                    assert!(
                        secret.items.is_empty() || secret.items.iter().any(|i| i.path == file),
                        "{at}: {file} is not projected"
                    );
                }
                // The App's ids come from the same Secret as its key.
                for e in &c.env {
                    if [pod::APP_ID_ENV, pod::APP_INSTALLATION_ENV].contains(&e.name.as_str()) {
                        let from = e.value_from.as_ref().expect("secretKeyRef");
                        let app = case.config.credentials.github_app.as_deref();
                        assert_eq!(Some(from.secret_key_ref.name.as_str()), app, "{at}");
                    }
                }
            }
        }
    }
    // The example factory turns every credential on: the registry file reaches the two
    // commands that ask registries (`check`, and `reconcile` for `requireSignature`), the App
    // and the host rules every container (each talks to git or a forge).
    let example: BTreeSet<(String, String)> = [
        ("check", pod::APP_KEY_FILE_ENV),
        ("check", pod::HOST_RULES_ENV),
        ("check", pod::REGISTRY_AUTH_ENV),
        ("reconcile", pod::APP_KEY_FILE_ENV),
        ("reconcile", pod::HOST_RULES_ENV),
        ("reconcile", pod::REGISTRY_AUTH_ENV),
        ("record-update", pod::APP_KEY_FILE_ENV),
        ("record-update", pod::HOST_RULES_ENV),
        ("analyze", pod::APP_KEY_FILE_ENV),
        ("analyze", pod::HOST_RULES_ENV),
    ]
    .iter()
    .map(|(c, v)| ((*c).to_string(), (*v).to_string()))
    .collect();
    assert!(seen.is_superset(&example), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|(c, v)| v == pod::REGISTRY_AUTH_ENV && c != "check" && c != "reconcile"),
        "{seen:?}"
    );
}
