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

use if_kargo::{Config, Generated, Slot};
use if_model::diag::{Diagnostic, Severity};
use if_model::factory::{FactoryFiles, SourceFile};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, outfile, output};

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

/// The resources to write, before they are built: one slot per resource (kind, name,
/// image), the configuration they are built with, and the warnings. The factory is gone by
/// then: at 100,000 images the factory and the resources are each hundreds of megabytes,
/// so they are never in memory together, and the resources are built and written a block
/// at a time ([`Prepared::write`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The resources, sorted by kind and name.
    pub slots: Vec<Slot>,
    /// Warnings: problems in state files, and what the generator adjusted.
    pub warnings: Vec<Diagnostic>,
    config: Config,
}

impl Prepared {
    /// Builds and renders the resources a block at a time, handing `sink` the file's text a
    /// piece at a time (the pieces joined are [`Rendered::text`]).
    pub fn write(&self, sink: impl FnMut(&str) -> Result<(), CliError>) -> Result<(), CliError> {
        if_kargo::render_each(&self.slots, &self.config, sink)
    }

    /// The whole file's text.
    pub fn text(&self) -> Result<String, CliError> {
        let mut text = String::new();
        self.write(|piece| {
            text.push_str(piece);
            Ok(())
        })?;
        Ok(text)
    }

    /// The configuration the resources are built with (`if_kargo::build::resource`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every resource, built.
    pub fn resources(&self) -> Vec<Generated> {
        self.slots
            .iter()
            .map(|s| if_kargo::build::resource(&self.config, s))
            .collect()
    }
}

/// A rendered factory, whole in memory (for tests and golden files; `generate` itself
/// writes a [`Prepared`] a block at a time).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The file's text.
    pub text: String,
    /// The resources in it.
    pub resources: Vec<Generated>,
    /// Warnings: problems in state files, and what the generator adjusted.
    pub warnings: Vec<Diagnostic>,
}

impl Rendered {
    fn of(p: Prepared) -> Result<Rendered, CliError> {
        Ok(Rendered {
            text: p.text()?,
            resources: p.resources(),
            warnings: p.warnings,
        })
    }
}

/// Reads the factory at `root` (and its `kargo.yaml`, when present) and prepares its
/// resources.
pub fn prepare_root(root: &Path, options: &Options) -> Result<Prepared, CliError> {
    let (factory, diags, _) = load::load_factory(root)?;
    let config = config_path(root);
    let config = if config.exists() {
        Some(load::read_source(&config)?)
    } else {
        None
    };
    prepare(factory, diags, &images_file(root), config.as_ref(), options)
}

/// Reads the factory at `root` (and its `kargo.yaml`, when present) and renders it.
pub fn render_root(root: &Path, options: &Options) -> Result<Rendered, CliError> {
    Rendered::of(prepare_root(root, options)?)
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
    Rendered::of(prepare(factory, diags, images_file, config, options)?)
}

/// Plans a loaded factory's resources (`diags`: the problems found loading it) and drops
/// the factory.
fn prepare(
    factory: if_model::factory::Factory,
    diags: Vec<Diagnostic>,
    images_file: &str,
    config: Option<&SourceFile>,
    options: &Options,
) -> Result<Prepared, CliError> {
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
    if let Some(name) = &options.image {
        let known = factory.enrollment.get(name).is_some()
            || factory.images.iter().any(|(_, s)| &s.name == name)
            || factory.bases.iter().any(|(_, s)| &s.name == name);
        if !known {
            let names = (factory.enrollment.images().iter().map(|e| e.name.as_str()))
                .chain(factory.images.iter().map(|(_, s)| s.name.as_str()))
                .chain(factory.bases.iter().map(|(_, s)| s.name.as_str()));
            return Err(CliError::Input(format!(
                "{}; neither an image nor a base image of the factory",
                if_model::diag::no_such_image(name, if_model::diag::closest_name(name, names))
            )));
        }
    }
    let plan = if_kargo::monitor::plan(&factory, images_file);
    drop(factory);
    let mut slots = if_kargo::build::layout(&plan, &config);
    if let Some(name) = &options.image {
        slots.retain(|s| s.owner() == Some(name.as_str()));
    }
    let mut warnings: Vec<Diagnostic> = diags
        .into_iter()
        .map(|d| Diagnostic {
            severity: Severity::Warning,
            ..d
        })
        .collect();
    warnings.extend(plan.notes);
    Ok(Prepared {
        slots,
        warnings,
        config,
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
#[serde(rename_all = "camelCase")]
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
    let p = prepare_root(&cli.root, &options)?;
    let json = cli.format == Format::Json;
    if !json {
        for w in &p.warnings {
            eprintln!("{w}");
        }
    }
    let mut report = Report {
        path: None,
        // Listed only where they are printed: 375,000 at 100,000 images.
        resources: if json {
            p.slots
                .iter()
                .map(|s| ResourceRef {
                    kind: s.kind().as_str(),
                    name: s.name.clone(),
                    image: s.owner().map(str::to_string),
                })
                .collect()
        } else {
            Vec::new()
        },
        written: false,
        up_to_date: false,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        warnings: p.warnings.iter().map(ToString::to_string).collect(),
        yaml: None,
    };
    if let Some(name) = &args.image
        && p.slots.is_empty()
        && !json
    {
        eprintln!(
            "`{name}` has no resources of its own: it is not watched, or another image's Warehouse serves it"
        );
    }
    let to_stdout = args.dry_run || (args.image.is_some() && args.out.is_none());
    if to_stdout {
        if json {
            report.yaml = Some(p.text()?);
            output::print_json(&report)?;
        } else {
            print_yaml(&p)?;
        }
        return Ok(Outcome::Ok);
    }
    let path = args.out.clone().unwrap_or_else(|| default_out(&cli.root));
    report.path = Some(path.display().to_string());
    let mode = if args.check {
        outfile::Mode::Compare
    } else {
        outfile::Mode::Write
    };
    let mut file = outfile::Replacement::new(&path, mode)?;
    p.write(|piece| file.push(piece))?;
    let differed = file.finish()?;
    report.up_to_date = !differed;
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
            let d = if_kargo::diff(existing.as_deref().unwrap_or_default(), &p.text()?);
            report.added = d.added;
            report.removed = d.removed;
            report.changed = d.changed;
        }
        if json {
            output::print_json(&report)?;
        } else if report.up_to_date {
            crate::output::info(format_args!("{} is up to date", path.display()));
        } else {
            print_summary(&path, missing, &report);
        }
        return Ok(if report.up_to_date {
            Outcome::Ok
        } else {
            Outcome::CheckFailed
        });
    }
    report.written = differed;
    if json {
        output::print_json(&report)?;
    } else {
        let verb = if report.written {
            "wrote"
        } else {
            "up to date:"
        };
        crate::output::info(format_args!(
            "{verb} {} ({} resources)",
            path.display(),
            p.slots.len()
        ));
    }
    Ok(Outcome::Ok)
}

/// Writes the resources on stdout a block at a time.
fn print_yaml(p: &Prepared) -> Result<(), CliError> {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let failed = |e: std::io::Error| CliError::Write {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    p.write(|piece| out.write_all(piece.as_bytes()).map_err(failed))?;
    out.flush().map_err(failed)
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
