//! Exit codes and the error type every command returns. The table (also in README.md):
//! 0 everything was done; 1 something failed or needs a person (a check found problems, a
//! trigger or a discovery or a registry lookup failed, a state file is damaged); 2 a usage or
//! input error (nothing was done).

use std::path::PathBuf;
use std::process::ExitCode;

/// What a command reports when it ran to its end: 0 ok, 1 something failed or needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Ok,
    /// Exit code 1: a check found problems (`validate`, `--check`).
    CheckFailed,
    /// Exit code 1: the command went on, but part of it failed and is recorded in state (a
    /// failed trigger, discovery or registry lookup): a person should look.
    Failed,
}

impl Outcome {
    /// `Failed` when `failed`, else `Ok`.
    pub fn failed_if(failed: bool) -> Self {
        if failed { Outcome::Failed } else { Outcome::Ok }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::CheckFailed | Outcome::Failed => ExitCode::from(1),
        }
    }
}

/// Errors that end a command: exit code 2 (usage, input or git error), except a damaged
/// state file (1: a person must restore or repair it).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Invalid input given on the command line or in a file.
    #[error("{0}")]
    Input(String),
    /// A git step failed (clone, commit, push); nothing was pushed.
    #[error("git: {0}")]
    Git(String),
    /// A state file cannot be read; nothing was changed.
    #[error("{0}")]
    Damaged(String),
}

impl From<if_kargo::RenderError> for CliError {
    fn from(e: if_kargo::RenderError) -> Self {
        CliError::Input(e.to_string())
    }
}

impl CliError {
    /// The process exit code for this error: 1 for a damaged state file, else 2.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Damaged(_) => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }
}
