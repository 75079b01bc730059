//! The supply-chain policy in the engine (issue 23): hold on a new vulnerability, expedite
//! on a fix, hold without a verified signature, release; held causes never trigger.

use std::collections::BTreeMap;

use if_model::enrollment::{self, Enrollment};
use if_model::factory::Factory;
use if_model::supply::{KeyRead, Scan, SignatureCheck, facts, facts_mut};

use super::{day, digest, reference};
use crate::analyze::{Analysis, Discovery, Request, analyze};
use crate::rebuild::{self, HELD, PENDING, Policy, TRIGGERED};

const BASE: &str = "python:3.12-slim";
const BASE_NAME: &str = "python-3.12-slim";

/// One managed image `app` on python:3.12-slim (delay 7d) with `policy` (YAML lines).
fn setup(policy: &str) -> (Enrollment, Analysis) {
    setup_images(&[("app", policy)])
}

/// Managed images on python:3.12-slim (delay 7d), each `(name, policy)`.
fn setup_images(images: &[(&str, &str)]) -> (Enrollment, Analysis) {
    let yaml: String = images
        .iter()
        .map(|(name, policy)| format!(
            "- name: {name}\n  registry: ghcr.io\n  repository: acme/{name}\n  source:\n    provider: github\n    repo: acme/{name}\n    dockerfile: Dockerfile\n    workflow: build.yml\n  rebuildDelay: 7d\n{policy}"
        ))
        .collect();
    let (en, diags) = enrollment::parse(&yaml, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}\n{yaml}");
    let factory = Factory {
        enrollment: en.clone(),
        images: Vec::new(),
        bases: Vec::new(),
    };
    let req = Request {
        now: day(-30),
        discoveries: images
            .iter()
            .map(|(name, _)| (name.to_string(), Discovery::Found(vec![reference(BASE)])))
            .collect(),
        published: BTreeMap::new(),
        only: None,
    };
    let mut world = analyze(factory, &req);
    world.changes.clear();
    (en, world)
}

fn scan_of(w: &mut Analysis, d: u32, critical: &[&str], high: &[&str]) {
    let base = w.bases.values_mut().find(|b| b.name == BASE_NAME).unwrap();
    facts_mut(&mut base.digests, &digest(d)).scan = Some(Scan {
        scanner: Some("trivy".into()),
        critical: critical.iter().map(|s| s.to_string()).collect(),
        high: high.iter().map(|s| s.to_string()).collect(),
        ..Scan::default()
    });
}

fn signed(w: &mut Analysis, d: u32, ok: bool) {
    let base = w.bases.values_mut().find(|b| b.name == BASE_NAME).unwrap();
    facts_mut(&mut base.digests, &digest(d)).record_signature(SignatureCheck {
        verified: Some(ok),
        key: Some("keys/cosign.pub".into()),
        reason: (!ok).then(|| "no signature (sha256-....sig not found)".to_string()),
        ..SignatureCheck::default()
    });
}

fn update(en: &Enrollment, w: &mut Analysis, d: u32, n: i64) {
    rebuild::record_update(en, w, &reference(BASE), &digest(d), day(n)).unwrap();
}

fn status(w: &Analysis) -> &str {
    w.images["app"]
        .rebuild_state
        .as_ref()
        .and_then(|r| r.status.as_deref())
        .unwrap_or("-")
}

fn reconcile(en: &Enrollment, w: &mut Analysis, n: i64) -> rebuild::Decision {
    rebuild::reconcile(en, w, day(n), &Policy::default())
}

#[test]
fn a_digest_that_fixes_a_critical_is_due_at_once_with_the_ids_in_the_reason() {
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    expediteOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    scan_of(&mut w, 1, &["CVE-1", "CVE-2"], &["CVE-9"]);
    scan_of(&mut w, 2, &["CVE-2"], &[]);
    let d = reconcile(&en, &mut w, 1);
    assert_eq!(d.triggers.len(), 1, "{d:?}");
    let t = &d.triggers[0];
    assert_eq!(t.triggered_by, "expedite");
    assert!(
        t.reason.starts_with("expedited (fixes CVE-1): "),
        "{}",
        t.reason
    );
    let reason = &t.inputs.iter().find(|(k, _)| k == "reason").unwrap().1;
    assert!(reason.starts_with("expedited (fixes CVE-1): "), "{reason}");
    assert_eq!(t.inputs.len(), rebuild::INPUTS.len());
    // Judged again without the trigger going out (a dry run, `status`, `plan`, a blocked
    // trigger): the reason is not wrapped twice and no change is reported again.
    let cause = |w: &Analysis| w.images["app"].rebuild_state.clone().unwrap().causes;
    let once = cause(&w);
    let changes = w.changes.len();
    rebuild::judge(&en, &mut w, day(2));
    assert_eq!(cause(&w), once);
    assert_eq!(w.changes.len(), changes, "{:?}", w.changes);
    // HIGH fixed is not enough for expediteOn: CRITICAL.
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    expediteOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    scan_of(&mut w, 1, &[], &["CVE-9"]);
    scan_of(&mut w, 2, &[], &[]);
    assert!(reconcile(&en, &mut w, 1).triggers.is_empty());
    assert_eq!(status(&w), PENDING);
}

#[test]
fn a_digest_that_brings_a_critical_is_held_until_a_newer_digest_or_a_release() {
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    holdOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    scan_of(&mut w, 1, &["CVE-OLD"], &[]);
    scan_of(&mut w, 2, &["CVE-OLD", "CVE-NEW"], &[]);
    let d = reconcile(&en, &mut w, 20);
    assert!(d.triggers.is_empty(), "{d:?}");
    assert_eq!(status(&w), HELD);
    assert_eq!(d.waiting.len(), 1);
    assert!(
        d.waiting[0].why.starts_with(&format!(
            "held: {} brings CRITICAL or worse: CVE-NEW; waits for a newer digest",
            digest(2).short()
        )),
        "{}",
        d.waiting[0].why
    );
    // The same `now` again changes nothing.
    let before = w.images["app"].clone();
    reconcile(&en, &mut w, 20);
    assert_eq!(w.images["app"], before);

    // A newer digest without a new critical supersedes the held one.
    update(&en, &mut w, 3, 21);
    scan_of(&mut w, 3, &["CVE-OLD", "CVE-NEW"], &[]);
    assert!(reconcile(&en, &mut w, 22).triggers.is_empty(), "its delay");
    assert_eq!(status(&w), PENDING);
    let d = reconcile(&en, &mut w, 28);
    assert_eq!(d.triggers.len(), 1);
    assert_eq!(
        d.triggers[0].builds_on,
        [(BASE_NAME.to_string(), digest(3))]
    );
    assert_eq!(
        d.triggers[0].causes.len(),
        2,
        "the superseded cause is served too"
    );

    // Or a person releases it.
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    holdOn: HIGH\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    scan_of(&mut w, 2, &[], &["CVE-H"]);
    assert!(reconcile(&en, &mut w, 20).triggers.is_empty());
    assert_eq!(status(&w), HELD);
    let n = rebuild::release(&en, &mut w, "app", "accepted by security", day(20)).unwrap();
    assert_eq!(n, 1);
    let d = reconcile(&en, &mut w, 20);
    assert_eq!(d.triggers.len(), 1, "released: once, on its schedule");
    assert!(
        d.triggers[0]
            .reason
            .starts_with("released (accepted by security; was held: ")
    );
    rebuild::trigger_result(
        &mut w,
        &d.triggers[0],
        Ok(rebuild::Started::default()),
        day(20),
        &Policy::default(),
    );
    assert_eq!(status(&w), TRIGGERED);
    assert!(
        reconcile(&en, &mut w, 21).triggers.is_empty(),
        "never twice"
    );
    assert_eq!(
        rebuild::release(&en, &mut w, "app", "again", day(21)).unwrap(),
        0
    );
}

#[test]
fn without_a_verified_signature_a_cause_is_held() {
    let (en, mut w) = setup("  requireSignature:\n    publicKeyFile: keys/cosign.pub\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    let d = reconcile(&en, &mut w, 20);
    assert!(d.triggers.is_empty());
    assert!(
        d.waiting[0].why.contains("not checked yet"),
        "{:?}",
        d.waiting
    );
    signed(&mut w, 2, false);
    let d = reconcile(&en, &mut w, 20);
    assert!(d.triggers.is_empty());
    assert!(
        d.waiting[0]
            .why
            .contains("not verified with keys/cosign.pub: no signature"),
        "{:?}",
        d.waiting
    );
    signed(&mut w, 2, true);
    assert_eq!(reconcile(&en, &mut w, 20).triggers.len(), 1);
}

#[test]
fn no_report_means_the_clock_decides() {
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    holdOn: HIGH\n    expediteOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    assert!(reconcile(&en, &mut w, 7).triggers.is_empty());
    assert_eq!(status(&w), PENDING);
    assert_eq!(reconcile(&en, &mut w, 8).triggers.len(), 1);
}

mod props {
    //! Over random timelines of digests (each with a random set of critical CVEs), reconciles,
    //! releases and builds: no build is ever made on a digest that brings a critical CVE
    //! its predecessor lacked unless a person released it, nor on a digest older than one
    //! already built on (an expedited or held digest never leaves an older one to be built
    //! later); the same `now` twice triggers nothing more.

    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    const CVES: [&str; 3] = ["CVE-A", "CVE-B", "CVE-C"];

    fn crit(bits: u8) -> Vec<&'static str> {
        (0..3)
            .filter(|i| bits & (1 << i) != 0)
            .map(|i| CVES[i])
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn held_digests_are_never_built_on_unless_released(
            events in proptest::collection::vec((0i64..4, 0u8..4, 0u8..8), 1..24),
        ) {
            let (en, mut w) = setup(
                "  vulnerabilityPolicy:\n    holdOn: CRITICAL\n    expediteOn: CRITICAL\n",
            );
            let mut t = 0i64;
            let mut n = 1u32;
            update(&en, &mut w, n, t);
            let mut last_bits = 0u8;
            scan_of(&mut w, n, &[], &[]);
            let mut bad = BTreeSet::new();
            let mut released = BTreeSet::new();
            let mut built = 100u32;
            // The newest digest (by number) a trigger has built on.
            let mut newest_built = 0u32;
            for (dt, kind, bits) in events {
                t += dt;
                match kind {
                    0 => {
                        n += 1;
                        update(&en, &mut w, n, t);
                        let now: Vec<&str> = crit(bits);
                        if now.iter().any(|c| !crit(last_bits).contains(c)) {
                            bad.insert(digest(n));
                        }
                        scan_of(&mut w, n, &now, &[]);
                        last_bits = bits;
                    }
                    1 => {
                        let d = reconcile(&en, &mut w, t);
                        for tr in &d.triggers {
                            for (_, dg) in &tr.builds_on {
                                prop_assert!(
                                    !bad.contains(dg) || released.contains(dg),
                                    "built on held digest {dg}"
                                );
                                let k = (1..=n).find(|k| digest(*k) == *dg).unwrap_or(0);
                                prop_assert!(
                                    k >= newest_built,
                                    "built on digest {k} after digest {newest_built}"
                                );
                                newest_built = k;
                            }
                            rebuild::trigger_result(
                                &mut w, tr, Ok(rebuild::Started::default()), day(t), &Policy::default(),
                            );
                        }
                        prop_assert!(reconcile(&en, &mut w, t).triggers.is_empty());
                    }
                    2 => {
                        let held: Vec<_> = w.images["app"]
                            .rebuild_state
                            .iter()
                            .flat_map(|r| r.causes.iter())
                            .filter(|c| c.held.is_some())
                            .filter_map(|c| c.digest.clone())
                            .collect();
                        let k = rebuild::release(&en, &mut w, "app", "ok", day(t)).unwrap();
                        prop_assert_eq!(k, held.len());
                        released.extend(held);
                    }
                    _ => {
                        if status(&w) == TRIGGERED {
                            built += 1;
                            rebuild::record_build(&en, &mut w, "app", &digest(built), None, day(t))
                                .unwrap();
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_pending_digest_owes_a_signature_check_until_it_verifies_with_that_key() {
    use crate::cosign::{key_files, owed, record_owed};
    let (en, mut w) = setup("  requireSignature:\n    publicKeyFile: keys/cosign.pub\n");
    assert_eq!(key_files(&en), ["keys/cosign.pub"]);
    let key = |f: &str| BTreeMap::from([("keys/cosign.pub".to_string(), f.to_string())]);
    let fps = key("sha256:1111");
    assert!(
        owed(&en, &w, &fps).is_empty(),
        "nothing pending, nothing owed"
    );
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    let owed_now = owed(&en, &w, &fps);
    assert_eq!(owed_now.len(), 1, "{owed_now:?}");
    let o = &owed_now[0];
    assert_eq!(
        (
            o.digest.clone(),
            o.key_file.as_str(),
            o.key_fingerprint.as_deref()
        ),
        (digest(2), "keys/cosign.pub", Some("sha256:1111"))
    );
    assert_eq!(o.image, w.bases[&o.base].full_image.clone().unwrap());
    // A check that names no key (the key file could not be read) does not count.
    signed(&mut w, 2, true);
    assert_eq!(owed(&en, &w, &fps).len(), 1);

    record_owed(&mut w, o, Err("no signature".into()), day(2));
    let lines = |w: &Analysis| {
        w.changes
            .iter()
            .filter(|c| c.contains("not verified with keys/cosign.pub: no signature"))
            .count()
    };
    assert_eq!(lines(&w), 1, "{:?}", w.changes);
    assert_eq!(
        owed(&en, &w, &fps).len(),
        1,
        "not verified: asked again, the signature may come later"
    );
    // The same outcome again changes nothing, its time included.
    record_owed(&mut w, o, Err("no signature".into()), day(3));
    assert_eq!(lines(&w), 1);
    let base = w.bases.values().find(|b| b.name == BASE_NAME).unwrap();
    let check = facts(&base.digests, &digest(2))
        .unwrap()
        .signature_for("keys/cosign.pub", KeyRead::Fingerprint("sha256:1111"))
        .cloned()
        .unwrap();
    assert_eq!(check.checked_at, Some(day(2)));
    let d = reconcile(&en, &mut w, 20);
    assert!(
        d.triggers.is_empty() && status(&w) == HELD,
        "{:?}",
        d.waiting
    );
    record_owed(&mut w, o, Ok(()), day(3));
    assert!(
        owed(&en, &w, &fps).is_empty(),
        "verified with this key: settled"
    );
    // The same file with another key in it: checked again.
    assert_eq!(owed(&en, &w, &key("sha256:2222")).len(), 1);
    // A key file that cannot be read: nothing is settled by it.
    assert_eq!(owed(&en, &w, &BTreeMap::new()).len(), 1);
    assert_eq!(reconcile(&en, &mut w, 20).triggers.len(), 1);

    // Without requireSignature nothing is owed.
    let (en, mut w) = setup("");
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    assert!(owed(&en, &w, &fps).is_empty());
}

#[test]
fn a_manual_build_records_its_base_so_a_later_fix_is_judged_against_it() {
    let (en, mut w) = setup("  vulnerabilityPolicy:\n    expediteOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    scan_of(&mut w, 1, &["CVE-1"], &[]);
    // Built by hand on digest 1: no cause names the base, the snapshot still does.
    let tr = rebuild::manual(&en, &mut w, "app", Some("first build"), day(0)).unwrap();
    assert_eq!(tr.builds_on, [(BASE_NAME.to_string(), digest(1))]);
    let causes = &tr.inputs.iter().find(|(k, _)| k == "causes").unwrap().1;
    assert_eq!(causes, "[]", "the build's inputs stay those of its causes");
    rebuild::trigger_result(
        &mut w,
        &tr,
        Ok(rebuild::Started::default()),
        day(0),
        &Policy::default(),
    );
    rebuild::record_build(&en, &mut w, "app", &digest(70), Some("v"), day(0)).unwrap();
    let built = w.images["app"].rebuild_history.last().unwrap();
    assert_eq!(built.success, Some(true));
    assert_eq!(
        built
            .base_image_snapshots
            .get(BASE_NAME)
            .map(String::as_str),
        Some(digest(1).as_str())
    );
    // Digest 2 has no report; digest 3 no longer has CVE-1. The digest before 3 (2) says
    // nothing, the digest built on (1) had CVE-1: due at once.
    update(&en, &mut w, 2, 1);
    update(&en, &mut w, 3, 2);
    scan_of(&mut w, 3, &[], &[]);
    let d = reconcile(&en, &mut w, 2);
    assert_eq!(d.triggers.len(), 1, "{d:?}");
    assert!(
        d.triggers[0].reason.contains("expedited (fixes CVE-1): "),
        "{}",
        d.triggers[0].reason
    );
}

#[test]
fn two_keys_on_one_digest_each_judge_their_own_images() {
    use crate::cosign::{owed, record_owed};
    let policy = |file: &str| format!("  requireSignature:\n    publicKeyFile: {file}\n");
    let (en, mut w) = setup_images(&[
        ("app", &policy("keys/a.pub")),
        ("api", &policy("keys/b.pub")),
    ]);
    let fps = BTreeMap::from([
        ("keys/a.pub".to_string(), "sha256:aaaa".to_string()),
        ("keys/b.pub".to_string(), "sha256:bbbb".to_string()),
    ]);
    w.keys = fps
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    update(&en, &mut w, 1, 0);
    update(&en, &mut w, 2, 1);
    let first = owed(&en, &w, &fps);
    assert_eq!(first.len(), 2, "{first:?}");
    // Digest 2 is signed with a's key only.
    for run in 0..3 {
        for o in owed(&en, &w, &fps) {
            let outcome = if o.key_file == "keys/a.pub" {
                Ok(())
            } else {
                Err("no signature of this key".to_string())
            };
            record_owed(&mut w, &o, outcome, day(2 + run));
        }
        let left = owed(&en, &w, &fps);
        assert_eq!(
            left.iter().map(|o| o.key_file.as_str()).collect::<Vec<_>>(),
            ["keys/b.pub"],
            "run {run}: a's verified check is not owed again"
        );
        let base = w.bases.values().find(|b| b.name == BASE_NAME).unwrap();
        assert_eq!(
            facts(&base.digests, &digest(2)).unwrap().signatures.len(),
            2
        );
    }
    let lines = w
        .changes
        .iter()
        .filter(|c| c.contains("signature of"))
        .count();
    assert_eq!(
        lines, 2,
        "one change per key, not one per run: {:?}",
        w.changes
    );
    let d = reconcile(&en, &mut w, 20);
    let triggered: Vec<&str> = d.triggers.iter().map(|t| t.image.as_str()).collect();
    assert_eq!(triggered, ["app"], "{d:?}");
    let api = w.images["api"].rebuild_state.as_ref().unwrap();
    assert_eq!(api.status.as_deref(), Some(HELD));
    assert!(
        api.causes[0]
            .held
            .as_deref()
            .is_some_and(|h| h.contains("not verified with keys/b.pub: no signature of this key")),
        "{api:?}"
    );
    // b's file now holds a's key: a's check stands for it.
    w.keys
        .insert("keys/b.pub".into(), Some("sha256:aaaa".into()));
    let d = reconcile(&en, &mut w, 21);
    let triggered: Vec<&str> = d.triggers.iter().map(|t| t.image.as_str()).collect();
    assert!(triggered.contains(&"api"), "{d:?}");
}

#[test]
fn a_build_given_back_after_a_timeout_is_retried_on_the_newest_digest_of_two_seen_together() {
    // Found by the proptest below: two digests detected at the same time were ordered by
    // their place in the cause list, and a failed build gives its causes back in its own
    // order (the expedited digest first), so the retry was pinned onto the older digest after
    // a build on the newer one. Both now order them by the base's history.
    let (en, mut w) =
        setup("  vulnerabilityPolicy:\n    holdOn: CRITICAL\n    expediteOn: CRITICAL\n");
    update(&en, &mut w, 1, 0);
    scan_of(&mut w, 1, &[], &[]);
    update(&en, &mut w, 2, 0);
    scan_of(&mut w, 2, &["CVE-A"], &[]);
    update(&en, &mut w, 3, 0);
    scan_of(&mut w, 3, &[], &[]);
    let d = reconcile(&en, &mut w, 2);
    assert_eq!(d.triggers.len(), 1);
    assert_eq!(
        d.triggers[0].builds_on,
        [(BASE_NAME.to_string(), digest(3))]
    );
    rebuild::trigger_result(
        &mut w,
        &d.triggers[0],
        Ok(rebuild::Started::default()),
        day(2),
        &Policy::default(),
    );
    // No outcome within the build timeout (1d): the build is given up, its causes are back.
    assert!(reconcile(&en, &mut w, 3).triggers.is_empty());
    assert_eq!(status(&w), PENDING);
    // Digest 2 brought a CVE, but digest 3 (seen at the same instant, later in the history)
    // supersedes it: it is not held, it waits to be served with digest 3.
    assert_eq!(
        rebuild::release(&en, &mut w, "app", "ok", day(5)).unwrap(),
        0
    );
    // Past digest 2's own delay both are due: the retry builds on the newer one.
    let d = reconcile(&en, &mut w, 8);
    assert_eq!(d.triggers.len(), 1, "{:?}", d.waiting);
    assert_eq!(
        d.triggers[0].builds_on,
        [(BASE_NAME.to_string(), digest(3))]
    );
    assert_eq!(d.triggers[0].causes.len(), 2, "digest 2 is served with it");
}
