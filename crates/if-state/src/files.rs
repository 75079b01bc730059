//! The files a run writes: only those whose content changed, at their existing path, or at
//! `state/images/<name>.yaml` / `state/base-images/<slug>.yaml` for new ones.

use std::collections::BTreeMap;

use if_model::factory::Factory;
use if_model::yaml::WriteError;

use crate::analyze::{Analysis, file_stem};

/// The first line of every state file the tool writes.
pub const HEADER: &str = "# Written by image-factory: edit images.yaml, not this file.\n";

/// One file to write, relative to the factory root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `state/images/backstage.yaml`.
    pub path: String,
    /// The whole new text.
    pub contents: String,
    /// Whether the file is new.
    pub created: bool,
}

/// The writes that bring the factory's files to `analysis`: a file whose state did not change
/// is left alone, byte for byte. Sorted by path.
pub fn plan_writes(factory: &Factory, analysis: &Analysis) -> Result<Vec<Write>, WriteError> {
    let mut writes = Vec::new();
    let old_images: BTreeMap<&str, (&str, _)> = factory
        .images
        .iter()
        .map(|(p, s)| (s.name.as_str(), (p.as_str(), s)))
        .collect();
    for (name, state) in &analysis.images {
        let (path, created) = match old_images.get(name.as_str()) {
            Some((_, old)) if *old == state => continue,
            Some((path, _)) => (relative("images", path), false),
            None => (format!("state/images/{name}.yaml"), true),
        };
        writes.push(Write {
            path,
            contents: format!("{HEADER}{}", state.to_yaml()?),
            created,
        });
    }
    let old_bases: BTreeMap<String, (&str, _)> = factory
        .bases
        .iter()
        .filter_map(|(p, s)| Some((s.image_ref()?.identity(), (p.as_str(), s))))
        .collect();
    for (identity, state) in &analysis.bases {
        let (path, created) = match old_bases.get(identity) {
            Some((_, old)) if *old == state => continue,
            Some((path, _)) => (relative("base-images", path), false),
            None => (format!("state/base-images/{}.yaml", state.name), true),
        };
        writes.push(Write {
            path,
            contents: format!("{HEADER}{}", state.to_yaml()?),
            created,
        });
    }
    writes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(writes)
}

/// `<root>/state/<dir>/<file>.yaml` → `state/<dir>/<file>.yaml`.
fn relative(dir: &str, path: &str) -> String {
    let stem = file_stem(path).unwrap_or_default();
    format!("state/{dir}/{stem}.yaml")
}
