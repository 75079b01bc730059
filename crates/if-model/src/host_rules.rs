//! The host-rules file (named by `IMAGE_FACTORY_HOST_RULES`): which credential each forge
//! host takes. A YAML list of `{host, token}` or `{host, githubApp: {appId, installationId,
//! privateKeyFile}}`, read strictly (unknown keys, a missing or doubled credential, a repeated
//! host are errors at `path:line:col`). Pure: the caller reads the file and the key files.

use crate::decode::{Decoder, Unknown};
use crate::diag::Diagnostic;
use crate::yaml::{self, Pos};

/// The credential of one host.
#[derive(Clone, PartialEq, Eq)]
pub enum HostCredential {
    /// A token (GitHub `Authorization: Bearer`, GitLab `PRIVATE-TOKEN`).
    Token(String),
    /// A GitHub App installation.
    GithubApp {
        /// The App's id (the JWT's `iss`).
        app_id: String,
        /// The installation whose token is used.
        installation_id: u64,
        /// The App's PEM private key file, as written (relative to the working directory).
        private_key_file: String,
    },
}

impl std::fmt::Debug for HostCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostCredential::Token(_) => f.write_str("Token(***)"),
            HostCredential::GithubApp {
                app_id,
                installation_id,
                private_key_file,
            } => f
                .debug_struct("GithubApp")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .field("private_key_file", private_key_file)
                .finish(),
        }
    }
}

/// One rule: a host (`ghe.example`, `gitlab.example:8443`; lowercase) and its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// The host, with its port when it has one, lowercased.
    pub host: String,
    /// Its credential.
    pub credential: HostCredential,
    /// Where the rule stands.
    pub pos: Pos,
}

const RULE_KEYS: &[&str] = &["host", "token", "githubApp"];
const APP_KEYS: &[&str] = &["appId", "installationId", "privateKeyFile"];

/// Reads a host-rules file; `file` is its name in messages. The rules that could be read
/// and every problem found (any problem makes the file unusable for the caller).
pub fn parse(src: &str, file: &str) -> (Vec<HostRule>, Vec<Diagnostic>) {
    let mut d = Decoder::new(file);
    d.reject_controls = true;
    let doc = match yaml::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(e.pos, e.message);
            return (Vec::new(), d.finish());
        }
    };
    let mut rules: Vec<HostRule> = Vec::new();
    for node in d.items(Some(&doc).filter(|n| !n.is_null()), "host rules") {
        let Some(f) = d.fields(node, "a host rule", RULE_KEYS, Unknown::Reject) else {
            continue;
        };
        let host = d
            .required(f.get("host"), "host", f.pos, "a host rule")
            .map(|h| h.to_ascii_lowercase());
        if let (Some(h), Some(at)) = (&host, f.get("host"))
            && (h.is_empty() || h.contains(['/', '@', ' ']))
        {
            d.error(
                at.pos,
                format!("host `{h}` must be a host name with an optional port (ghe.example:8443), not a URL"),
            );
        }
        let token = d.string(f.get("token"), "token");
        let app = f.get("githubApp").and_then(|n| {
            let a = d.fields(n, "githubApp", APP_KEYS, Unknown::Reject)?;
            let app_id = d.required(a.get("appId"), "appId", a.pos, "githubApp");
            let installation = d.required(
                a.get("installationId"),
                "installationId",
                a.pos,
                "githubApp",
            );
            let installation_id = installation.as_deref().and_then(|i| {
                let parsed = i.parse::<u64>().ok();
                if parsed.is_none()
                    && let Some(at) = a.get("installationId")
                {
                    d.error(at.pos, format!("installationId `{i}` is not a number"));
                }
                parsed
            });
            let key = d.required(
                a.get("privateKeyFile"),
                "privateKeyFile",
                a.pos,
                "githubApp",
            );
            Some(HostCredential::GithubApp {
                app_id: app_id?,
                installation_id: installation_id?,
                private_key_file: key?,
            })
        });
        let credential = match (token, app, f.get("token"), f.get("githubApp")) {
            (_, _, Some(_), Some(n)) => {
                d.error(
                    n.pos,
                    "a host rule has either `token` or `githubApp`, not both",
                );
                None
            }
            (Some(t), _, _, _) => Some(HostCredential::Token(t)),
            (_, Some(app), _, _) => Some(app),
            (None, None, None, None) => {
                d.error(f.pos, "a host rule needs `token` or `githubApp`");
                None
            }
            _ => None,
        };
        let (Some(host), Some(credential)) = (host, credential) else {
            continue;
        };
        if let Some(first) = rules.iter().find(|r| r.host == host) {
            let line = first.pos.line;
            d.error(
                node.pos,
                format!("host `{host}` already has a rule (line {line})"),
            );
            continue;
        }
        rules.push(HostRule {
            host,
            credential,
            pos: node.pos,
        });
    }
    (rules, d.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(src: &str) -> Vec<String> {
        parse(src, "rules.yaml")
            .1
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn tokens_and_apps_are_read() {
        let src = "- host: GHE.example\n  token: ghp_x\n- host: github.com\n  githubApp:\n    appId: 12\n    installationId: 34\n    privateKeyFile: /keys/app.pem\n";
        let (rules, diags) = parse(src, "rules.yaml");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(rules[0].host, "ghe.example");
        assert_eq!(
            rules[0].credential,
            HostCredential::Token("ghp_x".to_owned())
        );
        assert_eq!(
            rules[1].credential,
            HostCredential::GithubApp {
                app_id: "12".to_owned(),
                installation_id: 34,
                private_key_file: "/keys/app.pem".to_owned()
            }
        );
        assert!(!format!("{rules:?}").contains("ghp_x"));
    }

    #[test]
    fn problems_are_named_at_their_position() {
        assert_eq!(
            messages("- host: a\n  tokn: x\n"),
            [
                "rules.yaml:1:3: error: a host rule needs `token` or `githubApp`",
                "rules.yaml:2:3: error: unknown key `tokn` in a host rule; did you mean `token`?"
            ]
        );
        let both = messages(
            "- host: a\n  token: x\n  githubApp: {appId: 1, installationId: 2, privateKeyFile: k}\n",
        );
        assert_eq!(
            both,
            ["rules.yaml:3:14: error: a host rule has either `token` or `githubApp`, not both"]
        );
        let m = messages(
            "- host: a\n  githubApp:\n    appId: 1\n    installationId: x\n    privateKeyFile: k\n",
        );
        assert_eq!(
            m,
            ["rules.yaml:4:21: error: installationId `x` is not a number"]
        );
        let m = messages("- host: a\n  token: x\n- host: A\n  token: y\n");
        assert_eq!(
            m,
            ["rules.yaml:3:3: error: host `a` already has a rule (line 1)"]
        );
        let m = messages("- host: https://a/api\n  token: x\n");
        assert!(
            m[0].starts_with("rules.yaml:1:9: error: host `https://a/api` must be"),
            "{m:?}"
        );
        assert!(messages("[").len() == 1);
    }
}
