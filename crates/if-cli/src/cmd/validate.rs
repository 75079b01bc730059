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
    let (_, state_files, diags, kargo) = check_factory(root)?;
    Ok((state_files, diags, kargo))
}

/// [`check`], with the factory as read.
fn check_factory(
    root: &Path,
) -> Result<(if_model::factory::Factory, usize, Vec<Diagnostic>, bool), CliError> {
    let (factory, mut diags, state_files) = load::load_unchecked(root)?;
    diags.extend(failed_discoveries(&factory));
    let kargo = super::generate::config_path(root);
    let kargo_checked = kargo.exists();
    if kargo_checked {
        let src = load::read_source(&kargo)?;
        diags.extend(if_kargo::config::Config::parse(&src.text, &src.path).1);
    }
    Ok((factory, state_files, diags, kargo_checked))
}

/// One diagnostic per managed image whose forge host has no credential in this environment,
/// at its `name:` line in `images.yaml`: an error when a host-rules file is set (the user
/// declared the inventory of credentials), else a warning. Nothing when the environment
/// holds no forge credential at all (a check of the enrollment away from the factory's
/// secrets). Reads the key files the credentials name; sends nothing.
fn missing_credentials(
    root: &Path,
    factory: &if_model::factory::Factory,
) -> Result<Vec<Diagnostic>, CliError> {
    if !crate::forge_auth::credentials_configured() {
        return Ok(Vec::new());
    }
    let managed: Vec<(&str, &if_model::enrollment::Source)> = factory
        .enrollment
        .images()
        .iter()
        .filter_map(|i| i.source.as_ref().map(|s| (i.name.as_str(), s)))
        .collect();
    let forges = crate::forge_auth::forges_from_env(
        &crate::settings::retry(0, 1),
        managed.iter().map(|(_, s)| *s),
    )?;
    let lacking = forges.without_credentials(managed);
    if lacking.is_empty() {
        return Ok(Vec::new());
    }
    let path = load::images_path(root);
    let text = load::read_source(&path).map(|s| s.text).unwrap_or_default();
    let file = path.to_string_lossy();
    Ok(lacking
        .into_iter()
        .map(|(name, message)| {
            let pos = name_line(&text, name);
            if forges.rules_file().is_some() {
                Diagnostic::error(&file, pos, message)
            } else {
                Diagnostic::warning(&file, pos, message)
            }
        })
        .collect())
}

/// The position of `name: NAME` (an image's entry) in `images.yaml`, else line 1.
fn name_line(text: &str, name: &str) -> if_model::yaml::Pos {
    let found = text.lines().enumerate().find_map(|(i, l)| {
        let at = l.find("name:")?;
        let value = l[at + 5..].trim().trim_matches(['"', '\'']);
        (value == name).then_some((i, at))
    });
    match found {
        Some((i, at)) => if_model::yaml::Pos {
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            col: u32::try_from(at + 1).unwrap_or(u32::MAX),
        },
        None => if_model::yaml::Pos { line: 1, col: 1 },
    }
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
    let (factory, state_files, mut diags, kargo_checked) = check_factory(&cli.root)?;
    let credentials = missing_credentials(&cli.root, &factory)?;
    let refused = credentials
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    diags.extend(credentials);
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
    if refused > 0 {
        let rules = crate::settings::env(crate::forge_auth::HOST_RULES_ENV).unwrap_or_default();
        return Err(CliError::Input(format!(
            "{refused} image(s) have no credentials for their host in the host-rules file {rules}"
        )));
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
