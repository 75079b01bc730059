//! GitHub App authentication: the App's private key, the RS256 JWT it signs, and the
//! installation token that JWT is exchanged for (kept, and renewed before it expires).
//!
//! As GitHub's "Generating a JSON Web Token (JWT) for a GitHub App" documents: the JWT is
//! signed with RS256, its `iat` is 60 seconds in the past (clock drift), its `exp` no more
//! than 10 minutes into the future, its `iss` the App's id. "Generating an installation
//! access token for a GitHub App": `POST {api}/app/installations/{id}/access_tokens` with
//! `Authorization: Bearer <jwt>` answers 201 with `token` and `expires_at` (an hour later);
//! the token is then used like any other (`Authorization: Bearer`, and for git over HTTPS
//! the user `x-access-token` with the token as password).
//!
//! The logic is pure where it can be: [`jwt`] and [`needs_renewal`] take the time as a
//! parameter; the client's clock is read in one place ([`crate::Client::with_clock`]).
//! The key and every token are [`Secret`]s or hidden in `Debug`.

use std::fmt;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use if_model::enrollment::Provider;
use if_model::timestamp::Timestamp;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use crate::error::ForgeError;
use crate::github;
use crate::http::{self, Call, Method};
use crate::{Client, Secret};

/// Seconds the JWT's `iat` lies in the past (GitHub: "60 seconds in the past to allow for
/// clock drift").
pub const JWT_BACKDATE_SECS: i64 = 60;
/// Seconds from `iat` to `exp`: GitHub allows at most 10 minutes into the future; with `iat`
/// backdated this `exp` is 9 minutes from now, and `exp - iat` is exactly 10 minutes.
pub const JWT_LIFETIME_SECS: i64 = 600;
/// An installation token is renewed this many seconds before its `expires_at`.
pub const RENEW_BEFORE_SECS: i64 = 300;

/// Why a private key cannot be used. Never holds any of the key's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `-----BEGIN RSA PRIVATE KEY-----` or `-----BEGIN PRIVATE KEY-----` block.
    #[error(
        "no PEM private key block (want `-----BEGIN RSA PRIVATE KEY-----`, as GitHub issues \
         it, or `-----BEGIN PRIVATE KEY-----`)"
    )]
    NoPem,
    /// The block's base64 does not decode.
    #[error("the PEM block is not valid base64")]
    Base64,
    /// The DER is not an RSA key ring accepts (2048 to 8192 bits).
    #[error("not an RSA private key of 2048 to 8192 bits ({0})")]
    Rejected(String),
}

/// A GitHub App's RSA private key. `Debug` shows nothing of it.
pub struct AppKey(RsaKeyPair);

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey(***)")
    }
}

impl AppKey {
    /// Reads a PEM key: PKCS#1 (`RSA PRIVATE KEY`, the format GitHub's "Generate a private
    /// key" downloads) or PKCS#8 (`PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<AppKey, KeyError> {
        let (label, der) = pem_block(pem)?;
        let pair = if label == "RSA PRIVATE KEY" {
            RsaKeyPair::from_der(&der)
        } else {
            RsaKeyPair::from_pkcs8(&der)
        };
        pair.map(AppKey)
            .map_err(|e| KeyError::Rejected(e.to_string()))
    }

    /// The public key, DER `RSAPublicKey` (PKCS#1), for checking signatures.
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        self.0.public_key().as_ref().to_vec()
    }
}

/// The first private key PEM block: its label and its DER bytes.
fn pem_block(pem: &str) -> Result<(&'static str, Vec<u8>), KeyError> {
    for label in ["RSA PRIVATE KEY", "PRIVATE KEY"] {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        let Some(start) = pem.find(&begin) else {
            continue;
        };
        let rest = &pem[start + begin.len()..];
        let Some(stop) = rest.find(&end) else {
            return Err(KeyError::NoPem);
        };
        let b64: String = rest[..stop]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = STANDARD.decode(b64).map_err(|_| KeyError::Base64)?;
        return Ok((label, der));
    }
    Err(KeyError::NoPem)
}

/// A GitHub App installation: the App's id, the installation's id and the App's key.
#[derive(Debug)]
pub struct GithubApp {
    /// The App's id (the JWT's `iss`).
    pub app_id: String,
    /// The installation whose token is asked for.
    pub installation_id: u64,
    /// The App's private key.
    pub key: AppKey,
}

/// The RS256 JWT of `app` at `now` (Unix seconds): header `{"alg":"RS256","typ":"JWT"}`,
/// claims `iat` = now - 60, `exp` = iat + 600, `iss` = the App's id.
pub fn jwt(app: &GithubApp, now: i64) -> Result<Secret, KeyError> {
    let iat = now - JWT_BACKDATE_SECS;
    let header = json!({"alg": "RS256", "typ": "JWT"});
    let claims = json!({"iat": iat, "exp": iat + JWT_LIFETIME_SECS, "iss": app.app_id});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; app.key.0.public().modulus_len()];
    app.key
        .0
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|e| KeyError::Rejected(e.to_string()))?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    )))
}

/// Whether a token that expires at `expires_at` must be renewed at `now` (Unix seconds):
/// from [`RENEW_BEFORE_SECS`] before it expires.
pub fn needs_renewal(expires_at: i64, now: i64) -> bool {
    now + RENEW_BEFORE_SECS >= expires_at
}

/// An App with its current installation token (if one was issued).
#[derive(Debug)]
pub(crate) struct AppAuth {
    pub app: GithubApp,
    /// The token and its `expires_at` (Unix seconds).
    pub current: Mutex<Option<(Secret, i64)>>,
}

impl AppAuth {
    pub(crate) fn new(app: GithubApp) -> Self {
        AppAuth {
            app,
            current: Mutex::new(None),
        }
    }

    /// The current token, if any (for scrubbing).
    pub(crate) fn current(&self) -> Option<Secret> {
        self.lock().as_ref().map(|(token, _)| token.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Secret, i64)>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The installation token of `client`'s App: the kept one while it is fresh, else a new one
/// from the exchange (one request; the lock is held so that parallel polls exchange once).
pub(crate) fn installation_token(client: &Client, auth: &AppAuth) -> Result<Secret, ForgeError> {
    let mut current = auth.lock();
    let now = client.now();
    if let Some((token, expires_at)) = current.as_ref()
        && !needs_renewal(*expires_at, now)
    {
        return Ok(token.clone());
    }
    let old = current.as_ref().map(|(token, _)| token.clone());
    let (token, expires_at) = exchange(client, &auth.app, old, now)?;
    *current = Some((token.clone(), expires_at));
    Ok(token)
}

/// The exchange URL of installation `id`.
pub(crate) fn access_tokens_url(api: &str, id: u64) -> String {
    format!(
        "{}/app/installations/{id}/access_tokens",
        crate::path::base(api)
    )
}

/// `POST {api}/app/installations/{id}/access_tokens` with the JWT: the token and its
/// `expires_at`.
/// `old` is the token being replaced (scrubbed from messages like the JWT).
fn exchange(
    client: &Client,
    app: &GithubApp,
    old: Option<Secret>,
    now: i64,
) -> Result<(Secret, i64), ForgeError> {
    let jwt = jwt(app, now).map_err(|problem| ForgeError::AppKey {
        problem: problem.to_string(),
    })?;
    let mut secrets = client.static_secrets();
    secrets.extend(old);
    secrets.push(jwt.clone());
    let call = Call {
        provider: Provider::Github,
        method: Method::Post,
        url: access_tokens_url(&client.endpoints.github_api, app.installation_id),
        headers: github::headers(github::ACCEPT, Some(&jwt), &client.user_agent),
        body: String::new(),
        secrets,
    };
    let reply = http::send(client, &call)?;
    if reply.status != 201 {
        return Err(http::rejected(&call, &reply));
    }
    let body: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| http::invalid_response(&call, &reply, "the body is not JSON"))?;
    let token = body
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ForgeError::InvalidResponse {
            provider: Provider::Github,
            method: "POST",
            status: reply.status,
            url: call.url.clone(),
            message: "no `token` in the installation token answer".to_owned(),
            attempts: reply.attempts,
        })?;
    let expires_at = body
        .get("expires_at")
        .and_then(Value::as_str)
        .and_then(|at| Timestamp::parse(at).ok())
        .ok_or_else(|| ForgeError::InvalidResponse {
            provider: Provider::Github,
            method: "POST",
            status: reply.status,
            url: call.url.clone(),
            message: "no RFC 3339 `expires_at` in the installation token answer".to_owned(),
            attempts: reply.attempts,
        })?;
    Ok((Secret::new(token.to_owned()), expires_at.unix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_starts_five_minutes_early() {
        assert!(!needs_renewal(1000, 699));
        assert!(needs_renewal(1000, 700));
        assert!(needs_renewal(1000, 2000));
    }

    #[test]
    fn pem_without_a_key_block_is_refused_without_echoing_it() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let err = AppKey::from_pem(pem).unwrap_err();
        assert_eq!(err, KeyError::NoPem);
        assert!(!err.to_string().contains("MIIB"));
        let bad = "-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(AppKey::from_pem(bad).unwrap_err(), KeyError::Base64);
        let junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(AppKey::from_pem(junk), Err(KeyError::Rejected(_))));
    }

    #[test]
    fn urls() {
        assert_eq!(
            access_tokens_url("https://ghe.example/api/v3/", 42),
            "https://ghe.example/api/v3/app/installations/42/access_tokens"
        );
    }
}
