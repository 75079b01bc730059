//! `image-factory`: the command line of Image Factory (argument parsing, loading, wiring,
//! rendering, exit codes; every decision lives in the library crates).

use std::process::ExitCode;

use clap::Parser;
use if_cli::{cli, cmd};

/// mimalloc: a factory of 100,000 images is millions of small strings; glibc's allocator
/// spends more memory and time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
