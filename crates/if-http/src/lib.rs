//! The HTTP plumbing the I/O crates (`if-forge`, `if-registry`) share, so that each of them
//! keeps only what its API needs: which requests to make and what the answers mean.
//!
//! * `secret`: [`Secret`], a token or password that prints as `***`;
//! * `retry`: the policy ([`Retry`]), the loop ([`with_retry`], driven by a closure that
//!   makes one request), why it stopped ([`GaveUp`]), `Retry-After` and backoff;
//! * `transport`: the [`agent`] both crates use (no redirects, no proxy, statuses are
//!   answers), which transport errors may pass ([`transient`]), which may have reached the
//!   server ([`may_have_reached`]: a POST is then not sent again), and which statuses
//!   ([`retryable_status`]), header reading;
//! * `text`: [`percent_encode`] for URLs, and [`truncate`], the last step of every message
//!   kept in an error;
//! * `url`: [`mask_url`] (`user:***@`) for every message that shows a URL, and
//!   [`without_password`] for a URL that is kept.
//!
//! Makes no request itself and reads no environment variable.

mod retry;
mod secret;
mod text;
mod transport;
mod url;

pub use retry::{
    Attempt, GaveUp, MIN_REQUEST_TIMEOUT, Retry, Stopped, parse_retry_after, with_retry,
};
pub use secret::Secret;
pub use text::{MAX_MESSAGE_CHARS, percent_encode, truncate};
pub use transport::{
    REQUEST_TIMEOUT, agent, connect_timeout, header, may_have_reached, retryable_status, transient,
};
pub use url::{mask_url, url_password, without_password};
