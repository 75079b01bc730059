//! Authentication: `WWW-Authenticate` challenges, the Docker token flow (a token from the
//! realm, cached until it expires, keyed by realm, service, user and scope), an
//! `identitytoken` exchanged by OAuth2 (`POST` `grant_type=refresh_token`), HTTP Basic, and
//! what each registry host asked for last.
//!
//! Both caches are [`Flights`]: concurrent callers wait for one discovery of a host's scheme
//! and for one token request per scope. A token request asks for the scopes of the other
//! repositories of the registry the client was told to [expect](Client::expect) (same
//! credentials, no token yet) too, as the token spec allows (`scope` repeated), so a run
//! over many repositories of one registry needs few tokens.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{RegistryError, Subject};
use crate::flight::{Flights, Turn};
use crate::http::{self, Kind, Method, Request, Tally};
use crate::{Client, Credentials, Secret};

/// A token's lifetime when the realm does not say (`expires_in`), as the token spec says.
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// The most scopes one token request asks for.
const MAX_SCOPES: usize = 100;
/// The most bytes of scopes one token request carries (URLs stay well under 8 KiB).
const MAX_SCOPE_BYTES: usize = 6000;
/// The `client_id` of OAuth2 token requests (the token spec's oauth.md requires one).
const CLIENT_ID: &str = "image-factory";

/// How a registry host wants requests authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// No authentication (it answered without a challenge).
    Anonymous,
    /// HTTP Basic with the configured credentials.
    Basic,
    /// A bearer token from `realm` for `service`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: Scheme,
    /// The scope the registry asks for (`repository:library/node:pull`).
    pub scope: Option<String>,
    /// The `error` parameter (`invalid_token`, `insufficient_scope`).
    pub error: Option<String>,
}

/// A cached token: the `Authorization` value it makes (`Bearer <token>`), shared by every
/// scope the token was asked for (one token for a hundred scopes is kept once, not a
/// hundred times: at 100,000 repositories, about 10 KiB each).
#[derive(Clone)]
pub(crate) struct Token {
    header: Arc<Secret>,
    /// After this the token is fetched anew (a tenth of its lifetime before it expires).
    refresh_at: Instant,
}

/// The auth caches of one client.
pub(crate) struct AuthState {
    /// Per API authority: the scheme its last challenge asked for.
    schemes: Flights<String, Scheme>,
    /// Per (realm, service, user, scope).
    tokens: Flights<TokenKey, Token>,
}

type TokenKey = (String, String, String, String);

impl AuthState {
    pub(crate) fn new() -> Self {
        AuthState {
            schemes: Flights::new(),
            tokens: Flights::new(),
        }
    }
}

/// Everything one request needs to know to authenticate.
pub(crate) struct AuthContext<'a> {
    pub subject: &'a Subject,
    /// The authority the request goes to.
    pub authority: &'a str,
    /// The credentials configured for it.
    pub credentials: Option<&'a Credentials>,
    /// `repository:<name>:pull`.
    pub scope: String,
    /// Whether a token request may carry the scopes of other expected repositories.
    pub batch: bool,
}

impl AuthContext<'_> {
    fn token_key(&self, realm: &str, service: Option<&str>, scope: &str) -> TokenKey {
        (
            realm.to_owned(),
            service.unwrap_or_default().to_owned(),
            self.credentials
                .map(|c| c.username.clone())
                .unwrap_or_default(),
            scope.to_owned(),
        )
    }
}

/// What the caller learns from [`known_scheme`].
pub(crate) enum Known<'a> {
    /// The host's scheme.
    Scheme(Scheme),
    /// Nobody knows it yet: send anonymously and report what the answer says with
    /// [`Discovery::learned`]; other callers wait meanwhile.
    Discover(Discovery<'a>),
}

/// The duty to report a host's scheme.
pub(crate) struct Discovery<'a>(crate::flight::Lead<'a, String, Scheme>);

impl Discovery<'_> {
    pub(crate) fn learned(self, scheme: Scheme) {
        self.0.finish(scheme);
    }
}

/// The scheme `authority` asked for last, or the duty to find out.
pub(crate) fn known_scheme<'a>(client: &'a Client, authority: &str) -> Known<'a> {
    match client.auth.schemes.turn(&authority.to_owned(), |_| true) {
        Turn::Ready(scheme) => Known::Scheme(scheme),
        Turn::Lead(lead) => Known::Discover(Discovery(lead)),
    }
}

/// Records a scheme learned from a later challenge.
pub(crate) fn remember_scheme(client: &Client, authority: &str, scheme: Scheme) {
    client.auth.schemes.set(&authority.to_owned(), scheme);
}

/// The `Authorization` value for `scheme`, fetching a token when needed. `stale` is a
/// value just refused by the registry: a cached token equal to it is not reused, and a
/// Basic value equal to it is not sent again (`Ok(None)`).
pub(crate) fn authorization(
    client: &Client,
    ctx: &AuthContext<'_>,
    scheme: &Scheme,
    scope_override: Option<&str>,
    stale: Option<&Secret>,
    tally: &Tally,
) -> Result<Option<Secret>, RegistryError> {
    match scheme {
        Scheme::Anonymous => Ok(None),
        Scheme::Basic => Ok(ctx
            .credentials
            .filter(|c| !c.is_identity_token())
            .map(Credentials::basic_header)
            .filter(|h| Some(h) != stale)),
        Scheme::Bearer { realm, service } => {
            let service = service.as_deref();
            let key = ctx.token_key(realm, service, &ctx.scope);
            if let Some(stale) = stale {
                client
                    .auth
                    .tokens
                    .forget_if(&key, |t| t.header.expose() == stale.expose());
            }
            let now = Instant::now();
            let fresh = |t: &Token| now < t.refresh_at;
            let token = match client.auth.tokens.turn(&key, fresh) {
                Turn::Ready(token) => token,
                Turn::Lead(lead) => {
                    let mut scopes = vec![scope_override.unwrap_or(&ctx.scope).to_owned()];
                    let mut others = Vec::new();
                    if ctx.batch && stale.is_none() {
                        let mut bytes = scopes[0].len();
                        // Whether to go on: false once the request is full.
                        let claim = |repo: &str| {
                            let scope = format!("repository:{repo}:pull");
                            if scopes.len() >= MAX_SCOPES || bytes + scope.len() > MAX_SCOPE_BYTES {
                                return false;
                            }
                            if scope == ctx.scope
                                || client.credentials_for(
                                    &ctx.subject.registry,
                                    ctx.authority,
                                    repo,
                                ) != Ok(ctx.credentials.cloned())
                            {
                                return true;
                            }
                            let other = ctx.token_key(realm, service, &scope);
                            if let Some(lead) = client.auth.tokens.try_lead(&other, fresh) {
                                bytes += scope.len();
                                scopes.push(scope);
                                others.push(lead);
                            }
                            true
                        };
                        client.each_expected(&ctx.subject.registry, claim);
                    }
                    let token = fetch_token(client, ctx, realm, service, &scopes, tally)?;
                    for other in others {
                        other.finish(token.clone());
                    }
                    lead.finish(token.clone());
                    token
                }
            };
            Ok(Some(Secret::clone(&token.header)))
        }
    }
}

/// Asks `realm` for a token for `scopes`: with an identity token, the OAuth2 refresh-token
/// grant (`POST` form `grant_type=refresh_token&refresh_token=..&service=..&scope=..`, the
/// scopes space-separated, as the token spec's oauth.md says); else `GET
/// realm?service=..&scope=..&scope=..`, with Basic auth when credentials are configured.
/// Reads `token` or `access_token`, `expires_in` and `issued_at`.
fn fetch_token(
    client: &Client,
    ctx: &AuthContext<'_>,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    tally: &Tally,
) -> Result<Token, RegistryError> {
    let origin = client.checked_origin(realm, "token realm", ctx.subject, ctx.authority)?;
    let encode = |v: &str| if_http::percent_encode(v);
    let request = match ctx.credentials.filter(|c| c.is_identity_token()) {
        Some(identity) => {
            let mut form = format!(
                "grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={}",
                encode(identity.password.expose())
            );
            if let Some(service) = service {
                form.push_str(&format!("&service={}", encode(service)));
            }
            form.push_str(&format!("&scope={}", encode(&scopes.join(" "))));
            Request {
                method: Method::Post,
                kind: Kind::Token,
                url: realm.to_owned(),
                headers: vec![("Accept", "application/json".to_owned())],
                auth: None,
                form: Some(Secret::new(form)),
            }
        }
        None => {
            let mut url = realm.to_owned();
            let mut separator = if url.contains('?') { '&' } else { '?' };
            if let Some(service) = service {
                url.push_str(&format!("{separator}service={}", encode(service)));
                separator = '&';
            }
            for scope in scopes {
                url.push_str(&format!("{separator}scope={}", encode(scope)));
                separator = '&';
            }
            Request {
                method: Method::Get,
                kind: Kind::Token,
                url,
                headers: vec![("Accept", "application/json".to_owned())],
                auth: ctx.credentials.map(Credentials::basic_header),
                form: None,
            }
        }
    };
    let started = Instant::now();
    let host = origin.authority.as_str();
    client.count_token_request(&ctx.subject.registry);
    let reply = http::send(client, &request, tally, ctx.subject, host)?;
    let invalid = |message: String| RegistryError::InvalidResponse {
        subject: Box::new(ctx.subject.clone()),
        host: host.to_owned(),
        url: request.url.clone(),
        status: reply.status,
        message,
    };
    match reply.status {
        200 => {}
        401 | 403 => {
            return Err(RegistryError::Unauthorized {
                subject: Box::new(ctx.subject.clone()),
                host: host.to_owned(),
                status: reply.status,
                with_credentials: ctx.credentials.is_some(),
                message: http::message(client, &request, reply.status, &reply.body),
            });
        }
        status => {
            return Err(invalid(format!(
                "the token request failed: {}",
                http::message(client, &request, status, &reply.body)
            )));
        }
    }
    let json: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|e| invalid(format!("the token response is not JSON: {e}")))?;
    let value = ["token", "access_token"]
        .iter()
        .filter_map(|k| json.get(*k).and_then(|v| v.as_str()))
        .find(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid("the token response has no `token` or `access_token`".to_owned()))?;
    let lifetime = json
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    let age = json
        .get("issued_at")
        .and_then(serde_json::Value::as_str)
        .and_then(|t| if_model::timestamp::Timestamp::parse(t).ok())
        .map_or(Duration::ZERO, |issued| age_of(issued.unix()));
    Ok(Token {
        header: Arc::new(Secret::new(format!("Bearer {value}"))),
        refresh_at: refresh_at(started, lifetime.saturating_sub(age)),
    })
}

/// How long ago (by the clock) a token issued at `issued` (unix seconds) was issued; zero
/// when in the future.
fn age_of(issued: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Duration::from_secs(u64::try_from(now.saturating_sub(issued)).unwrap_or(0))
}

/// When a token fetched at `started` and valid for `lifetime` is fetched anew: a tenth of
/// its lifetime early (measured from before the request, so never late).
pub(crate) fn refresh_at(started: Instant, lifetime: Duration) -> Instant {
    started + lifetime - lifetime / 10
}

/// The challenge of a 401's `WWW-Authenticate` values: Bearer preferred over Basic; `None`
/// when there is neither.
pub(crate) fn parse_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut basic = None;
    for value in values {
        for (scheme, params) in split_challenges(value) {
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            if scheme.eq_ignore_ascii_case("bearer") {
                if let Some(realm) = param("realm") {
                    return Some(Challenge {
                        scheme: Scheme::Bearer {
                            realm,
                            service: param("service"),
                        },
                        scope: param("scope"),
                        error: param("error"),
                    });
                }
            } else if scheme.eq_ignore_ascii_case("basic") && basic.is_none() {
                basic = Some(Challenge {
                    scheme: Scheme::Basic,
                    scope: None,
                    error: None,
                });
            }
        }
    }
    basic
}

/// The challenges of one header value: `Scheme k=v, k="v, w", Other k=v`.
fn split_challenges(value: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut challenges: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let token_end = rest.find(['=', ',', ' ', '\t']).unwrap_or(rest.len());
        let (token, after) = rest.split_at(token_end);
        if token.is_empty() {
            break;
        }
        let after_ws = after.trim_start();
        if after_ws.starts_with('=') {
            // A parameter of the current challenge.
            let (val, remaining) =
                parse_param_value(after_ws.strip_prefix('=').unwrap_or(after_ws).trim_start());
            if let Some((_, params)) = challenges.last_mut() {
                params.push((token.to_owned(), val));
            }
            rest = remaining;
        } else {
            // A new scheme.
            challenges.push((token.to_owned(), Vec::new()));
            rest = after;
        }
    }
    challenges
}

/// A quoted string (with `\` escapes) or a token, and what follows it.
fn parse_param_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[i + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = input.find([',', ' ', '\t']).unwrap_or(input.len());
        (input[..end].to_owned(), &input[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_bearer_challenge() {
        let value = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#;
        let c = parse_challenge([value]).unwrap();
        assert_eq!(
            c.scheme,
            Scheme::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        assert_eq!(
            c.scope.as_deref(),
            Some("repository:samalba/my-app:pull,push")
        );
        assert_eq!(c.error, None);
    }

    #[test]
    fn error_params_spaces_and_unquoted_values() {
        let value = r#"bearer realm=https://r/t, service="s", error="insufficient_scope", scope="a:b:pull""#;
        let c = parse_challenge([value]).unwrap();
        assert!(matches!(c.scheme, Scheme::Bearer { ref realm, .. } if realm == "https://r/t"));
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("a:b:pull"));
    }

    #[test]
    fn basic_and_mixed_challenges() {
        let basic = parse_challenge([r#"Basic realm="Registry Realm""#]).unwrap();
        assert_eq!(basic.scheme, Scheme::Basic);
        let both = parse_challenge([r#"Basic realm="x", Bearer realm="https://a/t",service="s""#])
            .unwrap();
        assert!(matches!(both.scheme, Scheme::Bearer { .. }));
        let two_headers =
            parse_challenge(["Basic realm=\"x\"", "Bearer realm=\"https://a/t\""]).unwrap();
        assert!(matches!(two_headers.scheme, Scheme::Bearer { .. }));
        assert_eq!(parse_challenge(["Negotiate abc"]), None);
        assert_eq!(parse_challenge(["Bearer service=\"no realm\""]), None);
        assert_eq!(parse_challenge(Vec::<&str>::new()), None);
    }

    #[test]
    fn escaped_quotes_in_values() {
        let c = parse_challenge([r#"Bearer realm="https://a/t",service="a\"b""#]).unwrap();
        assert!(matches!(c.scheme, Scheme::Bearer { service: Some(ref s), .. } if s == "a\"b"));
    }

    #[test]
    fn issued_at_in_the_past_shortens_the_life() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ten_ago = i64::try_from(now).unwrap() - 10;
        let age = age_of(ten_ago);
        assert!(age >= Duration::from_secs(10) && age < Duration::from_secs(12));
        assert_eq!(age_of(ten_ago + 100), Duration::ZERO);
    }

    #[test]
    fn tokens_are_refreshed_a_tenth_early() {
        let t0 = Instant::now();
        assert_eq!(
            refresh_at(t0, Duration::from_secs(60)),
            t0 + Duration::from_secs(54)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(300)),
            t0 + Duration::from_secs(270)
        );
    }
}
