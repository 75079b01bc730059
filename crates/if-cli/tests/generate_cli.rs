//! `image-factory generate` end to end: the golden cases under `testdata/kargo/`, the
//! example's `dist/` file, writing, `--check`, `--dry-run`, `--image`, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{bin, copy_tree, run_from, shared, stderr, stdout, workspace};

fn cases() -> Vec<PathBuf> {
    let dir = workspace().join("testdata/kargo");
    let mut cases = if_cli::golden::case_dirs(&dir).unwrap();
    cases.retain(|p| p.join("images.yaml").is_file());
    cases
}

#[test]
fn every_case_matches_its_golden_files() {
    let cases = cases();
    assert!(cases.len() >= 6, "expected the kargo cases");
    let mut failures = Vec::new();
    for case in &cases {
        let (yaml, warnings) = if_cli::cmd::generate::golden_case(case).unwrap();
        for (file, actual) in [("expected.k8s.yaml", &yaml), ("expected.txt", &warnings)] {
            let expected = std::fs::read_to_string(case.join(file)).unwrap_or_default();
            if &expected != actual {
                failures.push(format!(
                    "--- {}/{file} (run `cargo xtask generate`)\nexpected:\n{expected}actual:\n{actual}",
                    case.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A temporary project: `factory/` copied from a golden case (without its expectations).
fn project(case: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &workspace().join("testdata/kargo").join(case),
        &dir.path().join("factory"),
        &|p: &Path| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("expected"))
        },
    );
    dir
}

fn expected(case: &str) -> String {
    std::fs::read_to_string(
        workspace()
            .join("testdata/kargo")
            .join(case)
            .join("expected.k8s.yaml"),
    )
    .unwrap()
}

#[test]
fn the_example_dist_file_is_up_to_date() {
    let out = run_from(workspace(), &["generate", "--check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let dry = run_from(workspace(), &["generate", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let dist = std::fs::read_to_string(workspace().join("dist/image-factory.k8s.yaml")).unwrap();
    assert_eq!(stdout(&dry), dist);
}

#[test]
fn writes_beside_the_root_then_leaves_the_file_alone() {
    let dir = project("external");
    let run = || run_from(dir.path(), &["--root", "factory", "generate"]);
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wrote dist/image-factory.k8s.yaml (12 resources)"),
        "{}",
        stderr(&out)
    );
    let path = dir.path().join("dist/image-factory.k8s.yaml");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        expected("external")
    );
    let again = run();
    assert!(
        stderr(&again).contains("up to date: dist/image-factory.k8s.yaml"),
        "{}",
        stderr(&again)
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("dist"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn check_reports_what_is_stale() {
    let dir = project("external");
    let root = dir.path().join("factory");
    let out_file = dir.path().join("out.yaml");
    let check = || {
        bin()
            .args([
                "--root",
                root.to_str().unwrap(),
                "generate",
                "--check",
                "--out",
            ])
            .arg(&out_file)
            .output()
            .unwrap()
    };
    let missing = check();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout(&missing).contains("does not exist"),
        "{}",
        stdout(&missing)
    );
    let stale = expected("external")
        .replace("constraint: 16-alpine", "constraint: 15-alpine")
        .replace("name: image-redis\n", "name: image-valkey\n");
    std::fs::write(&out_file, &stale).unwrap();
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for line in [
        "is not up to date (run `image-factory generate`):",
        "  added    Warehouse/image-redis",
        "  removed  Warehouse/image-valkey",
        "  changed  Warehouse/image-postgres",
    ] {
        assert!(text.contains(line), "{line}\nin:\n{text}");
    }
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        stale,
        "--check writes nothing"
    );
    std::fs::write(&out_file, expected("external")).unwrap();
    assert_eq!(check().status.code(), Some(0));
    let json = bin()
        .args([
            "--root",
            root.to_str().unwrap(),
            "--format",
            "json",
            "generate",
            "--check",
            "--out",
        ])
        .arg(&out_file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["upToDate"], true);
    assert_eq!(v["resources"].as_array().unwrap().len(), 12);
}

#[test]
fn image_limits_the_output_to_one_image() {
    let dir = project("external");
    let out = run_from(
        dir.path(),
        &["--root", "factory", "generate", "--image", "postgres"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let kinds: Vec<&str> = text.lines().filter(|l| l.starts_with("kind: ")).collect();
    assert_eq!(kinds, ["kind: Warehouse", "kind: Stage"]);
    assert!(text.contains("name: image-postgres"));
    assert!(
        !dir.path().join("dist").exists(),
        "--image prints, it does not write"
    );
    let unknown = run_from(
        dir.path(),
        &["--root", "factory", "generate", "--image", "nope"],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no such image `nope`; neither an image nor a base image"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn the_dockerfile_watch_flag_adds_git_warehouses() {
    let dir = project("internal-chain");
    let out = run_from(
        dir.path(),
        &[
            "--root",
            "factory",
            "generate",
            "--dry-run",
            "--with-dockerfile-watch",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("name: dockerfile-mesh-consumer"));
    assert!(text.contains("repoURL: https://gitlab.com/acme/platform/internal-services.git"));
    assert!(text.contains("name: image-factory-analyze"));
    assert_ne!(text, expected("internal-chain"));
}

#[test]
fn bad_configuration_is_reported_and_nothing_is_written() {
    let dir = project("empty");
    std::fs::write(
        dir.path().join("factory/kargo.yaml"),
        "project: Image_Factory\nwarehouse:\n  interval: 6h\n",
    )
    .unwrap();
    let out = run_from(dir.path(), &["--root", "factory", "generate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "factory/kargo.yaml:1:10: error: `project`: `Image_Factory` is not a Kubernetes name"
        ),
        "{err}"
    );
    assert!(err.contains("factory/kargo.yaml:2:1: error: unknown key `warehouse` in kargo.yaml; did you mean `warehouses`?"), "{err}");
    assert!(!dir.path().join("dist").exists());
}

#[test]
fn bad_enrollment_is_reported_and_nothing_is_written() {
    let dir = project("empty");
    std::fs::write(
        dir.path().join("factory/images.yaml"),
        "- name: web\n  registry: ghcr.io\n  repository: acme/web\n  allowTags: ^(1$\n",
    )
    .unwrap();
    let out = run_from(dir.path(), &["--root", "factory", "generate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("factory/images.yaml:4:14: error: allowTags `^(1$` is not a valid regex"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("dist").exists());
}

#[test]
fn json_dry_run_is_one_document() {
    let dir = project("empty");
    let out = run_from(
        dir.path(),
        &[
            "--root",
            "factory",
            "--format",
            "json",
            "generate",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["yaml"].as_str().unwrap(), expected("empty"));
    let kinds: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["Project", "ProjectConfig", "AnalysisTemplate", "CronJob"]
    );
}

#[test]
fn the_eda_mesh_fixture_generates_with_warnings() {
    let Some(shared_dir) = shared("fixtures/eda-mesh/image-factory") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &shared_dir.join("fixtures/eda-mesh/image-factory"),
        &dir.path().join("image-factory"),
        &|p: &Path| p.to_string_lossy().ends_with(".example.yaml"),
    );
    // Its `updates:` key is unknown here: generate refuses it, as validate reports it.
    let out = run_from(dir.path(), &["generate", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown key `updates`"));
    common::eda_mesh_factory(&shared_dir, &dir.path().join("image-factory"));
    let out = run_from(dir.path(), &["generate", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: `currentDigest`"),
        "state problems are warnings:\n{err}"
    );
    assert!(
        err.contains("has a doubled escape; the Warehouse uses `^3\\.12-slim$`"),
        "{err}"
    );
    let text = stdout(&out);
    assert!(!text.contains("\\\\"));
    assert_eq!(text.matches("\nkind: Warehouse\n").count(), 4);
}
