//! The analyzer pod, shared by the AnalysisTemplates' Jobs and the reconcile CronJob: every
//! container runs the analyzer image's `image-factory` binary, which clones, commits and
//! pushes the state repository itself (`--git-repo`, the CLI's one code path), with every
//! token from a Secret through the environment. One non-root user, no privilege, every
//! capability dropped, the runtime's seccomp profile, bounded CPU and memory, and a scratch
//! `/tmp` for the clone.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::rollouts::{
    Container, EmptyDir, EnvVar, JobMetadata, JobMetric, JobSpec, PodSecurityContext, PodSpec,
    PodTemplate, ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};

/// The binary the analyzer containers run.
pub const ANALYZER_COMMAND: &str = "image-factory";
/// The user (and group) every container of the analyzer pods runs as (distroless `nonroot`).
pub const RUN_AS: u32 = 65532;
/// Hard limit of one Job, in seconds (also below the hourly schedule, so that a hung run
/// cannot hold `concurrencyPolicy: Forbid` past the next one).
pub const DEADLINE_SECONDS: u64 = 1800;
/// The environment variable the CLI reads the state repository's HTTPS token from.
pub const GIT_TOKEN_ENV: &str = "IMAGE_FACTORY_GIT_TOKEN";
/// The key of the git Secret holding that token (Kargo's own key for git credentials).
pub const GIT_TOKEN_KEY: &str = "password";
/// CPU and memory reserved for an analyzer container.
pub const REQUESTS: [(&str, &str); 2] = [("cpu", "100m"), ("memory", "128Mi")];
/// CPU and memory an analyzer container may use at most (a factory of 100,000 images loads
/// in about 700 MiB: see the README's benchmarks).
pub const LIMITS: [(&str, &str); 2] = [("cpu", "1000m"), ("memory", "1Gi")];

const TMP: &str = "/tmp";
const TMP_VOLUME: &str = "tmp";

/// Which tokens a command needs besides the state repository's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// Only git (`record-update`).
    Git,
    /// Git and the forges (`reconcile` triggers builds, `analyze` fetches Dockerfiles).
    Forges,
}

/// The global options every analyzer command starts with: with a state repository,
/// `--git-repo URL --git-branch B --root PATH` (clone, run, commit, push); without one,
/// `--root PATH` (the factory baked into the image).
pub fn global_args(config: &Config) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(repo) = &config.state.repo_url {
        args.extend([
            "--git-repo".to_string(),
            repo.clone(),
            "--git-branch".to_string(),
            config.state.branch.clone(),
        ]);
    }
    args.extend(["--root".to_string(), config.state.path.clone()]);
    args
}

/// One analyzer container: `image-factory <global options> <command>`.
pub fn analyzer(config: &Config, name: &str, command: &[&str], tokens: Tokens) -> Container {
    let mut args = global_args(config);
    args.extend(command.iter().map(|a| (*a).to_string()));
    let mut env = vec![EnvVar::literal("TMPDIR", TMP)];
    if config.state.repo_url.is_some() {
        env.push(EnvVar::secret(
            GIT_TOKEN_ENV,
            &config.secrets.git,
            GIT_TOKEN_KEY,
        ));
    }
    if tokens == Tokens::Forges {
        env.push(EnvVar::secret(
            "GITHUB_TOKEN",
            &config.secrets.github,
            "token",
        ));
        env.push(EnvVar::secret(
            "GITLAB_TOKEN",
            &config.secrets.gitlab,
            "token",
        ));
    }
    let quantities = |list: [(&str, &str); 2]| -> BTreeMap<String, String> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    };
    Container {
        name: name.to_string(),
        image: config.analyzer_image.clone(),
        command: vec![ANALYZER_COMMAND.to_string()],
        args,
        working_dir: None,
        env,
        volume_mounts: vec![VolumeMount {
            name: TMP_VOLUME.to_string(),
            mount_path: TMP.to_string(),
        }],
        resources: ResourceRequirements {
            requests: quantities(REQUESTS),
            limits: quantities(LIMITS),
        },
        security_context: SecurityContext::restricted(),
    }
}

/// A Job running `init` in order, then `main`; `backoff` retries of a failed pod.
pub fn job(config: &Config, init: Vec<Container>, main: Vec<Container>, backoff: u32) -> JobMetric {
    let mut labels = BTreeMap::new();
    labels.insert(
        "app.kubernetes.io/name".to_string(),
        "image-factory".to_string(),
    );
    labels.insert(
        "app.kubernetes.io/component".to_string(),
        "analyzer".to_string(),
    );
    JobMetric {
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
                    volumes: vec![Volume {
                        name: TMP_VOLUME.to_string(),
                        empty_dir: EmptyDir {},
                    }],
                },
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_state_repository_nothing_is_cloned() {
        let config = Config::default();
        assert_eq!(global_args(&config), ["--root", "image-factory"]);
        let c = analyzer(&config, "reconcile", &["reconcile"], Tokens::Forges);
        let names: Vec<&str> = c.env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["TMPDIR", "GITHUB_TOKEN", "GITLAB_TOKEN"]);
    }

    #[test]
    fn with_a_state_repository_the_cli_clones_and_pushes() {
        let mut config = Config::default();
        config.state.repo_url = Some("https://github.com/acme/platform.git".to_string());
        config.state.branch = "prod".to_string();
        let c = analyzer(&config, "record-update", &["record-update"], Tokens::Git);
        assert_eq!(
            c.args,
            [
                "--git-repo",
                "https://github.com/acme/platform.git",
                "--git-branch",
                "prod",
                "--root",
                "image-factory",
                "record-update"
            ]
        );
        let names: Vec<&str> = c.env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["TMPDIR", GIT_TOKEN_ENV]);
        assert!(
            c.env
                .iter()
                .all(|e| e.name == "TMPDIR" || e.value.is_none())
        );
    }
}
