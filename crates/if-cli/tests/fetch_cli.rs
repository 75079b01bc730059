//! `analyze` with Dockerfiles that live in the teams' repositories: a Dockerfile missing
//! under `--source-dir` is fetched from GitHub's contents API or GitLab's repository files
//! API (a fake that checks every request against the providers' documentation).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use if_model::enrollment::Provider;
use if_testkit::FakeForge;

const GH: &str = "ghp_FetchTok3nFetchTok3nFetchTok3n00";
const GL: &str = "glpat-FetchTok3nFetch00";

const IMAGES: &str = "images:
  - name: web
    registry: ghcr.io
    repository: acme/web
    source:
      provider: github
      repo: acme/web
      branch: release/1.x
      dockerfile: docker/web/Dockerfile
      workflow: build.yml
  - name: api
    registry: registry.gitlab.com
    repository: acme/platform/api
    source:
      provider: gitlab
      repo: acme/platform/api
      dockerfile: build/api.Dockerfile
      pipeline: .gitlab-ci.yml
  - name: local
    registry: ghcr.io
    repository: acme/local
    source:
      provider: github
      repo: acme/local
      dockerfile: local/Dockerfile
      workflow: build.yml
";

struct Setup {
    dir: tempfile::TempDir,
    forge: FakeForge,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("factory");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("images.yaml"), IMAGES).unwrap();
        // Only `local` has its Dockerfile checked out beside the factory.
        let local = dir.path().join("local");
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(local.join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
        let forge = FakeForge::start(GH, GL);
        forge.add_file(
            Provider::Github,
            "acme/web",
            "release/1.x",
            "docker/web/Dockerfile",
            "ARG NODE=22\nFROM node:${NODE}-bookworm-slim AS build\nFROM gcr.io/distroless/nodejs22\n",
        );
        forge.add_file(
            Provider::Gitlab,
            "acme/platform/api",
            "main",
            "build/api.Dockerfile",
            "FROM python:3.12-slim\n",
        );
        Setup { dir, forge }
    }

    fn analyze(&self, extra: &[&str]) -> std::process::Output {
        common::bin()
            .env("GITHUB_TOKEN", GH)
            .env("GITLAB_TOKEN", GL)
            .env("IMAGE_FACTORY_GITHUB_API", self.forge.github_api())
            .env("IMAGE_FACTORY_GITLAB_API", self.forge.gitlab_api())
            .arg("--root")
            .arg(self.dir.path().join("factory"))
            .args([
                "--format",
                "json",
                "analyze",
                "--all",
                "--now",
                "2026-11-01T00:00:00Z",
            ])
            .args(extra)
            .output()
            .unwrap()
    }

    fn state(&self, name: &str) -> String {
        let path = self
            .dir
            .path()
            .join("factory/state/images")
            .join(format!("{name}.yaml"));
        std::fs::read_to_string(path).unwrap()
    }
}

#[test]
fn missing_dockerfiles_are_fetched_from_their_forge_at_their_branch() {
    let s = Setup::new();
    let out = s.analyze(&[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let web = s.state("web");
    assert!(web.contains("discoveryStatus: success"), "{web}");
    assert!(
        web.contains("node-22-bookworm-slim") && web.contains("gcr.io-distroless-nodejs22"),
        "{web}"
    );
    assert!(s.state("api").contains("python-3.12-slim"));
    assert!(
        s.state("local").contains("alpine-3.20"),
        "the local file is read, not fetched"
    );

    let requests = s.forge.requests();
    // Fetched in parallel: in any order.
    let mut lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "GET /api/v4/projects/acme%2Fplatform%2Fapi/repository/files/build%2Fapi.Dockerfile/raw?ref=main",
            "GET /repos/acme/web/contents/docker/web/Dockerfile?ref=release%2F1.x",
        ],
        "one request per remote Dockerfile, none for the local one"
    );
    for r in &requests {
        assert!(r.violations.is_empty(), "{}: {:?}", r.path, r.violations);
        assert_eq!(r.response_status, 200);
    }
    let output = format!("{}{}", common::stdout(&out), common::stderr(&out));
    for token in [GH, GL] {
        assert!(!output.contains(token));
        for name in ["web", "api", "local"] {
            assert!(!s.state(name).contains(token));
        }
    }
}

#[test]
fn a_dockerfile_missing_everywhere_fails_that_image_only() {
    let s = Setup::new();
    let yaml = IMAGES.replace("docker/web/Dockerfile", "docker/gone/Dockerfile");
    std::fs::write(s.dir.path().join("factory/images.yaml"), yaml).unwrap();
    let out = s.analyze(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out)); // web failed
    let web = s.state("web");
    assert!(web.contains("discoveryStatus: failed"), "{web}");
    assert!(
        web.contains("not found locally, and fetching it failed")
            && web.contains("docker/gone/Dockerfile"),
        "{web}"
    );
    assert!(s.state("api").contains("discoveryStatus: success"));
}

#[test]
fn no_fetch_reads_only_local_files() {
    let s = Setup::new();
    let out = s.analyze(&["--no-fetch"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out)); // web failed
    assert!(s.forge.requests().is_empty());
    let web = s.state("web");
    assert!(
        web.contains("discoveryStatus: failed")
            && web.contains("discoveryError: Dockerfile docker/web/Dockerfile not found\n"),
        "{web}"
    );
    assert!(s.state("local").contains("discoveryStatus: success"));
}

#[test]
fn source_ref_fetches_the_dockerfile_at_that_commit_even_with_a_local_copy() {
    let s = Setup::new();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    s.forge.add_file(
        Provider::Github,
        "acme/local",
        commit,
        "local/Dockerfile",
        "FROM debian:bookworm-slim\n",
    );
    let run = |r: &str| {
        common::bin()
            .env("GITHUB_TOKEN", GH)
            .env("IMAGE_FACTORY_GITHUB_API", s.forge.github_api())
            .arg("--root")
            .arg(s.dir.path().join("factory"))
            .args(["analyze", "--image", "local", "--source-ref", r])
            .args(["--now", "2026-11-01T00:00:00Z"])
            .output()
            .unwrap()
    };
    let out = run(commit);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let local = s.state("local");
    assert!(
        local.contains("debian-bookworm-slim") && !local.contains("alpine"),
        "{local}"
    );
    let lines: Vec<String> = s
        .forge
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [format!(
            "GET /repos/acme/local/contents/local/Dockerfile?ref={commit}"
        )]
    );
    let missing = run("fedcba9876543210fedcba9876543210fedcba98");
    assert_eq!(missing.status.code(), Some(1), "a failed discovery exits 1");
    assert!(
        s.state("local")
            .contains("at fedcba9876543210fedcba9876543210fedcba98 failed"),
        "{}",
        s.state("local")
    );
}
