//! The "Done when": one timeline on a real registry and the fake forges, fix, new CVE and unsigned digest.

use super::*;

/// The "Done when", as one timeline on a real registry (Debian's `docker-registry`
/// on 127.0.0.1) and the fake forge, for `app` on `REG/lib/base:1` under
/// `vulnerabilityPolicy: {expediteOn: CRITICAL, holdOn: CRITICAL}` and `requireSignature`:
/// built on digest 1; digest 2 fixes digest 1's critical CVE (rebuilt at once); digest 3
/// brings a new one (held); digest 4 is unsigned (held with the reason), then signed
/// (built, `reconcile` verifying it itself). Exactly one dispatch per build.
fn capstone(gitlab: bool) {
    use common::supply::{check, dispatched, registry_factory, signature_of, triggers};
    use if_testkit::registry::cosign::{CosignKey, payload, push_signature};

    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    let app_inputs = |f: &Factory, gitlab: bool| dispatched(f, gitlab, "app");
    let key = CosignKey::generate();
    let repo = format!("{reg}/lib/base");
    let base = format!("{repo}:1");
    let sign = |d: &if_model::digest::Digest| {
        let p = payload(&repo, d);
        push_signature(&push, "lib/base", d, &[(p.clone(), key.sign(&p))]);
    };
    let policy = "    vulnerabilityPolicy:\n      expediteOn: CRITICAL\n      holdOn: CRITICAL\n    requireSignature:\n      publicKeyFile: keys/cosign.pub\n";
    let f = registry_factory(&reg, gitlab, policy);
    std::fs::create_dir_all(f.root.join("keys")).unwrap();
    std::fs::write(f.root.join("keys/cosign.pub"), key.public_pem()).unwrap();
    let status = |now: &str| f.status_with(&["--now", now])["app"]["rebuild"].clone();
    let held_plan = |now: &str| f.json(&["plan", &base, "--now", now])["held"].clone();

    // Digest 1, signed, with a critical CVE: the baseline, and the image is built on it.
    let d1 = push.oci_manifest("lib/base", "1", "d1").digest;
    sign(&d1);
    check(&f, &day(-1));
    let r1 = report(
        &f,
        "d1.json",
        &trivy(&[("CVE-2026-0001", "CRITICAL", "3.0.2")]),
    );
    scan(&f, &base, d1.as_str(), &r1, &day(-1));
    f.ok(&[
        "trigger",
        "app",
        "--reason",
        "first build",
        "--now",
        &day(-1),
    ]);
    let inputs = app_inputs(&f, gitlab);
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0]["triggered_by"], "manual");
    f.ok(&[
        "record-build",
        "--image",
        "app",
        "--digest",
        &digest('a'),
        "--now",
        &day(-1),
    ]);
    let built = f
        .image_state("app")
        .rebuild_history
        .last()
        .cloned()
        .unwrap();
    assert_eq!(built.success, Some(true));
    // A manual build records the digest of every base it is built on (no cause names the
    // base here): digest 1, what `expediteOn` compares the next digests with.
    assert_eq!(
        built.base_image_snapshots.values().collect::<Vec<_>>(),
        [d1.as_str()],
        "{built:?}"
    );

    // Digest 2 fixes it: rebuilt at once (not after the 1-day delay), the ID everywhere.
    let d2 = push.oci_manifest("lib/base", "1", "d2").digest;
    sign(&d2);
    check(&f, &day(0));
    assert_eq!(signature_of(&f, d2.as_str())["verified"], true);
    let r2 = report(&f, "d2.json", &trivy(&[("CVE-2026-0100", "LOW", "")]));
    scan(&f, &base, d2.as_str(), &r2, &day(0));
    let expedited = format!(
        "expedited (fixes CVE-2026-0001): base image {base} updated to {}",
        d2.short()
    );
    // Before any `reconcile`: status and plan judge it at `now` as reconcile will.
    let row = status(&day(0));
    assert_eq!(
        (
            &row["status"],
            &row["reason"],
            &row["triggeredBy"],
            &row["dueNow"]
        ),
        (
            &json!("pending"),
            &json!(expedited),
            &json!("expedite"),
            &json!(true)
        ),
        "{row:#}"
    );
    assert_eq!(row["scheduledFor"], day(0).as_str());
    let plan = f.json(&["plan", &base, "--now", &day(0)]);
    assert_eq!(
        plan["expedited"],
        json!([{"image": "app", "why": expedited}]),
        "{plan:#}"
    );
    let text = f.ok(&["plan", &base, "--now", &day(0)]);
    assert!(
        text.contains(&format!(
            "expedited now (due at once, the next `reconcile` triggers them):\n  app: {expedited}\n"
        )),
        "{text}"
    );
    assert_eq!(
        app_inputs(&f, gitlab).len(),
        1,
        "status and plan send nothing"
    );
    let v = f.reconcile(&day(0), &[]);
    assert_eq!(triggers(&v), ["app"], "{v}");
    let inputs = app_inputs(&f, gitlab);
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[1]["reason"], expedited.as_str());
    assert_eq!(inputs[1]["triggered_by"], "expedite");
    assert_eq!(inputs[1]["base_digest"], d2.as_str());
    let causes = inputs[1]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0]["digest"], d2.as_str());
    f.ok(&[
        "record-build",
        "--image",
        "app",
        "--digest",
        &digest('b'),
        "--now",
        &day(0),
    ]);

    // Digest 3 brings a new critical CVE: held past its delay, nothing sent.
    let d3 = push.oci_manifest("lib/base", "1", "d3").digest;
    sign(&d3);
    check(&f, &day(1));
    let r3 = report(
        &f,
        "d3.json",
        &trivy(&[
            ("CVE-2026-0200", "CRITICAL", ""),
            ("CVE-2026-0100", "LOW", ""),
        ]),
    );
    scan(&f, &base, d3.as_str(), &r3, &day(1));
    // Verified with this key: the next check asks for no signature again (one HEAD).
    assert_eq!(check(&f, &day(2))["summary"]["requests"], 1);
    assert!(triggers(&f.reconcile(&day(5), &[])).is_empty());
    let brings = format!("{} brings CRITICAL or worse: CVE-2026-0200", d3.short());
    let row = status(&day(5));
    assert_eq!(row["status"], "held", "{row:#}");
    assert_eq!(row["held"], json!([brings]));
    assert_eq!(held_plan(&day(5)), json!([{"image": "app", "why": brings}]));
    assert_eq!(app_inputs(&f, gitlab).len(), 2, "nothing sent while held");

    // Digest 4, clean but unsigned: held for its signature (digest 3 waits with it).
    let d4 = push.oci_manifest("lib/base", "1", "d4").digest;
    check(&f, &day(6));
    let r4 = report(&f, "d4.json", &trivy(&[("CVE-2026-0100", "LOW", "")]));
    scan(&f, &base, d4.as_str(), &r4, &day(6));
    assert!(triggers(&f.reconcile(&day(8), &[])).is_empty());
    let unsigned = format!(
        "signature of {} not verified with keys/cosign.pub: no signature (no tag sha256-{}.sig in the repository)",
        d4.short(),
        d4.hex()
    );
    let row = status(&day(8));
    // Digest 3's cause is held with digest 4's (superseded, it would be served with it).
    assert_eq!(row["status"], "held", "{row:#}");
    assert_eq!(row["held"], json!([brings, unsigned]), "{row:#}");
    assert_eq!(
        held_plan(&day(8)),
        json!([{"image": "app", "why": brings}, {"image": "app", "why": unsigned}])
    );
    let line = f.status_line("app");
    assert!(
        line.contains(" held ") && line.contains("no signature"),
        "{line}"
    );
    assert_eq!(app_inputs(&f, gitlab).len(), 2, "nothing sent while held");

    // Digest 4 signed later: `reconcile` verifies it itself (no `check` between) and builds
    // on it, once.
    sign(&d4);
    let v = f.reconcile(&day(9), &[]);
    assert_eq!(triggers(&v), ["app"], "{v}");
    assert_eq!(signature_of(&f, d4.as_str())["verified"], true);
    let inputs = app_inputs(&f, gitlab);
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs[2]["base_digest"], d4.as_str());
    assert_eq!(inputs[2]["triggered_by"], "base-image-update");
    // One build serves both causes, on digest 4: digest 3 is never built on alone.
    let causes = inputs[2]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{}", inputs[2]);
    assert_eq!(causes[0]["digest"], d4.as_str());
    assert!(triggers(&f.reconcile(&day(10), &[])).is_empty());
    assert_eq!(app_inputs(&f, gitlab).len(), 3, "never twice");
    f.assert_no_secrets();
}

#[test]
fn the_supply_chain_timeline_on_github() {
    capstone(false);
}

#[test]
fn the_supply_chain_timeline_on_gitlab() {
    capstone(true);
}
