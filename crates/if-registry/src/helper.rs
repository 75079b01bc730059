//! Docker credential helpers: `docker-credential-<name> get`, found on `PATH`, with the
//! server URL on stdin and `{"ServerURL", "Username", "Secret"}` JSON on stdout (the
//! protocol of docker/docker-credential-helpers): credential I/O for the registry requests
//! that need it.
//!
//! Bounded ([`crate::child`]): the helper and its process group are killed when it runs past
//! its time, and more than 64 KiB of stdout is a failure. Its stderr is never read (a helper
//! may print secrets there); a failure says only "helper NAME failed (exit N)".

use std::process::Command;
use std::time::Duration;

use crate::child::{RunError, describe_status, run_bounded};
use crate::credentials::Credentials;
use crate::endpoint::DOCKER_HUB;

/// How long a helper may take by default.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a helper's stdout that is read.
const MAX_OUTPUT: u64 = 64 * 1024;

/// The server URL a helper is asked about for a registry: Docker Hub's legacy
/// `https://index.docker.io/v1/` (the key `docker login` stores it under), else the host.
pub fn server_url(registry: &str) -> String {
    if registry == DOCKER_HUB {
        "https://index.docker.io/v1/".to_owned()
    } else {
        registry.to_owned()
    }
}

/// Runs `docker-credential-<name> get` for `server`: credentials, `None` when the helper
/// has none for it (it exits non-zero saying "credentials not found", or answers with an
/// empty secret), or why it failed (never quoting its output).
pub fn run_helper(
    name: &str,
    server: &str,
    timeout: Duration,
) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{name}");
    let mut command = Command::new(&program);
    command.arg("get");
    let done =
        run_bounded(command, Some(server.as_bytes()), timeout, MAX_OUTPUT).map_err(
            |e| match e {
                RunError::NotFound => format!("helper {program} is not on PATH"),
                RunError::Start(kind) => format!("helper {program} cannot be started ({kind})"),
                RunError::TimedOut => format!(
                    "helper {program} did not answer within {}s and was stopped",
                    timeout.as_secs_f64()
                ),
                RunError::TooLarge => {
                    format!("helper {program} answered with more than {MAX_OUTPUT} bytes")
                }
            },
        )?;
    let (status, out) = (done.status, done.stdout);
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let code = describe_status(status);
        return Err(format!("helper {program} failed ({code})"));
    }
    parse_answer(&text).ok_or_else(|| {
        format!("helper {program} answered with something other than its JSON credentials")
    })
}

/// `{"Username": .., "Secret": ..}`; an empty secret is no credentials.
fn parse_answer(text: &str) -> Option<Option<Credentials>> {
    let json: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    let field = |k: &str| json.get(k).and_then(serde_json::Value::as_str);
    let secret = field("Secret")?;
    if secret.is_empty() {
        return Some(None);
    }
    Some(Some(Credentials::new(
        field("Username").unwrap_or_default(),
        secret,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_username_and_secret() {
        let c = parse_answer(r#"{"ServerURL":"r","Username":"u","Secret":"s"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("u", "s"));
        assert!(
            parse_answer(r#"{"Username":"u","Secret":""}"#)
                .unwrap()
                .is_none()
        );
        assert!(parse_answer("not json secret").is_none());
        assert!(parse_answer(r#"{"Username":"u"}"#).is_none());
    }

    #[test]
    fn docker_hub_is_asked_by_its_legacy_url() {
        assert_eq!(server_url("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_url("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn a_missing_helper_says_so() {
        let err = run_helper("if-test-no-such-helper", "r", HELPER_TIMEOUT).unwrap_err();
        assert_eq!(
            err,
            "helper docker-credential-if-test-no-such-helper is not on PATH"
        );
    }
}
