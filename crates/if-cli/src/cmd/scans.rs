//! `check`'s supply-chain steps (issue 23), and `check --scan-with trivy`: each base digest
//! the check found new is scanned by the scanner in the image (`crate::scanner`), and its
//! report goes the way of `record-scan`'s (`if_state::scan::parse_report`, `record_scan`).
//! A scan that fails, hangs or writes something else than a report is recorded as no report
//! with the reason (`scanFailure`), so the clock decides, as for a digest never scanned; it
//! never stops the check, and the next check with `--scan-with` tries that digest again
//! while the base still points at it.

use std::time::Duration;

use if_model::digest::Digest;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;
use serde::Serialize;

use crate::scanner::{self, ScanWith};

/// What one scan gave.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Scanned {
    /// The base image (state name).
    pub image: String,
    /// The digest scanned.
    pub digest: String,
    /// `recorded` or `failed`.
    pub result: &'static str,
    /// Vulnerabilities by severity (`recorded`).
    pub counts: std::collections::BTreeMap<String, u32>,
    /// Why there is no report (`failed`).
    pub reason: Option<String>,
}

impl Scanned {
    /// For people: `base@sha256:12345678: recorded (CRITICAL 1, LOW 2)`, or
    /// `...: no report: why`.
    pub(crate) fn line(&self) -> String {
        let short = &self.digest[..self.digest.len().min(15)];
        match &self.reason {
            Some(why) => format!("{}@{short}: no report: {why}", self.image),
            None => {
                let counts: Vec<String> = self
                    .counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                format!("{}@{short}: recorded ({})", self.image, counts.join(", "))
            }
        }
    }
}

/// `check`'s supply-chain steps once the digests are recorded, warnings on stderr: the
/// signatures owed (`requireSignature`, until verified with the key), `--scan-with` of
/// each new base digest of `found` (`(base key, digest, found new)`), and the attestations
/// owed for them. Returns what each scan gave.
pub(crate) fn after_lookup(
    root: &std::path::Path,
    args: &super::check::Args,
    client: &if_registry::Client,
    enrollment: &if_model::enrollment::Enrollment,
    world: &mut if_state::Analysis,
    found: &[(String, Digest, bool)],
    now: Timestamp,
) -> Vec<Scanned> {
    let split = |want: bool| -> Vec<(String, Digest)> {
        found
            .iter()
            .filter(|(_, _, new)| *new == want)
            .map(|(k, d, _)| (k.clone(), d.clone()))
            .collect()
    };
    let (new, seen) = (split(true), split(false));
    let owing = super::signatures::owing(root, enrollment, world);
    for w in owing.check(client, world, now) {
        eprintln!("warning: {w}");
    }
    let scans = match args.scan.scan_with {
        Some(with) => {
            let timeout = args.scan.timeout();
            // The new digests, then the unchanged ones whose last scan failed: a scanner
            // that was down (or a database that could not be fetched) is tried again while
            // the digest is still the one the base points at.
            let mut owed = new.clone();
            owed.extend(
                seen.iter()
                    .filter(|(k, d)| scan_failed(world, k, d))
                    .cloned(),
            );
            scan_new(with, timeout, world, &owed, now)
        }
        None => Vec::new(),
    };
    for s in scans.iter().filter(|s| s.result == "failed") {
        eprintln!("warning: scan of {}", s.line());
    }
    let limit = usize::from(args.registry.concurrency);
    for w in super::attestations::check_owed(client, world, &new, &seen, limit, now) {
        eprintln!("warning: {w}");
    }
    scans
}

/// Whether the digest `digest` of base `key` has a failed scan and no report.
fn scan_failed(world: &if_state::Analysis, key: &str, digest: &Digest) -> bool {
    world
        .bases
        .get(key)
        .and_then(|b| if_model::supply::facts(&b.digests, digest))
        .is_some_and(|f| f.scan.is_none() && f.scan_failure.is_some())
}

/// Scans every base digest of `found` (`(base key, digest)`) that has no report yet, one at
/// a time, each within `timeout`, and records the outcome at `now` (`check`, and
/// `record-update` for the digest it records).
pub(crate) fn scan_new(
    with: ScanWith,
    timeout: Duration,
    world: &mut if_state::Analysis,
    found: &[(String, Digest)],
    now: Timestamp,
) -> Vec<Scanned> {
    let mut out = Vec::new();
    for (key, digest) in found {
        let Some(base) = world.bases.get_mut(key) else {
            continue;
        };
        let scanned =
            if_model::supply::facts(&base.digests, digest).is_some_and(|f| f.scan.is_some());
        let Some(reference) = base
            .full_image
            .as_deref()
            .and_then(|r| ImageRef::parse(r).ok())
        else {
            continue;
        };
        if scanned {
            continue;
        }
        let target = format!(
            "{}/{}@{digest}",
            reference.registry(),
            reference.repository()
        );
        let outcome = scanner::scan(with, &target, timeout).and_then(|text| {
            let file = format!("{} report of {target}", with.program());
            if_state::scan::parse_report(&text, &file).map_err(|d| d.to_string())
        });
        let name = base.name.clone();
        let row = match outcome {
            Ok((_, scan)) => {
                let counts = scan.counts.clone();
                if_state::scan::record_scan(base, digest, scan, now);
                world.changes.push(format!(
                    "{name}: {} scan of {} recorded",
                    with.program(),
                    digest.short()
                ));
                Scanned {
                    image: name,
                    digest: digest.to_string(),
                    result: "recorded",
                    counts,
                    reason: None,
                }
            }
            Err(why) => {
                if_state::scan::record_scan_failure(base, digest, with.scanner(), why.clone(), now);
                Scanned {
                    image: name,
                    digest: digest.to_string(),
                    result: "failed",
                    counts: Default::default(),
                    reason: Some(why),
                }
            }
        };
        out.push(row);
    }
    out
}
