//! `cargo xtask bench scale`: the command line (`image-factory`, release build) as whole
//! processes on synthetic factories (`cargo xtask synth`) of 1,000, 10,000 and 100,000
//! images (N/5 base images, chains 4 deep).
//!
//! For each size: first the floor ([`crate::bench_floor`]: reading every input file of the
//! factory once, serially and with one thread per core) and the Kargo writer's MB/s beside
//! serde-saphyr's ([`crate::bench_writer`], in process), then `validate`, `analyze --all
//! --no-fetch`, `generate`, `record-update` of the hot base image (synth's base image 0, the
//! runtime of one image in ten: it schedules N/10 rebuilds, checked on the first run),
//! `status` and `plan HOT` (with those rebuilds pending), and `reconcile --dry-run` at a time
//! after every delay, and last `check --dry-run` against a loopback registry
//! ([`crate::bench_scale_check`]; skipped, with the reason printed, when `docker-registry`
//! is not installed). Each runs with `--root DIR/image-factory` in `DIR`, in an environment
//! without forge or registry credentials (the forge APIs point at a closed port; `check` gets
//! the loopback registry's). Each runs
//! three times (once when its first run took longer than [`SLOW_SECS`]); the table gives the
//! best wall time (the machine is shared: the best run is the one least disturbed) and the
//! peak RSS (the largest of the runs).
//!
//! When the registry runs, the synthetic factory is made with every registry host mapped to
//! it (`synth --registry 127.0.0.1:PORT`), for every command: the same shape, with one host
//! in place of six. Peak memory comes from the OS ([`crate::bench_measure`]).
//!
//! Targets (issue 22; a miss prints FAIL but the benchmark still succeeds; a command that
//! fails makes it fail), at N = 100,000: every command but `check` no slower than the serial
//! floor (ratio <= 1.0), every command under 1 GiB; from 10,000 to 100,000 the wall time of
//! every command grows less than 11 times. `check` is held instead, at every size, to its
//! requests per image and its token requests ([`crate::bench_scale_check::judge`]). The ratio
//! to the parallel floor is printed beside, unjudged.
//!
//! Options (after `cargo xtask bench scale`): `--sizes 1000,10000` runs only the sizes given
//! (at least 10 each; also `IMAGE_FACTORY_BENCH_SIZES`), `--check-concurrency N` the
//! `check --concurrency` (default 8, check's own), `--json PATH` where the figures go
//! (default `bench/scale.json` in the target directory; the README's table is made from it
//! by [`crate::bench_scale_json::readme_table`], printed at the end of the run). Targets at
//! a size that was not run are not checked. `--commands validate,status` measures only the
//! commands named (as the table names them; `check` for `check --dry-run`); a command left
//! out that writes state (`analyze`, `generate`, `record-update`) still runs as usual,
//! unreported, when a named command comes after it, so every figure is of the same factory
//! as in a full run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bench::Report;
use crate::bench_floor::Floor;
use crate::bench_measure::{Env, Measured, tail};
use crate::bench_registry::Loopback;
use crate::bench_scale_check as check;
use crate::bench_scale_json::{bytes, secs, thousands};
use crate::synth;

/// The sizes (enrolled images) measured by default.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Restricts the sizes: a comma-separated list of image counts (like `--sizes`).
pub const SIZES_ENV: &str = "IMAGE_FACTORY_BENCH_SIZES";
/// Runs of each command.
pub const RUNS: usize = 3;
/// A command whose first run takes longer than this (seconds) is run only once.
pub const SLOW_SECS: f64 = 20.0;
/// The time of the `analyze` and `record-update` runs.
const NOW: &str = "2026-11-01T00:00:00Z";

/// The measured commands, in the order they run: name, arguments after `--root DIR`, and
/// the exit code expected. `record-update` also gets `--image HOT --digest D` (a new `D` for
/// each run), `plan` gets `HOT`. The synthetic factory has failed discoveries on purpose, so
/// `validate` (which reports them) and `analyze` (which fails them again) exit 1, "needs a
/// person". `status` and `plan` run after `record-update`, with its N/10 rebuilds pending.
const COMMANDS: [(&str, &[&str], i32); 7] = [
    ("validate", &["validate"], 1),
    (
        "analyze",
        &["analyze", "--all", "--no-fetch", "--now", NOW],
        1,
    ),
    ("generate", &["generate"], 0),
    (
        RECORD,
        &["--format", "json", "record-update", "--now", NOW],
        0,
    ),
    ("status", &["status", "--now", synth::ALL_DUE], 0),
    (PLAN, &["plan", "--now", NOW], 0),
    (
        "reconcile --dry-run",
        &["reconcile", "--dry-run", "--now", synth::ALL_DUE],
        0,
    ),
];
const PLAN: &str = "plan";
const RECORD: &str = "record-update";
/// The commands that change the factory: run before a later measured one even when left
/// out by `--commands`.
const WRITERS: [&str; 3] = ["analyze", "generate", RECORD];

/// Runs the benchmark (in release mode: see `crate::bench`) with its options.
pub fn run(args: &[&str]) -> Result<Report, String> {
    let options = Options::parse(args)?;
    let sizes = options.sizes;
    // Copies, so that a build running beside the benchmark (which may replace what is in
    // target/release) changes nothing measured.
    let built = crate::bench::build_cli()?;
    let bin = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let binary = bin.path().join("image-factory");
    std::fs::copy(&built, &binary).map_err(|e| format!("copying {}: {e}", built.display()))?;
    let xtask = own_copy(bin.path())?;
    println!(
        "scale bench: image-factory on synthetic factories of {} images (bases N/5, depth 4); \
         {RUNS} runs per command (1 when the first takes > {SLOW_SECS} s): best wall time, \
         peak RSS; floor: reading every input file once, serially and with {} threads, best \
         of {RUNS}",
        sizes
            .iter()
            .map(|n| thousands(*n))
            .collect::<Vec<_>>()
            .join(", "),
        crate::bench_floor::threads()
    );
    let mut results = Vec::new();
    for &n in &sizes {
        results.push(one_size(
            &xtask,
            &binary,
            n,
            &options.commands,
            options.check_concurrency,
        )?);
    }
    crate::bench_scale_table::print(&results);
    let figures = crate::bench_scale_table::targets(&results);
    let json = crate::bench_scale_json::write(&options.json, &results)?;
    println!("\nfigures written to {}", options.json.display());
    println!(
        "\nREADME table (from that file):\n\n{}",
        crate::bench_scale_json::readme_table(&json)
    );
    Ok(Report { figures, ok: true })
}

/// The options of `cargo xtask bench scale`.
struct Options {
    /// The sizes to run, ascending.
    sizes: Vec<usize>,
    /// Where the JSON figures go.
    json: PathBuf,
    /// Whether each of [`COMMANDS`], then `check`, is measured.
    commands: Vec<bool>,
    /// `check --concurrency`.
    check_concurrency: u16,
}

impl Options {
    /// `[--sizes LIST] [--json PATH] [--commands LIST] [--check-concurrency N]`; the sizes default to [`SIZES_ENV`], else [`SIZES`].
    fn parse(args: &[&str]) -> Result<Options, String> {
        let mut sizes = std::env::var(SIZES_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let mut json = None;
        let mut check_concurrency = check::CONCURRENCY;
        let mut commands = vec![true; COMMANDS.len() + 1];
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .map(|v| (*v).to_string())
                    .ok_or_else(|| format!("bench scale: {arg} needs a value"))
            };
            match *arg {
                "--sizes" => sizes = Some(value()?),
                "--json" => json = Some(PathBuf::from(value()?)),
                "--check-concurrency" => check_concurrency = parse_concurrency(&value()?)?,
                "--commands" => commands = parse_commands(&value()?)?,
                other => {
                    return Err(format!(
                        "bench scale: unknown option `{other}` (options: --sizes N,N,... \
                         --commands NAME,NAME,... --json PATH --check-concurrency N)"
                    ));
                }
            }
        }
        let sizes = match sizes {
            Some(list) => parse_sizes(&list)?,
            None => SIZES.to_vec(),
        };
        let json = json.unwrap_or_else(|| crate::bench::target_dir().join("bench/scale.json"));
        Ok(Options {
            sizes,
            json,
            commands,
            check_concurrency,
        })
    }
}

/// `--check-concurrency`: 1 to 256, as `check --concurrency`.
fn parse_concurrency(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(c) if (1..=256).contains(&c) => Ok(c),
        _ => Err(format!("--check-concurrency `{v}`: 1 to 256")),
    }
}

/// A comma-separated list of command names (as [`COMMANDS`] names them, and `check` or
/// [`check::NAME`]): which are measured, in [`COMMANDS`]' order, then `check`.
fn parse_commands(list: &str) -> Result<Vec<bool>, String> {
    let mut chosen = vec![false; COMMANDS.len() + 1];
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let at = COMMANDS
            .iter()
            .position(|(name, _, _)| *name == item)
            .or_else(|| (item == "check" || item == check::NAME).then_some(COMMANDS.len()));
        let Some(c) = at else {
            let mut names: Vec<&str> = COMMANDS.iter().map(|(name, _, _)| *name).collect();
            names.push("check");
            return Err(format!(
                "commands: `{item}` is not a measured command ({})",
                names.join(", ")
            ));
        };
        chosen[c] = true;
    }
    if !chosen.contains(&true) {
        return Err("commands: name at least one".to_string());
    }
    Ok(chosen)
}

/// A comma-separated list of image counts, sorted, without repeats.
fn parse_sizes(list: &str) -> Result<Vec<usize>, String> {
    let mut sizes = Vec::new();
    for item in list.split(',') {
        let item = item.trim().replace('_', "");
        let n: usize = item.parse().map_err(|e| format!("sizes: `{item}`: {e}"))?;
        if n < 10 {
            return Err(format!("sizes: {n}: a factory needs at least 10 images"));
        }
        sizes.push(n);
    }
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// A copy of this program (the measuring wrapper) in `dir`, even when `target/release/xtask`
/// was replaced since it started.
fn own_copy(dir: &Path) -> Result<PathBuf, String> {
    let copy = dir.join("xtask-measure");
    let proc_exe = Path::new("/proc/self/exe");
    let from = if proc_exe.exists() {
        proc_exe.to_path_buf()
    } else {
        std::env::current_exe().map_err(|e| format!("the xtask binary: {e}"))?
    };
    std::fs::copy(&from, &copy).map_err(|e| format!("copying {}: {e}", from.display()))?;
    Ok(copy)
}

/// What was measured at one size.
pub struct SizeResult {
    /// Enrolled images.
    pub n: usize,
    /// Reading every input file once.
    pub floor: Floor,
    /// One per [`COMMANDS`] entry, then `check`'s when it ran.
    pub rows: Vec<Row>,
}

/// One command at one size.
pub struct Row {
    /// The command, as [`COMMANDS`] names it (or [`check::NAME`]).
    pub name: &'static str,
    /// Best wall time, seconds.
    pub wall: f64,
    /// Largest peak RSS of the runs, KiB.
    pub rss_kib: u64,
    /// How many runs.
    pub runs: usize,
    /// `check`'s requests and what was pushed for it.
    pub check: Option<check::Figures>,
}

impl Row {
    /// Wall time over the serial floor.
    pub fn ratio(&self, floor: &Floor) -> f64 {
        self.wall / floor.serial_s
    }

    /// Wall time over the parallel floor.
    pub fn ratio_parallel(&self, floor: &Floor) -> f64 {
        self.wall / floor.parallel_s
    }
}

/// Synthesizes the factory of `n` images and measures every command on it.
fn one_size(
    xtask: &Path,
    binary: &Path,
    n: usize,
    measured: &[bool],
    concurrency: u16,
) -> Result<SizeResult, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = tmp.path().join("factory");
    println!("\nN = {}:", thousands(n));
    let loopback = Loopback::start(tmp.path(), true);
    let shape = synth::Shape {
        images: n,
        bases: n / 5,
        depth: 4,
        registry: loopback.as_ref().map(|l| l.addr().to_string()),
    };
    let started = Instant::now();
    let summary = synth::write(&shape, &dir)?;
    let synth_secs = started.elapsed().as_secs_f64();
    let root = dir.join("image-factory");
    let (state_files, state_bytes) = tree_size(&root.join("state"))?;
    let images_bytes = std::fs::metadata(root.join("images.yaml"))
        .map_err(|e| format!("images.yaml: {e}"))?
        .len();
    println!(
        "  synth {synth_secs:.1} s ({summary}); images.yaml {}, state {} files, {}",
        bytes(images_bytes),
        thousands(state_files),
        bytes(state_bytes)
    );
    let floor = crate::bench_floor::measure(&dir, RUNS)?;
    println!(
        "  {:<20} {:>9}  serially; {} with {} threads ({} files, {})",
        "floor (read inputs)",
        secs(floor.serial_s),
        secs(floor.parallel_s),
        floor.threads,
        thousands(floor.files),
        bytes(floor.bytes)
    );
    let w = crate::bench_writer::measure(&root)?;
    println!(
        "  {:<20} {:>6.1} MB/s  (serde-saphyr {:.1} MB/s; {} resources, {}, the same bytes; \
         {} left to serde-saphyr)",
        "Kargo writer",
        w.writer_mb_s,
        w.reference_mb_s,
        thousands(w.resources),
        bytes(w.bytes as u64),
        w.refused
    );
    let hot = synth::base_text(&shape, 0);
    let dependents = hot_dependents(&shape, &root)?;
    let env = Env {
        xtask,
        binary,
        dir: &dir,
        report: tmp.path().join("measure.json"),
    };
    let mut rows = Vec::new();
    for (c, (name, fixed, expected)) in COMMANDS.into_iter().enumerate() {
        let shown = measured.get(c).copied().unwrap_or(true);
        // A writer left out still runs when a measured command comes after it.
        let setup = WRITERS.contains(&name) && measured.iter().skip(c + 1).any(|m| *m);
        if !(shown || setup) {
            continue;
        }
        let args = |rep: usize| {
            let mut args: Vec<String> = fixed.iter().map(|a| a.to_string()).collect();
            if name == PLAN {
                args.push(hot.clone());
            }
            if name == RECORD {
                // A new digest each run, so that every run records an update and schedules.
                let digest = synth::digest("bench", rep, 0).to_string();
                args.extend([
                    "--image".to_string(),
                    hot.clone(),
                    "--digest".to_string(),
                    digest,
                ]);
            }
            args
        };
        let mut each = |rep: usize, m: &Measured| match name {
            RECORD if rep == 0 => check_scheduled(n, dependents, &m.stdout),
            _ => Ok(()),
        };
        let row = measure_runs(&env, n, name, expected, &args, &[], &mut each)?;
        if !shown {
            println!("  {name:<20} run, not measured (a later command reads what it wrote)");
            continue;
        }
        print_row(&row, &floor);
        rows.push(row);
    }
    let check_shown = measured.get(COMMANDS.len()).copied().unwrap_or(true);
    if let Some(loopback) = loopback.as_ref().filter(|_| check_shown) {
        rows.push(check_row(&env, n, loopback, &root, &floor, concurrency)?);
    }
    Ok(SizeResult { n, floor, rows })
}

/// `check --dry-run` against the loopback registry, after pushing what it watches.
fn check_row(
    env: &Env<'_>,
    n: usize,
    loopback: &Loopback,
    root: &Path,
    floor: &Floor,
    concurrency: u16,
) -> Result<Row, String> {
    let pushed = check::push(loopback, root)?;
    let credentials = loopback.credentials();
    let mut figures = None;
    let mut each = |_: usize, m: &Measured| {
        figures = Some(check::figures(&pushed, concurrency, m)?);
        Ok(())
    };
    let args = |_: usize| check::args(NOW, concurrency);
    let mut row = measure_runs(env, n, check::NAME, 0, &args, &credentials, &mut each)?;
    row.check = figures;
    print_row(&row, floor);
    if let Some(f) = &row.check {
        println!("  {:<20} {}", "", check::describe(f));
    }
    Ok(row)
}

/// What one run of a measured command is told (by its run number), and what is checked of
/// each run.
type ArgsOf<'a> = dyn Fn(usize) -> Vec<String> + 'a;
type EachRun<'a> = dyn FnMut(usize, &Measured) -> Result<(), String> + 'a;

/// Runs one command [`RUNS`] times (once when the first run takes longer than
/// [`SLOW_SECS`]), each expected to exit with `expected` and passed to `each`; its row.
fn measure_runs(
    env: &Env<'_>,
    n: usize,
    name: &'static str,
    expected: i32,
    args_of: &ArgsOf<'_>,
    extra_env: &[(&str, String)],
    each: &mut EachRun<'_>,
) -> Result<Row, String> {
    let mut walls = Vec::new();
    let mut rss_kib = 0;
    for rep in 0..RUNS {
        let args = args_of(rep);
        let m = env.measure(&args, extra_env)?;
        if m.exit != Some(expected) {
            return Err(format!(
                "N = {n}: `image-factory {}` exited with {} (expected {expected}):\n{}",
                args.join(" "),
                m.exit
                    .map_or_else(|| "a signal".to_string(), |c| c.to_string()),
                tail(if m.stderr.is_empty() {
                    &m.stdout
                } else {
                    &m.stderr
                })
            ));
        }
        each(rep, &m)?;
        walls.push(m.wall_s);
        rss_kib = rss_kib.max(m.max_rss_kib);
        if rep == 0 && m.wall_s > SLOW_SECS {
            break;
        }
    }
    Ok(Row {
        name,
        wall: walls.iter().copied().fold(f64::INFINITY, f64::min),
        rss_kib,
        runs: walls.len(),
        check: None,
    })
}

/// Prints one command's line.
fn print_row(row: &Row, floor: &Floor) {
    println!(
        "  {:<20} {:>9}  peak {:>10}  {:.2}x floor ({:.2}x parallel)  ({} run{})",
        row.name,
        secs(row.wall),
        bytes(row.rss_kib * 1024),
        row.ratio(floor),
        row.ratio_parallel(floor),
        row.runs,
        if row.runs == 1 { "" } else { "s" }
    );
}

/// The direct dependents of the hot base image, from its state file.
fn hot_dependents(shape: &synth::Shape, root: &Path) -> Result<usize, String> {
    let slug = synth::base_ref(shape, 0).map_err(|e| e.to_string())?.slug();
    let path = root.join("state/base-images").join(format!("{slug}.yaml"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (state, _) = if_model::state::parse_base(&text, &path.display().to_string());
    let state = state.ok_or_else(|| format!("{}: not a base-image state", path.display()))?;
    Ok(state.dependent_images.len())
}

/// Checks that the first `record-update` scheduled every direct dependent of the hot base
/// image: N/10 of them.
fn check_scheduled(n: usize, dependents: usize, stdout: &[u8]) -> Result<(), String> {
    let report: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| format!("record-update printed no JSON report: {e}"))?;
    let scheduled = report["scheduled"].as_array().map_or(0, Vec::len);
    let outcome = report["outcome"].as_str().unwrap_or("?");
    println!(
        "  record-update: {outcome}, {} rebuilds scheduled (N/10 = {}; the hot base image has {} direct dependents)",
        thousands(scheduled),
        thousands(n / 10),
        thousands(dependents)
    );
    if scheduled != dependents || scheduled != n / 10 {
        return Err(format!(
            "N = {n}: record-update scheduled {scheduled} rebuilds ({outcome}), expected the \
             {dependents} direct dependents of the hot base image, N/10 = {}",
            n / 10
        ));
    }
    Ok(())
}

/// Files and bytes under `dir`.
fn tree_size(dir: &Path) -> Result<(usize, u64), String> {
    let mut files = 0;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries.filter_map(Result::ok) {
            let meta = entry.metadata().map_err(|e| e.to_string())?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                total += meta.len();
            }
        }
    }
    Ok((files, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_what_is_measured() {
        let chosen = parse_commands("validate, status").unwrap();
        let names: Vec<&str> = COMMANDS
            .iter()
            .zip(&chosen)
            .filter(|(_, m)| **m)
            .map(|((n, _, _), _)| *n)
            .collect();
        assert_eq!(names, ["validate", "status"]);
        assert!(!chosen[COMMANDS.len()], "check is not measured");
        assert!(parse_commands("validate,reconcile --dry-run").unwrap()[6]);
        assert!(parse_commands("check").unwrap()[COMMANDS.len()]);
        assert!(parse_commands(check::NAME).unwrap()[COMMANDS.len()]);
        assert!(parse_commands("valdate").unwrap_err().contains("valdate"));
        assert!(parse_commands("").is_err());
        let all = Options::parse(&[]).unwrap();
        assert!(all.commands.iter().all(|m| *m));
        assert_eq!(all.commands.len(), COMMANDS.len() + 1);
    }
}
