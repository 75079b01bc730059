//! Generated files of the Kargo emitter: `dist/image-factory.k8s.yaml` (the example factory
//! `image-factory/` with the state `cargo xtask generate` writes for it) and, for every
//! `testdata/kargo/<case>/` with an `images.yaml`, `expected.k8s.yaml` and `expected.txt`
//! (the warnings).

use std::path::{Path, PathBuf};

use if_cli::cmd::generate::{self, Options};
use if_model::factory::{FactoryFiles, SourceFile};

use crate::generate::Outputs;

/// Adds every Kargo output to `out`.
pub fn collect(root: &Path, out: &mut Outputs) -> Result<(), String> {
    dist(root, out)?;
    for case in cases(&root.join("testdata/kargo"))? {
        let (yaml, warnings) = generate::golden_case(&case).map_err(|e| e.to_string())?;
        let rel = case.strip_prefix(root).map_err(|e| e.to_string())?;
        out.add(rel.join("expected.k8s.yaml"), yaml);
        out.add(rel.join("expected.txt"), warnings);
    }
    Ok(())
}

/// `dist/image-factory.k8s.yaml`. The example's state is taken from the analysis xtask
/// writes in the same run (not from disk), so that one run brings both up to date.
fn dist(root: &Path, out: &mut Outputs) -> Result<(), String> {
    let factory = root.join("image-factory");
    let work = std::env::temp_dir().join(format!("if-xtask-kargo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let state = if_cli::golden::example_state(root, &work).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&work);
    let state = state?;
    let source = |rel: &str, text: &str| SourceFile {
        path: factory.join(rel).display().to_string(),
        text: text.to_string(),
    };
    let mut files = FactoryFiles {
        images: Some(read(&factory.join("images.yaml"))?),
        ..FactoryFiles::default()
    };
    for (rel, text) in &state {
        if rel.starts_with("state/images/") {
            files.image_states.push(source(rel, text));
        } else if rel.starts_with("state/base-images/") {
            files.base_states.push(source(rel, text));
        }
    }
    files.image_states.sort_by(|a, b| a.path.cmp(&b.path));
    files.base_states.sort_by(|a, b| a.path.cmp(&b.path));
    let config_path = generate::config_path(&factory);
    let config = if config_path.exists() {
        Some(read(&config_path)?)
    } else {
        None
    };
    let images = generate::images_file(&factory);
    let rendered = generate::render_files(&files, &images, config.as_ref(), &Options::default())
        .map_err(|e| e.to_string())?;
    out.add(generate::DEFAULT_OUT, rendered.text);
    Ok(())
}

fn read(path: &Path) -> Result<SourceFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(SourceFile {
        path: path.display().to_string(),
        text,
    })
}

/// The case directories under `dir` (those with an `images.yaml`), sorted.
fn cases(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut dirs = crate::generate::case_dirs(dir)?;
    dirs.retain(|p| p.join("images.yaml").is_file());
    Ok(dirs)
}
