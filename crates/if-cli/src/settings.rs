//! Settings the HTTP clients share: environment variables (tokens, API bases, credentials)
//! read one way, and the retry policy of `--http-retries` / `--http-timeout`.

use if_http::Retry;

/// An environment variable, trimmed (a token read from a mounted Secret file often ends
/// with a newline); blank is absent.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `retries` retries after the first request (waits from one second, doubling), all within
/// `seconds`.
pub fn retry(retries: u32, seconds: u64) -> Retry {
    Retry {
        attempts: retries.saturating_add(1),
        base_delay: std::time::Duration::from_secs(1),
        max_total: std::time::Duration::from_secs(seconds),
    }
}
