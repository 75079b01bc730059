//! `image-factory check`: ask the registries for the current digest of every image the
//! factory watches (what the Kargo Warehouses watch), record each like `record-update`, and
//! report what changed and how much rate limit is left.

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

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::exit::{CliError, Outcome};
use crate::registry::{RegistryArgs, client_from_env};
use crate::{load, output};

mod report;

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
    /// The scanner run on each new base digest (`--scan-with`, `--scan-timeout`).
    #[command(flatten)]
    pub scan: crate::scanner::ScanArgs,
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

/// Runs `check`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.now);
    let factory = load::load_for_update(&cli.root)?;
    let images_file = load::images_path(&cli.root).display().to_string();
    let plan = monitor::plan(&factory, &images_file);
    // What the files say now, to write only what changed; nothing is written in a dry run.
    let baseline = (!args.dry_run).then(|| if_state::baseline(&factory));
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
    let written = match &baseline {
        Some(baseline) => load::write_state(&cli.root, baseline, &world)?,
        None => Vec::new(),
    };

    let summary = report::summary(&client, &checked);
    let hosts = report::hosts(&checked);
    if cli.format == Format::Json {
        output::print_json(&report::Report {
            now: now.to_string(),
            dry_run: args.dry_run,
            images: report::Rows(&checked),
            registries: &hosts,
            summary: &summary,
            scans: &scans,
            changes: &world.changes,
            written: &written,
        })?;
    } else {
        report::print_text(args.dry_run, &checked, &hosts, &summary, &written);
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
    // The client keeps their names; the references are not needed through the lookups.
    drop(repos);
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
