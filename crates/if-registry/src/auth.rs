//! Authentication: `WWW-Authenticate` challenges, the Docker token flow (a token from the
//! realm per registry and scope, cached until it expires), HTTP Basic, and what each
//! registry host asked for last.
//!
//! Both caches are [`Flights`]: concurrent callers wait for one discovery of a host's scheme
//! and for one token request per host and scope.

use std::time::{Duration, Instant};

use crate::error::{RegistryError, Subject};
use crate::flight::{Flights, Turn};
use crate::http::{self, Kind, Method, Request, Tally};
use crate::{Client, Credentials, Secret};

/// A token's lifetime when the realm does not say (`expires_in`), as the token spec says.
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

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

/// A cached token.
#[derive(Clone)]
pub(crate) struct Token {
    value: Secret,
    /// After this the token is fetched anew (a tenth of its lifetime before it expires).
    refresh_at: Instant,
}

/// The auth caches of one client.
pub(crate) struct AuthState {
    /// Per API authority: the scheme its last challenge asked for.
    schemes: Flights<String, Scheme>,
    /// Per (authority, scope).
    tokens: Flights<(String, String), Token>,
}

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
            .map(Credentials::basic_header)
            .filter(|h| Some(h) != stale)),
        Scheme::Bearer { realm, service } => {
            let key = (ctx.authority.to_owned(), ctx.scope.clone());
            if let Some(stale) = stale {
                client
                    .auth
                    .tokens
                    .forget_if(&key, |t| bearer(&t.value).expose() == stale.expose());
            }
            let now = Instant::now();
            let token = match client.auth.tokens.turn(&key, |t| now < t.refresh_at) {
                Turn::Ready(token) => token,
                Turn::Lead(lead) => {
                    let scope = scope_override.unwrap_or(&ctx.scope);
                    let token = fetch_token(client, ctx, realm, service.as_deref(), scope, tally)?;
                    lead.finish(token.clone());
                    token
                }
            };
            Ok(Some(bearer(&token.value)))
        }
    }
}

fn bearer(token: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", token.expose()))
}

/// Asks `realm` for a token (`GET realm?service=..&scope=..`, Basic auth with the
/// credentials when configured) and reads `token` or `access_token` and `expires_in`.
fn fetch_token(
    client: &Client,
    ctx: &AuthContext<'_>,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    tally: &Tally,
) -> Result<Token, RegistryError> {
    let origin = client.checked_origin(realm, "token realm", ctx.subject, ctx.authority)?;
    let mut url = realm.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    if let Some(service) = service {
        url.push_str(&format!(
            "{separator}service={}",
            if_http::percent_encode(service)
        ));
        separator = '&';
    }
    url.push_str(&format!(
        "{separator}scope={}",
        if_http::percent_encode(scope)
    ));
    let request = Request {
        method: Method::Get,
        kind: Kind::Token,
        url,
        headers: vec![("Accept", "application/json".to_owned())],
        auth: ctx.credentials.map(Credentials::basic_header),
    };
    let started = Instant::now();
    let host = origin.authority.as_str();
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
    Ok(Token {
        value: Secret::new(value.to_owned()),
        refresh_at: refresh_at(started, lifetime),
    })
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
