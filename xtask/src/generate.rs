//! `cargo xtask generate [--check]`: every generated file of the repository, written or checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::workspace_root;

/// The generated files: path relative to the workspace root, and the exact contents.
#[derive(Default)]
pub struct Outputs {
    files: BTreeMap<PathBuf, String>,
}

impl Outputs {
    /// Adds one generated file.
    pub fn add(&mut self, rel: impl Into<PathBuf>, contents: String) {
        self.files.insert(rel.into(), contents);
    }
}

/// Runs every generator; writes the files, or with `check` compares them. Returns whether
/// everything was up to date (always true when writing).
pub fn run(check: bool) -> Result<bool, String> {
    let root = workspace_root();
    let mut out = Outputs::default();
    collect(&root, &mut out)?;
    let mut stale = Vec::new();
    for (rel, contents) in &out.files {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if check {
            stale.push(rel.display().to_string());
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", rel.display());
        }
    }
    if check && !stale.is_empty() {
        eprintln!("stale generated files (run `cargo xtask generate`):");
        for s in &stale {
            eprintln!("  {s}");
        }
        return Ok(false);
    }
    println!(
        "{} generated files {}",
        out.files.len(),
        if check { "up to date" } else { "in place" }
    );
    Ok(true)
}

/// Every generator of the project, in one place.
fn collect(root: &Path, out: &mut Outputs) -> Result<(), String> {
    validate_goldens(root, out)?;
    crate::golden_dockerfile::collect(root, out)?;
    state_goldens(root, out)?;
    rebuild_goldens(root, out)?;
    example_state(root, out)?;
    crate::golden_kargo::collect(root, out)
}

/// `image-factory/state/`: the example factory analyzed (at a fixed time, so that the files
/// only change when the example's images.yaml or Dockerfiles do).
fn example_state(root: &Path, out: &mut Outputs) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("if-xtask-example-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let result = if_cli::golden::example_state(root, &work).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&work);
    for (path, text) in result? {
        out.add(Path::new("image-factory").join(path), text);
    }
    Ok(())
}

/// `testdata/state/<case>/expected/`: the state after `analyze --all` on the case.
fn state_goldens(root: &Path, out: &mut Outputs) -> Result<(), String> {
    for case in case_dirs(&root.join("testdata/state"))? {
        let work = std::env::temp_dir().join(format!("if-xtask-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        let tree = if_cli::golden::state_case(&case, &work).map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&work);
        let rel = case.strip_prefix(root).map_err(|e| e.to_string())?;
        for (path, text) in tree? {
            out.add(rel.join("expected").join(path), text);
        }
    }
    Ok(())
}

/// `testdata/rebuild/<case>/expected.txt`: the engine's decisions along the case's timeline.
fn rebuild_goldens(root: &Path, out: &mut Outputs) -> Result<(), String> {
    for case in case_dirs(&root.join("testdata/rebuild"))? {
        let path = case.join("timeline.txt");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let rendered =
            if_cli::golden::timeline::run(&text).map_err(|e| format!("{}: {e}", case.display()))?;
        let rel = case.strip_prefix(root).map_err(|e| e.to_string())?;
        out.add(rel.join("expected.txt"), rendered);
    }
    Ok(())
}

/// `testdata/validate/<case>/expected.txt`: what `validate` reports for the case's factory.
fn validate_goldens(root: &Path, out: &mut Outputs) -> Result<(), String> {
    for case in case_dirs(&root.join("testdata/validate"))? {
        let report = if_cli::load::validate_report(&case).map_err(|e| e.to_string())?;
        let rel = case.strip_prefix(root).map_err(|e| e.to_string())?;
        out.add(rel.join("expected.txt"), report);
    }
    Ok(())
}

/// The sub-directories of `dir`, sorted: the cases of a golden suite.
pub fn case_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if_cli::golden::case_dirs(dir).map_err(|e| e.to_string())
}
