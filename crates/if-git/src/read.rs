//! `read_file`: a file's content at a revision (gix), and the check every path given to the
//! crate goes through (relative, inside the work tree, never into `.git`).

use std::path::{Component, Path};

use crate::checkout::Checkout;
use crate::describe;
use crate::error::{GitError, Operation};

/// The content of `path` (relative to the work tree root, `/`-separated) in the tree of
/// `rev` (`HEAD`, a branch, a tag, a commit id, anything `git rev-parse` takes); `None` when
/// the revision has no such file. A symbolic link gives its target, as `git show` does.
///
/// Fails when the revision does not resolve (in a shallow clone only `HEAD` and what was
/// fetched are there), when `path` names a directory, or when `path` is not a plain relative
/// path.
pub fn read_file(checkout: &Checkout, rev: &str, path: &str) -> Result<Option<Vec<u8>>, GitError> {
    let rela = repo_path(Operation::Read, Path::new(path))?;
    let repo = checkout.repo(Operation::Read)?;
    let revision = |message: String| GitError::Revision {
        root: checkout.root().to_owned(),
        rev: rev.to_owned(),
        path: path.to_owned(),
        message,
    };
    let id = repo
        .rev_parse_single(rev)
        .map_err(|e| revision(describe(&e)))?;
    let tree = id
        .object()
        .and_then(gix::Object::peel_to_tree)
        .map_err(|e| revision(describe(&e)))?;
    let entry = tree
        .lookup_entry_by_path(&rela)
        .map_err(|e| checkout.error(Operation::Read, &e))?;
    let Some(entry) = entry else {
        return Ok(None);
    };
    if !entry.mode().is_blob_or_symlink() {
        return Err(GitError::InvalidPath {
            op: Operation::Read,
            path: path.to_owned(),
            reason: "not a file at that revision",
        });
    }
    let object = entry
        .object()
        .map_err(|e| checkout.error(Operation::Read, &e))?;
    Ok(Some(object.detach().data))
}

/// `path` as a repository path (`a/b/c`): relative, `.` and empty components dropped; no
/// `..`, no `.git` component, not empty, valid UTF-8.
pub(crate) fn repo_path(op: Operation, path: &Path) -> Result<String, GitError> {
    let invalid = |reason| GitError::InvalidPath {
        op,
        path: path.display().to_string(),
        reason,
    };
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(invalid("must be relative to the work tree root"));
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(invalid("must not contain `..`")),
            Component::Normal(name) => {
                let name = name
                    .to_str()
                    .ok_or_else(|| invalid("must be valid UTF-8"))?;
                if name.eq_ignore_ascii_case(".git") {
                    return Err(invalid("must not name anything inside `.git`"));
                }
                parts.push(name);
            }
        }
    }
    if parts.is_empty() {
        return Err(invalid("names no file"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths() {
        let ok = |p: &str| repo_path(Operation::Read, Path::new(p)).ok();
        assert_eq!(
            ok("factory/images.yaml").as_deref(),
            Some("factory/images.yaml")
        );
        assert_eq!(ok("./a//b/./c").as_deref(), Some("a/b/c"));
        for bad in [
            "",
            ".",
            "/etc/passwd",
            "../x",
            "a/../../x",
            ".git/config",
            "a/.GIT/x",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }
}
