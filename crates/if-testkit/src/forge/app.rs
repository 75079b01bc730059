//! GitHub App installations: "Create an installation access token for an app"
//! (`POST /app/installations/{installation_id}/access_tokens`), with the JWT checked as
//! GitHub's "Generating a JSON Web Token (JWT) for a GitHub App" documents (RS256, signed
//! with the App's private key and checked here with its public key; `iat` in the past,
//! `exp` no more than 10 minutes after it and not passed, `iss` the App's id), and the
//! installation tokens it issued: each expires an hour (settable) after it was issued, by
//! the fake's clock, and is refused with 401 "Bad credentials" from then on.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};

use if_model::timestamp::Timestamp;

use super::{GITHUB_ACCEPT, expect_github_headers, single};

/// A registered App.
#[derive(Debug, Clone)]
struct App {
    app_id: String,
    installation_id: u64,
    /// DER `RSAPublicKey`.
    public_key: Vec<u8>,
}

/// One installation token issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub token: String,
    pub expires_at: i64,
}

/// The Apps, the tokens issued and how many exchanges were made.
#[derive(Debug, Clone)]
pub(crate) struct Apps {
    apps: Vec<App>,
    pub issued: Vec<Issued>,
    /// Seconds from issue to `expires_at` (GitHub: one hour).
    pub lifetime: i64,
    /// A test device, not GitHub's behaviour: a token is refused as soon as a newer one was
    /// issued, so that a client that kept a token instead of renewing it is caught.
    pub latest_only: bool,
}

impl Default for Apps {
    fn default() -> Self {
        Apps {
            apps: Vec::new(),
            issued: Vec::new(),
            lifetime: 3600,
            latest_only: false,
        }
    }
}

impl Apps {
    pub(crate) fn add(&mut self, app_id: &str, installation_id: u64, public_key: Vec<u8>) {
        self.apps.push(App {
            app_id: app_id.to_owned(),
            installation_id,
            public_key,
        });
    }

    /// The issued tokens still valid at `now` (with `latest_only`, the last one at most).
    pub(crate) fn valid(&self, now: i64) -> Vec<String> {
        let skip = if self.latest_only {
            self.issued.len().saturating_sub(1)
        } else {
            0
        };
        self.issued
            .iter()
            .skip(skip)
            .filter(|i| now < i.expires_at)
            .map(|i| i.token.clone())
            .collect()
    }

    /// Whether `token` is one this fake issued that has expired at `now` (or, with
    /// `latest_only`, that a newer one replaced).
    pub(crate) fn expired(&self, token: &str, now: i64) -> bool {
        let last = self.issued.len().saturating_sub(1);
        self.issued.iter().enumerate().any(|(n, i)| {
            i.token == token && (now >= i.expires_at || (self.latest_only && n < last))
        })
    }

    /// Checks an exchange for `installation_id` at `now`: the answer's status and body,
    /// with every problem in `violations`.
    pub(crate) fn exchange(
        &mut self,
        request: &crate::wire::Request,
        installation_id: u64,
        now: i64,
        violations: &mut Vec<String>,
    ) -> (u16, Value) {
        let before = violations.len();
        expect_github_headers(request, GITHUB_ACCEPT, violations);
        if violations.len() > before {
            let message = violations[before..].join("; ");
            return (400, json!({ "message": message }));
        }
        let jwt = single(request, "authorization", violations)
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        let app = match self.check_jwt(&jwt, now) {
            Ok(app) => app,
            Err(problem) => {
                violations.push(problem);
                return (
                    401,
                    json!({"message": "A JSON web token could not be decoded",
                           "documentation_url": "https://docs.github.com/rest"}),
                );
            }
        };
        if app.installation_id != installation_id {
            violations.push(format!(
                "installation {installation_id} does not belong to App {}",
                app.app_id
            ));
            return (
                404,
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
            );
        }
        let expires_at = now + self.lifetime;
        let token = format!(
            "ghs_fakeInstallationToken{:04}x{installation_id}",
            self.issued.len() + 1
        );
        self.issued.push(Issued {
            token: token.clone(),
            expires_at,
        });
        let at = Timestamp::from_unix(expires_at).map_or_else(String::new, |t| t.to_string());
        (
            201,
            json!({
                "token": token,
                "expires_at": at,
                "permissions": {"actions": "write", "contents": "read", "metadata": "read"},
                "repository_selection": "all",
            }),
        )
    }

    /// The App whose key signed `jwt`, if the JWT passes every rule at `now`.
    fn check_jwt(&self, jwt: &str, now: i64) -> Result<App, String> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("authorization: not a JWT (three base64url parts)".to_owned());
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| format!("JWT {what} is not unpadded base64url"))
        };
        let header: Value = serde_json::from_slice(&decode(header, "header")?)
            .map_err(|_| "JWT header is not JSON".to_owned())?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(format!("JWT alg is {}, want RS256", header["alg"]));
        }
        let claims_value: Value = serde_json::from_slice(&decode(claims, "claims")?)
            .map_err(|_| "JWT claims are not JSON".to_owned())?;
        let iss = match claims_value.get("iss") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("JWT has no `iss`".to_owned()),
        };
        let app = self
            .apps
            .iter()
            .find(|a| a.app_id == iss)
            .ok_or_else(|| format!("JWT iss {iss:?} is no App of this GitHub"))?;
        let signing_input = &jwt[..jwt.len() - signature.len() - 1];
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app.public_key)
            .verify(signing_input.as_bytes(), &decode(signature, "signature")?)
            .map_err(|_| "JWT signature does not verify with the App's public key".to_owned())?;
        let (Some(iat), Some(exp)) = (
            claims_value.get("iat").and_then(Value::as_i64),
            claims_value.get("exp").and_then(Value::as_i64),
        ) else {
            return Err("JWT `iat` and `exp` must be integers".to_owned());
        };
        if iat > now {
            return Err(format!("JWT iat {iat} is in the future (now {now})"));
        }
        if exp <= now {
            return Err(format!("JWT exp {exp} has passed (now {now})"));
        }
        if exp - iat > 600 || exp > now + 600 {
            return Err(format!(
                "JWT exp {exp} is more than 10 minutes after iat {iat} or now {now}"
            ));
        }
        Ok(app.clone())
    }
}
