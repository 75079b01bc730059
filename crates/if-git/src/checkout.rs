//! `Checkout` (a work tree), `open` (find the work tree containing a path) and `clone`
//! (shallow, single branch, checked out): gix for `git://`, `file://` and paths, `git clone`
//! for HTTP(S) and SSH.

use std::ffi::OsStr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::command::Git;
use crate::error::{GitError, Operation};
use crate::url::{self, Transport};
use crate::{Remote, describe};

/// A git work tree: its root directory and its repository.
///
/// It holds no open handle: every call opens the repository again, so the `git` command and
/// gix can take turns on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    root: PathBuf,
}

impl Checkout {
    /// The root of the work tree (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit `HEAD` points to, as hex; `None` when `HEAD` is unborn (or unreadable).
    pub fn head(&self) -> Option<String> {
        let repo = self.repo(Operation::Open).ok()?;
        let id = repo.head_id().ok()?;
        Some(id.to_hex().to_string())
    }

    /// The repository, opened isolated: its own config only, no environment variables.
    pub(crate) fn repo(&self, op: Operation) -> Result<gix::Repository, GitError> {
        gix::open_opts(&self.root, gix::open::Options::isolated()).map_err(|e| self.error(op, &e))
    }

    /// A `Repository` error for a failure inside this work tree.
    pub(crate) fn error(&self, op: Operation, err: &(dyn std::error::Error + 'static)) -> GitError {
        self.message(op, describe(err))
    }

    /// A `Repository` error with `message`.
    pub(crate) fn message(&self, op: Operation, message: impl Into<String>) -> GitError {
        GitError::Repository {
            op,
            root: self.root.clone(),
            message: message.into(),
        }
    }
}

/// The work tree containing `path` (searching upwards from it, like `git` does).
///
/// Fails with [`GitError::NotAWorkTree`] naming `path` when no repository is found or the
/// repository is bare.
pub fn open(path: &Path) -> Result<Checkout, GitError> {
    let not = |message: String| GitError::NotAWorkTree {
        path: path.to_owned(),
        message,
    };
    if !path.exists() {
        return Err(not("no such file or directory".to_owned()));
    }
    let repo = gix::discover_opts(
        path,
        gix::discover::upwards::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(|e| not(describe(&e)))?;
    let root = repo
        .workdir()
        .ok_or_else(|| not("it is a bare repository, without a work tree".to_owned()))?;
    let root = std::path::absolute(root).map_err(|e| not(e.to_string()))?;
    Ok(Checkout { root })
}

/// A shallow (depth 1), single-branch clone of `remote.branch` into `into`, checked out.
///
/// `into` must not exist or be an empty directory. On failure nothing is left behind: a
/// directory created here is removed, and an empty one given is emptied again. `git://`,
/// `file://` and local paths are cloned by gix; HTTP(S) and SSH by `git clone`, with the
/// token in the environment.
pub fn clone(remote: &Remote, into: &Path) -> Result<Checkout, GitError> {
    let transport = url::check(Operation::Clone, remote)?;
    let existed = match std::fs::read_dir(into) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(GitError::DestinationNotEmpty {
                    url: url::shown(&remote.url),
                    path: into.to_owned(),
                });
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(GitError::Io {
                op: Operation::Clone,
                path: into.to_owned(),
                source: e,
            });
        }
    };
    let cloned = match transport {
        Transport::Gix => clone_with_gix(remote, into),
        Transport::Command => clone_with_git(remote, into),
    };
    match cloned.and_then(|()| open(into)) {
        Ok(checkout) => Ok(checkout),
        Err(e) => {
            clean_up(into, existed);
            Err(e)
        }
    }
}

fn clone_with_gix(remote: &Remote, into: &Path) -> Result<(), GitError> {
    let fail = |err: &(dyn std::error::Error + 'static)| GitError::Remote {
        op: Operation::Clone,
        url: url::shown(&remote.url),
        message: scrub(remote, &describe(err)),
    };
    let interrupt = AtomicBool::new(false);
    let mut prepare = gix::clone::PrepareFetch::new(
        remote.url.as_str(),
        into,
        gix::create::Kind::WithWorktree,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )
    .map_err(|e| fail(&e))?
    .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN))
    .with_ref_name(Some(remote.branch.as_str()))
    .map_err(|e| fail(&e))?;
    let (mut checkout, _) = prepare
        .fetch_then_checkout(gix::progress::Discard, &interrupt)
        .map_err(|e| fail(&e))?;
    let (_repo, outcome) = checkout
        .main_worktree(gix::progress::Discard, &interrupt)
        .map_err(|e| fail(&e))?;
    if let Some(first) = outcome.errors.first() {
        return Err(GitError::Repository {
            op: Operation::Clone,
            root: into.to_owned(),
            message: format!(
                "checkout failed for {} file(s), first {}: {}",
                outcome.errors.len(),
                first.path,
                describe(&first.error)
            ),
        });
    }
    if let Some(first) = outcome.collisions.first() {
        return Err(GitError::Repository {
            op: Operation::Clone,
            root: into.to_owned(),
            message: format!(
                "checkout collided on {} path(s), first {}",
                outcome.collisions.len(),
                first.path
            ),
        });
    }
    Ok(())
}

fn clone_with_git(remote: &Remote, into: &Path) -> Result<(), GitError> {
    let token = remote.token_for(Operation::Clone)?;
    let git = Git::new(Operation::Clone, &remote.url, token.as_ref());
    let args: [&OsStr; 9] = [
        "--depth".as_ref(),
        "1".as_ref(),
        "--single-branch".as_ref(),
        "--no-tags".as_ref(),
        "--branch".as_ref(),
        remote.branch.as_ref(),
        "--".as_ref(),
        remote.url.as_ref(),
        into.as_os_str(),
    ];
    let out = git.run("clone", None, &args)?;
    if !out.success {
        return Err(git.failure("clone", &out));
    }
    // The clone keeps its URL in .git/config: without the password (fetch and push name
    // the URL themselves).
    let kept = if_http::without_password(&remote.url);
    if kept != remote.url {
        let args: [&OsStr; 3] = ["set-url".as_ref(), "origin".as_ref(), kept.as_ref()];
        let out = git.run("remote", Some(into), &args)?;
        if !out.success {
            return Err(git.failure("remote", &out));
        }
    }
    Ok(())
}

/// A gix message about `remote`: its token replaced by `***`, then truncated.
pub(crate) fn scrub(remote: &Remote, text: &str) -> String {
    // gix serves the non-HTTP remotes, to which a source's token is never sent.
    let mut text = match &remote.token {
        Some(crate::Token::Fixed(token)) => token.scrub(text),
        Some(crate::Token::Renewing(_)) | None => text.to_owned(),
    };
    // gix may quote the URL as given, password included.
    if let Some(password) = if_http::url_password(&remote.url) {
        text = password.scrub(&text);
    }
    if_http::truncate(&text)
}

/// Leaves `into` as it was before a failed clone: absent, or an empty directory (gix removes
/// a destination that was empty, so it is made again).
fn clean_up(into: &Path, existed: bool) {
    if !existed {
        let _ = std::fs::remove_dir_all(into);
        return;
    }
    if !into.exists() {
        let _ = std::fs::create_dir_all(into);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(into) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
        }
    }
}
