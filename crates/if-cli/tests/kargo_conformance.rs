//! Conformance of the generated Kargo resources: every document `generate` produces for the
//! example factory, for the eda-mesh fixture of the original implementation and for every
//! golden case is validated against the strict JSON Schemas of `../shared/kargo-crds`
//! (`schemas/<Kind>.json`), each promotion step's config against `step-config-schemas/`,
//! each image (and git) subscription against `subscription-schemas/`. Skipped, with the
//! reason printed, when `../shared` is absent. Also: the rules between resources, and every
//! analyzer argument parsed with the CLI's own clap definition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use if_cli::cli::Cli;
use if_cli::cmd::generate::{self, Options, Rendered};
use if_kargo::Resource;
use if_kargo::rollouts::Container;
use jsonschema::{Registry, Validator};
use serde_json::Value;

use common::{shared, workspace};

/// The validators built from `../shared/kargo-crds`.
struct Schemas {
    kinds: BTreeMap<String, Validator>,
    steps: BTreeMap<String, Validator>,
    subscriptions: BTreeMap<String, Validator>,
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_files(dir: &Path) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, read_json(&p))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl Schemas {
    fn load(crds: &Path) -> Schemas {
        let mut kinds = BTreeMap::new();
        for (name, schema) in json_files(&crds.join("schemas")) {
            let kind = name.trim_end_matches(".json").to_string();
            let v = jsonschema::options()
                .build(&schema)
                .unwrap_or_else(|e| panic!("schemas/{name}: {e}"));
            kinds.insert(kind, v);
        }
        let step_files = json_files(&crds.join("step-config-schemas"));
        let mut registry = Registry::new();
        for (name, schema) in &step_files {
            registry = registry
                .add(format!("json-schema:///{name}"), schema.clone())
                .unwrap();
        }
        let registry = registry.prepare().unwrap();
        let mut steps = BTreeMap::new();
        for (name, schema) in &step_files {
            let Some(uses) = name.strip_suffix("-config.json") else {
                continue;
            };
            let v = jsonschema::options()
                .with_registry(&registry)
                .with_base_uri(format!("json-schema:///{name}"))
                .build(schema)
                .unwrap_or_else(|e| panic!("step-config-schemas/{name}: {e}"));
            steps.insert(uses.to_string(), v);
        }
        let mut subscriptions = BTreeMap::new();
        for (name, schema) in json_files(&crds.join("subscription-schemas")) {
            let v = jsonschema::options()
                .build(&schema)
                .unwrap_or_else(|e| panic!("subscription-schemas/{name}: {e}"));
            subscriptions.insert(name.trim_end_matches(".json").to_string(), v);
        }
        Schemas {
            kinds,
            steps,
            subscriptions,
        }
    }

    /// Every problem of every document of `text`; returns the number of documents.
    fn validate(&self, what: &str, text: &str, problems: &mut Vec<String>) -> usize {
        let docs = documents(text);
        for (i, doc) in docs.iter().enumerate() {
            let kind = doc["kind"].as_str().unwrap_or("?");
            let name = doc["metadata"]["name"].as_str().unwrap_or("?");
            let at = format!("{what}[{i}] {kind}/{name}");
            // The reconcile CronJob is Kubernetes' own kind, not a Kargo or Argo Rollouts CRD:
            // validate.py skips it too; `kargo_rules/` pins what it must be.
            if kind == "CronJob" && doc["apiVersion"] == "batch/v1" {
                continue;
            }
            let Some(v) = self.kinds.get(kind) else {
                problems.push(format!("{at}: no schema for kind {kind}"));
                continue;
            };
            collect(v, doc, &at, problems);
            for (n, sub) in doc["spec"]["subscriptions"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (t, body) in sub.as_object().into_iter().flatten() {
                    match self.subscriptions.get(t) {
                        Some(v) => {
                            collect(v, body, &format!("{at} subscriptions[{n}].{t}"), problems)
                        }
                        None => problems.push(format!("{at}: unknown subscription type {t}")),
                    }
                }
            }
            let steps = doc["spec"]["promotionTemplate"]["spec"]["steps"].as_array();
            for (n, step) in steps.into_iter().flatten().enumerate() {
                let uses = step["uses"].as_str().unwrap_or("?");
                match self.steps.get(uses) {
                    Some(v) => collect(
                        v,
                        &step["config"],
                        &format!("{at} step[{n}] {uses}"),
                        problems,
                    ),
                    None => problems.push(format!("{at}: step {uses} has no config schema")),
                }
            }
        }
        docs.len()
    }
}

fn collect(v: &Validator, instance: &Value, at: &str, problems: &mut Vec<String>) {
    for e in v.iter_errors(instance) {
        problems.push(format!("{at} {}: {e}", e.instance_path()));
    }
}

/// The YAML documents of a generated file, as JSON values (read through if-model's seam).
fn documents(text: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    for chunk in text.split("\n---\n").skip(1) {
        let node = if_model::yaml::parse(chunk).unwrap_or_else(|e| panic!("{e}:\n{chunk}"));
        docs.push(serde_json::to_value(&node).unwrap());
    }
    docs
}

/// The eda-mesh fixture copied without its `*.example.yaml` files.
fn eda_mesh(shared_dir: &Path, tmp: &Path) -> PathBuf {
    common::eda_mesh_factory(shared_dir, &tmp.join("image-factory"))
}

fn assert_consistent(what: &str, r: &Rendered) {
    let problems = if_kargo::check::cross_object(&r.resources);
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn every_generated_document_passes_the_kargo_schemas() {
    let Some(shared_dir) = shared("kargo-crds/schemas") else {
        return;
    };
    let schemas = Schemas::load(&shared_dir.join("kargo-crds"));
    let mut problems = Vec::new();
    let mut summary = Vec::new();

    let example =
        generate::render_root(&workspace().join("image-factory"), &Options::default()).unwrap();
    assert_consistent("example", &example);
    let n = schemas.validate("example", &example.text, &mut problems);
    summary.push(format!("example factory: {n} resources"));

    let tmp = tempfile::tempdir().unwrap();
    let eda = eda_mesh(&shared_dir, tmp.path());
    for (label, watch) in [
        ("eda-mesh", false),
        ("eda-mesh --with-dockerfile-watch", true),
    ] {
        let options = Options {
            image: None,
            dockerfile_watch: watch,
        };
        let r = generate::render_root(&eda, &options).unwrap();
        assert_consistent(label, &r);
        let n = schemas.validate(label, &r.text, &mut problems);
        summary.push(format!("{label}: {n} resources"));
    }

    let cases = workspace().join("testdata/kargo");
    let mut dirs = if_cli::golden::case_dirs(&cases).unwrap();
    dirs.retain(|p| p.join("images.yaml").is_file());
    assert!(dirs.len() >= 6, "golden cases in {}", cases.display());
    for case in dirs {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(case.join("expected.k8s.yaml")).unwrap();
        let n = schemas.validate(&name, &text, &mut problems);
        summary.push(format!("testdata/kargo/{name}: {n} resources"));
    }
    for line in &summary {
        eprintln!("{line}: all valid (strict)");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_schemas_reject_what_kargo_rejects() {
    let Some(shared_dir) = shared("kargo-crds/schemas") else {
        return;
    };
    let schemas = Schemas::load(&shared_dir.join("kargo-crds"));
    let r = generate::render_root(
        &workspace().join("testdata/kargo/external"),
        &Options::default(),
    )
    .unwrap();
    let bad = r
        .text
        .replacen("constraint: 16-alpine", "allowTags: ^16-alpine$", 1)
        .replacen("  interval: 6h\n", "  interval: 6 hours\n", 1)
        .replacen("set-metadata", "set-metadatas", 1);
    let mut problems = Vec::new();
    schemas.validate("mutated", &bad, &mut problems);
    let all = problems.join("\n");
    assert!(all.contains("allowTags"), "{all}");
    assert!(all.contains("6 hours"), "{all}");
    assert!(all.contains("set-metadatas has no config schema"), "{all}");
}

#[test]
fn the_eda_mesh_fixture_is_repaired_not_copied() {
    let Some(shared_dir) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = eda_mesh(&shared_dir, tmp.path());
    let r = generate::render_root(&root, &Options::default()).unwrap();
    assert!(
        !r.text.contains("\\\\"),
        "a doubled escape reached the output"
    );
    assert!(!r.text.contains("allowTags:"));
    let warnings: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    let repaired = warnings
        .iter()
        .filter(|w| w.contains("has a doubled escape; the Warehouse uses"))
        .count();
    assert_eq!(repaired, 2, "{warnings:#?}");
    let constraints: Vec<&str> = r
        .text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("constraint: "))
        .collect();
    assert_eq!(
        constraints,
        ["latest", "v1.40.0-focal", "22-bookworm-slim", "3.12-slim"]
    );
}

/// The analyzer containers of every AnalysisTemplate the example generates.
fn analyzer_containers() -> Vec<(String, Container)> {
    let mut r = generate::render_root(
        &workspace().join("testdata/kargo/dockerfile-watch"),
        &Options::default(),
    )
    .unwrap();
    let plain = generate::render_root(
        &workspace().join("testdata/kargo/empty"),
        &Options::default(),
    )
    .unwrap();
    r.resources.extend(plain.resources);
    let mut out = Vec::new();
    for g in &r.resources {
        if let Resource::AnalysisTemplate(t) = &g.resource {
            for m in &t.spec.metrics {
                let pod = &m.provider.job.spec.template.spec;
                for c in pod.init_containers.iter().chain(&pod.containers) {
                    if c.command == [if_kargo::analysis::ANALYZER_COMMAND] {
                        out.push((t.metadata.name.clone(), c.clone()));
                    }
                }
            }
        }
    }
    out
}

/// A value standing for an `{{args.X}}` placeholder.
fn sample(arg: &str) -> String {
    let digest = format!("sha256:{}", "ab".repeat(32));
    arg.replace("{{args.digest}}", &digest)
        .replace("{{args.tag}}", "22-bookworm-slim")
        .replace("{{args.image}}", "docker.io/library/node")
        .replace("{{args.repoURL}}", "https://github.com/acme/app.git")
        .replace("{{args.commit}}", "0123456789abcdef")
}

#[test]
fn every_analyzer_argument_is_a_real_image_factory_flag() {
    let containers = analyzer_containers();
    let names: Vec<&str> = containers.iter().map(|(_, c)| c.name.as_str()).collect();
    assert!(
        names.contains(&"record-update")
            && names.contains(&"reconcile")
            && names.contains(&"analyze"),
        "{names:?}"
    );
    let cli = Cli::command();
    for (template, c) in &containers {
        let args: Vec<String> = c.args.iter().map(|a| sample(a)).collect();
        // Global options come first, each with its value (`--root DIR`, `--format F`).
        let mut at = 0;
        while args.get(at).is_some_and(|a| a.starts_with("--")) {
            at += if args[at].contains('=') { 1 } else { 2 };
        }
        assert!(
            at < args.len(),
            "{template}/{}: no command in {args:?}",
            c.name
        );
        let (globals, command) = args.split_at(at);
        // The global flags (--root DIR) parse, whatever the command.
        let with_validate: Vec<&str> = std::iter::once("image-factory")
            .chain(globals.iter().map(String::as_str))
            .chain(["validate"])
            .collect();
        Cli::try_parse_from(&with_validate)
            .unwrap_or_else(|e| panic!("{template}/{}: {with_validate:?}: {e}", c.name));
        let full: Vec<&str> = std::iter::once("image-factory")
            .chain(args.iter().map(String::as_str))
            .collect();
        assert!(
            cli.find_subcommand(&command[0]).is_some(),
            "{template}/{}: unknown command {}",
            c.name,
            command[0]
        );
        Cli::try_parse_from(&full)
            .unwrap_or_else(|e| panic!("{template}/{}: {full:?}: {e}", c.name));
    }
}
