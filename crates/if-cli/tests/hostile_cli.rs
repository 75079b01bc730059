//! Hostile input end to end (issue 19): Dockerfiles shaped by an attacker. Memory and time
//! bounds are held by running the binary under `prlimit` (1 GiB of address space, 20 s of
//! CPU), never by a clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, stdout};

/// `prlimit` with the bounds of the issue around the `image-factory` binary.
fn bounded(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--cpu=20")
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("image-factory"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("IMAGE_FACTORY_ROOT")
        .env("IMAGE_FACTORY_GITHUB_API", "http://127.0.0.1:9")
        .env("IMAGE_FACTORY_GITLAB_API", "http://127.0.0.1:9/api/v4")
        .output()
        .unwrap()
}

fn managed(name: &str) -> String {
    format!(
        "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      \
         provider: github\n      repo: acme/{name}\n      branch: main\n      dockerfile: \
         {name}/Dockerfile\n      workflow: build.yml\n"
    )
}

/// A factory at `dir/factory` whose images are built from `dir/NAME/Dockerfile`.
fn factory(dir: &Path, dockerfiles: &[(&str, String)]) -> std::path::PathBuf {
    let root = dir.join("factory");
    std::fs::create_dir_all(&root).unwrap();
    let mut yaml = String::from("images:\n");
    for (name, text) in dockerfiles {
        yaml.push_str(&managed(name));
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("Dockerfile"), text).unwrap();
    }
    std::fs::write(root.join("images.yaml"), yaml).unwrap();
    root
}

#[test]
fn three_hostile_dockerfiles_do_not_take_analyze_down() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(
        dir.path(),
        &[
            ("exp", if_dockerfile::hostile::exponential_args(27)),
            ("deep", if_dockerfile::hostile::nested_default(13_000)),
            ("onbuild", if_dockerfile::hostile::onbuild_chain(40_000)),
            ("good", "FROM alpine:3.20\n".to_string()),
        ],
    );
    let out = bounded(
        &root,
        &[
            "analyze",
            "--all",
            "--no-fetch",
            "--now",
            "2026-01-01T00:00:00Z",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let text = format!("{}{err}", stdout(&out));
    assert!(
        text.contains("good: base images [] -> [alpine-3.20]"),
        "{text}"
    );
    let state =
        |name: &str| std::fs::read_to_string(root.join(format!("state/images/{name}.yaml")));
    for (name, why) in [
        (
            "exp",
            "exp/Dockerfile:21:5: expanded word longer than 1048576 bytes",
        ),
        (
            "deep",
            "deep/Dockerfile:1:6: variable expansion nested deeper than 100 levels",
        ),
        (
            "onbuild",
            "onbuild/Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
    ] {
        let s = state(name).unwrap();
        assert!(s.contains(why), "{name}: {s}\n{text}");
    }
}
