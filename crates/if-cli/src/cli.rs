//! The clap definition of the command line: global options and one variant per command.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

/// Keeps container images fresh: discovers base images, waits, rebuilds, cascades.
#[derive(Debug, Parser)]
#[command(name = "image-factory", version, about, long_about = None)]
pub struct Cli {
    /// The factory root: the directory holding `images.yaml` and `state/`.
    #[arg(
        long,
        global = true,
        env = "IMAGE_FACTORY_ROOT",
        default_value = "image-factory"
    )]
    pub root: PathBuf,

    /// Output format: `text` for people, `json` for machines (one JSON document on stdout).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check images.yaml and every state file; report every problem as path:line:col.
    ///
    /// Exit code 0 when clean, 1 when problems were found, 2 when a file cannot be read.
    ///
    /// Example: image-factory --root image-factory validate
    Validate(cmd::validate::Args),
    /// Parse and normalize one image reference the way Docker does.
    ///
    /// Example: image-factory --format json ref node:22
    Ref(cmd::reference::Args),
}
