//! Rebuild golden cases: every `testdata/rebuild/<case>/timeline.txt` replayed through the
//! engine must render exactly its `expected.txt` (regenerate with `cargo xtask generate`).
//! The runner also applies every event twice and fails when the second time changes anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn every_rebuild_timeline_matches_its_expected_rendering() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rebuild");
    let cases = if_cli::golden::case_dirs(&dir).unwrap();
    assert!(cases.len() >= 10, "rebuild cases in {}", dir.display());
    for case in &cases {
        let timeline = std::fs::read_to_string(case.join("timeline.txt")).unwrap();
        let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap();
        let actual = if_cli::golden::timeline::run(&timeline)
            .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
        assert_eq!(actual, expected, "{}", case.display());
    }
}

#[test]
fn a_timeline_with_a_mistake_names_its_line() {
    let err = if_cli::golden::timeline::run("image a from node:22\nat nonsense update x 1\n")
        .unwrap_err();
    assert!(err.starts_with("timeline.txt:2:"), "{err}");
    let err = if_cli::golden::timeline::run(
        "image a from node:22\nat 2027-01-01T00:00:00Z update redis:7 1\n",
    )
    .unwrap_err();
    assert!(
        err.contains("timeline.txt:2:") && err.contains("redis:7"),
        "{err}"
    );
}
