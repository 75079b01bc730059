//! Lifecycle golden cases: every `testdata/state/<case>/` run through `analyze --all` must
//! give exactly its `expected/` tree (regenerate with `cargo xtask generate`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

fn read_tree(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let sub = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if p.is_dir() {
            read_tree(&p, &sub, out);
        } else {
            out.insert(sub, std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn every_lifecycle_case_matches_its_expected_state() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/state");
    let cases = if_cli::golden::case_dirs(&dir).unwrap();
    assert!(cases.len() >= 10, "lifecycle cases in {}", dir.display());
    for case in &cases {
        let work = tempfile::tempdir().unwrap();
        let actual = if_cli::golden::state_case(case, work.path()).unwrap();
        let mut expected = BTreeMap::new();
        read_tree(&case.join("expected"), "", &mut expected);
        assert_eq!(actual, expected, "{}", case.display());
        // A second run at a later time changes nothing.
        let later = if_model::timestamp::Timestamp::parse("2024-12-20T10:00:00Z").unwrap();
        let args = if_cli::cmd::analyze::all_at(later, &case.join("src"));
        let (changes, written) = if_cli::cmd::analyze::execute(work.path(), &args).unwrap();
        assert!(
            written.is_empty() && changes.is_empty(),
            "{}: {changes:?} {written:?}",
            case.display()
        );
    }
}
