//! A token server for the registry's `auth.token`: ES256 JWTs signed with a fresh P-256
//! key whose self-signed certificate is the registry's `rootcertbundle` and travels in
//! each token's `x5c` header (distribution 2.8 verifies `x5c` against the bundle). It
//! counts the token requests it answers.
//!
//! With an [`Access`] it knows users: `GET` with their Basic credentials (the token spec's
//! token.md), or `POST` of the OAuth2 form with `grant_type=refresh_token` and a refresh
//! token it issued (oauth.md: `grant_type`, `client_id` required, `scope` space-separated),
//! and it grants a user pull only on the repositories it lists for them (asked for others,
//! it leaves them out of the token's `access`, as Docker's token server does).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::Must as _;
use crate::lock;
use crate::loopback::Loopback;

/// The `service` (token audience) the registry is configured with.
pub const SERVICE: &str = "test-registry";
/// The token issuer the registry is configured to accept.
pub const ISSUER: &str = "test-issuer";

/// The signing key and its certificate.
pub struct Signer {
    key: EcdsaKeyPair,
    cert_der_b64: String,
    rng: SystemRandom,
}

impl Signer {
    /// A new key; its certificate's PEM is written to `cert_path`.
    pub fn new(cert_path: &Path) -> Signer {
        let key_pair = rcgen::KeyPair::generate().must("token signer: key");
        let params = rcgen::CertificateParams::new(vec!["token-issuer".to_owned()])
            .must("token signer: certificate parameters");
        let cert = params
            .self_signed(&key_pair)
            .must("token signer: certificate");
        std::fs::write(cert_path, cert.pem()).must("token signer: writing the certificate");
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .must("token signer: loading the key");
        Signer {
            key,
            cert_der_b64: STANDARD.encode(cert.der()),
            rng,
        }
    }

    /// A token for `subject` granting, for each `(name, actions)` of `access`, `actions` on
    /// repository `name`; valid `lifetime` (at least a second).
    pub fn token(
        &self,
        subject: &str,
        access: &[(String, Vec<String>)],
        lifetime: Duration,
    ) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .must("token signer: clock")
            .as_secs();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [self.cert_der_b64]});
        let access: Vec<_> = access
            .iter()
            .map(|(name, actions)| json!({"type": "repository", "name": name, "actions": actions}))
            .collect();
        let claims = json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + lifetime.as_secs().max(1),
            "nbf": now - 1,
            "iat": now,
            "jti": format!("{now}-{}", JTI.fetch_add(1, Ordering::Relaxed)),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, input.as_bytes())
            .must("token signer: signing");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// `Bearer <token>` with pull and push on `repos`, for the test's own pushes.
    pub fn push_auth(&self, repos: &[&str]) -> String {
        let access: Vec<_> = repos
            .iter()
            .map(|r| ((*r).to_owned(), vec!["pull".to_owned(), "push".to_owned()]))
            .collect();
        format!(
            "Bearer {}",
            self.token("pusher", &access, Duration::from_secs(600))
        )
    }
}

static JTI: AtomicUsize = AtomicUsize::new(0);

/// One token request as received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The OAuth2 `grant_type` of a `POST`.
    pub grant_type: Option<String>,
    /// The user it was answered for (none when refused or anonymous).
    pub user: Option<String>,
    /// The `service` query parameter.
    pub service: Option<String>,
    /// Every `scope` query parameter, in order (percent-decoded).
    pub scopes: Vec<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

/// The token server: `GET /token?service=..&scope=..`, answering
/// `{"token", "access_token", "expires_in"}`. It records every request it answers; stopped
/// on drop.
pub struct TokenServer {
    /// The signing key (for the test's own tokens: [`Signer::push_auth`]).
    pub signer: Arc<Signer>,
    /// The key's PEM certificate: the registry's `rootcertbundle`.
    pub cert_path: PathBuf,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    server: Loopback,
}

/// A user of an [`Access`].
#[derive(Clone, Debug)]
pub struct TokenUser {
    /// The user name.
    pub name: String,
    /// The password (Basic credentials).
    pub password: String,
    /// The repositories it may pull; empty: all.
    pub repos: Vec<String>,
}

/// Who may have tokens: users by Basic credentials, and refresh tokens (identity tokens)
/// each standing for a user. Empty: anyone (as [`TokenPolicy::require`] says).
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// The users.
    pub users: Vec<TokenUser>,
    /// Refresh tokens and the user each is for.
    pub refresh_tokens: Vec<(String, String)>,
}

/// What the server demands and gives.
#[derive(Clone)]
pub struct TokenPolicy {
    /// The `Authorization` a request must carry (`Basic ...`), if any.
    pub require: Option<String>,
    /// `expires_in` of every token.
    pub expires_in: u64,
}

impl TokenServer {
    /// A token server on a free 127.0.0.1 port with a new key, whose certificate is
    /// written to `dir/token-cert.pem`.
    pub fn start(dir: &Path, policy: TokenPolicy) -> TokenServer {
        TokenServer::start_with_access(dir, policy, Access::default())
    }

    /// [`TokenServer::start`], giving tokens only to the users of `access`.
    pub fn start_with_access(dir: &Path, policy: TokenPolicy, access: Access) -> TokenServer {
        let cert_path = dir.join("token-cert.pem");
        let signer = Arc::new(Signer::new(&cert_path));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let server = {
            let (signer, requests) = (signer.clone(), requests.clone());
            Loopback::start("token server", move |stream| {
                serve(stream, &signer, &policy, &access, &requests);
            })
        };
        TokenServer {
            signer,
            cert_path,
            requests,
            server,
        }
    }

    /// The realm URL (`http://127.0.0.1:PORT/token`).
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.addr())
    }

    /// Token requests answered so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.requests).clone()
    }

    /// How many token requests were answered so far.
    pub fn count(&self) -> usize {
        lock(&self.requests).len()
    }
}

fn serve(
    stream: TcpStream,
    signer: &Signer,
    policy: &TokenPolicy,
    access: &Access,
    log: &Mutex<Vec<TokenRequest>>,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .must("token server: read timeout");
    let mut reader = BufReader::new(stream.try_clone().must("token server: stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_owned();
    let target = words.next().unwrap_or("").to_owned();
    let mut authorization = None;
    let mut content_type = None;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim(), value.trim().to_owned());
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value);
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value);
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0).min(1 << 20);
            }
        }
    }
    let mut body = vec![0; length];
    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
        return;
    }
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let post = method == "POST";
    let form = if post {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        String::new()
    };
    let params: Vec<(String, String)> = (if post { form.as_str() } else { query })
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = if post {
        param("scope")
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        params
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect()
    };
    let refusal = |status: &'static str, error: &str| (status, json!({"error": error}).to_string());
    // Who asks: a user by Basic credentials (GET) or by refresh token (POST), or anyone.
    let user: Result<Option<&TokenUser>, (&'static str, String)> = if post {
        let grant = param("grant_type");
        if content_type.as_deref() != Some("application/x-www-form-urlencoded")
            || param("client_id").is_none_or(|c| c.is_empty())
        {
            Err(refusal("400 Bad Request", "invalid_request"))
        } else if grant.as_deref() != Some("refresh_token") {
            Err(refusal("400 Bad Request", "unsupported_grant_type"))
        } else {
            let token = param("refresh_token").unwrap_or_default();
            access
                .refresh_tokens
                .iter()
                .find(|(t, _)| *t == token)
                .and_then(|(_, name)| access.users.iter().find(|u| u.name == *name))
                .map(Some)
                .ok_or_else(|| refusal("400 Bad Request", "invalid_grant"))
        }
    } else if access.users.is_empty() {
        if policy.require.is_some() && authorization != policy.require {
            Err((
                "401 Unauthorized",
                json!({"details": "incorrect username or password"}).to_string(),
            ))
        } else {
            Ok(None)
        }
    } else {
        access
            .users
            .iter()
            .find(|u| {
                authorization.as_deref()
                    == Some(&format!(
                        "Basic {}",
                        STANDARD.encode(format!("{}:{}", u.name, u.password))
                    ))
            })
            .map(Some)
            .ok_or_else(|| {
                (
                    "401 Unauthorized",
                    json!({"details": "incorrect username or password"}).to_string(),
                )
            })
    };
    let request = TokenRequest {
        method: method.clone(),
        grant_type: param("grant_type"),
        user: user
            .as_ref()
            .ok()
            .copied()
            .flatten()
            .map(|u| u.name.clone()),
        service: param("service"),
        scopes,
        authorization: authorization.clone(),
    };
    lock(log).push(request.clone());
    let (status, body) = match user {
        Err(refused) => refused,
        Ok(user) => {
            let access: Vec<_> = request
                .scopes
                .iter()
                .filter_map(|s| {
                    let rest = s.strip_prefix("repository:")?;
                    let (name, actions) = rest.rsplit_once(':')?;
                    let allowed = user
                        .is_none_or(|u| u.repos.is_empty() || u.repos.iter().any(|r| r == name));
                    allowed.then(|| {
                        (
                            name.to_owned(),
                            actions.split(',').map(str::to_owned).collect(),
                        )
                    })
                })
                .collect();
            let subject = user.map_or("tester", |u| u.name.as_str());
            let token = signer.token(subject, &access, Duration::from_secs(policy.expires_in));
            let body = if post {
                json!({"access_token": token, "expires_in": policy.expires_in, "scope": request.scopes.join(" ")})
            } else {
                json!({"token": token, "access_token": token, "expires_in": policy.expires_in})
            };
            ("200 OK", body.to_string())
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Percent-decoding of a query value.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).must("token server: query");
                out.push(u8::from_str_radix(hex, 16).must("token server: query"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).must("token server: query")
}
