//! `cargo xtask bench [NAME]`: the project's benchmarks, run in process in release mode.

/// Runs the named benchmark, or every benchmark when no name is given.
pub fn run(args: &[&str]) -> Result<bool, String> {
    match args {
        [] => Err("no benchmarks yet".to_string()),
        [name] => Err(format!("unknown benchmark `{name}`")),
        _ => Err("usage: cargo xtask bench [NAME]".to_string()),
    }
}
