//! The trigger of one image that starts: the causes it serves, the digest of each base it
//! builds on, and the inputs passed to its build.

use std::collections::BTreeMap;

use if_model::digest::Digest;
use if_model::enrollment::Source;
use if_model::state::{Cause, RebuildState, UpdateRecord};
use if_model::timestamp::Timestamp;

use super::graph::BaseNames;
use super::{BY_MANUAL, Trigger};
use crate::analyze::Analysis;

/// Longest kept reason passed to a build (GitHub limits an input's size).
const MAX_REASON: usize = 1000;
/// Room kept at the end of the `reason` input for the dispatch id (` [if-1a2b3c4d]`).
const DISPATCH_ID_ROOM: usize = 16;

/// The place of `d` in an update history (its last entry): of two digests detected at the
/// same time, the one placed later is the newer.
pub(crate) fn place_in(history: &[UpdateRecord], d: &Digest) -> Option<usize> {
    history.iter().rposition(|u| u.digest.as_ref() == Some(d))
}

/// The causes one trigger serves, and the digest it builds on for each base. Per base, the
/// digests whose schedule has passed are served and the newest of them is built on; later
/// digests of that base stay queued for their own schedule (the build pins the aged
/// digest). A base none of whose digests has aged joined by coalescing: all of them are
/// served, the newest built on. Manual causes are always served; held ones are never built
/// on. Every digest older than the one built on is served too, aged, waiting or held: the
/// build carries a newer digest of that base (an expedited digest overtakes an older one
/// still in its delay; a held digest is superseded), so nothing may later be built onto the
/// older one.
///
/// Two digests detected at the same time are ordered by `place`, the digest's place in its
/// base's update history (later is newer), then by their place in the list. The list's order
/// alone cannot decide: a build's causes are given back in its own order when it fails.
fn served(
    causes: &[Cause],
    now: Timestamp,
    place: &dyn Fn(&str, &Digest) -> Option<usize>,
) -> (Vec<Cause>, Vec<(String, Digest)>) {
    // Per base, its causes with their order: (detected, place in history, place in list).
    type Order = (i64, Option<usize>, usize);
    let mut by_base: BTreeMap<&str, Vec<(Order, &Cause)>> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, c) in causes.iter().enumerate() {
        match c.base_image.as_deref() {
            Some(b) => {
                let detected = c.detected_at.map_or(i64::MIN, Timestamp::unix);
                let known = c.digest.as_ref().and_then(|d| place(b, d));
                by_base
                    .entry(b)
                    .or_default()
                    .push(((detected, known, i), c));
            }
            None if c.held.is_none() => out.push(c.clone()),
            None => {}
        }
    }
    let mut builds_on = Vec::new();
    let order = |&(o, _): &(Order, &Cause)| o;
    let free = |c: &Cause| c.held.is_none();
    let aged = |c: &Cause| free(c) && c.scheduled_for.is_none_or(|t| t.unix() <= now.unix());
    for (base, cs) in by_base {
        // The digest built on: the newest aged one, else (coalescing) the newest not held.
        let newest = |keep: &dyn Fn(&Cause) -> bool| {
            cs.iter()
                .filter(|e| keep(e.1))
                .max_by_key(|e| order(e))
                .copied()
        };
        let Some(built) = newest(&aged).or_else(|| newest(&free)) else {
            continue;
        };
        if let Some(d) = built.1.digest.clone() {
            builds_on.push((base.to_string(), d));
        }
        // Served: that digest and every older one (aged, waiting or held).
        let built = order(&built);
        out.extend(
            cs.iter()
                .filter(|e| order(e) <= built)
                .map(|(_, c)| (*c).clone()),
        );
    }
    out.sort_by_key(|c| c.scheduled_for.map(Timestamp::unix));
    (out, builds_on)
}

pub(super) fn build_trigger(
    world: &Analysis,
    bases: &BaseNames,
    name: &str,
    source: &Source,
    rs: &RebuildState,
    now: Timestamp,
) -> Trigger {
    let place = |base: &str, d: &Digest| {
        let history = match bases.get(world, base) {
            Some(b) => &b.update_history,
            None => &world.images.get(base)?.update_history,
        };
        place_in(history, d)
    };
    let (causes, builds_on) = served(&rs.causes, now, &place);
    let reasons: Vec<&str> = causes.iter().filter_map(|c| c.reason.as_deref()).collect();
    let reason = if reasons.is_empty() {
        "rebuild".to_string()
    } else {
        reasons.join("; ")
    };
    let first = causes.first();
    let triggered_by = first
        .and_then(|c| c.triggered_by.clone())
        .unwrap_or_default();
    let label = |base: &str| -> String {
        if let Some(b) = bases.get(world, base) {
            return b.full_image.clone().unwrap_or_else(|| base.to_string());
        }
        match world.images.get(base) {
            Some(s) => s.watch.repo_url.clone().unwrap_or_else(|| base.to_string()),
            None => base.to_string(),
        }
    };
    let detected = |base: &str, d: &Digest| {
        causes
            .iter()
            .find(|c| c.base_image.as_deref() == Some(base) && c.digest.as_ref() == Some(d))
            .and_then(|c| c.detected_at)
    };
    let primary_base = causes.iter().find_map(|c| c.base_image.as_deref());
    let primary = builds_on
        .iter()
        .find(|(b, _)| Some(b.as_str()) == primary_base);
    let json_causes: Vec<serde_json::Value> = builds_on
        .iter()
        .map(|(base, d)| {
            serde_json::json!({
                "baseImage": label(base),
                "digest": d.as_str(),
                "detectedAt": detected(base, d).map(|t| t.to_string()),
            })
        })
        .collect();
    let attempt = rs.attempts.unwrap_or(0) + 1;
    let dispatch_id = dispatch_id(name, now, attempt);
    let inputs = vec![
        ("image".to_string(), name.to_string()),
        (
            "reason".to_string(),
            format!(
                "{} [{dispatch_id}]",
                truncate(&reason, MAX_REASON - DISPATCH_ID_ROOM)
            ),
        ),
        ("triggered_by".to_string(), triggered_by.clone()),
        (
            "base_image".to_string(),
            primary.map(|(b, _)| label(b)).unwrap_or_default(),
        ),
        (
            "base_digest".to_string(),
            primary
                .map(|(_, d)| d.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "causes".to_string(),
            serde_json::Value::Array(json_causes).to_string(),
        ),
        (
            "scheduled_for".to_string(),
            first
                .and_then(|c| c.scheduled_for)
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ),
    ];
    let builds_on = if causes
        .iter()
        .any(|c| c.triggered_by.as_deref() == Some(BY_MANUAL))
    {
        every_base(world, bases, name, builds_on)
    } else {
        builds_on
    };
    Trigger {
        image: name.to_string(),
        source: source.clone(),
        causes,
        builds_on,
        reason,
        triggered_by,
        attempt,
        dispatch_id,
        inputs,
    }
}

/// What a manual build is made on: `builds_on` (the digests its causes name), and for every
/// other base of the image the digest it is on now (a pin, a base image's current digest, an
/// internal parent's current digest). Recorded as the build's snapshot, it is "the digest the
/// image was last built on" that `expediteOn` compares with; the build's inputs stay those of
/// its causes.
fn every_base(
    world: &Analysis,
    bases: &BaseNames,
    name: &str,
    mut builds_on: Vec<(String, Digest)>,
) -> Vec<(String, Digest)> {
    let Some(image) = world.images.get(name) else {
        return builds_on;
    };
    for base in &image.base_images {
        if builds_on.iter().any(|(b, _)| b == base) {
            continue;
        }
        let now_on = image.base_image_pins.get(base).cloned().or_else(|| {
            bases.get(world, base).map_or_else(
                || {
                    world
                        .images
                        .get(base)
                        .and_then(|p| p.current_digest.clone())
                },
                |b| b.current_digest.clone(),
            )
        });
        if let Some(d) = now_on {
            builds_on.push((base.clone(), d));
        }
    }
    builds_on.sort();
    builds_on
}

/// The id a trigger puts in the build's `reason` input (`if-` and 8 hex digits of a hash of
/// the image, the time and the attempt), so a run whose id the forge did not return can be
/// found by its title (a workflow with `run-name: ${{ inputs.reason }}`).
fn dispatch_id(name: &str, now: Timestamp, attempt: u32) -> String {
    let d = Digest::of_sha256_bytes(format!("{name}\n{now}\n{attempt}").as_bytes());
    format!("if-{}", &d.hex()[..8])
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
