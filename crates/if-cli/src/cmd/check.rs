//! `image-factory check`: ask the registries for the current digest of every image the
//! factory watches (what the Kargo Warehouses watch), record each like `record-update`, and
//! report what changed and how much rate limit is left.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use if_kargo::monitor::{self, Monitor};
use if_kargo::select::{needs_tag_list, select_tag};
use if_model::digest::Digest;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;
use if_registry::{Client, RateLimit, RegistryError, TagQuery};
use if_state::rebuild::{self, Recorded};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::cmd::record::Scheduled;
use crate::exit::{CliError, Outcome};
use crate::registry::{RegistryArgs, client_from_env};
use crate::{load, output};

/// Arguments of `check`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Check only this image (an image name, a base-image state name or a reference such as
    /// `node:22-bookworm-slim`); repeatable.
    #[arg(long, value_name = "NAME")]
    pub image: Vec<String>,
    /// The time of the run, RFC 3339 (default: the clock); new digests count as seen then.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    /// Ask the registries and report, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit 0 even when a lookup failed (it is still recorded in state, `checkError`, and
    /// shown by `status`): for a step that must not stop the next one, such as the
    /// CronJob's `check` before `reconcile`, or a scheduled CI job's.
    #[arg(long)]
    pub exit_zero: bool,
    /// Scan each new base digest with this scanner, found on PATH (`trivy image --format
    /// json --quiet REF@DIGEST`), and record its report as `record-scan` does; a scan that
    /// fails or runs past `--scan-timeout` is recorded as no report, with the reason.
    #[arg(long, value_name = "SCANNER")]
    pub scan_with: Option<crate::scanner::ScanWith>,
    /// The most seconds one scan may take; the scanner is stopped past that.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub scan_timeout: u64,
    /// Registry options.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// What one watched image gave.
struct Checked<'a> {
    monitor: &'a Monitor,
    /// The tag asked for (picked from the listing for SemVer/Lexical).
    tag: Option<String>,
    /// The digest found, or why there is none.
    found: Result<Digest, String>,
    /// What recording it did (a found digest).
    recorded: Option<Recorded>,
    /// The digest before.
    previous: Option<Digest>,
    /// Notes for people (a truncated tag list, a failed mirror).
    notes: Vec<String>,
    /// Who answered, with the requests made to it and the rate limit it reported.
    answers: Vec<(String, u32, Option<RateLimit>)>,
    /// Not asked: the host whose rate limit ran low earlier in the run.
    not_checked: Option<String>,
}

impl Checked<'_> {
    /// The message of a failed registry call, noting a call not made for the rate limit.
    fn failure(&mut self, e: &RegistryError) -> String {
        if matches!(e, RegistryError::NotChecked { .. }) {
            self.not_checked = Some(e.host().to_owned());
        }
        e.to_string()
    }

    /// `baseline`, `unchanged`, `updated` or `failed`.
    fn outcome(&self) -> &'static str {
        match (&self.found, &self.recorded) {
            (Ok(_), Some(r)) => r.outcome,
            _ => "failed",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
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
struct Host {
    host: String,
    requests: u64,
    rate_limit: Option<Limit>,
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct Limit {
    limit: u64,
    remaining: u64,
    window_seconds: Option<u64>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Summary {
    checked: usize,
    baseline: usize,
    unchanged: usize,
    updated: usize,
    failed: usize,
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
struct Stopped {
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
struct Report<'a> {
    now: String,
    dry_run: bool,
    images: Vec<Row<'a>>,
    registries: &'a [Host],
    summary: &'a Summary,
    /// `--scan-with`: what each scan gave.
    scans: &'a [super::scans::Scanned],
    changes: &'a [String],
    written: &'a [String],
}

/// Runs `check`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.now);
    let factory = load::load_for_update(&cli.root)?;
    let images_file = load::images_path(&cli.root).display().to_string();
    let plan = monitor::plan(&factory, &images_file);
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let index = rebuild::Index::new(&enrollment, &world);
    let monitors = chosen(&index, &plan.monitors, &args.image)?;
    let (client, warnings) = client_from_env(&args.registry)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }

    let mut checked = lookup(&client, &monitors, usize::from(args.registry.concurrency));
    let mut found_bases = Vec::new();
    for c in &mut checked {
        let owner = &c.monitor.owner;
        let Some(subject) = index.resolve(owner) else {
            c.found = Err(index.unknown(owner).to_string());
            continue;
        };
        c.previous = current_digest(&world, &subject);
        c.recorded = match &c.found {
            Ok(digest) => Some(rebuild::check_found(
                &enrollment,
                &mut world,
                &subject,
                digest,
                now,
            )),
            Err(message) => {
                rebuild::check_failed(&mut world, &subject, message, now);
                None
            }
        };
        // A base digest found new (scanned, its attestations read) or unchanged (a failed
        // read is made again); a baseline is not read, so a first check stays at one
        // manifest HEAD per image.
        if let (rebuild::Subject::Base { identity, .. }, Ok(digest)) = (&subject, &c.found) {
            let new = c.outcome() == "updated";
            found_bases.push((identity.clone(), digest.clone(), new));
        }
    }
    // The supply chain (issue 23): signatures owed, `--scan-with`, attestations.
    let scans = super::scans::after_lookup(
        &cli.root,
        args,
        &client,
        &enrollment,
        &mut world,
        &found_bases,
        now,
    );
    let written = if args.dry_run {
        Vec::new()
    } else {
        load::write_state(&cli.root, &baseline, &world)?
    };

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
    for c in &checked {
        match c.outcome() {
            "baseline" => summary.baseline += 1,
            "unchanged" => summary.unchanged += 1,
            "updated" => summary.updated += 1,
            _ => summary.failed += 1,
        }
    }
    let hosts = hosts(&checked);
    if cli.format == Format::Json {
        output::print_json(&Report {
            now: now.to_string(),
            dry_run: args.dry_run,
            images: checked.iter().map(row).collect(),
            registries: &hosts,
            summary: &summary,
            scans: &scans,
            changes: &world.changes,
            written: &written,
        })?;
    } else {
        print_text(args.dry_run, &checked, &hosts, &summary, &written);
        for s in &scans {
            output::line(format_args!("scan {}", s.line()));
        }
    }
    // A failed lookup is recorded (`checkError`) and the others went on, but a person should
    // look: exit code 1.
    Ok(Outcome::failed_if(summary.failed > 0 && !args.exit_zero))
}

/// The watched images `--image` names (all of them without it), in the plan's order.
fn chosen<'a>(
    index: &rebuild::Index,
    monitors: &'a [Monitor],
    names: &[String],
) -> Result<Vec<&'a Monitor>, CliError> {
    if names.is_empty() {
        return Ok(monitors.iter().collect());
    }
    let mut owners = Vec::new();
    for name in names {
        let owner = index
            .resolve(name)
            .map(|s| s.name().to_string())
            .ok_or_else(|| CliError::Input(format!("--image: {}", index.unknown(name))))?;
        if !monitors.iter().any(|m| m.owner == owner) {
            return Err(CliError::Input(format!(
                "--image `{name}` is not watched: the factory builds it and no image is built on it (see `image-factory generate`)"
            )));
        }
        owners.push(owner);
    }
    Ok(monitors
        .iter()
        .filter(|m| owners.contains(&m.owner))
        .collect())
}

/// Asks the registries, `limit` images at a time: per image, the tag list of a
/// SemVer/Lexical watch (to pick its tag), then one manifest request. The client is told
/// every repository first, so that their token requests are shared.
fn lookup<'a>(client: &Client, monitors: &[&'a Monitor], limit: usize) -> Vec<Checked<'a>> {
    let progress = Progress::new(monitors.len());
    let repos: Vec<ImageRef> = monitors
        .iter()
        .filter_map(|m| ImageRef::parse(&m.repo_url).ok())
        .collect();
    client.expect(&repos);
    let checked =
        if_registry::map_bounded(monitors, limit, |m| check_one(client, m), &|done, _| {
            progress.show(done)
        });
    progress.finish();
    checked
}

/// One watched image: its tag (picked from the listing for SemVer/Lexical), then its digest.
fn check_one<'a>(client: &Client, m: &'a Monitor) -> Checked<'a> {
    let mut c = Checked {
        monitor: m,
        tag: None,
        found: Err(String::new()),
        recorded: None,
        previous: None,
        notes: Vec::new(),
        answers: Vec::new(),
        not_checked: None,
    };
    let tag = match pick(client, m, &mut c) {
        Ok(tag) => tag,
        Err(e) => {
            c.found = Err(e);
            return c;
        }
    };
    c.tag = Some(tag.clone());
    let reference = match ImageRef::parse(&format!("{}:{tag}", m.repo_url)) {
        Ok(r) => r,
        Err(e) => {
            c.found = Err(format!(
                "`{}:{tag}` is not a valid reference: {e}",
                m.repo_url
            ));
            return c;
        }
    };
    match if_registry::resolve_digest(client, &reference) {
        Ok(r) => {
            if let Some(f) = &r.mirror_failure {
                c.notes
                    .push(format!("mirror failed, the registry answered: {f}"));
            }
            c.answers.push((r.host, r.requests, r.rate_limit));
            c.found = Ok(r.digest);
        }
        Err(e) => c.found = Err(c.failure(&e)),
    }
    c
}

/// The tag to ask for: the watch's own, or the one its strategy picks from the listing.
fn pick(client: &Client, m: &Monitor, c: &mut Checked<'_>) -> Result<String, String> {
    if !needs_tag_list(&m.selection) {
        return select_tag(&m.selection, &[]).map_err(|e| e.to_string());
    }
    let repo = ImageRef::parse(&m.repo_url)
        .map_err(|e| format!("`{}` is not a valid repository: {e}", m.repo_url))?;
    let list =
        if_registry::list_tags(client, &repo, &TagQuery::default()).map_err(|e| c.failure(&e))?;
    if list.truncated {
        c.notes.push(format!(
            "the tag list was cut after {} pages; the pick may miss newer tags",
            list.pages
        ));
    }
    c.answers.push((list.host, list.requests, list.rate_limit));
    select_tag(&m.selection, &list.tags).map_err(|e| format!("{}: {e}", m.repo_url))
}

/// The digest the state has for a watched image.
fn current_digest(world: &if_state::Analysis, subject: &rebuild::Subject) -> Option<Digest> {
    match subject {
        rebuild::Subject::Image { name } => world.images.get(name)?.current_digest.clone(),
        rebuild::Subject::Base { identity, .. } => {
            world.bases.get(identity)?.current_digest.clone()
        }
    }
}

/// Requests and the lowest rate-limit headroom per answering host, by host.
fn hosts(checked: &[Checked<'_>]) -> Vec<Host> {
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
        scheduled: rec.map(super::record::scheduled).unwrap_or_default(),
        pinned: rec.map_or(&[], |r| r.pinned.as_slice()),
        notes: &c.notes,
    }
}

fn print_text(
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

/// A progress bar on stderr, drawn only when stderr is a terminal and at most ten times a
/// second.
struct Progress {
    total: usize,
    shown: Option<Mutex<Instant>>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let on = std::io::stderr().is_terminal() && total > 1;
        Progress {
            total,
            shown: on.then(|| Mutex::new(Instant::now())),
        }
    }

    fn show(&self, done: usize) {
        let Some(last) = &self.shown else { return };
        let Ok(mut last) = last.lock() else { return };
        if done < self.total && last.elapsed() < Duration::from_millis(100) {
            return;
        }
        *last = Instant::now();
        let width = 30;
        let filled = done * width / self.total.max(1);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(width - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\rchecking [{bar}] {done}/{}", self.total);
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.shown.is_some() {
            let _ = writeln!(std::io::stderr());
        }
    }
}
