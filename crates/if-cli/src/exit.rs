//! Exit codes and the error type every command returns.

use std::path::PathBuf;
use std::process::ExitCode;

/// What a command reports when it did its job: 0 ok, 1 a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Ok,
    /// Exit code 1: a check found problems (`validate`, `--check`).
    CheckFailed,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::CheckFailed => ExitCode::from(1),
        }
    }
}

/// Errors that end a command; every one maps to exit code 2 (usage, input or git error).
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
}

impl From<if_kargo::RenderError> for CliError {
    fn from(e: if_kargo::RenderError) -> Self {
        CliError::Input(e.to_string())
    }
}

impl CliError {
    /// The process exit code for this error: always 2 (usage or input error).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}
