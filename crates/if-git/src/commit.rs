//! `commit`: exactly the given paths, as they are in the work tree, on top of `HEAD`, with
//! the index updated for them (all gix: blobs, tree edit, commit, ref, index).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use gix::index::entry;
use gix::objs::tree::EntryKind;

use crate::Identity;
use crate::checkout::Checkout;
use crate::error::{GitError, Operation};
use crate::read::repo_path;

/// What one path is in the work tree now.
enum Change {
    /// A file or symbolic link, written as a blob.
    Put {
        id: gix::ObjectId,
        kind: EntryKind,
        stat: entry::Stat,
    },
    /// Absent: deleted from the tree and the index.
    Delete,
}

/// Commits `paths` (relative to the work tree root) as they are in the work tree now — a
/// missing file is a deletion — on top of `HEAD`, with `identity` as author and committer at
/// `now` (Unix seconds, UTC; the system clock when `None`). Returns the new commit's id, or
/// `None` when the tree would equal `HEAD`'s (no empty commits).
///
/// Other paths are taken from `HEAD`, whatever the index says about them. The index entries
/// of `paths` are set to what was committed (the work tree's stat data included), so `git
/// status` shows them clean afterwards; this happens also when nothing was committed. The
/// index's cached trees are dropped (git rebuilds them). A directory, a path outside the work
/// tree or into `.git` is refused before anything is written.
pub fn commit(
    checkout: &Checkout,
    paths: &[PathBuf],
    message: &str,
    identity: &Identity,
    now: Option<i64>,
) -> Result<Option<String>, GitError> {
    let op = Operation::Commit;
    check_identity(identity)?;
    let mut rela = BTreeMap::new();
    for path in paths {
        rela.insert(repo_path(op, path)?, path.clone());
    }
    let repo = checkout.repo(op)?;
    let head = repo
        .head()
        .map_err(|e| checkout.error(op, &e))?
        .id()
        .map(gix::Id::detach);
    let base_tree = match head {
        Some(id) => repo
            .find_commit(id)
            .and_then(|c| c.tree_id())
            .map_err(|e| checkout.error(op, &e))?
            .detach(),
        None => gix::ObjectId::empty_tree(repo.object_hash()),
    };

    let mut changes = Vec::with_capacity(rela.len());
    for path in rela.keys() {
        let change = read_change(&repo, checkout.root(), path)?;
        changes.push((path.as_str(), change));
    }

    let mut editor = repo
        .edit_tree(base_tree)
        .map_err(|e| checkout.error(op, &e))?;
    for (path, change) in &changes {
        match change {
            Change::Put { id, kind, .. } => editor.upsert(*path, *kind, *id),
            Change::Delete => editor.remove(*path),
        }
        .map_err(|e| checkout.error(op, &e))?;
    }
    let tree = editor.write().map_err(|e| checkout.error(op, &e))?.detach();

    update_index(checkout, &repo, &changes)?;

    if tree == base_tree {
        return Ok(None);
    }
    let seconds = now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    let signature = gix::actor::Signature {
        name: identity.name.as_str().into(),
        email: identity.email.as_str().into(),
        time: gix::date::Time::new(seconds, 0),
    };
    let mut time = gix::date::parse::TimeBuf::default();
    let signature = signature.to_ref(&mut time);
    let id = repo
        .commit_as(signature, signature, "HEAD", message, tree, head)
        .map_err(|e| checkout.error(op, &e))?;
    Ok(Some(id.to_hex().to_string()))
}

/// A name and email git can write: not blank, no `<`, `>` or control characters.
fn check_identity(identity: &Identity) -> Result<(), GitError> {
    for (value, blank) in [
        (&identity.name, "the name is blank"),
        (&identity.email, "the email is blank"),
    ] {
        if value.trim().is_empty() {
            return Err(GitError::InvalidIdentity { reason: blank });
        }
        if value.contains(['<', '>']) || value.chars().any(char::is_control) {
            return Err(GitError::InvalidIdentity {
                reason: "names and emails may not contain `<`, `>` or control characters",
            });
        }
    }
    Ok(())
}

/// Reads `path` from the work tree and writes its blob (stat taken first, so a later edit
/// shows as a change).
fn read_change(repo: &gix::Repository, root: &Path, path: &str) -> Result<Change, GitError> {
    let op = Operation::Commit;
    let full = root.join(path);
    let io = |source| GitError::Io {
        op,
        path: full.clone(),
        source,
    };
    let meta = match std::fs::symlink_metadata(&full) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Change::Delete),
        Err(e) => return Err(io(e)),
    };
    let stat = gix::index::fs::Metadata::from_path_no_follow(&full)
        .map_err(io)
        .and_then(|m| {
            entry::Stat::from_fs(&m).map_err(|e| io(std::io::Error::other(e.to_string())))
        })?;
    let (data, kind) = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&full).map_err(io)?;
        let target = gix::path::os_str_into_bstr(target.as_os_str())
            .map_err(|_| io(std::io::Error::other("symbolic link target is not UTF-8")))?
            .to_owned();
        (target.into(), EntryKind::Link)
    } else if meta.is_file() {
        let data = std::fs::read(&full).map_err(io)?;
        let kind = if is_executable(&meta) {
            EntryKind::BlobExecutable
        } else {
            EntryKind::Blob
        };
        (data, kind)
    } else {
        return Err(GitError::InvalidPath {
            op,
            path: path.to_owned(),
            reason: "is a directory or not a regular file",
        });
    };
    let id = repo
        .write_blob(&data)
        .map_err(|e| GitError::Repository {
            op,
            root: root.to_owned(),
            message: crate::describe(&e),
        })?
        .detach();
    Ok(Change::Put { id, kind, stat })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// Sets the index entries of the committed paths to what was committed: entries at the path
/// (any stage) or below it (a directory replaced by a file) go, a present file gets one
/// stage-0 entry.
fn update_index(
    checkout: &Checkout,
    repo: &gix::Repository,
    changes: &[(&str, Change)],
) -> Result<(), GitError> {
    let op = Operation::Commit;
    let index_path = repo.index_path();
    let mut index = if index_path.exists() {
        repo.open_index().map_err(|e| checkout.error(op, &e))?
    } else {
        gix::index::File::from_state(gix::index::State::new(repo.object_hash()), index_path)
    };
    if index.link().is_some() {
        return Err(checkout.message(op, "split indexes (core.splitIndex) are not supported"));
    }
    index.remove_entries(|_, entry_path, _| {
        changes.iter().any(|(path, _)| {
            let path = path.as_bytes();
            entry_path == path
                || (entry_path.len() > path.len()
                    && entry_path.starts_with(path)
                    && entry_path[path.len()] == b'/')
        })
    });
    for (path, change) in changes {
        if let Change::Put { id, kind, stat } = change {
            index.dangerously_push_entry(
                *stat,
                *id,
                entry::Flags::empty(),
                entry::Mode::from(*kind),
                (*path).into(),
            );
        }
    }
    index.sort_entries();
    // The cached trees would still describe the old entries: git rebuilds them when needed.
    index.remove_tree();
    index
        .write(gix::index::write::Options::default())
        .map_err(|e| checkout.error(op, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_git_cannot_write_are_refused() {
        assert!(check_identity(&Identity::default()).is_ok());
        for (name, email) in [
            ("", "a@b"),
            ("A", " "),
            ("A <x>", "a@b"),
            ("A", "a@b>"),
            ("A\nB", "a@b"),
        ] {
            let id = Identity {
                name: name.to_owned(),
                email: email.to_owned(),
            };
            assert!(check_identity(&id).is_err(), "{name:?} {email:?}");
        }
    }
}
