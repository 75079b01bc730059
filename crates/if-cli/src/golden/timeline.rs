//! Rebuild timelines: `testdata/rebuild/<case>/timeline.txt` describes a factory and a dated
//! list of events; [`run`] replays them through the engine and renders every decision and
//! the final rebuild state as text (`expected.txt`). Every event is also applied a second
//! time to check that it gives nothing new.
//!
//! ```text
//! image app from node:22 @base delay=3d cascade=1d auto=false provider=gitlab timeout=2d
//! at 2027-01-01T00:00:00Z update node:22 1        # digest n = sha256 of "digest n"
//! at 2027-01-08T00:00:00Z reconcile               # every trigger succeeds (a run id each)
//! at 2027-01-08T00:00:00Z reconcile fail HTTP 500 # every trigger fails with this message
//! at 2027-01-08T00:00:00Z reconcile unconfirmed   # every start's answer is lost
//! at 2027-01-08T01:00:00Z poll app in_progress    # a poll of app's running build says so
//! at 2027-01-08T02:00:00Z poll app success        # ... or it ended (success, failure, ...)
//! at 2027-01-08T02:00:00Z reported app some text  # `record-build --failed --reason ...`
//! at 2027-01-09T00:00:00Z build app 7
//! at 2027-01-09T00:00:00Z trigger app some reason
//! at 2027-01-09T00:00:00Z expedite node:22 CVE-2026-1
//! at 2027-01-09T00:00:00Z plan node:22
//! at 2027-01-09T00:00:00Z scan node:22 2 critical=CVE-1,CVE-2 high=CVE-3  # digest 2's scan
//! at 2027-01-09T00:00:00Z signature node:22 2 verified   # or: failed WHY
//! at 2027-01-09T00:00:00Z release app some reason        # `image-factory release`
//! ```
//! Image options of the supply-chain policy: `expedite-on=CRITICAL`, `hold-on=HIGH`,
//! `signature=keys/cosign.pub` (`requireSignature.publicKeyFile`).
//! `@base` in a `from` list is the image `base` of the same factory.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use if_model::digest::Digest;
use if_model::enrollment::{self, Enrollment};
use if_model::factory::Factory;
use if_model::reference::ImageRef;
use if_model::state::ImageState;
use if_model::timestamp::Timestamp;
use if_state::rebuild::{self, Decision, Policy, Trigger};
use if_state::{Analysis, Discovery, Request};

/// The engine policy timelines run with (the defaults, but 3 attempts).
pub fn policy() -> Policy {
    Policy {
        max_attempts: 3,
        ..Policy::default()
    }
}

/// Digest `n` of a timeline.
pub fn digest(n: &str) -> Digest {
    Digest::of_sha256_bytes(format!("digest {n}").as_bytes())
}

struct Timeline {
    enrollment: Enrollment,
    world: Analysis,
    out: String,
    /// The last GitLab pipeline id and GitHub run id handed out.
    pipeline: u64,
    run: u64,
}

/// The provider words of a running build that a `poll` event may give.
const RUNNING_WORDS: [&str; 6] = [
    "queued",
    "in_progress",
    "waiting",
    "created",
    "pending",
    "running",
];

/// Replays `text`; returns the rendering, or the first problem (with its line number).
pub fn run(text: &str) -> Result<String, String> {
    let mut images = String::new();
    let mut froms: BTreeMap<String, Vec<ImageRef>> = BTreeMap::new();
    let mut events = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" # ").next().unwrap_or("").trim();
        let at_line = |e: String| format!("timeline.txt:{}: {e}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"image") => {
                let (entry, from) = image_entry(&words[1..]).map_err(at_line)?;
                images.push_str(&entry);
                froms.insert(words.get(1).copied().unwrap_or("").to_string(), from);
            }
            Some(&"at") => {
                let t = words
                    .get(1)
                    .and_then(|t| Timestamp::parse(t).ok())
                    .ok_or_else(|| at_line("`at` needs an RFC 3339 time".into()))?;
                let rest: Vec<String> = words[2..].iter().map(|w| w.to_string()).collect();
                events.push((i + 1, t, rest));
            }
            _ => return Err(at_line(format!("unknown line `{line}`"))),
        }
    }
    let (enrollment, diags) = enrollment::parse(&images, "timeline.txt");
    if let Some(d) = diags.first() {
        return Err(format!("{d}\n{images}"));
    }
    let factory = Factory {
        enrollment: enrollment.clone(),
        images: Vec::new(),
        bases: Vec::new(),
    };
    let req = Request {
        now: Timestamp::from_unix(0).ok_or("epoch")?,
        discoveries: froms
            .into_iter()
            .map(|(n, refs)| (n, Discovery::Found(refs)))
            .collect(),
        published: BTreeMap::new(),
        only: None,
    };
    let mut world = if_state::analyze(factory, &req);
    world.changes.clear();
    let mut tl = Timeline {
        enrollment,
        world,
        out: String::new(),
        pipeline: 1000,
        run: 5000,
    };
    for (line, at, words) in events {
        tl.event(at, &words)
            .map_err(|e| format!("timeline.txt:{line}: {e}"))?;
    }
    tl.finish();
    Ok(tl.out)
}

fn image_entry(words: &[&str]) -> Result<(String, Vec<ImageRef>), String> {
    let name = words.first().ok_or("`image` needs a name")?;
    let mut from = Vec::new();
    let (mut delay, mut cascade, mut auto, mut provider) = ("7d", "0m", "true", "github");
    let mut timeout = "1d";
    let mut supply = String::new();
    let mut policy = String::new();
    let mut rest = words[1..].iter();
    if rest.next() != Some(&"from") {
        return Err("expected `image NAME from REF...`".into());
    }
    for w in rest {
        match w.split_once('=') {
            Some(("delay", v)) => delay = v,
            Some(("cascade", v)) => cascade = v,
            Some(("auto", v)) => auto = v,
            Some(("provider", v)) => provider = v,
            Some(("timeout", v)) => timeout = v,
            Some(("expedite-on", v)) => policy.push_str(&format!("    expediteOn: {v}\n")),
            Some(("hold-on", v)) => policy.push_str(&format!("    holdOn: {v}\n")),
            Some(("signature", v)) => {
                supply.push_str(&format!("  requireSignature:\n    publicKeyFile: {v}\n"));
            }
            Some((k, _)) => return Err(format!("unknown option `{k}`")),
            None => {
                let r = match w.strip_prefix('@') {
                    Some(parent) => format!("ghcr.io/acme/{parent}:latest"),
                    None => w.replace("DIGEST", digest("pin").as_str()),
                };
                from.push(ImageRef::parse(&r).map_err(|e| format!("`{r}`: {e}"))?);
            }
        }
    }
    let how = if provider == "gitlab" {
        format!("    pipeline: .gitlab-ci.yml\n    job: build-{name}\n")
    } else {
        "    workflow: build.yml\n".to_string()
    };
    let entry = format!(
        "- name: {name}\n  registry: ghcr.io\n  repository: acme/{name}\n  source:\n    provider: {provider}\n    repo: acme/{name}\n    dockerfile: Dockerfile\n{how}  rebuildDelay: {delay}\n  cascadeDelay: {cascade}\n  autoRebuild: {auto}\n  buildTimeout: {timeout}\n"
    );
    let mut entry = entry;
    if !policy.is_empty() {
        entry.push_str(&format!("  vulnerabilityPolicy:\n{policy}"));
    }
    entry.push_str(&supply);
    Ok((entry, from))
}

/// How the forge answers the triggers of a `reconcile` event.
enum Dispatch {
    /// Every start succeeds, with a run id.
    Succeed,
    /// Every start fails with this message.
    Fail(String),
    /// Every start's answer is lost.
    Unconfirmed,
}

impl Timeline {
    fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    fn changes(&mut self) {
        for c in std::mem::take(&mut self.world.changes) {
            self.line(format!("  {c}"));
        }
    }

    fn event(&mut self, at: Timestamp, words: &[String]) -> Result<(), String> {
        self.line(format!("== {at} {}", words.join(" ")));
        let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
        let rest = |i: usize| words.get(i..).map(|w| w.join(" ")).unwrap_or_default();
        let engine = |e: rebuild::EngineError| e.to_string();
        match word(0) {
            "update" => {
                let r = ImageRef::parse(word(1)).map_err(|e| e.to_string())?;
                let d = digest(word(2));
                rebuild::record_update(&self.enrollment, &mut self.world, &r, &d, at)
                    .map_err(engine)?;
                self.changes();
                self.replay("update", |en, w| {
                    rebuild::record_update(en, w, &r, &d, at).map(|_| ())
                })?;
            }
            "build" => {
                let d = digest(word(2));
                let name = word(1).to_string();
                rebuild::record_build(&self.enrollment, &mut self.world, &name, &d, None, at)
                    .map_err(engine)?;
                self.changes();
                self.replay("build", |en, w| {
                    rebuild::record_build(en, w, &name, &d, None, at).map(|_| ())
                })?;
            }
            "expedite" => {
                let (base, reason) = (word(1).to_string(), rest(2));
                rebuild::expedite(&self.enrollment, &mut self.world, &base, &reason, at)
                    .map_err(engine)?;
                self.changes();
                self.replay("expedite", |en, w| {
                    rebuild::expedite(en, w, &base, &reason, at).map(|_| ())
                })?;
            }
            "scan" | "signature" => {
                let d = digest(word(2));
                let Some(rebuild::Subject::Base { identity, .. }) =
                    rebuild::resolve(&self.enrollment, &self.world, word(1))
                else {
                    return Err(format!("`{}` is not a base image", word(1)));
                };
                let base = self.world.bases.get_mut(&identity).ok_or("no base state")?;
                if word(0) == "scan" {
                    let mut scan = if_model::supply::Scan {
                        scanner: Some("trivy".into()),
                        ..Default::default()
                    };
                    for w in words.iter().skip(3) {
                        let (k, v) = w.split_once('=').ok_or("expected critical=... high=...")?;
                        let ids = v.split(',').map(str::to_string).collect();
                        match k {
                            "critical" => scan.critical = ids,
                            "high" => scan.high = ids,
                            _ => return Err(format!("unknown scan field `{k}`")),
                        }
                    }
                    if_state::scan::record_scan(base, &d, scan, at);
                } else {
                    let ok = match word(3) {
                        "verified" => true,
                        "failed" => false,
                        w => {
                            return Err(format!("`signature` needs verified or failed, not `{w}`"));
                        }
                    };
                    // A check of every key file of the factory (the timeline reads none).
                    let facts = if_model::supply::facts_mut(&mut base.digests, &d);
                    for file in if_state::cosign::key_files(&self.enrollment) {
                        facts.record_signature(if_model::supply::SignatureCheck {
                            verified: Some(ok),
                            key: Some(file),
                            checked_at: Some(at),
                            reason: (!ok).then(|| rest(4)),
                            ..Default::default()
                        });
                    }
                }
            }
            "release" => {
                let (name, reason) = (word(1).to_string(), rest(2));
                rebuild::release(&self.enrollment, &mut self.world, &name, &reason, at)
                    .map_err(engine)?;
                self.changes();
                self.replay("release", |en, w| {
                    rebuild::release(en, w, &name, &reason, at).map(|_| ())
                })?;
            }
            "trigger" => {
                let reason = rest(2);
                let reason = (!reason.is_empty()).then_some(reason.as_str());
                let t = rebuild::manual(&self.enrollment, &mut self.world, word(1), reason, at)
                    .map_err(engine)?;
                let d = Decision {
                    triggers: vec![t],
                    ..Decision::default()
                };
                self.decision(&d, at, &Dispatch::Succeed);
            }
            "poll" => {
                let name = word(1).to_string();
                let outcome = match word(2) {
                    "success" => rebuild::BuildOutcome::Succeeded,
                    w if RUNNING_WORDS.contains(&w) => rebuild::BuildOutcome::Running {
                        status: w.to_string(),
                    },
                    "" => return Err("`poll` needs an image and a state".into()),
                    w => rebuild::BuildOutcome::Failed {
                        conclusion: w.to_string(),
                        reason: format!("the run ended `{w}`"),
                    },
                };
                let observed = rebuild::Observed::just(outcome);
                self.observe(&name, |_, w, entry| {
                    rebuild::build_result(w, &name, entry, observed.clone(), at, &policy());
                })?;
            }
            "reported" => {
                let (name, reason) = (word(1).to_string(), rest(2));
                let reason = (!reason.is_empty()).then_some(reason);
                rebuild::report_failure(
                    &self.enrollment,
                    &mut self.world,
                    &name,
                    reason.as_deref(),
                    None,
                    at,
                    &policy(),
                )
                .map_err(engine)?;
                self.changes();
                self.replay("reported", |en, w| {
                    rebuild::report_failure(en, w, &name, reason.as_deref(), None, at, &policy())
                        .map(|_| ())
                })?;
            }
            "reconcile" => {
                let how = match word(1) {
                    "fail" => Dispatch::Fail(rest(2)),
                    "unconfirmed" => Dispatch::Unconfirmed,
                    _ => Dispatch::Succeed,
                };
                let d = rebuild::reconcile(&self.enrollment, &mut self.world, at, &policy());
                self.decision(&d, at, &how);
                let again = rebuild::reconcile(&self.enrollment, &mut self.world, at, &policy());
                if !again.triggers.is_empty() || !again.became_due.is_empty() {
                    return Err(format!("reconcile at {at} again decided {again:?}"));
                }
            }
            "plan" => {
                let p = rebuild::plan(&self.enrollment, &self.world, word(1), at, &policy())
                    .map_err(engine)?;
                for s in &p.steps {
                    let via = s.via.join(", ");
                    self.line(format!(
                        "  {} {} {} via {via}",
                        s.at,
                        s.kind.as_str(),
                        s.image
                    ));
                }
                for n in &p.pinned {
                    self.line(format!("  pinned {n}"));
                }
                for w in &p.stuck {
                    self.line(format!("  stuck {}: {}", w.image, w.why));
                }
                for r in &p.running {
                    let state = r.run_status.as_deref().unwrap_or("no state polled yet");
                    let url = r.run_url.as_deref().unwrap_or("-");
                    let give_up = r.give_up_at.map(|t| t.to_string()).unwrap_or_default();
                    self.line(format!(
                        "  running {} {state} {url} given up at {give_up}",
                        r.image
                    ));
                }
            }
            other => return Err(format!("unknown event `{other}`")),
        }
        Ok(())
    }

    /// Applies `step` to the newest open build of `name` (an error when none is open), then
    /// again: the second time must change nothing.
    fn observe(
        &mut self,
        name: &str,
        step: impl Fn(&Enrollment, &mut Analysis, usize),
    ) -> Result<(), String> {
        let entry = self
            .world
            .images
            .get(name)
            .and_then(|s| s.rebuild_history.iter().rposition(|r| r.success.is_none()))
            .ok_or_else(|| format!("`{name}` has no running build to poll"))?;
        step(&self.enrollment, &mut self.world, entry);
        self.changes();
        self.replay("poll", |en, w| {
            step(en, w, entry);
            Ok(())
        })
    }

    /// Applies `step` again to a copy: it must change nothing.
    fn replay(
        &mut self,
        what: &str,
        step: impl FnOnce(&Enrollment, &mut Analysis) -> Result<(), rebuild::EngineError>,
    ) -> Result<(), String> {
        let mut copy = self.world.clone();
        step(&self.enrollment, &mut copy).map_err(|e| e.to_string())?;
        if copy.images != self.world.images || copy.bases != self.world.bases {
            return Err(format!("{what} applied twice changed the state again"));
        }
        Ok(())
    }

    fn decision(&mut self, d: &Decision, at: Timestamp, how: &Dispatch) {
        for n in &d.timed_out {
            self.line(format!("  timed out {n}"));
        }
        for t in &d.triggers {
            self.trigger_line(t);
            let outcome = match how {
                Dispatch::Fail(msg) => Err(msg.clone()),
                Dispatch::Unconfirmed => Ok(rebuild::Started {
                    unconfirmed: Some("no answer within the timeout".to_string()),
                    ..rebuild::Started::default()
                }),
                Dispatch::Succeed if t.source.provider == enrollment::Provider::Gitlab => {
                    self.pipeline += 1;
                    Ok(rebuild::Started {
                        pipeline_id: Some(self.pipeline),
                        url: Some(format!(
                            "https://gitlab.example/-/pipelines/{}",
                            self.pipeline
                        )),
                        ..rebuild::Started::default()
                    })
                }
                Dispatch::Succeed => {
                    self.run += 1;
                    Ok(rebuild::Started {
                        run_id: Some(self.run),
                        url: Some(format!("https://github.example/actions/runs/{}", self.run)),
                        ..rebuild::Started::default()
                    })
                }
            };
            rebuild::trigger_result(&mut self.world, t, outcome, at, &policy());
        }
        for n in &d.became_due {
            self.line(format!("  due {n}"));
        }
        for w in &d.waiting {
            let until = w.until.map(|u| format!(" until {u}")).unwrap_or_default();
            self.line(format!("  wait {}{until}: {}", w.image, w.why));
        }
        for c in &d.cycles {
            self.line(format!("  cycle {}", c.join(" -> ")));
        }
        self.changes();
    }

    fn trigger_line(&mut self, t: &Trigger) {
        let mut s = format!("  trigger {} attempt {}:", t.image, t.attempt);
        for (k, v) in &t.inputs {
            if k != "image" {
                let _ = write!(s, "\n    {k}={v}");
            }
        }
        self.line(s);
    }

    fn finish(&mut self) {
        self.line("== final rebuild state");
        let images: Vec<ImageState> = self
            .world
            .images
            .values()
            .map(|s| ImageState {
                name: s.name.clone(),
                current_digest: s.current_digest.clone(),
                rebuild_state: s.rebuild_state.clone(),
                rebuild_history: s.rebuild_history.clone(),
                ..ImageState::default()
            })
            .collect();
        for s in images {
            match s.to_yaml() {
                Ok(y) => self.out.push_str(&y),
                Err(e) => self.line(format!("{}: cannot render: {e}", s.name)),
            }
            self.line("---");
        }
    }
}
