//! Runners of the data-driven golden cases under `testdata/`, shared by `cargo xtask
//! generate` (which writes the expectations) and the tests (which compare with them).

use std::collections::BTreeMap;
use std::path::Path;

use if_model::timestamp::Timestamp;

pub mod timeline;

use crate::cmd::analyze;
use crate::exit::CliError;

/// The sub-directories of `dir`, sorted: the cases of a golden suite (shared by `cargo xtask
/// generate` and the golden tests, so both see the same cases).
pub fn case_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The time every lifecycle case runs at.
pub const STATE_CASE_NOW: &str = "2024-12-11T10:00:00Z";

/// Runs one `testdata/state/<case>`: copies `before/` into `work`, applies the case's
/// `images.yaml`, runs `analyze --all`, and returns the expected tree: every file under
/// `state/` (relative path → text) plus `changes.txt`.
pub fn state_case(case: &Path, work: &Path) -> Result<BTreeMap<String, String>, CliError> {
    copy_tree(&case.join("before"), work)?;
    let after = case.join("images.yaml");
    if after.exists() {
        let text = std::fs::read_to_string(&after).map_err(|source| CliError::Read {
            path: after.clone(),
            source,
        })?;
        crate::load::write_atomic(&work.join("images.yaml"), &text)?;
    }
    let now = Timestamp::parse(STATE_CASE_NOW).map_err(|e| CliError::Input(e.to_string()))?;
    // Some cases remove every image on purpose: they run as with `--allow-empty`.
    crate::load::allow_empty(true);
    let (changes, _) = analyze::execute(work, &analyze::all_at(now, &case.join("src")))?;
    let mut tree = BTreeMap::new();
    collect(&work.join("state"), "state", &mut tree)?;
    tree.insert(
        "changes.txt".to_string(),
        changes.iter().map(|c| format!("{c}\n")).collect(),
    );
    Ok(tree)
}

/// The time the example factory's state is generated at.
pub const EXAMPLE_NOW: &str = "2026-11-01T00:00:00Z";

/// Analyzes a copy (in `work`) of the repository's example factory `repo/image-factory`
/// with the Dockerfiles of `repo` and returns its state files (relative path → text).
pub fn example_state(repo: &Path, work: &Path) -> Result<BTreeMap<String, String>, CliError> {
    copy_tree(&repo.join("image-factory"), work)?;
    let now = Timestamp::parse(EXAMPLE_NOW).map_err(|e| CliError::Input(e.to_string()))?;
    analyze::execute(work, &analyze::all_at(now, repo))?;
    let mut tree = BTreeMap::new();
    collect(&work.join("state"), "state", &mut tree)?;
    Ok(tree)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), CliError> {
    let read = |source| CliError::Read {
        path: from.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(to).map_err(|source| CliError::Write {
        path: to.to_path_buf(),
        source,
    })?;
    for entry in std::fs::read_dir(from).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let Some(name) = path.file_name() else {
            continue;
        };
        let target = to.join(name);
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|source| CliError::Write {
                path: target.clone(),
                source,
            })?;
        }
    }
    Ok(())
}

fn collect(dir: &Path, rel: &str, tree: &mut BTreeMap<String, String>) -> Result<(), CliError> {
    let read = |source| CliError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry.map_err(read)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let sub = format!("{rel}/{name}");
        if path.is_dir() {
            collect(&path, &sub, tree)?;
        } else {
            let text = std::fs::read_to_string(&path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?;
            tree.insert(sub, text);
        }
    }
    Ok(())
}
