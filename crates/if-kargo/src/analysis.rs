//! The shared `AnalysisTemplate`s the Stages verify Freight with. Each measurement is one
//! Kubernetes Job whose init containers run in order: clone the state repository (when
//! configured), then the analyzer's commands; the last container pushes the state back.
//!
//! * `image-factory-record-update` (every watched image): `record-update --image --tag
//!   --digest` with the Freight's image, then `reconcile`. The metric re-runs every
//!   `analysis.interval`, `count` times, so that a waiting rebuild is triggered when its
//!   delay ends without any other event; it fails only when every run failed.
//! * `image-factory-analyze` (Dockerfile watch): fetch the source repository at the
//!   Freight's commit, then `analyze --image NAME --source-dir` it, once.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::kargo::ObjectMeta;
use crate::rollouts::{
    AnalysisTemplate, AnalysisTemplateSpec, Argument, Container, EmptyDir, EnvVar, JobMetadata,
    JobMetric, JobSpec, Metric, MetricProvider, PodSecurityContext, PodSpec, PodTemplate,
    ROLLOUTS_API_VERSION, SeccompProfile, SecurityContext, Volume, VolumeMount,
};

/// Name of the template verifying watched images.
pub const RECORD_UPDATE_TEMPLATE: &str = "image-factory-record-update";
/// Arguments of [`RECORD_UPDATE_TEMPLATE`]: the Freight's repository, tag and digest.
pub const RECORD_UPDATE_ARGS: [&str; 3] = ["image", "tag", "digest"];
/// Name of the template re-running `analyze` (Dockerfile watch).
pub const ANALYZE_TEMPLATE: &str = "image-factory-analyze";
/// Arguments of [`ANALYZE_TEMPLATE`]: the image name, its source repository and commit.
pub const ANALYZE_ARGS: [&str; 3] = ["image", "repoURL", "commit"];
/// The binary the analyzer containers run.
pub const ANALYZER_COMMAND: &str = "image-factory";

const WORKSPACE: &str = "/workspace";
const CHECKOUT: &str = "/workspace/state";
const SOURCE: &str = "/workspace/source";
/// The user (and group) every container of the analyzer pods runs as (distroless `nonroot`).
pub const RUN_AS: u32 = 65532;
/// Hard limit of one measurement.
const DEADLINE_SECONDS: u64 = 1800;

const CLONE_SCRIPT: &str = r#"set -eu
git config --global credential.helper '!f() { echo "username=${GIT_USERNAME:-}"; echo "password=${GIT_PASSWORD:-}"; }; f'
git config --global user.name "Image Factory"
git config --global user.email "image-factory@noreply.invalid"
git clone --quiet --depth 1 --branch "$STATE_BRANCH" "$STATE_REPO" /workspace/state
"#;

const SOURCE_SCRIPT: &str = r#"set -eu
git config --global credential.helper '!f() { echo "username=${GIT_USERNAME:-}"; echo "password=${GIT_PASSWORD:-}"; }; f'
git init --quiet /workspace/source
cd /workspace/source
git remote add origin "$SOURCE_REPO"
git fetch --quiet --depth 1 origin "$SOURCE_COMMIT"
git checkout --quiet FETCH_HEAD
"#;

const PUSH_SCRIPT: &str = r#"set -eu
cd /workspace/state
git add --all -- "$STATE_PATH"
if git diff --cached --quiet; then
  echo "state unchanged"
  exit 0
fi
git commit --quiet -m "$COMMIT_MESSAGE"
for attempt in 1 2 3 4 5; do
  if git push --quiet origin "HEAD:$STATE_BRANCH"; then
    exit 0
  fi
  echo "push rejected (attempt $attempt); rebasing on $STATE_BRANCH"
  git pull --quiet --rebase origin "$STATE_BRANCH"
done
echo "could not push the state after 5 attempts" >&2
exit 1
"#;

/// `{{args.NAME}}`, an argument reference in a template.
pub fn arg(name: &str) -> String {
    format!("{{{{args.{name}}}}}")
}

/// The metric's run count when `analysis.count` is not set: enough intervals to cover the
/// longest delay plus one day (for trigger retries), at least one.
pub fn default_count(longest_delay_minutes: u64, interval_minutes: u64) -> u32 {
    let window = longest_delay_minutes.saturating_add(24 * 60);
    let runs = window.div_ceil(interval_minutes.max(1)).max(1);
    u32::try_from(runs).unwrap_or(u32::MAX)
}

/// A duration in the short Go form Kargo and Argo Rollouts read (`6h`, `90m`).
pub fn go_duration(minutes: u64) -> String {
    if minutes.is_multiple_of(60) && minutes > 0 {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// The template verifying watched images.
pub fn record_update(
    config: &Config,
    count: u32,
    labels: &BTreeMap<String, String>,
) -> AnalysisTemplate {
    let root = root(config);
    let record = analyzer(
        config,
        "record-update",
        &root,
        &[
            "record-update",
            "--image",
            &arg("image"),
            "--tag",
            &arg("tag"),
            "--digest",
            &arg("digest"),
        ],
        Vec::new(),
        false,
    );
    let reconcile = analyzer(
        config,
        "reconcile",
        &root,
        &["reconcile"],
        forge_tokens(config),
        false,
    );
    let message = format!(
        "image-factory: {}:{}@{}",
        arg("image"),
        arg("tag"),
        arg("digest")
    );
    let metric = Metric {
        name: "record-update-and-reconcile".to_string(),
        interval: Some(go_duration(config.analysis_interval.as_minutes())),
        count: Some(count),
        failure_limit: count.saturating_sub(1),
        provider: provider(config, vec![record, reconcile], &message, 0),
    };
    template(
        config,
        RECORD_UPDATE_TEMPLATE,
        &RECORD_UPDATE_ARGS,
        metric,
        labels,
    )
}

/// The template re-running `analyze` for one image on its source at one commit.
pub fn analyze(config: &Config, labels: &BTreeMap<String, String>) -> AnalysisTemplate {
    let root = root(config);
    let mut fetch = git_container(config, "fetch-source", SOURCE_SCRIPT);
    fetch
        .env
        .push(EnvVar::literal("SOURCE_REPO", arg("repoURL")));
    fetch
        .env
        .push(EnvVar::literal("SOURCE_COMMIT", arg("commit")));
    let run = analyzer(
        config,
        "analyze",
        &root,
        &["analyze", "--image", &arg("image"), "--source-dir", SOURCE],
        forge_tokens(config),
        true,
    );
    let message = format!(
        "image-factory: analyze {} at {}",
        arg("image"),
        arg("commit")
    );
    let metric = Metric {
        name: "analyze".to_string(),
        interval: None,
        count: None,
        failure_limit: 0,
        provider: provider(config, vec![fetch, run], &message, 2),
    };
    template(config, ANALYZE_TEMPLATE, &ANALYZE_ARGS, metric, labels)
}

fn template(
    config: &Config,
    name: &str,
    args: &[&str],
    metric: Metric,
    labels: &BTreeMap<String, String>,
) -> AnalysisTemplate {
    AnalysisTemplate {
        api_version: ROLLOUTS_API_VERSION.to_string(),
        kind: "AnalysisTemplate".to_string(),
        metadata: ObjectMeta {
            name: name.to_string(),
            namespace: Some(config.project.clone()),
            labels: labels.clone(),
        },
        spec: AnalysisTemplateSpec {
            args: args
                .iter()
                .map(|a| Argument {
                    name: (*a).to_string(),
                })
                .collect(),
            metrics: vec![metric],
        },
    }
}

/// The factory root the analyzer works on.
fn root(config: &Config) -> String {
    if config.state.repo_url.is_some() {
        format!("{CHECKOUT}/{}", config.state.path)
    } else {
        config.state.path.clone()
    }
}

fn forge_tokens(config: &Config) -> Vec<EnvVar> {
    vec![
        EnvVar::secret("GITHUB_TOKEN", &config.secrets.github, "token"),
        EnvVar::secret("GITLAB_TOKEN", &config.secrets.gitlab, "token"),
    ]
}

/// One analyzer command: `image-factory --root ROOT <args>`.
fn analyzer(
    config: &Config,
    name: &str,
    root: &str,
    args: &[&str],
    env: Vec<EnvVar>,
    mount: bool,
) -> Container {
    let mut all = vec!["--root".to_string(), root.to_string()];
    all.extend(args.iter().map(|a| (*a).to_string()));
    let git = config.state.repo_url.is_some();
    let mount = mount || git;
    Container {
        name: name.to_string(),
        image: config.analyzer_image.clone(),
        command: vec![ANALYZER_COMMAND.to_string()],
        args: all,
        working_dir: git.then(|| CHECKOUT.to_string()),
        env,
        volume_mounts: if mount { workspace_mount() } else { Vec::new() },
        security_context: SecurityContext::restricted(),
    }
}

fn workspace_mount() -> Vec<VolumeMount> {
    vec![VolumeMount {
        name: "workspace".to_string(),
        mount_path: WORKSPACE.to_string(),
    }]
}

/// A git container running `script` (HOME on the shared volume, so that the git settings of
/// the first git container hold for the later ones).
fn git_container(config: &Config, name: &str, script: &str) -> Container {
    Container {
        name: name.to_string(),
        image: config.state.git_image.clone(),
        command: vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
        args: Vec::new(),
        working_dir: None,
        env: vec![
            EnvVar::literal("HOME", WORKSPACE),
            EnvVar::secret("GIT_USERNAME", &config.secrets.git, "username"),
            EnvVar::secret("GIT_PASSWORD", &config.secrets.git, "password"),
        ],
        volume_mounts: workspace_mount(),
        security_context: SecurityContext::restricted(),
    }
}

/// A git container working on the state repository `repo`.
fn state_git(
    config: &Config,
    name: &str,
    script: &str,
    repo: &str,
    message: Option<&str>,
) -> Container {
    let mut c = git_container(config, name, script);
    c.env.push(EnvVar::literal("STATE_REPO", repo));
    c.env
        .push(EnvVar::literal("STATE_BRANCH", config.state.branch.clone()));
    c.env
        .push(EnvVar::literal("STATE_PATH", config.state.path.clone()));
    if let Some(m) = message {
        c.env.push(EnvVar::literal("COMMIT_MESSAGE", m));
    }
    c
}

/// The job: with a state repository, clone → steps → push; without, the steps alone.
fn provider(
    config: &Config,
    mut steps: Vec<Container>,
    message: &str,
    backoff: u32,
) -> MetricProvider {
    let (init, main) = match &config.state.repo_url {
        Some(repo) => {
            let mut init = vec![state_git(config, "clone", CLONE_SCRIPT, repo, None)];
            init.extend(steps);
            let push = state_git(config, "push", PUSH_SCRIPT, repo, Some(message));
            (init, vec![push])
        }
        None => {
            let last = steps.pop();
            (steps, last.into_iter().collect())
        }
    };
    let mounted = init
        .iter()
        .chain(&main)
        .any(|c| !c.volume_mounts.is_empty());
    let volumes = if mounted {
        vec![Volume {
            name: "workspace".to_string(),
            empty_dir: EmptyDir {},
        }]
    } else {
        Vec::new()
    };
    let mut labels = BTreeMap::new();
    labels.insert(
        "app.kubernetes.io/name".to_string(),
        "image-factory".to_string(),
    );
    labels.insert(
        "app.kubernetes.io/component".to_string(),
        "analyzer".to_string(),
    );
    MetricProvider {
        job: JobMetric {
            metadata: JobMetadata { labels },
            spec: JobSpec {
                backoff_limit: backoff,
                active_deadline_seconds: DEADLINE_SECONDS,
                template: PodTemplate {
                    spec: PodSpec {
                        restart_policy: "Never".to_string(),
                        service_account_name: config.service_account.clone(),
                        security_context: PodSecurityContext {
                            run_as_non_root: true,
                            run_as_user: RUN_AS,
                            run_as_group: RUN_AS,
                            fs_group: RUN_AS,
                            seccomp_profile: SeccompProfile {
                                kind: "RuntimeDefault".to_string(),
                            },
                        },
                        init_containers: init,
                        containers: main,
                        volumes,
                    },
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cover_the_longest_delay() {
        assert_eq!(default_count(7 * 24 * 60, 60), 8 * 24);
        assert_eq!(default_count(0, 60), 24);
        assert_eq!(default_count(0, 7 * 24 * 60), 1);
        assert_eq!(default_count(90, 0), 1530);
    }

    #[test]
    fn durations_in_go_form() {
        assert_eq!(go_duration(360), "6h");
        assert_eq!(go_duration(90), "90m");
        assert_eq!(go_duration(0), "0m");
        assert_eq!(arg("tag"), "{{args.tag}}");
    }

    #[test]
    fn without_a_state_repository_the_last_step_is_the_main_container() {
        let t = record_update(&Config::default(), 3, &BTreeMap::new());
        let pod = &t.spec.metrics[0].provider.job.spec.template.spec;
        let names: Vec<&str> = pod
            .init_containers
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["record-update"]);
        assert_eq!(pod.containers[0].name, "reconcile");
        assert!(pod.volumes.is_empty());
        assert_eq!(
            pod.containers[0].args,
            ["--root", "image-factory", "reconcile"]
        );
        assert_eq!(t.spec.metrics[0].failure_limit, 2);
    }

    #[test]
    fn with_a_state_repository_clone_and_push_surround_the_steps() {
        let mut c = Config::default();
        c.state.repo_url = Some("https://github.com/acme/platform.git".to_string());
        let t = analyze(&c, &BTreeMap::new());
        let pod = &t.spec.metrics[0].provider.job.spec.template.spec;
        let names: Vec<&str> = pod
            .init_containers
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["clone", "fetch-source", "analyze"]);
        assert_eq!(pod.containers[0].name, "push");
        assert_eq!(
            pod.init_containers[2].args,
            [
                "--root",
                "/workspace/state/image-factory",
                "analyze",
                "--image",
                "{{args.image}}",
                "--source-dir",
                "/workspace/source"
            ]
        );
        assert_eq!(pod.volumes.len(), 1);
    }
}
