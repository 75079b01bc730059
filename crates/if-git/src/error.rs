//! `GitError` and `PublishError`: every way a git operation fails, naming the operation,
//! the remote URL or the local path, and what git (or gix) said.
//!
//! No variant holds a token: URLs are shown with any password replaced by `***`, and every
//! message taken from `git`'s stderr or from gix is scrubbed of the remote's token before it
//! is stored here.

use std::fmt;
use std::path::PathBuf;

/// The operation that failed, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// [`crate::clone`].
    Clone,
    /// [`crate::open`].
    Open,
    /// [`crate::read_file`].
    Read,
    /// [`crate::commit`].
    Commit,
    /// [`crate::push`].
    Push,
    /// The fetch of [`crate::reset_to_remote`].
    Fetch,
    /// The reset of [`crate::reset_to_remote`] (HEAD, index and work tree).
    Reset,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Clone => "clone",
            Operation::Open => "open",
            Operation::Read => "read",
            Operation::Commit => "commit",
            Operation::Push => "push",
            Operation::Fetch => "fetch",
            Operation::Reset => "reset",
        })
    }
}

/// A failed git operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// The remote's URL or branch cannot be used; nothing was run.
    #[error("{op} {url}: invalid remote: {reason}")]
    InvalidRemote {
        /// The operation.
        op: Operation,
        /// The URL (password hidden).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A path given to the crate is not a plain relative path inside the work tree.
    #[error("{op}: invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The operation.
        op: Operation,
        /// The path as given.
        path: String,
        /// What is wrong (absolute, `..`, a directory, …).
        reason: &'static str,
    },
    /// The identity cannot be written into a commit; nothing was written.
    #[error("commit: invalid identity: {reason}")]
    InvalidIdentity {
        /// What is wrong.
        reason: &'static str,
    },
    /// The clone destination exists and is not an empty directory; nothing was touched.
    #[error("clone {url}: destination {} exists and is not an empty directory", path.display())]
    DestinationNotEmpty {
        /// The URL (password hidden).
        url: String,
        /// The destination.
        path: PathBuf,
    },
    /// Talking to the remote through gix (clone or fetch over `git://`, `file://` or a local
    /// path) failed.
    #[error("{op} {url}: {message}")]
    Remote {
        /// The operation.
        op: Operation,
        /// The URL (password hidden).
        url: String,
        /// gix's message (scrubbed, truncated).
        message: String,
    },
    /// The `git` command ran and failed.
    #[error("{op} {url}: git {command} failed ({status}): {stderr}")]
    Command {
        /// The operation.
        op: Operation,
        /// The URL (password hidden), or the work tree when no remote is involved.
        url: String,
        /// The git subcommand (`clone`, `fetch`, `push`).
        command: &'static str,
        /// The exit status (`exit status: 128`) or how it ended.
        status: String,
        /// The command's stderr, its `fatal:`/`error:` lines when it has any (scrubbed,
        /// trimmed, truncated).
        stderr: String,
    },
    /// The remote's token source gave no token; nothing was sent.
    #[error("{op} {url}: no token: {message}")]
    Token {
        /// The operation.
        op: Operation,
        /// The URL (password hidden).
        url: String,
        /// The source's message (it holds no secret).
        message: String,
    },
    /// The `git` command could not be started (is git installed and on `PATH`?).
    #[error("{op}: cannot run git: {message}")]
    Spawn {
        /// The operation.
        op: Operation,
        /// The operating system's message.
        message: String,
    },
    /// `push` answered for the ref in a way that is neither success nor a rejection that a
    /// fresh fetch can fix (a hook declined, …).
    #[error("push {url} to branch {branch} failed: {reason}")]
    PushFailed {
        /// The URL (password hidden).
        url: String,
        /// The branch pushed to.
        branch: String,
        /// git's summary for the ref (`[remote rejected] (pre-receive hook declined)`).
        reason: String,
    },
    /// The path is not inside a git work tree (or is inside a bare repository).
    #[error("{}: not a git work tree: {message}", path.display())]
    NotAWorkTree {
        /// The path given to `open`.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A revision given to `read_file` does not resolve to a commit or tree.
    #[error("read {path:?} at {rev:?} in {}: {message}", root.display())]
    Revision {
        /// The work tree.
        root: PathBuf,
        /// The revision as given.
        rev: String,
        /// The file path as given.
        path: String,
        /// gix's message.
        message: String,
    },
    /// A local repository operation failed (objects, refs, index, work tree).
    #[error("{op} in {}: {message}", root.display())]
    Repository {
        /// The operation.
        op: Operation,
        /// The work tree.
        root: PathBuf,
        /// What failed and why.
        message: String,
    },
    /// Reading or writing a file of the work tree failed.
    #[error("{op}: {}: {source}", path.display())]
    Io {
        /// The operation.
        op: Operation,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// How [`crate::publish`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError<E> {
    /// A git operation failed (clone, commit, push, reset).
    #[error(transparent)]
    Git(#[from] GitError),
    /// The caller's step failed; nothing of that attempt was committed.
    #[error("publish step failed: {0}")]
    Step(#[source] E),
    /// Every push was rejected because the branch kept moving on the remote.
    #[error(
        "push to {url} (branch {branch}) was rejected {attempts} time(s), the last time: {reason}"
    )]
    Rejected {
        /// The URL (password hidden).
        url: String,
        /// The branch.
        branch: String,
        /// Pushes made.
        attempts: u32,
        /// git's summary for the last rejection (`[rejected] (fetch first)`).
        reason: String,
    },
}
