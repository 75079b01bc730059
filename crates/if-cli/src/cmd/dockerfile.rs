//! `image-factory dockerfile FILE [--build-arg NAME=VALUE]...`: shows how one Dockerfile is
//! parsed and which base images it depends on (BuildKit's semantics, see `if-dockerfile`).

use std::path::PathBuf;

use if_dockerfile::{BuildArgs, LineIndex, Severity, analyze_bytes, parse_build_arg};

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::output;

/// The report in the CLI's JSON (camelCase, `docs/json.md`); the golden files keep the
/// library's own keys.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Json<'a> {
    valid: bool,
    error: Option<&'a str>,
    stages: &'a [if_dockerfile::ReportStage],
    base_images: &'a [String],
}

/// Arguments of `dockerfile`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The Dockerfile to read.
    pub file: PathBuf,
    /// A build argument, `NAME=VALUE` (repeatable); it overrides a global ARG of that name
    /// or an automatic platform ARG (`TARGETARCH`...).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
}

/// Runs `dockerfile`. The verdict is in the output: exit 0 whether the file is valid or not,
/// 2 when it cannot be read or a build-arg is malformed.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let mut build_args = BuildArgs::new();
    for raw in &args.build_args {
        let (k, v) = parse_build_arg(raw).map_err(CliError::Input)?;
        build_args.insert(k, v);
    }
    let bytes = crate::safefs::read_file(
        &args.file,
        crate::safefs::MAX_DOCKERFILE_BYTES,
        crate::safefs::Links::Follow,
    )?
    .ok_or_else(|| CliError::Read {
        path: args.file.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let (text, analysis) = analyze_bytes(&bytes, &build_args);
    let report = analysis.report(&text);
    if cli.format == Format::Json {
        output::print_json(&Json {
            valid: report.valid,
            error: report.error.as_deref(),
            stages: &report.stages,
            base_images: &report.base_images,
        })?;
        return Ok(Outcome::Ok);
    }
    let path = args.file.display();
    if report.valid {
        println!("{path}: valid, {} stage(s)", report.stages.len());
    } else {
        println!("{path}: invalid (BuildKit rejects it)");
    }
    for (i, s) in report.stages.iter().enumerate() {
        let name = s
            .name
            .as_deref()
            .map(|n| format!(" AS {n}"))
            .unwrap_or_default();
        let platform = s
            .platform
            .as_deref()
            .map(|p| format!(" [platform {p}]"))
            .unwrap_or_default();
        let base = serde_json::to_value(s.base)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        println!(
            "  stage {i}{name}: FROM {} ({}){platform}",
            s.from,
            base.unwrap_or_default()
        );
    }
    if !report.base_images.is_empty() {
        println!("base images:");
        for b in &report.base_images {
            println!("  {b}");
        }
    }
    let lines = LineIndex::new(&text);
    for d in &analysis.diagnostics {
        let pos = lines.position(&text, d.span.start);
        let level = if d.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        eprintln!(
            "{path}:{}:{}: {level}: {}",
            pos.line,
            pos.column,
            d.message()
        );
    }
    Ok(Outcome::Ok)
}
