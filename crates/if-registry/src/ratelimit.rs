//! `RateLimit`: Docker Hub's `ratelimit-limit` / `ratelimit-remaining` headers
//! (`100;w=21600`: 100 requests per 21,600-second window).

use std::fmt;

use if_http::header;
use ureq::http::HeaderMap;

/// The rate limit a registry reported with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the current window.
    pub remaining: u64,
    /// The window's length in seconds (`w=`), when given.
    pub window_seconds: Option<u64>,
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} requests left", self.remaining, self.limit)?;
        if let Some(window) = self.window_seconds {
            write!(f, " per {window}s")?;
        }
        Ok(())
    }
}

impl RateLimit {
    /// The limit from the two header values; `None` unless both parse. The window is taken
    /// from `ratelimit-limit`, else from `ratelimit-remaining`.
    pub fn parse(limit: &str, remaining: &str) -> Option<RateLimit> {
        let (limit, limit_window) = parse_value(limit)?;
        let (remaining, remaining_window) = parse_value(remaining)?;
        Some(RateLimit {
            limit,
            remaining,
            window_seconds: limit_window.or(remaining_window),
        })
    }

    /// Whether the requests left are at or below `percent` of the limit (a limit of 0 is
    /// always low).
    pub fn is_low(&self, percent: u8) -> bool {
        u128::from(self.remaining) * 100 <= u128::from(self.limit) * u128::from(percent)
    }

    /// The limit from an answer's headers, when it carries both.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        RateLimit::parse(
            header(headers, "ratelimit-limit")?,
            header(headers, "ratelimit-remaining")?,
        )
    }
}

/// `N` or `N;w=SECONDS` (other `;` parameters ignored).
fn parse_value(value: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = value.split(';').map(str::trim);
    let count = parts.next()?.parse().ok()?;
    let window = parts
        .filter_map(|p| p.strip_prefix("w="))
        .find_map(|w| w.trim().parse().ok());
    Some((count, window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::http::HeaderValue;

    #[test]
    fn docker_hub_format() {
        assert_eq!(
            RateLimit::parse("100;w=21600", "76;w=21600"),
            Some(RateLimit {
                limit: 100,
                remaining: 76,
                window_seconds: Some(21600)
            })
        );
        let r = RateLimit::parse("200", " 0 ").unwrap();
        assert_eq!((r.limit, r.remaining, r.window_seconds), (200, 0, None));
        assert_eq!(
            RateLimit::parse("100", "5;w=60").unwrap().window_seconds,
            Some(60)
        );
        assert_eq!(
            RateLimit::parse("100;w=21600", "76;w=21600")
                .unwrap()
                .to_string(),
            "76 of 100 requests left per 21600s"
        );
    }

    #[test]
    fn low_is_at_or_below_the_floor() {
        let at = |remaining| RateLimit {
            limit: 100,
            remaining,
            window_seconds: None,
        };
        assert!(!at(11).is_low(10));
        assert!(at(10).is_low(10));
        assert!(at(0).is_low(0));
        assert!(!at(1).is_low(0));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(RateLimit::parse("lots", "5"), None);
        assert_eq!(RateLimit::parse("100", ""), None);
        assert_eq!(RateLimit::parse("-1", "5"), None);
    }

    #[test]
    fn from_headers_needs_both() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-limit", HeaderValue::from_static("100;w=21600"));
        assert_eq!(RateLimit::from_headers(&headers), None);
        headers.insert(
            "ratelimit-remaining",
            HeaderValue::from_static("99;w=21600"),
        );
        assert_eq!(RateLimit::from_headers(&headers).unwrap().remaining, 99);
    }
}
