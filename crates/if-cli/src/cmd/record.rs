//! `image-factory record-update` and `record-build`: feed one observed digest to the rebuild
//! engine and write the state it gives (only files that change).

use std::path::Path;

use if_model::digest::Digest;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;
use if_state::rebuild::{self, Recorded};
use serde::Serialize;

use super::scans::Scanned;
use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `record-update`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpdateArgs {
    /// The image that was observed: a base image or an image of the factory
    /// (`node:22-bookworm-slim`, `docker.io/library/node`, `ghcr.io/acme/app`).
    #[arg(long, value_name = "REF")]
    pub image: String,
    /// Its digest now (`sha256:...`).
    #[arg(long, value_name = "DIGEST", value_parser = parse_digest)]
    pub digest: Digest,
    /// The tag observed, when --image has none (Kargo passes the repository and tag apart).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// When the digest was observed, RFC 3339 (default: --now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    /// The scanner run on the recorded base digest (`--scan-with`, `--scan-timeout`):
    /// Kargo's verification with `verification.scanWith`.
    #[command(flatten)]
    pub scan: crate::scanner::ScanArgs,
}

/// Arguments of `record-build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// The enrolled image that was built (its name in images.yaml).
    #[arg(long, value_name = "NAME")]
    pub image: String,
    /// The digest the build pushed (`sha256:...`); required unless --failed.
    #[arg(long, value_name = "DIGEST", value_parser = parse_digest, required_unless_present = "failed", conflicts_with = "failed")]
    pub digest: Option<Digest>,
    /// The build failed: close its running rebuild as a failed attempt (its causes are
    /// pending again, retried with backoff, `failed` after --max-attempts).
    #[arg(long)]
    pub failed: bool,
    /// Why it failed (with --failed), recorded in the history.
    #[arg(long, value_name = "TEXT", requires = "failed")]
    pub reason: Option<String>,
    /// The failed run's page (with --failed), recorded in the history.
    #[arg(long, value_name = "URL", requires = "failed")]
    pub run_url: Option<String>,
    /// Retries of failed attempts (with --failed; use the same values as `reconcile`).
    #[command(flatten)]
    pub retries: crate::forge::PolicyArgs,
    /// The version (tag) the build published.
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// When the build finished, RFC 3339 (default: --now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

/// Parses a `sha256:...` argument.
pub fn parse_digest(s: &str) -> Result<Digest, String> {
    Digest::parse(s).map_err(|e| e.to_string())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    subject: &'a str,
    outcome: &'a str,
    completed: bool,
    scheduled: Vec<Scheduled<'a>>,
    pinned: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scans: &'a [Scanned],
    changes: &'a [String],
    written: &'a [String],
}

/// One image a recorded digest scheduled, and when it becomes due.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Scheduled<'a> {
    image: &'a str,
    at: String,
}

/// The images `rec` scheduled, for a JSON report.
pub(crate) fn scheduled(rec: &Recorded) -> Vec<Scheduled<'_>> {
    rec.scheduled
        .iter()
        .map(|(image, at)| Scheduled {
            image,
            at: at.to_string(),
        })
        .collect()
}

/// The reference `--image` and `--tag` name together.
fn reference(image: &str, tag: Option<&str>) -> Result<ImageRef, CliError> {
    let text = match tag {
        Some(t) => {
            let base = ImageRef::parse(image)
                .map_err(|e| CliError::Input(format!("--image `{image}`: {e}")))?;
            format!("{}:{t}", base.repo_url())
        }
        None => image.to_string(),
    };
    ImageRef::parse(&text).map_err(|e| CliError::Input(format!("--image `{text}`: {e}")))
}

/// Runs `record-update`.
pub fn run_update(cli: &Cli, args: &UpdateArgs) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let r = reference(&args.image, args.tag.as_deref())?;
    let now = now_or_clock(args.now);
    let at = args.at.unwrap_or(now);
    apply(cli, &cli.root, |en, world| {
        let rec = rebuild::record_update(en, world, &r, &args.digest, at)?;
        let scans = match args.scan.scan_with {
            Some(with) => scan_recorded(with, &args.scan, en, world, &r, &args.digest, now),
            None => Vec::new(),
        };
        Ok((rec, scans))
    })
}

/// `record-update --scan-with`: the digest just recorded, when it is a base image's, is
/// scanned as `check --scan-with` scans a new one (unless it has a report); a failed scan
/// is recorded as no report with the reason and a warning, never an error.
fn scan_recorded(
    with: crate::scanner::ScanWith,
    scan: &crate::scanner::ScanArgs,
    enrollment: &if_model::enrollment::Enrollment,
    world: &mut if_state::Analysis,
    reference: &ImageRef,
    digest: &Digest,
    now: Timestamp,
) -> Vec<Scanned> {
    let Some(rebuild::Subject::Base { identity, .. }) =
        rebuild::resolve(enrollment, world, &reference.to_string())
    else {
        return Vec::new();
    };
    let found = [(identity, digest.clone())];
    let scans = super::scans::scan_new(with, scan.timeout(), world, &found, now);
    for s in scans.iter().filter(|s| s.result == "failed") {
        eprintln!("warning: scan of {}", s.line());
    }
    scans
}

/// Runs `record-build`.
pub fn run_build(cli: &Cli, args: &BuildArgs) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let at = args.at.unwrap_or_else(|| now_or_clock(args.now));
    let Some(digest) = &args.digest else {
        return run_failed(cli, args, at);
    };
    apply(cli, &cli.root, |en, world| {
        rebuild::record_build(en, world, &args.image, digest, args.version.as_deref(), at)
            .map(|rec| (rec, Vec::new()))
    })
}

/// `record-build --failed`: the build's failure closes its running rebuild as a failed
/// attempt. Nothing running (a poll saw the failure first, or the same report twice): nothing
/// changes.
fn run_failed(cli: &Cli, args: &BuildArgs, at: Timestamp) -> Result<Outcome, CliError> {
    let policy = args.retries.policy();
    apply(cli, &cli.root, |en, world| {
        let closed = rebuild::report_failure(
            en,
            world,
            &args.image,
            args.reason.as_deref(),
            args.run_url.as_deref(),
            at,
            &policy,
        )?;
        let rec = Recorded {
            subject: args.image.clone(),
            outcome: if closed { "failed" } else { "no-running-build" },
            ..Recorded::default()
        };
        Ok((rec, Vec::new()))
    })
}

fn apply(
    cli: &Cli,
    root: &Path,
    step: impl FnOnce(
        &if_model::enrollment::Enrollment,
        &mut if_state::Analysis,
    ) -> Result<(Recorded, Vec<Scanned>), rebuild::EngineError>,
) -> Result<Outcome, CliError> {
    let factory = load::load_for_update(root)?;
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let (rec, scans) = step(&enrollment, &mut world).map_err(|e| CliError::Input(e.to_string()))?;
    let written = load::write_state(root, &baseline, &world)?;
    if cli.format == Format::Json {
        output::print_json(&Report {
            subject: &rec.subject,
            outcome: rec.outcome,
            completed: rec.completed,
            scheduled: scheduled(&rec),
            pinned: &rec.pinned,
            scans: &scans,
            changes: &world.changes,
            written: &written,
        })?;
    } else {
        for s in &scans {
            output::line(format_args!("scan {}", s.line()));
        }
        for c in &world.changes {
            output::line(format_args!("{c}"));
        }
        if world.changes.is_empty() {
            output::line(format_args!(
                "{}: {}, nothing to do",
                rec.subject, rec.outcome
            ));
        }
    }
    // Written and reported: the process ends, and freeing 100,000 states one by one would
    // only delay it (about 5% of a run).
    std::mem::forget((enrollment, world, baseline));
    Ok(Outcome::Ok)
}
