//! The rebuild CLI tests' factory (`tests/fixtures/rebuild`), analysed in a temporary
//! directory exactly as a user would, with a `FakeForge` behind every command.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use if_model::state::ImageState;
use if_testkit::{FakeForge, Recorded};
use serde_json::{Value, json};

use super::{bin, copy_tree, stderr, stdout};

/// The GitHub token the fake accepts.
pub const GH_TOKEN: &str = "ghp_S3cretGithubTok3n0123456789abcdef";
/// The GitLab token the fake accepts.
pub const GL_TOKEN: &str = "glpat-S3cretGitlabTok3n-xyz987";
/// A GitHub token the fake refuses (401 Bad credentials).
pub const WRONG_GH_TOKEN: &str = "ghp_WrongTok3nWrongTok3nWrongTok3n00";
/// Every token a test may hand to the binary: none may show up in output or state.
pub const SECRETS: [&str; 3] = [GH_TOKEN, GL_TOKEN, WRONG_GH_TOKEN];

/// `record-update --image IMAGE --digest DIGEST --now NOW`.
pub fn record_update<'a>(image: &'a str, digest: &'a str, now: &'a str) -> [&'a str; 7] {
    [
        "record-update",
        "--image",
        image,
        "--digest",
        digest,
        "--now",
        now,
    ]
}

/// `sha256:` followed by 64 times `c`.
pub fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// Day `n` of the timeline at `HH:MM` (day 0 is 2026-03-10, the day of the new digest).
pub fn day_at(n: i32, hhmm: &str) -> String {
    let dom = 10 + n;
    assert!((1..=31).contains(&dom), "day {n} leaves March");
    format!("2026-03-{dom:02}T{hhmm}:00Z")
}

/// Day `n` of the timeline at 10:00.
pub fn day(n: i32) -> String {
    day_at(n, "10:00")
}

/// A factory root with its state analysed, a fake forge, and a log of every output.
pub struct Factory {
    /// Holds `factory/` (the root) and `src/` (the Dockerfiles).
    pub dir: tempfile::TempDir,
    /// The factory root (`images.yaml`, `state/`).
    pub root: PathBuf,
    /// The fake GitHub and GitLab.
    pub forge: FakeForge,
    outputs: RefCell<Vec<String>>,
}

impl Factory {
    /// Copies the fixture and runs `analyze --all` at day -2.
    pub fn setup() -> Factory {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rebuild");
        Factory::analysed(&day(-2), |dir, root| {
            std::fs::copy(fixture.join("images.yaml"), root.join("images.yaml")).unwrap();
            copy_tree(&fixture.join("src"), &dir.join("src"), &|_| false);
        })
    }

    /// A factory of `images_yaml` with the Dockerfiles `src` (`(path under src/, text)`),
    /// analysed at `now`.
    pub fn setup_with(images_yaml: &str, src: &[(&str, &str)], now: &str) -> Factory {
        Factory::analysed(now, |dir, root| {
            std::fs::write(root.join("images.yaml"), images_yaml).unwrap();
            for (path, text) in src {
                let path = dir.join("src").join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
        })
    }

    /// A temporary directory whose `factory/` root `fill(dir, root)` fills, analysed at `now`.
    fn analysed(now: &str, fill: impl FnOnce(&Path, &Path)) -> Factory {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("factory");
        std::fs::create_dir_all(&root).unwrap();
        fill(dir.path(), &root);
        let f = Factory {
            root,
            forge: FakeForge::start(GH_TOKEN, GL_TOKEN),
            outputs: RefCell::new(Vec::new()),
            dir,
        };
        let src = f.dir.path().join("src").display().to_string();
        f.ok(&["analyze", "--all", "--source-dir", &src, "--now", now]);
        f
    }

    /// `image-factory --root ROOT ARGS` with both tokens and the fake's API bases set.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.env("GITHUB_TOKEN", GH_TOKEN)
            .env("GITLAB_TOKEN", GL_TOKEN)
            .env("IMAGE_FACTORY_GITHUB_API", self.forge.github_api())
            .env("IMAGE_FACTORY_GITLAB_API", self.forge.gitlab_api())
            .arg("--root")
            .arg(&self.root)
            .args(args);
        cmd
    }

    /// Runs a command made by [`Factory::cmd`], keeping its output for the secrets check.
    pub fn exec(&self, mut cmd: Command) -> Output {
        let out = cmd.output().unwrap();
        let mut log = self.outputs.borrow_mut();
        log.push(stdout(&out));
        log.push(stderr(&out));
        out
    }

    /// Runs `ARGS` and returns the output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.exec(self.cmd(args))
    }

    /// Runs `ARGS`, asserts exit code 0 and returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    }

    /// Runs `--format json ARGS` and parses stdout, asserting the exit code the report calls
    /// for: 1 when a trigger failed, a build timed out or a cycle was found (recorded, the
    /// rest went on: a person should look), else 0.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{all:?}: {e}: {}", stderr(&out)));
        let nonempty = |key: &str| v[key].as_array().is_some_and(|a| !a.is_empty());
        let failed = v["triggers"]
            .as_array()
            .is_some_and(|t| t.iter().any(|r| r["result"] == "failed"))
            || nonempty("timed_out")
            || nonempty("timedOut")
            || nonempty("cycles");
        assert_eq!(
            out.status.code(),
            Some(i32::from(failed)),
            "{all:?}: {}",
            stderr(&out)
        );
        v
    }

    /// Runs `ARGS`, asserts exit code 2 and that nothing under the root changed; returns
    /// stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let before = self.tree();
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
        assert_eq!(self.tree(), before, "{args:?} wrote something");
        stderr(&out)
    }

    /// `reconcile --format json --now NOW EXTRA...`, asserting exit code 0.
    pub fn reconcile(&self, now: &str, extra: &[&str]) -> Value {
        self.json(&[&["reconcile", "--now", now][..], extra].concat())
    }

    /// `record-update --format json --image IMAGE --digest DIGEST --now NOW`.
    pub fn record(&self, image: &str, digest: &str, now: &str) -> Value {
        self.json(&record_update(image, digest, now))
    }

    /// The `status --wide --utc` text line of `name` (everything on it, exact times).
    pub fn status_line(&self, name: &str) -> String {
        let text = self.ok(&["status", "--wide", "--utc"]);
        let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    }

    /// `status --format json`: the row of every image and base image, by name.
    pub fn status(&self) -> BTreeMap<String, Value> {
        self.status_with(&[])
    }

    /// `status --format json EXTRA`: the row of every image and base image, by name.
    pub fn status_with(&self, extra: &[&str]) -> BTreeMap<String, Value> {
        let v = self.json(&[&["status"][..], extra].concat());
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    }

    /// `status --format json` of one image: its `rebuild` (`null` for a base image).
    pub fn rebuild(&self, name: &str) -> Value {
        self.status()[name]["rebuild"].clone()
    }

    /// The parsed state file of image `name`.
    pub fn image_state(&self, name: &str) -> ImageState {
        let path = self.root.join(format!("state/images/{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let (state, diags) = if_model::state::parse_image(&text, &path.display().to_string());
        assert!(diags.is_empty(), "{diags:?}");
        state.unwrap()
    }

    /// Every file under the temporary directory, with its bytes.
    pub fn tree(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        super::tree_of(self.dir.path())
    }

    /// The triggers the fake received (its POSTs), in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.forge
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// Every request the fake received (the triggers, and `reconcile`'s polls of the builds
    /// they started), in order.
    pub fn all_requests(&self) -> Vec<Recorded> {
        self.forge.requests()
    }

    /// No token in any output so far nor in any file under the temporary directory.
    pub fn assert_no_secrets(&self) {
        let log = self.outputs.borrow();
        assert!(!log.is_empty());
        for secret in SECRETS {
            for text in log.iter() {
                assert!(!text.contains(secret), "a token was printed: {text}");
            }
            for (path, bytes) in self.tree() {
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains(secret), "{} holds a token", path.display());
            }
        }
    }
}

/// A row of `waiting` in a `reconcile --format json` report.
pub fn waiting(image: &str, until: Option<&str>, blocked_by: &[&str], why: &str) -> Value {
    json!({"image": image, "until": until, "blockedBy": blocked_by, "why": why})
}

/// The names of the inputs every build gets.
fn input_names() -> Vec<&'static str> {
    if_state::rebuild::INPUTS.iter().map(|(n, _)| *n).collect()
}

/// The keys of a JSON object, sorted.
fn keys_of(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The inputs as a map with `causes` parsed and the dispatch id taken off `reason` (after
/// checking it is there), for comparing with `json!`.
fn parsed(mut inputs: serde_json::Map<String, Value>) -> Value {
    let causes = inputs["causes"].as_str().unwrap().to_string();
    inputs.insert("causes".into(), serde_json::from_str(&causes).unwrap());
    let reason = inputs["reason"].as_str().unwrap().to_string();
    inputs.insert("reason".into(), Value::String(without_dispatch_id(&reason)));
    Value::Object(inputs)
}

/// The inputs of a dispatch, whatever was answered (`causes` parsed, dispatch id off).
pub fn github_inputs_of(req: &Recorded) -> Value {
    parsed(req.json()["inputs"].as_object().unwrap().clone())
}

/// `reason` without the ` [if-1a2b3c4d]` that every trigger puts at its end (asserted).
pub fn without_dispatch_id(reason: &str) -> String {
    let (text, id) = reason
        .rsplit_once(" [if-")
        .unwrap_or_else(|| panic!("no dispatch id in {reason:?}"));
    let hex = id.strip_suffix(']').unwrap_or_else(|| panic!("{reason:?}"));
    assert!(
        hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{reason:?}"
    );
    text.to_string()
}

/// Asserts `req` is a correct GitHub `workflow_dispatch` of `workflow` in `repo` on
/// `branch` with the right token, and returns its inputs (`causes` parsed).
pub fn github_inputs(req: &Recorded, repo: &str, workflow: &str, branch: &str) -> Value {
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path,
        format!("/repos/{repo}/actions/workflows/{workflow}/dispatches")
    );
    assert_eq!(req.violations, Vec::<String>::new(), "{req:?}");
    // GitHub answers 200 with the run's id and pages when the body asks for
    // `return_run_details` ("Create a workflow dispatch event", changelog 2026-02-19).
    assert_eq!(req.response_status, 200);
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {GH_TOKEN}").as_str())
    );
    assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(req.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(
        req.header("user-agent")
            .unwrap()
            .starts_with("image-factory/")
    );
    assert_eq!(req.header("private-token"), None);
    let body = req.json();
    assert_eq!(keys_of(&body), ["inputs", "ref", "return_run_details"]);
    assert_eq!(body["return_run_details"], true);
    assert_eq!(body["ref"], branch);
    let mut want = input_names();
    want.sort_unstable();
    assert_eq!(keys_of(&body["inputs"]), want);
    parsed(body["inputs"].as_object().unwrap().clone())
}

/// Asserts `req` creates a GitLab pipeline of `project` on `branch` with the right token,
/// the inputs as `IMAGE_FACTORY_*` variables in the order of `INPUTS`, then
/// `IMAGE_FACTORY_JOB` = `job`; returns the inputs by name (`causes` parsed).
pub fn gitlab_inputs(req: &Recorded, project: &str, branch: &str, job: &str) -> Value {
    assert_eq!(req.method, "POST");
    let encoded = project.replace('/', "%2F");
    assert_eq!(req.path, format!("/api/v4/projects/{encoded}/pipeline"));
    assert_eq!(req.violations, Vec::<String>::new(), "{req:?}");
    assert_eq!(req.response_status, 201);
    assert_eq!(req.header("private-token"), Some(GL_TOKEN));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert!(
        req.header("user-agent")
            .unwrap()
            .starts_with("image-factory/")
    );
    let body = req.json();
    assert_eq!(keys_of(&body), ["ref", "variables"]);
    assert_eq!(body["ref"], branch);
    let vars = body["variables"].as_array().unwrap();
    let keys: Vec<&str> = vars.iter().map(|v| v["key"].as_str().unwrap()).collect();
    let mut want: Vec<String> = input_names()
        .iter()
        .map(|n| format!("IMAGE_FACTORY_{}", n.to_uppercase()))
        .collect();
    want.push("IMAGE_FACTORY_JOB".into());
    assert_eq!(keys, want);
    assert_eq!(vars.last().unwrap()["value"], job);
    let inputs = input_names()
        .into_iter()
        .zip(vars)
        .map(|(name, v)| {
            assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
            (name.to_string(), v["value"].clone())
        })
        .collect();
    parsed(inputs)
}
