//! Docker credential helpers: `docker-credential-<name> get`, found on `PATH`, with the
//! server URL on stdin and `{"ServerURL", "Username", "Secret"}` JSON on stdout (the
//! protocol of docker/docker-credential-helpers). The one process this crate runs: it is
//! credential I/O for the registry requests that need it.
//!
//! Bounded: the helper is killed when it runs past its time, and at most 64 KiB of its
//! stdout is read. Its stderr is never read (a helper may print secrets there); a failure
//! says only "helper NAME failed (exit N)".

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("helper {program} is not on PATH"),
            _ => format!("helper {program} cannot be started ({})", e.kind()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            let _ = stdout.take(MAX_OUTPUT).read_to_end(&mut out);
        }
        out
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < timeout => thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                // Not joined: a child of the helper may still hold its stdout open.
                drop(reader);
                return Err(format!(
                    "helper {program} did not answer within {}s and was stopped",
                    timeout.as_secs_f64()
                ));
            }
        }
    };
    let out = reader.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        if text.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let code = status
            .code()
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
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
