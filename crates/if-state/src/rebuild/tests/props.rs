//! Property tests of the engine over random dependency graphs and timelines: each image is
//! triggered at most once per upstream change, never before its delay, never while an
//! internal ancestor is busy, replaying changes nothing, and every change is served in the end.

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
    /// Hours a build takes.
    build_hours: u32,
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
            (images, events, 0u32..30)
        })
        .prop_map(|(images, events, build_hours)| Spec {
            images,
            events,
            build_hours,
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
    building: Vec<(Timestamp, String)>,
    served: BTreeSet<(String, String, String)>,
    triggers: usize,
}

impl Sim {
    fn fresh(&mut self) -> u32 {
        self.next_digest += 1;
        self.next_digest
    }

    /// Finishes due builds, reconciles, checks every trigger, dispatches them.
    fn step(&mut self, build_hours: u32) -> Result<(), TestCaseError> {
        loop {
            self.building.sort();
            let Some(pos) = self
                .building
                .iter()
                .position(|(t, _)| t.unix() <= self.now.unix())
            else {
                break;
            };
            let (at, name) = self.building.remove(pos);
            let d = digest(self.fresh());
            record_build(&self.en, &mut self.w, &name, &d, None, at).unwrap();
            self.reconcile_once(build_hours)?;
        }
        self.reconcile_once(build_hours)
    }

    fn reconcile_once(&mut self, build_hours: u32) -> Result<(), TestCaseError> {
        let d = reconcile(&self.en, &mut self.w, self.now);
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
            trigger_result(&mut self.w, tr, Ok(None), self.now, &Policy::default());
            self.building
                .push((hours(self.now, build_hours), tr.image.clone()));
            self.triggers += 1;
        }
        // Replaying the same `now` gives nothing new.
        let again = reconcile(&self.en, &mut self.w, self.now);
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
        let mut sim = Sim { en, w, now: day(0), next_digest: 0, building: Vec::new(), served: BTreeSet::new(), triggers: 0 };
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
        for _ in 0..(4 * names.len() + 4) {
            sim.now = hours(sim.now, 24 * 4);
            sim.step(spec.build_hours)?;
        }
        let busy: BTreeMap<&String, Option<String>> = sim.w.images.iter()
            .map(|(n, s)| (n, s.rebuild_state.as_ref().and_then(|r| r.status.clone())))
            .filter(|(_, st)| st.as_deref() != Some(MONITORING) && st.is_some())
            .collect();
        prop_assert!(busy.is_empty(), "still busy: {busy:?}");
        prop_assert!(sim.triggers <= sim.served.len(), "a trigger served no cause");
    }
}
