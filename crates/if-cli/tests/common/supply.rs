//! The supply-chain tests' helpers (issue 23): Trivy reports written by the tests in the
//! tool's documented JSON (`--format json`, `SchemaVersion: 2`, `Results[].Vulnerabilities[]`
//! with `VulnerabilityID`, `PkgName`, `InstalledVersion`, `FixedVersion`, `Severity`),
//! `record-scan`, `check` against a loopback registry, and what the base image's state
//! recorded per digest.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::rebuild::Factory;

/// A Trivy report: `(id, severity, fixed version)` per vulnerability.
pub fn trivy(vulns: &[(&str, &str, &str)]) -> String {
    let vs: Vec<Value> = vulns
        .iter()
        .map(|(id, sev, fix)| {
            json!({"VulnerabilityID": id, "PkgName": "openssl", "InstalledVersion": "3.0.1",
                   "FixedVersion": fix, "Severity": sev})
        })
        .collect();
    serde_json::to_string_pretty(&json!({
        "SchemaVersion": 2,
        "ArtifactName": "python:3.12-slim",
        "ArtifactType": "container_image",
        "Results": [{"Target": "python:3.12-slim (debian 12.8)", "Class": "os-pkgs",
                     "Type": "debian", "Vulnerabilities": vs}]
    }))
    .unwrap()
}

/// Writes `text` beside the factory (not in it) and returns its path.
pub fn report(f: &Factory, name: &str, text: &str) -> PathBuf {
    let path = f.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `record-scan --image IMAGE --digest D --report PATH --now NOW`.
pub fn scan_args(image: &str, d: &str, path: &Path, now: &str) -> Vec<String> {
    [
        "record-scan",
        "--image",
        image,
        "--digest",
        d,
        "--report",
        path.to_str().unwrap(),
        "--now",
        now,
    ]
    .map(String::from)
    .to_vec()
}

/// The arguments as `&str`s.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `record-scan` (JSON) of the report at `path`.
pub fn scan(f: &Factory, image: &str, d: &str, path: &Path, now: &str) -> Value {
    f.json(&strs(&scan_args(image, d, path, now)))
}

/// `app` on `REG/lib/base:1`, delay 1d, with `policy` (lines of its entry), built on GitHub
/// or (`gitlab`) GitLab (job `build-app`).
pub fn registry_factory(reg: &str, gitlab: bool, policy: &str) -> Factory {
    let source = if gitlab {
        "    source:\n      provider: gitlab\n      repo: acme/app\n      dockerfile: app/Dockerfile\n      pipeline: .gitlab-ci.yml\n      job: build-app\n"
    } else {
        "    source:\n      provider: github\n      repo: acme/app\n      dockerfile: app/Dockerfile\n      workflow: build.yml\n"
    };
    let yaml = format!(
        "images:\n  - name: app\n    registry: ghcr.io\n    repository: acme/app\n{source}    rebuildDelay: 1d\n{policy}"
    );
    let dockerfile = format!("FROM {reg}/lib/base:1\nRUN true\n");
    super::rebuild::Factory::setup_with(
        &yaml,
        &[("app/Dockerfile", &dockerfile)],
        &super::rebuild::day(-2),
    )
}

/// The inputs of every dispatch of image `name` the fake forge received, in order, each
/// checked against the provider's documented request (repository `acme/NAME`, branch
/// `main`, workflow `build.yml` or job `build-NAME`).
pub fn dispatched(f: &Factory, gitlab: bool, name: &str) -> Vec<Value> {
    let repo = format!("acme/{name}");
    f.requests()
        .iter()
        .filter(|r| r.path.contains(&repo.replace('/', "%2F")) || r.path.contains(&repo))
        .map(|r| {
            if gitlab {
                super::rebuild::gitlab_inputs(r, &repo, "main", &format!("build-{name}"))
            } else {
                super::rebuild::github_inputs(r, &repo, "build.yml", "main")
            }
        })
        .collect()
}

/// Debian's `docker-registry` on 127.0.0.1 and a pusher for it, or `None` (the reason
/// printed) when it is not installed.
pub fn registry() -> Option<(
    if_testkit::registry::Registry,
    if_testkit::registry::push::Pusher,
)> {
    use if_testkit::registry::{Registry, RegistryAuth};
    let Some(registry) = Registry::start(RegistryAuth::None) else {
        eprintln!("skipping: docker-registry is not installed (apt-get install docker-registry)");
        return None;
    };
    let push = if_testkit::registry::push::Pusher::new(&registry.addr, None);
    Some((registry, push))
}

/// `check --now NOW` (JSON), asserting exit code 0 and no warning.
pub fn check(f: &Factory, now: &str) -> Value {
    let out = f.run(&["--format", "json", "check", "--now", now]);
    let stderr = super::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The images a `reconcile` report triggered.
pub fn triggers(v: &Value) -> Vec<String> {
    v["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["image"].as_str().unwrap().to_owned())
        .collect()
}

/// The recorded facts of `digest` on any base image's state.
pub fn facts_of(f: &Factory, digest: &str) -> Option<if_model::supply::DigestFacts> {
    let dir = f.root.join("state/base-images");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let (state, diags) = if_model::state::parse_base(&text, "b");
        assert!(diags.is_empty(), "{diags:?}");
        let Some(state) = state else { continue };
        if let Some(fact) = if_model::supply::facts(&state.digests, &digest.parse().unwrap()) {
            return Some(fact.clone());
        }
    }
    None
}

/// The newest recorded signature check of `digest`, as JSON (`null` when none).
pub fn signature_of(f: &Factory, digest: &str) -> Value {
    match facts_of(f, digest).and_then(|x| x.signatures.last().cloned()) {
        Some(c) => json!({"verified": c.verified, "key": c.key, "reason": c.reason,
                          "fingerprint": c.key_fingerprint,
                          "at": c.checked_at.map(|t| t.to_string())}),
        None => Value::Null,
    }
}

/// Writes the fake `trivy` into a `bin` directory beside the factory: it logs its arguments
/// to `trivy-args.log` there, writes a token-like line to stderr (which must never be shown)
/// and runs `body`. Returns the `PATH` to use.
pub fn fake_trivy(f: &Factory, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = f.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("trivy");
    let log = f.dir.path().join("trivy-args.log");
    let text = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\necho 'trivy: registry said: token hunter2-do-not-show' >&2\n{body}\n",
        log.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// Runs `ARGS` (JSON) with `PATH` set to `path`, asserting exit code 0 (a scan never fails
/// a command) and that the scanner's stderr is not shown; returns the report and stderr.
pub fn run_scanning(f: &Factory, args: &[&str], path: &str) -> (Value, String) {
    let mut cmd = f.cmd(args);
    cmd.env("PATH", path);
    let out = f.exec(cmd);
    let stderr = super::stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a failed scan never fails it: {stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the scanner's stderr is shown: {stderr}"
    );
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}
