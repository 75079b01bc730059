//! Where a command's state changes go: the local directory (default), a commit in the git
//! work tree holding `--root` (`--commit`), or a commit pushed to the state repository
//! (`--git-repo`), re-applied on the new head when someone pushed first.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use if_git::{Checkout, Identity, PublishError, Remote};
use if_http::Secret;

use crate::cli::Cli;
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// The default name of the commits the factory makes.
pub const BOT_NAME: &str = if_git::Identity::DEFAULT_NAME;
/// The default e-mail of the commits the factory makes.
pub const BOT_EMAIL: &str = if_git::Identity::DEFAULT_EMAIL;
/// The environment variable holding the HTTPS token for `--git-repo`.
pub const TOKEN_ENV: &str = "IMAGE_FACTORY_GIT_TOKEN";

/// Where [`checkpoint`] commits and pushes while a `--git-repo` step runs.
struct Checkpoints {
    /// The clone's work tree.
    root: PathBuf,
    remote: Remote,
    identity: Identity,
    command: String,
    /// Checkpoints pushed so far.
    pushed: u32,
}

/// The checkpoints of the `--git-repo` step running now (`None`: not in one).
static CHECKPOINTS: std::sync::Mutex<Option<Checkpoints>> = std::sync::Mutex::new(None);

/// In a `--git-repo` run, commits what the run wrote so far (with `changes`, the run's
/// changes until now) and pushes it, so that a crash after this point loses none of it:
/// `reconcile` calls it after each build it starts, before it sends the next, so a killed run
/// sends again at most the build in flight. Elsewhere it does nothing. A checkpoint that
/// fails (a rejected push: someone pushed first) is only reported; the run's final push
/// still publishes everything, re-running the step on the new head as usual.
pub fn checkpoint(changes: &[String]) {
    let mut guard = CHECKPOINTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(cp) = guard.as_mut() else { return };
    let result = (|| -> Result<bool, String> {
        let checkout = if_git::open(&cp.root).map_err(|e| e.to_string())?;
        let written = load::written_so_far(changes);
        let Some((paths, message)) =
            change(&checkout, &cp.command, written).map_err(|e| e.to_string())?
        else {
            return Ok(false);
        };
        let message = format!(
            "{message}
(checkpoint: pushed before the next build was sent)
"
        );
        if if_git::commit(&checkout, &paths, &message, &cp.identity, None)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Ok(false);
        }
        match if_git::push(&checkout, &cp.remote).map_err(|e| e.to_string())? {
            if_git::Pushed::Ok => Ok(true),
            if_git::Pushed::Rejected { reason } => Err(format!("push rejected: {reason}")),
        }
    })();
    match result {
        Ok(true) => cp.pushed += 1,
        Ok(false) => {}
        Err(e) => eprintln!(
            "warning: checkpoint of the state not pushed ({e}); the run's last push publishes it"
        ),
    }
}

/// Runs a command that writes state: as is, or inside a commit (`--commit`), or inside a
/// clone of `--git-repo` whose commit is pushed.
pub fn with_state(
    cli: &Cli,
    command: &str,
    run: impl Fn(&Cli) -> Result<Outcome, CliError>,
) -> Result<Outcome, CliError> {
    crate::forge::new_run();
    // One writer at a time on a root (with --git-repo, on the root inside the clone).
    let lock = |root: &Path| crate::lock::lock_root(root, Duration::from_secs(cli.lock_timeout));
    match (&cli.git_repo, cli.commit) {
        (Some(url), _) => remote(cli, url, command, &|inner| {
            let _held = lock(&inner.root)?;
            run(inner)
        }),
        (None, true) => {
            let _held = lock(&cli.root)?;
            local(cli, command, &run)
        }
        (None, false) => {
            let _held = lock(&cli.root)?;
            run(cli)
        }
    }
}

fn identity(cli: &Cli) -> Identity {
    Identity {
        name: cli.git_author_name.clone(),
        email: cli.git_author_email.clone(),
    }
}

/// `--commit`: run, then commit what was written in the work tree holding `--root`.
fn local(
    cli: &Cli,
    command: &str,
    run: &dyn Fn(&Cli) -> Result<Outcome, CliError>,
) -> Result<Outcome, CliError> {
    let checkout = if_git::open(&cli.root).map_err(|e| CliError::Git(e.to_string()))?;
    load::note_writes();
    let outcome = run(cli)?;
    let written = load::take_written();
    let Some((paths, message)) = change(&checkout, command, written)? else {
        crate::output::info(format_args!("nothing to commit"));
        return Ok(outcome);
    };
    match if_git::commit(&checkout, &paths, &message, &identity(cli), None) {
        Ok(Some(id)) => crate::output::info(format_args!(
            "committed {} ({} files)",
            short(&id),
            paths.len()
        )),
        Ok(None) => crate::output::info(format_args!("nothing to commit")),
        Err(e) => return Err(CliError::Git(e.to_string())),
    }
    Ok(outcome)
}

/// `--git-repo`: clone, run against `--root` inside the clone, commit, push; on a rejected
/// push, reset to the new head and run again. Only the last run's report is printed.
fn remote(
    cli: &Cli,
    url: &str,
    command: &str,
    run: &dyn Fn(&Cli) -> Result<Outcome, CliError>,
) -> Result<Outcome, CliError> {
    let root = cli.root.to_string_lossy().into_owned();
    if cli.root.is_absolute()
        || if_model::enrollment::check_relative_path(&root).is_err() && root != "."
    {
        return Err(CliError::Input(format!(
            "--root `{root}`: with --git-repo it is a path inside the repository (relative, no `..`)"
        )));
    }
    // An explicit token first, else the remote host's rule or the default GitHub's App
    // (asked at each clone, fetch and push, so that it is renewed in a long run).
    let mut remote = Remote::new(url, cli.git_branch.clone());
    remote.token = match crate::settings::env(TOKEN_ENV) {
        Some(t) => Some(if_git::Token::Fixed(Secret::new(t))),
        None => crate::forge_auth::git_token_from_env(url)?,
    };
    let work = clone_dir()?;
    let outcome = RefCell::new(Outcome::Ok);
    let attempt = RefCell::new(0u32);
    let step = |checkout: &Checkout| -> Result<Option<(Vec<PathBuf>, String)>, CliError> {
        let n = {
            let mut a = attempt.borrow_mut();
            *a += 1;
            *a
        };
        if n > 1 {
            eprintln!(
                "push rejected: someone pushed first; running `{command}` again on the new head (attempt {n})"
            );
        }
        output::capture();
        load::note_writes();
        let mut inner = cli.clone();
        inner.root = checkout.root().join(&cli.root);
        inner.git_repo = None;
        inner.commit = false;
        set_checkpoints(Some(Checkpoints {
            root: checkout.root().to_path_buf(),
            remote: remote.clone(),
            identity: identity(cli),
            command: command.to_string(),
            pushed: 0,
        }));
        let ran = run(&inner);
        let checkpoints = set_checkpoints(None);
        *outcome.borrow_mut() = ran?;
        if checkpoints > 0 {
            crate::output::info(format_args!(
                "pushed {checkpoints} checkpoint(s) of the state while running"
            ));
        }
        change(checkout, command, load::take_written())
    };
    let published = if_git::publish(&remote, work.path(), &identity(cli), cli.git_attempts, step);
    let report = output::release();
    let published = match published {
        Ok(p) => p,
        Err(PublishError::Step(e)) => return Err(e),
        Err(e @ (PublishError::Git(_) | PublishError::Rejected { .. })) => {
            return Err(CliError::Git(e.to_string()));
        }
    };
    print!("{report}");
    let url = if_http::mask_url(url);
    match &published.commit {
        Some(id) => crate::output::info(format_args!(
            "pushed {} to {url} ({}) after {} attempt(s)",
            short(id),
            cli.git_branch,
            published.attempts
        )),
        None => crate::output::info(format_args!(
            "nothing to commit; {url} ({}) unchanged",
            cli.git_branch
        )),
    }
    Ok(outcome.into_inner())
}

/// Installs (or clears) the checkpoints of the running step; returns how many the previous
/// one pushed.
fn set_checkpoints(next: Option<Checkpoints>) -> u32 {
    let mut guard = CHECKPOINTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let old = std::mem::replace(&mut *guard, next);
    old.map_or(0, |cp| cp.pushed)
}

/// The prefix of temporary clones: `image-factory-clone-PID-XXXXXX` in the temp directory.
const CLONE_PREFIX: &str = "image-factory-clone-";

/// A new temporary directory for a clone, mode 700 (it holds the state and, while the run
/// lasts, the remote's configuration); it is removed when dropped, on every return and
/// unwinding path. The clones that killed runs left (their process is gone) are removed
/// first.
fn clone_dir() -> Result<tempfile::TempDir, CliError> {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = std::env::temp_dir();
    remove_stale_clones(&tmp);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{CLONE_PREFIX}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(&tmp)
        .map_err(|source| CliError::Write { path: tmp, source })?;
    Ok(dir)
}

/// How old a clone of a process that is gone must be to be removed (a process of another
/// PID namespace sharing the temp directory would look gone).
const STALE_CLONE_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary clones of processes that no longer run (killed with `kill -9`, so
/// they could not clean up) untouched for [`STALE_CLONE_AGE`]; a clone of a live process is
/// left alone.
fn remove_stale_clones(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(CLONE_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        let ours = e.file_type().is_ok_and(|t| t.is_dir());
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= STALE_CLONE_AGE));
        if ours && old && !alive && Path::new("/proc/self").exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The files to commit (relative to the work tree) and the message, or `None` when the run
/// wrote nothing.
fn change(
    checkout: &Checkout,
    command: &str,
    written: load::Written,
) -> Result<Option<(Vec<PathBuf>, String)>, CliError> {
    if written.files.is_empty() {
        return Ok(None);
    }
    let top = canonical(checkout.root())?;
    let mut paths = Vec::new();
    for file in &written.files {
        let full = canonical(file)?;
        let relative = full.strip_prefix(&top).map_err(|_| {
            CliError::Input(format!(
                "{} is outside the git work tree {}",
                file.display(),
                top.display()
            ))
        })?;
        paths.push(relative.to_path_buf());
    }
    paths.sort();
    paths.dedup();
    Ok(Some((paths, message(command, &written.changes))))
}

fn canonical(path: &Path) -> Result<PathBuf, CliError> {
    path.canonicalize().map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// `image-factory <command>: <first change> (+N more)`, then every change.
pub fn message(command: &str, changes: &[String]) -> String {
    let mut subject = format!("image-factory {command}");
    match changes {
        [] => subject.push_str(": state files rewritten"),
        [one] => subject.push_str(&format!(": {one}")),
        [first, rest @ ..] => subject.push_str(&format!(": {first} (+{} more)", rest.len())),
    }
    let body: Vec<String> = changes.iter().map(|c| format!("- {c}")).collect();
    if body.is_empty() {
        format!("{subject}\n")
    } else {
        format!("{subject}\n\n{}\n", body.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_are_private_to_the_bot() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = clone_dir().unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let name = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("{CLONE_PREFIX}{}-", std::process::id())),
            "{name}"
        );
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn the_message_says_what_changed() {
        let one = message(
            "record-update",
            &["node:22: new digest sha256:cd34ef56ab12".to_string()],
        );
        assert_eq!(
            one,
            "image-factory record-update: node:22: new digest sha256:cd34ef56ab12\n\n- node:22: new digest sha256:cd34ef56ab12\n"
        );
        let many = message("check", &["a".into(), "b".into(), "c".into()]);
        assert!(many.starts_with("image-factory check: a (+2 more)\n\n- a\n- b\n- c\n"));
    }
}
