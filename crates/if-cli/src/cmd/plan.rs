//! `image-factory plan BASE`: what a new digest of BASE would rebuild, in which order and at
//! what times, without changing anything.

use if_model::timestamp::Timestamp;
use if_state::rebuild;
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `plan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The base image (a reference such as `node:22-bookworm-slim`, a base-image state name,
    /// or an image of the factory).
    #[arg(value_name = "BASE")]
    pub base: String,
    /// When the new digest is assumed to appear, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step<'a> {
    at: String,
    image: &'a str,
    action: &'static str,
    via: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stuck<'a> {
    image: &'a str,
    why: &'a str,
}

/// A build running now (the plan assumes it succeeds at once).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunningRow<'a> {
    image: &'a str,
    triggered_at: Option<String>,
    run_url: Option<&'a str>,
    run_status: Option<&'a str>,
    run_error: Option<&'a str>,
    give_up_at: Option<String>,
}

/// Runs `plan`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.now);
    let loaded = load::load_checked(&cli.root)?;
    // The plan works on the states themselves: no copy of every state.
    let (enrollment, mut world) = rebuild::take(loaded.factory);
    // Causes held by the supply-chain policy now (issue 23): a new digest supersedes them
    // (the plan's steps), a person may release them; and causes a fix makes due now. Judged
    // at `now` as `reconcile` would, taken before the plan consumes the states.
    super::signatures::note_keys(&cli.root, &enrollment, &mut world);
    rebuild::judge(&enrollment, &mut world, now);
    let expedited_owned: Vec<(String, String)> = world
        .images
        .values()
        .flat_map(|s| {
            let causes = s.rebuild_state.iter().flat_map(|r| r.causes.iter());
            causes
                .filter(|c| c.triggered_by.as_deref() == Some(rebuild::BY_EXPEDITE))
                .filter_map(move |c| Some((s.name.clone(), c.reason.clone()?)))
        })
        .collect();
    let held_owned: Vec<(String, String)> = world
        .images
        .values()
        .flat_map(|s| {
            let causes = s.rebuild_state.iter().flat_map(|r| r.causes.iter());
            causes.filter_map(move |c| Some((s.name.clone(), c.held.clone()?)))
        })
        .collect();
    let plan = rebuild::plan_on(
        &enrollment,
        &mut world,
        &args.base,
        now,
        &rebuild::Policy::default(),
    )
    .map_err(|e| CliError::Input(e.to_string()))?;
    // What the plan left in the states is scratch, and the process ends after the report:
    // freeing 100,000 states one by one would only delay it.
    std::mem::forget((enrollment, world));
    let steps: Vec<Step<'_>> = plan
        .steps
        .iter()
        .map(|s| Step {
            at: s.at.to_string(),
            image: &s.image,
            action: s.kind.as_str(),
            via: &s.via,
        })
        .collect();
    // A damaged state file is shown: its image is not rebuilt until it is repaired.
    let damaged: Vec<(String, String)> = loaded
        .damaged
        .iter()
        .map(|d| {
            let why = d.problems.first().map_or("cannot be read", String::as_str);
            (
                d.name.clone(),
                format!("damaged state file {}: {why}", d.path),
            )
        })
        .collect();
    let stuck: Vec<Stuck<'_>> = plan
        .stuck
        .iter()
        .map(|w| Stuck {
            image: &w.image,
            why: &w.why,
        })
        .chain(damaged.iter().map(|(image, why)| Stuck { image, why }))
        .collect();
    let running: Vec<RunningRow<'_>> = plan
        .running
        .iter()
        .map(|r| RunningRow {
            image: &r.image,
            triggered_at: r.triggered_at.map(|t| t.to_string()),
            run_url: r.run_url.as_deref(),
            run_status: r.run_status.as_deref(),
            run_error: r.run_error.as_deref(),
            give_up_at: r.give_up_at.map(|t| t.to_string()),
        })
        .collect();
    let held: Vec<Stuck<'_>> = held_owned
        .iter()
        .map(|(image, why)| Stuck { image, why })
        .collect();
    let expedited: Vec<Stuck<'_>> = expedited_owned
        .iter()
        .map(|(image, why)| Stuck { image, why })
        .collect();
    // A damaged state file needs a person (exit 1): its image is left out of the plan.
    let outcome = Outcome::failed_if(!damaged.is_empty());
    if cli.format == Format::Json {
        output::print_json(&serde_json::json!({
            "base": plan.base,
            "at": plan.at.to_string(),
            "steps": steps,
            "pinned": plan.pinned,
            "stuck": stuck,
            "running": running,
            "held": held,
            "expedited": expedited,
        }))?;
        return Ok(outcome);
    }
    output::line(format_args!(
        "a new digest of {} at {} would rebuild:",
        plan.base, plan.at
    ));
    if steps.is_empty() {
        output::line(format_args!("  nothing"));
    }
    for s in &steps {
        let action = match s.action {
            "due" => "due (autoRebuild false: waits for `image-factory trigger`)",
            _ => "trigger",
        };
        output::line(format_args!(
            "  {}  {:<24} {action}, for {}",
            s.at,
            s.image,
            s.via.join(", ")
        ));
    }
    for p in &plan.pinned {
        output::line(format_args!(
            "  {p}: pins {} by digest; not rebuilt, bump the pin",
            plan.base
        ));
    }
    for s in &stuck {
        output::line(format_args!("  {}: not rebuilt: {}", s.image, s.why));
    }
    if !held.is_empty() {
        output::line(format_args!(
            "held now (until a newer digest or `image-factory release IMAGE`):"
        ));
    }
    for h in &held {
        output::line(format_args!("  {}: {}", h.image, h.why));
    }
    if !expedited.is_empty() {
        output::line(format_args!(
            "expedited now (due at once, the next `reconcile` triggers them):"
        ));
    }
    for e in &expedited {
        output::line(format_args!("  {}: {}", e.image, e.why));
    }
    if !running.is_empty() {
        output::line(format_args!(
            "assuming these running builds succeed at once:"
        ));
    }
    for r in &running {
        let state = r
            .run_status
            .or(r.run_error)
            .unwrap_or("no state polled yet");
        let url = r.run_url.map(|u| format!(" {u}")).unwrap_or_default();
        let give_up = r
            .give_up_at
            .as_ref()
            .map(|t| format!(", given up at {t}"))
            .unwrap_or_default();
        output::line(format_args!("  {:<24} {state}{url}{give_up}", r.image));
    }
    Ok(outcome)
}
