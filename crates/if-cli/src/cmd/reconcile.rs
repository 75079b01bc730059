//! `image-factory reconcile`, `trigger` and `expedite`: decide what is due, start those
//! builds on GitHub or GitLab, and record each outcome in the state.

use if_model::timestamp::Timestamp;
use if_state::rebuild::{self, Decision, Policy, Started, Trigger};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::exit::{CliError, Outcome};
use crate::forge::{self, DispatchArgs};
use crate::{load, output};

/// The options of every command that triggers builds.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    /// Print what would be triggered (with the inputs) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Trigger options.
    #[command(flatten)]
    pub dispatch: DispatchArgs,
}

/// Arguments of `reconcile`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileArgs {
    /// When, how, and whether to trigger.
    #[command(flatten)]
    pub run: RunArgs,
    /// A registry (`host[:port]`) asked for signatures over plain HTTP (`requireSignature`
    /// digests not verified yet); repeatable. Loopback registries always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
}

/// `requireSignature`: verifies the signatures the state owes (digests not verified with
/// their image's key) before the engine decides, with `check`'s own code; the registry
/// client is made only when something is owed.
fn verify_owed(
    cli: &Cli,
    args: &ReconcileArgs,
    enrollment: &if_model::enrollment::Enrollment,
    world: &mut if_state::Analysis,
    now: Timestamp,
) -> Result<(), CliError> {
    let owing = super::signatures::owing(&cli.root, enrollment, world);
    if owing.is_empty() {
        return Ok(());
    }
    let registry = crate::registry::RegistryArgs {
        concurrency: 1,
        insecure: args.insecure.clone(),
        mirrors: Vec::new(),
        http_retries: args.run.dispatch.http_retries,
        http_timeout: args.run.dispatch.http_timeout.max(1),
        rate_limit_floor: crate::registry::RATE_LIMIT_FLOOR,
        helper_timeout: crate::registry::HELPER_TIMEOUT_SECONDS,
    };
    let (client, warnings) = crate::registry::client_from_env(&registry)?;
    for w in warnings.iter().chain(&owing.check(&client, world, now)) {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// Arguments of `trigger`.
#[derive(Debug, Clone, clap::Args)]
pub struct TriggerArgs {
    /// The enrolled image to rebuild now.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Why, recorded in the state and passed to the build.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// When, how, and whether to trigger.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Arguments of `expedite`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExpediteArgs {
    /// The base image whose pending rebuilds should not wait any longer (a reference such as
    /// `node:22-bookworm-slim`, a base-image state name, or an image of the factory).
    #[arg(value_name = "BASE")]
    pub base: String,
    /// Why (a CVE id, say): recorded in the state and passed to the builds.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TriggerRow<'a> {
    image: &'a str,
    provider: &'a str,
    repo: &'a str,
    branch: &'a str,
    workflow: Option<&'a str>,
    job: Option<&'a str>,
    attempt: u32,
    reason: &'a str,
    inputs: std::collections::BTreeMap<&'a str, &'a str>,
    /// `dry-run`, `triggered` or `failed`.
    result: &'static str,
    pipeline_id: Option<u64>,
    run_id: Option<u64>,
    run_url: Option<String>,
    /// Why the start is not confirmed (the forge's answer was lost; not sent again).
    unconfirmed: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WaitRow<'a> {
    image: &'a str,
    until: Option<String>,
    blocked_by: &'a [String],
    why: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    now: String,
    dry_run: bool,
    triggers: Vec<TriggerRow<'a>>,
    due: &'a [String],
    waiting: Vec<WaitRow<'a>>,
    cycles: &'a [Vec<String>],
    timed_out: &'a [String],
    polled: &'a [crate::forge::Polled],
    changes: &'a [String],
    written: &'a [String],
}

type Outcomes = Vec<Option<Result<Started, String>>>;

fn trigger_row<'a>(t: &'a Trigger, outcome: Option<&Result<Started, String>>) -> TriggerRow<'a> {
    let none = Started::default();
    let (result, started, error) = match outcome {
        None => ("dry-run", &none, None),
        Some(Ok(started)) => ("triggered", started, None),
        Some(Err(e)) => ("failed", &none, Some(e.clone())),
    };
    TriggerRow {
        image: &t.image,
        provider: t.source.provider.as_str(),
        repo: &t.source.repo,
        branch: &t.source.branch,
        workflow: t.source.workflow.as_deref(),
        job: t.source.job.as_deref(),
        attempt: t.attempt,
        reason: &t.reason,
        inputs: t
            .inputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        result,
        pipeline_id: started.pipeline_id,
        run_id: started.run_id,
        run_url: started.url.clone(),
        unconfirmed: started.unconfirmed.clone(),
        error,
    }
}

/// Where a run writes what it learns, as soon as it learns it: the factory root and what the
/// files said (none in a dry run, which writes nothing), and the files written so far.
struct Sink<'a> {
    root: &'a std::path::Path,
    baseline: Option<if_state::Baseline>,
    written: Vec<String>,
}

impl Sink<'_> {
    /// Writes image `name`'s file now if it changed.
    fn image(&mut self, world: &if_state::Analysis, name: &str) -> Result<(), CliError> {
        if let Some(baseline) = self.baseline.as_mut()
            && let Some(path) = load::write_image(self.root, baseline, world, name)?
        {
            self.written.push(path);
        }
        Ok(())
    }

    /// Writes every other changed file; returns every file written, sorted.
    fn finish(mut self, world: &if_state::Analysis) -> Result<Vec<String>, CliError> {
        if let Some(baseline) = &self.baseline {
            self.written
                .extend(load::write_state(self.root, baseline, world)?);
        }
        self.written.sort();
        self.written.dedup();
        Ok(self.written)
    }
}

/// Dispatches every trigger (unless `dry_run`) and records each outcome, writing the image's
/// state before the next trigger is sent.
fn carry_out(
    world: &mut if_state::Analysis,
    triggers: &[Trigger],
    client: Option<&crate::forge_auth::Forges>,
    sink: &mut Sink<'_>,
    now: Timestamp,
    policy: &Policy,
) -> Result<Outcomes, CliError> {
    let Some(client) = client.filter(|_| !triggers.is_empty()) else {
        return Ok(triggers.iter().map(|_| None).collect());
    };
    let mut out = Vec::with_capacity(triggers.len());
    for t in triggers {
        let outcome = forge::dispatch(client, t);
        rebuild::trigger_result(world, t, outcome.clone(), now, policy);
        sink.image(world, &t.image)?;
        crate::git::checkpoint(&world.changes);
        out.push(Some(outcome));
    }
    Ok(out)
}

fn print_triggers(triggers: &[Trigger], outcomes: &Outcomes) {
    for (t, o) in triggers.iter().zip(outcomes) {
        let target = forge::target(t);
        match o {
            None => {
                output::line(format_args!(
                    "would trigger {} ({target}), attempt {}: {}",
                    t.image, t.attempt, t.reason
                ));
                for (k, v) in &t.inputs {
                    output::line(format_args!("    {k} = {v}"));
                }
            }
            Some(Ok(started)) => {
                let run = started.label();
                let url = started
                    .url
                    .as_ref()
                    .map(|u| format!(" {u}"))
                    .unwrap_or_default();
                output::line(format_args!("triggered {} ({target}{run}){url}", t.image));
                if let Some(u) = &started.unconfirmed {
                    eprintln!(
                        "warning: the start of {}'s build is not confirmed ({u}); it is not \
                         sent again, and is given up after its buildTimeout unless found",
                        t.image
                    );
                }
            }
            Some(Err(e)) => eprintln!("error: trigger of {} ({target}) failed: {e}", t.image),
        }
    }
}

/// Loads the factory, asks the forges for the outcome of every running build (unless
/// `dry_run`), lets `decide` choose the triggers, carries them out (unless `dry_run`), writes
/// the state (each outcome as soon as it is known) and prints the report (JSON, or the
/// triggers as text). Returns the decision when the caller still has text to print, and
/// whether something failed or needs a person (a failed trigger, a build that timed out, a
/// dependency cycle): exit code 1.
fn decide_and_dispatch(
    cli: &Cli,
    run: &RunArgs,
    now: Timestamp,
    decide: impl FnOnce(
        &if_model::enrollment::Enrollment,
        &mut if_state::Analysis,
        &Policy,
    ) -> Result<Decision, CliError>,
) -> Result<(Option<Decision>, bool), CliError> {
    let factory = load::load_for_update(&cli.root)?;
    let dry_run = run.dry_run;
    let policy = run.dispatch.policy();
    // What the files said, to write only what changes (nothing is written in a dry run).
    let mut sink = Sink {
        root: &cli.root,
        baseline: (!dry_run).then(|| if_state::baseline(&factory)),
        written: Vec::new(),
    };
    let (enrollment, mut world) = rebuild::take(factory);
    let client = if dry_run {
        None
    } else {
        Some(forge::client_from_env(&run.dispatch, &enrollment)?)
    };
    let polled = match &client {
        Some(client) => {
            let polled = forge::poll_all(client, &enrollment, &world);
            for p in &polled {
                if rebuild::build_result(
                    &mut world,
                    &p.image,
                    p.entry,
                    p.observed.clone(),
                    now,
                    &policy,
                ) {
                    sink.image(&world, &p.image)?;
                }
            }
            polled
        }
        None => Vec::new(),
    };
    let decision = decide(&enrollment, &mut world, &policy)?;
    let outcomes = carry_out(
        &mut world,
        &decision.triggers,
        client.as_ref(),
        &mut sink,
        now,
        &policy,
    )?;
    let written = sink.finish(&world)?;
    let failed = outcomes.iter().any(|o| matches!(o, Some(Err(_))))
        || !decision.timed_out.is_empty()
        || !decision.cycles.is_empty();
    if cli.format == Format::Json {
        print_report(
            now,
            dry_run,
            &decision,
            &outcomes,
            &polled,
            &world.changes,
            &written,
        )?;
        return Ok((None, failed));
    }
    for p in &polled {
        output::line(format_args!("{}", forge::polled_line(p)));
    }
    print_triggers(&decision.triggers, &outcomes);
    Ok((Some(decision), failed))
}

/// Runs `reconcile`.
pub fn run_reconcile(cli: &Cli, args: &ReconcileArgs) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.run.now);
    let (decision, failed) = decide_and_dispatch(cli, &args.run, now, |en, w, policy| {
        verify_owed(cli, args, en, w, now)?;
        Ok(rebuild::reconcile(en, w, now, policy))
    })?;
    let Some(decision) = decision else {
        return Ok(Outcome::failed_if(failed));
    };
    for name in &decision.timed_out {
        eprintln!(
            "error: the build of {name} had no outcome within its buildTimeout: counted as a failed attempt"
        );
    }
    for name in &decision.became_due {
        output::line(format_args!(
            "due: {name} (autoRebuild is false; run `image-factory trigger {name}`)"
        ));
    }
    for w in &decision.waiting {
        let until = w.until.map(|u| format!(" until {u}")).unwrap_or_default();
        output::line(format_args!("waiting: {}{until}: {}", w.image, w.why));
    }
    for c in &decision.cycles {
        eprintln!(
            "error: dependency cycle, never triggered: {}",
            c.join(" -> ")
        );
    }
    if decision.triggers.is_empty() && decision.became_due.is_empty() {
        output::line(format_args!("nothing to trigger at {now}"));
    }
    Ok(Outcome::failed_if(failed))
}

fn print_report(
    now: Timestamp,
    dry_run: bool,
    decision: &Decision,
    outcomes: &Outcomes,
    polled: &[forge::Polled],
    changes: &[String],
    written: &[String],
) -> Result<(), CliError> {
    output::print_json(&Report {
        now: now.to_string(),
        dry_run,
        triggers: decision
            .triggers
            .iter()
            .zip(outcomes)
            .map(|(t, o)| trigger_row(t, o.as_ref()))
            .collect(),
        due: &decision.became_due,
        waiting: decision
            .waiting
            .iter()
            .map(|w| WaitRow {
                image: &w.image,
                until: w.until.map(|u| u.to_string()),
                blocked_by: &w.blocked_by,
                why: &w.why,
            })
            .collect(),
        cycles: &decision.cycles,
        timed_out: &decision.timed_out,
        polled,
        changes,
        written,
    })
}

/// Runs `trigger`.
pub fn run_trigger(cli: &Cli, args: &TriggerArgs) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.run.now);
    let (_, failed) = decide_and_dispatch(cli, &args.run, now, |en, w, _| {
        let trigger = rebuild::manual(en, w, &args.name, args.reason.as_deref(), now)
            .map_err(|e| CliError::Input(e.to_string()))?;
        Ok(Decision {
            triggers: vec![trigger],
            ..Decision::default()
        })
    })?;
    Ok(Outcome::failed_if(failed))
}

/// Runs `expedite`.
pub fn run_expedite(cli: &Cli, args: &ExpediteArgs) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.now);
    let factory = load::load_for_update(&cli.root)?;
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let done = rebuild::expedite(&enrollment, &mut world, &args.base, &args.reason, now)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let written = load::write_state(&cli.root, &baseline, &world)?;
    if cli.format == Format::Json {
        output::print_json(&serde_json::json!({
            "base": args.base,
            "expedited": done,
            "changes": world.changes,
            "written": written,
        }))?;
    } else if done.is_empty() {
        output::line(format_args!(
            "nothing waits for {}; nothing expedited",
            args.base
        ));
    } else {
        for c in &world.changes {
            output::line(format_args!("{c}"));
        }
        output::line(format_args!(
            "run `image-factory reconcile` to trigger them now"
        ));
    }
    Ok(Outcome::Ok)
}
