//! Tests of the catalog: names, keys and references, and the entities of a small factory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn names(keys: &[(Source, &str)]) -> BTreeMap<(Source, String), String> {
    let keys: Vec<(Source, String)> = keys.iter().map(|(s, n)| (*s, (*n).to_string())).collect();
    entity_names(&keys)
}

fn name_of(map: &BTreeMap<(Source, String), String>, s: Source, n: &str) -> String {
    map.get(&(s, n.to_string())).cloned().unwrap()
}

#[test]
fn plain_names_are_kept() {
    let m = names(&[
        (Source::Managed, "uv-service"),
        (Source::Base, "python-3.12-slim"),
    ]);
    assert_eq!(name_of(&m, Source::Managed, "uv-service"), "uv-service");
    assert_eq!(
        name_of(&m, Source::Base, "python-3.12-slim"),
        "python-3.12-slim"
    );
}

#[test]
fn odd_characters_are_replaced_and_runs_collapsed() {
    assert_eq!(sanitize_name("My Image!!name"), "my-image-name");
    assert_eq!(sanitize_name("--a..b__c--"), "a.b_c");
    assert_eq!(sanitize_name("a-.b"), "a-b");
    assert_eq!(
        sanitize_name("gcr.io/distroless:latest"),
        "gcr.io-distroless-latest"
    );
    assert_eq!(sanitize_name("ÄÖÜ"), "");
    for raw in ["My Image!!name", "--a..b__c--", "x", "a-.b", "ÄÖÜ", "..."] {
        let m = names(&[(Source::External, raw)]);
        let n = name_of(&m, Source::External, raw);
        assert!(is_valid_entity_name(&n), "{raw} -> {n}");
    }
}

#[test]
fn long_names_are_cut_with_a_hash() {
    let long = format!("{}-image", "a".repeat(70));
    let m = names(&[(Source::Managed, &long), (Source::Base, &long)]);
    let image = name_of(&m, Source::Managed, &long);
    let base = name_of(&m, Source::Base, &long);
    assert_eq!(image.len(), MAX_NAME_LEN);
    assert!(is_valid_entity_name(&image), "{image}");
    assert!(is_valid_entity_name(&base), "{base}");
    assert_ne!(image, base);
    // A name of exactly 63 characters stays as it is.
    let exact = "b".repeat(63);
    let m = names(&[(Source::Managed, &exact)]);
    assert_eq!(name_of(&m, Source::Managed, &exact), exact);
    // Cutting at a separator does not leave it at the end.
    let dotted = format!("{}.{}", "c".repeat(53), "d".repeat(20));
    let m = names(&[(Source::Base, &dotted)]);
    let n = name_of(&m, Source::Base, &dotted);
    assert!(is_valid_entity_name(&n), "{n}");
}

#[test]
fn collisions_get_hashes_whatever_the_order() {
    let a = names(&[
        (Source::Managed, "node"),
        (Source::Base, "node"),
        (Source::External, "My_Image"),
        (Source::External, "my_image"),
        (Source::Managed, "other"),
    ]);
    let b = names(&[
        (Source::Managed, "other"),
        (Source::External, "my_image"),
        (Source::Base, "node"),
        (Source::External, "My_Image"),
        (Source::Managed, "node"),
    ]);
    assert_eq!(a, b);
    let all: BTreeSet<&String> = a.values().collect();
    assert_eq!(all.len(), a.len(), "{a:?}");
    assert_eq!(name_of(&a, Source::Managed, "other"), "other");
    let node = name_of(&a, Source::Managed, "node");
    assert!(
        node.starts_with("node-") && node.len() == 4 + 1 + HASH_LEN,
        "{node}"
    );
    assert!(a.values().all(|n| is_valid_entity_name(n)));
}

#[test]
fn a_hashed_name_never_takes_a_plain_one() {
    // Find what `node` (image) and `node` (base) hash to, then enroll an image that is
    // already called that: every name must still be distinct.
    let first = names(&[(Source::Managed, "node"), (Source::Base, "node")]);
    let taken = name_of(&first, Source::Managed, "node");
    let m = names(&[
        (Source::Managed, "node"),
        (Source::Base, "node"),
        (Source::External, &taken),
    ]);
    let all: BTreeSet<&String> = m.values().collect();
    assert_eq!(all.len(), 3, "{m:?}");
    assert!(m.values().all(|n| is_valid_entity_name(n)));
}

#[test]
fn entity_name_rules() {
    for ok in ["a", "A1", "a-b_c.d", "uv-service", &"x".repeat(63)] {
        assert!(is_valid_entity_name(ok), "{ok}");
    }
    for bad in ["", "-a", "a-", "a--b", "a/b", "a b", "é", &"x".repeat(64)] {
        assert!(!is_valid_entity_name(bad), "{bad}");
    }
}

#[test]
fn entity_names_follow_backstages_regex() {
    let re = regex::Regex::new(r"^[a-z0-9A-Z]+([-_.][a-z0-9A-Z]+)*$").unwrap();
    let raws = [
        "uv-service",
        "My Image!!name",
        "--a..b__c--",
        "gcr.io/distroless:latest",
        "ÄÖÜ",
        "...",
        "a_-_b",
    ];
    let long = format!("{}._{}", "q".repeat(61), "r".repeat(9));
    let mut keys: Vec<(Source, String)> = raws
        .iter()
        .map(|r| (Source::External, (*r).to_string()))
        .collect();
    keys.push((Source::Base, long));
    for (key, name) in entity_names(&keys) {
        assert!(
            re.is_match(&name) && name.len() <= MAX_NAME_LEN,
            "{key:?} -> {name}"
        );
        assert!(is_valid_entity_name(&name));
    }
}

#[test]
fn annotation_keys() {
    for key in [
        "current-digest",
        "last-built",
        "rebuild-status",
        "rebuild-scheduled-for",
        "check-error",
        "discovery-status",
    ] {
        assert!(is_valid_annotation_key(&annotation(key)), "{key}");
    }
    assert!(is_valid_annotation_key("backstage.io/source-location"));
    for bad in [
        "image-factory.io/",
        "/name",
        "Image-Factory.io/x",
        "image-factory.io/a b",
        "image-factory..io/x",
        "a/b/c",
    ] {
        assert!(!is_valid_annotation_key(bad), "{bad}");
    }
    let long = format!("{ANNOTATION_PREFIX}/{}", "x".repeat(64));
    assert!(!is_valid_annotation_key(&long));
}

#[test]
fn entity_refs() {
    assert!(is_valid_entity_ref("group:default/platform"));
    assert!(is_valid_entity_ref("user:jane.doe"));
    assert!(is_valid_entity_ref("platform"));
    assert!(!is_valid_entity_ref("group:default/"));
    assert!(!is_valid_entity_ref(""));
    assert!(!is_valid_entity_ref("group:a b"));
    assert_eq!(
        CatalogOptions::new("group:default/platform", Some("image-factory")),
        Ok(CatalogOptions {
            owner: "group:default/platform".to_string(),
            system: Some("image-factory".to_string()),
        })
    );
    assert!(CatalogOptions::new("bad owner", None).is_err());
}

const IMAGES: &str = "images:
  - name: app
    registry: ghcr.io
    repository: acme/app
    source:
      provider: gitlab
      repo: acme/group/app
      dockerfile: Dockerfile
      pipeline: .gitlab-ci.yml
  - name: ext
    registry: docker.io
    repository: library/redis
    allowTags: ^7$
";

fn factory() -> Factory {
    use if_model::factory::{FactoryFiles, SourceFile};
    let file = |path: &str, text: &str| SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    };
    let files = FactoryFiles {
        images: Some(file("images.yaml", IMAGES)),
        image_states: vec![file(
            "state/images/app.yaml",
            "name: app\nbaseImages:\n  - node-22\n  - ext\n  - gone\nlastBuilt: \"2026-01-02T03:04:05Z\"\nrebuildState:\n  status: pending\n  rebuildScheduledFor: \"2026-01-09T00:00:00Z\"\n",
        )],
        base_states: vec![
            file(
                "state/base-images/node-22.yaml",
                "name: node-22\nfullImage: node:22\ndependentImages:\n  - app\n",
            ),
            file(
                "state/base-images/old.yaml",
                "name: old\nfullImage: node:18\nstatus: archived\n",
            ),
        ],
    };
    let (f, diags) = if_model::factory::load(&files);
    assert!(diags.iter().all(|d| !d.is_fatal()), "{diags:?}");
    f
}

#[test]
fn entities_of_a_small_factory() {
    let es = entities(&factory(), &CatalogOptions::default());
    let names: Vec<&str> = es.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["app", "ext", "node-22"]);
    let app = &es[0];
    assert_eq!(
        app.depends_on,
        ["resource:default/ext", "resource:default/node-22"]
    );
    assert_eq!(app.tags, ["managed", "gitlab"]);
    assert_eq!(app.links[0].url, "https://gitlab.com/acme/group/app");
    assert_eq!(
        app.annotations
            .get("image-factory.io/rebuild-status")
            .map(String::as_str),
        Some("pending")
    );
    assert_eq!(
        app.annotations
            .get("image-factory.io/last-built")
            .map(String::as_str),
        Some("2026-01-02T03:04:05Z")
    );
    assert!(
        es.iter()
            .flat_map(|e| e.annotations.keys())
            .all(|k| is_valid_annotation_key(k))
    );
    let text = render(&es).unwrap();
    assert_eq!(text.lines().filter(|l| *l == "---").count(), 3, "{text}");
    assert_eq!(render(&es).unwrap(), text);
    for doc in text.split("---\n").skip(1) {
        let node = yaml::parse(doc).unwrap();
        assert_eq!(node.get("kind").map(|k| k.type_name()), Some("a string"));
    }
}
