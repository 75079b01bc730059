//! Remote URLs and branches: which transport carries a URL (gix or the `git` command), how
//! a URL is shown in messages, and the checks made before anything runs.

use crate::Remote;
use crate::error::{GitError, Operation};

/// Who talks to the remote for clone and fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// gix: `git://`, `file://` and local paths (gix's own transports; for `file://` and
    /// paths gix itself spawns `git-upload-pack`).
    Gix,
    /// The `git` command: `http://`, `https://`, `ssh://` and `user@host:path` (gix would
    /// need a heavy HTTP client for HTTPS; keeping SSH with git keeps one SSH behaviour).
    Command,
}

/// Checks the remote's URL and branch and picks the transport for `op`.
pub(crate) fn check(op: Operation, remote: &Remote) -> Result<Transport, GitError> {
    let invalid = |reason: &str| GitError::InvalidRemote {
        op,
        url: shown(&remote.url),
        reason: reason.to_owned(),
    };
    let transport = transport(&remote.url).map_err(invalid)?;
    check_branch(&remote.branch).map_err(invalid)?;
    Ok(transport)
}

fn transport(url: &str) -> Result<Transport, &'static str> {
    if url.trim().is_empty() {
        return Err("the URL is empty");
    }
    if url.starts_with('-') {
        return Err("a URL may not start with '-'");
    }
    if url.chars().any(char::is_control) {
        return Err("the URL contains control characters");
    }
    let lower = url.to_ascii_lowercase();
    let has = |prefix: &str| lower.starts_with(prefix);
    if has("git://") || has("file://") {
        return Ok(Transport::Gix);
    }
    if has("http://") || has("https://") || has("ssh://") || has("git+ssh://") || has("ssh+git://")
    {
        return Ok(Transport::Command);
    }
    if url.contains("://") {
        return Err("unsupported scheme (use git://, file://, http(s)://, ssh:// or a path)");
    }
    if url.contains("::") {
        return Err("remote helpers (`<transport>::<address>`) are not supported");
    }
    if is_scp_like(url) {
        return Ok(Transport::Command);
    }
    Ok(Transport::Gix)
}

/// `[user@]host:path` as git reads it: a colon before any slash (and not a drive letter).
fn is_scp_like(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return false;
    };
    let before = &url[..colon];
    let drive_letter = cfg!(windows) && before.len() == 1;
    !before.is_empty() && !before.contains('/') && !before.contains('\\') && !drive_letter
}

/// A branch name usable as `refs/heads/<branch>`.
fn check_branch(branch: &str) -> Result<(), &'static str> {
    if branch.is_empty() {
        return Err("the branch is empty");
    }
    if branch.starts_with('-') || branch.starts_with("refs/") {
        return Err("the branch must be a short name like `main` (not starting with '-' or refs/)");
    }
    gix::refs::FullName::try_from(format!("refs/heads/{branch}"))
        .map(|_| ())
        .map_err(|_| "the branch is not a valid git branch name")
}

/// `url` with the password of `scheme://user:password@host/...` replaced by `***`.
pub(crate) fn shown(url: &str) -> String {
    if_http::mask_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        for url in [
            "git://127.0.0.1:9418/repo.git",
            "file:///srv/repo.git",
            "/srv/repo.git",
            "./repo",
            "repo.git",
            "GIT://host/x",
        ] {
            assert_eq!(transport(url), Ok(Transport::Gix), "{url}");
        }
        for url in [
            "https://github.com/o/r.git",
            "http://127.0.0.1:1/x.git",
            "ssh://git@github.com/o/r.git",
            "git@github.com:o/r.git",
            "host:path/r.git",
        ] {
            assert_eq!(transport(url), Ok(Transport::Command), "{url}");
        }
        for url in [
            "",
            "  ",
            "-uhack",
            "ext::sh -c touch% /tmp/x",
            "ftp://h/x",
            "a\nb",
        ] {
            assert!(transport(url).is_err(), "{url}");
        }
    }

    #[test]
    fn branches() {
        assert!(check_branch("main").is_ok());
        assert!(check_branch("factory/state").is_ok());
        for bad in ["", "-f", "refs/heads/main", "a..b", "a b", "a~1", "x.lock"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            shown("https://user:pw@h.example/o/r.git"),
            "https://user:***@h.example/o/r.git"
        );
        assert_eq!(
            shown("https://user@h.example/o/r.git"),
            "https://user@h.example/o/r.git"
        );
        assert_eq!(shown("git@h:o/r.git"), "git@h:o/r.git");
        assert_eq!(shown("https://h/a@b"), "https://h/a@b");
    }
}
