//! `image-factory check` with the credentials platform teams already hold, against a real
//! registry (Debian's `docker-registry` on 127.0.0.1) with htpasswd or token auth:
//! credential helpers on `PATH` (`credsStore`, `credHelpers`), an `auth.json` through
//! `REGISTRY_AUTH_FILE`, namespace keys choosing users per repository, an `identitytoken`
//! exchanged by OAuth2, token reuse across 100 repositories, and Docker Hub's rate limit
//! from a scripted stand-in. No secret reaches stdout, stderr or any file written.
//!
//! The rules pinned, from their owners' documents:
//! * containers-auth.json(5): files read "in sequence until the valid credential is found"
//!   (`REGISTRY_AUTH_FILE` or `$XDG_RUNTIME_DIR/containers/auth.json`, then
//!   `~/.config/containers/auth.json`, then `~/.docker/config.json`); a key is "a single
//!   hostname (e.g., docker.io) or a namespace (e.g., quay.io/user/image)".
//! * docker/docker-credential-helpers: `docker-credential-<name> get`, the server URL on
//!   stdin, `{"ServerURL","Username","Secret"}` on stdout; Docker's `config.json` names a
//!   helper per registry (`credHelpers`) or one for all (`credsStore`).
//! * distribution's token spec (token.md: `scope` may be repeated; `expires_in` default 60 s)
//!   and oauth.md (`POST` form, `grant_type=refresh_token`, `client_id` required, scopes
//!   space-separated).
//! * Docker Hub's `ratelimit-limit`/`ratelimit-remaining: N;w=21600` headers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use if_testkit::registry::net::{Answer, FakeRegistry};
use if_testkit::registry::push::Pusher;
use if_testkit::registry::token::{Access, ISSUER, SERVICE, TokenPolicy, TokenServer, TokenUser};
use if_testkit::registry::{Registry, RegistryAuth};
use if_testkit::registry_or_skip;
use serde_json::Value;

const T1: &str = "2026-11-02T00:00:00Z";
/// How every bearer token of the test token server starts (a JWT: base64url of `{"`): none
/// may appear in any output or file.
const JWT: &str = "eyJ";

fn basic(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A factory whose one enrolled image `app` is built on `bases` (references without the
/// registry), and a home of its own: no credentials file of the machine's is read.
struct Factory {
    dir: tempfile::TempDir,
}

impl Factory {
    fn new(reg: &str, bases: &[&str]) -> Factory {
        Factory::many(reg, &[bases])
    }

    /// One enrolled image per list of bases (`app0`, `app1`, ...).
    fn many(reg: &str, images: &[&[&str]]) -> Factory {
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("images:\n");
        for (i, bases) in images.iter().enumerate() {
            let name = format!("app{i}");
            yaml.push_str(&format!(
                "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      provider: github\n      repo: acme/{name}\n      dockerfile: {name}/Dockerfile\n      workflow: build.yml\n"
            ));
            let mut dockerfile = String::new();
            for (s, b) in bases.iter().enumerate() {
                dockerfile.push_str(&format!("FROM {reg}/{b} AS s{s}\nRUN true\n"));
            }
            let src = dir.path().join("src").join(&name);
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join("Dockerfile"), dockerfile).unwrap();
        }
        let root = dir.path().join("factory");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("images.yaml"), yaml).unwrap();
        let f = Factory { dir };
        let out = f.run(
            &[
                "analyze",
                "--all",
                "--now",
                "2026-11-01T00:00:00Z",
                "--source-dir",
            ],
            &[],
        );
        assert!(out.status.success(), "{}", common::stderr(&out));
        f
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("factory")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` at `rel` (under the test's directory), creating its directory.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `image-factory --root ROOT ARGS` with a hermetic environment (`HOME`, `XDG_*`,
    /// `DOCKER_CONFIG` inside `home/`, see `common::registry_env`; `bin/` first on `PATH`)
    /// plus `env`.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut cmd = common::bin();
        cmd.arg("--root").arg(self.root()).args(args);
        if args.last() == Some(&"--source-dir") {
            cmd.arg(self.path("src"));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.path("bin")];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        common::registry_env(&mut cmd, &self.path("home"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// `check --format json` at T1 with `args`: the report and all of stdout + stderr.
    fn check(&self, args: &[&str], env: &[(&str, &str)]) -> (Value, String, Option<i32>) {
        let mut all = vec!["--format", "json", "check", "--now", T1];
        all.extend_from_slice(args);
        let out = self.run(&all, env);
        let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
        let report: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{text}"));
        (report, text, out.status.code())
    }

    /// A credential helper `docker-credential-NAME` in `bin/`: it appends the server URL it
    /// was asked about to `helper-calls`, and runs `body` (shell).
    fn helper(&self, name: &str, body: &str) {
        let calls = self.path("helper-calls");
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 9\nread -r server\necho \"{name} $server\" >> '{}'\n{body}\n",
            calls.display()
        );
        let path = self.write(&format!("bin/docker-credential-{name}"), &script);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The helper calls so far (`NAME SERVER` each).
    fn helper_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("helper-calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// No secret in `output`, nor in any file under the factory root.
    fn assert_no_secret(&self, output: &str, secrets: &[&str]) {
        for s in secrets {
            assert!(!output.contains(s), "secret {s} in output:\n{output}");
            for (path, text) in files(&self.root()) {
                assert!(!text.contains(s), "secret {s} in {}", path.display());
            }
        }
    }
}

/// Every file under `dir`, with its (lossy) text.
fn files(dir: &Path) -> Vec<(PathBuf, String)> {
    common::tree_of(dir)
        .into_iter()
        .map(|(p, bytes)| (p, String::from_utf8_lossy(&bytes).into_owned()))
        .collect()
}

/// The state files under `dir` whose file name (not the whole path: the temporary
/// directory's random name may hold `part` too) contains `part`, concatenated.
fn state_named(dir: &Path, part: &str) -> String {
    files(dir)
        .into_iter()
        .filter(|(p, _)| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(part))
        })
        .map(|(_, t)| t)
        .collect()
}

fn summary(report: &Value, key: &str) -> u64 {
    report["summary"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {report:#}"))
}

/// The report's row whose image name contains `part`.
fn row<'a>(report: &'a Value, part: &str) -> &'a Value {
    report["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["image"].as_str().unwrap().contains(part))
        .unwrap_or_else(|| panic!("no row for {part} in {report:#}"))
}

/// A token server with `access` (requiring `require` of anonymous askers) and a registry
/// behind it holding `images` (`(repository, tag)`, pushed with the signer's own token);
/// `None` when `docker-registry` is not installed.
fn token_registry(
    dir: &Path,
    require: Option<String>,
    access: Access,
    images: &[(&str, &str)],
) -> Option<(TokenServer, Registry)> {
    let policy = TokenPolicy {
        require,
        expires_in: 300,
    };
    let tokens = TokenServer::start_with_access(dir, policy, access);
    let registry = Registry::start(RegistryAuth::Token {
        realm: tokens.realm(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        rootcertbundle: tokens.cert_path.clone(),
    })?;
    let repos: Vec<&str> = images.iter().map(|(r, _)| *r).collect();
    let pusher = Pusher::new(&registry.addr, Some(tokens.signer.push_auth(&repos)));
    for (repo, tag) in images {
        pusher.oci_manifest(repo, tag, &format!("{repo}:{tag}"));
    }
    Some((tokens, registry))
}

macro_rules! token_registry_or_skip {
    ($($arg:expr),+) => {
        match token_registry($($arg),+) {
            Some(both) => both,
            None => {
                eprintln!(
                    "skipping: docker-registry is not installed (apt-get install docker-registry)"
                );
                return;
            }
        }
    };
}

#[test]
fn credential_helpers_from_creds_store_and_cred_helpers_run_once_per_registry() {
    let (user, password) = ("helper-user", "helper-pw-93kd");
    let registry = registry_or_skip!(RegistryAuth::Htpasswd {
        user: user.into(),
        password: password.into(),
    });
    let pusher = Pusher::new(
        &registry.addr,
        Some(format!("Basic {}", basic(user, password))),
    );
    for repo in ["lib/a", "lib/b", "lib/c"] {
        pusher.oci_manifest(repo, "1", repo);
    }
    let f = Factory::new(&registry.addr, &["lib/a:1", "lib/b:1", "lib/c:1"]);
    let answer = format!(
        "printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{password}\"}}' \"$server\""
    );
    f.helper("store", &answer);
    f.write(
        "home/.docker/config.json",
        &format!(
            "{{\"auths\": {{\"{}\": {{}}}}, \"credsStore\": \"store\"}}",
            registry.addr
        ),
    );
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(summary(&report, "baseline"), 3, "{report:#}");
    // Three repositories, one registry: the helper ran once, asked about the registry.
    assert_eq!(f.helper_calls(), [format!("store {}", registry.addr)]);
    assert_eq!(summary(&report, "helperRuns"), 1);
    f.assert_no_secret(&text, &[password, &basic(user, password)]);

    // `credHelpers` for the registry wins over `credsStore`; a store that fails is then
    // never run. A helper that prints the secret on stderr and fails: the images fail with
    // "helper ... failed (exit 3)" and the secret is nowhere.
    f.helper(
        "leaky",
        &format!("echo 'oops {password}' >&2\necho '{password}'\nexit 3"),
    );
    f.write(
        "home/.docker/config.json",
        &format!(
            "{{\"credsStore\": \"store\", \"credHelpers\": {{\"{}\": \"leaky\"}}}}",
            registry.addr
        ),
    );
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(summary(&report, "failed"), 3, "{report:#}");
    let error = row(&report, "lib-a")["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("helper docker-credential-leaky failed (exit 3)"),
        "{error}"
    );
    assert_eq!(f.helper_calls().len(), 2, "{:?}", f.helper_calls());
    assert!(f.helper_calls()[1].starts_with("leaky "));
    f.assert_no_secret(&text, &[password, "oops"]);

    // A helper that hangs is stopped after --helper-timeout.
    f.helper("slow", "sleep 5");
    f.write(
        "home/.docker/config.json",
        &format!("{{\"credHelpers\": {{\"{}\": \"slow\"}}}}", registry.addr),
    );
    let started = std::time::Instant::now();
    let (report, text, _) = f.check(&["--helper-timeout", "1"], &[]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{text}"
    );
    let error = row(&report, "lib-b")["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("did not answer within 1s and was stopped"),
        "{error}"
    );
}

#[test]
fn auth_json_through_registry_auth_file_with_namespace_keys_choosing_users() {
    let dir = tempfile::tempdir().unwrap();
    let users = [
        ("node-reader", "pw-node-4411", "lib/node"),
        ("py-reader", "pw-py-8822", "team/py"),
    ];
    let access = Access {
        users: users
            .iter()
            .map(|(name, password, repo)| TokenUser {
                name: (*name).into(),
                password: (*password).into(),
                repos: vec![(*repo).into()],
            })
            .collect(),
        refresh_tokens: Vec::new(),
    };
    let images = [("lib/node", "22"), ("team/py", "3")];
    let (tokens, registry) = token_registry_or_skip!(dir.path(), None, access, &images);
    let f = Factory::new(&registry.addr, &["lib/node:22", "team/py:3"]);
    let reg = &registry.addr;
    // The repository key and the namespace key each choose their user; the host key (a
    // user allowed nothing) is for the rest. A wrong config.json comes after auth.json.
    let auth_json = f.write(
        "secrets/auth.json",
        &format!(
            r#"{{"auths": {{
                "{reg}": {{"auth": "{}"}},
                "{reg}/lib/node": {{"auth": "{}"}},
                "{reg}/team": {{"username": "{}", "password": "{}"}}
            }}}}"#,
            basic("nobody", "pw-nobody"),
            basic(users[0].0, users[0].1),
            users[1].0,
            users[1].1
        ),
    );
    f.write(
        "home/.docker/config.json",
        &format!(
            r#"{{"auths": {{"{reg}": {{"auth": "{}"}}}}}}"#,
            basic("wrong", "pw-wrong")
        ),
    );
    let auth_file = auth_json.to_str().unwrap();
    let (report, text, code) = f.check(&[], &[("REGISTRY_AUTH_FILE", auth_file)]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(summary(&report, "baseline"), 2, "{report:#}");
    let mut asked: Vec<(Option<String>, Vec<String>)> = tokens
        .requests()
        .into_iter()
        .map(|r| (r.user, r.scopes))
        .collect();
    asked.sort();
    // Two users: two token requests, each with its own repository's scope only.
    assert_eq!(
        asked,
        [
            (
                Some(users[0].0.to_owned()),
                vec!["repository:lib/node:pull".to_owned()]
            ),
            (
                Some(users[1].0.to_owned()),
                vec!["repository:team/py:pull".to_owned()]
            ),
        ]
    );
    assert_eq!(summary(&report, "tokenRequests"), 2);
    f.assert_no_secret(
        &text,
        &[users[0].1, users[1].1, "pw-nobody", "pw-wrong", JWT],
    );

    // The same file as ~/.config/containers/auth.json (no REGISTRY_AUTH_FILE): the same
    // users; as $XDG_RUNTIME_DIR/containers/auth.json it comes before that one.
    let text_of = |p: &Path| std::fs::read_to_string(p).unwrap();
    f.write("home/.config/containers/auth.json", &text_of(&auth_json));
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!((code, summary(&report, "baseline")), (Some(0), 0), "{text}");
    assert_eq!(summary(&report, "unchanged"), 2, "{report:#}");
    f.write(
        "home/run/containers/auth.json",
        &format!(
            r#"{{"auths": {{"{reg}": {{"auth": "{}"}}}}}}"#,
            basic("nobody", "pw-nobody")
        ),
    );
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!(code, Some(1), "{text}");
    let error = row(&report, "node")["error"].as_str().unwrap().to_owned();
    assert!(error.contains("refused access"), "{error}");
}

#[test]
fn an_identity_token_is_exchanged_with_the_refresh_token_grant() {
    let dir = tempfile::tempdir().unwrap();
    let refresh = "refresh-tok-5bd1c";
    let access = Access {
        users: vec![TokenUser {
            name: "acr-user".into(),
            password: "unused-pw".into(),
            repos: Vec::new(),
        }],
        refresh_tokens: vec![(refresh.into(), "acr-user".into())],
    };
    let images = [("lib/a", "1"), ("lib/b", "1")];
    let (tokens, registry) = token_registry_or_skip!(dir.path(), None, access, &images);
    let f = Factory::new(&registry.addr, &["lib/a:1", "lib/b:1"]);
    f.write(
        "home/.docker/config.json",
        &format!(
            r#"{{"auths": {{"{}": {{"auth": "", "identitytoken": "{refresh}"}}}}}}"#,
            registry.addr
        ),
    );
    let (report, text, code) = f.check(&["--concurrency", "1"], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(summary(&report, "baseline"), 2, "{report:#}");
    let asked = tokens.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "POST");
    assert_eq!(asked[0].grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(asked[0].user.as_deref(), Some("acr-user"));
    assert_eq!(asked[0].service.as_deref(), Some(SERVICE));
    assert_eq!(
        asked[0].authorization, None,
        "the refresh token goes in the form only"
    );
    let mut scopes = asked[0].scopes.clone();
    scopes.sort();
    assert_eq!(scopes, ["repository:lib/a:pull", "repository:lib/b:pull"]);
    f.assert_no_secret(&text, &[refresh, JWT]);

    // A refresh token the server does not know: refused, said, and not quoted.
    f.write(
        "home/.docker/config.json",
        &format!(
            r#"{{"auths": {{"{}": {{"identitytoken": "stale-refresh-77"}}}}}}"#,
            registry.addr
        ),
    );
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!(code, Some(1), "{text}");
    let error = row(&report, "lib-a")["error"].as_str().unwrap().to_owned();
    assert!(error.contains("invalid_grant"), "{error}");
    f.assert_no_secret(&text, &["stale-refresh-77"]);
}

mod limits;
