//! The generator's configuration: `kargo.yaml` beside `images.yaml` (optional; every key has
//! a default). Read through if-model's YAML seam and decoder, so problems are reported as
//! `path:line:col` and unknown keys are rejected with the closest known key.
//!
//! ```yaml
//! project: image-factory            # Kargo Project, and so the namespace of everything else
//! analyzer:
//!   image: ghcr.io/acme/image-factory:0.1.0   # runs record-update, reconcile, analyze
//!   serviceAccount: image-factory   # optional
//!   podLabels:                      # optional labels of every analyzer pod (e.g. Azure
//!     azure.workload.identity/use: "true"   # Workload ID's webhook selects pods by one)
//! warehouses:
//!   interval: 6h                    # registry discovery interval (Docker Hub rate limits)
//!   platform: linux/amd64           # optional os/arch of the tracked digests
//! reconcile:                        # the CronJob that serves waiting rebuilds on time
//!   schedule: "0 * * * *"           # five-field cron (or @hourly, @daily, ...); hourly
//!   check: false                    # run `check` first (asks the registries itself)
//!   scanWith: trivy                 # optional, needs check: `check --scan-with trivy`
//! verification:                     # the job Kargo runs for each new Freight
//!   scanWith: trivy                 # optional: `record-update --scan-with trivy`
//! state:                            # the git repository holding images.yaml and state/
//!   repoURL: https://github.com/acme/platform.git   # optional: no clone/push without it
//!   branch: main
//!   path: image-factory             # the factory root inside that repository
//! secrets:                          # Secret names in the Project's namespace
//!   github: image-factory-github    # key `token`: GITHUB_TOKEN
//!   gitlab: image-factory-gitlab    # key `token`: GITLAB_TOKEN
//!   git: image-factory-git          # key `password`: IMAGE_FACTORY_GIT_TOKEN (clone, push)
//!   webhook: image-factory-webhook  # key `secret`: the generic webhook receiver
//! credentials:                      # optional Secrets mounted read-only into the analyzer
//!   githubApp: image-factory-github-app        # keys appId, installationId, privateKey
//!   hostRules: image-factory-host-rules        # key hostRules, plus the key files it names
//!   registryAuth: image-factory-registry-auth  # kubernetes.io/dockerconfigjson, for `check`
//! webhookReceiver: false            # generic receiver that refreshes base-image Warehouses
//! dockerfileWatch:
//!   enabled: false                  # git Warehouse + Stage re-running analyze per managed image
//!   githubURL: https://github.com
//!   gitlabURL: https://gitlab.com
//! ```

use std::collections::BTreeMap;

use if_model::decode::{Decoder, Fields, Unknown};
use if_model::diag::Diagnostic;
use if_model::duration::Duration;
use if_model::enrollment::check_relative_path;
use if_model::yaml::{self, Node, Value};

mod values;

pub use values::check_cron;
use values::{
    check_branch, check_git_url, check_http_url, check_image, check_label, check_label_key,
    check_label_value, check_platform, check_subdomain,
};

/// The file name of the configuration, beside `images.yaml`.
pub const FILE_NAME: &str = "kargo.yaml";

/// The analyzer image used when `analyzer.image` is not set: this version of Image Factory.
pub const DEFAULT_ANALYZER_IMAGE: &str = concat!(
    "ghcr.io/image-factory/image-factory:",
    env!("CARGO_PKG_VERSION")
);

/// The generator's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Kargo Project name, also the namespace of every other resource.
    pub project: String,
    /// The analyzer container image.
    pub analyzer_image: String,
    /// The analyzer pods' service account.
    pub service_account: Option<String>,
    /// Labels of every analyzer pod (the pod template's, not the Job's), sorted.
    pub pod_labels: BTreeMap<String, String>,
    /// Warehouse discovery interval.
    pub warehouse_interval: Duration,
    /// `os/arch` of the tracked digests.
    pub platform: Option<String>,
    /// The scheduled `reconcile`.
    pub reconcile: Reconcile,
    /// Kargo's verification of each new Freight.
    pub verification: Verification,
    /// The state repository.
    pub state: StateRepo,
    /// Secret names.
    pub secrets: Secrets,
    /// The optional credential Secrets mounted as files.
    pub credentials: Credentials,
    /// Emit the generic webhook receiver.
    pub webhook_receiver: bool,
    /// Emit the Dockerfile watch.
    pub dockerfile_watch: DockerfileWatch,
}

/// Where the analyzer finds and commits the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRepo {
    /// Git URL; without it the analyzer runs on `path` inside its own image.
    pub repo_url: Option<String>,
    /// Branch.
    pub branch: String,
    /// The factory root inside the repository.
    pub path: String,
}

/// The CronJob running `reconcile` (and optionally `check`) on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    /// The cron schedule (five fields, or a macro such as `@hourly`).
    pub schedule: String,
    /// Run `check` before `reconcile`.
    pub check: bool,
    /// Have that `check` scan each new base digest (`check --scan-with`): the analyzer
    /// image must carry the scanner.
    pub scan_with: Option<ScanWith>,
}

/// The verification Kargo runs for a new Freight (the `image-factory-record-update`
/// AnalysisTemplate).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Have its `record-update` scan the digest it records (`record-update --scan-with`):
    /// the analyzer image must carry the scanner.
    pub scan_with: Option<ScanWith>,
}

/// A vulnerability scanner `check --scan-with` runs in the analyzer image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanWith {
    /// Aqua Security's Trivy.
    Trivy,
}

impl ScanWith {
    /// Its name: in `kargo.yaml` and as the value of `--scan-with`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanWith::Trivy => "trivy",
        }
    }
}

/// The schedule of the CronJob when `reconcile.schedule` is not set: every hour, on the hour.
pub const DEFAULT_SCHEDULE: &str = "0 * * * *";

/// Names of the Secrets the resources refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// Key `token`: `GITHUB_TOKEN`.
    pub github: String,
    /// Key `token`: `GITLAB_TOKEN`.
    pub gitlab: String,
    /// Key `password`: `IMAGE_FACTORY_GIT_TOKEN` of the analyzer's clone and push.
    pub git: String,
    /// The generic webhook receiver's secret.
    pub webhook: String,
}

/// The credential Secrets of `credentials:`, each absent unless named; the analyzer
/// containers that need one mount it under [`crate::pod::CREDENTIALS_DIR`] and get the
/// variable the CLI reads it from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// A GitHub App: keys `appId`, `installationId` (`GITHUB_APP_ID`,
    /// `GITHUB_APP_INSTALLATION_ID`) and `privateKey` (the PEM, `GITHUB_APP_PRIVATE_KEY_FILE`).
    pub github_app: Option<String>,
    /// A host-rules file: key `hostRules` (`IMAGE_FACTORY_HOST_RULES`) and the key files its
    /// `githubApp` rules name, every key mounted as a file of the same name.
    pub host_rules: Option<String>,
    /// A registry pull Secret (`kubernetes.io/dockerconfigjson`): key `.dockerconfigjson`
    /// as `config.json` (`REGISTRY_AUTH_FILE`), for `check`.
    pub registry_auth: Option<String>,
}

/// The optional Dockerfile watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileWatch {
    /// Emit it.
    pub enabled: bool,
    /// Base URL of GitHub repositories.
    pub github_url: String,
    /// Base URL of GitLab repositories.
    pub gitlab_url: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            project: "image-factory".to_string(),
            analyzer_image: DEFAULT_ANALYZER_IMAGE.to_string(),
            service_account: None,
            pod_labels: BTreeMap::new(),
            warehouse_interval: Duration::from_minutes(6 * 60),
            platform: None,
            reconcile: Reconcile {
                schedule: DEFAULT_SCHEDULE.to_string(),
                check: false,
                scan_with: None,
            },
            verification: Verification::default(),
            state: StateRepo {
                repo_url: None,
                branch: "main".to_string(),
                path: "image-factory".to_string(),
            },
            secrets: Secrets {
                github: "image-factory-github".to_string(),
                gitlab: "image-factory-gitlab".to_string(),
                git: "image-factory-git".to_string(),
                webhook: "image-factory-webhook".to_string(),
            },
            credentials: Credentials::default(),
            webhook_receiver: false,
            dockerfile_watch: DockerfileWatch {
                enabled: false,
                github_url: "https://github.com".to_string(),
                gitlab_url: "https://gitlab.com".to_string(),
            },
        }
    }
}

const TOP: &[&str] = &[
    "project",
    "analyzer",
    "warehouses",
    "analysis",
    "reconcile",
    "verification",
    "state",
    "secrets",
    "credentials",
    "webhookReceiver",
    "dockerfileWatch",
];
const ANALYZER: &[&str] = &["image", "serviceAccount", "podLabels"];
/// The most `analyzer.podLabels` read (a pod needs a few; this bounds the input).
pub const MAX_POD_LABELS: usize = 32;
const WAREHOUSES: &[&str] = &["interval", "platform"];
const RECONCILE: &[&str] = &["schedule", "check", "scanWith"];
const VERIFICATION: &[&str] = &["scanWith"];
const STATE: &[&str] = &["repoURL", "branch", "path", "gitImage"];
const SECRETS: &[&str] = &["github", "gitlab", "git", "webhook"];
const CREDENTIALS: &[&str] = &["githubApp", "hostRules", "registryAuth"];
const DOCKERFILE_WATCH: &[&str] = &["enabled", "githubURL", "gitlabURL"];

impl Config {
    /// Reads `kargo.yaml`. `file` names it in messages. Returns the configuration (defaults
    /// where a value is absent or wrong) and every problem found.
    pub fn parse(src: &str, file: &str) -> (Config, Vec<Diagnostic>) {
        let mut c = Config::default();
        let mut d = Decoder::new(file);
        let doc = match yaml::parse(src) {
            Ok(doc) => doc,
            Err(e) => {
                d.error(e.pos, e.message);
                return (c, d.finish());
            }
        };
        if doc.is_null() {
            return (c, d.finish());
        }
        let Some(f) = d.fields(&doc, FILE_NAME, TOP, Unknown::Reject) else {
            return (c, d.finish());
        };
        if let Some(v) = checked(&mut d, f.get("project"), "project", check_label) {
            c.project = v;
        }
        if let Some(s) = section(&mut d, &f, "analyzer", ANALYZER) {
            if let Some(v) = checked(&mut d, s.get("image"), "analyzer.image", check_image) {
                c.analyzer_image = v;
            }
            c.service_account = checked(
                &mut d,
                s.get("serviceAccount"),
                "analyzer.serviceAccount",
                check_subdomain,
            );
            if let Some(node) = s.get("podLabels") {
                c.pod_labels = pod_labels(&mut d, node);
            }
        }
        if let Some(s) = section(&mut d, &f, "warehouses", WAREHOUSES) {
            if let Some(v) = interval(&mut d, s.get("interval"), "warehouses.interval") {
                c.warehouse_interval = v;
            }
            c.platform = checked(
                &mut d,
                s.get("platform"),
                "warehouses.platform",
                check_platform,
            );
        }
        if let Some(n) = f.get("analysis") {
            d.error(
                n.pos,
                "`analysis` is no longer read: verification runs once per Freight (Kargo holds \
                 the next Freight until it ends), and waiting rebuilds are served by the \
                 CronJob of `reconcile.schedule`",
            );
        }
        if let Some(s) = section(&mut d, &f, "reconcile", RECONCILE) {
            if let Some(v) = checked(&mut d, s.get("schedule"), "reconcile.schedule", check_cron) {
                c.reconcile.schedule = v;
            }
            if let Some(b) = d.boolean(s.get("check"), "reconcile.check") {
                c.reconcile.check = b;
            }
            if let Some(node) = s.get("scanWith") {
                c.reconcile.scan_with = scan_with(&mut d, node, "reconcile.scanWith");
                if c.reconcile.scan_with.is_some() && !c.reconcile.check {
                    d.error(
                        node.pos,
                        "`reconcile.scanWith` needs `reconcile.check: true`: the scan is a step of `check`",
                    );
                    c.reconcile.scan_with = None;
                }
            }
        }
        if let Some(s) = section(&mut d, &f, "verification", VERIFICATION)
            && let Some(node) = s.get("scanWith")
        {
            c.verification.scan_with = scan_with(&mut d, node, "verification.scanWith");
        }
        if let Some(s) = section(&mut d, &f, "state", STATE) {
            c.state.repo_url = checked(&mut d, s.get("repoURL"), "state.repoURL", check_git_url);
            if let Some(v) = checked(&mut d, s.get("branch"), "state.branch", check_branch) {
                c.state.branch = v;
            }
            if let Some(v) = checked(&mut d, s.get("path"), "state.path", check_relative_path) {
                c.state.path = v.trim_end_matches('/').to_string();
            }
            if let Some(n) = s.get("gitImage") {
                d.error(
                    n.pos,
                    "`state.gitImage` is no longer read: the analyzer clones and pushes itself \
                     (`image-factory --git-repo`)",
                );
            }
        }
        if let Some(s) = section(&mut d, &f, "secrets", SECRETS) {
            for (key, slot) in [
                ("github", &mut c.secrets.github),
                ("gitlab", &mut c.secrets.gitlab),
                ("git", &mut c.secrets.git),
                ("webhook", &mut c.secrets.webhook),
            ] {
                let what = format!("secrets.{key}");
                if let Some(v) = checked(&mut d, s.get(key), &what, check_subdomain) {
                    *slot = v;
                }
            }
        }
        if let Some(s) = section(&mut d, &f, "credentials", CREDENTIALS) {
            for (key, slot) in [
                ("githubApp", &mut c.credentials.github_app),
                ("hostRules", &mut c.credentials.host_rules),
                ("registryAuth", &mut c.credentials.registry_auth),
            ] {
                let what = format!("credentials.{key}");
                *slot = checked(&mut d, s.get(key), &what, check_subdomain);
            }
        }
        if let Some(b) = d.boolean(f.get("webhookReceiver"), "webhookReceiver") {
            c.webhook_receiver = b;
        }
        if let Some(s) = section(&mut d, &f, "dockerfileWatch", DOCKERFILE_WATCH) {
            if let Some(b) = d.boolean(s.get("enabled"), "dockerfileWatch.enabled") {
                c.dockerfile_watch.enabled = b;
            }
            for (key, slot) in [
                ("githubURL", &mut c.dockerfile_watch.github_url),
                ("gitlabURL", &mut c.dockerfile_watch.gitlab_url),
            ] {
                let what = format!("dockerfileWatch.{key}");
                if let Some(v) = checked(&mut d, s.get(key), &what, check_http_url) {
                    *slot = v.trim_end_matches('/').to_string();
                }
            }
        }
        (c, d.finish())
    }
}

/// Opens the mapping `key` of `f`, rejecting unknown keys.
fn section<'n>(d: &mut Decoder, f: &Fields<'n>, key: &str, known: &[&str]) -> Option<Fields<'n>> {
    let node = f.get(key)?;
    d.fields(node, &format!("`{key}`"), known, Unknown::Reject)
}

/// A string that `check` accepts; otherwise an error at its position.
fn checked(
    d: &mut Decoder,
    node: Option<&Node>,
    what: &str,
    check: fn(&str) -> Result<(), String>,
) -> Option<String> {
    let node = node?;
    if !matches!(node.value, Value::Scalar(..)) {
        d.error(
            node.pos,
            format!("`{what}` must be a string, found {}", node.type_name()),
        );
        return None;
    }
    let v = d.string(Some(node), what)?;
    match check(&v) {
        Ok(()) => Some(v),
        Err(msg) => {
            d.error(node.pos, format!("`{what}`: {msg}"));
            None
        }
    }
}

/// `reconcile.scanWith`, `verification.scanWith` (`what`): a scanner the analyzer runs.
fn scan_with(d: &mut Decoder, node: &Node, what: &str) -> Option<ScanWith> {
    let name = checked(d, Some(node), what, |_| Ok(()))?;
    let scanner = [ScanWith::Trivy].into_iter().find(|s| s.as_str() == name);
    if scanner.is_none() {
        d.error(
            node.pos,
            format!("`{what}`: `{name}` is not a scanner the analyzer runs (trivy)"),
        );
    }
    scanner
}

/// `analyzer.podLabels`: a mapping of Kubernetes label keys to label values.
fn pod_labels(d: &mut Decoder, node: &Node) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    if node.is_null() {
        return labels;
    }
    let Value::Map(entries) = &node.value else {
        d.error(
            node.pos,
            format!(
                "`analyzer.podLabels` must be a mapping of label keys to values, found {}",
                node.type_name()
            ),
        );
        return labels;
    };
    if entries.len() > MAX_POD_LABELS {
        d.error(
            node.pos,
            format!(
                "`analyzer.podLabels` has {} labels: at most {MAX_POD_LABELS} are read",
                entries.len()
            ),
        );
        return labels;
    }
    for (key, value) in entries {
        if let Err(msg) = check_label_key(&key.name) {
            d.error(key.pos, format!("`analyzer.podLabels`: {msg}"));
            continue;
        }
        let what = format!("analyzer.podLabels.{}", key.name);
        // An empty value is a valid label value, written `""`; YAML's null is no string.
        if value.is_null() {
            d.error(
                key.pos,
                format!("`{what}` has no value: write `\"\"` for an empty label value"),
            );
        } else if node_is_empty_string(value) {
            labels.insert(key.name.clone(), String::new());
        } else if let Some(v) = checked(d, Some(value), &what, check_label_value) {
            labels.insert(key.name.clone(), v);
        }
    }
    labels
}

/// Whether `node` is the quoted empty string `""` (a plain empty value is null).
fn node_is_empty_string(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(yaml::ScalarKind::Str, t) if t.is_empty())
}

/// A positive duration.
fn interval(d: &mut Decoder, node: Option<&Node>, what: &str) -> Option<Duration> {
    let n = node?;
    let v = d.duration(Some(n), what)?;
    if v.as_minutes() == 0 {
        d.error(n.pos, format!("`{what}` must be longer than zero"));
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests;
