//! A whole factory read from file contents (the caller reads the files): `images.yaml`, the
//! image state files and the base-image state files, with every problem found across them.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::enrollment::{self, Enrollment};
use crate::state::{self, BaseImageState, ImageState};
use crate::yaml::Pos;

/// One file: its path as the user should see it, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path for messages (and for writing back).
    pub path: String,
    /// The text.
    pub text: String,
}

/// The files of a factory, as read by the caller.
#[derive(Debug, Clone, Default)]
pub struct FactoryFiles {
    /// `images.yaml`.
    pub images: Option<SourceFile>,
    /// `state/images/*.yaml`, sorted by path.
    pub image_states: Vec<SourceFile>,
    /// `state/base-images/*.yaml`, sorted by path.
    pub base_states: Vec<SourceFile>,
}

/// A factory as read: the enrollment and every state file that could be read.
#[derive(Debug, Clone)]
pub struct Factory {
    /// The enrollment.
    pub enrollment: Enrollment,
    /// Image states with the path they came from.
    pub images: Vec<(String, ImageState)>,
    /// Base-image states with the path they came from.
    pub bases: Vec<(String, BaseImageState)>,
}

/// Reads every file and checks them together; returns what could be read and every problem.
pub fn load(files: &FactoryFiles) -> (Factory, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let enrollment = match &files.images {
        Some(f) => {
            let (e, d) = enrollment::parse(&f.text, &f.path);
            diags.extend(d);
            e
        }
        None => Enrollment {
            images: Vec::new(),
            shape: enrollment::FileShape::List,
        },
    };
    let mut images = Vec::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for f in &files.image_states {
        let (s, d) = state::parse_image(&f.text, &f.path);
        diags.extend(d);
        let Some(s) = s else { continue };
        if let Some(first) = claimed.get(&s.name) {
            diags.push(Diagnostic::error(
                &f.path,
                Pos { line: 1, col: 1 },
                format!(
                    "image `{}` is claimed by two state files: {first} and {}; keep one",
                    s.name, f.path
                ),
            ));
            continue;
        }
        claimed.insert(s.name.clone(), f.path.clone());
        images.push((f.path.clone(), s));
    }
    let mut bases = Vec::new();
    let mut identities: BTreeMap<String, String> = BTreeMap::new();
    for f in &files.base_states {
        let (s, d) = state::parse_base(&f.text, &f.path);
        diags.extend(d);
        let Some(s) = s else { continue };
        if let Some(identity) = s.image_ref().map(|r| r.identity()) {
            if let Some(first) = identities.get(&identity) {
                diags.push(Diagnostic::error(&f.path, Pos { line: 1, col: 1 }, format!(
                    "base image `{identity}` is claimed by two state files: {first} and {}; keep one", f.path
                )));
                continue;
            }
            identities.insert(identity, f.path.clone());
        }
        bases.push((f.path.clone(), s));
    }
    (
        Factory {
            enrollment,
            images,
            bases,
        },
        diags,
    )
}
