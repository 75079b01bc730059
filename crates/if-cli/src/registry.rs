//! The registry side of `check`: options, and a registry client built from them, the
//! environment (`IMAGE_FACTORY_REGISTRY_*`) and the credentials files in the container
//! tools' order: `REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, then Docker's `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`). This module reads the
//! files; `if-registry` looks credentials up in them per repository and runs the credential
//! helpers they name, lazily. Passwords never reach any output.

use std::path::PathBuf;

use if_registry::{AuthFile, Client, Config, Credentials, parse_docker_config, registry_key};

use crate::exit::CliError;
use crate::settings::{self, env};

/// The registry host the environment's credentials are for (`ghcr.io`, `docker.io`).
pub const HOST_ENV: &str = "IMAGE_FACTORY_REGISTRY_HOST";
/// The user name for [`HOST_ENV`].
pub const USERNAME_ENV: &str = "IMAGE_FACTORY_REGISTRY_USERNAME";
/// The password or token for [`HOST_ENV`].
pub const PASSWORD_ENV: &str = "IMAGE_FACTORY_REGISTRY_PASSWORD";

/// Options of the commands that ask registries.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Images asked about at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// A registry (`host[:port]`) spoken to over plain HTTP; repeatable. Loopback
    /// registries always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// A mirror asked first for a registry, `REGISTRY=MIRROR` (`docker.io=mirror.gcr.io`);
    /// on any failure the registry itself is asked. Repeatable.
    #[arg(long = "mirror", value_name = "REGISTRY=MIRROR", value_parser = parse_mirror)]
    pub mirrors: Vec<(String, String)>,
    /// HTTP retries of one request on connection errors, 429 and 5xx (Retry-After is
    /// honoured).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub http_retries: u32,
    /// The most seconds one image's lookup may take, waits between retries included.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_timeout: u64,
    /// Stop asking a registry for the rest of the run once its `ratelimit-remaining` is at
    /// or below this percentage of its `ratelimit-limit` (Docker Hub), or it answered 429;
    /// the images not asked are recorded as not checked.
    #[arg(long, value_name = "PERCENT", default_value_t = RATE_LIMIT_FLOOR, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub rate_limit_floor: u8,
    /// The most seconds a credential helper (`docker-credential-NAME get`) may take; it is
    /// stopped past that.
    #[arg(long, value_name = "SECONDS", default_value_t = HELPER_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub helper_timeout: u64,
}

/// `--rate-limit-floor` when not given: stop asking a registry below 10% of its limit.
pub const RATE_LIMIT_FLOOR: u8 = 10;
/// `--helper-timeout` when not given (if-registry's own default).
pub const HELPER_TIMEOUT_SECONDS: u64 = if_registry::HELPER_TIMEOUT.as_secs();

/// The variable naming an `auth.json` read before every other file (containers tools').
pub const AUTH_FILE_ENV: &str = "REGISTRY_AUTH_FILE";

fn parse_mirror(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((registry, mirror)) if !registry.trim().is_empty() && !mirror.trim().is_empty() => {
            Ok((registry_key(registry.trim()), mirror.trim().to_string()))
        }
        _ => Err(format!(
            "`{s}` is not REGISTRY=MIRROR (like docker.io=mirror.gcr.io)"
        )),
    }
}

/// The credentials files, in lookup order (those whose variables are unset are left out).
fn auth_file_paths() -> Vec<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = var("HOME");
    let mut paths = Vec::new();
    paths.extend(var(AUTH_FILE_ENV));
    paths.extend(var("XDG_RUNTIME_DIR").map(|d| d.join("containers").join("auth.json")));
    paths.extend(
        var("XDG_CONFIG_HOME")
            .or_else(|| home.as_ref().map(|h| h.join(".config")))
            .map(|d| d.join("containers").join("auth.json")),
    );
    paths.extend(
        var(if_registry::DOCKER_CONFIG_ENV)
            .or_else(|| home.as_ref().map(|h| h.join(".docker")))
            .map(|d| d.join("config.json")),
    );
    paths
}

/// The credentials files that exist, parsed, and warnings about entries that give nothing.
/// A file that exists but cannot be read or parsed is an error.
fn auth_files() -> Result<(Vec<AuthFile>, Vec<String>), CliError> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    for path in auth_file_paths() {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CliError::Read { path, source }),
        };
        let config = parse_docker_config(&text).map_err(|e| {
            let at = match &e {
                if_registry::DockerConfigError::NotJson { line, column } => {
                    format!("{}:{line}:{column}", path.display())
                }
                _ => path.display().to_string(),
            };
            CliError::Input(format!("{at}: registry credentials file: {e}"))
        })?;
        warnings.extend(config.skipped.iter().map(|s| {
            format!(
                "{}: {} ({}); the next source is asked",
                path.display(),
                s.reason,
                s.registry
            )
        }));
        files.push(AuthFile {
            path: path.display().to_string(),
            config,
        });
    }
    Ok((files, warnings))
}

/// The credentials of the environment: all three of [`HOST_ENV`], [`USERNAME_ENV`] and
/// [`PASSWORD_ENV`], or none.
fn env_credentials() -> Result<Option<(String, Credentials)>, CliError> {
    match (env(HOST_ENV), env(USERNAME_ENV), env(PASSWORD_ENV)) {
        (None, None, None) => Ok(None),
        (Some(host), Some(user), Some(password)) => Ok(Some((
            registry_key(&host),
            Credentials::new(user, password),
        ))),
        _ => Err(CliError::Input(format!(
            "registry credentials from the environment need all of {HOST_ENV}, {USERNAME_ENV} and {PASSWORD_ENV}"
        ))),
    }
}

/// A client for these options, with credentials from the environment (which win) and the
/// credentials files; the warnings are for stderr.
pub fn client_from_env(args: &RegistryArgs) -> Result<(Client, Vec<String>), CliError> {
    let (auth_files, warnings) = auth_files()?;
    let mut config = Config {
        auth_files,
        helper_timeout: std::time::Duration::from_secs(args.helper_timeout),
        rate_limit_floor: Some(args.rate_limit_floor),
        insecure: args.insecure.iter().map(|h| registry_key(h)).collect(),
        mirrors: args.mirrors.iter().cloned().collect(),
        retry: settings::retry(args.http_retries, args.http_timeout),
        ..Config::default()
    };
    if let Some((host, c)) = env_credentials()? {
        config.credentials.insert(host, c);
    }
    Ok((Client::new(config), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_concurrency_is_the_registry_clients() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from(["image-factory", "check"]).unwrap();
        let crate::cli::Command::Check { args, .. } = cli.command else {
            panic!("not check");
        };
        assert_eq!(
            usize::from(args.registry.concurrency),
            if_registry::DEFAULT_CONCURRENCY
        );
    }

    #[test]
    fn mirrors_are_registry_equals_mirror() {
        assert_eq!(
            parse_mirror("docker.io=mirror.gcr.io").unwrap(),
            ("docker.io".to_string(), "mirror.gcr.io".to_string())
        );
        assert_eq!(
            parse_mirror("index.docker.io = http://127.0.0.1:5000")
                .unwrap()
                .0,
            "docker.io"
        );
        for bad in ["docker.io", "=x", "docker.io="] {
            assert!(parse_mirror(bad).is_err(), "{bad}");
        }
    }
}
