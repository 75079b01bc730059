//! The Kargo writer against serde-saphyr, the generic YAML path it replaces: the resources of
//! a factory with every kind, with random strings (every character class serde-saphyr's
//! quoting looks at) put in their string fields, keys and lists, must render to the same
//! bytes. `render` falls back to serde-saphyr for the shapes the writer refuses (block
//! scalars), so the whole file is compared too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use if_kargo::kargo::{Subscription, Var};
use if_kargo::render::HEADER;
use if_kargo::rollouts::{Argument, Container, EnvVar};
use if_kargo::writer::{self, WriteError};
use if_kargo::{Config, Generated, Resource, generate, render};
use if_model::factory::{FactoryFiles, SourceFile, load};
use proptest::prelude::*;

const IMAGES: &str = "\
- name: redis
  registry: docker.io
  repository: library/redis
  allowTags: ^7\\.\\d+$
  imageSelectionStrategy: SemVer
- name: uv-service
  registry: ghcr.io
  repository: acme/uv-service
  source: {provider: github, repo: acme/uv-service, dockerfile: Dockerfile, workflow: b.yml}
";

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    }
}

/// Every kind: Project, ProjectConfig, AnalysisTemplates, image and git Warehouses,
/// Stages and the CronJob.
fn resources() -> Vec<Generated> {
    let files = FactoryFiles {
        images: Some(file("images.yaml", IMAGES)),
        image_states: vec![file(
            "state/images/uv-service.yaml",
            "name: uv-service\nrepoURL: ghcr.io/acme/uv-service\nallowTags: ^1\\.4$\nimageSelectionStrategy: Digest\nbaseImages: [python-3.12-slim]\n",
        )],
        base_states: vec![file(
            "state/base-images/python-3.12-slim.yaml",
            "name: python-3.12-slim\nfullImage: python:3.12-slim\nrepoURL: docker.io/library/python\nallowTags: ^3\\\\.12-slim$\nimageSelectionStrategy: Lexical\n",
        )],
    };
    let base = Config::default();
    let config = Config {
        webhook_receiver: true,
        dockerfile_watch: if_kargo::config::DockerfileWatch {
            enabled: true,
            ..base.dockerfile_watch.clone()
        },
        ..base
    };
    let (factory, _) = load(&files);
    generate(&factory, "images.yaml", &config).resources
}

/// The file as serde-saphyr writes it (what `render` wrote before the writer).
fn reference(resources: &[Generated]) -> String {
    let mut out = HEADER.to_string();
    for g in resources {
        let doc = serde_saphyr::to_string(&g.resource).unwrap();
        out.push_str("---\n");
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Takes the next random string, round and round.
struct Strings<'a> {
    all: &'a [String],
    next: usize,
}

impl Strings<'_> {
    fn take(&mut self) -> String {
        let s = self.all[self.next % self.all.len()].clone();
        self.next += 1;
        s
    }
}

fn container(c: &mut Container, s: &mut Strings<'_>) {
    c.image = s.take();
    c.args.push(s.take());
    c.command.push(s.take());
    c.working_dir = Some(s.take());
    c.env.push(EnvVar::literal("X", s.take()));
}

/// Puts random strings into the string fields of `r` (values, map keys, list items).
fn inject(r: &mut Resource, s: &mut Strings<'_>) {
    let meta = match r {
        Resource::Project(x) => &mut x.metadata,
        Resource::ProjectConfig(x) => &mut x.metadata,
        Resource::AnalysisTemplate(x) => &mut x.metadata,
        Resource::Warehouse(x) => &mut x.metadata,
        Resource::Stage(x) => &mut x.metadata,
        Resource::CronJob(x) => &mut x.metadata,
    };
    meta.name = s.take();
    meta.namespace = Some(s.take());
    meta.labels.insert(s.take(), s.take());
    meta.annotations.insert(s.take(), s.take());
    match r {
        Resource::Project(_) => {}
        Resource::ProjectConfig(x) => {
            for p in &mut x.spec.promotion_policies {
                p.stage_selector.name = s.take();
            }
        }
        Resource::AnalysisTemplate(x) => {
            x.spec.args.push(Argument {
                name: s.take(),
                value: Some(s.take()),
            });
            for m in &mut x.spec.metrics {
                m.name = s.take();
                m.interval = Some(s.take());
                let pod = &mut m.provider.job.spec.template.spec;
                pod.service_account_name = Some(s.take());
                for c in pod.init_containers.iter_mut().chain(&mut pod.containers) {
                    container(c, s);
                }
                m.provider.job.metadata.labels.insert(s.take(), s.take());
            }
        }
        Resource::Warehouse(x) => {
            x.spec.interval = s.take();
            for sub in &mut x.spec.subscriptions {
                match sub {
                    Subscription::Image(i) => {
                        i.repo_url = s.take();
                        i.constraint = Some(s.take());
                        i.allow_tags_regexes.push(s.take());
                        i.platform = Some(s.take());
                    }
                    Subscription::Git(g) => {
                        g.repo_url = s.take();
                        g.branch = s.take();
                        g.include_paths.push(s.take());
                    }
                }
            }
        }
        Resource::Stage(x) => {
            x.spec.vars.push(Var {
                name: s.take(),
                value: s.take(),
            });
            for step in &mut x.spec.promotion_template.spec.steps {
                step.alias = s.take();
                for u in &mut step.config.updates {
                    u.values.insert(s.take(), s.take());
                }
            }
            x.spec.verification.args.push(Var {
                name: s.take(),
                value: s.take(),
            });
            x.spec
                .verification
                .analysis_run_metadata
                .labels
                .insert(s.take(), s.take());
        }
        Resource::CronJob(x) => {
            x.spec.schedule = s.take();
            let pod = &mut x.spec.job_template.spec.template.spec;
            for c in pod.init_containers.iter_mut().chain(&mut pod.containers) {
                container(c, s);
            }
        }
    }
}

/// Strings a YAML reader could take for something else, or that need quotes or escapes.
const SPECIAL: &[&str] = &[
    "",
    " ",
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "False",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "0",
    "01",
    "-1",
    "+1",
    "1_000",
    "_1",
    "0x1F",
    "0X_1",
    "0o17",
    "0b101",
    "0b-1",
    "1e5",
    "1.5e-3",
    ".5",
    "1.",
    "1.2.3",
    ".inf",
    "-.Inf",
    ".nan",
    "nan",
    "inf",
    "+inf",
    "1:30",
    "190:20:30.15",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2001-1-1 1:2:3",
    "<<",
    "=",
    "-",
    "- ",
    "- a",
    "-a",
    "?",
    "? a",
    "?a",
    ":",
    ":a",
    "a:",
    "a: b",
    "a:b",
    "#",
    "a #b",
    "a#b",
    "'",
    "'a'",
    "\"",
    "\"a\"",
    "\\",
    "a\\b",
    "{{args.image}}",
    "[a]",
    "{a}",
    "a,b",
    "&a",
    "*a",
    "!a",
    "|",
    ">",
    "%a",
    "@a",
    "`a",
    "---",
    "--- a",
    "...",
    "...a",
    "a\nb",
    "a\n",
    "\n",
    "a\n\n",
    "  a\nb",
    "a\r\nb",
    "a\tb",
    "\t",
    "é",
    "字",
    "\u{85}",
    "\u{FEFF}",
    "\u{2028}",
    "\u{FFFE}",
    "a\u{3000}:",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{9f}",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(SPECIAL).prop_map(str::to_string),
        3 => "[a-z0-9 :#'\"\\\\\\-.?,\\[\\]{}!&*%@`|>~=_+\n\t\r\u{85}\u{FEFF}\u{2028}é字]{0,8}",
        1 => "[a-z ]{70,90}",
    ]
}

fn random_string() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..4).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_writer_writes_what_serde_saphyr_writes(
        strings in prop::collection::vec(random_string(), 1..40)
    ) {
        let mut all = resources();
        let mut s = Strings { all: &strings, next: 0 };
        for g in &mut all {
            inject(&mut g.resource, &mut s);
        }
        for g in &all {
            let expected = serde_saphyr::to_string(&g.resource).unwrap();
            match writer::to_string(&g.resource) {
                Ok(text) => prop_assert_eq!(text, expected),
                Err(WriteError::Unsupported("block scalar")) => {
                    // Only a multi-line or a long line becomes a block scalar.
                    prop_assert!(
                        strings.iter().any(|x| x.contains('\n') || x.chars().count() > 80),
                        "{expected}"
                    );
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
        prop_assert_eq!(render(&all).unwrap(), reference(&all));
    }
}

#[test]
fn the_unchanged_resources_render_as_before() {
    let all = resources();
    for g in &all {
        assert_eq!(
            writer::to_string(&g.resource).unwrap(),
            serde_saphyr::to_string(&g.resource).unwrap()
        );
    }
    assert_eq!(render(&all).unwrap(), reference(&all));
}
