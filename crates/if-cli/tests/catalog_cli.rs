//! `image-factory catalog` end to end on the repository's example factory (copied to a
//! temporary directory): YAML and JSON output, Backstage's naming rules, `dependsOn` targets,
//! `--out` (byte-identical on a second run), bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{example_factory as example, run_in, stderr, stdout};
use serde_json::Value;

/// Backstage's entity name rule, `^[a-z0-9A-Z]+([-_.][a-z0-9A-Z]+)*$`, at most 63 characters.
fn backstage_name(s: &str) -> bool {
    let words: Vec<&str> = s.split(['-', '_', '.']).collect();
    s.len() <= 63
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Backstage's annotation key rule: `prefix/name`, prefix a DNS subdomain, name as above.
fn backstage_annotation_key(k: &str) -> bool {
    let Some((prefix, name)) = k.split_once('/') else {
        return false;
    };
    prefix.split('.').all(|l| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    }) && backstage_name(name)
}

/// The enrolled image names and the non-archived base-image state names of a root.
fn expected_images(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let files = if_cli::load::read_factory(root).unwrap();
    let (f, _) = if_model::factory::load(&files);
    let images: BTreeSet<String> = f
        .enrollment
        .images()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let bases = f
        .bases
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b.status.as_deref() != Some("archived") && !images.contains(&b.name))
        .map(|b| b.name.clone())
        .collect();
    (images, bases)
}

fn annotation<'a>(e: &'a Value, key: &str) -> Option<&'a str> {
    e["metadata"]["annotations"][format!("image-factory.io/{key}")].as_str()
}

#[test]
fn yaml_documents_parse_and_match_the_json() {
    let (_dir, root) = example();
    let out = run_in(&root, &["catalog"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let docs: Vec<&str> = text.split("\n---\n").skip(1).collect();
    let json_out = run_in(&root, &["--format", "json", "catalog"]);
    assert!(json_out.status.success(), "{}", stderr(&json_out));
    let json: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    let entities = json.as_array().unwrap();
    assert_eq!(docs.len(), entities.len());
    for (doc, entity) in docs.iter().zip(entities) {
        let node = if_model::yaml::parse(doc).unwrap_or_else(|e| panic!("{e:?}\n{doc}"));
        assert_eq!(serde_json::to_value(&node).unwrap(), *entity, "{doc}");
    }
}

#[test]
fn one_resource_per_image_with_valid_names_and_links() {
    let (_dir, root) = example();
    let out = run_in(
        &root,
        &["--format", "json", "catalog", "--system", "image-factory"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entities = json.as_array().unwrap();

    let (images, bases) = expected_images(&root);
    assert!(images.contains("mesh-consumer") && images.contains("uv-service"));
    let of_kind = |kind: &str| -> BTreeSet<String> {
        entities
            .iter()
            .filter(|e| {
                let k = annotation(e, "kind").unwrap();
                if kind == "base" {
                    k == "base"
                } else {
                    k != "base"
                }
            })
            .map(|e| annotation(e, "image-name").unwrap().to_string())
            .collect()
    };
    assert_eq!(of_kind("image"), images);
    assert_eq!(of_kind("base"), bases);
    assert_eq!(entities.len(), images.len() + bases.len());

    let mut names = Vec::new();
    for e in entities {
        assert_eq!(e["apiVersion"], "backstage.io/v1alpha1");
        assert_eq!(e["kind"], "Resource");
        assert_eq!(e["spec"]["type"], "container-image");
        assert_eq!(e["spec"]["owner"], "group:default/platform");
        assert_eq!(e["spec"]["system"], "image-factory");
        let name = e["metadata"]["name"].as_str().unwrap();
        assert!(backstage_name(name), "invalid entity name `{name}`");
        assert!(!e["metadata"]["title"].as_str().unwrap().is_empty());
        assert!(!e["metadata"]["description"].as_str().unwrap().is_empty());
        for (k, v) in e["metadata"]["annotations"].as_object().unwrap() {
            assert!(backstage_annotation_key(k), "invalid annotation key `{k}`");
            assert!(v.is_string(), "{k}: {v}");
        }
        names.push(name.to_string());
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entities are sorted by name");
    let set: BTreeSet<&String> = names.iter().collect();
    assert_eq!(set.len(), names.len(), "names are distinct");

    let refs: BTreeSet<String> = names
        .iter()
        .map(|n| format!("resource:default/{n}"))
        .collect();
    for e in entities {
        for d in e["spec"]["dependsOn"].as_array().into_iter().flatten() {
            let d = d.as_str().unwrap();
            assert!(
                refs.contains(d),
                "{}: dependsOn `{d}` is no entity",
                e["metadata"]["name"]
            );
        }
    }
    let by_image = |n: &str| {
        entities
            .iter()
            .find(|e| {
                annotation(e, "image-name") == Some(n) && annotation(e, "kind") != Some("base")
            })
            .unwrap()
    };
    let mesh = by_image("mesh-consumer");
    let uv_name = by_image("uv-service")["metadata"]["name"].as_str().unwrap();
    let depends: Vec<&str> = mesh["spec"]["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        depends.contains(&format!("resource:default/{uv_name}").as_str()),
        "{depends:?}"
    );
    assert_eq!(
        mesh["metadata"]["links"][0]["url"],
        "https://gitlab.com/acme/platform/internal-services"
    );
    let backstage = by_image("backstage");
    assert_eq!(
        backstage["metadata"]["links"][0]["url"],
        "https://github.com/acme/backstage"
    );
    let tags: Vec<&str> = backstage["metadata"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["managed", "github"]);
    let postgres = by_image("postgres");
    assert_eq!(postgres["metadata"]["tags"][0], "external");
    assert!(postgres["metadata"]["links"].is_null());
}

#[test]
fn out_writes_the_file_and_a_second_run_is_identical() {
    let (dir, root) = example();
    let file = dir.path().join("backstage/catalog-info.yaml");
    let arg = file.display().to_string();
    let first = run_in(&root, &["catalog", "--out", &arg]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "");
    assert!(stderr(&first).contains("wrote "), "{}", stderr(&first));
    let written = std::fs::read(&file).unwrap();
    let printed = run_in(&root, &["catalog"]);
    assert_eq!(
        String::from_utf8(written.clone()).unwrap(),
        stdout(&printed)
    );
    let second = run_in(&root, &["catalog", "--out", &arg]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(std::fs::read(&file).unwrap(), written);
    let leftovers: Vec<_> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("factory");
    std::fs::create_dir_all(&root).unwrap();
    let file = dir.path().join("catalog-info.yaml");
    let arg = file.display().to_string();

    // No images.yaml.
    let out = run_in(&root, &["catalog", "--out", &arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!file.exists());

    // An images.yaml that is not a factory.
    std::fs::write(root.join("images.yaml"), "images:\n  - name: Bad Name\n").unwrap();
    let out = run_in(&root, &["catalog", "--out", &arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!file.exists());

    // A bad owner.
    let (_dir, example_root) = example();
    let out = run_in(
        &example_root,
        &["catalog", "--owner", "not a ref", "--out", &arg],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("entity reference"),
        "{}",
        stderr(&out)
    );
    assert!(!file.exists());
}
