//! What people and machines read (issue 20): the `status` table (a header, columns sized to
//! the content and to 100 columns when stdout is not a terminal, `--wide`, relative times
//! and `--utc`), and every JSON report's `schemaVersion`, camelCase keys and closed rebuild
//! states (`docs/json.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rebuild::{Factory, day, digest};
use common::{example_factory as example, run_in, stdout, workspace};
use serde_json::Value;

/// The committed state's last check of every base image.
const CHECKED: &str = "2026-11-01T00:00:00Z";

fn text(root: &std::path::Path, args: &[&str]) -> String {
    let out = run_in(root, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    stdout(&out)
}

fn json(root: &std::path::Path, args: &[&str]) -> Value {
    let all = [&["--format", "json"][..], args].concat();
    serde_json::from_str(&text(root, &all)).unwrap()
}

/// The character offset of each header word in `header`.
fn offsets(header: &str) -> Vec<usize> {
    ["NAME", "KIND", "REBUILD", "WHEN", "DIGEST", "IMAGE"]
        .iter()
        .map(|w| {
            header
                .find(w)
                .unwrap_or_else(|| panic!("no {w} in {header}"))
        })
        .collect()
}

#[test]
fn the_table_has_a_header_and_fits_100_columns_for_the_example_factory() {
    let (_dir, root) = example();
    let out = text(&root, &["status", "--now", "2026-11-04T00:00:00Z"]);
    let lines: Vec<&str> = out.lines().collect();
    let at = offsets(lines[0]);
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", lines[0]);
    // Not a terminal: the fixed width of 100 columns, every line within it.
    for l in &lines {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    // Every row's columns start where the header's do (a second line is indented).
    let rows: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .filter(|l| !l.starts_with("    "))
        .collect();
    assert_eq!(rows.len(), 12, "{out}");
    for row in &rows {
        for &col in &at[1..] {
            let before: String = row.chars().take(col).collect();
            assert!(
                before.ends_with("  ") && !row.chars().nth(col).unwrap().is_whitespace(),
                "column at {col} misaligned: {row}"
            );
        }
    }
    // What does not fit goes on an indented second line, cut with `…`.
    let uv = lines
        .iter()
        .position(|l| l.starts_with("uv-service "))
        .unwrap();
    assert!(
        lines[uv + 1].starts_with("    FROM python-3.12-slim"),
        "{out}"
    );
    assert!(lines[uv + 1].ends_with('…'), "{out}");
    let mesh = lines
        .iter()
        .find(|l| l.starts_with("mesh-consumer "))
        .unwrap();
    assert!(
        mesh.contains("  registry.gitlab.com/acme/p") && mesh.ends_with('…'),
        "{out}"
    );
}

#[test]
fn wide_shows_everything_on_one_line() {
    let (_dir, root) = example();
    let out = text(
        &root,
        &["status", "--wide", "--now", "2026-11-04T00:00:00Z"],
    );
    assert!(!out.lines().any(|l| l.starts_with("    ")), "{out}");
    assert!(!out.contains('…'), "{out}");
    let mesh = out
        .lines()
        .find(|l| l.starts_with("mesh-consumer "))
        .unwrap();
    assert!(
        mesh.contains("registry.gitlab.com/acme/platform/mesh-consumer")
            && mesh.ends_with("FROM uv-service"),
        "{mesh}"
    );
    let uv = out.lines().find(|l| l.starts_with("uv-service ")).unwrap();
    assert!(
        uv.ends_with("gcr.io-distroless-python3-debian12-latest; used by mesh-consumer"),
        "{uv}"
    );
    assert!(out.lines().any(|l| l.chars().count() > 100), "{out}");
}

#[test]
fn times_are_relative_to_now_or_exact_with_utc_in_whole_seconds() {
    let (_dir, root) = example();
    let base = |out: &str| {
        out.lines()
            .find(|l| l.starts_with("python-3.12-slim "))
            .unwrap()
            .to_string()
    };
    let later = text(&root, &["status", "--now", "2026-11-04T00:00:00Z"]);
    assert!(base(&later).contains("  3d ago  "), "{later}");
    let soon = text(&root, &["status", "--now", "2026-11-01T02:00:00Z"]);
    assert!(base(&soon).contains("  2h ago  "), "{soon}");
    let exact = text(&root, &["status", "--utc", "--now", "2026-11-04T00:00:00Z"]);
    assert!(base(&exact).contains(&format!("  {CHECKED}  ")), "{exact}");
    // The clock is read in whole seconds: no fraction in any time shown.
    let clock = text(&root, &["status", "--utc"]);
    let fraction = clock
        .as_bytes()
        .windows(4)
        .any(|w| w[0] == b':' && w[1].is_ascii_digit() && w[2].is_ascii_digit() && w[3] == b'.');
    assert!(!fraction && base(&clock).contains(CHECKED), "{clock}");

    // A pending rebuild counts down to its schedule ("in 3d"), then is due.
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
    let row = |now: &str| {
        let out = f.ok(&["status", "--now", now]);
        out.lines()
            .find(|l| l.starts_with("base-py "))
            .unwrap()
            .to_string()
    };
    assert!(
        row(&day(4)).contains("  pending     in 3d  "),
        "{}",
        row(&day(4))
    );
}

/// Every key of `v` (at any depth) that is not camelCase, with its path; the build inputs
/// (`inputs`) are the workflow's own names and are left out.
fn snake_keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k.contains('_') || k.contains('-') || k.starts_with(|c: char| c.is_uppercase()) {
                    out.push(format!("{path}.{k}"));
                }
                if k != "inputs" {
                    snake_keys(v, &format!("{path}.{k}"), out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| snake_keys(i, path, out)),
        _ => {}
    }
}

fn assert_versioned_camel(v: &Value, what: &str) {
    assert_eq!(v["schemaVersion"], 1, "{what}: {v}");
    let first = v.as_object().unwrap().keys().next().cloned();
    let mut bad = Vec::new();
    snake_keys(v, what, &mut bad);
    assert!(bad.is_empty(), "not camelCase: {bad:?}");
    assert!(first.is_some(), "{what}");
}

#[test]
fn every_json_report_has_a_schema_version_and_camel_case_keys() {
    let (dir, root) = example();
    for args in [
        &["status"][..],
        &["validate"][..],
        &["graph"][..],
        &["ref", "python:3.12-slim"][..],
        &["plan", "python:3.12-slim", "--now", "2026-11-04T00:00:00Z"][..],
        &["generate", "--check"][..],
    ] {
        let out = run_in(&root, &[&["--format", "json"][..], args].concat());
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {out:?}"));
        assert_versioned_camel(&v, &args.join(" "));
    }
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, "FROM alpine:3.20 AS a\nFROM a\n").unwrap();
    let v = json(&root, &["dockerfile", dockerfile.to_str().unwrap()]);
    assert_versioned_camel(&v, "dockerfile");
    assert_eq!(v["baseImages"], serde_json::json!(["alpine:3.20"]));

    // The engine's reports too, on a factory with a pending rebuild and a trigger.
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    let v = f.record("python:3.12-slim", &digest('b'), &day(0));
    assert_versioned_camel(&v, "record-update");
    let v = f.reconcile(&day(8), &[]);
    assert_versioned_camel(&v, "reconcile");
    assert_eq!(v["dryRun"], false, "{v}");
    assert_versioned_camel(&f.json(&["status"]), "status");
}

#[test]
fn rebuild_states_are_a_closed_enum_with_times_and_reasons_apart() {
    let f = Factory::setup();
    f.record("python:3.12-slim", &digest('a'), &day(-1));
    f.record("python:3.12-slim", &digest('b'), &day(0));
    let closed = [
        "monitoring",
        "pending",
        "due",
        "triggered",
        "failed",
        "archived",
    ];
    let rows = f.status_with(&["--now", &day(1)]);
    for (name, row) in &rows {
        match row["kind"].as_str().unwrap() {
            // A base image has no rebuild: `null`, never a placeholder.
            "base" => assert_eq!(row["rebuild"], Value::Null, "{name}: {row}"),
            _ => {
                let status = row["rebuild"]["status"].as_str().unwrap();
                assert!(closed.contains(&status), "{name}: {status}");
            }
        }
    }
    let r = &rows["base-py"]["rebuild"];
    assert_eq!(
        (&r["status"], &r["scheduledFor"], &r["causes"]),
        (
            &serde_json::json!("pending"),
            &serde_json::json!(day(7)),
            &serde_json::json!(1)
        )
    );
    assert!(
        r["reason"].as_str().unwrap().contains("python:3.12-slim"),
        "{r}"
    );
    assert_eq!(r["dueNow"], false);
    // At day 7 the same rebuild is due now; the status word stays the state file's.
    let row = &f.status_with(&["--now", &day(7)])["base-py"];
    assert_eq!(
        (&row["rebuild"]["status"], &row["rebuild"]["dueNow"]),
        (&serde_json::json!("pending"), &serde_json::json!(true))
    );
}

#[test]
fn the_readme_shows_the_table_as_it_is() {
    let (_dir, root) = example();
    let out = text(&root, &["status", "--now", "2026-11-04T00:00:00Z"]);
    let head: Vec<&str> = out.lines().take(7).collect();
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let block = format!("```text\n{}\n```", head.join("\n"));
    assert!(readme.contains(&block), "README.md should show:\n{block}");
}
