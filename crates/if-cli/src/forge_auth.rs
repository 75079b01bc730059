//! Forge credentials from the environment, one client per API base: the host-rules file
//! (`IMAGE_FACTORY_HOST_RULES`), then a GitHub App (`GITHUB_APP_ID`,
//! `GITHUB_APP_INSTALLATION_ID`, `GITHUB_APP_PRIVATE_KEY_FILE`) and the tokens
//! (`GITHUB_TOKEN`, `GITLAB_TOKEN`) for the default APIs (the public ones, or
//! `IMAGE_FACTORY_{GITHUB,GITLAB}_API`).
//!
//! An image's `source.api` selects its API base; its host's rule gives the credential (a rule
//! for `github.com` also serves `api.github.com`). An API base that is not the default one
//! takes only a host rule. A key file that cannot be read or used is an input error (exit
//! 2) naming the file, never showing its content.

use std::collections::BTreeMap;

use if_forge::{AppKey, Client, Endpoints, GithubApp, Retry, Secret};
use if_git::{Token, TokenSource};
use if_model::enrollment::{Provider, Source, api_host};
use if_model::host_rules::{self, HostCredential, HostRule};

use crate::exit::CliError;
use crate::settings;

/// The environment variable naming the host-rules file.
pub const HOST_RULES_ENV: &str = "IMAGE_FACTORY_HOST_RULES";
/// The GitHub App's id.
pub const APP_ID_ENV: &str = "GITHUB_APP_ID";
/// The App installation's id.
pub const APP_INSTALLATION_ENV: &str = "GITHUB_APP_INSTALLATION_ID";
/// The App's PEM private key file.
pub const APP_KEY_FILE_ENV: &str = "GITHUB_APP_PRIVATE_KEY_FILE";

/// A credential before it is given to a client.
enum Credential {
    Token(Secret),
    App(GithubApp),
}

/// The forge clients of a run: the default one, and one per `source.api` base.
#[derive(Debug)]
pub struct Forges {
    default: Client,
    by_api: BTreeMap<String, Client>,
    /// The host-rules file, when one is set: credentials are then checked up front.
    rules_file: Option<String>,
}

impl Forges {
    /// The client for `source`'s API.
    pub fn client(&self, source: &Source) -> &Client {
        source
            .api
            .as_ref()
            .and_then(|api| self.by_api.get(api))
            .unwrap_or(&self.default)
    }

    /// One message per image (of `images`: name and source) whose host has no credential,
    /// when that is knowable up front: the image has a `source.api`, or a host-rules file
    /// is set. (With only the token variables, a missing token fails each trigger on its
    /// own and is recorded in the image's state, as before host rules existed.)
    pub fn missing<'a>(
        &self,
        images: impl IntoIterator<Item = (&'a str, &'a Source)>,
    ) -> Vec<String> {
        self.without_credentials(
            images
                .into_iter()
                .filter(|(_, s)| s.api.is_some() || self.rules_file.is_some()),
        )
        .into_iter()
        .map(|(_, m)| m)
        .collect()
    }

    /// The host-rules file, when one is set.
    pub fn rules_file(&self) -> Option<&str> {
        self.rules_file.as_deref()
    }

    /// One message (`image NAME: no credentials for host HOST (how to add one)`) per image
    /// of `images` whose host has no credential here.
    pub fn without_credentials<'a>(
        &self,
        images: impl IntoIterator<Item = (&'a str, &'a Source)>,
    ) -> Vec<(&'a str, String)> {
        images
            .into_iter()
            .filter(|(_, s)| !self.client(s).has_credential(s.provider))
            .map(|(name, s)| {
                let client = self.client(s);
                let api = match s.provider {
                    Provider::Github => &client.endpoints().github_api,
                    Provider::Gitlab => &client.endpoints().gitlab_api,
                };
                let host = api_host(api).unwrap_or(api);
                let message = format!(
                    "image {name}: no credentials for host {host} (add a rule for it to the \
                     host-rules file named by {HOST_RULES_ENV}{})",
                    if s.api.is_some() {
                        ""
                    } else {
                        ", or set the token variables"
                    }
                );
                (name, message)
            })
            .collect()
    }
}

/// The variables that hold a forge credential for the default hosts.
const CREDENTIAL_ENVS: &[&str] = &[
    if_forge::GITHUB_TOKEN_ENV,
    if_forge::GITLAB_TOKEN_ENV,
    APP_ID_ENV,
    APP_INSTALLATION_ENV,
    APP_KEY_FILE_ENV,
];

/// Whether this environment holds forge credentials at all: a host-rules file, or one of the
/// token or App variables (where `reconcile` runs; a check of the enrollment alone, without
/// them, is not asked about credentials).
pub fn credentials_configured() -> bool {
    settings::env(HOST_RULES_ENV).is_some()
        || CREDENTIAL_ENVS.iter().any(|v| settings::env(v).is_some())
}

/// The host rules from `IMAGE_FACTORY_HOST_RULES` (none when it is not set); a file that
/// cannot be read or has problems is an input error with `path:line:col`.
pub fn rules_from_env() -> Result<Option<(String, Vec<HostRule>)>, CliError> {
    let Some(path) = settings::env(HOST_RULES_ENV) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
        path: path.clone().into(),
        source,
    })?;
    let (rules, diags) = host_rules::parse(&text, &path);
    if !diags.is_empty() {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        return Err(CliError::Input(lines.join("\n")));
    }
    Ok(Some((path, rules)))
}

/// The clients for `sources` (their `api` bases) with this retry policy.
pub fn forges_from_env<'a>(
    retry: &Retry,
    sources: impl IntoIterator<Item = &'a Source>,
) -> Result<Forges, CliError> {
    let rules = rules_from_env()?;
    let rule_list: &[HostRule] = rules.as_ref().map_or(&[], |(_, r)| r.as_slice());
    let defaults = Endpoints {
        github_api: settings::env(if_forge::GITHUB_API_ENV)
            .unwrap_or_else(|| if_forge::DEFAULT_GITHUB_API.to_string()),
        gitlab_api: settings::env(if_forge::GITLAB_API_ENV)
            .unwrap_or_else(|| if_forge::DEFAULT_GITLAB_API.to_string()),
    };
    let github = match rule_for(rule_list, &defaults.github_api, Provider::Github) {
        Some(rule) => Some(credential(rule)?),
        None => env_github()?,
    };
    let gitlab = match rule_for(rule_list, &defaults.gitlab_api, Provider::Gitlab) {
        Some(rule) => Some(credential(rule)?),
        None => {
            settings::env(if_forge::GITLAB_TOKEN_ENV).map(|t| Credential::Token(Secret::new(t)))
        }
    };
    let default = client(defaults.clone(), github, gitlab, retry)?;
    let mut by_api = BTreeMap::new();
    for source in sources {
        let Some(api) = &source.api else { continue };
        if by_api.contains_key(api) {
            continue;
        }
        let mut endpoints = defaults.clone();
        let default_api = match source.provider {
            Provider::Github => std::mem::replace(&mut endpoints.github_api, api.clone()),
            Provider::Gitlab => std::mem::replace(&mut endpoints.gitlab_api, api.clone()),
        };
        let cred = match rule_for(rule_list, api, source.provider) {
            Some(rule) => Some(credential(rule)?),
            // The default API named explicitly: the default credentials.
            None if api_host(api) == api_host(&default_api) => match source.provider {
                Provider::Github => env_github()?,
                Provider::Gitlab => settings::env(if_forge::GITLAB_TOKEN_ENV)
                    .map(|t| Credential::Token(Secret::new(t))),
            },
            None => None,
        };
        let (github, gitlab) = match source.provider {
            Provider::Github => (cred, None),
            Provider::Gitlab => (None, cred),
        };
        by_api.insert(api.clone(), client(endpoints, github, gitlab, retry)?);
    }
    Ok(Forges {
        default,
        by_api,
        rules_file: rules.map(|(path, _)| path),
    })
}

/// The token for git over HTTP(S) to `url` when `IMAGE_FACTORY_GIT_TOKEN` is not set (the
/// caller checks that first), user `x-access-token`:
///
/// 1. the host-rules file's rule for the remote's host (`host[:port]`, exactly): its token,
///    or its GitHub App's installation token (asked of the host's API: the default GitHub
///    API when it is on that host, else `https://HOST/api/v3`, GitHub Enterprise Server's);
/// 2. the default GitHub's App (`GITHUB_APP_*`, or a `githubApp` rule for the default API's
///    host) when the remote is on the default GitHub's host (`github.com` for
///    `api.github.com`, else the API base's host): its installation token.
///
/// Otherwise none (`GITHUB_TOKEN` is not sent to git). SSH and local remotes take none.
///
/// An App's token is not asked for here: the answer is a [`TokenSource`] that if-git asks at
/// each clone, fetch and push, and that gives the kept installation token while it is fresh
/// and a new one from [`if_forge::RENEW_BEFORE_SECS`] before it expires (the renewal of
/// dispatches and polls), so a run longer than the token's hour still pushes.
pub fn git_token_from_env(url: &str) -> Result<Option<Token>, CliError> {
    let Some(host) = api_host(url).map(|h| {
        let h = h.rsplit('@').next().unwrap_or(h);
        h.to_ascii_lowercase()
    }) else {
        return Ok(None);
    };
    let rules = rules_from_env()?;
    let rule_list: &[HostRule] = rules.as_ref().map_or(&[], |(_, r)| r.as_slice());
    let default_api = settings::env(if_forge::GITHUB_API_ENV)
        .unwrap_or_else(|| if_forge::DEFAULT_GITHUB_API.to_string());
    let default_host = api_host(&default_api).map(|h| {
        let h = h.to_ascii_lowercase();
        h.strip_prefix("api.").map_or(h.clone(), str::to_owned)
    });
    let on_default = default_host.as_deref() == Some(host.as_str());
    let credential = match rule_list.iter().find(|r| r.host == host) {
        Some(rule) => Some(credential(rule)?),
        None if on_default => match rule_for(rule_list, &default_api, Provider::Github) {
            Some(rule) => Some(credential(rule)?),
            None => env_github()?.filter(|c| matches!(c, Credential::App(_))),
        },
        None => None,
    };
    let app = match credential {
        None => return Ok(None),
        Some(Credential::Token(t)) => return Ok(Some(Token::Fixed(t))),
        Some(Credential::App(app)) => app,
    };
    let api = if on_default {
        default_api
    } else {
        format!("https://{host}/api/v3")
    };
    let endpoints = Endpoints {
        github_api: api.clone(),
        gitlab_api: if_forge::DEFAULT_GITLAB_API.to_string(),
    };
    let client = Client::new(endpoints, None, None, settings::retry(3, 60)).with_github_app(app);
    let host_shown = api_host(&api).unwrap_or(&api).to_owned();
    let source = TokenSource::new(move || {
        let asked = |why: String| {
            format!(
                "the GitHub App's installation token for git at {host} (asked of {host_shown}): {why}"
            )
        };
        match client.github_app_token() {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(asked("no App".to_owned())),
            Err(e) => Err(asked(e.to_string())),
        }
    });
    Ok(Some(Token::Renewing(source)))
}

/// The rule for `api`'s host (`api.github.com` also takes a rule for `github.com`) that
/// `provider` can use (a `githubApp` rule serves GitHub only).
fn rule_for<'r>(rules: &'r [HostRule], api: &str, provider: Provider) -> Option<&'r HostRule> {
    let host = api_host(api)?.to_ascii_lowercase();
    let bare = host.strip_prefix("api.").unwrap_or(&host).to_owned();
    let usable = |r: &&HostRule| {
        provider == Provider::Github || matches!(r.credential, HostCredential::Token(_))
    };
    let mut candidates = rules.iter().filter(usable);
    candidates
        .clone()
        .find(|r| r.host == host)
        .or_else(|| candidates.find(|r| r.host == bare))
}

fn credential(rule: &HostRule) -> Result<Credential, CliError> {
    Ok(match &rule.credential {
        HostCredential::Token(t) => Credential::Token(Secret::new(t.trim().to_owned())),
        HostCredential::GithubApp {
            app_id,
            installation_id,
            private_key_file,
        } => Credential::App(load_app(app_id, *installation_id, private_key_file)?),
    })
}

/// The GitHub App of the `GITHUB_APP_*` variables (all three, or none), else
/// `GITHUB_TOKEN`.
fn env_github() -> Result<Option<Credential>, CliError> {
    let vars = [APP_ID_ENV, APP_INSTALLATION_ENV, APP_KEY_FILE_ENV];
    let values: Vec<Option<String>> = vars.iter().map(|v| settings::env(v)).collect();
    match values.as_slice() {
        [Some(id), Some(installation), Some(key)] => {
            let installation_id = installation.parse::<u64>().map_err(|_| {
                CliError::Input(format!(
                    "{APP_INSTALLATION_ENV} `{installation}` is not a number (the installation's id)"
                ))
            })?;
            Ok(Some(Credential::App(load_app(id, installation_id, key)?)))
        }
        [None, None, None] => Ok(
            settings::env(if_forge::GITHUB_TOKEN_ENV).map(|t| Credential::Token(Secret::new(t)))
        ),
        _ => {
            let missing: Vec<&str> = vars
                .iter()
                .zip(&values)
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            Err(CliError::Input(format!(
                "a GitHub App needs {APP_ID_ENV}, {APP_INSTALLATION_ENV} and {APP_KEY_FILE_ENV}; \
                 not set: {}",
                missing.join(", ")
            )))
        }
    }
}

/// Reads the App's key file; an error names the file, never its content.
fn load_app(app_id: &str, installation_id: u64, path: &str) -> Result<GithubApp, CliError> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        CliError::Input(format!(
            "GitHub App private key file {path}: cannot read: {e}"
        ))
    })?;
    let key = AppKey::from_pem(&pem)
        .map_err(|e| CliError::Input(format!("GitHub App private key file {path}: {e}")))?;
    Ok(GithubApp {
        app_id: app_id.to_owned(),
        installation_id,
        key,
    })
}

fn client(
    endpoints: Endpoints,
    github: Option<Credential>,
    gitlab: Option<Credential>,
    retry: &Retry,
) -> Result<Client, CliError> {
    let token = |c: &Option<Credential>| match c {
        Some(Credential::Token(t)) => Some(t.clone()),
        _ => None,
    };
    let client = Client::new(endpoints, token(&github), token(&gitlab), *retry);
    Ok(match github {
        Some(Credential::App(app)) => client.with_github_app(app),
        _ => client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_github_com_rule_serves_its_api_host() {
        let (rules, diags) = host_rules::parse(
            "- host: github.com\n  token: a\n- host: ghe.example\n  token: b\n",
            "r.yaml",
        );
        assert!(diags.is_empty());
        let gh = Provider::Github;
        assert_eq!(
            rule_for(&rules, "https://api.github.com", gh).unwrap().host,
            "github.com"
        );
        assert_eq!(
            rule_for(&rules, "https://ghe.example/api/v3", gh)
                .unwrap()
                .host,
            "ghe.example"
        );
        assert!(rule_for(&rules, "https://gitlab.com/api/v4", Provider::Gitlab).is_none());
        let (apps, _) = host_rules::parse(
            "- host: h\n  githubApp: {appId: 1, installationId: 2, privateKeyFile: k}\n",
            "r.yaml",
        );
        assert!(rule_for(&apps, "https://h/api/v4", Provider::Gitlab).is_none());
    }
}
