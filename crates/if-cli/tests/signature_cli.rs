//! `requireSignature` end to end (issue 23): `check` fetches the cosign signature of each
//! new base digest from a real registry (Debian's `docker-registry` on 127.0.0.1), verifies
//! it with the image's `publicKeyFile` and records the outcome; an unsigned digest or one
//! signed with another key is held (the reason in `status` and `plan`), a signed one
//! triggers, on GitHub and on GitLab (the fake forge). Signatures are made by the test with
//! its own P-256 key and pushed as cosign does (sigstore/cosign `specs/SIGNATURE_SPEC.md`:
//! tag `sha256-<hex>.sig`, simple-signing layers annotated
//! `dev.cosignproject.cosign/signature`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rebuild::{Factory, day};
use common::supply::{check, facts_of, registry_factory, signature_of, triggers};
use if_testkit::registry::attest::index_seeded;
use if_testkit::registry::cosign::{CosignKey, payload, push_signature};
use serde_json::json;

/// `app` on `REG/lib/base:1`, delay 1d, `requireSignature` with `keys/cosign.pub`, built on
/// GitHub or (`gitlab`) GitLab.
fn factory(reg: &str, gitlab: bool) -> Factory {
    registry_factory(
        reg,
        gitlab,
        "    requireSignature:\n      publicKeyFile: keys/cosign.pub\n",
    )
}

fn unsigned_and_foreign_are_held_signed_triggers(gitlab: bool) {
    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    let key = CosignKey::generate();
    let other = CosignKey::generate();
    let reference = format!("{reg}/lib/base");
    push.oci_manifest("lib/base", "1", "d0");
    let f = factory(&reg, gitlab);
    std::fs::create_dir_all(f.root.join("keys")).unwrap();
    std::fs::write(f.root.join("keys/cosign.pub"), key.public_pem()).unwrap();
    check(&f, &day(-1));

    // A new digest with no signature: recorded as not verified, held past its delay.
    let unsigned = push.oci_manifest("lib/base", "1", "d1").digest;
    check(&f, &day(0));
    let sig = signature_of(&f, unsigned.as_str());
    assert_eq!(sig["verified"], false, "{sig}");
    assert_eq!(sig["key"], "keys/cosign.pub");
    let missing = format!(
        "no signature (no tag sha256-{}.sig in the repository)",
        unsigned.hex()
    );
    assert_eq!(sig["reason"], missing.as_str());
    let v = f.reconcile(&day(5), &[]);
    assert!(triggers(&v).is_empty(), "{v}");
    let why = format!(
        "signature of {} not verified with keys/cosign.pub: {missing}",
        unsigned.short()
    );
    let row = f.status_with(&["--now", &day(5)])["app"]["rebuild"].clone();
    assert_eq!(row["status"], "held", "{row}");
    assert_eq!(row["held"], json!([why]));
    let plan = f.json(&["plan", &format!("{reference}:1"), "--now", &day(5)]);
    assert_eq!(
        plan["held"],
        json!([{"image": "app", "why": why}]),
        "{plan}"
    );
    assert!(f.requests().is_empty(), "nothing sent while held");

    // Signed with another key: still held, with that reason.
    let foreign = push.oci_manifest("lib/base", "1", "d2").digest;
    let p = payload(&reference, &foreign);
    push_signature(&push, "lib/base", &foreign, &[(p.clone(), other.sign(&p))]);
    check(&f, &day(6));
    assert_eq!(
        signature_of(&f, foreign.as_str())["reason"],
        "the signature does not verify with the key"
    );
    assert!(triggers(&f.reconcile(&day(10), &[])).is_empty());
    assert!(f.requests().is_empty());

    // Signed with the factory's key: the rebuild starts once its delay is over, on it.
    let signed = push.oci_manifest("lib/base", "1", "d3").digest;
    let p = payload(&reference, &signed);
    push_signature(&push, "lib/base", &signed, &[(p.clone(), key.sign(&p))]);
    check(&f, &day(11));
    let sig = signature_of(&f, signed.as_str());
    assert_eq!(sig["verified"], true);
    // Verified with this key: a second check asks for no signature again (one HEAD), while
    // the two digests that did not verify are asked again (a manifest each, the foreign
    // one's payload blob): a signature may be pushed after the image.
    let v = check(&f, &day(11));
    assert_eq!(v["summary"]["requests"], 1 + 1 + 2, "{v:#}");
    assert_eq!(signature_of(&f, signed.as_str()), sig, "not checked again");
    // The same key file with another key in it: checked again, and it no longer verifies.
    std::fs::write(f.root.join("keys/cosign.pub"), other.public_pem()).unwrap();
    let v = check(&f, &day(12));
    assert_eq!(v["summary"]["requests"], 1 + 1 + 2 + 2, "{v:#}");
    let changed = signature_of(&f, signed.as_str());
    assert_eq!(changed["verified"], false, "{changed}");
    assert_ne!(changed["fingerprint"], sig["fingerprint"]);
    // The first key back: its check was kept beside the other key's, so it stands again
    // without a fetch (one check per key, issue 23), and only the digests that did not
    // verify are asked again.
    std::fs::write(f.root.join("keys/cosign.pub"), key.public_pem()).unwrap();
    let v = check(&f, &day(12));
    assert_eq!(v["summary"]["requests"], 1 + 1 + 2, "{v:#}");
    let kept = facts_of(&f, signed.as_str()).unwrap().signatures;
    assert_eq!(kept.len(), 2, "{kept:?}");
    let first = kept
        .iter()
        .find(|c| c.key_fingerprint.as_ref().map(|f| json!(f)) == Some(sig["fingerprint"].clone()))
        .unwrap();
    assert_eq!(first.verified, Some(true));
    assert_eq!(triggers(&f.reconcile(&day(13), &[])), ["app"]);
    let inputs = common::supply::dispatched(&f, gitlab, "app");
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["base_digest"], signed.as_str(), "{}", inputs[0]);
    f.assert_no_secrets();
}

#[test]
fn unsigned_and_foreign_digests_are_held_a_signed_one_triggers_on_github() {
    unsigned_and_foreign_are_held_signed_triggers(false);
}

#[test]
fn unsigned_and_foreign_digests_are_held_a_signed_one_triggers_on_gitlab() {
    unsigned_and_foreign_are_held_signed_triggers(true);
}

/// The recorded attestation facts of `digest` on the base image's state.
fn attestations_of(f: &Factory, digest: &str) -> Option<if_model::supply::Attestations> {
    facts_of(f, digest).and_then(|x| x.attestations)
}

/// Docker's "Image attestation storage": `check` reads the attestation manifests of each
/// new base digest's index once (BuildKit's `vnd.docker.reference.type:
/// attestation-manifest` entries and their layers' `in-toto.io/predicate-type`), records
/// provenance and SBOM yes or no per digest, and `status` shows them for the current digest.
#[test]
fn check_records_the_attestations_of_each_new_digest_once_and_status_shows_them() {
    let Some((registry, push)) = common::supply::registry() else {
        return;
    };
    let reg = registry.addr.clone();
    index_seeded(&push, "lib/base", "1", "d0", &[]);
    let f = registry_factory(&reg, false, "");
    // The baseline is not read: a first check is one manifest HEAD per image.
    let v = check(&f, &day(-1));
    assert_eq!(v["summary"]["requests"], 1, "{v:#}");

    // A new digest whose index carries SLSA v1 provenance and an SPDX SBOM.
    let slsa = "https://slsa.dev/provenance/v1";
    let spdx = "https://spdx.dev/Document";
    let attested = index_seeded(&push, "lib/base", "1", "d1", &[&[spdx, slsa]]);
    let v = check(&f, &day(0));
    // HEAD, the index, its one attestation manifest.
    assert_eq!(v["summary"]["requests"], 3, "{v:#}");
    let a = attestations_of(&f, attested.as_str()).expect("recorded");
    assert_eq!(
        (a.index, a.provenance, a.provenance_type.as_deref(), a.sbom),
        (Some(true), Some(true), Some(slsa), Some(true))
    );
    assert_eq!(a.sbom_format, Some(if_model::supply::SbomFormat::Spdx));
    assert_eq!(a.checked_at.map(|t| t.to_string()), Some(day(0)));
    let rows = f.status_with(&["--now", &day(0)]);
    let base = rows
        .values()
        .find(|r| r["kind"] == "base")
        .expect("a base row")
        .clone();
    assert_eq!(
        base["attestations"],
        json!({"index": true, "provenance": true, "provenanceType": slsa, "sbom": true,
               "sbomFormat": "SPDX", "checkedAt": day(0), "error": null,
               "summary": format!("provenance ({slsa}), SBOM (SPDX)")}),
        "{base:#}"
    );
    assert!(rows["app"]["attestations"].is_null());
    let name = base["name"].as_str().unwrap();
    let line = f.status_line(name);
    assert!(
        line.contains(&format!("attestations: provenance ({slsa}), SBOM (SPDX)")),
        "{line}"
    );

    // Facts recorded: the next check of the same digest reads nothing more.
    let v = check(&f, &day(1));
    assert_eq!(v["summary"]["requests"], 1, "{v:#}");

    // A new digest whose index has no attestation manifest: recorded as none of either.
    let bare = index_seeded(&push, "lib/base", "1", "d2", &[]);
    let v = check(&f, &day(2));
    assert_eq!(v["summary"]["requests"], 2, "{v:#}");
    let a = attestations_of(&f, bare.as_str()).expect("recorded");
    assert_eq!(
        (a.index, a.provenance, a.sbom, a.sbom_format),
        (Some(true), Some(false), Some(false), None)
    );
    assert!(
        f.status_line(name)
            .contains("attestations: no provenance, no SBOM"),
        "{}",
        f.status_line(name)
    );
    // The earlier digest keeps its facts.
    assert_eq!(
        attestations_of(&f, attested.as_str()).unwrap().provenance,
        Some(true)
    );

    // A single manifest is not an index: nothing can be attested.
    let single = push.oci_manifest("lib/base", "1", "d3").digest;
    check(&f, &day(3));
    assert_eq!(
        attestations_of(&f, single.as_str()).unwrap().index,
        Some(false)
    );
    assert!(
        f.status_line(name)
            .contains("no attestations (not an index)")
    );

    // The registry cannot give the attestation manifest (its revision link taken out of the
    // storage, so distribution answers 404 MANIFEST_UNKNOWN): recorded as not read, with a
    // warning, and read again by the next check although the digest is unchanged.
    let flaky = index_seeded(&push, "lib/base", "1", "d4", &[&[slsa]]);
    let v2 = registry.dir().join("storage/docker/registry/v2");
    let index_blob = v2.join(format!(
        "blobs/sha256/{}/{}/data",
        &flaky.hex()[..2],
        flaky.hex()
    ));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index_blob).unwrap()).unwrap();
    let manifest = index["manifests"][1]["digest"].as_str().unwrap();
    let hex = manifest.strip_prefix("sha256:").unwrap();
    let link = v2.join(format!(
        "repositories/lib/base/_manifests/revisions/sha256/{hex}/link"
    ));
    std::fs::rename(&link, link.with_extension("off")).unwrap();
    let out = f.run(&["--format", "json", "check", "--now", &day(4)]);
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: attestations of"), "{stderr}");
    let a = attestations_of(&f, flaky.as_str()).expect("recorded as failed");
    assert!(
        a.error
            .as_deref()
            .is_some_and(|e| e.contains("MANIFEST_UNKNOWN")),
        "{a:?}"
    );
    assert_eq!(a.provenance, None);
    assert!(f.status_line(name).contains("attestations: not read: "));
    std::fs::rename(link.with_extension("off"), &link).unwrap();
    let v = check(&f, &day(5));
    // HEAD, the index, its attestation manifest: the failed read made again.
    assert_eq!(v["summary"]["requests"], 3, "{v:#}");
    let a = attestations_of(&f, flaky.as_str()).unwrap();
    assert_eq!((a.error, a.provenance), (None, Some(true)));
    assert_eq!(
        check(&f, &day(6))["summary"]["requests"],
        1,
        "and not again"
    );
    assert!(f.requests().is_empty(), "nothing dispatched");
}
