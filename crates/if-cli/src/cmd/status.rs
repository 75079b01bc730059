//! `image-factory status`: one line per enrolled, archived and base image.

use if_model::factory::Factory;
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The time to judge pending rebuilds at, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::analyze::parse_time)]
    pub now: Option<if_model::timestamp::Timestamp>,
}

/// One row of the status table.
#[derive(Debug, Serialize)]
pub struct Row {
    /// Image name (state name for base images).
    pub name: String,
    /// `managed`, `external`, `base`; `archived`/`removed` when no longer in use.
    pub kind: String,
    /// The image reference.
    pub image: String,
    /// Base images (state names), for enrolled images.
    pub base_images: Vec<String>,
    /// Images built on it.
    pub dependents: Vec<String>,
    /// Current digest.
    pub digest: Option<String>,
    /// Rebuild state (`monitoring` when none recorded), with its time.
    pub rebuild: String,
    /// The rebuild's details (enrolled images with a rebuild state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuild_detail: Option<RebuildDetail>,
    /// Base images pinned by digest in the Dockerfile whose upstream digest moved on: the pin
    /// needs a bump (a rebuild would not change the image).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins_to_bump: Vec<String>,
    /// What a pending rebuild waits for at `--now` (ancestors, a cycle), or `due now`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// Discovery status and last discovery time (enrolled images).
    pub discovery: Option<String>,
    /// When discovery last changed something.
    pub last_discovery: Option<String>,
    /// Why the last registry check (`check`) failed, and since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_error: Option<String>,
}

/// What waits for an image's rebuild, and what went wrong.
#[derive(Debug, Serialize)]
pub struct RebuildDetail {
    /// `monitoring`, `pending`, `due`, `triggered`, `failed`.
    pub status: String,
    /// When the pending rebuild becomes due.
    pub scheduled_for: Option<String>,
    /// Why (all causes).
    pub reason: Option<String>,
    /// Causes joined into the pending rebuild.
    pub causes: usize,
    /// When the running build was triggered (`triggered`).
    pub triggered_at: Option<String>,
    /// Failed trigger attempts.
    pub attempts: Option<u32>,
    /// The last trigger error.
    pub last_error: Option<String>,
    /// When a failed trigger is retried.
    pub next_attempt_at: Option<String>,
    /// The running build's page (`triggered`), or the last build's.
    pub run_url: Option<String>,
    /// The running build's state at the last poll (`queued`, `in_progress`, `running`).
    pub run_status: Option<String>,
    /// Why the running build's state is not known.
    pub run_error: Option<String>,
    /// When the running build is given up if it has no outcome by then (`buildTimeout`).
    pub give_up_at: Option<String>,
}

fn detail(
    enrollment: &if_model::enrollment::Enrollment,
    s: &if_model::state::ImageState,
) -> Option<(String, RebuildDetail)> {
    let r = s.rebuild_state.as_ref()?;
    let status = r.status.clone()?;
    let open = (status == "triggered")
        .then(|| s.rebuild_history.iter().rev().find(|h| h.success.is_none()))
        .flatten();
    let triggered_at = open.and_then(|h| h.triggered_at);
    let give_up_at = open.and_then(|h| if_state::rebuild::give_up_at(enrollment, &s.name, h));
    // The running build's page, else the last build's (a failed one says where to look).
    let run_url = open
        .or_else(|| s.rebuild_history.last())
        .and_then(|h| h.run_url.clone());
    let summary = match status.as_str() {
        "triggered" => {
            let mut line = match triggered_at {
                Some(t) => format!("triggered at {t}"),
                None => status.clone(),
            };
            if let Some(st) = open.and_then(|h| h.run_status.as_deref()) {
                line.push_str(&format!(", {st}"));
            }
            if let Some(url) = &run_url {
                line.push_str(&format!(" {url}"));
            }
            if let Some(e) = open.and_then(|h| h.run_error.as_deref()) {
                line.push_str(&format!(" (state unknown: {e})"));
            }
            if let Some(t) = give_up_at {
                line.push_str(&format!(", given up at {t}"));
            }
            line
        }
        "failed" => format!(
            "failed after {} attempts: {}",
            r.attempts.unwrap_or(0),
            r.last_error.as_deref().unwrap_or("-")
        ),
        _ => match (r.next_attempt_at, r.rebuild_scheduled_for) {
            (Some(n), _) => format!(
                "{status}, retry at {n} (attempt {} failed: {})",
                r.attempts.unwrap_or(0),
                r.last_error.as_deref().unwrap_or("-")
            ),
            (None, Some(t)) if status == "due" => format!("due since {t}"),
            (None, Some(t)) => format!("{status} until {t}"),
            (None, None) => status.clone(),
        },
    };
    let detail = RebuildDetail {
        status,
        scheduled_for: r.rebuild_scheduled_for.map(|t| t.to_string()),
        reason: r.rebuild_reason.clone(),
        causes: r.causes.len(),
        triggered_at: triggered_at.map(|t| t.to_string()),
        attempts: r.attempts,
        last_error: r.last_error.clone(),
        next_attempt_at: r.next_attempt_at.map(|t| t.to_string()),
        run_url,
        run_status: open.and_then(|h| h.run_status.clone()),
        run_error: open.and_then(|h| h.run_error.clone()),
        give_up_at: give_up_at.map(|t| t.to_string()),
    };
    Some((summary, detail))
}

/// The rows of a factory, enrolled images first (in file order), then base images by name.
pub fn rows(f: &Factory) -> Vec<Row> {
    let mut rows = Vec::new();
    let bases_by_name: std::collections::BTreeMap<&str, &if_model::state::BaseImageState> =
        f.bases.iter().map(|(_, b)| (b.name.as_str(), b)).collect();
    let mut states: Vec<_> = f.images.iter().map(|(_, s)| s).collect();
    let positions: std::collections::HashMap<&str, usize> = f
        .enrollment
        .images()
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let order = |n: &str| positions.get(n).copied().unwrap_or(usize::MAX);
    states.sort_by(|a, b| (order(&a.name), &a.name).cmp(&(order(&b.name), &b.name)));
    for s in states {
        let entry = f.enrollment.get(&s.name);
        let kind = match (s.status.as_deref(), entry) {
            (Some(st), _) => st.to_string(),
            (None, Some(e)) if e.is_managed() => "managed".to_string(),
            (None, Some(_)) => "external".to_string(),
            (None, None) => "unenrolled".to_string(),
        };
        let (rebuild, rebuild_detail) = match detail(&f.enrollment, s) {
            Some((summary, d)) => (Some(summary), Some(d)),
            None => (None, None),
        };
        let pins_to_bump = s
            .base_image_pins
            .iter()
            .filter(|(base, pin)| {
                bases_by_name
                    .get(base.as_str())
                    .and_then(|b| b.current_digest.as_ref())
                    .is_some_and(|current| current != *pin)
            })
            .map(|(base, _)| base.clone())
            .collect();
        rows.push(Row {
            name: s.name.clone(),
            kind,
            image: entry
                .map(|e| e.repo_url())
                .or_else(|| s.watch.repo_url.clone())
                .unwrap_or_default(),
            base_images: s.base_images.clone(),
            dependents: s.dependent_images.clone(),
            digest: s.current_digest.as_ref().map(ToString::to_string),
            rebuild: rebuild.unwrap_or_else(|| "monitoring".to_string()),
            rebuild_detail,
            pins_to_bump,
            waiting: None,
            discovery: s
                .discovery_status
                .clone()
                .map(|st| match &s.discovery_error {
                    Some(e) => format!("{st}: {e}"),
                    None => st,
                }),
            last_discovery: s.last_discovery.map(|t| t.to_string()),
            check_error: check_error(s.check_error.as_deref(), s.check_error_since),
        });
    }
    let mut bases: Vec<_> = f.bases.iter().map(|(_, b)| b).collect();
    bases.sort_by(|a, b| a.name.cmp(&b.name));
    for b in bases {
        rows.push(Row {
            name: b.name.clone(),
            kind: b.status.clone().unwrap_or_else(|| "base".to_string()),
            image: b.image_ref().map(|r| r.familiar()).unwrap_or_default(),
            base_images: Vec::new(),
            dependents: b.dependent_images.clone(),
            digest: b.current_digest.as_ref().map(ToString::to_string),
            rebuild: "-".to_string(),
            rebuild_detail: None,
            pins_to_bump: Vec::new(),
            waiting: None,
            discovery: None,
            last_discovery: b.last_checked.map(|t| t.to_string()),
            check_error: check_error(b.check_error.as_deref(), b.check_error_since),
        });
    }
    rows
}

fn check_error(
    error: Option<&str>,
    since: Option<if_model::timestamp::Timestamp>,
) -> Option<String> {
    error.map(|e| match since {
        Some(t) => format!("{e} (since {t})"),
        None => e.to_string(),
    })
}

/// Adds to each pending rebuild what it waits for at `now` beyond its own schedule
/// (ancestors, a cycle), or that it is due now (the engine decides, on a copy; nothing is
/// written).
fn explain_waits(factory: &Factory, rows: &mut [Row], now: if_model::timestamp::Timestamp) {
    let mut world = if_state::rebuild::current(factory);
    let policy = if_state::rebuild::Policy::default();
    let decision = if_state::rebuild::reconcile(&factory.enrollment, &mut world, now, &policy);
    for w in decision.waiting.iter().filter(|w| w.until.is_none()) {
        if let Some(r) = rows.iter_mut().find(|r| r.name == w.image)
            && r.rebuild.starts_with("pending")
        {
            r.waiting = Some(w.why.clone());
        }
    }
    for t in &decision.triggers {
        if let Some(r) = rows.iter_mut().find(|r| r.name == t.image) {
            r.waiting = Some("due now: the next `reconcile` triggers it".to_string());
        }
    }
}

/// A state file that cannot be read, shown as `damaged` instead of being left out.
fn damaged_row(d: &load::Damaged) -> Row {
    let why = d
        .problems
        .first()
        .cloned()
        .unwrap_or_else(|| format!("{}: cannot be read", d.path));
    Row {
        name: d.name.clone(),
        kind: "damaged".to_string(),
        image: d.path.clone(),
        base_images: Vec::new(),
        dependents: Vec::new(),
        digest: None,
        rebuild: "-".to_string(),
        rebuild_detail: None,
        pins_to_bump: Vec::new(),
        waiting: Some(format!("state file cannot be read: {why}")),
        discovery: None,
        last_discovery: None,
        check_error: None,
    }
}

/// Runs `status`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let loaded = load::load_checked(&cli.root)?;
    let factory = loaded.factory;
    let mut rows = rows(&factory);
    explain_waits(
        &factory,
        &mut rows,
        crate::cmd::analyze::now_or_clock(args.now),
    );
    rows.extend(loaded.damaged.iter().map(damaged_row));
    if cli.format == Format::Json {
        output::print_json(&serde_json::json!({ "images": rows }))?;
        return Ok(Outcome::Ok);
    }
    for r in &rows {
        let short = |d: &Option<String>| {
            d.as_deref()
                .map_or("-".to_string(), |d| d.chars().take(19).collect())
        };
        let mut line = format!("{:<24} {:<9} {}", r.name, r.kind, r.image);
        if !r.base_images.is_empty() {
            line.push_str(&format!("  FROM {}", r.base_images.join(", ")));
        }
        if !r.dependents.is_empty() {
            line.push_str(&format!("  <- {}", r.dependents.join(", ")));
        }
        line.push_str(&format!("  digest {}", short(&r.digest)));
        if r.rebuild != "-" {
            line.push_str(&format!("  rebuild {}", r.rebuild));
        }
        if let Some(w) = &r.waiting {
            line.push_str(&format!(" ({w})"));
        }
        if !r.pins_to_bump.is_empty() {
            line.push_str(&format!(
                "  pin of {} needs a bump",
                r.pins_to_bump.join(", ")
            ));
        }
        if let Some(d) = &r.discovery {
            line.push_str(&format!("  discovery {d}"));
        }
        if let Some(t) = &r.last_discovery {
            line.push_str(&format!(" @ {t}"));
        }
        if let Some(e) = &r.check_error {
            line.push_str(&format!("  check failed: {e}"));
        }
        println!("{}", output::escape_controls(&line));
    }
    Ok(Outcome::Ok)
}
