//! `cargo xtask bench dockerfile`: throughput of the Dockerfile parser and base-image
//! discovery (`if_dockerfile::analyze`), single-threaded and in process, over the real-world
//! corpus of `../shared/corpus/dockerfiles` (or `testdata/dockerfile` when it is absent),
//! against a trivial scan of the same bytes in the same run (counting newlines: the floor of
//! any parser) and against BuildKit's parser, held to a 60x lead, then over pathological
//! shapes at full and half size to show that they stay linear, and over the hostile inputs of
//! `if_dockerfile::hostile` (each must end well within 20 s).
//!
//! BuildKit's parser is measured in the same run when it can be: its Python binding (PyPI
//! `dockerfile`, BuildKit's Go parser built into a Python extension; `pip install
//! dockerfile`) parses the same texts, one round of it between each two rounds of ours, so
//! that both see the same machine (a shared machine's load changes both alike). Without
//! `python3` or the binding, the figure measured once on a quiet 2-core machine
//! ([`BUILDKIT_MBPS`]) stands in, and the benchmark says so.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use if_dockerfile::{BuildArgs, analyze, hostile};

use crate::bench::{Figure, Report, median};
use crate::workspace_root;

const BENCH: &str = "dockerfile";
/// BuildKit's parser over the same corpus when it cannot be measured in the run: v0.12.5
/// through its Python binding (PyPI `dockerfile`), parse calls only on in-memory strings,
/// median of 5 passes, on a quiet 2-core machine.
const BUILDKIT_MBPS: f64 = 6.69;
/// One round of BuildKit's parser: reads a JSON array of texts on stdin, parses each with
/// `dockerfile.parse_string` (in memory; a text it rejects counts like one it accepts, as
/// ours are all analyzed) for at least `argv[1]` seconds, prints the UTF-8 bytes of one
/// pass and the MB/s.
const BUILDKIT_ROUND: &str = r#"
import json, sys, time
import dockerfile
texts = json.load(sys.stdin)
size = sum(len(t.encode("utf-8")) for t in texts)
least = float(sys.argv[1])
start = time.perf_counter()
passes = 0
while True:
    for t in texts:
        try:
            dockerfile.parse_string(t)
        except dockerfile.GoParseError:
            pass
    passes += 1
    elapsed = time.perf_counter() - start
    if elapsed >= least:
        break
print(size, size * passes / elapsed / 1e6)
"#;
/// The lead over BuildKit's parser to hold (issue 22).
const MIN_OVER_BUILDKIT: f64 = 60.0;

/// Runs the benchmark (in release mode: see `crate::bench`).
pub fn run() -> Result<Report, String> {
    let (label, inputs) = load_inputs()?;
    let bytes: usize = inputs.iter().map(String::len).sum();
    println!(
        "dockerfile bench: {} files, {} bytes from {label}",
        inputs.len(),
        bytes
    );
    let args = BuildArgs::new();
    let mut rates = Vec::new();
    let mut file_rates = Vec::new();
    let mut buildkit = BuildKit::start(&inputs, bytes);
    for round in 1..=5 {
        let (elapsed, passes) = timed(Duration::from_secs(2), || {
            for text in &inputs {
                black_box(analyze(black_box(text), &args));
            }
        });
        let secs = elapsed.as_secs_f64();
        let mbps = (bytes * passes) as f64 / secs / 1e6;
        let fps = (inputs.len() * passes) as f64 / secs;
        println!(
            "  round {round}: {passes} passes in {secs:.2} s: {mbps:.1} MB/s, {fps:.0} files/s"
        );
        rates.push(mbps);
        file_rates.push(fps);
        buildkit.round(round);
    }
    let (mbps, fps) = (median(&mut rates), median(&mut file_rates));
    println!(
        "corpus: median {mbps:.1} MB/s, {fps:.0} files/s (target >= 300 MB/s: {})",
        if mbps >= 300.0 { "met" } else { "NOT met" }
    );
    let scan = scan_rate(&inputs, bytes);
    let (buildkit_mbps, buildkit_source) = buildkit.figure();
    let over_buildkit = mbps / buildkit_mbps;
    println!(
        "  trivial scan of the same bytes (newline count): median {scan:.1} MB/s; the parser \
         takes {:.1}x the scan's time; {over_buildkit:.0}x BuildKit's parser ({buildkit_mbps:.2} \
         MB/s, {buildkit_source}; target >= {MIN_OVER_BUILDKIT}x)",
        scan / mbps
    );
    let mut figures = vec![
        Figure::judged(
            BENCH,
            "corpus throughput",
            format!("{mbps:.1} MB/s"),
            ">= 300 MB/s",
            mbps >= 300.0,
        ),
        Figure::info(BENCH, "corpus files", format!("{fps:.0} files/s")),
        Figure::info(
            BENCH,
            "newline scan of the same bytes (parser time / scan time)",
            format!("{scan:.1} MB/s ({:.1}x)", scan / mbps),
        ),
        Figure::info(
            BENCH,
            "BuildKit's parser",
            format!("{buildkit_mbps:.2} MB/s ({buildkit_source})"),
        ),
        Figure::judged(
            BENCH,
            "over BuildKit's parser",
            format!("{over_buildkit:.0}x"),
            format!(">= {MIN_OVER_BUILDKIT}x"),
            over_buildkit >= MIN_OVER_BUILDKIT,
        ),
    ];
    println!(
        "pathological inputs (MB/s at full size, at half size, ratio full/half; ~1 means linear):"
    );
    for (name, make) in [
        ("5,000-line heredoc", heredoc as fn(usize) -> String),
        ("3,000-line continuation", continuation),
        ("60 KiB line", long_line),
    ] {
        let full = rate(&make(1), &args);
        let half = rate(&make(2), &args);
        println!(
            "  {name:<26} {full:>8.1} MB/s  {half:>8.1} MB/s  ratio {:.2}",
            full / half
        );
        figures.push(Figure::info(
            BENCH,
            format!("{name}: MB/s ratio full/half size (~1: linear)"),
            format!("{:.2}", full / half),
        ));
    }
    println!("hostile inputs (issue 19: time per analysis at full size, MB/s ratio full/half):");
    for (name, make) in [
        (
            "exponential ARGs, 27 lines",
            exponential as fn(usize) -> String,
        ),
        ("${a:-} nested 13,000 deep", nested),
        ("ONBUILD x 40,000 on one line", onbuild),
        ("deep: 200 ARGs nested 90 deep", deep),
        ("wide: 200 ARGs, 8 refs each", wide),
    ] {
        let text = make(1);
        let (elapsed, n) = timed(Duration::from_millis(500), || {
            black_box(analyze(black_box(&text), &args));
        });
        let ms = elapsed.as_secs_f64() * 1e3 / n as f64;
        let ratio = rate(&text, &args) / rate(&make(2), &args);
        println!(
            "  {name:<30} {:>7} bytes {ms:>9.3} ms  ratio {ratio:.2}",
            text.len()
        );
        figures.push(Figure::judged(
            BENCH,
            format!("{name}: ms per analysis ({} bytes)", text.len()),
            format!("{ms:.3} ms"),
            "< 20 s",
            ms < 20_000.0,
        ));
    }
    Ok(Report { figures, ok: true })
}

/// BuildKit's parser, measured round by round beside ours (see the module's documentation).
struct BuildKit {
    /// The texts as the JSON array each round reads, or why BuildKit is not measured.
    input: Result<String, String>,
    bytes: usize,
    rates: Vec<f64>,
}

impl BuildKit {
    /// Checks that `python3` has the binding; `bytes` is the UTF-8 size of `inputs`.
    fn start(inputs: &[String], bytes: usize) -> Self {
        let probe = std::process::Command::new("python3")
            .args(["-c", "import dockerfile"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let input = match probe {
            Ok(s) if s.success() => {
                serde_json::to_string(inputs).map_err(|e| format!("the texts as JSON: {e}"))
            }
            Ok(_) => Err("python3 has no `dockerfile` module (pip install dockerfile)".into()),
            Err(e) => Err(format!("python3 cannot be run: {e}")),
        };
        if let Err(why) = &input {
            println!("  BuildKit's parser is not measured in this run: {why}");
        }
        BuildKit {
            input,
            bytes,
            rates: Vec::new(),
        }
    }

    /// One round of BuildKit's parser (nothing when it is not measured); a round that fails
    /// stops the measurement, saying why.
    fn round(&mut self, round: usize) {
        let Ok(input) = &self.input else { return };
        match buildkit_round(input, self.bytes) {
            Ok(rate) => {
                println!("  round {round}: BuildKit's parser {rate:.2} MB/s");
                self.rates.push(rate);
            }
            Err(why) => {
                println!("  BuildKit's parser: {why}; no longer measured in this run");
                self.input = Err(why);
            }
        }
    }

    /// The median MB/s of this run's rounds and where it comes from, else the constant.
    fn figure(mut self) -> (f64, String) {
        if self.input.is_ok() && !self.rates.is_empty() {
            let n = self.rates.len();
            (
                median(&mut self.rates),
                format!("median of {n} rounds in this run"),
            )
        } else {
            (
                BUILDKIT_MBPS,
                "measured once on a quiet machine, not in this run".to_string(),
            )
        }
    }
}

/// Runs [`BUILDKIT_ROUND`] for 2 s on `input`; its MB/s, after checking that it parsed the
/// `bytes` this benchmark parses.
fn buildkit_round(input: &str, bytes: usize) -> Result<f64, String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("python3")
        .args(["-c", BUILDKIT_ROUND, "2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    let written = child
        .stdin
        .take()
        .ok_or_else(|| "python3: no stdin".to_string())
        .and_then(|mut stdin| {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| format!("python3: writing the texts: {e}"))
        });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("python3: {e}"))?;
    written?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "python3 failed ({}): {}",
            out.status,
            err.lines().last().unwrap_or("")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let size: usize = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("python3 printed {text:?}"))?;
    let rate: f64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| format!("python3 printed {text:?}"))?;
    if size != bytes {
        return Err(format!(
            "BuildKit's round parsed {size} bytes, this benchmark {bytes}"
        ));
    }
    Ok(rate)
}

/// The least any parser can do with the corpus: look at every byte once (count the
/// newlines), timed like the parser (median MB/s of 5 rounds of passes, 1 s each).
fn scan_rate(inputs: &[String], bytes: usize) -> f64 {
    let mut rates = Vec::new();
    for _ in 0..5 {
        let (elapsed, passes) = timed(Duration::from_secs(1), || {
            for text in inputs {
                black_box(
                    black_box(text.as_bytes())
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count(),
                );
            }
        });
        rates.push((bytes * passes) as f64 / elapsed.as_secs_f64() / 1e6);
    }
    median(&mut rates)
}

// The hostile inputs at full size (`div` 1) and half size (2).
fn exponential(div: usize) -> String {
    hostile::exponential_args(27 / div)
}

fn nested(div: usize) -> String {
    hostile::nested_default(13_000 / div)
}

fn onbuild(div: usize) -> String {
    hostile::onbuild_chain(40_000 / div)
}

fn deep(div: usize) -> String {
    hostile::deep_args(200 / div, 90)
}

fn wide(div: usize) -> String {
    hostile::wide_args(200 / div, 8)
}

/// Calls `f` until `min` has passed; returns the time taken and the number of calls.
fn timed(min: Duration, mut f: impl FnMut()) -> (Duration, usize) {
    let start = Instant::now();
    let mut n = 0;
    loop {
        f();
        n += 1;
        let e = start.elapsed();
        if e >= min {
            return (e, n);
        }
    }
}

/// Median MB/s of three half-second rounds over one input.
fn rate(text: &str, args: &BuildArgs) -> f64 {
    let mut v: Vec<f64> = (0..3)
        .map(|_| {
            let (e, n) = timed(Duration::from_millis(500), || {
                black_box(analyze(black_box(text), args));
            });
            (text.len() * n) as f64 / e.as_secs_f64() / 1e6
        })
        .collect();
    median(&mut v)
}

fn heredoc(div: usize) -> String {
    let mut s = String::from("FROM alpine:3.19\nRUN <<EOF\n");
    for i in 0..5_000 / div {
        s.push_str(&format!(
            "echo \"line {i} of the heredoc body\" >> /tmp/out\n"
        ));
    }
    s.push_str("EOF\n");
    s
}

fn continuation(div: usize) -> String {
    let mut s = String::from("FROM alpine:3.19\nRUN set -eux \\\n");
    for i in 0..3_000 / div {
        s.push_str(&format!("    && echo \"step {i}\" > /dev/null \\\n"));
    }
    s.push_str("    && true\n");
    s
}

fn long_line(div: usize) -> String {
    let mut s = String::from("FROM alpine:3.19\nRUN echo");
    let target = 60 * 1024 / div;
    let mut i = 0;
    while s.len() < target {
        s.push_str(&format!(" word{i}"));
        i += 1;
    }
    s.push('\n');
    s
}

fn load_inputs() -> Result<(String, Vec<String>), String> {
    let root = workspace_root();
    let corpus = root.join("../shared/corpus/dockerfiles");
    let mut files = Vec::new();
    if corpus.is_dir() {
        walk(&corpus, &mut files)?;
        files.sort();
        let label = corpus.display().to_string();
        return Ok((label, read_all(&files)?));
    }
    let testdata = root.join("testdata/dockerfile");
    println!(
        "{} not found; benchmarking testdata/dockerfile instead",
        corpus.display()
    );
    walk(&testdata, &mut files)?;
    files.retain(|p| p.file_name().is_some_and(|n| n == "Dockerfile"));
    files.sort();
    Ok((testdata.display().to_string(), read_all(&files)?))
}

fn read_all(files: &[PathBuf]) -> Result<Vec<String>, String> {
    files
        .iter()
        .map(|p| {
            std::fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}
