//! The golden suite: every `testdata/dockerfile/<case>/` holds a `Dockerfile`, an optional
//! `build-args` file (`NAME=VALUE` lines) and `expected.json`, the exact JSON report.
//! `cargo xtask generate` rewrites the expectations with the same report function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dockerfile")
}

fn render(case: &Path) -> String {
    let bytes = std::fs::read(case.join("Dockerfile")).expect("case has a Dockerfile");
    let dockerfile = String::from_utf8_lossy(&bytes);
    let args = std::fs::read_to_string(case.join("build-args")).ok();
    let report =
        if_dockerfile::golden_report(&dockerfile, args.as_deref()).expect("build-args file reads");
    format!(
        "{}\n",
        serde_json::to_string_pretty(&report).expect("report renders")
    )
}

#[test]
fn golden_cases() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("testdata/dockerfile exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 80, "only {} golden cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let actual = render(case);
        match std::fs::read_to_string(case.join("expected.json")) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!(
                "{name}: no expected.json (run `cargo xtask generate`)"
            )),
        }
    }
    eprintln!("{} golden cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
