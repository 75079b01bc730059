//! `reset_to_remote`: fetch the branch (depth 1; gix for `git://`, `file://` and paths, `git
//! fetch` for HTTP(S) and SSH) into `refs/remotes/origin/<branch>`, then make `HEAD`, the
//! index and the work tree equal to it, as `git reset --hard` would. gix has no reset
//! (crate-status: "checkout, switch, restore and reset orchestration"), so it is composed
//! here from gix's parts: index from tree, low-level checkout, ref edit.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use gix::bstr::ByteSlice as _;

use crate::checkout::Checkout;
use crate::command::Git;
use crate::error::{GitError, Operation};
use crate::url::{self, Transport};
use crate::{Remote, describe};

/// Fetches `remote.branch` (shallow) and makes `HEAD` (the branch it names, or itself when
/// detached), the index and the work tree equal to the fetched commit, discarding local
/// commits and changes to tracked files. Files tracked before but not at the fetched commit
/// are deleted; untracked files are left alone.
pub fn reset_to_remote(checkout: &mut Checkout, remote: &Remote) -> Result<(), GitError> {
    let tracking = format!("refs/remotes/origin/{}", remote.branch);
    let refspec = format!("+refs/heads/{}:{tracking}", remote.branch);
    match url::check(Operation::Fetch, remote)? {
        Transport::Gix => fetch_with_gix(checkout, remote, &refspec)?,
        Transport::Command => fetch_with_git(checkout, remote, &refspec)?,
    }
    let mut repo = checkout.repo(Operation::Reset)?;
    let target = repo
        .find_reference(tracking.as_str())
        .and_then(|mut r| r.peel_to_id())
        .map_err(|e| checkout.error(Operation::Reset, &e))?
        .detach();
    reset_hard(checkout, &mut repo, target)
}

fn fetch_with_gix(checkout: &Checkout, remote: &Remote, refspec: &str) -> Result<(), GitError> {
    let fail = |err: &(dyn std::error::Error + 'static)| GitError::Remote {
        op: Operation::Fetch,
        url: url::shown(&remote.url),
        message: crate::checkout::scrub(remote, &describe(err)),
    };
    let mut repo = checkout.repo(Operation::Fetch)?;
    // The tracking ref's reflog needs a committer; gix's placeholder when none is configured.
    repo.committer_or_set_generic_fallback()
        .map_err(|e| checkout.error(Operation::Fetch, &e))?;
    let interrupt = AtomicBool::new(false);
    let fetch_remote = repo
        .remote_at(remote.url.as_str())
        .and_then(|r| r.with_refspecs(Some(refspec), gix::remote::Direction::Fetch))
        .map_err(|e| fail(&e))?
        .with_fetch_tags(gix::remote::fetch::Tags::None);
    fetch_remote
        .connect(gix::remote::Direction::Fetch)
        .and_then(|connection| connection.prepare_fetch(gix::progress::Discard, Default::default()))
        .and_then(|prepare| {
            prepare
                .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(NonZeroU32::MIN))
                .receive(gix::progress::Discard, &interrupt)
        })
        .map_err(|e| fail(&e))?;
    Ok(())
}

fn fetch_with_git(checkout: &Checkout, remote: &Remote, refspec: &str) -> Result<(), GitError> {
    let token = remote.token_for(Operation::Fetch)?;
    let git = Git::new(Operation::Fetch, &remote.url, token.as_ref());
    let args: [&OsStr; 6] = [
        "--depth".as_ref(),
        "1".as_ref(),
        "--no-tags".as_ref(),
        "--".as_ref(),
        remote.url.as_ref(),
        refspec.as_ref(),
    ];
    let out = git.run("fetch", Some(checkout.root()), &args)?;
    if out.success {
        Ok(())
    } else {
        Err(git.failure("fetch", &out))
    }
}

/// `git reset --hard <target>`: delete the files only the old index tracks, write every file
/// of the new tree (overwriting), write the new index, then move `HEAD`.
fn reset_hard(
    checkout: &Checkout,
    repo: &mut gix::Repository,
    target: gix::ObjectId,
) -> Result<(), GitError> {
    let op = Operation::Reset;
    let err = |e: &(dyn std::error::Error + 'static)| checkout.error(op, e);
    let tree = repo
        .find_commit(target)
        .and_then(|c| c.tree_id())
        .map_err(|e| err(&e))?
        .detach();
    let mut index = repo.index_from_tree(&tree).map_err(|e| err(&e))?;
    let new_paths: BTreeSet<&[u8]> = index
        .entries()
        .iter()
        .map(|e| e.path(&index).as_bytes())
        .collect();

    let old = repo.index_or_empty().map_err(|e| err(&e))?;
    let mut stale: Vec<&[u8]> = old
        .entries()
        .iter()
        .map(|e| e.path(&old).as_bytes())
        .filter(|p| !new_paths.contains(p))
        .collect();
    stale.dedup();
    for path in stale {
        remove_tracked(checkout.root(), path)?;
    }

    let mut options = repo
        .checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)
        .map_err(|e| err(&e))?;
    options.destination_is_initially_empty = false;
    options.overwrite_existing = true;
    let objects = repo
        .objects
        .clone()
        .into_arc()
        .map_err(|e| checkout.message(op, e.to_string()))?;
    let interrupt = AtomicBool::new(false);
    let outcome = gix::worktree::state::checkout(
        &mut index,
        checkout.root(),
        objects,
        &gix::progress::Discard,
        &gix::progress::Discard,
        &interrupt,
        options,
    )
    .map_err(|e| err(&e))?;
    if let Some(first) = outcome.errors.first() {
        return Err(checkout.message(
            op,
            format!(
                "writing {} file(s) failed, first {}: {}",
                outcome.errors.len(),
                first.path,
                describe(&first.error)
            ),
        ));
    }
    index
        .write(gix::index::write::Options::default())
        .map_err(|e| err(&e))?;

    let committer = repo
        .committer_or_set_generic_fallback()
        .map_err(|e| err(&e))?
        .to_owned()
        .map_err(|e| err(&e))?;
    let mut time = gix::date::parse::TimeBuf::default();
    let edit = gix::refs::transaction::RefEdit::update(
        "HEAD".try_into().map_err(|e| err(&e))?,
        target,
        gix::refs::transaction::PreviousValue::Any,
        format!("reset: moving to {target}"),
    )
    .with_deref(true);
    repo.edit_references_as(Some(edit), Some(committer.to_ref(&mut time)))
        .map_err(|e| err(&e))?;
    Ok(())
}

/// Deletes a file the old index tracked (absent is fine), then its parent directories that
/// became empty, up to the root.
fn remove_tracked(root: &Path, path: &[u8]) -> Result<(), GitError> {
    let rela = gix::path::from_byte_slice(path).map_err(|_| GitError::InvalidPath {
        op: Operation::Reset,
        path: String::from_utf8_lossy(path).into_owned(),
        reason: "not a valid path on this system",
    })?;
    let full = root.join(rela);
    match std::fs::symlink_metadata(&full) {
        Ok(meta) if !meta.is_dir() => {
            std::fs::remove_file(&full).map_err(|source| GitError::Io {
                op: Operation::Reset,
                path: full.clone(),
                source,
            })?;
        }
        _ => return Ok(()),
    }
    let mut dir = full.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}
