//! `image-factory generate`: the Kargo resources of the factory (if-kargo), written to
//! `dist/image-factory.k8s.yaml` beside the factory root, printed (`--dry-run`, `--image`),
//! or compared with the file on disk (`--check`, exit 1 with a summary when stale).
//!
//! Inputs: `images.yaml` and the state files (as `validate` reads them) and the optional
//! `kargo.yaml` beside `images.yaml` (the generator's configuration). Problems that make an
//! `images.yaml` entry unusable, and any problem in `kargo.yaml`, end the command (exit 2,
//! `path:line:col` messages, nothing written). Problems in state files (written by the tool,
//! often by older versions) and what the generator adjusted are printed as warnings.

use std::path::{Path, PathBuf};

use if_kargo::{Config, Generated};
use if_model::diag::{Diagnostic, Severity};
use if_model::factory::{FactoryFiles, SourceFile};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// The default output, relative to the directory containing the factory root.
pub const DEFAULT_OUT: &str = "dist/image-factory.k8s.yaml";

/// Arguments of `generate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Output file (default: dist/image-factory.k8s.yaml in the directory containing the root).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Only the resources of this image (an image name or a base-image state name); printed
    /// on stdout unless --out is given.
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
    /// Print the resources on stdout instead of writing the file.
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,
    /// Change nothing; exit 1 with a summary of the differences when the file is not up to date.
    #[arg(long, conflicts_with = "image")]
    pub check: bool,
    /// Also watch each managed image's Dockerfile (a git Warehouse and a Stage re-running
    /// `analyze`), as `dockerfileWatch.enabled: true` in kargo.yaml does.
    #[arg(long)]
    pub with_dockerfile_watch: bool,
}

/// A rendered factory.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The file's text.
    pub text: String,
    /// The resources in it.
    pub resources: Vec<Generated>,
    /// Warnings: problems in state files, and what the generator adjusted.
    pub warnings: Vec<Diagnostic>,
}

/// What to render.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this image's resources.
    pub image: Option<String>,
    /// Force the Dockerfile watch on.
    pub dockerfile_watch: bool,
}

/// `kargo.yaml` beside `images.yaml`.
pub fn config_path(root: &Path) -> PathBuf {
    root.join(if_kargo::config::FILE_NAME)
}

/// `images.yaml` of a root, as it appears in the diagnostics.
pub fn images_file(root: &Path) -> String {
    load::images_path(root).display().to_string()
}

/// The default output for a factory root: `dist/image-factory.k8s.yaml` in its parent.
pub fn default_out(root: &Path) -> PathBuf {
    let parent = match root.file_name() {
        Some(_) => root.parent().map(Path::to_path_buf),
        None => std::fs::canonicalize(root)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    };
    parent.unwrap_or_default().join(DEFAULT_OUT)
}

/// Reads the factory at `root` (and its `kargo.yaml`, when present) and renders it.
pub fn render_root(root: &Path, options: &Options) -> Result<Rendered, CliError> {
    let (factory, diags, _) = load::load_factory(root)?;
    let config = config_path(root);
    let config = if config.exists() {
        Some(load::read_source(&config)?)
    } else {
        None
    };
    render_factory(factory, diags, &images_file(root), config.as_ref(), options)
}

/// Renders a factory from file contents (`images_file` is the path of `images.yaml` as it
/// appears in `files`). Errors as `render_root`.
pub fn render_files(
    files: &FactoryFiles,
    images_file: &str,
    config: Option<&SourceFile>,
    options: &Options,
) -> Result<Rendered, CliError> {
    let (factory, diags) = if_model::factory::load(files);
    render_factory(factory, diags, images_file, config, options)
}

/// Renders a loaded factory (`diags`: the problems found loading it). The factory is dropped
/// as soon as the resources are built, before they are written out as text (at 100,000
/// images, each is hundreds of megabytes).
fn render_factory(
    factory: if_model::factory::Factory,
    diags: Vec<Diagnostic>,
    images_file: &str,
    config: Option<&SourceFile>,
    options: &Options,
) -> Result<Rendered, CliError> {
    let (mut config, config_diags) = match config {
        Some(f) => Config::parse(&f.text, &f.path),
        None => (Config::default(), Vec::new()),
    };
    let fatal: Vec<String> = diags
        .iter()
        .filter(|d| d.file == images_file && d.is_fatal())
        .chain(
            config_diags
                .iter()
                .filter(|d| d.severity == Severity::Error),
        )
        .map(ToString::to_string)
        .collect();
    if !fatal.is_empty() {
        return Err(CliError::Input(format!(
            "{}\n{} problem(s) in the input; nothing generated",
            fatal.join("\n"),
            fatal.len()
        )));
    }
    config.dockerfile_watch.enabled |= options.dockerfile_watch;
    let out = if_kargo::generate(&factory, images_file, &config);
    let mut warnings: Vec<Diagnostic> = diags
        .into_iter()
        .map(|d| Diagnostic {
            severity: Severity::Warning,
            ..d
        })
        .collect();
    warnings.extend(out.diagnostics.iter().cloned());
    let resources = match &options.image {
        None => out.resources,
        Some(name) => {
            let known = factory.enrollment.get(name).is_some()
                || factory.images.iter().any(|(_, s)| &s.name == name)
                || factory.bases.iter().any(|(_, s)| &s.name == name);
            if !known {
                return Err(CliError::Input(format!(
                    "no image or base image named `{name}` in the factory"
                )));
            }
            out.only(name)
        }
    };
    drop(factory);
    let text = if_kargo::render(&resources).map_err(|e| CliError::Input(e.to_string()))?;
    Ok(Rendered {
        text,
        resources,
        warnings,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    path: Option<String>,
    resources: Vec<ResourceRef>,
    written: bool,
    up_to_date: bool,
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    yaml: Option<String>,
}

#[derive(Serialize)]
struct ResourceRef {
    kind: &'static str,
    name: String,
    image: Option<String>,
}

/// Runs `generate`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let options = Options {
        image: args.image.clone(),
        dockerfile_watch: args.with_dockerfile_watch,
    };
    let r = render_root(&cli.root, &options)?;
    let json = cli.format == Format::Json;
    if !json {
        for w in &r.warnings {
            eprintln!("{w}");
        }
    }
    let mut report = Report {
        path: None,
        resources: r
            .resources
            .iter()
            .map(|g| ResourceRef {
                kind: g.resource.kind(),
                name: g.resource.name().to_string(),
                image: g.owner.clone(),
            })
            .collect(),
        written: false,
        up_to_date: false,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        warnings: r.warnings.iter().map(ToString::to_string).collect(),
        yaml: None,
    };
    if let Some(name) = &args.image
        && r.resources.is_empty()
        && !json
    {
        eprintln!(
            "`{name}` has no resources of its own: it is not watched, or another image's Warehouse serves it"
        );
    }
    let to_stdout = args.dry_run || (args.image.is_some() && args.out.is_none());
    if to_stdout {
        if json {
            report.yaml = Some(r.text);
            output::print_json(&report)?;
        } else {
            print!("{}", r.text);
        }
        return Ok(Outcome::Ok);
    }
    let path = args.out.clone().unwrap_or_else(|| default_out(&cli.root));
    report.path = Some(path.display().to_string());
    report.up_to_date = same_contents(&path, &r.text)?;
    if args.check {
        let existing = if report.up_to_date {
            None
        } else {
            match std::fs::read_to_string(&path) {
                Ok(t) => Some(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(CliError::Read { path, source }),
            }
        };
        let missing = existing.is_none() && !report.up_to_date;
        if !report.up_to_date {
            let d = if_kargo::diff(existing.as_deref().unwrap_or_default(), &r.text);
            report.added = d.added;
            report.removed = d.removed;
            report.changed = d.changed;
        }
        if json {
            output::print_json(&report)?;
        } else if report.up_to_date {
            eprintln!("{} is up to date", path.display());
        } else {
            print_summary(&path, missing, &report);
        }
        return Ok(if report.up_to_date {
            Outcome::Ok
        } else {
            Outcome::CheckFailed
        });
    }
    if !report.up_to_date {
        load::write_atomic(&path, &r.text)?;
        report.written = true;
    }
    if json {
        output::print_json(&report)?;
    } else {
        let verb = if report.written {
            "wrote"
        } else {
            "up to date:"
        };
        eprintln!(
            "{verb} {} ({} resources)",
            path.display(),
            report.resources.len()
        );
    }
    Ok(Outcome::Ok)
}

/// Whether the file at `path` holds exactly `text` (false when it is missing). Compared a
/// block at a time, and not at all when the sizes differ: the file can be hundreds of
/// megabytes.
fn same_contents(path: &Path, text: &str) -> Result<bool, CliError> {
    use std::io::Read as _;
    let err = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(err(e)),
    };
    if file.metadata().map_err(err)?.len() != text.len() as u64 {
        return Ok(false);
    }
    let mut block = vec![0u8; 1 << 20];
    let mut rest = text.as_bytes();
    loop {
        let n = file.read(&mut block).map_err(err)?;
        if n == 0 {
            return Ok(rest.is_empty());
        }
        if n > rest.len() || block[..n] != rest[..n] {
            return Ok(false);
        }
        rest = &rest[n..];
    }
}

fn print_summary(path: &Path, missing: bool, report: &Report) {
    if missing {
        println!(
            "{} does not exist (run `image-factory generate`)",
            path.display()
        );
        return;
    }
    println!(
        "{} is not up to date (run `image-factory generate`):",
        path.display()
    );
    for (what, list) in [
        ("added", &report.added),
        ("removed", &report.removed),
        ("changed", &report.changed),
    ] {
        for r in list {
            println!("  {what:<8} {r}");
        }
    }
    if report.added.is_empty() && report.removed.is_empty() && report.changed.is_empty() {
        println!("  changed  header, comments or layout");
    }
}

/// Runs one golden case `testdata/kargo/<case>/` (the directory is the factory root): the
/// rendered file and the warnings, one per line with paths relative to the case (what
/// `cargo xtask generate` writes as `expected.k8s.yaml` and `expected.txt`).
pub fn golden_case(case: &Path) -> Result<(String, String), CliError> {
    let r = render_root(case, &Options::default())?;
    let prefix = format!("{}/", case.display());
    let warnings = r
        .warnings
        .iter()
        .map(|w| format!("{}\n", w.to_string().replace(&prefix, "")))
        .collect();
    Ok((r.text, warnings))
}
