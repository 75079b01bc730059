//! One module per command; `run` dispatches on the parsed command line.

pub mod reference;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Outcome};

/// Runs the command the user asked for.
pub fn run(cli: &Cli) -> Result<Outcome, CliError> {
    match &cli.command {
        Command::Validate(args) => validate::run(cli, args),
        Command::Ref(args) => reference::run(cli, args),
    }
}
