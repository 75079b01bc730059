//! `image-factory check` against a real registry (Debian's `docker-registry`, started on a
//! free 127.0.0.1 port): index digests recorded, re-pushes detected, one image's failure kept
//! on that image, Basic and Bearer auth with credentials from the environment and
//! `config.json`, and the requests counted by a proxy and by the token server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use base64::Engine as _;
use if_testkit::registry::RegistryAuth;
use if_testkit::registry::net::{Answer, CountingProxy, FakeRegistry};
use if_testkit::registry::push::Pusher;
use if_testkit::registry::token::{ISSUER, SERVICE, TokenPolicy, TokenServer};
use if_testkit::registry_or_skip;
use serde_json::Value;

const T0: &str = "2026-11-01T00:00:00Z";
const T1: &str = "2026-11-02T00:00:00Z";
const T2: &str = "2026-11-03T00:00:00Z";
const T3: &str = "2026-11-04T00:00:00Z";

/// A factory whose images are built on images of the registry at `reg` (`127.0.0.1:PORT`):
/// `app` on `lib/node:22` and `lib/base:1`, `svc` on `lib/py:3`, and the external `tool`
/// watched by SemVer on `^1\.\d+\.\d+$`.
struct Factory {
    dir: tempfile::TempDir,
}

impl Factory {
    fn new(reg: &str) -> Factory {
        Factory::with(
            reg,
            &[
                ("app", &["lib/node:22", "lib/base:1"]),
                ("svc", &["lib/py:3"]),
            ],
        )
    }

    fn with(reg: &str, images: &[(&str, &[&str])]) -> Factory {
        Factory::build(reg, images, true)
    }

    /// The factory of [`Factory::with`], with or without the external `tool`.
    fn build(reg: &str, images: &[(&str, &[&str])], tool: bool) -> Factory {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("images:\n");
        for (name, from) in images {
            yaml.push_str(&format!(
                "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      provider: github\n      repo: acme/{name}\n      dockerfile: {name}/Dockerfile\n      workflow: build.yml\n"
            ));
            let mut dockerfile = String::new();
            for (i, f) in from.iter().enumerate() {
                dockerfile.push_str(&format!("FROM {reg}/{f} AS s{i}\nRUN true\n"));
            }
            let src = dir.path().join("src").join(name);
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join("Dockerfile"), dockerfile).unwrap();
        }
        if tool {
            yaml.push_str(&format!(
            "  - name: tool\n    registry: {reg}\n    repository: lib/tool\n    allowTags: ^1\\.\\d+\\.\\d+$\n    imageSelectionStrategy: SemVer\n"
        ));
        }
        let root = dir.path().join("factory");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("images.yaml"), yaml).unwrap();
        let f = Factory { dir };
        let out = f.run(&["analyze", "--all", "--now", T0, "--source-dir"], &[]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        f
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("factory")
    }

    /// Runs `image-factory --root ROOT ARGS` (with `--source-dir SRC` appended when the
    /// last argument asks for it) with `env` set, and a `DOCKER_CONFIG` that has no file
    /// unless the test wrote one.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = common::bin();
        cmd.arg("--root").arg(self.root()).args(args);
        if args.last() == Some(&"--source-dir") {
            cmd.arg(self.dir.path().join("src"));
        }
        // No credentials file of the machine's: every place the lookup reads is the test's.
        common::registry_env(&mut cmd, &self.dir.path().join("home"));
        cmd.env("DOCKER_CONFIG", self.dir.path().join("docker"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `check --now NOW --format json ARGS`: the report, after checking the exit code: 0 when
    /// every lookup succeeded, 1 when one failed (recorded, the others went on: a person
    /// should look).
    fn check(&self, now: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
        let mut all = vec!["--format", "json", "check", "--now", now];
        all.extend_from_slice(args);
        let out = self.run(&all, env);
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}\n{}\n{}", common::stdout(&out), common::stderr(&out)));
        let failed = report["summary"]["failed"].as_u64().unwrap();
        assert_eq!(
            out.status.code(),
            Some(i32::from(failed > 0)),
            "{failed} failed\n{}\n{}",
            common::stdout(&out),
            common::stderr(&out)
        );
        report
    }

    /// Every state file's text, by path.
    fn state(&self) -> Vec<(PathBuf, String)> {
        let mut files = Vec::new();
        for sub in ["images", "base-images"] {
            let dir = self.root().join("state").join(sub);
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                let text = std::fs::read_to_string(&p).unwrap();
                files.push((p, text));
            }
        }
        files.sort();
        files
    }

    fn base_file(&self, slug_part: &str) -> String {
        let dir = self.root().join("state").join("base-images");
        let path = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().contains(slug_part))
            .unwrap_or_else(|| panic!("no base-image file containing {slug_part} in {dir:?}"));
        std::fs::read_to_string(path).unwrap()
    }
}

/// The report's row for `image` (an image name, or part of a base-image state name).
fn row<'a>(report: &'a Value, image: &str) -> &'a Value {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"].as_str().unwrap().contains(image))
        .unwrap_or_else(|| panic!("no row for {image} in {report:#}"))
}

fn summary(report: &Value) -> (u64, u64, u64, u64, u64, u64) {
    let s = &report["summary"];
    let n = |k: &str| s[k].as_u64().unwrap();
    (
        n("checked"),
        n("baseline"),
        n("unchanged"),
        n("updated"),
        n("failed"),
        n("requests"),
    )
}

fn push_all(p: &Pusher, seed: &str) -> [String; 3] {
    let node = p.oci_index("lib/node", "22", &format!("node {seed}"));
    assert_eq!(node.children.len(), 2);
    let base = p.oci_manifest("lib/base", "1", &format!("base {seed}"));
    let py = p.docker_list("lib/py", "3", &format!("py {seed}"));
    for (tag, s) in [
        ("1.2.0", "a"),
        ("1.10.0", "b"),
        ("1.9.3", "c"),
        ("2.0.0", "d"),
    ] {
        p.oci_manifest("lib/tool", tag, s);
    }
    [
        node.digest.to_string(),
        base.digest.to_string(),
        py.digest.to_string(),
    ]
}

#[test]
fn records_index_digests_detects_a_repush_and_is_quiet_when_nothing_changed() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    let [node, base, py] = push_all(&pusher, "v1");
    let tool = pusher
        .oci_manifest("lib/tool", "1.10.0", "b")
        .digest
        .to_string();
    let f = Factory::new(&registry.addr);

    // First check: every watched image gets its baseline, nothing is scheduled.
    let report = f.check(T1, &[], &[]);
    assert_eq!(summary(&report), (4, 4, 0, 0, 0, 5), "{report:#}");
    assert_eq!(report["summary"]["tokenRequests"], 0);
    assert_eq!(
        row(&report, "node-22")["digest"],
        node.as_str(),
        "the index's own digest"
    );
    assert_eq!(
        row(&report, "py-3")["digest"],
        py.as_str(),
        "the manifest list's own digest"
    );
    assert_eq!(row(&report, "base-1")["digest"], base.as_str());
    let t = row(&report, "tool");
    assert_eq!(
        (t["tag"].as_str(), t["digest"].as_str()),
        (Some("1.10.0"), Some(tool.as_str()))
    );
    assert_eq!(t["role"], "external");
    assert!(
        f.base_file("node-22")
            .contains(&format!("currentDigest: {node}"))
    );
    let hosts = report["registries"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    assert_eq!(hosts[0]["host"], registry.addr.as_str());
    assert_eq!(hosts[0]["requests"], 5);
    assert!(
        hosts[0]["rateLimit"].is_null(),
        "the registry reports no limit"
    );

    // Nothing changed upstream: nothing is written.
    let before = f.state();
    let report = f.check(T2, &[], &[]);
    assert_eq!(summary(&report), (4, 0, 4, 0, 0, 5));
    assert_eq!(report["written"].as_array().unwrap().len(), 0);
    assert_eq!(
        f.state(),
        before,
        "a check that finds nothing new changes no file"
    );

    // node:22 is pushed again with new content: an update that schedules app in 7 days.
    let node2 = pusher
        .oci_index("lib/node", "22", "node v2")
        .digest
        .to_string();
    assert_ne!(node2, node);
    let report = f.check(T3, &[], &[]);
    // Five HEADs, and the new digest's index read once for its attestations (it has none).
    assert_eq!(summary(&report), (4, 0, 3, 1, 0, 6), "{report:#}");
    let r = row(&report, "node-22");
    assert_eq!(
        (r["outcome"].as_str(), r["digest"].as_str()),
        (Some("updated"), Some(node2.as_str()))
    );
    assert_eq!(r["previousDigest"], node.as_str());
    assert_eq!(r["scheduled"][0]["image"], "app");
    assert_eq!(r["scheduled"][0]["at"], "2026-11-11T00:00:00Z");
    let app = std::fs::read_to_string(f.root().join("state/images/app.yaml")).unwrap();
    assert!(app.contains("status: pending"), "{app}");
    assert!(
        f.base_file("node-22")
            .contains(&format!("previousDigest: {node}"))
    );

    // The text report says what changed, and the headroom line.
    pusher.oci_index("lib/node", "22", "node v3");
    let out = f.run(
        &["check", "--now", "2026-11-05T00:00:00Z", "--dry-run"],
        &[],
    );
    let text = common::stdout(&out);
    assert!(out.status.success());
    assert!(text.contains("updated"), "{text}");
    assert!(
        text.contains(&format!(
            "registry {}: 5 requests, no rate limit reported",
            registry.addr
        )),
        "{text}"
    );
    assert!(
        text.contains("checked 4 images: 1 updated, 0 baseline, 3 unchanged, 0 failed"),
        "{text}"
    );
    assert!(
        !text.contains("base-1"),
        "unchanged images are not listed:\n{text}"
    );
}

#[test]
fn dry_run_writes_nothing_and_image_checks_only_that_image() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    push_all(&pusher, "v1");
    let f = Factory::new(&registry.addr);
    let before = f.state();
    let report = f.check(T1, &["--dry-run"], &[]);
    assert_eq!(summary(&report).1, 4, "{report:#}");
    assert_eq!(report["dryRun"], true);
    assert_eq!(f.state(), before);

    let out = f.run(&["check", "--image", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("--image: no such image `nope`; neither"),
        "{}",
        common::stderr(&out)
    );
    let out = f.run(&["check", "--image", "app"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("is not watched"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(f.state(), before, "refused runs write nothing");

    let node = format!("{}/lib/node:22", registry.addr);
    let report = f.check(T1, &["--image", &node, "--image", "tool"], &[]);
    let names: Vec<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"tool") && names.iter().any(|n| n.contains("node-22")),
        "{names:?}"
    );
    assert_eq!(
        report["summary"]["requests"],
        2 + 1,
        "two manifests and one tag list"
    );
}

#[test]
fn a_missing_tag_fails_only_that_image_and_is_kept_until_it_resolves() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    push_all(&pusher, "v1");
    let f = Factory::with(
        &registry.addr,
        &[
            ("app", &["lib/node:22", "lib/gone:7"]),
            ("svc", &["lib/py:3"]),
        ],
    );
    let report = f.check(T1, &[], &[]);
    // Six requests: the 404 HEAD is followed by a GET, whose body tells an unknown tag
    // from an unknown repository.
    assert_eq!(summary(&report), (4, 3, 0, 0, 1, 6), "{report:#}");
    let gone = row(&report, "gone-7");
    assert_eq!(gone["outcome"], "failed");
    let error = gone["error"].as_str().unwrap();
    assert!(
        error.contains("lib/gone:7") && error.contains("not found"),
        "{error}"
    );
    let file = f.base_file("gone-7");
    assert!(
        file.contains("checkError:") && file.contains(&format!("checkErrorSince: \"{T1}\"")),
        "{file}"
    );
    assert!(!file.contains("currentDigest"), "{file}");

    // The same failure again: nothing new to write, the time stays.
    let before = f.state();
    let report = f.check(T2, &[], &[]);
    assert_eq!(summary(&report).4, 1);
    assert_eq!(f.state(), before);
    let out = f.run(&["status", "--utc", "--wide"], &[]);
    let status = common::stdout(&out);
    assert!(
        status.contains(&format!("check failed: {error} (since {T1})")),
        "{status}"
    );

    // Pushed at last: a baseline, and the failure is gone.
    let d = pusher
        .oci_manifest("lib/gone", "7", "gone")
        .digest
        .to_string();
    let report = f.check(T3, &[], &[]);
    assert_eq!(summary(&report), (4, 1, 3, 0, 0, 5), "{report:#}");
    let file = f.base_file("gone-7");
    assert!(
        file.contains(&format!("currentDigest: {d}")) && !file.contains("checkError"),
        "{file}"
    );
    assert!(
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().ends_with("check succeeds again"))
    );
}

#[test]
fn a_registry_that_does_not_answer_fails_each_image_and_the_run_goes_on() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    push_all(&pusher, "v1");
    let f = Factory::new(&registry.addr);
    drop(registry);
    let report = f.check(T1, &["--http-retries", "0"], &[]);
    assert_eq!(summary(&report).4, 4, "{report:#}");
    for image in ["node-22", "base-1", "py-3", "tool"] {
        let e = row(&report, image)["error"].as_str().unwrap().to_string();
        assert!(e.contains("cannot reach"), "{e}");
    }
    // The run exited 1 (checked by `f.check`); `--exit-zero` (the CronJob's init container,
    // which must not keep `reconcile` from running) records the same and exits 0.
    let out = f.run(
        &["check", "--now", T2, "--http-retries", "0", "--exit-zero"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        common::stdout(&out).contains("4 failed"),
        "{}",
        common::stdout(&out)
    );
}

#[test]
fn requests_are_one_manifest_head_per_image_through_a_counting_proxy() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    // Twelve base images over three repositories, all addressed through the proxy.
    let proxy = CountingProxy::start(&registry.addr);
    let mut from = Vec::new();
    for repo in ["r/one", "r/two", "r/three"] {
        for tag in ["1", "2", "3", "4"] {
            pusher.oci_index(repo, tag, &format!("{repo}:{tag}"));
            from.push(format!("{repo}:{tag}"));
        }
    }
    pusher.oci_manifest("lib/tool", "1.0.0", "tool");
    let refs: Vec<&str> = from.iter().map(String::as_str).collect();
    let f = Factory::with(&proxy.addr, &[("app", &refs)]);
    let report = f.check(T1, &["--concurrency", "4"], &[]);
    assert_eq!(summary(&report), (13, 13, 0, 0, 0, 14), "{report:#}");
    assert_eq!(
        proxy.count("HEAD", "/manifests/"),
        13,
        "twelve base images and the external image's picked tag: {:?}",
        proxy.requests()
    );
    assert_eq!(
        proxy.count("GET", "/tags/list"),
        1,
        "{:?}",
        proxy.requests()
    );
    assert_eq!(
        proxy.requests().len(),
        14,
        "nothing else: {:?}",
        proxy.requests()
    );
}

/// A watch that picks from the tag list lists its tags in its own job of the bounded queue,
/// right before its `HEAD`, not in a round of listings before the lookups (issue 22): with
/// `--concurrency 1` the requests are exactly, watch by watch in the plan's order, the
/// listing (when the watch picks) and then the manifest `HEAD`.
#[test]
fn a_tag_list_is_fetched_in_its_watchs_job_right_before_its_head() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pusher = Pusher::new(&registry.addr, None);
    let proxy = CountingProxy::start(&registry.addr);
    for repo in ["r/one", "r/two"] {
        pusher.oci_index(repo, "1", repo);
    }
    pusher.oci_manifest("lib/tool", "1.0.0", "tool");
    pusher.oci_manifest("lib/tool2", "1.2.0", "tool2");
    let f = Factory::with(&proxy.addr, &[("app", &["r/one:1", "r/two:1"])]);
    // A second external image that picks by SemVer.
    let images = f.root().join("images.yaml");
    let mut yaml = std::fs::read_to_string(&images).unwrap();
    yaml.push_str(&format!(
        "  - name: tool2\n    registry: {}\n    repository: lib/tool2\n    allowTags: ^1\\.\\d+\\.\\d+$\n    imageSelectionStrategy: SemVer\n",
        proxy.addr
    ));
    std::fs::write(&images, yaml).unwrap();
    let report = f.check(T1, &["--concurrency", "1"], &[]);
    assert_eq!(summary(&report).0, 4, "{report:#}");
    let mut expected = Vec::new();
    for row in report["images"].as_array().unwrap() {
        let repository = row["repository"].as_str().unwrap();
        let path = repository.split_once('/').unwrap().1;
        if path.starts_with("lib/tool") {
            // if-registry's page size (`TagQuery::default`).
            expected.push(format!("GET /v2/{path}/tags/list?n=100"));
        }
        expected.push(format!(
            "HEAD /v2/{path}/manifests/{}",
            row["tag"].as_str().unwrap()
        ));
    }
    let lists: Vec<usize> = (0..expected.len())
        .filter(|i| expected[*i].contains("/tags/list"))
        .collect();
    assert_eq!(lists.len(), 2, "{expected:?}");
    assert!(
        expected[lists[0]..lists[1]]
            .iter()
            .any(|r| r.starts_with("HEAD ")),
        "a HEAD between the two listings: {expected:?}"
    );
    assert_eq!(proxy.requests(), expected);
}

#[test]
fn basic_auth_from_docker_config_json() {
    let (user, password) = ("ci-bot", "s3cret-basic-pw");
    let registry = registry_or_skip!(RegistryAuth::Htpasswd {
        user: user.into(),
        password: password.into(),
    });
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let pusher = Pusher::new(&registry.addr, Some(format!("Basic {basic}")));
    push_all(&pusher, "v1");
    let f = Factory::new(&registry.addr);

    // Without credentials: every image fails with a clear refusal, nothing else.
    let report = f.check(T1, &[], &[]);
    assert_eq!(summary(&report).4, 4, "{report:#}");
    let e = row(&report, "node-22")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains("refused access (HTTP 401, no credentials configured)"),
        "{e}"
    );

    // With a config.json: all resolve.
    let docker = f.dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{basic}\"}}}}}}",
            registry.addr
        ),
    )
    .unwrap();
    let out = f.run(&["check", "--now", T2], &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(
        text.contains("checked 4 images: 0 updated, 4 baseline"),
        "{text}"
    );
    assert_no_secret(&f, &text, &[password, &basic]);
}

#[test]
fn a_broken_docker_config_is_refused_with_its_position() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let f = Factory::new(&registry.addr);
    let docker = f.dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), "{\n  \"auths\": {,\n}").unwrap();
    let before = f.state();
    let out = f.run(&["check", "--now", T1], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    let expected = format!(
        "{}:2:13: registry credentials file: not valid JSON",
        docker.join("config.json").display()
    );
    assert!(err.contains(&expected), "{err}");
    assert_eq!(f.state(), before);
}

#[test]
fn bearer_tokens_from_environment_credentials_one_request_for_all_repositories() {
    let (user, password) = ("robot", "tok-pw-7f3a");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(
        dir.path(),
        TokenPolicy {
            require: Some(format!("Basic {basic}")),
            expires_in: 300,
        },
    );
    let registry = registry_or_skip!(RegistryAuth::Token {
        realm: tokens.realm(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        rootcertbundle: tokens.cert_path.clone(),
    });
    let push_token = tokens
        .signer
        .push_auth(&["lib/node", "lib/base", "lib/py", "lib/tool"]);
    let pusher = Pusher::new(&registry.addr, Some(push_token));
    let [node, ..] = push_all(&pusher, "v1");
    pusher.oci_index("lib/node", "20", "node 20");
    let f = Factory::with(
        &registry.addr,
        &[
            ("app", &["lib/node:22", "lib/node:20", "lib/base:1"]),
            ("svc", &["lib/py:3"]),
        ],
    );
    let env = [
        ("IMAGE_FACTORY_REGISTRY_HOST", registry.addr.as_str()),
        ("IMAGE_FACTORY_REGISTRY_USERNAME", user),
        ("IMAGE_FACTORY_REGISTRY_PASSWORD", password),
    ];
    let asked_before = tokens.count();
    let report = f.check(T1, &["--concurrency", "1"], &env);
    assert_eq!(summary(&report).1, 5, "{report:#}");
    assert_eq!(row(&report, "node-22")["digest"], node.as_str());
    // Four repositories (node twice): one token request carrying the four scopes (the token
    // spec allows `scope` repeated), reused for every repository of the registry.
    assert_eq!(report["summary"]["tokenRequests"], 1, "{report:#}");
    assert_eq!(
        report["summary"]["tokenRequestsByRegistry"][registry.addr.as_str()],
        1
    );
    assert_eq!(tokens.count() - asked_before, 1);
    let mut scopes = tokens.requests().last().unwrap().scopes.clone();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "repository:lib/base:pull",
            "repository:lib/node:pull",
            "repository:lib/py:pull",
            "repository:lib/tool:pull"
        ]
    );
    let out = f.run(&["check", "--now", T2], &env);
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(out.status.success(), "{text}");
    assert_no_secret(&f, &text, &[password, &basic]);

    // Half the credentials: refused before any request, nothing written.
    let before = f.state();
    let out = f.run(&["check"], &env[..2]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("IMAGE_FACTORY_REGISTRY_PASSWORD"));
    assert_eq!(f.state(), before);
}

/// No secret in the output or in any state file.
fn assert_no_secret(f: &Factory, output: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!output.contains(s), "secret in output:\n{output}");
        for (path, text) in f.state() {
            assert!(!text.contains(s), "secret in {}", path.display());
        }
    }
}

#[test]
fn rate_limit_headroom_is_reported_and_429_is_retried_after_retry_after() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let ok = Answer::new(200)
        .header("Docker-Content-Digest", &digest)
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .header("RateLimit-Limit", "100;w=21600")
        .header("RateLimit-Remaining", "76;w=21600");
    let fake = FakeRegistry::start(vec![Answer::new(429).header("Retry-After", "1"), ok]);
    let f = Factory::build(&fake.addr, &[("app", &["lib/node:22"])], false);
    let out = f.run(&["check", "--now", T1], &[]);
    let text = common::stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    assert!(
        text.contains(&format!(
            "registry {}: 2 requests, 76 of 100 requests left per 21600s",
            fake.addr
        )),
        "{text}"
    );
    assert!(
        text.contains("checked 1 images: 0 updated, 1 baseline"),
        "{text}"
    );
    assert_eq!(
        fake.requests(),
        [
            "HEAD /v2/lib/node/manifests/22",
            "HEAD /v2/lib/node/manifests/22"
        ]
    );
    assert!(f.base_file("node-22").contains(&digest));

    // JSON: the same figures.
    fake.push(
        Answer::new(200)
            .header("Docker-Content-Digest", &digest)
            .header("RateLimit-Limit", "100;w=21600")
            .header("RateLimit-Remaining", "75;w=21600"),
    );
    let report = f.check(T2, &[], &[]);
    let host = &report["registries"][0];
    assert_eq!(host["rateLimit"]["remaining"], 75, "{report:#}");
    assert_eq!(host["rateLimit"]["limit"], 100);
    assert_eq!(host["rateLimit"]["windowSeconds"], 21600);
}

#[test]
fn a_mirror_is_asked_first_and_a_dead_one_falls_back_to_the_registry() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let mirror = registry_or_skip!(RegistryAuth::None);
    let pushed = Pusher::new(&registry.addr, None).oci_index("lib/node", "22", "same");
    let mirrored = Pusher::new(&mirror.addr, None).oci_index("lib/node", "22", "same");
    assert_eq!(pushed.digest, mirrored.digest);
    let f = Factory::build(&registry.addr, &[("app", &["lib/node:22"])], false);

    let to_mirror = format!("{}=http://{}", registry.addr, mirror.addr);
    let report = f.check(T1, &["--mirror", &to_mirror], &[]);
    assert_eq!(
        report["registries"][0]["host"],
        mirror.addr.as_str(),
        "{report:#}"
    );
    assert_eq!(row(&report, "node-22")["digest"], pushed.digest.to_string());

    let dead = format!(
        "{}=http://127.0.0.1:{}",
        registry.addr,
        if_testkit::registry::free_port()
    );
    let report = f.check(T2, &["--mirror", &dead, "--http-retries", "0"], &[]);
    let r = row(&report, "node-22");
    assert_eq!(r["outcome"], "unchanged", "{report:#}");
    let note = r["notes"][0].as_str().unwrap();
    assert!(
        note.starts_with("mirror failed, the registry answered: "),
        "{note}"
    );
    let hosts: Vec<&str> = report["registries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, [registry.addr.as_str()]);

    let out = f.run(&["check", "--mirror", "docker.io"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("is not REGISTRY=MIRROR"));
}

#[test]
fn a_progress_bar_goes_to_stderr_only_when_it_is_a_terminal() {
    let registry = registry_or_skip!(RegistryAuth::None);
    push_all(&Pusher::new(&registry.addr, None), "v1");
    let f = Factory::new(&registry.addr);
    // Not a terminal: no bar.
    let out = f.run(&["check", "--now", T1, "--dry-run"], &[]);
    assert!(
        !common::stderr(&out).contains("checking ["),
        "{}",
        common::stderr(&out)
    );
    // A terminal, through util-linux's `script` (a pseudo-terminal): the bar, on stderr only.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: the terminal half: `script` (util-linux) is not installed");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("image-factory");
    let json = f.dir.path().join("report.json");
    let line = format!(
        "DOCKER_CONFIG={} {} --root {} --format json check --now {T1} --dry-run > {}",
        f.dir.path().join("docker").display(),
        bin.display(),
        f.root().display(),
        json.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let terminal = common::stdout(&out);
    assert!(
        terminal.contains("checking [") && terminal.contains("] 4/4"),
        "{terminal:?}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        report["summary"]["checked"], 4,
        "stdout stays one JSON document"
    );
}
