//! The retry policy and the one retry loop: connection errors, 429 and 5xx are tried again,
//! waiting what the server asked (`Retry-After` in delta-seconds) or else an exponential
//! backoff, within a number of attempts and a total time budget.
//!
//! The loop knows nothing of HTTP: the caller's closure makes one request and says whether
//! it is done, failed for good, or failed in a way that may pass (and how long the server
//! asked to wait). What a failure becomes (which error, with which message) stays with the
//! caller.

use std::fmt;
use std::thread;
use std::time::{Duration, Instant};

/// The shortest timeout a request gets, even when the retry budget is nearly spent.
pub const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// How failed requests are retried: connection errors, 429 and 5xx (each crate may add its
/// own, like GitHub's rate-limit 403s). Waits follow a delta-seconds `Retry-After` when
/// given, else `base_delay` doubled each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The most requests made for one call (0 counts as 1).
    pub attempts: u32,
    /// The first backoff wait.
    pub base_delay: Duration,
    /// The most time one call may take, waits included: a wait that would go past it is
    /// not made, and the call fails with the last error.
    pub max_total: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_total: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The wait after failed attempt `attempt` (1-based): `base_delay * 2^(attempt-1)`,
    /// the factor capped at 2^20, the product saturating.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.base_delay.saturating_mul(factor)
    }
}

/// Why the retry loop stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// Every allowed attempt was made.
    Attempts,
    /// The next wait would have gone past the retry budget (`Retry::max_total`).
    Budget {
        /// The wait that did not fit (a `Retry-After` or the next backoff step).
        next_wait: Duration,
    },
    /// The failure is not one that a retry can fix (a malformed URL, a TLS setup error).
    NotRetryable,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaveUp::Attempts => f.write_str("no attempts left"),
            GaveUp::Budget { next_wait } => write!(
                f,
                "waiting {}s more would exceed the retry budget",
                next_wait.as_secs_f64()
            ),
            GaveUp::NotRetryable => f.write_str("not retryable"),
        }
    }
}

/// What one request gave, as the caller of [`with_retry`] judges it.
#[derive(Debug, Clone)]
pub enum Attempt<T, F> {
    /// An answer the caller takes, whatever its status: the loop returns it.
    Done(T),
    /// A failure that may pass (a 429 or 5xx, a refused connection): tried again if the
    /// attempts and the budget allow.
    Transient {
        /// What failed, kept in case the loop gives up.
        failure: F,
        /// The wait the server asked for (`Retry-After`); `None` means the backoff.
        wait: Option<Duration>,
    },
    /// A failure a retry cannot fix: the loop stops at once ([`GaveUp::NotRetryable`]).
    Permanent(F),
}

impl<T, F> Attempt<T, F> {
    /// A failure with no wait asked for (a transport error): [`Attempt::Transient`] when it
    /// may pass, else [`Attempt::Permanent`].
    pub fn failed(failure: F, may_pass: bool) -> Self {
        if may_pass {
            Attempt::Transient {
                failure,
                wait: None,
            }
        } else {
            Attempt::Permanent(failure)
        }
    }
}

/// The loop gave up: the last failure, the requests made, and why it stopped.
#[derive(Debug, Clone)]
pub struct Stopped<F> {
    /// The last failure.
    pub failure: F,
    /// Requests made, the failed last one included.
    pub attempts: u32,
    /// Why no further request was made.
    pub gave_up: GaveUp,
}

/// Runs `attempt(n, timeout)` (n counting from 1) until it is [`Attempt::Done`], sleeping
/// between tries as `retry` says. Each request's `timeout` is `request_timeout`, cut to
/// what is left of `retry.max_total` but never below [`MIN_REQUEST_TIMEOUT`].
pub fn with_retry<T, F>(
    retry: &Retry,
    request_timeout: Duration,
    mut attempt: impl FnMut(u32, Duration) -> Attempt<T, F>,
) -> Result<T, Stopped<F>> {
    let max_attempts = retry.attempts.max(1);
    let start = Instant::now();
    let mut made = 0;
    loop {
        made += 1;
        let remaining = retry.max_total.saturating_sub(start.elapsed());
        let timeout = request_timeout.min(remaining.max(MIN_REQUEST_TIMEOUT));
        let stop = |failure, gave_up| Stopped {
            failure,
            attempts: made,
            gave_up,
        };
        let (failure, hint) = match attempt(made, timeout) {
            Attempt::Done(value) => return Ok(value),
            Attempt::Permanent(failure) => return Err(stop(failure, GaveUp::NotRetryable)),
            Attempt::Transient { failure, wait } => (failure, wait),
        };
        if made >= max_attempts {
            return Err(stop(failure, GaveUp::Attempts));
        }
        let wait = hint.unwrap_or_else(|| retry.backoff(made));
        if start.elapsed().saturating_add(wait) > retry.max_total {
            return Err(stop(failure, GaveUp::Budget { next_wait: wait }));
        }
        thread::sleep(wait);
    }
}

/// `Retry-After` as delta-seconds; `None` for an HTTP-date or anything else.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: a number too large for u64 is "very long", which the budget then refuses.
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(attempts: u32) -> Retry {
        Retry {
            attempts,
            base_delay: Duration::from_millis(5),
            max_total: Duration::from_secs(10),
        }
    }

    /// One scripted answer: a value, or a numbered failure.
    type Step = Attempt<&'static str, u32>;
    /// What the loop returned, and each request's number and timeout.
    type Run = (Result<&'static str, Stopped<u32>>, Vec<(u32, Duration)>);

    /// Runs the loop with answers from `script` (the last one repeats).
    fn run(retry: &Retry, script: &[Step]) -> Run {
        let mut calls = Vec::new();
        let result = with_retry(retry, Duration::from_secs(30), |n, timeout| {
            calls.push((n, timeout));
            script[(calls.len() - 1).min(script.len() - 1)].clone()
        });
        (result, calls)
    }

    fn transient(failure: u32) -> Step {
        Attempt::failed(failure, true)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let r = Retry::default();
        assert_eq!(
            (r.attempts, r.base_delay, r.max_total),
            (4, Duration::from_secs(1), Duration::from_secs(60))
        );
    }

    #[test]
    fn an_answer_ends_the_loop() {
        let (result, calls) = run(&fast(4), &[transient(1), Attempt::Done("ok")]);
        assert_eq!(result.unwrap(), "ok");
        assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2]);
        assert!(calls[0].1 <= Duration::from_secs(10) && calls[0].1 > Duration::from_secs(9));
    }

    #[test]
    fn a_permanent_failure_is_not_retried() {
        let (result, calls) = run(&fast(4), &[Attempt::failed(7, false)]);
        let stopped = result.unwrap_err();
        assert_eq!(
            (stopped.failure, stopped.attempts, stopped.gave_up),
            (7, 1, GaveUp::NotRetryable)
        );
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn transient_failures_until_the_attempts_run_out() {
        let (result, calls) = run(&fast(3), &[transient(1), transient(2), transient(3)]);
        let stopped = result.unwrap_err();
        assert_eq!(
            (stopped.failure, stopped.attempts, stopped.gave_up),
            (3, 3, GaveUp::Attempts)
        );
        assert_eq!(calls.len(), 3);
        // Zero attempts still makes one request.
        let (result, calls) = run(&fast(0), &[transient(1)]);
        assert_eq!(result.unwrap_err().gave_up, GaveUp::Attempts);
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn a_wait_past_the_budget_is_not_made() {
        let retry = Retry {
            max_total: Duration::from_millis(200),
            ..fast(5)
        };
        let wait = Duration::from_secs(120);
        let started = Instant::now();
        let (result, calls) = run(
            &retry,
            &[Attempt::Transient {
                failure: 1,
                wait: Some(wait),
            }],
        );
        let stopped = result.unwrap_err();
        assert_eq!(stopped.gave_up, GaveUp::Budget { next_wait: wait });
        assert_eq!((stopped.attempts, calls.len()), (1, 1));
        assert!(started.elapsed() < Duration::from_secs(5));
        // The request's own timeout is cut to the budget, but not below the minimum.
        assert_eq!(calls[0].1, MIN_REQUEST_TIMEOUT);
    }

    #[test]
    fn waits_follow_the_hint_else_the_backoff() {
        let retry = Retry {
            base_delay: Duration::from_millis(40),
            ..fast(3)
        };
        let started = Instant::now();
        let (result, _) = run(&retry, &[transient(1), transient(2), Attempt::Done("ok")]);
        assert_eq!(result.unwrap(), "ok");
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "40 + 80 ms"
        );
        let started = Instant::now();
        let zero = Attempt::Transient {
            failure: 1,
            wait: Some(Duration::ZERO),
        };
        let (result, calls) = run(
            &Retry {
                attempts: 2,
                ..retry
            },
            &[zero, Attempt::Done("ok")],
        );
        assert_eq!((result.unwrap(), calls.len()), ("ok", 2));
        assert!(
            started.elapsed() < Duration::from_millis(40),
            "Retry-After: 0"
        );
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
        assert_eq!(retry.backoff(1), Duration::from_millis(100));
        assert_eq!(retry.backoff(2), Duration::from_millis(200));
        assert_eq!(retry.backoff(3), Duration::from_millis(400));
        assert!(retry.backoff(u32::MAX) >= retry.backoff(21));
    }

    #[test]
    fn gave_up_says_why() {
        assert_eq!(GaveUp::Attempts.to_string(), "no attempts left");
        assert_eq!(
            GaveUp::Budget {
                next_wait: Duration::from_millis(1500)
            }
            .to_string(),
            "waiting 1.5s more would exceed the retry budget"
        );
        assert_eq!(GaveUp::NotRetryable.to_string(), "not retryable");
    }
}
