//! `check`'s report: the rows, hosts and counts of a run, as JSON or as text for people.

use std::collections::BTreeMap;

use if_registry::{Client, RateLimit};
use serde::Serialize;

use super::Checked;
use crate::cmd::record::Scheduled;
use crate::output;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Row<'a> {
    image: &'a str,
    role: &'static str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<String>,
    previous_digest: Option<String>,
    /// `baseline`, `unchanged`, `updated` or `failed`.
    outcome: &'static str,
    error: Option<&'a str>,
    scheduled: Vec<Scheduled<'a>>,
    pinned: &'a [String],
    notes: &'a [String],
}

/// One host that answered: requests made to it and the lowest rate-limit headroom it
/// reported.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Host {
    host: String,
    requests: u64,
    rate_limit: Option<Limit>,
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub(super) struct Limit {
    limit: u64,
    remaining: u64,
    window_seconds: Option<u64>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary {
    checked: usize,
    baseline: usize,
    unchanged: usize,
    updated: usize,
    pub(super) failed: usize,
    /// Requests to registries and mirrors, retries included.
    requests: u64,
    /// Requests to token services.
    token_requests: u64,
    /// Requests to token services per registry.
    token_requests_by_registry: BTreeMap<String, u64>,
    /// Images not asked because their registry's rate limit ran low (among `failed`).
    not_checked: usize,
    /// Credential helper runs.
    helper_runs: u64,
    /// Registries no longer asked in this run because their rate limit ran low.
    stopped: Vec<Stopped>,
}

/// A host no longer asked in the run.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stopped {
    host: String,
    rate_limit: Option<Limit>,
    /// Images not asked because of it.
    not_checked: usize,
}

impl From<&RateLimit> for Limit {
    fn from(l: &RateLimit) -> Limit {
        Limit {
            limit: l.limit,
            remaining: l.remaining,
            window_seconds: l.window_seconds,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report<'a> {
    pub(super) now: String,
    pub(super) dry_run: bool,
    pub(super) images: Rows<'a>,
    pub(super) registries: &'a [Host],
    pub(super) summary: &'a Summary,
    /// `--scan-with`: what each scan gave.
    pub(super) scans: &'a [crate::cmd::scans::Scanned],
    pub(super) changes: &'a [String],
    pub(super) written: &'a [String],
}

/// The report's rows, made one at a time as they are written (at 100,000 images, all of
/// them at once are tens of megabytes).
pub(super) struct Rows<'a>(pub(super) &'a [Checked<'a>]);

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(row))
    }
}

/// The run's counts: outcomes, requests and token requests (the client's), the hosts no
/// longer asked and the images that left unasked.
pub(super) fn summary(client: &Client, checked: &[Checked<'_>]) -> Summary {
    let stats = client.stats();
    let mut summary = Summary {
        checked: checked.len(),
        requests: stats.requests,
        token_requests: stats.token_requests,
        token_requests_by_registry: stats.token_requests_by_registry,
        not_checked: checked.iter().filter(|c| c.not_checked.is_some()).count(),
        helper_runs: stats.helper_runs,
        stopped: stats
            .stopped
            .iter()
            .map(|(host, limit)| Stopped {
                host: host.clone(),
                rate_limit: limit.as_ref().map(Limit::from),
                not_checked: checked
                    .iter()
                    .filter(|c| c.not_checked.as_ref() == Some(host))
                    .count(),
            })
            .collect(),
        ..Summary::default()
    };
    for c in checked {
        match c.outcome() {
            "baseline" => summary.baseline += 1,
            "unchanged" => summary.unchanged += 1,
            "updated" => summary.updated += 1,
            _ => summary.failed += 1,
        }
    }
    summary
}

/// Requests and the lowest rate-limit headroom per answering host, by host.
pub(super) fn hosts(checked: &[Checked<'_>]) -> Vec<Host> {
    let mut by_host: BTreeMap<&str, Host> = BTreeMap::new();
    for (host, requests, limit) in checked.iter().flat_map(|c| &c.answers) {
        let h = by_host.entry(host).or_insert_with(|| Host {
            host: host.clone(),
            ..Host::default()
        });
        h.requests += u64::from(*requests);
        if let Some(l) = limit
            && h.rate_limit.is_none_or(|old| l.remaining < old.remaining)
        {
            h.rate_limit = Some(Limit::from(l));
        }
    }
    by_host.into_values().collect()
}

fn row<'a>(c: &'a Checked<'a>) -> Row<'a> {
    let m = c.monitor;
    let rec = c.recorded.as_ref();
    Row {
        image: &m.owner,
        role: m.role.as_str(),
        repository: &m.repo_url,
        tag: c.tag.as_deref(),
        digest: c.found.as_ref().ok().map(ToString::to_string),
        previous_digest: c.previous.as_ref().map(ToString::to_string),
        outcome: c.outcome(),
        error: c.found.as_ref().err().map(String::as_str),
        scheduled: rec.map(crate::cmd::record::scheduled).unwrap_or_default(),
        pinned: rec.map_or(&[], |r| r.pinned.as_slice()),
        notes: &c.notes,
    }
}

pub(super) fn print_text(
    dry_run: bool,
    checked: &[Checked<'_>],
    hosts: &[Host],
    s: &Summary,
    written: &[String],
) {
    let shown: Vec<&Checked<'_>> = checked
        .iter()
        .filter(|c| c.outcome() != "unchanged" || !c.notes.is_empty())
        .collect();
    if !shown.is_empty() {
        let width = shown
            .iter()
            .map(|c| c.monitor.owner.len())
            .max()
            .unwrap_or(0)
            .max(5);
        output::line(format_args!(
            "{:width$}  {:10}  {:20}  WHAT",
            "IMAGE", "RESULT", "DIGEST"
        ));
        for c in shown {
            let digest = c.found.as_ref().map(|d| d.short()).unwrap_or_default();
            let what = describe(c);
            output::line(format_args!(
                "{:width$}  {:10}  {:20}  {what}",
                c.monitor.owner,
                c.outcome(),
                digest
            ));
        }
    }
    for h in hosts {
        let limit = h.rate_limit.map_or_else(
            || "no rate limit reported".to_string(),
            |l| {
                let window = l
                    .window_seconds
                    .map(|w| format!(" per {w}s"))
                    .unwrap_or_default();
                format!("{} of {} requests left{window}", l.remaining, l.limit)
            },
        );
        output::line(format_args!(
            "registry {}: {} requests, {limit}",
            h.host, h.requests
        ));
    }
    for stopped in &s.stopped {
        let why = stopped.rate_limit.map_or_else(
            || "it answered HTTP 429".to_string(),
            |l| format!("{} of {} requests left", l.remaining, l.limit),
        );
        output::line(format_args!(
            "registry {}: rate limit low ({why}): stopped asking it for this run; {} images not checked",
            stopped.host, stopped.not_checked
        ));
    }
    if !s.token_requests_by_registry.is_empty() {
        let per: Vec<String> = s
            .token_requests_by_registry
            .iter()
            .map(|(registry, n)| format!("{registry} {n}"))
            .collect();
        output::line(format_args!(
            "token requests per registry: {}",
            per.join(", ")
        ));
    }
    let verb = if dry_run { "would write" } else { "wrote" };
    output::line(format_args!(
        "checked {} images: {} updated, {} baseline, {} unchanged, {} failed; {} requests, {} token requests; {verb} {} files",
        s.checked,
        s.updated,
        s.baseline,
        s.unchanged,
        s.failed,
        s.requests,
        s.token_requests,
        if dry_run { 0 } else { written.len() }
    ));
    if s.not_checked > 0 {
        output::line(format_args!(
            "{} images not checked (rate limit low); recorded as check errors, asked again next run",
            s.not_checked
        ));
    }
}

/// One line for people: the tag and what recording it did, or the error.
fn describe(c: &Checked<'_>) -> String {
    let tag = c
        .tag
        .as_deref()
        .map(|t| format!("{}:{t}", c.monitor.repo_url));
    let mut parts: Vec<String> = tag.into_iter().collect();
    match (&c.found, &c.recorded) {
        (Err(e), _) => parts = vec![e.clone()],
        (Ok(_), Some(r)) => {
            if let (Some(prev), "updated") = (&c.previous, r.outcome) {
                parts.push(format!("was {}", prev.short()));
            }
            if !r.scheduled.is_empty() {
                let list: Vec<String> = r
                    .scheduled
                    .iter()
                    .map(|(image, at)| format!("{image} at {at}"))
                    .collect();
                parts.push(format!("schedules {}", list.join(", ")));
            }
            if !r.pinned.is_empty() {
                parts.push(format!("pinned, needs a bump: {}", r.pinned.join(", ")));
            }
        }
        (Ok(_), None) => {}
    }
    parts.extend(c.notes.iter().cloned());
    parts.join("; ")
}
