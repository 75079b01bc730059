//! One module per command; `run` dispatches on the parsed command line.

pub mod analyze;
pub mod catalog;
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

/// Runs the command the user asked for. Commands that write state run through
/// [`crate::git::with_state`] (`--commit`, `--git-repo`); the others refuse those options.
pub fn run(cli: &Cli) -> Result<Outcome, CliError> {
    crate::load::allow_empty(cli.allow_empty);
    let stateful = match &cli.command {
        Command::Analyze(_) => Some("analyze"),
        Command::RecordUpdate(_) => Some("record-update"),
        Command::RecordBuild(_) => Some("record-build"),
        Command::Reconcile(_) => Some("reconcile"),
        Command::Trigger(_) => Some("trigger"),
        Command::Expedite(_) => Some("expedite"),
        Command::Check(_) => Some("check"),
        _ => None,
    };
    match stateful {
        Some(name) => crate::git::with_state(cli, name, run_command),
        None if cli.git_repo.is_some() || cli.commit => Err(CliError::Input(
            "--git-repo and --commit are for commands that write state (analyze, record-update, record-build, reconcile, check, trigger, expedite)".to_string(),
        )),
        None => run_command(cli),
    }
}

fn run_command(cli: &Cli) -> Result<Outcome, CliError> {
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
        Command::Catalog(args) => catalog::run(cli, args),
    }
}
