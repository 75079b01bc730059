//! The rules a live Kargo v1.11.2 + Argo Rollouts v1.7–v1.9 install enforces, beyond its
//! schemas, each pinned by one test named after it, on what `generate` produces for the
//! example factory and for the eda-mesh fixture of the original implementation (skipped, with
//! the reason printed, when `../shared` is absent), and on `deploy/`. Each test names the rule
//! and the file of Kargo's, Argo Rollouts' or Argo CD's source it follows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
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

mod credentials;
mod sync;
mod templates;
mod timing;
