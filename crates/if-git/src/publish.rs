//! `publish`: clone, let the caller change files, commit, push; when the push is rejected
//! because the branch moved, reset to the remote and let the caller change the files again,
//! a bounded number of times.

use std::path::{Path, PathBuf};

use crate::checkout::{Checkout, clone};
use crate::commit::commit;
use crate::error::PublishError;
use crate::push::{Pushed, push};
use crate::reset::reset_to_remote;
use crate::{Identity, Remote, url};

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The commit that landed on the remote branch; `None` when the step changed nothing
    /// (no commit, no push).
    pub commit: Option<String>,
    /// Pushes made (the last one landed when `commit` is `Some`).
    pub attempts: u32,
}

/// Clones `remote` into `workdir` (shallow, see [`clone`]), then up to `attempts` times
/// (at least once):
///
/// 1. runs `step` on the checkout: it edits files in the work tree and returns the paths it
///    changed (relative to the root) and the commit message, or `None` for no change;
/// 2. commits those paths as `identity` (no commit when nothing differs from `HEAD`);
/// 3. pushes; when the push is [`Pushed::Rejected`], resets the checkout to the remote branch
///    and starts over, so the step is applied again on the new head.
///
/// `None` from the step, or a commit that changes nothing, ends it with `commit: None`. A
/// failing step ends it with [`PublishError::Step`]; the last rejection with
/// [`PublishError::Rejected`]. `workdir` must not exist or be empty; it is left as it is at
/// the end (the caller removes it), or, when the clone fails, as it was.
pub fn publish<E>(
    remote: &Remote,
    workdir: &Path,
    identity: &Identity,
    attempts: u32,
    mut step: impl FnMut(&Checkout) -> Result<Option<(Vec<PathBuf>, String)>, E>,
) -> Result<Published, PublishError<E>> {
    let attempts = attempts.max(1);
    let mut checkout = clone(remote, workdir)?;
    let mut pushes = 0;
    loop {
        let Some((paths, message)) = step(&checkout).map_err(PublishError::Step)? else {
            return Ok(Published {
                commit: None,
                attempts: pushes,
            });
        };
        let Some(id) = commit(&checkout, &paths, &message, identity, None)? else {
            return Ok(Published {
                commit: None,
                attempts: pushes,
            });
        };
        pushes += 1;
        match push(&checkout, remote)? {
            Pushed::Ok => {
                return Ok(Published {
                    commit: Some(id),
                    attempts: pushes,
                });
            }
            Pushed::Rejected { reason } => {
                if pushes >= attempts {
                    return Err(PublishError::Rejected {
                        url: url::shown(&remote.url),
                        branch: remote.branch.clone(),
                        attempts: pushes,
                        reason,
                    });
                }
                reset_to_remote(&mut checkout, remote)?;
            }
        }
    }
}
