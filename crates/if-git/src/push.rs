//! `push`: `HEAD` to `refs/heads/<branch>` with `git push --porcelain` (gix has no push),
//! and the reading of git's per-ref answer: a rejection because the branch moved is an
//! answer ([`Pushed::Rejected`]), not an error.

use std::ffi::OsStr;

use crate::Remote;
use crate::checkout::Checkout;
use crate::command::Git;
use crate::error::{GitError, Operation};
use crate::url;

/// What the remote did with a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The branch now points to our `HEAD` (or already did).
    Ok,
    /// The branch moved on the remote and `HEAD` does not build on it (git's `[rejected]
    /// (fetch first)`, `(non-fast-forward)`), or another push updated it while ours was
    /// landing (`[remote rejected] (failed to update ref)`, `cannot lock ref`). Fetching
    /// and re-applying the change can fix it.
    Rejected {
        /// git's summary for the ref, e.g. `[rejected] (fetch first)`.
        reason: String,
    },
}

/// Pushes `HEAD` of `checkout` to `refs/heads/<remote.branch>` at `remote.url` with the
/// `git` command (never forced), the token (HTTP(S) only) passed in the environment.
///
/// Returns [`Pushed::Rejected`] when the branch moved; fails for everything else (the remote
/// unreachable, authentication, a hook declining, no `HEAD`).
pub fn push(checkout: &Checkout, remote: &Remote) -> Result<Pushed, GitError> {
    url::check(Operation::Push, remote)?;
    let token = remote.token_for(Operation::Push)?;
    let git = Git::new(Operation::Push, &remote.url, token.as_ref());
    let destination = format!("refs/heads/{}", remote.branch);
    let refspec = format!("HEAD:{destination}");
    let args: [&OsStr; 4] = [
        "--porcelain".as_ref(),
        "--".as_ref(),
        remote.url.as_ref(),
        refspec.as_ref(),
    ];
    let out = git.run("push", Some(checkout.root()), &args)?;
    match ref_status(&out.stdout, &destination) {
        Some(Status::Pushed) => Ok(Pushed::Ok),
        Some(Status::Rejected(reason)) => Ok(Pushed::Rejected { reason }),
        Some(Status::Failed(reason)) => Err(GitError::PushFailed {
            url: git.shown_url().to_owned(),
            branch: remote.branch.clone(),
            reason: if_http::truncate(&reason),
        }),
        None => Err(git.failure("push", &out)),
    }
}

/// git's answer for one ref.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Pushed,
    Rejected(String),
    Failed(String),
}

/// The status of the line for `destination` in `git push --porcelain` output
/// (`<flag>\t<from>:<to>\t<summary> (<reason>)`).
fn ref_status(stdout: &str, destination: &str) -> Option<Status> {
    stdout.lines().find_map(|line| {
        let mut fields = line.split('\t');
        let flag = fields.next()?;
        let refs = fields.next()?;
        let summary = fields.next().unwrap_or("").trim().to_owned();
        if !refs.ends_with(&format!(":{destination}")) {
            return None;
        }
        Some(match flag {
            " " | "+" | "*" | "=" | "-" => Status::Pushed,
            "!" if summary.starts_with("[rejected]") => Status::Rejected(summary),
            "!" if summary.starts_with("[remote rejected]") && moved_under_us(&summary) => {
                Status::Rejected(summary)
            }
            _ => Status::Failed(summary),
        })
    })
}

/// A `[remote rejected]` reason saying another update of the ref won the race.
fn moved_under_us(summary: &str) -> bool {
    [
        "failed to update ref",
        "failed to lock",
        "cannot lock ref",
        "incorrect old value",
    ]
    .iter()
    .any(|needle| summary.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: &str = "refs/heads/main";

    #[test]
    fn success_lines() {
        for out in [
            "To git://h/x.git\n \tHEAD:refs/heads/main\t1234567..89abcde\nDone\n",
            "To git://h/x.git\n=\tHEAD:refs/heads/main\t[up to date]\nDone\n",
            "To git://h/x.git\n*\tHEAD:refs/heads/main\t[new branch]\nDone\n",
        ] {
            assert_eq!(ref_status(out, DST), Some(Status::Pushed), "{out}");
        }
    }

    #[test]
    fn rejections_are_answers() {
        let out = "To git://h/x.git\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone\n";
        assert_eq!(
            ref_status(out, DST),
            Some(Status::Rejected("[rejected] (fetch first)".to_owned()))
        );
        let out = "!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)\n";
        assert!(matches!(ref_status(out, DST), Some(Status::Rejected(_))));
    }

    #[test]
    fn other_failures_are_errors() {
        let out = "!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)\n";
        assert_eq!(
            ref_status(out, DST),
            Some(Status::Failed(
                "[remote rejected] (pre-receive hook declined)".to_owned()
            ))
        );
        assert_eq!(ref_status("fatal: unable to connect\n", DST), None);
        assert_eq!(
            ref_status(" \tHEAD:refs/heads/other\tabc..def\n", DST),
            None
        );
    }
}
