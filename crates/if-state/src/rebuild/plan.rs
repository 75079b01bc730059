//! `plan BASE`: what a new digest of BASE would rebuild, in which order and when, found by
//! running the engine on a copy of the state (builds, those running now included, are
//! assumed to finish at once, and a person to answer a `due` image at once).

use std::collections::BTreeSet;

use if_model::digest::Digest;
use if_model::enrollment::Enrollment;
use if_model::timestamp::Timestamp;

use super::decide::{Wait, reconcile_with};
use super::graph::Links;
use super::outcome::{BuildOutcome, Observed, Running, build_result, running, trigger_result};
use super::record::{Recorded, record};
use super::{EngineError, Policy, Subject};
use crate::analyze::Analysis;

/// What a planned step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The build is triggered.
    Trigger,
    /// The rebuild becomes due and waits for a person (`autoRebuild: false`).
    Due,
}

impl StepKind {
    /// `trigger` or `due`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Trigger => "trigger",
            StepKind::Due => "due",
        }
    }
}

/// One rebuild of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When.
    pub at: Timestamp,
    /// The image.
    pub image: String,
    /// Trigger or due.
    pub kind: StepKind,
    /// The images and base images whose change it answers.
    pub via: Vec<String>,
}

/// The plan for a new digest of one base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The base image or image planned for (state name).
    pub base: String,
    /// When the new digest is assumed to appear.
    pub at: Timestamp,
    /// The rebuilds, in order.
    pub steps: Vec<Step>,
    /// Dependents that pin the base by digest: not rebuilt, their pin needs a bump.
    pub pinned: Vec<String>,
    /// Affected images that would not be rebuilt by the engine alone, and why.
    pub stuck: Vec<Wait>,
    /// The builds running now (the plan assumes they succeed at once): where to see them,
    /// their last polled state, and when they are given up.
    pub running: Vec<Running>,
}

/// Plans a new digest of `base` (reference, base-image name or image name) appearing at
/// `now`. Changes nothing.
pub fn plan(
    enrollment: &Enrollment,
    world: &Analysis,
    base: &str,
    now: Timestamp,
    policy: &Policy,
) -> Result<Plan, EngineError> {
    plan_on(enrollment, &mut world.clone(), base, now, policy)
}

/// [`plan`] on the states themselves, which it changes (the plan works on them; at 100,000
/// images a copy of every state is hundreds of megabytes): what `image-factory plan` uses,
/// with [`super::take`]. What `world` holds afterwards is the plan's scratch, not a state of
/// the factory: it is for dropping, never for writing.
pub fn plan_on(
    enrollment: &Enrollment,
    world: &mut Analysis,
    base: &str,
    now: Timestamp,
    policy: &Policy,
) -> Result<Plan, EngineError> {
    let subject = super::resolve_or_unknown(enrollment, world, base)?;
    let w = world;
    let now_running = running(enrollment, w);
    for r in &now_running {
        let done = Observed::just(BuildOutcome::Succeeded);
        build_result(w, &r.image, r.entry, done, now, policy);
    }
    let mut n = 0u64;
    let mut fresh = |what: &str| {
        n += 1;
        Digest::of_sha256_bytes(format!("image-factory plan {what} {n}").as_bytes())
    };
    let mut first = record(enrollment, w, &subject, &fresh(subject.name()), now);
    if first.outcome == "baseline" {
        first = record(enrollment, w, &subject, &fresh(subject.name()), now);
    }
    let Recorded {
        scheduled, pinned, ..
    } = first;
    let mut affected: BTreeSet<String> = scheduled.into_iter().map(|(n, _)| n).collect();
    let mut steps = Vec::new();
    let mut t = now;
    let limit = 4 * (w.images.len() + 2);
    // No step changes an image's `FROM` links: the graph is ordered once, not per decision
    // (ordering all N images for each of the plan's decisions made it superlinear).
    let links = Links::of(enrollment, w);
    // The images that can have a build waiting for an outcome, for the timeouts of every
    // decision: those with one now (one scan; the running ones were just closed) and those
    // the plan triggers (the only way a build opens) while their build is open, not a scan of
    // every state per decision.
    let mut open: BTreeSet<String> = running(enrollment, w)
        .into_iter()
        .map(|r| r.image)
        .collect();
    for _ in 0..limit {
        let decision = reconcile_with(enrollment, w, t, policy, &links, Some(&open));
        let mut progressed = false;
        let due: Vec<_> = decision
            .became_due
            .iter()
            .filter_map(|name| {
                let bases = &links.base_names;
                super::decide::manual_with(enrollment, w, name, None, t, bases).ok()
            })
            .collect();
        for (trigger, kind) in decision
            .triggers
            .iter()
            .map(|tr| (tr, StepKind::Trigger))
            .chain(due.iter().map(|tr| (tr, StepKind::Due)))
        {
            progressed = true;
            let hit = affected.contains(&trigger.image);
            open.insert(trigger.image.clone());
            trigger_result(w, trigger, Ok(super::Started::default()), t, policy);
            let image = Subject::Image {
                name: trigger.image.clone(),
            };
            let built = record(enrollment, w, &image, &fresh(&trigger.image), t);
            // Its new digest closed the build: the set keeps only what may still be open (it
            // would otherwise grow to every image the plan triggers, each looked at again for
            // every decision).
            if !has_open_build(w, &trigger.image) {
                open.remove(&trigger.image);
            }
            if hit {
                let via: BTreeSet<String> = trigger
                    .causes
                    .iter()
                    .filter_map(|c| c.base_image.clone())
                    .collect();
                steps.push(Step {
                    at: t,
                    image: trigger.image.clone(),
                    kind,
                    via: via.into_iter().collect(),
                });
                affected.extend(built.scheduled.into_iter().map(|(n, _)| n));
            }
        }
        if progressed {
            continue;
        }
        let next = decision
            .waiting
            .iter()
            .filter_map(|w| w.until)
            .filter(|u| u.unix() > t.unix())
            .min_by_key(|u| u.unix());
        match next {
            Some(u) => t = u,
            None => break,
        }
    }
    let stuck = reconcile_with(enrollment, w, t, policy, &links, Some(&open))
        .waiting
        .into_iter()
        .filter(|w| affected.contains(&w.image))
        .collect();
    Ok(Plan {
        base: subject.name().to_string(),
        at: now,
        steps,
        pinned,
        stuck,
        running: now_running,
    })
}

/// Whether `name` has a build waiting for an outcome.
fn has_open_build(w: &Analysis, name: &str) -> bool {
    w.images
        .get(name)
        .is_some_and(|s| s.rebuild_history.iter().any(|r| r.success.is_none()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Img, day, digest, img, reference, setup};
    use super::super::{Started, reconcile, record_update};
    use super::*;

    /// A factory of `images` on `node:22`, a new digest of it at day 1, and the builds the
    /// delay lets start at day 8 triggered.
    fn triggered_at_day_8(images: &[Img<'_>]) -> (Enrollment, Analysis) {
        let (en, mut w) = setup(images);
        let policy = Policy::default();
        for (d, at) in [(1, day(0)), (2, day(1))] {
            record_update(&en, &mut w, &reference("node:22"), &digest(d), at).unwrap();
        }
        let decision = reconcile(&en, &mut w, day(8), &policy);
        for tr in &decision.triggers {
            trigger_result(&mut w, tr, Ok(Started::default()), day(8), &policy);
        }
        (en, w)
    }

    /// The plan looks for timeouts only among the images it knows can have an open build
    /// (issue 22: not every state per decision). With that set, a decision is exactly the
    /// one made looking at every state; an image left out of it is not given up.
    #[test]
    fn timeouts_among_the_open_builds_are_those_of_every_state() {
        // At day 8 the delay is over: a and c are triggered (b waits for a).
        let (en, mut w) = triggered_at_day_8(&[
            img("a", &["node:22"]),
            img("b", &["@a"]),
            img("c", &["node:22"]),
        ]);
        let policy = Policy::default();
        let links = Links::of(&en, &w);
        let open: BTreeSet<String> = running(&en, &w).into_iter().map(|r| r.image).collect();
        assert_eq!(open, BTreeSet::from(["a".to_string(), "c".to_string()]));
        // At day 10 both builds are past the default buildTimeout (one day).
        let mut everything = w.clone();
        let expected = reconcile_with(&en, &mut everything, day(10), &policy, &links, None);
        assert_eq!(expected.timed_out, ["a", "c"]);
        let mut among = w.clone();
        let got = reconcile_with(&en, &mut among, day(10), &policy, &links, Some(&open));
        assert_eq!(got, expected);
        assert_eq!(among.images, everything.images);
        assert_eq!(among.changes, everything.changes);
        let only_a = BTreeSet::from(["a".to_string()]);
        let partial = reconcile_with(&en, &mut w, day(10), &policy, &links, Some(&only_a));
        assert_eq!(partial.timed_out, ["a"]);
    }

    /// A build running when the plan starts is assumed to succeed at once, even when the
    /// plan's clock passes its timeout: it is listed as running, never given up, and what
    /// waits for it is planned.
    #[test]
    fn a_running_build_past_its_timeout_is_assumed_to_succeed() {
        let (en, w) = triggered_at_day_8(&[img("a", &["node:22"]), img("b", &["@a"])]);
        let policy = Policy::default();
        let p = plan(&en, &w, "node:22", day(8), &policy).unwrap();
        let running: Vec<&str> = p.running.iter().map(|r| r.image.as_str()).collect();
        assert_eq!(running, ["a"]);
        let steps: Vec<(&str, Timestamp)> =
            p.steps.iter().map(|s| (s.image.as_str(), s.at)).collect();
        assert_eq!(steps, [("a", day(15)), ("b", day(15))]);
        assert!(p.stuck.is_empty(), "{:?}", p.stuck);
    }
}
