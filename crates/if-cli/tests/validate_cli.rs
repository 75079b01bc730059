//! `image-factory validate` end to end: the example factory, bad enrollments, the eda-mesh
//! fixture of the original implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, copy_tree, run_from, run_in, shared, stderr, stdout, workspace};

#[test]
fn example_factory_is_clean() {
    let out = run_from(workspace(), &["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("no problems"), "{}", stderr(&out));
}

#[test]
fn root_comes_from_flag_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), "- name: X\n").unwrap();
    let out = bin()
        .env("IMAGE_FACTORY_ROOT", dir.path())
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("images.yaml:1:9: error: image name `X`"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn bad_enrollment_lists_every_problem_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let src = "\
images:
  - name: web
    registry: ghcr.io
    repository: acme/web
    source:
      provider: github
      repo: acme/web
      dockerfile: ../Dockerfile
    rebuildDelay: 7days
  - name: web
    registry: docker.io
    repository: library/nginx
    allowTags: ^1\\\\.25$
    updates: []
";
    std::fs::write(dir.path().join("images.yaml"), src).unwrap();
    let out = run_in(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let root = dir.path().display().to_string();
    let positions: Vec<&str> = text
        .lines()
        .map(|l| {
            l.strip_prefix(&root)
                .unwrap()
                .split(": error:")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        positions,
        [
            "/images.yaml:6:7",   // github without workflow
            "/images.yaml:8:19",  // dockerfile with ..
            "/images.yaml:9:19",  // bad duration
            "/images.yaml:13:16", // doubled escape
            "/images.yaml:14:5",  // unknown key updates
        ],
        "{text}"
    );
    // The duplicate name is not reported while the second entry has problems of its own.
    assert!(text.contains("unknown key `updates`"));
}

#[test]
fn json_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), "- name: a\n  registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n  autoRebuild: maybe\n").unwrap();
    let out = run_in(dir.path(), &["--format", "json", "validate"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"][0]["line"], 5);
    assert_eq!(v["problems"][0]["column"], 16);
    assert_eq!(v["problems"][0]["severity"], "error");
}

#[test]
fn unreadable_factory_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path().join("nope"), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    // A root without images.yaml: said so, with the way to point at a factory.
    assert!(
        stderr(&out).contains("images.yaml does not exist") && stderr(&out).contains("--root"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn eda_mesh_fixture_reports_exactly_its_known_problems() {
    let Some(shared) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image-factory");
    copy_tree(
        &shared.join("fixtures/eda-mesh/image-factory"),
        &root,
        &|p| p.to_string_lossy().ends_with(".example.yaml"),
    );
    let out = run_in(&root, &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let prefix = format!("{}/", root.display());
    let found: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            let l = l.strip_prefix(&prefix).unwrap();
            let (at, msg) = l.split_once(": error: ").unwrap();
            let kind = if msg.contains("doubled escape") {
                "doubled-escape"
            } else if msg.contains("is not a digest") {
                "not-a-digest"
            } else if msg.contains("not an RFC 3339 time") {
                "not-a-time"
            } else if msg.contains("unknown key `updates`") {
                "unknown-key-updates"
            } else {
                "OTHER"
            };
            format!("{at} {kind}")
        })
        .collect();
    assert_eq!(
        found,
        [
            "images.yaml:79:3 unknown-key-updates",
            "state/images/backstage.yaml:28:16 not-a-digest",
            "state/images/metrics-service.yaml:32:16 not-a-digest",
            "state/images/uv.yaml:29:16 not-a-digest",
            "state/base-images/mcr.microsoft.com-playwright-v1.40.0-focal.yaml:14:12 doubled-escape",
            "state/base-images/node-22-bookworm-slim.yaml:23:16 not-a-digest",
            "state/base-images/node-22-bookworm-slim.yaml:24:14 not-a-time",
            "state/base-images/node-22-bookworm-slim.yaml:25:17 not-a-digest",
            "state/base-images/python-3.12-slim.yaml:14:12 doubled-escape",
        ],
        "{}",
        stdout(&out)
    );
}

#[test]
fn eda_mesh_samples_claim_the_same_images_twice() {
    let Some(shared) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image-factory");
    copy_tree(
        &shared.join("fixtures/eda-mesh/image-factory"),
        &root,
        &|_| false,
    );
    let out = run_in(&root, &["validate"]);
    let text = stdout(&out);
    assert!(
        text.contains("image `backstage` is claimed by two state files:")
            && text.contains("state/images/backstage.example.yaml and ")
            && text.contains("state/images/backstage.yaml; keep one"),
        "{text}"
    );
    assert!(
        text.contains(
            "base image `docker.io/library/node:22-bookworm-slim` is claimed by two state files"
        ),
        "{text}"
    );
}
