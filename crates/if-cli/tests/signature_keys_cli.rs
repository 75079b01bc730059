//! `requireSignature` with two keys on one base digest (issue 23): `app` trusts key A,
//! `api` key B, both are built on `REG/lib/base:1` (Debian's `docker-registry` on
//! 127.0.0.1), and the new digest carries a cosign signature made with A only (sigstore/cosign
//! `specs/SIGNATURE_SPEC.md`: tag `sha256-<hex>.sig`, simple-signing layers annotated
//! `dev.cosignproject.cosign/signature`). Each key keeps its own check of the digest: `app`
//! is released, `api` held, and repeated `check`s and `reconcile`s neither flip them nor
//! fetch again what A verified.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rebuild::{Factory, day};
use common::supply::{check, facts_of, triggers};
use if_testkit::registry::cosign::{CosignKey, payload, push_signature};
use serde_json::json;

fn factory(reg: &str) -> Factory {
    let image = |name: &str, key: &str| {
        format!(
            "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      provider: github\n      repo: acme/{name}\n      dockerfile: {name}/Dockerfile\n      workflow: build.yml\n    rebuildDelay: 1d\n    requireSignature:\n      publicKeyFile: {key}\n"
        )
    };
    let yaml = format!(
        "images:\n{}{}",
        image("app", "keys/a.pub"),
        image("api", "keys/b.pub")
    );
    let dockerfile = format!("FROM {reg}/lib/base:1\nRUN true\n");
    Factory::setup_with(
        &yaml,
        &[
            ("app/Dockerfile", &dockerfile),
            ("api/Dockerfile", &dockerfile),
        ],
        &day(-2),
    )
}

/// The checks recorded for `digest`: `(key file, verified)` each, oldest first.
fn checks(f: &Factory, digest: &str) -> Vec<(String, bool)> {
    facts_of(f, digest)
        .map(|x| x.signatures)
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.key.unwrap_or_default(), c.verified == Some(true)))
        .collect()
}

#[test]
fn two_keys_on_one_digest_release_one_image_and_hold_the_other_for_good() {
    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    let (a, b) = (CosignKey::generate(), CosignKey::generate());
    let f = factory(&reg);
    std::fs::create_dir_all(f.root.join("keys")).unwrap();
    std::fs::write(f.root.join("keys/a.pub"), a.public_pem()).unwrap();
    std::fs::write(f.root.join("keys/b.pub"), b.public_pem()).unwrap();
    push.oci_manifest("lib/base", "1", "d0");
    check(&f, &day(-1));

    let d1 = push.oci_manifest("lib/base", "1", "d1").digest;
    let p = payload(&format!("{reg}/lib/base"), &d1);
    push_signature(&push, "lib/base", &d1, &[(p.clone(), a.sign(&p))]);
    check(&f, &day(0));
    let both = vec![
        ("keys/a.pub".to_string(), true),
        ("keys/b.pub".to_string(), false),
    ];
    assert_eq!(checks(&f, d1.as_str()), both);
    let files = |f: &Factory| common::tree_of(&f.root.join("state"));
    let before = files(&f);
    for n in 1..=3 {
        // One manifest HEAD, and B's check again (its signature manifest and the payload
        // blob: a signature may come later); A's verified check is not fetched again.
        let v = check(&f, &day(0));
        assert_eq!(v["summary"]["requests"], 1 + 2, "run {n}: {v:#}");
        assert_eq!(checks(&f, d1.as_str()), both, "run {n}");
        assert_eq!(files(&f), before, "run {n}: nothing changes");
    }

    let why = format!(
        "signature of {} not verified with keys/b.pub: the signature does not verify with the key",
        d1.short()
    );
    assert_eq!(triggers(&f.reconcile(&day(2), &[])), ["app"]);
    for n in 3..=5 {
        let v = f.reconcile(&day(n), &[]);
        assert!(triggers(&v).is_empty(), "day {n}: {v}");
        assert_eq!(checks(&f, d1.as_str()), both, "day {n}");
        let rows = f.status_with(&["--now", &day(n)]);
        let api = &rows["api"]["rebuild"];
        assert_eq!(
            (&api["status"], &api["held"]),
            (&json!("held"), &json!([why])),
            "{api}"
        );
        assert_ne!(rows["app"]["rebuild"]["status"], "held");
        assert!(
            f.status_line("api").contains(&why),
            "{}",
            f.status_line("api")
        );
    }
    let dispatched = common::supply::dispatched(&f, false, "app");
    assert_eq!(dispatched.len(), 1, "{dispatched:?}");
    assert_eq!(dispatched[0]["base_digest"], d1.as_str());
    assert!(common::supply::dispatched(&f, false, "api").is_empty());
    f.assert_no_secrets();
}
