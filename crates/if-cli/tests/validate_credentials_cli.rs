//! `validate` names every managed image whose forge host has no credential in this
//! environment: a warning (exit unchanged) with only the token variables, an error (exit 2)
//! once a host-rules file declares the inventory of credentials, and nothing when the
//! environment holds no forge credential at all. Nothing is sent to any forge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, stderr, stdout};

const TOKEN: &str = "ghp_ValidateTok3n0123456789abcdefXYZ";

/// app-a on the default GitHub (`bin()`'s `127.0.0.1:9`), app-b on a second GitHub
/// (`source.api` on `127.0.0.1:8`), app-c on the default GitLab, and an external image.
fn factory(dir: &Path) -> PathBuf {
    let root = dir.join("factory");
    std::fs::create_dir_all(&root).unwrap();
    let source = |provider: &str, repo: &str, extra: &str| {
        let how = match provider {
            "gitlab" => "    pipeline: .gitlab-ci.yml\n    job: build\n",
            _ => "    workflow: build.yml\n",
        };
        format!(
            "  source:\n    provider: {provider}\n    repo: {repo}\n    dockerfile: Dockerfile\n{how}{extra}"
        )
    };
    let images = format!(
        "images:\n\
         - name: app-a\n  registry: ghcr.io\n  repository: acme/app-a\n  rebuildDelay: 1d\n{}\
         - name: app-b\n  registry: ghcr.io\n  repository: acme/app-b\n  rebuildDelay: 1d\n{}\
         - name: app-c\n  registry: registry.gitlab.com\n  repository: acme/app-c\n  rebuildDelay: 1d\n{}\
         - name: alpine\n  registry: docker.io\n  repository: library/alpine\n  allowTags: ^3\\.\n",
        source("github", "acme/app-a", ""),
        source(
            "github",
            "acme/app-b",
            "    api: http://127.0.0.1:8/api/v3\n"
        ),
        source("gitlab", "acme/app-c", ""),
    );
    std::fs::write(root.join("images.yaml"), images).unwrap();
    root
}

fn validate(root: &Path, envs: &[(&str, &str)]) -> Output {
    // bin() removes every forge credential of the developer's environment.
    let mut cmd = bin();
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.arg("--root")
        .arg(root)
        .arg("validate")
        .output()
        .unwrap()
}

/// The images named in `text`'s credential lines, in order.
fn named(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("no credentials for host"))
        .filter_map(|l| l.split("image ").nth(1)?.split(':').next())
        .collect()
}

#[test]
fn with_only_the_token_variables_an_image_without_credentials_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(dir.path());
    let out = validate(&root, &[("GITHUB_TOKEN", TOKEN)]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{o}{e}");
    assert_eq!(named(&o), ["app-b", "app-c"], "{o}");
    let images = root.join("images.yaml").display().to_string();
    assert!(
        o.contains(&format!(
            "{images}:11:3: warning: image app-b: no credentials for host 127.0.0.1:8 (add a rule for it to the host-rules file named by IMAGE_FACTORY_HOST_RULES)"
        )),
        "{o}"
    );
    assert!(
        o.contains("warning: image app-c: no credentials for host 127.0.0.1:9 (add a rule for it to the host-rules file named by IMAGE_FACTORY_HOST_RULES, or set the token variables)"),
        "{o}"
    );
    assert!(!o.contains(TOKEN) && !e.contains(TOKEN));

    // With every host served, nothing is said.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "- host: 127.0.0.1:8\n  token: ghp_second\n").unwrap();
    let out = validate(
        &root,
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("GITLAB_TOKEN", "glpat-x"),
            ("IMAGE_FACTORY_HOST_RULES", rules.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn with_a_host_rules_file_an_image_without_credentials_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(dir.path());
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "- host: 127.0.0.1:8\n  token: ghp_SecondHost0001\n").unwrap();
    let rules = rules.to_str().unwrap();
    let out = validate(&root, &[("IMAGE_FACTORY_HOST_RULES", rules)]);
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{o}{e}");
    assert_eq!(named(&o), ["app-a", "app-c"], "{o}");
    assert!(
        o.contains("error: image app-a: no credentials for host 127.0.0.1:9"),
        "{o}"
    );
    assert!(
        e.contains(&format!(
            "2 image(s) have no credentials for their host in the host-rules file {rules}"
        )),
        "{e}"
    );
    assert!(!o.contains("ghp_SecondHost0001") && !e.contains("ghp_SecondHost0001"));
}

#[test]
fn without_any_forge_credential_validate_does_not_ask() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(dir.path());
    let out = validate(&root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}
