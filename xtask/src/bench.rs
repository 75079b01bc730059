//! `cargo xtask bench [NAME]`: the project's benchmarks, run in release mode (a debug xtask
//! runs itself again with `cargo run --release`), each printing its own figures, then one
//! summary table of every bench's headline figures, in Markdown so that it can be pasted
//! into the README.

use std::path::PathBuf;
use std::process::Command;

use crate::workspace_root;

/// One headline figure of a benchmark, for the summary table.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The benchmark that measured it.
    pub bench: &'static str,
    /// What was measured.
    pub what: String,
    /// The figure, with its unit.
    pub value: String,
    /// The target it is held to, if any.
    pub target: Option<String>,
    /// Whether the target is met (`None`: no target, or not judged).
    pub ok: Option<bool>,
}

impl Figure {
    /// A figure without a target.
    pub fn info(bench: &'static str, what: impl Into<String>, value: impl Into<String>) -> Self {
        Figure {
            bench,
            what: what.into(),
            value: value.into(),
            target: None,
            ok: None,
        }
    }

    /// A figure held to `target`, met or not.
    pub fn judged(
        bench: &'static str,
        what: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        ok: bool,
    ) -> Self {
        Figure {
            bench,
            what: what.into(),
            value: value.into(),
            target: Some(target.into()),
            ok: Some(ok),
        }
    }
}

/// What one benchmark gives: its headline figures, and whether it ran as it should (false
/// makes `cargo xtask bench` exit 1; a missed performance target alone does not, it shows as
/// FAIL in the figures).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The headline figures.
    pub figures: Vec<Figure>,
    /// False when the benchmark found something wrong (not merely slow).
    pub ok: bool,
}

/// One benchmark, given the options after its name: it prints its figures and returns its
/// headline ones.
type Bench = fn(&[&str]) -> Result<Report, String>;

/// The benchmarks, by name, in the order `cargo xtask bench` runs them; only `scale` takes
/// options.
const BENCHES: &[(&str, Bench)] = &[
    ("dockerfile", |_| crate::bench_dockerfile::run()),
    ("check", |_| crate::bench_check::run()),
    ("scale", crate::bench_scale::run),
];

/// Runs the named benchmark, or every benchmark when no name is given, then prints the
/// summary table. A debug build runs the whole command again in release mode.
pub fn run(args: &[&str]) -> Result<bool, String> {
    let (chosen, options): (Vec<(&str, Bench)>, &[&str]) = match args {
        [] => (BENCHES.to_vec(), &[]),
        ["scale", options @ ..] => (
            BENCHES
                .iter()
                .filter(|(n, _)| *n == "scale")
                .copied()
                .collect(),
            options,
        ),
        [name] => match BENCHES.iter().find(|(n, _)| n == name) {
            Some(b) => (vec![*b], &[]),
            None => {
                let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown benchmark `{name}` (names: {})",
                    names.join(", ")
                ));
            }
        },
        _ => {
            return Err(
                "usage: cargo xtask bench [NAME] (scale: [--sizes N,N] [--json PATH])".to_string(),
            );
        }
    };
    if let Some(result) = in_release(args) {
        return result;
    }
    let mut figures = Vec::new();
    let mut ok = true;
    let mut first_error = None;
    for (name, bench) in chosen {
        match bench(options) {
            Ok(report) => {
                ok &= report.ok;
                figures.extend(report.figures);
            }
            Err(e) => {
                println!("{name} bench failed: {e}");
                figures.push(Figure::judged(name, "ran", "error", "runs", false));
                first_error.get_or_insert(format!("{name} bench: {e}"));
            }
        }
        println!();
    }
    print_summary(&figures);
    match first_error {
        Some(e) => Err(e),
        None => Ok(ok),
    }
}

/// Prints `figures` as one Markdown table.
fn print_summary(figures: &[Figure]) {
    println!("## Benchmark summary\n");
    println!("| bench | figure | value | target | result |");
    println!("| --- | --- | ---: | --- | --- |");
    for f in figures {
        let result = match f.ok {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "",
        };
        println!(
            "| {} | {} | {} | {} | {result} |",
            f.bench,
            f.what,
            f.value,
            f.target.as_deref().unwrap_or("")
        );
    }
}

/// In a debug build, runs `cargo xtask bench ARGS` again in release mode and gives its
/// result; `None` in a release build (go on and measure).
fn in_release(args: &[&str]) -> Option<Result<bool, String>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
        .arg("bench")
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot re-run in release mode: {e}"));
    Some(status.and_then(|s| match s.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => Err("the release-mode benchmark failed".to_string()),
    }))
}

/// `cargo build --release` of the command line (`image-factory`); its path.
pub fn build_cli() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "if-cli",
            "--bin",
            "image-factory",
        ])
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot build image-factory: {e}"))?;
    if !status.success() {
        return Err("cargo build of image-factory failed".to_string());
    }
    Ok(target_dir().join("release").join("image-factory"))
}

/// The target directory: `CARGO_TARGET_DIR`, else `target/` of the workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The median of `v` (the upper one of an even count; 0 when empty).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
