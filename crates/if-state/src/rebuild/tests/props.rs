//! Property tests of the engine over random dependency graphs, timelines and build outcomes:
//! each upstream change is served by exactly one successful build of each dependent (a build
//! that fails or never reports gives its causes back, to be served again), never before its
//! delay, never while an internal ancestor is busy; replaying changes nothing; and in the end
//! every image is `monitoring` or `failed`, never stuck `triggered`.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::rebuild::graph::Graph;

const BASES: [&str; 3] = ["node:22", "python:3", "alpine:3"];
const DELAYS: [&str; 4] = ["0m", "6h", "1d", "3d"];

#[derive(Debug, Clone)]
struct Spec {
    /// Per image: parents (lower indexes), bases, delay index, cascade index.
    images: Vec<(Vec<usize>, Vec<usize>, usize, usize)>,
    /// Events: hours to advance, then which base gets a new digest (None: time passes only).
    events: Vec<(u32, Option<usize>)>,
    /// Hours a build takes (below the default `buildTimeout` of a day).
    build_hours: u32,
    /// How the builds end, in turn: see [`Ending`].
    endings: Vec<u8>,
}

/// How a simulated build ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    /// It pushes a new digest (`record-build`).
    Digest,
    /// A poll sees it succeed; no new digest.
    PollSuccess,
    /// A poll sees it fail.
    PollFailure,
    /// It never reports: the timeout gives it up.
    Hang,
}

fn ending(n: u8) -> Ending {
    match n % 6 {
        0..=2 => Ending::Digest,
        3 => Ending::PollSuccess,
        4 => Ending::PollFailure,
        _ => Ending::Hang,
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    (2usize..7)
        .prop_flat_map(|n| {
            let images = (0..n)
                .map(|i| {
                    (
                        proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(2)),
                        proptest::sample::subsequence(vec![0usize, 1, 2], 0..=2),
                        0usize..4,
                        0usize..2,
                    )
                })
                .collect::<Vec<_>>();
            let events =
                proptest::collection::vec((0u32..96, proptest::option::of(0usize..3)), 1..12);
            let endings = proptest::collection::vec(any::<u8>(), 1..8);
            (images, events, 0u32..20, endings)
        })
        .prop_map(|(images, events, build_hours, endings)| Spec {
            images,
            events,
            build_hours,
            endings,
        })
}

fn hours(t: Timestamp, h: u32) -> Timestamp {
    Timestamp::from_unix(t.unix() + i64::from(h) * 3600).unwrap()
}

struct Sim {
    en: Enrollment,
    w: Analysis,
    now: Timestamp,
    next_digest: u32,
    /// Builds under way: when they end, the image, its history entry, how it ends, and the
    /// causes it serves.
    building: Vec<(Timestamp, String, usize, Ending, Vec<Key>)>,
    /// Causes served by a build that has not failed.
    served: BTreeSet<Key>,
    triggers: usize,
    endings: Vec<Ending>,
}

/// A cause: image, base, digest.
type Key = (String, String, String);

impl Sim {
    fn fresh(&mut self) -> u32 {
        self.next_digest += 1;
        self.next_digest
    }

    /// Finishes the builds that ended by `now` (in time order), then reconciles, checks every
    /// trigger and dispatches them.
    fn step(&mut self, build_hours: u32) -> Result<(), TestCaseError> {
        loop {
            self.building.sort();
            let Some(pos) = self
                .building
                .iter()
                .position(|(t, _, _, e, _)| *e != Ending::Hang && t.unix() <= self.now.unix())
            else {
                break;
            };
            let (at, name, entry, how, keys) = self.building.remove(pos);
            let policy = Policy::default();
            match how {
                Ending::Digest => {
                    let d = digest(self.fresh());
                    record_build(&self.en, &mut self.w, &name, &d, None, at).unwrap();
                }
                Ending::PollSuccess => {
                    let seen = Observed::just(BuildOutcome::Succeeded);
                    build_result(&mut self.w, &name, entry, seen, at, &policy);
                }
                Ending::PollFailure | Ending::Hang => {
                    let seen = Observed::just(BuildOutcome::Failed {
                        conclusion: "failure".into(),
                        reason: "failed".into(),
                    });
                    build_result(&mut self.w, &name, entry, seen, at, &policy);
                    self.release(&keys);
                }
            }
        }
        self.reconcile_once(build_hours)
    }

    /// The causes of a build that failed may be served again.
    fn release(&mut self, keys: &[Key]) {
        for k in keys {
            self.served.remove(k);
        }
    }

    /// Builds that never report and that the engine gave up: their causes come back.
    fn collect_timeouts(&mut self) {
        let w = &self.w;
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.building)
            .into_iter()
            .partition(|(_, name, entry, how, _)| {
                *how == Ending::Hang
                    && w.images[name].rebuild_history[*entry].success == Some(false)
            });
        self.building = kept;
        for (_, _, _, _, keys) in gone {
            self.release(&keys);
        }
    }

    fn reconcile_once(&mut self, build_hours: u32) -> Result<(), TestCaseError> {
        let d = reconcile(&self.en, &mut self.w, self.now, &Policy::default());
        self.collect_timeouts();
        let graph = Graph::of(&self.w);
        for tr in &d.triggers {
            let earliest = tr
                .causes
                .iter()
                .filter_map(|c| c.scheduled_for)
                .map(Timestamp::unix)
                .min();
            prop_assert!(
                earliest.is_some_and(|e| e <= self.now.unix()),
                "{} before its delay",
                tr.image
            );
            for a in graph.ancestors(&tr.image) {
                let st = self.w.images[a]
                    .rebuild_state
                    .as_ref()
                    .and_then(|r| r.status.clone());
                prop_assert!(
                    !matches!(st.as_deref(), Some(PENDING | DUE | TRIGGERED)),
                    "{} triggered while its ancestor {a} is {st:?}",
                    tr.image
                );
            }
            for c in &tr.causes {
                let key = (
                    tr.image.clone(),
                    c.base_image.clone().unwrap_or_default(),
                    c.digest.as_ref().map(|d| d.to_string()).unwrap_or_default(),
                );
                prop_assert!(
                    self.served.insert(key.clone()),
                    "cause served twice: {key:?}"
                );
            }
        }
        for tr in &d.triggers {
            let started = Ok(Started::default());
            trigger_result(&mut self.w, tr, started, self.now, &Policy::default());
            let entry = self.w.images[&tr.image].rebuild_history.len() - 1;
            let how = self.endings[self.triggers % self.endings.len()];
            let keys = tr
                .causes
                .iter()
                .map(|c| {
                    (
                        tr.image.clone(),
                        c.base_image.clone().unwrap_or_default(),
                        c.digest.as_ref().map(|d| d.to_string()).unwrap_or_default(),
                    )
                })
                .collect();
            self.building.push((
                hours(self.now, build_hours),
                tr.image.clone(),
                entry,
                how,
                keys,
            ));
            self.triggers += 1;
        }
        // Replaying the same `now` gives nothing new.
        let again = reconcile(&self.en, &mut self.w, self.now, &Policy::default());
        prop_assert!(
            again.triggers.is_empty(),
            "replay triggered {:?}",
            again.triggers
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn triggers_are_once_per_change_after_the_delay_and_in_topological_order(spec in spec()) {
        let names: Vec<String> = (0..spec.images.len()).map(|i| format!("i{i}")).collect();
        let froms: Vec<Vec<String>> = spec.images.iter().map(|(parents, bases, _, _)| {
            parents.iter().map(|p| format!("@{}", names[*p]))
                .chain(bases.iter().map(|b| BASES[*b].to_string()))
                .collect()
        }).collect();
        let from_refs: Vec<Vec<&str>> = froms.iter().map(|f| f.iter().map(String::as_str).collect()).collect();
        let imgs: Vec<Img<'_>> = spec.images.iter().enumerate().map(|(i, (_, _, d, c))| Img {
            name: &names[i],
            from: &from_refs[i],
            delay: DELAYS[*d],
            cascade: DELAYS[*c],
            auto: true,
        }).collect();
        let (en, w) = setup(&imgs);
        let endings = spec.endings.iter().copied().map(ending).collect();
        let mut sim = Sim { en, w, now: day(0), next_digest: 0, building: Vec::new(), served: BTreeSet::new(), triggers: 0, endings };
        for b in BASES {
            let d = digest(sim.fresh());
            if sim.w.bases.contains_key(&reference(b).identity()) {
                record_update(&sim.en, &mut sim.w, &reference(b), &d, sim.now).unwrap();
            }
        }
        for n in &names {
            let d = digest(sim.fresh());
            record_build(&sim.en, &mut sim.w, n, &d, None, sim.now).unwrap();
        }
        let mut last: Option<(ImageRef, Digest, Timestamp)> = None;
        for (dt, base) in &spec.events {
            sim.now = hours(sim.now, *dt);
            if let Some(b) = base {
                let r = reference(BASES[*b]);
                if sim.w.bases.contains_key(&r.identity()) {
                    let d = digest(sim.fresh());
                    record_update(&sim.en, &mut sim.w, &r, &d, sim.now).unwrap();
                    last = Some((r, d, sim.now));
                }
            }
            sim.step(spec.build_hours)?;
        }
        // The same event again is a no-op.
        if let Some((r, d, at)) = last {
            let before = sim.w.images.clone();
            let rec = record_update(&sim.en, &mut sim.w, &r, &d, at).unwrap();
            prop_assert_eq!(rec.outcome, "unchanged");
            prop_assert_eq!(&sim.w.images, &before);
        }
        // Liveness: with time, every change is served and every image is idle again.
        // Each failed or hung attempt costs a step; an image gives up after five.
        for _ in 0..(6 * (names.len() + 1) * names.len()) {
            sim.now = hours(sim.now, 24 * 4);
            sim.step(spec.build_hours)?;
        }
        let busy: BTreeMap<&String, Option<String>> = sim.w.images.iter()
            .map(|(n, s)| (n, s.rebuild_state.as_ref().and_then(|r| r.status.clone())))
            .filter(|(_, st)| !matches!(st.as_deref(), None | Some(MONITORING | FAILED)))
            .collect();
        prop_assert!(busy.is_empty(), "still busy: {busy:?}");
        let open: Vec<&String> = sim.w.images.iter()
            .filter(|(_, s)| s.rebuild_history.iter().any(|r| r.success.is_none()))
            .map(|(n, _)| n)
            .collect();
        prop_assert!(open.is_empty(), "builds never closed: {open:?}");
    }
}
