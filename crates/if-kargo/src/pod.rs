//! The analyzer pod, shared by the AnalysisTemplates' Jobs and the reconcile CronJob: every
//! container runs the analyzer image's `image-factory` binary, which clones, commits and
//! pushes the state repository itself (`--git-repo`, the CLI's one code path), with every
//! token from a Secret through the environment. One non-root user, no privilege, every
//! capability dropped, the runtime's seccomp profile, bounded CPU and memory, and a scratch
//! `/tmp` for the clone.
//!
//! The Secrets of `credentials:` (a GitHub App, a host-rules file, a registry pull Secret)
//! are mounted read-only as files under [`CREDENTIALS_DIR`], one directory each, only into
//! the containers that read them, each with the variable the CLI reads: the App and the host
//! rules wherever a forge or the state repository is talked to, the registry file into
//! `check` and `reconcile` (which verifies signatures), never into `analyze` or
//! `record-update`. Without `credentials:` nothing of this is emitted.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::rollouts::{
    Container, EmptyDir, EnvVar, JobMetadata, JobMetric, JobSpec, KeyToPath, PodMetadata,
    PodSecurityContext, PodSpec, PodTemplate, ResourceRequirements, SeccompProfile,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount,
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

/// The directory the credential Secrets are mounted under, one subdirectory each (named as
/// its volume: [`GITHUB_APP_VOLUME`], [`HOST_RULES_VOLUME`], [`REGISTRY_AUTH_VOLUME`]).
pub const CREDENTIALS_DIR: &str = "/etc/image-factory";
/// Mode of the credential files: `0440`, read by their owner and their group only. The
/// kubelet gives a Secret volume's files to the pod's `fsGroup` ([`RUN_AS`]), so the analyzer
/// reads them and no other user does.
pub const CREDENTIAL_FILE_MODE: u32 = 0o440;
/// The volume (and directory) of `credentials.githubApp`.
pub const GITHUB_APP_VOLUME: &str = "github-app";
/// The volume (and directory) of `credentials.hostRules`.
pub const HOST_RULES_VOLUME: &str = "host-rules";
/// The volume (and directory) of `credentials.registryAuth`.
pub const REGISTRY_AUTH_VOLUME: &str = "registry-auth";
/// The GitHub App Secret's keys: the App's id, the installation's id, the PEM private key.
pub const GITHUB_APP_KEYS: [&str; 3] = ["appId", "installationId", "privateKey"];
/// The file the App's `privateKey` is mounted as.
pub const GITHUB_APP_KEY_FILE: &str = "private-key.pem";
/// The host-rules Secret's key holding the rules (the YAML list).
pub const HOST_RULES_KEY: &str = "hostRules";
/// The key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKERCONFIGJSON_KEY: &str = ".dockerconfigjson";
/// The file that key is mounted as (Docker's name; the format is the same as `auth.json`'s).
pub const REGISTRY_AUTH_FILE_NAME: &str = "config.json";
/// The variables the CLI reads these from (if-cli's `forge_auth` and `registry`).
pub const APP_ID_ENV: &str = "GITHUB_APP_ID";
/// The installation's id.
pub const APP_INSTALLATION_ENV: &str = "GITHUB_APP_INSTALLATION_ID";
/// The path of the App's PEM.
pub const APP_KEY_FILE_ENV: &str = "GITHUB_APP_PRIVATE_KEY_FILE";
/// The path of the host-rules file.
pub const HOST_RULES_ENV: &str = "IMAGE_FACTORY_HOST_RULES";
/// The path of the registry credentials file.
pub const REGISTRY_AUTH_ENV: &str = "REGISTRY_AUTH_FILE";

/// Which tokens a command needs besides the state repository's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// Only git (`record-update`).
    Git,
    /// Git and the forges (`reconcile` triggers builds, `analyze` fetches Dockerfiles).
    Forges,
    /// Git and the registries (`check`).
    Registries,
    /// Git, the forges and the registries (`reconcile`: it triggers builds, and verifies the
    /// signatures `requireSignature` asks for in the base images' registries).
    ForgesAndRegistries,
}

impl Tokens {
    /// Whether the command talks to the forges.
    fn forges(self) -> bool {
        matches!(self, Tokens::Forges | Tokens::ForgesAndRegistries)
    }

    /// Whether the command talks to the registries.
    fn registries(self) -> bool {
        matches!(self, Tokens::Registries | Tokens::ForgesAndRegistries)
    }
}

/// `CREDENTIALS_DIR/volume/file`.
fn credential_path(volume: &str, file: &str) -> String {
    format!("{CREDENTIALS_DIR}/{volume}/{file}")
}

/// The credential volumes of `config` a container running with `tokens` mounts, with the
/// variables that point the CLI at them; in a fixed order.
fn credentials(config: &Config, tokens: Tokens) -> Vec<(&'static str, Vec<EnvVar>)> {
    let creds = &config.credentials;
    // The App and the host rules serve the forges and git over HTTPS (the state repository).
    let forge_or_git = tokens.forges() || config.state.repo_url.is_some();
    let mut out = Vec::new();
    if let (Some(secret), true) = (&creds.github_app, forge_or_git) {
        out.push((
            GITHUB_APP_VOLUME,
            vec![
                EnvVar::secret(APP_ID_ENV, secret, GITHUB_APP_KEYS[0]),
                EnvVar::secret(APP_INSTALLATION_ENV, secret, GITHUB_APP_KEYS[1]),
                EnvVar::literal(
                    APP_KEY_FILE_ENV,
                    credential_path(GITHUB_APP_VOLUME, GITHUB_APP_KEY_FILE),
                ),
            ],
        ));
    }
    if creds.host_rules.is_some() && forge_or_git {
        out.push((
            HOST_RULES_VOLUME,
            vec![EnvVar::literal(
                HOST_RULES_ENV,
                credential_path(HOST_RULES_VOLUME, HOST_RULES_KEY),
            )],
        ));
    }
    if creds.registry_auth.is_some() && tokens.registries() {
        out.push((
            REGISTRY_AUTH_VOLUME,
            vec![EnvVar::literal(
                REGISTRY_AUTH_ENV,
                credential_path(REGISTRY_AUTH_VOLUME, REGISTRY_AUTH_FILE_NAME),
            )],
        ));
    }
    out
}

/// The pod volume of a credential volume name: a Secret, read-only files of mode
/// [`CREDENTIAL_FILE_MODE`], optional like every other Secret reference (a missing Secret
/// leaves the directory empty, and the CLI says which file or variable it lacks).
fn credential_volume(config: &Config, volume: &str) -> Option<Volume> {
    let creds = &config.credentials;
    let item = |key: &str, path: &str| KeyToPath {
        key: key.to_string(),
        path: path.to_string(),
    };
    let (secret, items) = match volume {
        GITHUB_APP_VOLUME => (
            creds.github_app.as_ref()?,
            vec![item(GITHUB_APP_KEYS[2], GITHUB_APP_KEY_FILE)],
        ),
        // Every key: the rules and the key files they name, under their own names.
        HOST_RULES_VOLUME => (creds.host_rules.as_ref()?, Vec::new()),
        REGISTRY_AUTH_VOLUME => (
            creds.registry_auth.as_ref()?,
            vec![item(DOCKERCONFIGJSON_KEY, REGISTRY_AUTH_FILE_NAME)],
        ),
        _ => return None,
    };
    Some(Volume {
        name: volume.to_string(),
        empty_dir: None,
        secret: Some(SecretVolumeSource {
            secret_name: secret.clone(),
            items,
            default_mode: CREDENTIAL_FILE_MODE,
            optional: true,
        }),
    })
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
    if tokens.forges() {
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
    let mut volume_mounts = vec![VolumeMount {
        name: TMP_VOLUME.to_string(),
        mount_path: TMP.to_string(),
        read_only: false,
    }];
    for (volume, vars) in credentials(config, tokens) {
        env.extend(vars);
        volume_mounts.push(VolumeMount {
            name: volume.to_string(),
            mount_path: format!("{CREDENTIALS_DIR}/{volume}"),
            read_only: true,
        });
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
        volume_mounts,
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
    let mut volumes = vec![Volume {
        name: TMP_VOLUME.to_string(),
        empty_dir: Some(EmptyDir {}),
        secret: None,
    }];
    // The credential volumes some container mounts, in the order of `credentials`.
    for volume in [GITHUB_APP_VOLUME, HOST_RULES_VOLUME, REGISTRY_AUTH_VOLUME] {
        let mounted = init
            .iter()
            .chain(&main)
            .any(|c| c.volume_mounts.iter().any(|m| m.name == volume));
        if mounted {
            volumes.extend(credential_volume(config, volume));
        }
    }
    JobMetric {
        metadata: JobMetadata { labels },
        spec: JobSpec {
            backoff_limit: backoff,
            active_deadline_seconds: DEADLINE_SECONDS,
            template: PodTemplate {
                metadata: (!config.pod_labels.is_empty()).then(|| PodMetadata {
                    labels: config.pod_labels.clone(),
                }),
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

    fn with_credentials() -> Config {
        let mut config = Config::default();
        config.credentials.github_app = Some("app".to_string());
        config.credentials.host_rules = Some("rules".to_string());
        config.credentials.registry_auth = Some("pull".to_string());
        config
    }

    fn names(c: &Container) -> (Vec<&str>, Vec<&str>) {
        (
            c.env.iter().map(|e| e.name.as_str()).collect(),
            c.volume_mounts.iter().map(|m| m.name.as_str()).collect(),
        )
    }

    #[test]
    fn each_container_mounts_the_credentials_it_reads() {
        let mut config = with_credentials();
        // Without a state repository, record-update talks to nobody: nothing mounted.
        let record = analyzer(&config, "record-update", &["record-update"], Tokens::Git);
        assert_eq!(names(&record), (vec!["TMPDIR"], vec!["tmp"]));
        // analyze talks to the forges: the App and the host rules, not the registries.
        let analyze = analyzer(&config, "analyze", &["analyze"], Tokens::Forges);
        assert_eq!(
            names(&analyze),
            (
                vec![
                    "TMPDIR",
                    "GITHUB_TOKEN",
                    "GITLAB_TOKEN",
                    APP_ID_ENV,
                    APP_INSTALLATION_ENV,
                    APP_KEY_FILE_ENV,
                    HOST_RULES_ENV
                ],
                vec!["tmp", GITHUB_APP_VOLUME, HOST_RULES_VOLUME]
            )
        );
        // reconcile talks to the forges and, for `requireSignature`, to the registries.
        let reconcile = analyzer(
            &config,
            "reconcile",
            &["reconcile"],
            Tokens::ForgesAndRegistries,
        );
        assert_eq!(
            names(&reconcile),
            (
                vec![
                    "TMPDIR",
                    "GITHUB_TOKEN",
                    "GITLAB_TOKEN",
                    APP_ID_ENV,
                    APP_INSTALLATION_ENV,
                    APP_KEY_FILE_ENV,
                    HOST_RULES_ENV,
                    REGISTRY_AUTH_ENV
                ],
                vec![
                    "tmp",
                    GITHUB_APP_VOLUME,
                    HOST_RULES_VOLUME,
                    REGISTRY_AUTH_VOLUME
                ]
            )
        );
        // check asks the registries only.
        let check = analyzer(&config, "check", &["check"], Tokens::Registries);
        assert_eq!(
            names(&check),
            (
                vec!["TMPDIR", REGISTRY_AUTH_ENV],
                vec!["tmp", REGISTRY_AUTH_VOLUME]
            )
        );
        // With a state repository, git over HTTPS may take the App's token or a host rule.
        config.state.repo_url = Some("https://github.com/acme/platform.git".to_string());
        let record = analyzer(&config, "record-update", &["record-update"], Tokens::Git);
        assert_eq!(
            names(&record).1,
            ["tmp", GITHUB_APP_VOLUME, HOST_RULES_VOLUME]
        );
        let check = analyzer(&config, "check", &["check"], Tokens::Registries);
        assert_eq!(
            names(&check).1,
            [
                "tmp",
                GITHUB_APP_VOLUME,
                HOST_RULES_VOLUME,
                REGISTRY_AUTH_VOLUME
            ]
        );
        let paths: Vec<(&str, Option<&str>)> = check
            .env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref()))
            .filter(|(_, v)| v.is_some_and(|v| v.starts_with(CREDENTIALS_DIR)))
            .collect();
        assert_eq!(
            paths,
            [
                (
                    APP_KEY_FILE_ENV,
                    Some("/etc/image-factory/github-app/private-key.pem")
                ),
                (
                    HOST_RULES_ENV,
                    Some("/etc/image-factory/host-rules/hostRules")
                ),
                (
                    REGISTRY_AUTH_ENV,
                    Some("/etc/image-factory/registry-auth/config.json")
                ),
            ]
        );
        assert!(
            check.volume_mounts[1..]
                .iter()
                .all(|m| m.read_only && m.mount_path == format!("{CREDENTIALS_DIR}/{}", m.name))
        );
    }

    /// Kubernetes' API reference, `SecretVolumeSource`: `secretName`; `items` ("If
    /// unspecified, each key-value pair in the Data field of the referenced Secret will be
    /// projected into the volume as a file whose name is the key ... If specified, the listed
    /// keys will be projected into the specified paths, and unlisted keys will not be
    /// present"; `KeyToPath` is `key` and a relative `path`); `defaultMode` ("Must be an octal
    /// value between 0000 and 0777 or a decimal value between 0 and 511. YAML accepts both
    /// octal and decimal values, JSON requires decimal values"; "This might be in conflict
    /// with other options that affect the file mode, like fsGroup"); `optional` ("Specify
    /// whether the Secret or its keys must be defined"). A `kubernetes.io/dockerconfigjson`
    /// Secret holds its file under the key `.dockerconfigjson`.
    #[test]
    fn the_pod_declares_each_mounted_credential_as_a_secret_volume() {
        let config = with_credentials();
        let check = analyzer(&config, "check", &["check"], Tokens::Registries);
        let reconcile = analyzer(&config, "reconcile", &["reconcile"], Tokens::Forges);
        let job = job(&config, vec![check], vec![reconcile], 0);
        let yaml = serde_json::to_value(&job.spec.template.spec.volumes).unwrap();
        assert_eq!(
            yaml,
            serde_json::json!([
                {"name": "tmp", "emptyDir": {}},
                {"name": "github-app", "secret": {
                    "secretName": "app",
                    "items": [{"key": "privateKey", "path": "private-key.pem"}],
                    "defaultMode": 288, "optional": true}},
                {"name": "host-rules", "secret": {
                    "secretName": "rules", "defaultMode": 288, "optional": true}},
                {"name": "registry-auth", "secret": {
                    "secretName": "pull",
                    "items": [{"key": ".dockerconfigjson", "path": "config.json"}],
                    "defaultMode": 288, "optional": true}},
            ])
        );
        assert_eq!(CREDENTIAL_FILE_MODE, 288);
        // The pod's fsGroup, which the kubelet gives the files to, is the analyzer's group.
        let pod = &job.spec.template.spec.security_context;
        assert_eq!((pod.fs_group, pod.run_as_group), (RUN_AS, RUN_AS));
        // A volume no container mounts is not declared.
        let alone = analyzer(&config, "reconcile", &["reconcile"], Tokens::Forges);
        let job = super::job(&config, Vec::new(), vec![alone], 0);
        let declared: Vec<&str> = job
            .spec
            .template
            .spec
            .volumes
            .iter()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(declared, ["tmp", GITHUB_APP_VOLUME, HOST_RULES_VOLUME]);
    }
}
