//! `cargo xtask bench [NAME]`: the project's benchmarks, run in process in release mode.

/// One benchmark: it prints its figures and says whether it ran.
type Bench = fn() -> Result<bool, String>;

/// The benchmarks, by name.
const BENCHES: &[(&str, Bench)] = &[("dockerfile", crate::bench_dockerfile::run)];

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
