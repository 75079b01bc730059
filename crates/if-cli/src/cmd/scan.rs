//! `image-factory record-scan`: one vulnerability report (Trivy or Grype JSON) of one digest
//! of a base image, recorded on that base image's state (`digests[].scan`).

use std::path::PathBuf;

use if_model::digest::Digest;
use if_model::timestamp::Timestamp;
use if_state::rebuild::{self, Subject};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::cmd::record::parse_digest;
use crate::exit::{CliError, Outcome};
use crate::{load, output, safefs};

/// The largest report read (Trivy reports of big images run to tens of megabytes).
pub(crate) const MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Arguments of `record-scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The base image the report is about (`node:22-bookworm-slim`, its state name).
    #[arg(long, value_name = "REF")]
    pub image: String,
    /// The digest that was scanned; one the factory has seen for that image.
    #[arg(long, value_name = "DIGEST", value_parser = parse_digest)]
    pub digest: Digest,
    /// The report: Trivy `--format json` or Grype `-o json`.
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// When the scan was made, RFC 3339 (default: --now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    base_image: &'a str,
    digest: &'a str,
    scanner: &'a str,
    counts: &'a std::collections::BTreeMap<String, u32>,
    critical: &'a [String],
    high: &'a [String],
    fixable: &'a [String],
    truncated: u32,
    written: &'a [String],
}

/// Reads a report file and parses it (`path:line:col` on a malformed one).
pub fn read_report(
    path: &std::path::Path,
) -> Result<(if_state::scan::Scanner, if_model::supply::Scan), CliError> {
    let bytes = safefs::read_file(path, MAX_REPORT_BYTES, safefs::Links::Follow)?
        .ok_or_else(|| CliError::Input(format!("{}: no such report file", path.display())))?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(CliError::Input(format!(
            "{}: the report is larger than {} MiB",
            path.display(),
            MAX_REPORT_BYTES / 1024 / 1024
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::Input(format!("{}:1:1: error: not UTF-8", path.display())))?;
    if_state::scan::parse_report(&text, &path.display().to_string())
        .map_err(|d| CliError::Input(d.to_string()))
}

/// Records `scan` of `digest` on the base image `image` names; the digest must be one the
/// factory has seen for it.
pub fn record(
    enrollment: &if_model::enrollment::Enrollment,
    world: &mut if_state::Analysis,
    image: &str,
    digest: &Digest,
    scan: if_model::supply::Scan,
    at: Timestamp,
) -> Result<String, CliError> {
    let subject = rebuild::resolve_or_unknown(enrollment, world, image)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let Subject::Base { identity, name } = subject else {
        return Err(CliError::Input(format!(
            "`{image}` is an image of the factory, not a base image: scans are recorded on base images"
        )));
    };
    let base = world
        .bases
        .get_mut(&identity)
        .ok_or_else(|| CliError::Input(format!("`{image}`: no base-image state")))?;
    let seen = base.current_digest.as_ref() == Some(digest)
        || base.previous_digest.as_ref() == Some(digest)
        || base
            .update_history
            .iter()
            .any(|u| u.digest.as_ref() == Some(digest));
    if !seen {
        return Err(CliError::Input(format!(
            "{name}: the factory has not seen digest {digest} (record it first with `image-factory record-update` or `check`)"
        )));
    }
    if_state::scan::record_scan(base, digest, scan, at);
    world
        .changes
        .push(format!("{name}: scan of {} recorded", digest.short()));
    Ok(name)
}

/// Runs `record-scan`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let (scanner, scan) = read_report(&args.report)?;
    let at = args.at.unwrap_or_else(|| now_or_clock(args.now));
    let factory = load::load_for_update(&cli.root)?;
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let name = record(
        &enrollment,
        &mut world,
        &args.image,
        &args.digest,
        scan.clone(),
        at,
    )?;
    let written = load::write_state(&cli.root, &baseline, &world)?;
    if cli.format == Format::Json {
        output::print_json(&Report {
            base_image: &name,
            digest: args.digest.as_str(),
            scanner: scanner.as_str(),
            counts: &scan.counts,
            critical: &scan.critical,
            high: &scan.high,
            fixable: &scan.fixable,
            truncated: scan.truncated.unwrap_or(0),
            written: &written,
        })?;
    } else {
        let counts: Vec<String> = scan
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        output::line(format_args!(
            "{name}: {} scan of {} recorded ({})",
            scanner.as_str(),
            args.digest.short(),
            if counts.is_empty() {
                "no vulnerabilities".to_string()
            } else {
                counts.join(", ")
            }
        ));
    }
    Ok(Outcome::Ok)
}
