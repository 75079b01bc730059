//! `cargo xtask bench [NAME]`: the project's benchmarks, run in process in release mode.

/// One benchmark: it prints its figures and says whether it ran.
type Bench = fn() -> Result<bool, String>;

/// The benchmarks, by name.
const BENCHES: &[(&str, Bench)] = &[
    ("dockerfile", crate::bench_dockerfile::run),
    ("check", crate::bench_check::run),
];

/// Runs the named benchmark, or every benchmark when no name is given.
pub fn run(args: &[&str]) -> Result<bool, String> {
    match args {
        [] => {
            let mut ok = true;
            for (_, bench) in BENCHES {
                ok &= bench()?;
            }
            Ok(ok)
        }
        [name] => match BENCHES.iter().find(|(n, _)| n == name) {
            Some((_, bench)) => bench(),
            None => Err(format!("unknown benchmark `{name}`")),
        },
        _ => Err("usage: cargo xtask bench [NAME]".to_string()),
    }
}

/// In a debug build, runs `cargo xtask bench NAME` again in release mode and gives its
/// result; `None` in a release build (go on and measure).
pub fn in_release(name: &str) -> Option<Result<bool, String>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = std::process::Command::new(cargo)
        .args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "bench",
            name,
        ])
        .current_dir(crate::workspace_root())
        .status()
        .map_err(|e| format!("cannot re-run in release mode: {e}"));
    Some(status.map(|s| s.success()))
}
