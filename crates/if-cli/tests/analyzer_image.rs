//! The analyzer image (the root `Dockerfile`): what it is built on, its enrollment in the
//! example factory, that the binary needs nothing beyond what the image holds, and that the
//! image runs the way the generated Kargo AnalysisTemplates start it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_from, stderr, stdout, workspace};

/// The two external images the root Dockerfile is built on, in first-use order.
const BASE_IMAGES: [&str; 2] = ["rust:1.89.0-bookworm", "debian:bookworm-slim"];
/// Their state files in the example factory (the base-image slugs).
const BASE_STATES: [&str; 2] = ["rust-1.89.0-bookworm", "debian-bookworm-slim"];
/// The time the example factory's committed state was analyzed at.
const STATE_TIME: &str = "2026-11-01T00:00:00Z";

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dockerfile() -> String {
    read(&workspace().join("Dockerfile"))
}

/// The items of the block list under `key:` at the top level of a tool-written YAML file.
fn list(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != format!("{key}:"))
        .skip(1)
        .take_while(|l| l.starts_with("  - "))
        .map(|l| l["  - ".len()..].trim().to_string())
        .collect()
}

/// The value of a top-level `key: value` line.
fn scalar(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().trim_matches('"').to_string())
}

#[test]
fn the_dockerfile_is_built_on_exactly_two_external_images() {
    let out = run_from(
        workspace(),
        &["--format", "json", "dockerfile", "Dockerfile"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["valid"], true, "{report}");
    assert!(report["error"].is_null(), "{report}");
    // `COPY --from=build` names the build stage: it is not a base image.
    assert_eq!(
        report["baseImages"],
        serde_json::json!(BASE_IMAGES),
        "{report}"
    );
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2, "{report}");
    assert_eq!(stages[0]["name"], "build");
    assert!(stages.iter().all(|s| s["base"] == "external"), "{report}");
}

#[test]
fn the_example_factory_watches_the_analyzer_images_bases() {
    let root = workspace().join("image-factory");
    let enrollment = read(&root.join("images.yaml"));
    assert!(
        enrollment.contains("  - name: image-factory\n"),
        "image-factory is not enrolled in images.yaml"
    );
    let state = read(&root.join("state/images/image-factory.yaml"));
    assert_eq!(
        scalar(&state, "discoveryStatus").as_deref(),
        Some("success")
    );
    assert!(state.contains("    dockerfile: Dockerfile\n"), "{state}");
    assert_eq!(list(&state, "baseImages"), BASE_STATES, "{state}");
    for (image, name) in BASE_IMAGES.iter().zip(BASE_STATES) {
        let base = read(&root.join(format!("state/base-images/{name}.yaml")));
        assert_eq!(
            scalar(&base, "fullImage").as_deref(),
            Some(*image),
            "{base}"
        );
        assert!(
            list(&base, "dependentImages").contains(&"image-factory".to_string()),
            "{base}"
        );
    }
}

/// The example factory and the Dockerfiles its images name, as the analyzer sees them in the
/// cluster (a checkout), in a fresh temporary directory.
fn copied_factory() -> tempfile::TempDir {
    common::example_factory().0
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                all.push((path, bytes));
            }
        }
    }
    all.sort();
    all
}

/// The built binary with an empty environment (no HOME, no tokens, no config), only a PATH
/// where `git` lives, run in `dir`.
fn bare(dir: &Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("image-factory"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_binary_runs_with_only_the_files_the_image_contains() {
    let dir = copied_factory();
    let before = snapshot(dir.path());

    let out = bare(dir.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = bare(
        dir.path(),
        &["analyze", "--all", "--no-fetch", "--now", STATE_TIME],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = format!("{}{}", stdout(&out), stderr(&out));
    assert!(report.contains("nothing changed"), "{report}");

    let out = bare(dir.path(), &["generate", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        read(&workspace().join("dist/image-factory.k8s.yaml")),
        "generate --dry-run differs from the committed dist/"
    );

    // Nothing was written: the committed state was up to date, and a dry run writes nothing.
    assert!(snapshot(dir.path()) == before, "files changed");
}

/// The instructions of the Dockerfile's last stage (continuation lines joined, comments
/// dropped), as `(INSTRUCTION, arguments)`.
fn runtime_stage(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            joined.push(std::mem::take(&mut current));
        }
    }
    let last_from = joined
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .expect("a FROM instruction");
    joined[last_from..]
        .iter()
        .map(|l| {
            let (word, rest) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (word.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// The `command` of the analyzer containers in the generated resources: the list under
/// `command:` right after each `image: <analyzer image>` line.
fn analyzer_commands(dist: &str, image: &str) -> Vec<Vec<String>> {
    let lines: Vec<&str> = dist.lines().collect();
    let mut commands = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != format!("image: {image}") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let command_line = lines[i + 1];
        assert_eq!(command_line.trim(), "command:", "after {line:?}");
        assert_eq!(command_line.len() - command_line.trim_start().len(), indent);
        let items = lines[i + 2..]
            .iter()
            .take_while(|l| {
                l.trim_start().starts_with("- ") && l.len() - l.trim_start().len() == indent
            })
            .map(|l| l.trim_start()["- ".len()..].trim().to_string())
            .collect();
        commands.push(items);
    }
    commands
}

#[test]
fn the_runtime_stage_runs_as_the_kargo_pods_expect() {
    let stage = runtime_stage(&dockerfile());

    // A non-root numeric user (runAsNonRoot can only be checked on a numeric UID).
    let user = stage
        .iter()
        .rev()
        .find(|(w, _)| w == "USER")
        .map(|(_, a)| a.clone())
        .expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    let uid: u32 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {user} is not numeric"));
    assert_ne!(uid, 0, "USER is root");
    assert_eq!(uid, if_kargo::analysis::RUN_AS, "the pods' runAsUser");

    // Exec-form ENTRYPOINT: no shell between the runtime and the binary.
    let entrypoint = stage
        .iter()
        .rev()
        .find(|(w, _)| w == "ENTRYPOINT")
        .map(|(_, a)| a.clone())
        .expect("the runtime stage sets ENTRYPOINT");
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint)
        .unwrap_or_else(|e| panic!("ENTRYPOINT {entrypoint} is not exec form: {e}"));
    assert_eq!(entrypoint.len(), 1, "{entrypoint:?}");
    let installed = Path::new(&entrypoint[0]);
    assert!(installed.is_absolute(), "{entrypoint:?}");
    assert!(stage.iter().any(|(w, _)| w == "WORKDIR"), "no WORKDIR");

    // The binary is copied from the build stage to exactly that path.
    assert!(
        stage.iter().any(|(w, a)| w == "COPY"
            && a.starts_with("--from=build ")
            && a.ends_with(&format!(" {}", installed.display()))),
        "no COPY --from=build to {}",
        installed.display()
    );

    // The AnalysisTemplates override the entrypoint with `command`: it must be that binary,
    // by absolute path or by name on the default PATH of the image (/usr/local/bin).
    let kargo = read(&workspace().join("image-factory/kargo.yaml"));
    let image = kargo
        .lines()
        .skip_while(|l| l.trim() != "analyzer:")
        .find_map(|l| l.trim().strip_prefix("image: "))
        .expect("kargo.yaml names the analyzer image")
        .trim()
        .to_string();
    let dist = read(&workspace().join("dist/image-factory.k8s.yaml"));
    let commands = analyzer_commands(&dist, &image);
    assert!(!commands.is_empty(), "no analyzer container runs {image}");
    for command in commands {
        assert_eq!(command.len(), 1, "{command:?}");
        let run = Path::new(&command[0]);
        if run.is_absolute() {
            assert_eq!(run, installed);
        } else {
            assert_eq!(
                run.as_os_str(),
                installed.file_name().unwrap(),
                "{command:?}"
            );
            assert_eq!(
                installed.parent(),
                Some(Path::new("/usr/local/bin")),
                "{} is not on the image's PATH",
                installed.display()
            );
        }
    }
}

/// The `[profile.release]` settings of the workspace manifest, `key = value` per line.
fn release_profile() -> Vec<(String, String)> {
    read(&workspace().join("Cargo.toml"))
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// The image ships the release binary without its debug information (issue 22: 75 MB of
/// the 93.5 MB binary was debug information, pulled by a Kargo job for every Freight). Cargo's
/// `strip = "debuginfo"` removes it at link time; the image's build stage must use that
/// profile as it is (`--release`, no other profile, no override through the environment).
#[test]
fn the_image_binary_is_built_without_debug_information() {
    let profile = release_profile();
    assert!(
        profile.contains(&("strip".to_string(), "debuginfo".to_string()))
            || profile.contains(&("strip".to_string(), "true".to_string()))
            || profile.contains(&("strip".to_string(), "symbols".to_string())),
        "[profile.release] does not strip debug information: {profile:?}"
    );
    let text = dockerfile();
    let build: Vec<&str> = text.lines().filter(|l| l.contains("cargo build")).collect();
    assert_eq!(
        build.len(),
        1,
        "one cargo build in the Dockerfile: {build:?}"
    );
    assert!(build[0].contains("--release"), "{}", build[0]);
    assert!(!build[0].contains("--profile"), "{}", build[0]);
    assert!(
        !text.contains("CARGO_PROFILE_RELEASE"),
        "the Dockerfile overrides the release profile"
    );
    assert!(
        text.contains("install -D -m 0755 target/release/image-factory"),
        "the image copies the release binary"
    );
}
