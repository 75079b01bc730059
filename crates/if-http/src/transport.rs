//! What both I/O crates ask of `ureq`: one agent configured the same way, which transport
//! errors and which statuses may pass with a retry, and headers read as text.

use std::time::Duration;

use ureq::http::HeaderMap;

/// The longest one request may take, connection to last byte (the default).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An agent for API calls: HTTP status codes are answers, not transport errors; redirects
/// are not followed (a redirected request could lose its token, or carry it to another
/// host); proxy environment variables are not read. `timeout` bounds each request, and
/// every request says `user_agent`.
pub fn agent(timeout: Duration, user_agent: &str) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(timeout))
        .user_agent(user_agent)
        .build();
    ureq::Agent::new_with_config(config)
}

/// True for transport failures that may pass: refused or reset connections, DNS, timeouts,
/// a server that hung up mid-answer. False for mistakes in the request itself.
pub fn transient(err: &ureq::Error) -> bool {
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

/// True when the request may have reached the server before `err`: the connection was made
/// (a timeout or a failure while sending or waiting for the answer, a connection closed
/// without an answer, an answer that is not HTTP). False when no connection was made at all
/// (host not found, refused or unreachable, a resolve or connect timeout) and for mistakes
/// in the request itself (nothing was sent). A request that creates something (a POST) must
/// not be sent again when this is true: the server may have acted on it.
///
/// A global or per-call timeout counts as "may have reached": it does not say in which phase
/// it fired. Callers that want a connect timeout told apart set `timeout_resolve` and
/// `timeout_connect` shorter than the global one (as [`connect_timeout`] does).
pub fn may_have_reached(err: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    use ureq::Timeout;
    match err {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => false,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => false,
        ureq::Error::Timeout(_) | ureq::Error::Protocol(_) | ureq::Error::BodyStalled => true,
        ureq::Error::Io(io) => !matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::AddrNotAvailable
                | ErrorKind::AddrInUse
                | ErrorKind::NetworkUnreachable
                | ErrorKind::HostUnreachable
                | ErrorKind::NotFound
        ),
        _ => false,
    }
}

/// The resolve and connect timeout that goes with a request timeout of `timeout`: half of
/// it, at most 10 s, so that a connection that cannot be made is told by its own timeout
/// ([`may_have_reached`] is false for it) before the request's global one fires.
pub fn connect_timeout(timeout: Duration) -> Duration {
    (timeout / 2).min(Duration::from_secs(10))
}

/// True for the statuses a retry may change: 429 (too many requests) and every 5xx.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// A header as text, if present and visible ASCII.
pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    #[test]
    fn retryable_statuses_are_429_and_5xx() {
        assert!(retryable_status(429) && retryable_status(500) && retryable_status(503));
        assert!(retryable_status(599) && !retryable_status(600));
        assert!(!retryable_status(404) && !retryable_status(401) && !retryable_status(403));
    }

    #[test]
    fn transport_errors_that_may_pass() {
        assert!(transient(&ureq::Error::ConnectionFailed));
        assert!(transient(&ureq::Error::HostNotFound));
        assert!(!transient(&ureq::Error::BadUri("x".into())));
        assert!(!transient(&ureq::Error::BodyExceedsLimit(1)));
    }

    #[test]
    fn which_failures_may_have_reached_the_server() {
        use std::io::{Error, ErrorKind};
        use ureq::Timeout;
        // No connection was made: safe to send again.
        for err in [
            ureq::Error::HostNotFound,
            ureq::Error::ConnectionFailed,
            ureq::Error::Timeout(Timeout::Connect),
            ureq::Error::Timeout(Timeout::Resolve),
            ureq::Error::Io(Error::from(ErrorKind::ConnectionRefused)),
            ureq::Error::BadUri("x".into()),
        ] {
            assert!(!may_have_reached(&err), "{err}");
        }
        // The connection was made: the server may have acted.
        for err in [
            ureq::Error::Timeout(Timeout::RecvResponse),
            ureq::Error::Timeout(Timeout::SendBody),
            ureq::Error::Timeout(Timeout::Global),
            ureq::Error::Io(Error::from(ErrorKind::UnexpectedEof)),
            ureq::Error::Io(Error::from(ErrorKind::ConnectionReset)),
            ureq::Error::BodyStalled,
        ] {
            assert!(may_have_reached(&err), "{err}");
        }
    }

    #[test]
    fn connect_timeout_is_shorter_than_the_request() {
        assert_eq!(
            connect_timeout(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
        assert_eq!(
            connect_timeout(Duration::from_secs(4)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn header_as_text() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("5"));
        headers.insert("x-bin", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(header(&headers, "Retry-After"), Some("5"));
        assert_eq!(header(&headers, "x-bin"), None);
        assert_eq!(header(&headers, "missing"), None);
    }
}
