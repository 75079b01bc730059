//! `image-factory status`: one row per enrolled, archived and base image, as JSON (the rows
//! below) or as a table (`table`).

mod table;

use if_model::factory::Factory;
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The time to judge pending rebuilds at and to count relative times from, RFC 3339
    /// (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = crate::cmd::analyze::parse_time)]
    pub now: Option<if_model::timestamp::Timestamp>,
    /// Show exact times (RFC 3339, UTC) instead of relative ones ("in 3d", "2h ago").
    #[arg(long)]
    pub utc: bool,
    /// Show everything on one line per image, nothing cut to the terminal's width.
    #[arg(long)]
    pub wide: bool,
}

/// The `status` report.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    images: &'a [Row],
}

/// One row of the status report (`docs/json.md`, `status`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Image name (state name for base images).
    pub name: String,
    /// `managed`, `external`, `base`; `archived`/`removed` when no longer in use,
    /// `unenrolled`, `damaged`.
    pub kind: String,
    /// The image reference (the state file's path for a damaged one).
    pub image: String,
    /// Base images (state names), for enrolled images.
    pub base_images: Vec<String>,
    /// Images built on it.
    pub dependents: Vec<String>,
    /// Current digest.
    pub digest: Option<String>,
    /// The rebuild (images; `null` for base images and damaged files).
    pub rebuild: Option<Rebuild>,
    /// Base images pinned by digest in the Dockerfile whose upstream digest moved on: the pin
    /// needs a bump (a rebuild would not change the image).
    pub pins_to_bump: Vec<String>,
    /// Discovery of the base images (images that were analysed).
    pub discovery: Option<Discovery>,
    /// When the registry was last asked for the digest (base images).
    pub last_checked: Option<String>,
    /// Why the last registry check (`check`) failed, and since when.
    pub check_error: Option<CheckError>,
    /// Why a damaged state file cannot be read.
    pub problem: Option<String>,
    /// Base images: the attestations the current digest's index carries, once `check` read
    /// them.
    pub attestations: Option<AttestationsRow>,
}

/// What a base image's current digest carries (`check` reads it once per digest).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationsRow {
    /// Whether the digest is an index (a single manifest carries no attestations).
    pub index: bool,
    /// A SLSA provenance attestation is there.
    pub provenance: bool,
    /// Its predicate type.
    pub provenance_type: Option<String>,
    /// An SBOM attestation is there.
    pub sbom: bool,
    /// `SPDX` or `CycloneDX`.
    pub sbom_format: Option<&'static str>,
    /// When `check` read them (or tried to).
    pub checked_at: Option<String>,
    /// Why they could not be read (the next `check` reads again).
    pub error: Option<String>,
    /// For people: `provenance (TYPE), SBOM (FORMAT)`, or what is missing.
    pub summary: String,
}

fn attestations(b: &if_model::state::BaseImageState) -> Option<AttestationsRow> {
    let d = b.current_digest.as_ref()?;
    let a = if_model::supply::facts(&b.digests, d)?
        .attestations
        .as_ref()?;
    Some(AttestationsRow {
        index: a.index.unwrap_or(false),
        provenance: a.provenance.unwrap_or(false),
        provenance_type: a.provenance_type.clone(),
        sbom: a.sbom.unwrap_or(false),
        sbom_format: a.sbom_format.map(if_model::supply::SbomFormat::as_str),
        checked_at: a.checked_at.map(|t| t.to_string()),
        error: a.error.clone(),
        summary: a.summary(),
    })
}

/// The closed set of rebuild states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RebuildStatus {
    /// Nothing waits (also a state the engine does not know, which it treats the same).
    Monitoring,
    /// A rebuild waits for its delay (or a retry).
    Pending,
    /// The delay is over and a person must trigger it (`autoRebuild: false`).
    Due,
    /// A build runs.
    Triggered,
    /// Triggering failed every attempt.
    Failed,
    /// Every cause is held by the supply-chain policy (issue 23).
    Held,
    /// The image is no longer enrolled.
    Archived,
}

impl RebuildStatus {
    fn of(text: Option<&str>) -> RebuildStatus {
        match text {
            Some("pending") => RebuildStatus::Pending,
            Some("due") => RebuildStatus::Due,
            Some("triggered") => RebuildStatus::Triggered,
            Some("failed") => RebuildStatus::Failed,
            Some("held") => RebuildStatus::Held,
            _ => RebuildStatus::Monitoring,
        }
    }

    /// The word of the text table and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RebuildStatus::Monitoring => "monitoring",
            RebuildStatus::Pending => "pending",
            RebuildStatus::Due => "due",
            RebuildStatus::Triggered => "triggered",
            RebuildStatus::Failed => "failed",
            RebuildStatus::Held => "held",
            RebuildStatus::Archived => "archived",
        }
    }
}

/// An image's rebuild: its state, times and reasons, each in its own field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rebuild {
    /// The state.
    pub status: RebuildStatus,
    /// When the pending rebuild becomes (or became) due.
    pub scheduled_for: Option<String>,
    /// Why (all causes).
    pub reason: Option<String>,
    /// Causes joined into the pending rebuild.
    pub causes: usize,
    /// What asked for it (`base-image-update`, `cascade`, `manual`, `expedite`).
    pub triggered_by: Option<String>,
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
    /// Whether the next `reconcile` triggers it (judged at `--now`).
    pub due_now: bool,
    /// Internal ancestors it waits for beyond its own schedule (at `--now`).
    pub blocked_by: Vec<String>,
    /// What it waits for beyond its own schedule, for people (at `--now`).
    pub waiting: Option<String>,
    /// Why its held causes are held (a new vulnerability, no verified signature).
    pub held: Vec<String>,
    /// The base digests its pending causes wait on that have no vulnerability report yet
    /// (images with a `vulnerabilityPolicy`), as `base@sha256:12345678`.
    pub unscanned: Vec<String>,
}

/// The discovery of an image's base images.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovery {
    /// The state file's `discoveryStatus`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// When discovery last changed something.
    pub at: Option<String>,
}

/// A failed registry check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckError {
    /// What went wrong.
    pub message: String,
    /// Since when checks fail.
    pub since: Option<String>,
}

/// The base digests `s`'s pending causes wait on without a vulnerability report, when its
/// entry has a `vulnerabilityPolicy`.
fn unscanned(
    enrollment: &if_model::enrollment::Enrollment,
    bases: &std::collections::BTreeMap<&str, &if_model::state::BaseImageState>,
    s: &if_model::state::ImageState,
) -> Vec<String> {
    let policy = enrollment.get(&s.name).map(|e| e.vulnerability_policy);
    if policy.is_none_or(|p| p == Default::default()) {
        return Vec::new();
    }
    let causes = s.rebuild_state.iter().flat_map(|r| r.causes.iter());
    causes
        .filter_map(|c| {
            let base = bases.get(c.base_image.as_deref()?)?;
            let d = c.digest.as_ref()?;
            let facts = if_model::supply::facts(&base.digests, d);
            if facts.is_some_and(|f| f.scan.is_some()) {
                return None;
            }
            let failed = facts
                .and_then(|f| f.scan_failure.as_ref())
                .and_then(|x| x.reason.as_deref())
                .map(|why| format!(" (scan failed: {why})"))
                .unwrap_or_default();
            Some(format!("{}@{}{failed}", base.name, d.short()))
        })
        .collect()
}

fn rebuild(
    enrollment: &if_model::enrollment::Enrollment,
    s: &if_model::state::ImageState,
    archived: bool,
) -> Rebuild {
    let r = s.rebuild_state.as_ref();
    let status = match r.and_then(|r| r.status.as_deref()) {
        _ if archived => RebuildStatus::Archived,
        text => RebuildStatus::of(text),
    };
    let open = (status == RebuildStatus::Triggered)
        .then(|| s.rebuild_history.iter().rev().find(|h| h.success.is_none()))
        .flatten();
    let give_up_at = open.and_then(|h| if_state::rebuild::give_up_at(enrollment, &s.name, h));
    // The running build's page, else the last build's (a failed one says where to look).
    let run_url = open
        .or_else(|| s.rebuild_history.last())
        .and_then(|h| h.run_url.clone());
    let text = |t: Option<if_model::timestamp::Timestamp>| t.map(|t| t.to_string());
    Rebuild {
        status,
        scheduled_for: text(r.and_then(|r| r.rebuild_scheduled_for)),
        reason: r.and_then(|r| r.rebuild_reason.clone()),
        causes: r.map_or(0, |r| r.causes.len()),
        triggered_by: r.and_then(|r| r.triggered_by.clone()),
        triggered_at: text(open.and_then(|h| h.triggered_at)),
        attempts: r.and_then(|r| r.attempts),
        last_error: r.and_then(|r| r.last_error.clone()),
        next_attempt_at: text(r.and_then(|r| r.next_attempt_at)),
        run_url,
        run_status: open.and_then(|h| h.run_status.clone()),
        run_error: open.and_then(|h| h.run_error.clone()),
        give_up_at: text(give_up_at),
        due_now: false,
        blocked_by: Vec::new(),
        waiting: None,
        held: r
            .iter()
            .flat_map(|r| r.causes.iter())
            .filter_map(|c| c.held.clone())
            .collect(),
        unscanned: Vec::new(),
    }
}

/// The rows of a factory, enrolled images first (in file order), then base images by name.
pub fn rows(f: &Factory) -> Vec<Row> {
    // Sized once (a row is large; growing by doubling copied them all again).
    let mut rows = Vec::with_capacity(f.images.len() + f.bases.len());
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
        let archived = matches!(
            s.status.as_deref(),
            Some(if_state::analyze::ARCHIVED | if_state::analyze::REMOVED)
        );
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
            rebuild: Some(Rebuild {
                unscanned: unscanned(&f.enrollment, &bases_by_name, s),
                ..rebuild(&f.enrollment, s, archived)
            }),
            pins_to_bump,
            discovery: s.discovery_status.clone().map(|status| Discovery {
                status,
                error: s.discovery_error.clone(),
                at: s.last_discovery.map(|t| t.to_string()),
            }),
            last_checked: None,
            check_error: check_error(s.check_error.as_deref(), s.check_error_since),
            problem: None,
            attestations: None,
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
            rebuild: None,
            pins_to_bump: Vec::new(),
            discovery: None,
            last_checked: b.last_checked.map(|t| t.to_string()),
            check_error: check_error(b.check_error.as_deref(), b.check_error_since),
            problem: None,
            attestations: attestations(b),
        });
    }
    rows
}

fn check_error(
    error: Option<&str>,
    since: Option<if_model::timestamp::Timestamp>,
) -> Option<CheckError> {
    error.map(|e| CheckError {
        message: e.to_string(),
        since: since.map(|t| t.to_string()),
    })
}

/// Adds to each pending rebuild what it waits for at `now` beyond its own schedule
/// (ancestors, a cycle), or that it is due now (the engine decides, on a copy; nothing is
/// written). The engine works on the loaded states themselves, taken out of the factory once
/// the rows are made: no copy of every state.
fn explain_waits(
    root: &std::path::Path,
    factory: Factory,
    rows: &mut [Row],
    now: if_model::timestamp::Timestamp,
) {
    let (enrollment, mut world) = if_state::rebuild::take(factory);
    super::signatures::note_keys(root, &enrollment, &mut world);
    let policy = if_state::rebuild::Policy::default();
    // What would start now is all `status` shows of the triggers: their inputs are not built.
    let (decision, ready) = if_state::rebuild::preview(&enrollment, &mut world, now, &policy);
    let at: std::collections::HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), i))
        .collect();
    fn rebuild_of<'r>(
        rows: &'r mut [Row],
        at: &std::collections::HashMap<String, usize>,
        name: &str,
    ) -> Option<&'r mut Rebuild> {
        at.get(name)
            .and_then(|i| rows.get_mut(*i))
            .and_then(|r| r.rebuild.as_mut())
    }
    // The supply-chain policy judged at `now` (issue 23): a cause a fix expedites is due
    // now with the IDs in its reason, a cause a new vulnerability holds is held, even
    // before a `reconcile` wrote it so.
    for (name, s) in &world.images {
        let Some(rs) = &s.rebuild_state else { continue };
        if let Some(r) = rebuild_of(rows, &at, name)
            && matches!(r.status, RebuildStatus::Pending | RebuildStatus::Held)
            && matches!(rs.status.as_deref(), Some("pending" | "held"))
        {
            r.status = RebuildStatus::of(rs.status.as_deref());
            r.reason.clone_from(&rs.rebuild_reason);
            r.triggered_by.clone_from(&rs.triggered_by);
            r.scheduled_for = rs.rebuild_scheduled_for.map(|t| t.to_string());
            r.held = rs.causes.iter().filter_map(|c| c.held.clone()).collect();
        }
    }
    for w in decision.waiting.iter().filter(|w| w.until.is_none()) {
        if let Some(r) = rebuild_of(rows, &at, &w.image)
            && matches!(r.status, RebuildStatus::Pending | RebuildStatus::Held)
        {
            r.waiting = Some(w.why.clone());
            r.blocked_by.clone_from(&w.blocked_by);
        }
    }
    for name in &ready {
        if let Some(r) = rebuild_of(rows, &at, name) {
            r.due_now = true;
        }
    }
    // The process ends after the report: freeing 100,000 states one by one would only delay
    // it (about 4% of a run).
    std::mem::forget((enrollment, world));
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
        rebuild: None,
        pins_to_bump: Vec::new(),
        discovery: None,
        last_checked: None,
        check_error: None,
        problem: Some(format!("state file cannot be read: {why}")),
        attestations: None,
    }
}

/// Runs `status`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let loaded = load::load_checked(&cli.root)?;
    let factory = loaded.factory;
    let now = crate::cmd::analyze::now_or_clock(args.now);
    let mut rows = rows(&factory);
    explain_waits(&cli.root, factory, &mut rows, now);
    rows.reserve_exact(loaded.damaged.len());
    rows.extend(loaded.damaged.iter().map(damaged_row));
    // A state file that cannot be read needs a person: exit 1 (after showing everything).
    let outcome = Outcome::failed_if(!loaded.damaged.is_empty());
    if cli.format == Format::Json {
        output::print_json(&Report { images: &rows })?;
    } else {
        let style = table::Style {
            now,
            utc: args.utc,
            width: (!args.wide).then(table::width),
        };
        for line in table::render(&rows, &style) {
            output::line(line);
        }
    }
    // Printed: the process ends (freeing every row one by one would only delay it).
    std::mem::forget(rows);
    Ok(outcome)
}
