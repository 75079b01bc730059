//! `analyze`, `status` and `graph` end to end: the example factory and the eda-mesh fixture
//! of the original implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{copy_tree, run_in, shared, stderr, stdout, workspace};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Copies the repository's example factory and its Dockerfiles into a temporary directory.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // Without its committed state: the tests start from a fresh enrollment.
    copy_tree(
        &workspace().join("image-factory"),
        &dir.path().join("image-factory"),
        &|p| p.file_name().is_some_and(|n| n == "state"),
    );
    copy_tree(
        &workspace().join("examples"),
        &dir.path().join("examples"),
        &|_| false,
    );
    // The analyzer image's own Dockerfile, enrolled as `image-factory`.
    std::fs::copy(
        workspace().join("Dockerfile"),
        dir.path().join("Dockerfile"),
    )
    .unwrap();
    dir
}

#[test]
fn example_factory_analyzes_then_shows_the_graph() {
    let dir = example();
    let root = dir.path().join("image-factory");
    let out = run_in(
        &root,
        &["analyze", "--all", "--now", "2024-12-04T10:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let changes = stdout(&out);
    assert!(
        changes.contains("mesh-consumer: base images [] -> [uv-service]"),
        "{changes}"
    );
    assert!(
        changes.contains("backstage: base images [] -> [node-22-bookworm, node-22-bookworm-slim]"),
        "{changes}"
    );
    let uv = read(&root.join("state/images/uv-service.yaml"));
    assert!(uv.contains("dependentImages:\n  - mesh-consumer\n"), "{uv}");
    assert!(uv.contains("allowTags: ^1\\.4$"), "{uv}");
    assert!(
        root.join("state/base-images/ghcr.io-astral-sh-uv-0.5.yaml")
            .exists()
    );

    // A second run changes nothing, byte for byte.
    let before: Vec<(String, String)> = list(&root.join("state"));
    let out = run_in(
        &root,
        &["analyze", "--all", "--now", "2024-12-09T10:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("nothing changed"));
    assert_eq!(list(&root.join("state")), before);

    let out = run_in(&root, &["status", "--wide"]);
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("mesh-consumer") && l.contains("FROM uv-service")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("postgres") && l.contains("external")),
        "{text}"
    );
    let out = run_in(&root, &["--format", "json", "status"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v["images"].as_array().unwrap().len() >= 9);

    let out = run_in(&root, &["--format", "dot", "graph"]);
    assert!(
        stdout(&out).contains("\"uv-service\" -> \"mesh-consumer\";"),
        "{}",
        stdout(&out)
    );
    let out = run_in(&root, &["--format", "mermaid", "graph"]);
    assert!(stdout(&out).starts_with("flowchart LR\n"));
    assert!(stdout(&out).contains(" --> "));
}

fn list(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["images", "base-images"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        out.extend(files.iter().map(|p| (p.display().to_string(), read(p))));
    }
    out
}

#[test]
fn analyze_one_image_records_its_published_version() {
    let dir = example();
    let root = dir.path().join("image-factory");
    let digest = format!("sha256:{}", "c".repeat(64));
    let out = run_in(
        &root,
        &[
            "analyze",
            "--image",
            "backstage",
            "--tag",
            "1.2.0",
            "--digest",
            &digest,
            "--now",
            "2024-12-04T10:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = read(&root.join("state/images/backstage.yaml"));
    assert!(
        s.contains("currentVersion: \"1.2.0\"") && s.contains(&digest),
        "{s}"
    );
    assert!(
        !root.join("state/images/mesh-consumer.yaml").exists(),
        "only the named image"
    );
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = example();
    let root = dir.path().join("image-factory");
    let out = run_in(&root, &["analyze", "--image", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no such image `nope`"),
        "{}",
        stderr(&out)
    );
    let out = run_in(&root, &["analyze", "--image", "uv-servce"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no such image `uv-servce` (did you mean `uv-service`?)"),
        "{}",
        stderr(&out)
    );
    let out = run_in(&root, &["analyze", "--all", "--now", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(root.join("images.yaml"), "- name: Bad\n").unwrap();
    let out = run_in(&root, &["analyze", "--all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("images.yaml:1:9: error: image name `Bad`"),
        "{}",
        stderr(&out)
    );
    assert!(!root.join("state").exists(), "nothing written");
}

#[test]
fn eda_mesh_fixture_is_analyzed_without_losing_anything() {
    let Some(shared) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = shared.join("fixtures/eda-mesh");
    copy_tree(&fixture, dir.path(), &|p| {
        p.to_string_lossy().ends_with(".example.yaml")
    });
    let root = dir.path().join("image-factory");
    let before_backstage = read(&root.join("state/images/backstage.yaml"));
    // Its `updates:` key is unknown here: analyze refuses it (exit 2) and writes nothing.
    let before = std::fs::read_dir(root.join("state/images"))
        .unwrap()
        .count();
    let out = run_in(
        &root,
        &["analyze", "--all", "--now", "2026-02-01T12:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown key `updates`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read(&root.join("state/images/backstage.yaml")),
        before_backstage
    );
    assert_eq!(
        std::fs::read_dir(root.join("state/images"))
            .unwrap()
            .count(),
        before
    );
    let images = root.join("images.yaml");
    std::fs::write(&images, common::without_key(&read(&images), "updates")).unwrap();
    let out = run_in(
        &root,
        &["analyze", "--all", "--now", "2026-02-01T12:00:00Z"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out)); // two discoveries fail
    let changes = stdout(&out);

    let uv = read(&root.join("state/images/uv.yaml"));
    assert!(
        uv.contains("baseImages:\n  - python-3.11-slim\n  - distroless-python3-debian12-latest\n"),
        "{uv}"
    );
    let py312 = read(&root.join("state/base-images/python-3.12-slim.yaml"));
    assert!(
        py312.contains("status: archived") && py312.contains("dependentImages: []"),
        "{py312}"
    );
    let py311 = read(&root.join("state/base-images/python-3.11-slim.yaml"));
    assert!(
        py311.contains("allowTags: ^3\\.11-slim$") && py311.contains("  - uv\n"),
        "{py311}"
    );
    let backstage = read(&root.join("state/images/backstage.yaml"));
    assert!(
        backstage.contains("baseImages:\n  - node-22-bookworm-slim\n"),
        "{backstage}"
    );
    assert!(
        backstage.contains("discoveryStatus: success"),
        "{backstage}"
    );
    for (name, why) in [
        ("code-server-dev", "not found"),
        ("metrics-service", "not found"),
    ] {
        let s = read(&root.join(format!("state/images/{name}.yaml")));
        assert!(
            s.contains("discoveryStatus: failed") && s.contains(why),
            "{name}: {s}"
        );
    }
    for name in ["backstage", "uv", "e2e-test-runner"] {
        assert!(
            read(&root.join(format!("state/images/{name}.yaml")))
                .contains("discoveryStatus: success"),
            "{name}"
        );
    }
    // enrolledAt / firstDiscovered from the fixture are kept (as instants).
    assert!(before_backstage.contains("enrolledAt: '2025-12-29T19:25:06.841994+00:00'"));
    assert!(
        backstage.contains("enrolledAt: \"2025-12-29T19:25:06.841994Z\""),
        "{backstage}"
    );
    let node = read(&root.join("state/base-images/node-22-bookworm-slim.yaml"));
    assert!(
        node.contains("firstDiscovered: \"2025-12-29T19:25:06.846844Z\""),
        "{node}"
    );
    // No written regex has a doubled escape.
    for sub in ["images", "base-images"] {
        for e in std::fs::read_dir(root.join("state").join(sub)).unwrap() {
            let text = read(&e.unwrap().path());
            assert!(!text.contains("\\\\"), "doubled escape in {text}");
        }
    }
    assert!(
        changes.contains("python:3.12-slim: no dependents left, archived"),
        "{changes}"
    );
    // The state now validates clean but for the two failed discoveries it records.
    let out = run_in(&root, &["validate"]);
    let problems: Vec<&str> = stdout_lines(&out);
    assert_eq!(problems.len(), 2, "{problems:?}");
    for (p, name) in problems.iter().zip(["code-server-dev", "metrics-service"]) {
        assert!(
            p.contains(&format!("error: the last discovery of `{name}` failed")),
            "{p}"
        );
    }
    assert_eq!(out.status.code(), Some(1));
}

fn stdout_lines(out: &std::process::Output) -> Vec<&str> {
    std::str::from_utf8(&out.stdout).unwrap().lines().collect()
}

#[test]
fn eda_mesh_with_samples_reports_both_claims() {
    let Some(shared) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shared.join("fixtures/eda-mesh"), dir.path(), &|_| false);
    let root = dir.path().join("image-factory");
    let out = run_in(
        &root,
        &["analyze", "--all", "--now", "2026-02-01T12:00:00Z"],
    );
    let err = stderr(&out);
    assert!(
        err.contains("backstage.example.yaml") && err.contains("claimed by two state files"),
        "{err}"
    );
}
