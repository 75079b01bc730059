//! The registry side of `check`: options, and a registry client built from them, the
//! environment (`IMAGE_FACTORY_REGISTRY_*`) and Docker's `config.json` (`DOCKER_CONFIG`,
//! else `~/.docker/config.json`). Passwords never reach any output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use if_registry::{Client, Config, Credentials, parse_docker_config, registry_key};

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
}

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

/// Where Docker's `config.json` is: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(if_registry::DOCKER_CONFIG_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

/// The credentials of `config.json` (none when the file does not exist) and warnings about
/// entries that give none. A file that exists but cannot be read or parsed is an error.
fn docker_config_credentials() -> Result<(BTreeMap<String, Credentials>, Vec<String>), CliError> {
    let Some(path) = docker_config_path() else {
        return Ok((BTreeMap::new(), Vec::new()));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((BTreeMap::new(), Vec::new()));
        }
        Err(source) => return Err(CliError::Read { path, source }),
    };
    let config = parse_docker_config(&text).map_err(|e| {
        let at = match &e {
            if_registry::DockerConfigError::NotJson { line, column } => {
                format!("{}:{line}:{column}", path.display())
            }
            _ => path.display().to_string(),
        };
        CliError::Input(format!("{at}: Docker credentials file: {e}"))
    })?;
    let warnings = config
        .skipped
        .iter()
        .map(|s| {
            format!(
                "{}: {} ({}); its registries are asked anonymously",
                path.display(),
                s.reason,
                s.registry
            )
        })
        .collect();
    Ok((config.credentials, warnings))
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

/// A client for these options, with credentials from the environment (which win) and
/// `config.json`; the warnings are for stderr.
pub fn client_from_env(args: &RegistryArgs) -> Result<(Client, Vec<String>), CliError> {
    let (mut credentials, warnings) = docker_config_credentials()?;
    if let Some((host, c)) = env_credentials()? {
        credentials.insert(host, c);
    }
    let config = Config {
        credentials,
        insecure: args.insecure.iter().map(|h| registry_key(h)).collect(),
        mirrors: args.mirrors.iter().cloned().collect(),
        retry: settings::retry(args.http_retries, args.http_timeout),
        ..Config::default()
    };
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
