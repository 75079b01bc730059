//! The one place that sends HTTP: a GET or HEAD (or a token request's form POST), retried
//! on connection errors, 429 and 5xx; and the rate-limit floor: a host whose
//! `ratelimit-remaining` ran low (or that answered 429) is not sent another request.
//!
//! The callers build a [`Request`] (URL, headers, the auth header as a [`Secret`]) and read
//! the [`Reply`]; this module makes one request at a time for `if-http`'s retry loop (which
//! owns the attempts, `Retry-After`, the waits and the budget), counts the requests, and
//! turns failures into scrubbed [`RegistryError`]s.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use if_http::{Attempt, Secret, Stopped, header, parse_retry_after, truncate};
use ureq::http::HeaderMap;

use crate::Client;
use crate::error::{RegistryError, Subject};
use crate::ratelimit::RateLimit;

/// The most of a response body that is read (manifests are at most 4 MiB by the spec).
const MAX_BODY: u64 = 8 * 1024 * 1024;

/// The HTTP method: the distribution API's reads only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`: the body is read.
    Get,
    /// `HEAD`: no body.
    Head,
    /// `POST` of an `application/x-www-form-urlencoded` body (an OAuth2 token request).
    Post,
}

/// Which counter a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A request to a registry (or mirror).
    Registry,
    /// A request to a token realm.
    Token,
}

/// One request to make.
pub(crate) struct Request {
    pub method: Method,
    pub kind: Kind,
    /// The full URL; never carries a secret.
    pub url: String,
    /// The headers other than `Authorization` and `User-Agent`.
    pub headers: Vec<(&'static str, String)>,
    /// The whole `Authorization` value (`Basic ...`, `Bearer ...`), if any.
    pub auth: Option<Secret>,
    /// The form body of a `POST` (it may hold a refresh token).
    pub form: Option<Secret>,
}

/// An answer that is not retried (any status but 429 and 5xx).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The exact body bytes (empty for HEAD).
    pub body: Vec<u8>,
}

impl Reply {
    /// A header as text, if present and visible ASCII.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Requests made by one call, all hosts and token requests included.
#[derive(Debug, Default)]
pub(crate) struct Tally(Cell<u32>);

impl Tally {
    pub(crate) fn get(&self) -> u32 {
        self.0.get()
    }
}

/// A retryable failure, kept until the loop gives up.
enum Failure {
    Status {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    Transport {
        message: String,
    },
}

/// Sends `request`, retrying as `client`'s policy allows. `Ok` for any answer but 429 and
/// 5xx; the caller decides what the status means. Errors name `subject` and `host`.
pub(crate) fn send(
    client: &Client,
    request: &Request,
    tally: &Tally,
    subject: &Subject,
    host: &str,
) -> Result<Reply, RegistryError> {
    let counter = match request.kind {
        Kind::Registry => &client.counters.requests,
        Kind::Token => &client.counters.token_requests,
    };
    let guarded = request.kind == Kind::Registry && client.config.rate_limit_floor.is_some();
    if guarded && let Some(rate_limit) = crate::lock(&client.stopped).get(host) {
        return Err(RegistryError::NotChecked {
            subject: Box::new(subject.clone()),
            host: host.to_owned(),
            rate_limit: *rate_limit,
        });
    }
    let result = if_http::with_retry(&client.config.retry, client.config.timeout, |_, timeout| {
        tally.0.set(tally.0.get().saturating_add(1));
        counter.fetch_add(1, Ordering::Relaxed);
        send_once(&client.agent, request, timeout)
    })
    .map_err(|stopped| into_error(stopped, client, request, subject, host));
    if guarded {
        watch_rate_limit(client, host, &result);
    }
    result
}

/// Stops asking `host` when its answer's rate limit is at or below the floor, or it
/// answered 429 until the retries ran out.
fn watch_rate_limit(client: &Client, host: &str, result: &Result<Reply, RegistryError>) {
    let Some(floor) = client.config.rate_limit_floor else {
        return;
    };
    let low = match result {
        Ok(reply) => RateLimit::from_headers(&reply.headers)
            .filter(|r| r.is_low(floor))
            .map(Some),
        Err(RegistryError::RateLimited { rate_limit, .. }) => Some(*rate_limit),
        Err(_) => None,
    };
    if let Some(rate_limit) = low {
        crate::lock(&client.stopped)
            .entry(host.to_owned())
            .or_insert(rate_limit);
    }
}

/// One request: the answer (429 and 5xx may pass, waiting a `Retry-After`), or the
/// transport failure.
fn send_once(agent: &ureq::Agent, request: &Request, timeout: Duration) -> Attempt<Reply, Failure> {
    let call = match request.method {
        Method::Get => with_headers(agent.get(request.url.as_str()), request, timeout).call(),
        Method::Head => with_headers(agent.head(request.url.as_str()), request, timeout).call(),
        Method::Post => {
            let form = request.form.as_ref().map_or("", |f| f.expose());
            with_headers(agent.post(request.url.as_str()), request, timeout)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form.as_bytes())
        }
    };
    match call {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = if request.method == Method::Head {
                Vec::new()
            } else {
                match response
                    .body_mut()
                    .with_config()
                    .limit(MAX_BODY)
                    .read_to_vec()
                {
                    Ok(body) => body,
                    // A GET is idempotent: a body cut short is retried like a hang-up.
                    Err(err) => {
                        let message = format!("reading the body: {err}");
                        let may_pass = !matches!(err, ureq::Error::BodyExceedsLimit(_));
                        return Attempt::failed(Failure::Transport { message }, may_pass);
                    }
                }
            };
            if !if_http::retryable_status(status) {
                return Attempt::Done(Reply {
                    status,
                    headers,
                    body,
                });
            }
            let wait = header(&headers, "retry-after").and_then(parse_retry_after);
            Attempt::Transient {
                failure: Failure::Status {
                    status,
                    headers,
                    body,
                },
                wait,
            }
        }
        Err(err) => {
            let message = err.to_string();
            Attempt::failed(Failure::Transport { message }, if_http::transient(&err))
        }
    }
}

/// The builder with the request's timeout, headers and `Authorization`.
fn with_headers<B>(
    builder: ureq::RequestBuilder<B>,
    request: &Request,
    timeout: Duration,
) -> ureq::RequestBuilder<B> {
    let mut builder = builder.config().timeout_global(Some(timeout)).build();
    for (name, value) in &request.headers {
        builder = builder.header(*name, value.as_str());
    }
    if let Some(auth) = &request.auth {
        builder = builder.header("Authorization", auth.expose());
    }
    builder
}

/// The error for the failure the retry loop gave up on.
fn into_error(
    stopped: Stopped<Failure>,
    client: &Client,
    request: &Request,
    subject: &Subject,
    host: &str,
) -> RegistryError {
    let Stopped {
        failure,
        attempts,
        gave_up,
    } = stopped;
    match failure {
        Failure::Status {
            status: 429,
            headers,
            ..
        } => RegistryError::RateLimited {
            subject: Box::new(subject.clone()),
            host: host.to_owned(),
            rate_limit: RateLimit::from_headers(&headers),
            retry_after: header(&headers, "retry-after").and_then(parse_retry_after),
            attempts,
            gave_up,
        },
        Failure::Status { status, body, .. } => RegistryError::Unavailable {
            subject: Box::new(subject.clone()),
            host: host.to_owned(),
            url: request.url.clone(),
            status,
            message: message(client, request, status, &body),
            attempts,
            gave_up,
        },
        Failure::Transport { message } => RegistryError::Connection {
            subject: Box::new(subject.clone()),
            host: host.to_owned(),
            url: request.url.clone(),
            message: truncate(&scrub(client, request, &message)),
            attempts,
            gave_up,
        },
    }
}

/// `text` with every configured password and the request's auth value replaced by `***`.
pub(crate) fn scrub(client: &Client, request: &Request, text: &str) -> String {
    let mut text = client.scrub(text);
    if let Some(form) = &request.form {
        text = form.scrub(&text);
    }
    if let Some(auth) = &request.auth {
        text = auth.scrub(&text);
        if let Some((_, bare)) = auth.expose().split_once(' ') {
            text = Secret::new(bare.to_owned()).scrub(&text);
        }
    }
    text
}

/// The registry's message from an error body: the distribution API's `errors` (`CODE:
/// message`, `; `-joined), else a token service's `details`/`message`/`error`, else the start
/// of the body, else `HTTP <status>`. Scrubbed, then truncated.
pub(crate) fn message(client: &Client, request: &Request, status: u16, body: &[u8]) -> String {
    let body = String::from_utf8_lossy(body);
    let body = body.trim();
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => {
            if let Some(serde_json::Value::Array(errors)) = map.get("errors") {
                errors
                    .iter()
                    .map(|e| {
                        let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("");
                        match (field("code"), field("message")) {
                            ("", m) => m.to_owned(),
                            (c, "") => c.to_owned(),
                            (c, m) => format!("{c}: {m}"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                ["details", "message", "error"]
                    .iter()
                    .find_map(|k| map.get(*k))
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .unwrap_or_else(|| body.to_owned())
            }
        }
        _ => body.to_owned(),
    };
    let text = truncate(&scrub(client, request, text.trim()));
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        text
    }
}

/// The first error code of a distribution API error body (`MANIFEST_UNKNOWN`).
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get("errors")?.get(0)?.get("code")?.as_str()?;
    Some(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Credentials};

    fn client() -> Client {
        let mut config = Config::default();
        config
            .credentials
            .insert("r.example".into(), Credentials::new("u", "pa55word"));
        Client::new(config)
    }

    fn request(auth: Option<&str>) -> Request {
        Request {
            method: Method::Get,
            kind: Kind::Registry,
            url: "https://r.example/v2/".into(),
            headers: Vec::new(),
            auth: auth.map(|a| Secret::new(a.to_owned())),
            form: None,
        }
    }

    #[test]
    fn distribution_errors_are_code_and_message() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            message(&client(), &request(None), 404, body),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(error_code(body).as_deref(), Some("MANIFEST_UNKNOWN"));
        assert_eq!(error_code(b"nope"), None);
        assert_eq!(message(&client(), &request(None), 404, b""), "HTTP 404");
        assert_eq!(
            message(
                &client(),
                &request(None),
                401,
                br#"{"details":"incorrect username or password"}"#
            ),
            "incorrect username or password"
        );
    }

    #[test]
    fn messages_are_scrubbed_of_passwords_and_tokens() {
        let req = request(Some("Bearer tok3n"));
        let body = br#"{"message":"pa55word and tok3n and Bearer tok3n"}"#;
        let text = message(&client(), &req, 400, body);
        assert!(
            !text.contains("pa55word") && !text.contains("tok3n"),
            "{text}"
        );
    }
}
