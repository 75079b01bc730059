//! Unit tests of the analysis: each lifecycle transition with explicit times.

use super::*;
use if_model::factory::{self, FactoryFiles, SourceFile};

use crate::files::{baseline, plan_writes};

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn file(path: &str, text: &str) -> SourceFile {
    SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    }
}

/// A factory from `images.yaml` text and state files (`state/images/..`, `state/base-images/..`).
fn factory(images: &str, states: &[(&str, &str)]) -> Factory {
    let mut files = FactoryFiles {
        images: Some(file("images.yaml", images)),
        ..FactoryFiles::default()
    };
    for (path, text) in states {
        if path.starts_with("state/images/") {
            files.image_states.push(file(path, text));
        } else {
            files.base_states.push(file(path, text));
        }
    }
    let (f, diags) = factory::load(&files);
    assert!(diags.iter().all(|d| !d.is_fatal()), "{diags:?}");
    f
}

/// Applies an analysis to the factory's files, as the CLI does, and reloads them.
fn apply(f: &Factory, images: &str, a: &Analysis) -> Factory {
    let mut states: BTreeMap<String, String> = BTreeMap::new();
    for (p, s) in &f.images {
        states.insert(p.clone(), s.to_yaml().unwrap());
    }
    for (p, s) in &f.bases {
        states.insert(p.clone(), s.to_yaml().unwrap());
    }
    for w in plan_writes(&baseline(f), a).unwrap() {
        states.insert(w.path, w.contents);
    }
    let list: Vec<(&str, &str)> = states
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    factory(images, &list)
}

fn found(refs: &[&str]) -> Discovery {
    Discovery::Found(refs.iter().map(|r| ImageRef::parse(r).unwrap()).collect())
}

fn request(now: &str, discoveries: &[(&str, Discovery)]) -> Request {
    Request {
        now: t(now),
        discoveries: discoveries
            .iter()
            .map(|(n, d)| ((*n).to_string(), d.clone()))
            .collect(),
        published: BTreeMap::new(),
        only: None,
    }
}

const WEB: &str = "- name: web\n  registry: ghcr.io\n  repository: acme/web\n  source:\n    provider: github\n    repo: acme/web\n    dockerfile: Dockerfile\n    workflow: b.yml\n";
const API: &str = "- name: api\n  registry: ghcr.io\n  repository: acme/api\n  source:\n    provider: gitlab\n    repo: acme/api\n    dockerfile: Dockerfile\n";
const PG: &str = "- name: postgres\n  registry: docker.io\n  repository: library/postgres\n  allowTags: ^16-alpine$\n";

#[test]
fn new_managed_image_creates_its_base_images() {
    let f = factory(WEB, &[]);
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-04T10:00:00Z",
            &[("web", found(&["node:22-bookworm-slim", "nginx:1.27"]))],
        ),
    );
    let web = &a.images["web"];
    assert_eq!(web.base_images, ["node-22-bookworm-slim", "nginx-1.27"]);
    assert_eq!(web.discovery_status.as_deref(), Some("success"));
    assert_eq!(web.enrolled_at, Some(t("2024-12-04T10:00:00Z")));
    assert_eq!(
        web.watch,
        Watch::default(),
        "managed images are built, not watched"
    );
    let node = &a.bases["docker.io/library/node:22-bookworm-slim"];
    assert_eq!(node.name, "node-22-bookworm-slim");
    assert_eq!(node.dependent_images, ["web"]);
    assert_eq!(node.watch.allow_tags.as_deref(), Some("^22-bookworm-slim$"));
    assert_eq!(node.first_discovered, Some(t("2024-12-04T10:00:00Z")));
    let writes = plan_writes(&baseline(&f), &a).unwrap();
    let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "state/base-images/nginx-1.27.yaml",
            "state/base-images/node-22-bookworm-slim.yaml",
            "state/images/web.yaml"
        ]
    );
}

#[test]
fn a_second_identical_run_changes_nothing() {
    let f = factory(WEB, &[]);
    let req = request("2024-12-04T10:00:00Z", &[("web", found(&["node:22"]))]);
    let f2 = apply(&f, WEB, &analyze(f.clone(), &req));
    let later = request("2024-12-09T10:00:00Z", &[("web", found(&["node:22"]))]);
    let a2 = analyze(f2.clone(), &later);
    assert!(
        plan_writes(&baseline(&f2), &a2).unwrap().is_empty(),
        "{:?}",
        a2.changes
    );
    assert!(a2.changes.is_empty(), "{:?}", a2.changes);
}

#[test]
fn new_external_image_is_watched_from_images_yaml() {
    let f = factory(PG, &[]);
    let a = analyze(f.clone(), &request("2024-12-04T10:00:00Z", &[]));
    let pg = &a.images["postgres"];
    assert_eq!(pg.discovery_status.as_deref(), Some("external"));
    assert_eq!(
        pg.watch.repo_url.as_deref(),
        Some("docker.io/library/postgres")
    );
    assert_eq!(pg.watch.allow_tags.as_deref(), Some("^16-alpine$"));
    assert!(pg.base_images.is_empty());
}

#[test]
fn external_to_managed_and_back() {
    let f = factory(PG, &[]);
    let f = apply(
        &f,
        PG,
        &analyze(f.clone(), &request("2024-12-04T10:00:00Z", &[])),
    );
    let managed = "- name: postgres\n  registry: docker.io\n  repository: library/postgres\n  source:\n    provider: github\n    repo: acme/pg\n    dockerfile: Dockerfile\n    workflow: b.yml\n";
    let f2 = factory(managed, &state_files(&f));
    let a = analyze(
        f2.clone(),
        &request(
            "2024-12-05T10:00:00Z",
            &[("postgres", found(&["debian:12"]))],
        ),
    );
    let pg = &a.images["postgres"];
    assert_eq!(
        pg.watch,
        Watch::default(),
        "external -> managed removes the watch config"
    );
    assert_eq!(pg.enrolled_at, Some(t("2024-12-04T10:00:00Z")));
    let f3 = apply(&f2, managed, &a);
    let back = factory(PG, &state_files(&f3));
    let a = analyze(back.clone(), &request("2024-12-06T10:00:00Z", &[]));
    assert_eq!(
        a.images["postgres"].watch.allow_tags.as_deref(),
        Some("^16-alpine$"),
        "managed -> external adds it back"
    );
}

#[test]
fn internal_chain_links_to_the_enrolled_entry() {
    let images = format!("{WEB}{API}");
    let f = factory(&images, &[]);
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-04T10:00:00Z",
            &[
                ("web", found(&["node:22"])),
                (
                    "api",
                    found(&["ghcr.io/acme/web:2.1", "ghcr.io/acme/web:2.1"]),
                ),
            ],
        ),
    );
    assert_eq!(a.images["api"].base_images, ["web"]);
    assert_eq!(a.images["web"].dependent_images, ["api"]);
    let w = &a.images["web"].watch;
    assert_eq!(w.repo_url.as_deref(), Some("ghcr.io/acme/web"));
    assert_eq!(w.allow_tags.as_deref(), Some("^2\\.1$"));
    assert!(
        !a.bases.keys().any(|k| k.contains("acme/web")),
        "not duplicated as an external base"
    );
}

#[test]
fn base_image_becomes_managed() {
    let f = factory(WEB, &[]);
    let f = apply(
        &f,
        WEB,
        &analyze(
            f.clone(),
            &request(
                "2024-12-04T10:00:00Z",
                &[("web", found(&["ghcr.io/acme/base:1"]))],
            ),
        ),
    );
    assert!(f.bases.iter().any(|(_, b)| b.name == "ghcr.io-acme-base-1"));
    let images = format!(
        "{WEB}- name: base\n  registry: ghcr.io\n  repository: acme/base\n  source:\n    provider: github\n    repo: acme/base\n    dockerfile: Dockerfile\n    workflow: b.yml\n"
    );
    let f = factory(&images, &state_files(&f));
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-05T10:00:00Z",
            &[
                ("web", found(&["ghcr.io/acme/base:1"])),
                ("base", found(&["alpine:3.20"])),
            ],
        ),
    );
    assert_eq!(a.images["web"].base_images, ["base"]);
    let old = &a.bases["ghcr.io/acme/base:1"];
    assert_eq!(old.status.as_deref(), Some(ARCHIVED));
    assert_eq!(
        old.watch,
        Watch::default(),
        "the base-image warehouse goes away"
    );
    assert_eq!(
        a.images["base"].watch.allow_tags.as_deref(),
        Some("^1$"),
        "the managed image is watched instead"
    );
}

fn state_files(f: &Factory) -> Vec<(&'static str, &'static str)> {
    f.images
        .iter()
        .map(|(p, s)| (p.clone(), s.to_yaml().unwrap()))
        .chain(
            f.bases
                .iter()
                .map(|(p, s)| (p.clone(), s.to_yaml().unwrap())),
        )
        .map(|(p, t)| {
            (
                &*Box::leak(p.into_boxed_str()),
                &*Box::leak(t.into_boxed_str()),
            )
        })
        .collect()
}

#[test]
fn removed_image_is_archived_and_its_bases_too() {
    let f = factory(WEB, &[]);
    let f = apply(
        &f,
        WEB,
        &analyze(
            f.clone(),
            &request("2024-12-04T10:00:00Z", &[("web", found(&["node:22"]))]),
        ),
    );
    let f = factory("[]\n", &state_files(&f));
    let a = analyze(f.clone(), &request("2024-12-05T10:00:00Z", &[]));
    assert_eq!(a.images["web"].status.as_deref(), Some(ARCHIVED));
    assert_eq!(
        a.images["web"].enrolled_at,
        Some(t("2024-12-04T10:00:00Z")),
        "history kept"
    );
    let node = &a.bases["docker.io/library/node:22"];
    assert_eq!(node.status.as_deref(), Some(ARCHIVED));
    assert!(node.dependent_images.is_empty());
    // Re-enrolled: restored.
    let f = apply(&f, "[]\n", &a);
    let f = factory(WEB, &state_files(&f));
    let a = analyze(
        f.clone(),
        &request("2024-12-06T10:00:00Z", &[("web", found(&["node:22"]))]),
    );
    assert_eq!(a.images["web"].status, None);
    assert_eq!(a.bases["docker.io/library/node:22"].status, None);
    assert_eq!(
        a.bases["docker.io/library/node:22"].first_discovered,
        Some(t("2024-12-04T10:00:00Z"))
    );
}

#[test]
fn removed_image_with_dependents_stays_watched_as_a_base() {
    let images = format!("{WEB}{API}");
    let f = factory(&images, &[]);
    let f = apply(
        &f,
        &images,
        &analyze(
            f.clone(),
            &request(
                "2024-12-04T10:00:00Z",
                &[
                    ("web", found(&["node:22"])),
                    ("api", found(&["ghcr.io/acme/web:2"])),
                ],
            ),
        ),
    );
    let f = factory(API, &state_files(&f));
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-05T10:00:00Z",
            &[("api", found(&["ghcr.io/acme/web:2"]))],
        ),
    );
    assert_eq!(a.images["web"].status.as_deref(), Some(ARCHIVED));
    let web_base = &a.bases["ghcr.io/acme/web:2"];
    assert_eq!(web_base.dependent_images, ["api"]);
    assert_eq!(web_base.watch.allow_tags.as_deref(), Some("^2$"));
}

#[test]
fn failed_discovery_keeps_trusted_bases_and_says_why() {
    let f = factory(WEB, &[]);
    let f = apply(
        &f,
        WEB,
        &analyze(
            f.clone(),
            &request("2024-12-04T10:00:00Z", &[("web", found(&["node:22"]))]),
        ),
    );
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-05T10:00:00Z",
            &[("web", Discovery::Failed("Dockerfile not found".into()))],
        ),
    );
    let web = &a.images["web"];
    assert_eq!(web.discovery_status.as_deref(), Some("failed"));
    assert_eq!(web.discovery_error.as_deref(), Some("Dockerfile not found"));
    assert_eq!(web.base_images, ["node-22"]);
    assert_eq!(
        a.bases["docker.io/library/node:22"].status, None,
        "still watched"
    );
}

#[test]
fn untrusted_bases_of_a_never_discovered_image_are_dropped_on_failure() {
    let state = "name: web\ndiscoveryStatus: pending\nbaseImages:\n  - python-3.12-slim\n";
    let base = "name: python-3.12-slim\nfullImage: python:3.12-slim\ndependentImages:\n  - web\n";
    let f = factory(
        WEB,
        &[
            ("state/images/web.yaml", state),
            ("state/base-images/python-3.12-slim.yaml", base),
        ],
    );
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-05T10:00:00Z",
            &[("web", Discovery::Failed("gone".into()))],
        ),
    );
    assert!(a.images["web"].base_images.is_empty());
    assert_eq!(
        a.bases["docker.io/library/python:3.12-slim"]
            .status
            .as_deref(),
        Some(ARCHIVED)
    );
}

#[test]
fn pinned_bases_share_the_identity_and_record_the_pin() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let f = factory(WEB, &[]);
    let a = analyze(
        f.clone(),
        &request(
            "2024-12-04T10:00:00Z",
            &[("web", found(&[&format!("node:22@{digest}")]))],
        ),
    );
    let web = &a.images["web"];
    assert_eq!(web.base_images, ["node-22"]);
    assert_eq!(web.base_image_pins["node-22"].as_str(), digest);
    let node = &a.bases["docker.io/library/node:22"];
    assert_eq!(node.full_image.as_deref(), Some("node:22"));
}

#[test]
fn slug_collisions_get_a_hash_suffix_and_existing_names_stay() {
    // An existing file already named `node-22` for a different reference.
    let other = "name: node-22\nfullImage: ghcr.io/x/other:1\n";
    let f = factory(WEB, &[("state/base-images/node-22.yaml", other)]);
    let a = analyze(
        f.clone(),
        &request("2024-12-04T10:00:00Z", &[("web", found(&["node:22"]))]),
    );
    let node = &a.bases["docker.io/library/node:22"];
    assert!(
        node.name.starts_with("node-22-") && node.name.len() == "node-22-".len() + 8,
        "{}",
        node.name
    );
    assert_eq!(a.bases["ghcr.io/x/other:1"].name, "node-22");
}

#[test]
fn published_version_is_recorded() {
    let f = factory(WEB, &[]);
    let mut req = request("2024-12-04T10:00:00Z", &[("web", found(&["node:22"]))]);
    let digest = Digest::parse(&format!("sha256:{}", "1".repeat(64))).unwrap();
    req.published.insert(
        "web".into(),
        Published {
            version: Some("1.2.3".into()),
            digest: Some(digest.clone()),
        },
    );
    let a = analyze(f.clone(), &req);
    assert_eq!(a.images["web"].current_version.as_deref(), Some("1.2.3"));
    assert_eq!(a.images["web"].current_digest, Some(digest));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const POOL: [&str; 8] = [
        "node:22",
        "node:22-bookworm-slim",
        "python:3.12-slim",
        "ghcr.io/acme/img0:1",
        "ghcr.io/acme/img1:2",
        "ghcr.io/acme/img2:latest",
        "gcr.io/distroless/static",
        "alpine:3.20",
    ];

    fn images_yaml(n: usize) -> String {
        (0..n)
            .map(|i| format!("- name: img{i}\n  registry: ghcr.io\n  repository: acme/img{i}\n  source:\n    provider: github\n    repo: acme/img{i}\n    dockerfile: Dockerfile\n    workflow: b.yml\n"))
            .collect()
    }

    fn discoveries(picks: &[Vec<usize>], failed: &[bool]) -> Vec<(String, Discovery)> {
        picks
            .iter()
            .zip(failed)
            .enumerate()
            .map(|(i, (p, f))| {
                let d = if *f {
                    Discovery::Failed("unreadable".into())
                } else {
                    Discovery::Found(
                        p.iter()
                            .map(|k| ImageRef::parse(POOL[*k]).unwrap())
                            .collect(),
                    )
                };
                (format!("img{i}"), d)
            })
            .collect()
    }

    fn req(now: &str, d: &[(String, Discovery)]) -> Request {
        Request {
            now: t(now),
            discoveries: d.iter().cloned().collect(),
            published: BTreeMap::new(),
            only: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Analysing twice equals analysing once, and no runtime field present before is
        /// dropped by a later run with different discoveries.
        #[test]
        fn merge_is_idempotent_and_keeps_runtime_fields(
            first in proptest::collection::vec(proptest::collection::vec(0usize..8, 0..4), 3),
            second in proptest::collection::vec(proptest::collection::vec(0usize..8, 0..4), 3),
            failed in proptest::collection::vec(any::<bool>(), 3),
            enrolled in 1usize..=3,
        ) {
            let images = images_yaml(3);
            let f0 = factory(&images, &[]);
            let d1 = discoveries(&first, &[false, false, false]);
            let f1 = apply(&f0, &images, &analyze(f0.clone(), &req("2024-12-04T10:00:00Z", &d1)));
            let again = analyze(f1.clone(), &req("2024-12-05T10:00:00Z", &d1));
            prop_assert!(plan_writes(&baseline(&f1), &again).unwrap().is_empty(), "{:?}", again.changes);

            let fewer = images_yaml(enrolled);
            let f1b = factory(&fewer, &state_files(&f1));
            let d2: Vec<_> = discoveries(&second, &failed).into_iter().take(enrolled).collect();
            let a2 = analyze(f1b.clone(), &req("2024-12-06T10:00:00Z", &d2));
            for (_, old) in &f1.images {
                let new = &a2.images[&old.name];
                prop_assert_eq!(new.enrolled_at, old.enrolled_at);
                prop_assert_eq!(&new.rebuild_history, &old.rebuild_history);
                prop_assert_eq!(&new.current_digest, &old.current_digest);
            }
            for (_, old) in &f1.bases {
                let new = &a2.bases[&old.image_ref().unwrap().identity()];
                prop_assert_eq!(new.first_discovered, old.first_discovered);
                prop_assert_eq!(&new.update_history, &old.update_history);
                prop_assert_eq!(&new.name, &old.name);
            }
            // Links agree in both directions.
            for (name, s) in &a2.images {
                for b in &s.base_images {
                    let base_deps = a2.bases.values().find(|x| &x.name == b).map(|x| &x.dependent_images)
                        .or_else(|| a2.images.get(b).map(|x| &x.dependent_images));
                    if s.status.is_none() {
                        prop_assert!(base_deps.is_some_and(|d| d.contains(name)), "{name} -> {b}");
                    }
                }
            }
            let f2 = apply(&f1b, &fewer, &a2);
            let a3 = analyze(f2.clone(), &req("2024-12-07T10:00:00Z", &d2));
            prop_assert!(plan_writes(&baseline(&f2), &a3).unwrap().is_empty(), "{:?}", a3.changes);
        }
    }
}
