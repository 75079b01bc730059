//! `image-factory ref`: the JSON contract and the error exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, stderr, stdout};

fn json(reference: &str) -> serde_json::Value {
    let out = bin()
        .args(["--format", "json", "ref", reference])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn prints_exactly_the_documented_object() {
    let v = json("node:22");
    assert_eq!(
        v,
        serde_json::json!({
            "schemaVersion": 1,
            "registry": "docker.io",
            "repository": "library/node",
            "tag": "22",
            "digest": null,
            "canonical": "docker.io/library/node:22",
            "familiar": "node:22",
        })
    );
}

#[test]
fn tag_defaults_only_without_digest() {
    assert_eq!(json("node")["tag"], "latest");
    let digest = format!("sha256:{}", "a".repeat(64));
    let v = json(&format!("ghcr.io/org/app@{digest}"));
    assert_eq!(v["tag"], serde_json::Value::Null);
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["canonical"], format!("ghcr.io/org/app@{digest}"));
    let v = json(&format!("index.docker.io/library/node:22@{digest}"));
    assert_eq!(v["registry"], "docker.io");
    assert_eq!(v["tag"], "22");
    assert_eq!(v["familiar"], format!("node:22@{digest}"));
}

#[test]
fn invalid_reference_exits_2_with_reason_on_stderr() {
    let out = bin()
        .args(["--format", "json", "ref", "Node:22"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("must be lowercase"),
        "{}",
        stderr(&out)
    );
}
