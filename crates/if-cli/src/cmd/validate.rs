//! `image-factory validate`: checks `images.yaml` and every state file, reporting every
//! problem as `path:line:col: error: message`.

use std::path::Path;

use if_model::diag::{Diagnostic, Severity, has_errors};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `validate` (none besides the global `--root` and `--format`).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    valid: bool,
    problems: Vec<Problem<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    severity: &'static str,
    message: &'a str,
}

/// Reads and checks the factory at `root` (`images.yaml`, the state files and, when present,
/// `kargo.yaml`): how many state files were read, every problem, and whether `kargo.yaml`
/// was there.
pub fn check(root: &Path) -> Result<(usize, Vec<Diagnostic>, bool), CliError> {
    let (factory, mut diags, state_files) = load::load_unchecked(root)?;
    diags.extend(failed_discoveries(&factory));
    let kargo = super::generate::config_path(root);
    let kargo_checked = kargo.exists();
    if kargo_checked {
        let src = load::read_source(&kargo)?;
        diags.extend(if_kargo::config::Config::parse(&src.text, &src.path).1);
    }
    Ok((state_files, diags, kargo_checked))
}

/// One error per image whose state records a failed discovery (`discoveryStatus: failed`):
/// its base images are unknown, so nothing rebuilds it when they change. Placed at the
/// `discoveryStatus` line of the state file (read again; only failed images are).
fn failed_discoveries(factory: &if_model::factory::Factory) -> Vec<Diagnostic> {
    factory
        .images
        .iter()
        .filter(|(_, s)| s.discovery_status.as_deref() == Some("failed"))
        .map(|(path, s)| {
            let line = load::read_source(Path::new(path))
                .ok()
                .and_then(|src| {
                    src.text
                        .lines()
                        .position(|l| l.starts_with("discoveryStatus:"))
                })
                .and_then(|i| u32::try_from(i + 1).ok())
                .unwrap_or(1);
            let why = s.discovery_error.as_deref().unwrap_or("no reason recorded");
            let name = Path::new(path)
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Diagnostic::error(
                path,
                if_model::yaml::Pos { line, col: 1 },
                format!(
                    "the last discovery of `{name}` failed ({why}); fix its source and run \
                     `image-factory analyze --image {name}`"
                ),
            )
        })
        .collect()
}

/// Runs `validate`.
pub fn run(cli: &Cli, _args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let (state_files, diags, kargo_checked) = check(&cli.root)?;
    let valid = !has_errors(&diags);
    match cli.format {
        Format::Json => output::print_json(&Report {
            valid,
            problems: diags.iter().map(problem).collect(),
        })?,
        Format::Text | Format::Dot | Format::Mermaid => {
            for d in &diags {
                println!("{}", output::escape_controls(&d.to_string()));
            }
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let checked = 1 + usize::from(kargo_checked) + state_files;
            if valid {
                crate::output::info(format_args!("{checked} files checked: no problems"));
            } else {
                eprintln!("{checked} files checked: {errors} error(s)");
            }
        }
    }
    Ok(if valid {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}

fn problem(d: &Diagnostic) -> Problem<'_> {
    Problem {
        file: &d.file,
        line: d.pos.line,
        column: d.pos.col,
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: &d.message,
    }
}
