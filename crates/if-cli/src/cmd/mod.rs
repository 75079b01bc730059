//! One module per command; `run` dispatches on the parsed command line.

pub mod analyze;
pub mod check;
pub mod dockerfile;
pub mod generate;
pub mod graph;
pub mod plan;
pub mod reconcile;
pub mod record;
pub mod reference;
pub mod status;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::exit::{CliError, Outcome};

/// Rejects the graph-only formats for commands that print text or JSON.
pub fn text_or_json(cli: &Cli) -> Result<(), CliError> {
    match cli.format {
        crate::cli::Format::Text | crate::cli::Format::Json => Ok(()),
        other => Err(CliError::Input(format!(
            "--format {} is only for `graph`; use text or json",
            format!("{other:?}").to_lowercase()
        ))),
    }
}

/// Runs the command the user asked for.
pub fn run(cli: &Cli) -> Result<Outcome, CliError> {
    match &cli.command {
        Command::Validate(args) => validate::run(cli, args),
        Command::Ref(args) => reference::run(cli, args),
        Command::Generate(args) => generate::run(cli, args),
        Command::Dockerfile(args) => dockerfile::run(cli, args),
        Command::Analyze(args) => analyze::run(cli, args),
        Command::Status(args) => status::run(cli, args),
        Command::Graph(args) => graph::run(cli, args),
        Command::RecordUpdate(args) => record::run_update(cli, args),
        Command::RecordBuild(args) => record::run_build(cli, args),
        Command::Reconcile(args) => reconcile::run_reconcile(cli, args),
        Command::Trigger(args) => reconcile::run_trigger(cli, args),
        Command::Expedite(args) => reconcile::run_expedite(cli, args),
        Command::Plan(args) => plan::run(cli, args),
        Command::Check(args) => check::run(cli, args),
    }
}
