//! The one place that sends HTTP: a JSON POST (a trigger) or a GET (a file, a run's state),
//! retried on connection errors, 429 and 5xx, except a POST that may have reached the server.
//!
//! The provider modules build a [`Call`] (method, URL, headers including any auth header,
//! body) and read the [`Reply`]; this module makes one request at a time for `if-http`'s
//! retry loop (which owns the attempts, the waits and the budget), reads GitHub's
//! rate-limit headers, reads at most [`MAX_BODY`] bytes of an answer, and turns failures
//! into scrubbed [`ForgeError`]s.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use if_http::{Attempt, GaveUp, Secret, header, parse_retry_after, truncate};
use if_model::enrollment::Provider;
use ureq::http::HeaderMap;

use crate::Client;
use crate::error::ForgeError;

/// The most of a response body that is read (1 MiB): a longer body is not kept
/// ([`Reply::oversize`]).
pub(crate) const MAX_BODY: u64 = 1024 * 1024;

/// The request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Reads (a file): safe to send again, sent without a body.
    Get,
    /// Creates (a dispatch, a pipeline): sent with the JSON body.
    Post,
}

impl Method {
    /// `GET` or `POST`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request to make.
pub(crate) struct Call {
    /// Which forge (for errors).
    pub provider: Provider,
    /// GET or POST.
    pub method: Method,
    /// The full URL; never carries a token.
    pub url: String,
    /// Every header, the auth header (if any) included.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body of a POST (a GET sends none).
    pub body: String,
    /// Every token the client holds (the one in the headers among them), scrubbed from
    /// every message.
    pub secrets: Vec<Secret>,
}

impl Call {
    /// `text` with every token replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |text, secret| secret.scrub(&text))
    }
}

/// The final answer: a status that is not retried (any 1xx–4xx but 429).
#[derive(Debug)]
pub(crate) struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body as sent (empty when it was larger than [`MAX_BODY`]).
    pub body: Vec<u8>,
    /// The body was larger than [`MAX_BODY`] and was not kept.
    pub oversize: bool,
    /// The `Content-Type` media type, lowercased, without parameters.
    pub mime_type: Option<String>,
    /// The `Content-Length` the server announced.
    pub content_length: Option<u64>,
    /// Requests made, this one included.
    pub attempts: u32,
}

impl Reply {
    /// The body as text, invalid UTF-8 replaced (for JSON and messages).
    pub(crate) fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// Sends `call`, retrying as `client.retry` allows. `Ok` for any answer that is not
/// retryable, whatever its status; the caller decides what the status means.
pub(crate) fn send(client: &Client, call: &Call) -> Result<Reply, ForgeError> {
    if_http::with_retry(
        &client.retry,
        if_http::REQUEST_TIMEOUT,
        |attempt, timeout| send_once(&client.agent, call, attempt, timeout),
    )
    .map_err(|stopped| {
        stopped
            .failure
            .into_error(call, stopped.attempts, stopped.gave_up)
    })
}

/// A failure, kept until the loop gives up.
enum Failure {
    Status {
        status: u16,
        body: String,
    },
    Transport {
        message: String,
    },
    /// A POST whose request may have reached the server: never sent again.
    MayHaveReached {
        message: String,
    },
}

impl Failure {
    fn into_error(self, call: &Call, attempts: u32, gave_up: GaveUp) -> ForgeError {
        match self {
            Failure::Status { status, body } => ForgeError::Unavailable {
                provider: call.provider,
                method: call.method.as_str(),
                status,
                url: call.url.clone(),
                message: provider_message(&body, call),
                attempts,
                gave_up,
            },
            Failure::Transport { message } => ForgeError::Connection {
                provider: call.provider,
                url: call.url.clone(),
                message: truncate(&call.scrub(&message)),
                attempts,
                gave_up,
            },
            Failure::MayHaveReached { message } => ForgeError::OutcomeUnknown {
                provider: call.provider,
                method: call.method.as_str(),
                url: call.url.clone(),
                message: truncate(&call.scrub(&message)),
                attempts,
            },
        }
    }
}

/// The provider's message in a final answer: see [`provider_message`]; a body too large to
/// keep says so.
pub(crate) fn reply_message(call: &Call, reply: &Reply) -> String {
    if reply.oversize {
        format!("(a body larger than {MAX_BODY} bytes, not read)")
    } else {
        provider_message(&reply.text(), call)
    }
}

/// The error for a final answer the caller does not accept.
pub(crate) fn rejected(call: &Call, reply: &Reply) -> ForgeError {
    ForgeError::Rejected {
        provider: call.provider,
        method: call.method.as_str(),
        status: reply.status,
        url: call.url.clone(),
        message: reply_message(call, reply),
        attempts: reply.attempts,
    }
}

/// The error for a success status whose body lacks what it should say.
pub(crate) fn invalid_response(call: &Call, reply: &Reply, problem: &str) -> ForgeError {
    let body = truncate(&call.scrub(reply.text().trim()));
    ForgeError::InvalidResponse {
        provider: call.provider,
        method: call.method.as_str(),
        status: reply.status,
        url: call.url.clone(),
        message: format!("{problem}; body: {body}"),
        attempts: reply.attempts,
    }
}

/// One request: the answer, judged (429, 5xx and rate-limit 403s may pass), or the
/// transport failure. `attempt` is this request's number, kept in the [`Reply`].
fn send_once(
    agent: &ureq::Agent,
    call: &Call,
    attempt: u32,
    timeout: Duration,
) -> Attempt<Reply, Failure> {
    let sent = match call.method {
        Method::Get => prepare(agent.get(call.url.as_str()), call, timeout).call(),
        Method::Post => prepare(agent.post(call.url.as_str()), call, timeout).send(&call.body),
    };
    let mut response = match sent {
        Ok(response) => response,
        // A POST whose connection was made may have started a build: sending it again could
        // start a second one, so it fails at once (a refused connection is still retried).
        Err(err) if call.method == Method::Post && if_http::may_have_reached(&err) => {
            let message = err.to_string();
            return Attempt::Permanent(Failure::MayHaveReached { message });
        }
        Err(err) => {
            let message = err.to_string();
            return Attempt::failed(Failure::Transport { message }, if_http::transient(&err));
        }
    };
    let status = response.status().as_u16();
    let limited = rate_limited(status, response.headers());
    let retryable = limited || if_http::retryable_status(status);
    let wait = if retryable {
        wait_hint(response.headers(), limited, SystemTime::now())
    } else {
        None
    };
    let mime_type = response.body().mime_type().map(str::to_ascii_lowercase);
    let content_length = response.body().content_length();
    let (body, oversize) = match read_body(response.body_mut()) {
        Ok(read) => read,
        // A GET whose answer broke off is sent again, like one that never got an answer.
        Err(err) if call.method == Method::Get && !retryable => {
            let message = format!("reading the answer (HTTP {status}): {err}");
            return Attempt::failed(Failure::Transport { message }, if_http::transient(&err));
        }
        // A POST is not: the status already says whether it worked, and sending it again
        // could trigger a second build. Its unreadable body counts as empty.
        Err(_) => (Vec::new(), false),
    };
    if retryable {
        let body = if oversize {
            String::new()
        } else {
            String::from_utf8_lossy(&body).into_owned()
        };
        return Attempt::Transient {
            failure: Failure::Status { status, body },
            wait,
        };
    }
    Attempt::Done(Reply {
        status,
        body,
        oversize,
        mime_type,
        content_length,
        attempts: attempt,
    })
}

/// The request with this call's timeout and headers. Resolving and connecting get their
/// own, shorter timeout, so that a connection that could not be made is told apart from a
/// request that may have reached the server.
fn prepare<B>(
    request: ureq::RequestBuilder<B>,
    call: &Call,
    timeout: Duration,
) -> ureq::RequestBuilder<B> {
    let connect = if_http::connect_timeout(timeout);
    let mut request = request
        .config()
        .timeout_global(Some(timeout))
        .timeout_resolve(Some(connect))
        .timeout_connect(Some(connect))
        .build();
    for (name, value) in &call.headers {
        request = request.header(*name, value.as_str());
    }
    request
}

/// At most [`MAX_BODY`] bytes of the body, and whether there was more (then nothing is
/// kept). `ureq` fails a read that goes past its limit, so the limit is one byte more: a
/// body of exactly `MAX_BODY` bytes is read whole.
fn read_body(body: &mut ureq::Body) -> Result<(Vec<u8>, bool), ureq::Error> {
    match body.with_config().limit(MAX_BODY + 1).read_to_vec() {
        Ok(bytes) => Ok((bytes, false)),
        Err(ureq::Error::BodyExceedsLimit(_)) => Ok((Vec::new(), true)),
        Err(err) => Err(err),
    }
}

/// GitHub's rate limits answer 403 (as well as 429) with `Retry-After`, or with
/// `x-ratelimit-remaining: 0`; those 403s are retried like a 429.
fn rate_limited(status: u16, headers: &HeaderMap) -> bool {
    status == 403
        && (header(headers, "retry-after").is_some()
            || header(headers, "x-ratelimit-remaining") == Some("0"))
}

/// How long the answer asks us to wait: `Retry-After` in delta-seconds, else (for a rate
/// limit) until `x-ratelimit-reset`. `None` means "use the backoff" (also for an HTTP-date).
fn wait_hint(headers: &HeaderMap, rate_limited: bool, now: SystemTime) -> Option<Duration> {
    if let Some(value) = header(headers, "retry-after") {
        return parse_retry_after(value);
    }
    if rate_limited {
        let reset: u64 = header(headers, "x-ratelimit-reset")?.trim().parse().ok()?;
        let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
        return Some(Duration::from_secs(reset.saturating_sub(now)));
    }
    None
}

/// The provider's message from an error body: JSON `message`, else `error` (a string as is,
/// anything else as compact JSON), else the start of the body. Scrubbed, then truncated.
fn provider_message(body: &str, call: &Call) -> String {
    let body = body.trim();
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => match map.get("message").or_else(|| map.get("error"))
        {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => body.to_owned(),
        },
        _ => body.to_owned(),
    };
    let text = truncate(&call.scrub(text.trim()));
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use if_http::MAX_MESSAGE_CHARS;
    use ureq::http::HeaderValue;

    fn secret() -> Secret {
        Secret::new("s3cr3t".to_owned())
    }

    fn message(body: &str) -> String {
        let (a, b) = (secret(), Secret::new("other".to_owned()));
        let call = Call {
            provider: Provider::Github,
            method: Method::Post,
            url: String::new(),
            headers: Vec::new(),
            body: String::new(),
            secrets: vec![a, b],
        };
        provider_message(body, &call)
    }

    #[test]
    fn message_from_github_json() {
        let body = r#"{"message":"Bad credentials","documentation_url":"https://x"}"#;
        assert_eq!(message(body), "Bad credentials");
    }

    #[test]
    fn message_from_gitlab_error_string_and_object() {
        assert_eq!(
            message(r#"{"error":"variables is invalid"}"#),
            "variables is invalid"
        );
        assert_eq!(
            message(r#"{"message":{"base":["Reference not found"]}}"#),
            r#"{"base":["Reference not found"]}"#
        );
    }

    #[test]
    fn message_falls_back_to_truncated_body() {
        let body = "x".repeat(1000);
        let msg = message(&body);
        assert_eq!(msg.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(msg.ends_with('…'));
        assert_eq!(message("  "), "(empty body)");
        assert_eq!(message("<html>\nbad\n</html>"), "<html> bad </html>");
    }

    #[test]
    fn message_is_scrubbed_before_truncation() {
        let body = format!("{}s3cr3t", "y".repeat(MAX_MESSAGE_CHARS - 3));
        let msg = message(&body);
        assert!(!msg.contains("s3c"), "{msg}");
        let json = r#"{"message":"token s3cr3t is bad"}"#;
        assert_eq!(message(json), "token *** is bad");
        assert_eq!(message("other s3cr3t"), "*** ***");
    }

    #[test]
    fn github_rate_limit_403_waits_until_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1000"));
        assert!(rate_limited(403, &headers));
        assert!(!rate_limited(404, &headers));
        let now = UNIX_EPOCH + Duration::from_secs(990);
        assert_eq!(
            wait_hint(&headers, true, now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(wait_hint(&HeaderMap::new(), false, now), None);
        assert!(!rate_limited(403, &HeaderMap::new()));
    }
}
