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
    // A closed stdout (`image-factory status | head -1`) ends the process the way it ends
    // other Unix tools: killed by SIGPIPE (exit 141 in a shell), quietly, instead of Rust's
    // "failed printing to stdout" panic. Nothing is half-written by it: state files are
    // written to a temporary file and renamed, and reports are printed after the writes.
    sigpipe::reset();
    #[cfg(target_os = "linux")]
    if let Some(code) = guard() {
        return code;
    }
    no_huge_pages();
    let cli = cli::Cli::parse();
    match cmd::run(&cli) {
        Ok(code) => code.into(),
        Err(err) => {
            let text = if_cli::output::escape_controls(&err.to_string());
            eprintln!("image-factory: {text}");
            err.exit_code()
        }
    }
}

/// `image-factory __guard-child ...`: this binary as the guard of a scanner it started
/// (`if_registry::child::run_guarded`), before anything else is set up. After
/// `sigpipe::reset`, so the program it becomes gets the default SIGPIPE.
#[cfg(target_os = "linux")]
fn guard() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != if_registry::child::GUARD_ARG {
        return None;
    }
    Some(ExitCode::from(if_registry::child::guard_main(args)))
}

/// Transparent huge pages off for this process. mimalloc asks for them, and for a run of a
/// few seconds the kernel's zeroing (and compacting) of 2 MiB pages costs more than fewer
/// page-table entries save: at 100,000 images `analyze --all` took 4.6-4.7 s without them
/// and 4.9-7.5 s with them, `validate` 2.4 s against 2.4-4.7 s. Failing to turn them off
/// is harmless.
#[cfg(target_os = "linux")]
fn no_huge_pages() {
    let _ = nix::sys::prctl::set_thp_disable(true);
}

#[cfg(not(target_os = "linux"))]
fn no_huge_pages() {}
