//! The Kargo writer (`if_kargo::writer`) against serde-saphyr, the generic YAML path it
//! replaced, on every golden case's resources (`testdata/kargo/<case>/`) and on the example
//! factory (`image-factory/`): each resource written both ways, byte for byte. A resource the
//! writer refuses must be one that serde-saphyr writes with a block scalar (`|` or `>`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use if_cli::cmd::generate::{Options, render_root};
use if_kargo::writer::{self, WriteError};

/// Every resource of the factory at `root`; returns how many were compared.
fn compare(root: &Path) -> usize {
    let rendered = render_root(root, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for g in &rendered.resources {
        let what = format!(
            "{}: {}/{}",
            root.display(),
            g.resource.kind(),
            g.resource.name()
        );
        let reference = serde_saphyr::to_string(&g.resource).expect(&what);
        match writer::to_string(&g.resource) {
            Ok(text) => assert_eq!(text, reference, "{what}"),
            Err(WriteError::Unsupported("block scalar")) => assert!(
                reference.contains(": |")
                    || reference.contains(": >")
                    || reference.contains("- |")
                    || reference.contains("- >"),
                "{what}: refused, but serde-saphyr wrote no block scalar:\n{reference}"
            ),
            Err(e) => panic!("{what}: {e}"),
        }
    }
    rendered.resources.len()
}

#[test]
fn every_golden_case_is_written_as_serde_saphyr_writes_it() {
    let root = common::workspace();
    let mut cases = 0;
    let mut resources = 0;
    for entry in std::fs::read_dir(root.join("testdata/kargo")).unwrap() {
        let case = entry.unwrap().path();
        if case.join("images.yaml").is_file() {
            cases += 1;
            resources += compare(&case);
        }
    }
    assert!(cases >= 5, "only {cases} golden cases found");
    assert!(resources > cases, "{resources} resources in {cases} cases");
}

#[test]
fn the_example_factory_is_written_as_serde_saphyr_writes_it() {
    let (_dir, factory) = common::example_factory();
    assert!(compare(&factory) > 3);
}
