//! `image-factory`: the command line of Image Factory (argument parsing, loading, wiring,
//! rendering, exit codes; every decision lives in the library crates).

use std::process::ExitCode;

use clap::Parser;
use if_cli::{cli, cmd};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(&cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("image-factory: {err}");
            err.exit_code()
        }
    }
}
