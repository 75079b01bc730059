//! The supply-chain policy of the waiting period (issue 23), a function of state, policy and
//! `now`: scans and signature checks recorded per digest on the base images decide whether a
//! base-image update cause is held or expedited.
//!
//! * `holdOn: S`: a cause for digest D is held when D's scan has an ID at S or worse that the
//!   digest before D did not have (no scan of the digest before: every such ID is new). It
//!   stays held until a newer digest of that base arrives (its own cause is judged afresh and
//!   supersedes this one, which then waits for the newer one's schedule, so no build is made
//!   on D) or a person releases it ([`release`]).
//! * `requireSignature`: a cause for D is held until the signature check of D with the
//!   image's key (the check with that key's fingerprint in [`Analysis::keys`]; a key file the
//!   caller did not read: the newest check made with it) recorded that a cosign signature
//!   verified (missing or failed: held with the reason). Other keys' checks do not count.
//! * `expediteOn: S`: a cause for D that is not held becomes due now when D no longer has an
//!   ID at S or worse that the digest the image was last built on has ("fixes"); the IDs go
//!   in its reason, and so in the build's `reason` input.
//!
//! A digest with no scan is judged by the clock alone, as without a policy.

use std::collections::BTreeMap;

use if_model::digest::Digest;
use if_model::enrollment::{Enrollment, ImageEntry};
use if_model::state::{BaseImageState, Cause, ImageState};
use if_model::supply::{KeyRead, Severity, facts};
use if_model::timestamp::Timestamp;

use super::graph::BaseNames;
use super::trigger::place_in;
use super::{BY_EXPEDITE, BY_UPDATE, EngineError, HELD, PENDING, refresh};
use crate::analyze::Analysis;

/// What the policy says about one cause.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Nothing: the clock decides.
    Clock,
    /// Held, and why.
    Hold(String),
    /// Due now: the IDs it fixes.
    Expedite(Vec<String>),
}

/// At most this many IDs are named in a reason (the rest are counted).
const NAMED_IDS: usize = 10;

fn list_ids(ids: &[String]) -> String {
    let mut out = ids
        .iter()
        .take(NAMED_IDS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > NAMED_IDS {
        out.push_str(&format!(" and {} more", ids.len() - NAMED_IDS));
    }
    out
}

/// The digest of `base` observed before `d`: the entry before it in its history, else (the
/// first entry, or the current digest) `previousDigest` when `d` is current. The baseline
/// is the history's first entry (state files written before it was recorded there lack it:
/// the one before their oldest entry is not known).
fn digest_before<'a>(base: &'a BaseImageState, d: &Digest) -> Option<&'a Digest> {
    let at = place_in(&base.update_history, d);
    let earlier = at.and_then(|i| {
        base.update_history[..i]
            .iter()
            .rev()
            .find_map(|u| u.digest.as_ref())
    });
    earlier.or_else(|| {
        (base.current_digest.as_ref() == Some(d))
            .then_some(base.previous_digest.as_ref())
            .flatten()
    })
}

/// The digest of `base` that `image` was last built on (its newest successful rebuild's
/// snapshot), else the digest before `d`.
fn built_on<'a>(image: &'a ImageState, base: &'a BaseImageState, d: &Digest) -> Option<Digest> {
    let snap = image
        .rebuild_history
        .iter()
        .rev()
        .filter(|r| r.success == Some(true))
        .find_map(|r| r.base_image_snapshots.get(&base.name))
        .and_then(|s| Digest::parse(s).ok());
    snap.or_else(|| digest_before(base, d).cloned())
}

/// IDs at `sev` or worse in `d`'s scan; `None` when `d` has no scan.
fn ids(base: &BaseImageState, d: &Digest, sev: Severity) -> Option<Vec<String>> {
    let scan = facts(&base.digests, d)?.scan.as_ref()?;
    Some(scan.at_least(sev).into_iter().map(str::to_string).collect())
}

fn verdict(
    entry: &ImageEntry,
    keys: &BTreeMap<String, Option<String>>,
    image: &ImageState,
    base: &BaseImageState,
    cause: &Cause,
) -> Verdict {
    let Some(d) = cause.digest.as_ref() else {
        return Verdict::Clock;
    };
    if cause.released.is_none() {
        if let Some(policy) = &entry.require_signature {
            let file = policy.public_key_file.as_str();
            let read = match keys.get(file) {
                Some(Some(fp)) => KeyRead::Fingerprint(fp),
                Some(None) => KeyRead::Unreadable,
                None => KeyRead::NotRead,
            };
            let check = facts(&base.digests, d).and_then(|f| f.signature_for(file, read));
            match check {
                Some(c) if c.verified == Some(true) => {}
                Some(c) => {
                    let why = c.reason.as_deref().unwrap_or("it did not verify");
                    return Verdict::Hold(format!(
                        "signature of {} not verified with {}: {why}",
                        d.short(),
                        policy.public_key_file
                    ));
                }
                None => {
                    return Verdict::Hold(format!(
                        "signature of {} not checked yet (requireSignature; run `image-factory check`)",
                        d.short()
                    ));
                }
            }
        }
        if let Some(sev) = entry.vulnerability_policy.hold_on
            && let Some(now_ids) = ids(base, d, sev)
        {
            let before = digest_before(base, d)
                .and_then(|p| ids(base, p, sev))
                .unwrap_or_default();
            let new: Vec<String> = now_ids
                .into_iter()
                .filter(|i| !before.contains(i))
                .collect();
            if !new.is_empty() {
                return Verdict::Hold(format!(
                    "{} brings {sev} or worse: {}",
                    d.short(),
                    list_ids(&new)
                ));
            }
        }
    }
    if let Some(sev) = entry.vulnerability_policy.expedite_on
        && let Some(now_ids) = ids(base, d, sev)
        && let Some(old) = built_on(image, base, d)
        && let Some(old_ids) = ids(base, &old, sev)
    {
        let fixed: Vec<String> = old_ids
            .into_iter()
            .filter(|i| !now_ids.contains(i))
            .collect();
        if !fixed.is_empty() {
            return Verdict::Expedite(fixed);
        }
    }
    Verdict::Clock
}

/// Applies the policy to every pending rebuild at `now`: marks held causes (`held`), clears
/// the mark of those no longer held, expedites those that fix, and sets the status `held`
/// when every cause of an image is held (`pending` again when one is not). Returns, per
/// image whose causes are all held, the reasons. Only the images `policed` names are looked
/// at (the others have no policy): a loop of decisions ([`super::plan`]) does not visit
/// every state, nor name every base image, for each of them.
pub(crate) fn apply(
    enrollment: &Enrollment,
    world: &mut Analysis,
    now: Timestamp,
    bases: &BaseNames,
    policed: &Policed,
) -> BTreeMap<String, Vec<String>> {
    let keys = &world.keys;
    let mut all_held = BTreeMap::new();
    let mut changes = Vec::new();
    for name in &policed.0 {
        let (Some(entry), Some(s)) = (enrollment.get(name), world.images.get_mut(name)) else {
            continue;
        };
        let Some(rs) = s.rebuild_state.as_ref() else {
            continue;
        };
        let status = rs.status.as_deref().unwrap_or("");
        if rs.causes.is_empty() || !matches!(status, PENDING | HELD) {
            continue;
        }
        // Per cause: its verdict, and the schedule of the newer cause of its base that
        // supersedes it (none when it is the newest).
        let verdicts: Vec<(Verdict, Option<Option<Timestamp>>)> = rs
            .causes
            .iter()
            .map(|c| {
                let base = c
                    .base_image
                    .as_deref()
                    .and_then(|b| bases.get_in(&world.bases, b));
                let (Some(base), Some(BY_UPDATE)) = (base, c.triggered_by.as_deref()) else {
                    return (Verdict::Clock, None);
                };
                // Newer: detected later, or at the same time and later in the base's history
                // (the order the trigger's `served` uses).
                let age = |o: &Cause| {
                    let place = o
                        .digest
                        .as_ref()
                        .and_then(|d| place_in(&base.update_history, d));
                    (o.detected_at.map(Timestamp::unix), place)
                };
                let newer = rs
                    .causes
                    .iter()
                    .filter(|o| o.base_image == c.base_image && age(o) > age(c))
                    .max_by_key(|o| age(o))
                    .map(|o| o.scheduled_for);
                (verdict(entry, keys, s, base, c), newer)
            })
            .collect();
        let Some(rs) = s.rebuild_state.as_mut() else {
            continue;
        };
        let mut deferred: Vec<Option<String>> = Vec::new();
        for (c, (v, newer)) in rs.causes.iter_mut().zip(verdicts) {
            if !matches!(v, Verdict::Hold(_)) || newer.is_none() {
                deferred.push(None);
            }
            match v {
                Verdict::Clock => c.held = None,
                // A cause that would be held but a newer digest superseded waits for that
                // digest's schedule (served with it, built on it), held or not: the build
                // never starts on the digest that brought the vulnerability.
                Verdict::Hold(why) if newer.is_some() => {
                    c.held = None;
                    deferred.push(Some(why));
                    if let Some(Some(at)) = newer
                        && c.scheduled_for.is_none_or(|t| t.unix() < at.unix())
                    {
                        c.scheduled_for = Some(at);
                    }
                }
                Verdict::Hold(why) => {
                    if c.held.as_deref() != Some(why.as_str()) {
                        changes.push(format!("{name}: held: {why}"));
                    }
                    c.held = Some(why);
                }
                // Expedited by an earlier run whose trigger did not go out (an ancestor
                // blocked it, or the run only looked): already due, reason kept as it is.
                Verdict::Expedite(_) if c.triggered_by.as_deref() == Some(BY_EXPEDITE) => {
                    c.held = None;
                }
                Verdict::Expedite(fixed) => {
                    c.held = None;
                    if c.scheduled_for.is_none_or(|t| t.unix() > now.unix()) {
                        c.scheduled_for = Some(now);
                    }
                    c.triggered_by = Some(BY_EXPEDITE.to_string());
                    let old = c.reason.take().unwrap_or_default();
                    let why = format!("fixes {}", list_ids(&fixed));
                    changes.push(format!("{name}: expedited ({why}), due now"));
                    c.reason = Some(format!("expedited ({why}): {old}"));
                }
            }
        }
        // A superseded would-be-held cause whose newer digest is held stays held with it.
        let held_bases: Vec<Option<String>> = rs
            .causes
            .iter()
            .filter(|c| c.held.is_some())
            .map(|c| c.base_image.clone())
            .collect();
        for (c, why) in rs.causes.iter_mut().zip(deferred) {
            if let Some(why) = why
                && held_bases.contains(&c.base_image)
            {
                c.held = Some(why);
            }
        }
        let held: Vec<String> = rs.causes.iter().filter_map(|c| c.held.clone()).collect();
        let every = held.len() == rs.causes.len();
        rs.status = Some(if every { HELD } else { PENDING }.to_string());
        refresh(rs);
        if every {
            all_held.insert(name.clone(), held);
        }
    }
    world.changes.extend(changes);
    all_held
}

/// The supply-chain policy's judgement of every pending rebuild at `now`, as `reconcile`
/// makes it before it decides (held causes marked, expedited ones due now with the IDs in
/// their reason), for a command that shows the state without deciding (`plan`). Applying
/// it again changes nothing.
pub fn judge(enrollment: &Enrollment, world: &mut Analysis, now: Timestamp) {
    let bases = BaseNames::of(world);
    apply(enrollment, world, now, &bases, &Policed::of(enrollment));
}

/// The enrolled images whose entry sets a supply-chain policy (`requireSignature`, a
/// `vulnerabilityPolicy`), sorted by name: the only images [`apply`] can change, worked out
/// once from the enrollment.
pub(crate) struct Policed(Vec<String>);

impl Policed {
    /// The policed images of `enrollment`.
    pub(crate) fn of(enrollment: &Enrollment) -> Self {
        let mut names: Vec<String> = enrollment
            .images()
            .iter()
            .filter(|e| has_policy(e))
            .map(|e| e.name.clone())
            .collect();
        names.sort_unstable();
        names.dedup();
        Policed(names)
    }
}

/// Whether `entry` sets a supply-chain policy.
fn has_policy(entry: &ImageEntry) -> bool {
    entry.require_signature.is_some() || entry.vulnerability_policy != Default::default()
}

/// A person releases `name`'s held causes (`image-factory release NAME --reason R`): they
/// are never held again and wait for their schedule as without a policy. Returns how many
/// were released (0: nothing was held).
pub fn release(
    enrollment: &Enrollment,
    world: &mut Analysis,
    name: &str,
    reason: &str,
    now: Timestamp,
) -> Result<usize, EngineError> {
    if enrollment.get(name).is_none() {
        return Err(super::not_enrolled(enrollment, name));
    }
    let s = world
        .images
        .get_mut(name)
        .ok_or_else(|| EngineError::NoState {
            name: name.to_string(),
        })?;
    let Some(rs) = s.rebuild_state.as_mut() else {
        return Ok(0);
    };
    let mut n = 0;
    for c in &mut rs.causes {
        if let Some(why) = c.held.take() {
            c.released = Some(format!("{reason} (at {now})"));
            let old = c.reason.take().unwrap_or_default();
            c.reason = Some(format!("released ({reason}; was held: {why}): {old}"));
            n += 1;
        }
    }
    if n > 0 {
        if rs.status.as_deref() == Some(HELD) {
            rs.status = Some(PENDING.to_string());
        }
        refresh(rs);
        world
            .changes
            .push(format!("{name}: released ({reason}), {n} held cause(s)"));
    }
    Ok(n)
}
