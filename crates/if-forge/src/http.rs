//! The one place that sends HTTP: a JSON POST, retried on connection errors, 429 and 5xx.
//!
//! The provider modules build a [`Call`] (URL, headers including the auth header, body) and
//! read the [`Reply`]; this module owns the retry loop, the `Retry-After` handling, the
//! per-request timeout and the turning of failures into scrubbed [`ForgeError`]s. A later
//! GET (fetching a file from a repository) goes through the same loop.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use if_model::enrollment::Provider;
use ureq::http::HeaderMap;

use crate::error::{ForgeError, GaveUp};
use crate::secret::Secret;
use crate::{Client, Retry};

/// The longest one request may take, connection to last byte.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The shortest timeout a request gets, even when the retry budget is nearly spent.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The most of a response body that is read.
const MAX_BODY: u64 = 1024 * 1024;
/// The most characters of a provider's message kept in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// One request to make.
pub(crate) struct Call<'a> {
    /// Which forge (for errors).
    pub provider: Provider,
    /// The full URL; never carries a token.
    pub url: String,
    /// Every header, the auth header included.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: String,
    /// Every token the client holds (the one in the headers among them), scrubbed from
    /// every message.
    pub secrets: Vec<&'a Secret>,
}

impl Call<'_> {
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
    /// The body (at most [`MAX_BODY`] bytes, invalid UTF-8 replaced).
    pub body: String,
    /// Requests made, this one included.
    pub attempts: u32,
}

/// What one request gave.
enum Attempt {
    /// An HTTP answer, and how long it asks us to wait if it is retryable.
    Answer {
        status: u16,
        body: String,
        retryable: bool,
        wait: Option<Duration>,
    },
    /// No HTTP answer.
    Transport { message: String, retryable: bool },
}

/// Sends `call`, retrying as `client.retry` allows. `Ok` for any answer that is not
/// retryable, whatever its status; the caller decides what the status means.
pub(crate) fn post(client: &Client, call: &Call<'_>) -> Result<Reply, ForgeError> {
    let retry = &client.retry;
    let max_attempts = retry.attempts.max(1);
    let start = Instant::now();
    let mut attempt = 0;
    while attempt < max_attempts {
        attempt += 1;
        let remaining = retry.max_total.saturating_sub(start.elapsed());
        let timeout = REQUEST_TIMEOUT.min(remaining.max(MIN_REQUEST_TIMEOUT));
        let (failure, hint) = match send_once(&client.agent, call, timeout) {
            Attempt::Answer {
                status,
                body,
                retryable: false,
                ..
            } => {
                return Ok(Reply {
                    status,
                    body,
                    attempts: attempt,
                });
            }
            Attempt::Answer {
                status, body, wait, ..
            } => (Failure::Status { status, body }, wait),
            Attempt::Transport {
                message,
                retryable: false,
            } => {
                return Err(Failure::Transport { message }.into_error(
                    call,
                    attempt,
                    GaveUp::NotRetryable,
                ));
            }
            Attempt::Transport { message, .. } => (Failure::Transport { message }, None),
        };
        if attempt >= max_attempts {
            return Err(failure.into_error(call, attempt, GaveUp::Attempts));
        }
        let wait = hint.unwrap_or_else(|| backoff(retry, attempt));
        if start.elapsed().saturating_add(wait) > retry.max_total {
            return Err(failure.into_error(call, attempt, GaveUp::Budget { next_wait: wait }));
        }
        thread::sleep(wait);
    }
    // Unreachable: the last attempt returns above. Kept total rather than panicking.
    Err(Failure::Transport {
        message: "no request was made".to_owned(),
    }
    .into_error(call, attempt, GaveUp::Attempts))
}

/// A retryable failure, kept until the loop gives up.
enum Failure {
    Status { status: u16, body: String },
    Transport { message: String },
}

impl Failure {
    fn into_error(self, call: &Call<'_>, attempts: u32, gave_up: GaveUp) -> ForgeError {
        match self {
            Failure::Status { status, body } => ForgeError::Unavailable {
                provider: call.provider,
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
        }
    }
}

/// The error for a final answer the caller does not accept.
pub(crate) fn rejected(call: &Call<'_>, reply: &Reply) -> ForgeError {
    ForgeError::Rejected {
        provider: call.provider,
        status: reply.status,
        url: call.url.clone(),
        message: provider_message(&reply.body, call),
        attempts: reply.attempts,
    }
}

/// The error for a success status whose body lacks what it should say.
pub(crate) fn invalid_response(call: &Call<'_>, reply: &Reply, problem: &str) -> ForgeError {
    let body = truncate(&call.scrub(reply.body.trim()));
    ForgeError::InvalidResponse {
        provider: call.provider,
        status: reply.status,
        url: call.url.clone(),
        message: format!("{problem}; body: {body}"),
        attempts: reply.attempts,
    }
}

fn send_once(agent: &ureq::Agent, call: &Call<'_>, timeout: Duration) -> Attempt {
    let mut request = agent
        .post(call.url.as_str())
        .config()
        .timeout_global(Some(timeout))
        .build();
    for (name, value) in &call.headers {
        request = request.header(*name, value.as_str());
    }
    match request.send(call.body.as_str()) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let limited = rate_limited(status, response.headers());
            let retryable = limited || status == 429 || (500..=599).contains(&status);
            let wait = if retryable {
                wait_hint(response.headers(), limited, SystemTime::now())
            } else {
                None
            };
            // A body that cannot be read is reported as empty: the status already says
            // whether the request worked, and re-sending it could trigger a second build.
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .lossy_utf8(true)
                .read_to_string()
                .unwrap_or_default();
            Attempt::Answer {
                status,
                body,
                retryable,
                wait,
            }
        }
        Err(err) => Attempt::Transport {
            retryable: transient(&err),
            message: err.to_string(),
        },
    }
}

/// True for transport failures that may pass: refused or reset connections, DNS, timeouts,
/// a server that hung up mid-answer. False for mistakes in the request itself.
fn transient(err: &ureq::Error) -> bool {
    matches!(
        err,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
    )
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

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` as delta-seconds; `None` for an HTTP-date or anything else.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: a number too large for u64 is "very long", which the budget then refuses.
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

/// The wait after failed attempt `attempt` (1-based): `base_delay * 2^(attempt-1)`.
pub(crate) fn backoff(retry: &Retry, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    retry.base_delay.saturating_mul(factor)
}

/// The provider's message from an error body: JSON `message`, else `error` (a string as is,
/// anything else as compact JSON), else the start of the body. Scrubbed, then truncated.
fn provider_message(body: &str, call: &Call<'_>) -> String {
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

/// At most [`MAX_MESSAGE_CHARS`] characters, with `…` when cut; line breaks become spaces.
fn truncate(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    fn secret() -> Secret {
        Secret::new("s3cr3t".to_owned())
    }

    fn message(body: &str) -> String {
        let (a, b) = (secret(), Secret::new("other".to_owned()));
        let call = Call {
            provider: Provider::Github,
            url: String::new(),
            headers: Vec::new(),
            body: String::new(),
            secrets: vec![&a, &b],
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
    fn retry_after_delta_seconds_only() {
        assert_eq!(parse_retry_after("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn backoff_doubles_and_saturates() {
        let retry = Retry {
            attempts: 4,
            base_delay: Duration::from_millis(100),
            max_total: Duration::from_secs(60),
        };
        assert_eq!(backoff(&retry, 1), Duration::from_millis(100));
        assert_eq!(backoff(&retry, 2), Duration::from_millis(200));
        assert_eq!(backoff(&retry, 3), Duration::from_millis(400));
        assert!(backoff(&retry, u32::MAX) >= backoff(&retry, 21));
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
