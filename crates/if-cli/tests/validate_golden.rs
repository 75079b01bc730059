//! Data-driven `validate` cases: every `testdata/validate/<case>/` is a factory root whose
//! `expected.txt` holds the exact report (regenerate with `cargo xtask generate`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn every_case_matches_its_golden_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/validate");
    let cases = if_cli::golden::case_dirs(&dir).unwrap();
    assert!(
        cases.len() >= 10,
        "expected the validate cases in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default();
        let actual = if_cli::load::validate_report(case).unwrap();
        if actual != expected {
            failures.push(format!(
                "--- {}\nexpected:\n{expected}actual:\n{actual}",
                case.display()
            ));
        }
        let clean = case
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("clean")
            || case.ends_with("images-key-shape");
        assert_eq!(
            clean,
            actual.is_empty(),
            "{}: clean cases and only they report nothing",
            case.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
