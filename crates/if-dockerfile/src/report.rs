//! The JSON report of the `dockerfile` command and of the golden files:
//! `{"valid","error","stages":[{"name","from","platform","base"}],"base_images":[...]}`.

use serde::Serialize;

use crate::Analysis;
use crate::resolve::{BaseKind, BuildArgs};
use crate::span::LineIndex;

/// One stage in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportStage {
    /// Lowercased stage name, or `null`.
    pub name: Option<String>,
    /// The FROM value after expansion as written (the raw text when unresolved).
    pub from: String,
    /// The platform (expanded when possible), or `null`.
    pub platform: Option<String>,
    /// `external`, `stage`, `scratch` or `unresolved`.
    pub base: BaseKind,
}

/// The whole report. `valid: false` comes with an `error` and empty lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Whether BuildKit would accept the file statically.
    pub valid: bool,
    /// The first error, as `line N: message`, when not valid.
    pub error: Option<String>,
    /// Every stage, in order.
    pub stages: Vec<ReportStage>,
    /// Distinct external base images, in order of first textual use.
    pub base_images: Vec<String>,
}

impl Report {
    /// Builds the report of an analysis of `src`.
    pub fn new(src: &str, analysis: &Analysis) -> Report {
        if let Some(err) = analysis.first_error() {
            let line = LineIndex::new(src).position(src, err.span.start).line;
            return Report {
                valid: false,
                error: Some(format!("line {line}: {}", err.message())),
                stages: Vec::new(),
                base_images: Vec::new(),
            };
        }
        Report {
            valid: true,
            error: None,
            stages: analysis
                .stages
                .iter()
                .map(|s| ReportStage {
                    name: s.name.clone(),
                    from: s.from.clone(),
                    platform: s.platform.clone(),
                    base: s.base,
                })
                .collect(),
            base_images: analysis
                .base_images
                .iter()
                .map(|b| b.reference.clone())
                .collect(),
        }
    }
}

/// Reads a build-args file: one `NAME=VALUE` per line; blank lines and `#` comments are
/// skipped; a line without `=` is an error naming its line number.
pub fn parse_build_args_file(text: &str) -> Result<BuildArgs, String> {
    let mut out = BuildArgs::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (k, v) = parse_build_arg(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.insert(k, v);
    }
    Ok(out)
}

/// Reads one `NAME=VALUE` build argument (the value may be empty or contain `=`).
pub fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("build-arg {text:?} is not NAME=VALUE")),
    }
}

/// The report of a golden case: its Dockerfile and optional build-args file.
pub fn golden_report(dockerfile: &str, build_args_file: Option<&str>) -> Result<Report, String> {
    let args = match build_args_file {
        Some(text) => parse_build_args_file(text)?,
        None => BuildArgs::new(),
    };
    Ok(Report::new(dockerfile, &crate::analyze(dockerfile, &args)))
}
