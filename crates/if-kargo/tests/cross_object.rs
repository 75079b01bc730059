//! The rules between generated resources (origin Warehouses exist, template arguments are
//! declared and passed, promotion policies name generated Stages, ...) on a factory with
//! every kind of watched image, plus determinism and the fields Kargo 1.11 rejects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use if_kargo::build::ROLE_LABEL;
use if_kargo::kargo::Subscription;
use if_kargo::{Config, Generated, Resource, check, generate, render};
use if_model::factory::{FactoryFiles, SourceFile, load};

const IMAGES: &str = "\
- name: postgres
  registry: docker.io
  repository: library/postgres
  allowTags: ^16-alpine$
- name: redis
  registry: docker.io
  repository: library/redis
  allowTags: ^7\\.\\d+$
  imageSelectionStrategy: SemVer
- name: uv-service
  registry: ghcr.io
  repository: acme/uv-service
  source: {provider: github, repo: acme/uv-service, dockerfile: Dockerfile, workflow: b.yml}
- name: mesh-consumer
  registry: registry.gitlab.com
  repository: acme/mesh-consumer
  source: {provider: gitlab, repo: acme/services, dockerfile: mesh/Dockerfile}
";

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    }
}

fn files() -> FactoryFiles {
    FactoryFiles {
        images: Some(file("images.yaml", IMAGES)),
        image_states: vec![
            file(
                "state/images/mesh-consumer.yaml",
                "name: mesh-consumer\nbaseImages: [uv-service]\n",
            ),
            file(
                "state/images/uv-service.yaml",
                "name: uv-service\nrepoURL: ghcr.io/acme/uv-service\nallowTags: ^1\\.4$\nimageSelectionStrategy: Digest\nbaseImages: [python-3.12-slim]\ndependentImages: [mesh-consumer]\n",
            ),
        ],
        base_states: vec![
            file(
                "state/base-images/node-22.yaml",
                "name: node-22\nfullImage: node:22\ndependentImages: [x]\n",
            ),
            file(
                "state/base-images/python-3.12-slim.yaml",
                "name: python-3.12-slim\nfullImage: python:3.12-slim\nrepoURL: docker.io/library/python\nallowTags: ^3\\\\.12-slim$\nimageSelectionStrategy: Lexical\n",
            ),
        ],
    }
}

fn config() -> Config {
    let base = Config::default();
    Config {
        webhook_receiver: true,
        dockerfile_watch: if_kargo::config::DockerfileWatch {
            enabled: true,
            ..base.dockerfile_watch.clone()
        },
        state: if_kargo::config::StateRepo {
            repo_url: Some("https://github.com/acme/platform.git".to_string()),
            ..base.state.clone()
        },
        ..base
    }
}

fn generated(files: &FactoryFiles, config: &Config) -> Vec<Generated> {
    let (factory, _) = load(files);
    generate(&factory, "images.yaml", config).resources
}

#[test]
fn the_generated_set_is_consistent() {
    for c in [Config::default(), config()] {
        let resources = generated(&files(), &c);
        let problems = check::cross_object(&resources);
        assert!(problems.is_empty(), "{problems:#?}");
        let count = |kind: &str| {
            resources
                .iter()
                .filter(|g| g.resource.kind() == kind)
                .count()
        };
        let dockerfiles = if c.dockerfile_watch.enabled { 2 } else { 0 };
        // postgres, redis, uv-service (managed, others build on it), node-22, python.
        assert_eq!(count("Warehouse"), 5 + dockerfiles);
        assert_eq!(count("Stage"), 5 + dockerfiles);
        assert_eq!(count("Project"), 1);
        assert_eq!(count("ProjectConfig"), 1);
        assert_eq!(count("AnalysisTemplate"), 1 + usize::from(dockerfiles > 0));
    }
}

#[test]
fn the_checker_finds_broken_references() {
    let mut resources = generated(&files(), &config());
    for g in &mut resources {
        match &mut g.resource {
            Resource::Stage(s) if s.metadata.name == "image-postgres" => {
                s.spec.requested_freight[0].origin.name = "nowhere".to_string();
                s.spec.verification.args[0].name = "undeclared".to_string();
            }
            Resource::ProjectConfig(c) => {
                c.spec.promotion_policies[0].stage_selector.name = "ghost".to_string();
            }
            _ => {}
        }
    }
    let problems = check::cross_object(&resources).join("\n");
    for expected in [
        "Stage/image-postgres requests Freight from Warehouse/nowhere, which is not generated",
        "Stage/image-postgres passes `undeclared`, which AnalysisTemplate/image-factory-record-update does not declare",
        "Stage/image-postgres does not pass `image`",
        "Warehouse/image-postgres has no Stage",
        "a promotion policy names Stage/ghost, which is not generated",
    ] {
        assert!(problems.contains(expected), "{expected}\nin:\n{problems}");
    }
}

#[test]
fn the_webhook_receiver_refreshes_the_base_image_warehouses() {
    let resources = generated(&files(), &config());
    let Some(Resource::ProjectConfig(pc)) = resources
        .iter()
        .map(|g| &g.resource)
        .find(|r| r.kind() == "ProjectConfig")
    else {
        panic!("no ProjectConfig")
    };
    let selector = &pc.spec.webhook_receivers[0].generic.actions[0].target_selection_criteria[0]
        .label_selector
        .match_labels;
    let selected: Vec<&str> = resources
        .iter()
        .filter_map(|g| match &g.resource {
            Resource::Warehouse(w)
                if selector
                    .iter()
                    .all(|(k, v)| w.metadata.labels.get(k) == Some(v)) =>
            {
                Some(w.metadata.name.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(selected, ["base-node-22", "base-python-3-12-slim"]);
    assert_eq!(selector.get(ROLE_LABEL).map(String::as_str), Some("base"));
}

#[test]
fn no_field_kargo_rejects_and_no_doubled_escape() {
    let text = render(&generated(&files(), &config())).unwrap();
    for banned in ["allowTags:", "ignoreTags", "semverConstraint", "\\\\"] {
        assert!(!text.contains(banned), "`{banned}` in:\n{text}");
    }
    assert!(text.starts_with("# generated by image-factory; do not edit\n"));
    for g in generated(&files(), &config()) {
        if let Resource::Warehouse(w) = &g.resource
            && let Subscription::Image(i) = &w.spec.subscriptions[0]
        {
            let digest = i.image_selection_strategy == "Digest";
            assert_eq!(digest, i.constraint.is_some(), "{}", w.metadata.name);
            assert_eq!(
                digest,
                i.allow_tags_regexes.is_empty(),
                "{}",
                w.metadata.name
            );
        }
    }
}

#[test]
fn output_is_byte_identical_and_independent_of_input_order() {
    let a = render(&generated(&files(), &config())).unwrap();
    let b = render(&generated(&files(), &config())).unwrap();
    assert_eq!(a, b);
    let mut reversed = files();
    reversed.image_states.reverse();
    reversed.base_states.reverse();
    assert_eq!(render(&generated(&reversed, &config())).unwrap(), a);
}

#[test]
fn only_keeps_one_images_resources() {
    let (factory, _) = load(&files());
    let out = generate(&factory, "images.yaml", &config());
    let names: Vec<String> = out
        .only("uv-service")
        .iter()
        .map(|g| format!("{}/{}", g.resource.kind(), g.resource.name()))
        .collect();
    assert_eq!(
        names,
        [
            "Warehouse/dockerfile-uv-service",
            "Warehouse/image-uv-service",
            "Stage/dockerfile-uv-service",
            "Stage/image-uv-service"
        ]
    );
    assert!(out.only("nothing").is_empty());
}

/// A factory of `n` external images (two resources each), enough to span several of the
/// renderer's blocks.
fn many(n: usize) -> FactoryFiles {
    let images: String = (0..n)
        .map(|i| {
            format!(
                "- name: img-{i:05}\n  registry: docker.io\n  repository: acme/img-{i:05}\n  allowTags: ^{i}\\.0$\n"
            )
        })
        .collect();
    FactoryFiles {
        images: Some(file("images.yaml", &images)),
        ..FactoryFiles::default()
    }
}

#[test]
fn streamed_rendering_is_the_whole_rendering_in_pieces() {
    for (files, c) in [(files(), config()), (many(4500), Config::default())] {
        let (factory, _) = load(&files);
        let plan = if_kargo::monitor::plan(&factory, "images.yaml");
        let slots = if_kargo::build::layout(&plan, &c);
        let built = if_kargo::build::build(&plan, &c);
        // The slots name the built resources, in order.
        let listed: Vec<(&str, &str, Option<&str>)> = slots
            .iter()
            .map(|s| (s.kind().as_str(), s.name.as_str(), s.owner()))
            .collect();
        let made: Vec<(&str, &str, Option<&str>)> = built
            .iter()
            .map(|g| (g.resource.kind(), g.resource.name(), g.owner.as_deref()))
            .collect();
        assert_eq!(listed, made);
        let mut pieces = Vec::new();
        if_kargo::render_each(&slots, &c, |p: &str| {
            pieces.push(p.to_string());
            Ok::<(), if_kargo::RenderError>(())
        })
        .unwrap();
        assert_eq!(pieces.concat(), render(&built).unwrap());
        // The header, then one piece per block of 4096 resources.
        assert_eq!(pieces.len(), 1 + slots.len().div_ceil(4096));
    }
}

#[test]
fn a_failing_sink_stops_the_rendering() {
    let (factory, _) = load(&many(5000));
    let plan = if_kargo::monitor::plan(&factory, "images.yaml");
    let slots = if_kargo::build::layout(&plan, &Config::default());
    let mut calls = 0;
    let r = if_kargo::render_each(&slots, &Config::default(), |_: &str| {
        calls += 1;
        if calls == 2 {
            Err(if_kargo::RenderError {
                what: "sink".to_string(),
                message: "full".to_string(),
            })
        } else {
            Ok(())
        }
    });
    assert_eq!(r.unwrap_err().message, "full");
    assert_eq!(calls, 2);
}
