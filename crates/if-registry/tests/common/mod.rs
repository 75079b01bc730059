//! Shared set-up for the real-registry tests: the harness of
//! [`if_testkit::registry`] (the registry, pushes, token server, counting proxy and scripted
//! fake), plus clients of this crate with short retries.

#![allow(dead_code)]

use std::time::Duration;

use if_registry::{Client, Config, Credentials, Retry};
pub use if_testkit::registry::*;

/// Starts a registry, or prints why the test is skipped and returns from it:
/// [`if_testkit::registry_or_skip!`].
#[macro_export]
macro_rules! registry_or_skip {
    ($auth:expr) => {
        if_testkit::registry_or_skip!($auth)
    };
}

/// Short waits so the suite stays fast.
pub fn fast_retry() -> Retry {
    Retry {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_total: Duration::from_secs(10),
    }
}

/// A client with no credentials.
pub fn client() -> Client {
    Client::new(Config {
        retry: fast_retry(),
        ..Config::default()
    })
}

/// A client with credentials for `registry`.
pub fn client_with(registry: &str, user: &str, password: &str) -> Client {
    let mut config = Config {
        retry: fast_retry(),
        ..Config::default()
    };
    config
        .credentials
        .insert(registry.to_owned(), Credentials::new(user, password));
    Client::new(config)
}
