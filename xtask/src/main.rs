//! `cargo xtask`: project automation. `generate [--check]` rewrites (or checks) every generated
//! file in the repository; `bench NAME` runs a benchmark and prints its figures; `synth`
//! writes a synthetic factory of any size.

mod bench;
mod bench_check;
mod bench_dockerfile;
mod bench_floor;
mod bench_measure;
mod bench_registry;
mod bench_scale;
mod bench_scale_check;
mod bench_scale_json;
mod bench_scale_table;
mod bench_writer;
mod generate;
mod golden_dockerfile;
mod golden_kargo;
mod synth;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  generate [--check]   regenerate dist/ and the golden files under testdata/;
                       with --check, change nothing and exit 1 when anything is stale
  bench [NAME]         run a benchmark (names: dockerfile, check, scale); without NAME, all
                       of them, with one summary table at the end;
                       `bench scale [--sizes 1000,10000] [--json PATH]` limits the sizes
                       (also IMAGE_FACTORY_BENCH_SIZES) and says where the JSON figures go
                       (default bench/scale.json in the target directory)
  synth --images N [--bases M] [--depth D] [--registry HOST:PORT] --out DIR
                       write a deterministic synthetic factory: N enrolled images (GitHub,
                       GitLab, external), M base images (default N/5), internal chains up to
                       D deep (default 4), Dockerfiles, and state with histories; with
                       --registry, every registry host of the factory is that one
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["generate"] => generate::run(false),
        ["generate", "--check"] => generate::run(true),
        ["bench", rest @ ..] => bench::run(rest),
        // The measuring wrapper of `bench scale` (not for people).
        ["__measure", rest @ ..] => bench_measure::measure(rest),
        ["synth", rest @ ..] => synth::run(rest),
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}
