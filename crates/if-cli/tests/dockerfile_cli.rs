//! `image-factory dockerfile`: the JSON contract, the text rendering and the exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use assert_cmd::Command;

fn run(args: &[&str], dockerfile: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(&path, dockerfile).unwrap();
    let mut cmd = Command::cargo_bin("image-factory").unwrap();
    cmd.args(args).arg(&path);
    cmd.output().unwrap()
}

fn json(args: &[&str], dockerfile: &str) -> serde_json::Value {
    let mut all = vec!["--format", "json", "dockerfile"];
    all.extend_from_slice(args);
    let out = run(&all, dockerfile);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn prints_exactly_the_documented_object() {
    let v = json(
        &[],
        "ARG GO=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO}-alpine AS builder\nFROM scratch\nCOPY --from=builder /a /a\n",
    );
    assert_eq!(
        v,
        serde_json::json!({
            "schemaVersion": 1,
            "valid": true,
            "error": null,
            "stages": [
                {"name": "builder", "from": "golang:1.22-alpine", "platform": "$BUILDPLATFORM", "base": "external"},
                {"name": null, "from": "scratch", "platform": null, "base": "scratch"}
            ],
            "baseImages": ["golang:1.22-alpine"]
        })
    );
}

#[test]
fn build_args_override_global_args() {
    let v = json(
        &["--build-arg", "GO=1.23", "--build-arg", "TARGETARCH=arm64"],
        "ARG GO=1.22\nFROM golang:${GO}-${TARGETARCH}\n",
    );
    assert_eq!(v["stages"][0]["from"], "golang:1.23-arm64");
    assert_eq!(v["baseImages"], serde_json::json!(["golang:1.23-arm64"]));
}

#[test]
fn invalid_file_exits_zero_with_the_verdict() {
    let v = json(&[], "FROM alpine # comment\n");
    assert_eq!(v["valid"], false);
    assert_eq!(
        v["error"],
        "line 1: FROM requires either one or three arguments"
    );
    assert_eq!(v["stages"], serde_json::json!([]));
    assert_eq!(v["baseImages"], serde_json::json!([]));
}

#[test]
fn unreadable_file_exits_two() {
    let out = Command::cargo_bin("image-factory")
        .unwrap()
        .args(["--format", "json", "dockerfile", "/nonexistent/Dockerfile"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn malformed_build_arg_exits_two() {
    let out = run(&["dockerfile", "--build-arg", "NOVALUE"], "FROM alpine\n");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_output_has_summary_and_located_diagnostics() {
    let out = run(&["dockerfile"], "FROM alpine\nFOO bar\n");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("invalid"), "{stdout}");
    assert!(
        stderr.contains("Dockerfile:2:1: error: unknown instruction: FOO"),
        "{stderr}"
    );
    let out = run(&["dockerfile"], "FROM node:22 AS build\nFROM build\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stage 0 AS build: FROM node:22 (external)"),
        "{stdout}"
    );
    assert!(stdout.contains("stage 1: FROM build (stage)"), "{stdout}");
    assert!(stdout.contains("base images:\n  node:22"), "{stdout}");
}
