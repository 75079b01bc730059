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
//! after every delay. Each runs with `--root DIR/image-factory` in `DIR`, in an environment
//! without forge or registry credentials (the forge APIs point at a closed port). Each runs
//! three times (once when its first run took longer than [`SLOW_SECS`]); the table gives the
//! best wall time (the machine is shared: the best run is the one least disturbed) and the
//! peak RSS (the largest of the runs).
//!
//! `check` is not run here: its base images live on public registries (synth's references),
//! and its figure is requests per image and token requests per registry, which
//! `cargo xtask bench check` measures against a loopback `docker-registry`.
//!
//! Peak memory comes from the OS: every measured command is started by a small wrapper,
//! `xtask __measure --report FILE -- PROGRAM ARGS...` ([`measure`]), whose only child is the
//! command, so `getrusage(RUSAGE_CHILDREN)` after waiting for it is that command's own
//! `ru_maxrss`. The wrapper writes `{"exit":..,"wall_s":..,"max_rss_kib":..}` to `FILE`; the
//! command's stdout and stderr pass through it untouched.
//!
//! Targets (issue 22; a miss prints FAIL but the benchmark still succeeds; a command that
//! fails makes it fail), at N = 100,000: every command no slower than the serial floor
//! (ratio <= 1.0) and under 1 GiB; from 10,000 to 100,000 the wall time of every command
//! grows less than 11 times. The ratio to the parallel floor is printed beside, unjudged.
//!
//! Options (after `cargo xtask bench scale`): `--sizes 1000,10000` runs only the sizes given
//! (at least 10 each; also `IMAGE_FACTORY_BENCH_SIZES`), `--json PATH` where the figures go
//! (default `bench/scale.json` in the target directory; the README's table is made from it
//! by [`crate::bench_scale_json::readme_table`], printed at the end of the run). Targets at
//! a size that was not run are not checked. `--commands validate,status` measures only the
//! commands named (as the table names them); a command left out that writes state (`analyze`,
//! `generate`, `record-update`) still runs as usual, unreported, when a named command comes
//! after it, so every figure is of the same factory as in a full run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use nix::sys::resource::{UsageWho, getrusage};

use crate::bench::{Figure, Report};
use crate::bench_floor::Floor;
use crate::bench_scale_json::{bytes, label, secs, thousands};
use crate::synth;

const BENCH: &str = "scale";
/// The sizes (enrolled images) measured by default.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Restricts the sizes: a comma-separated list of image counts (like `--sizes`).
pub const SIZES_ENV: &str = "IMAGE_FACTORY_BENCH_SIZES";
/// Runs of each command.
const RUNS: usize = 3;
/// A command whose first run takes longer than this (seconds) is run only once.
const SLOW_SECS: f64 = 20.0;
/// The time of the `analyze` and `record-update` runs.
const NOW: &str = "2026-11-01T00:00:00Z";
/// Where the forge APIs point: a closed port, so that any request fails at once.
const NOWHERE: &str = "http://127.0.0.1:9";
const KIB_PER_GIB: u64 = 1024 * 1024;
/// The largest growth of wall time from 10,000 to 100,000 images that passes.
const GROWTH: f64 = 11.0;

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
        results.push(one_size(&xtask, &binary, n, &options.commands)?);
    }
    print_table(&results);
    let figures = targets(&results);
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
    /// Whether each of [`COMMANDS`] is measured.
    commands: Vec<bool>,
}

impl Options {
    /// `[--sizes LIST] [--json PATH]`; the sizes default to [`SIZES_ENV`], else [`SIZES`].
    fn parse(args: &[&str]) -> Result<Options, String> {
        let mut sizes = std::env::var(SIZES_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let mut json = None;
        let mut commands = vec![true; COMMANDS.len()];
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
                "--commands" => commands = parse_commands(&value()?)?,
                other => {
                    return Err(format!(
                        "bench scale: unknown option `{other}` (options: --sizes N,N,... \
                         --commands NAME,NAME,... --json PATH)"
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
        })
    }
}

/// A comma-separated list of command names (as [`COMMANDS`] names them): which are measured.
fn parse_commands(list: &str) -> Result<Vec<bool>, String> {
    let mut chosen = vec![false; COMMANDS.len()];
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some(c) = COMMANDS.iter().position(|(name, _, _)| *name == item) else {
            let names: Vec<&str> = COMMANDS.iter().map(|(name, _, _)| *name).collect();
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
    /// One per [`COMMANDS`] entry.
    pub rows: Vec<Row>,
}

/// One command at one size.
pub struct Row {
    /// The command, as [`COMMANDS`] names it.
    pub name: &'static str,
    /// Best wall time, seconds.
    pub wall: f64,
    /// Largest peak RSS of the runs, KiB.
    pub rss_kib: u64,
    /// How many runs.
    pub runs: usize,
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
) -> Result<SizeResult, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = tmp.path().join("factory");
    let shape = synth::Shape {
        images: n,
        bases: n / 5,
        depth: 4,
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
        "\nN = {}: synth {synth_secs:.1} s ({summary}); images.yaml {}, state {} files, {}",
        thousands(n),
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
    let hot = synth::base_text(0);
    let dependents = hot_dependents(&root)?;
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
        let mut walls = Vec::new();
        let mut rss_kib = 0;
        for rep in 0..RUNS {
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
            let m = env.measure(&args)?;
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
            if name == RECORD && rep == 0 {
                check_scheduled(n, dependents, &m.stdout)?;
            }
            walls.push(m.wall_s);
            rss_kib = rss_kib.max(m.max_rss_kib);
            if rep == 0 && m.wall_s > SLOW_SECS {
                break;
            }
        }
        let row = Row {
            name,
            wall: walls.iter().copied().fold(f64::INFINITY, f64::min),
            rss_kib,
            runs: walls.len(),
        };
        if !shown {
            println!("  {name:<20} run, not measured (a later command reads what it wrote)");
            continue;
        }
        println!(
            "  {name:<20} {:>9}  peak {:>10}  {:.2}x floor ({:.2}x parallel)  ({} run{})",
            secs(row.wall),
            bytes(row.rss_kib * 1024),
            row.ratio(&floor),
            row.ratio_parallel(&floor),
            row.runs,
            if row.runs == 1 { "" } else { "s" }
        );
        rows.push(row);
    }
    Ok(SizeResult { n, floor, rows })
}

/// The direct dependents of the hot base image, from its state file.
fn hot_dependents(root: &Path) -> Result<usize, String> {
    let slug = synth::base_ref(0).map_err(|e| e.to_string())?.slug();
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

/// How the measured commands run.
struct Env<'a> {
    xtask: &'a Path,
    binary: &'a Path,
    /// The synthetic factory's directory (the working directory).
    dir: &'a Path,
    /// Where the wrapper writes its figures.
    report: PathBuf,
}

/// One measured run.
struct Measured {
    exit: Option<i32>,
    wall_s: f64,
    max_rss_kib: u64,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Env<'_> {
    /// Runs `image-factory --root DIR/image-factory ARGS` through the wrapper.
    fn measure(&self, args: &[String]) -> Result<Measured, String> {
        let _ = std::fs::remove_file(&self.report);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let out = Command::new(self.xtask)
            .arg("__measure")
            .arg("--report")
            .arg(&self.report)
            .arg("--")
            .arg(self.binary)
            .arg("--root")
            .arg(self.dir.join("image-factory"))
            .args(args)
            .current_dir(self.dir)
            // No tokens, no Docker credentials, no settings from this machine.
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.dir)
            .env("LC_ALL", "C")
            .env("DOCKER_CONFIG", self.dir.join("no-docker-config"))
            .env("IMAGE_FACTORY_GITHUB_API", NOWHERE)
            .env("IMAGE_FACTORY_GITLAB_API", NOWHERE)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.xtask.display()))?;
        let text = std::fs::read_to_string(&self.report).map_err(|e| {
            format!(
                "the measuring wrapper wrote no report ({e}; exit {:?}):\n{}",
                out.status.code(),
                tail(&out.stderr)
            )
        })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("measure report `{text}`: {e}"))?;
        Ok(Measured {
            exit: v["exit"].as_i64().and_then(|c| i32::try_from(c).ok()),
            wall_s: v["wall_s"].as_f64().unwrap_or(f64::NAN),
            max_rss_kib: v["max_rss_kib"].as_u64().unwrap_or(0),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// `xtask __measure --report FILE -- PROGRAM ARGS...`: runs the program (stdio inherited),
/// waits, and writes its exit code, wall time and peak RSS (KiB, from
/// `getrusage(RUSAGE_CHILDREN)`: this process has no other child) to `FILE` as one JSON line.
pub fn measure(args: &[&str]) -> Result<bool, String> {
    let ["--report", report, "--", program, rest @ ..] = args else {
        return Err("usage: xtask __measure --report FILE -- PROGRAM [ARGS...]".to_string());
    };
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .status()
        .map_err(|e| format!("__measure: cannot run {program}: {e}"))?;
    let wall_s = started.elapsed().as_secs_f64();
    let usage =
        getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("__measure: getrusage: {e}"))?;
    let line = serde_json::json!({
        "exit": status.code(),
        "wall_s": wall_s,
        "max_rss_kib": usage.max_rss(),
    });
    std::fs::write(report, format!("{line}\n")).map_err(|e| format!("__measure: {report}: {e}"))?;
    Ok(true)
}

/// Prints the table: a row per command (the floors first), wall time, ratio to the serial
/// floor and peak RSS per size, and the ratio of wall times from each size to the next.
fn print_table(results: &[SizeResult]) {
    let mut head = String::from("| command |");
    let mut rule = String::from("| --- |");
    for r in results {
        let l = label(r.n);
        head.push_str(&format!(" {l} wall | {l} / floor | {l} peak RSS |"));
        rule.push_str(" ---: | ---: | ---: |");
    }
    for pair in results.windows(2) {
        head.push_str(&format!(
            " wall {}/{} |",
            label(pair[1].n),
            label(pair[0].n)
        ));
        rule.push_str(" ---: |");
    }
    println!("\n{head}\n{rule}");
    type Of = fn(&Floor) -> f64;
    let floors: [(&str, Of); 2] = [
        ("floor, serial", |f| f.serial_s),
        ("floor, parallel", |f| f.parallel_s),
    ];
    for (name, of) in floors {
        let mut line = format!("| {name} |");
        for r in results {
            line.push_str(&format!(
                " {} | {:.2} | - |",
                secs(of(&r.floor)),
                of(&r.floor) / r.floor.serial_s
            ));
        }
        for pair in results.windows(2) {
            line.push_str(&format!(
                " {:.1} |",
                of(&pair[1].floor) / of(&pair[0].floor)
            ));
        }
        println!("{line}");
    }
    let mut once = false;
    for (c, name) in measured_names(results).into_iter().enumerate() {
        let mut line = format!("| {name} |");
        for r in results {
            if let Some(row) = r.rows.get(c) {
                let mark = if row.runs < RUNS { "*" } else { "" };
                once |= row.runs < RUNS;
                line.push_str(&format!(
                    " {}{mark} | {:.2} | {} |",
                    secs(row.wall),
                    row.ratio(&r.floor),
                    bytes(row.rss_kib * 1024)
                ));
            }
        }
        for pair in results.windows(2) {
            line.push_str(&format!(" {} |", ratio(&pair[0], &pair[1], c)));
        }
        println!("{line}");
    }
    if once {
        println!("\n\\* one run only: the first took more than {SLOW_SECS} s");
    }
}

/// The commands measured, in the order of every size's rows (each size measures the same).
fn measured_names(results: &[SizeResult]) -> Vec<&'static str> {
    results
        .first()
        .map(|r| r.rows.iter().map(|row| row.name).collect())
        .unwrap_or_default()
}

/// Wall time at `big` over wall time at `small`, of the `c`th measured command.
fn ratio(small: &SizeResult, big: &SizeResult, c: usize) -> String {
    growth(small, big, c).map_or_else(|| "-".to_string(), |g| format!("{g:.1}"))
}

/// Wall time at `big` over wall time at `small`, of the `c`th measured command (the rows of
/// every size name the same commands), when both ran.
pub fn growth(small: &SizeResult, big: &SizeResult, c: usize) -> Option<f64> {
    match (small.rows.get(c), big.rows.get(c)) {
        (Some(s), Some(b)) if s.wall > 0.0 => Some(b.wall / s.wall),
        _ => None,
    }
}

/// Checks the targets, prints PASS/FAIL for each, and gives the summary figures.
fn targets(results: &[SizeResult]) -> Vec<Figure> {
    println!("\ntargets:");
    let at = |n: usize| results.iter().find(|r| r.n == n);
    let mut figures = Vec::new();
    for (c, name) in measured_names(results).into_iter().enumerate() {
        for r in results {
            let Some(row) = r.rows.get(c) else { continue };
            let value = format!(
                "{}, {:.2}x floor, {}",
                secs(row.wall),
                row.ratio(&r.floor),
                bytes(row.rss_kib * 1024)
            );
            let what = format!("{name}, N = {}", thousands(r.n));
            match r.n {
                100_000 => verdict(
                    &mut figures,
                    what,
                    value,
                    "<= 1.0x serial floor, < 1 GiB",
                    row.ratio(&r.floor) <= 1.0 && row.rss_kib < KIB_PER_GIB,
                ),
                _ => figures.push(Figure::info(BENCH, what, value)),
            }
        }
        if let (Some(small), Some(big)) = (at(10_000), at(100_000)) {
            let value = ratio(small, big, c);
            let ok = growth(small, big, c).is_some_and(|v| v < GROWTH);
            verdict(
                &mut figures,
                format!("{name}, wall 100k/10k"),
                value,
                "< 11",
                ok,
            );
        }
    }
    if at(100_000).is_none() || at(10_000).is_none() {
        println!("  not checked: the targets at 100,000 and 100k/10k (a size was left out)");
    }
    figures
}

/// Prints PASS or FAIL for one target and keeps its figure.
fn verdict(figures: &mut Vec<Figure>, what: String, value: String, target: &str, ok: bool) {
    let word = if ok { "PASS" } else { "FAIL" };
    println!("  {word} {what}: {value} (target {target})");
    figures.push(Figure::judged(BENCH, what, value, target, ok));
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

/// The last lines of a command's stderr.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
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
        assert!(parse_commands("validate,reconcile --dry-run").unwrap()[6]);
        assert!(parse_commands("valdate").unwrap_err().contains("valdate"));
        assert!(parse_commands("").is_err());
        let all = Options::parse(&[]).unwrap();
        assert!(all.commands.iter().all(|m| *m));
    }
}
