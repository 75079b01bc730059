//! One module per command; `run` dispatches on the parsed command line.

pub mod analyze;
mod attestations;
pub mod catalog;
pub mod check;
pub mod dockerfile;
pub mod generate;
pub mod graph;
pub mod plan;
pub mod reconcile;
pub mod record;
pub mod reference;
pub mod release;
pub mod scan;
mod scans;
mod signatures;
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
    let cli = &cli.with_command_git();
    crate::load::allow_empty(cli.allow_empty);
    crate::output::set_verbosity(cli.quiet, cli.verbose);
    crate::output::detail(format_args!("factory root: {}", cli.root.display()));
    let reads_factory = !matches!(
        cli.command,
        Command::Ref(_) | Command::Dockerfile(_) | Command::Completions { .. } | Command::Man
    );
    if reads_factory && cli.git_repo.is_none() {
        crate::load::check_factory(&cli.root)?;
    }
    match cli.command.writer() {
        Some(name) => crate::git::with_state(cli, name, run_command),
        None if cli.git_repo.is_some() || cli.commit => Err(CliError::Input(
            "--git-repo and --commit are for commands that write state (analyze, record-update, record-build, record-scan, release, reconcile, check, trigger, expedite)".to_string(),
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
        Command::Analyze { args, .. } => analyze::run(cli, args),
        Command::Status(args) => status::run(cli, args),
        Command::Graph(args) => graph::run(cli, args),
        Command::RecordUpdate { args, .. } => record::run_update(cli, args),
        Command::RecordBuild { args, .. } => record::run_build(cli, args),
        Command::RecordScan { args, .. } => scan::run(cli, args),
        Command::Release { args, .. } => release::run(cli, args),
        Command::Reconcile { args, .. } => reconcile::run_reconcile(cli, args),
        Command::Trigger { args, .. } => reconcile::run_trigger(cli, args),
        Command::Expedite { args, .. } => reconcile::run_expedite(cli, args),
        Command::Plan(args) => plan::run(cli, args),
        Command::Check { args, .. } => check::run(cli, args),
        Command::Catalog(args) => catalog::run(cli, args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(
                *shell,
                &mut command,
                "image-factory",
                &mut std::io::stdout(),
            );
            Ok(Outcome::Ok)
        }
        Command::Man => {
            let man = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            man.render(&mut std::io::stdout())
                .map_err(|source| CliError::Write {
                    path: "stdout".into(),
                    source,
                })?;
            Ok(Outcome::Ok)
        }
    }
}
