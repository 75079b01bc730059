//! The only module that runs the `git` command: the steps gix cannot do (push; clone and
//! fetch over HTTP(S) and SSH), with a token passed through the environment and scrubbed
//! from everything kept.
//!
//! * The token goes to git as `--config-env=http.extraHeader=IMAGE_FACTORY_GIT_AUTH`: the
//!   command line names only the variable, whose value (`Authorization: Basic
//!   base64(x-access-token:TOKEN)`) is set on the child process alone.
//! * `GIT_TERMINAL_PROMPT=0` (and `GCM_INTERACTIVE=never`) so git never prompts; standard
//!   input is closed. SSH uses whatever the inherited environment gives it
//!   (`SSH_AUTH_SOCK`, `~/.ssh/config`).
//! * Variables that would point git at another repository (`GIT_DIR`, `GIT_WORK_TREE`,
//!   `GIT_INDEX_FILE`, …) are removed from the child's environment; `LC_ALL=C` keeps its
//!   messages parseable. Everything else is inherited.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use if_http::Secret;

use crate::error::{GitError, Operation};

/// The environment variable carrying the `Authorization` header to the child `git`.
const AUTH_ENV: &str = "IMAGE_FACTORY_GIT_AUTH";

/// Variables that would make the child operate on another repository than the one given.
const REPOSITORY_ENV: [&str; 7] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// What one run of `git` printed, with stderr already scrubbed.
pub(crate) struct Output {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// One `git` invocation for one operation against one remote URL.
pub(crate) struct Git<'a> {
    op: Operation,
    /// The URL as shown in errors (password hidden).
    shown_url: String,
    token: Option<&'a Secret>,
    /// The header value derived from the token, scrubbed too.
    header: Option<Secret>,
    /// The password in the URL (`user:password@`), scrubbed too.
    url_password: Option<Secret>,
}

impl<'a> Git<'a> {
    /// `token` is sent only when `url` is HTTP(S); it is scrubbed from every message either way.
    pub fn new(op: Operation, url: &str, token: Option<&'a Secret>) -> Self {
        let token = token.filter(|t| !t.is_blank());
        let header = token.filter(|_| is_http(url)).map(|t| {
            let pair = format!("x-access-token:{}", t.expose());
            Secret::new(format!(
                "Authorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
        });
        Git {
            op,
            shown_url: crate::url::shown(url),
            token,
            header,
            url_password: if_http::url_password(url),
        }
    }

    /// The URL as shown in errors.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// `text` with the token (and the header built from it) replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Some(header) = &self.header {
            out = header.scrub(&out);
            // The base64 part alone, as git might print the value without its name.
            if let Some(encoded) = header.expose().strip_prefix("Authorization: Basic ") {
                out = Secret::new(encoded.to_owned()).scrub(&out);
            }
        }
        if let Some(token) = self.token {
            out = token.scrub(&out);
        }
        if let Some(password) = &self.url_password {
            out = password.scrub(&out);
        }
        out
    }

    /// Runs `git [auth] <args>` in `cwd` (or the current directory); `command` names the
    /// subcommand in errors. A non-zero exit is returned as an `Output`, not an error: the
    /// caller decides (a rejected push is an answer).
    pub fn run(
        &self,
        command: &'static str,
        cwd: Option<&Path>,
        args: &[&OsStr],
    ) -> Result<Output, GitError> {
        let mut cmd = Command::new("git");
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        if let Some(header) = &self.header {
            cmd.arg(format!("--config-env=http.extraHeader={AUTH_ENV}"));
            cmd.env(AUTH_ENV, header.expose());
        }
        cmd.arg(command).args(args);
        for name in REPOSITORY_ENV {
            cmd.env_remove(name);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd.output().map_err(|e| GitError::Spawn {
            op: self.op,
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "`git` was not found on PATH".to_owned()
            } else {
                e.to_string()
            },
        })?;
        Ok(Output {
            success: out.status.success(),
            status: out.status.to_string(),
            stdout: self.scrub(&String::from_utf8_lossy(&out.stdout)),
            stderr: self.scrub(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// The error for a failed run: the operation, URL, status and the gist of stderr.
    pub fn failure(&self, command: &'static str, out: &Output) -> GitError {
        GitError::Command {
            op: self.op,
            url: self.shown_url.clone(),
            command,
            status: out.status.clone(),
            stderr: gist(&out.stderr),
        }
    }
}

pub(crate) fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The part of git's stderr worth keeping: its `fatal:`/`error:` lines (and the `remote:`
/// lines around them) when there are any, else all of it without progress chatter; trimmed
/// and cut to `if_http::MAX_MESSAGE_CHARS`. The text must already be scrubbed.
pub(crate) fn gist(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !l.starts_with("Cloning into") && !l.starts_with("hint:"))
        .collect();
    let important: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            l.starts_with("fatal:")
                || l.starts_with("error:")
                || l.starts_with("remote: error")
                || l.starts_with("remote: fatal")
        })
        .collect();
    let kept = if important.is_empty() {
        lines
    } else {
        important
    };
    let text = kept.join(" | ");
    if text.is_empty() {
        "(no message)".to_owned()
    } else {
        if_http::truncate(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gist_keeps_fatal_lines() {
        let stderr = "Cloning into '/tmp/x'...\nhint: something\nfatal: unable to access 'http://h/x.git/': Failed to connect\n";
        assert_eq!(
            gist(stderr),
            "fatal: unable to access 'http://h/x.git/': Failed to connect"
        );
        assert_eq!(gist("  \n"), "(no message)");
        assert_eq!(
            gist("warning: a\nsomething else"),
            "warning: a | something else"
        );
    }

    #[test]
    fn the_token_and_its_header_are_scrubbed() {
        let token = Secret::new("tok-SECRET-123".to_owned());
        let git = Git::new(Operation::Push, "https://h/x.git", Some(&token));
        let header = git.header.as_ref().map(|h| h.expose().to_owned());
        let header = header.unwrap_or_default();
        assert!(header.starts_with("Authorization: Basic "));
        let encoded = header.trim_start_matches("Authorization: Basic ");
        let text = format!("a tok-SECRET-123 b {header} c {encoded}");
        let scrubbed = git.scrub(&text);
        assert!(!scrubbed.contains("tok-SECRET-123"));
        assert!(!scrubbed.contains(encoded));
    }

    #[test]
    fn no_header_for_other_schemes() {
        let token = Secret::new("t".to_owned());
        assert!(
            Git::new(Operation::Push, "git://h/x.git", Some(&token))
                .header
                .is_none()
        );
        assert!(
            Git::new(Operation::Push, "HTTPS://h/x.git", Some(&token))
                .header
                .is_some()
        );
        let blank = Secret::new(" ".to_owned());
        assert!(
            Git::new(Operation::Push, "https://h/x.git", Some(&blank))
                .header
                .is_none()
        );
    }
}
