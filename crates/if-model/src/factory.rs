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

/// One state file as parsed: its path, its state when it could be read, its problems.
type Parsed<S> = (String, Option<S>, Vec<Diagnostic>);

/// A state-file parser (`state::parse_image`, `state::parse_base`): text and path in.
type ParseState<S> = fn(&str, &str) -> (Option<S>, Vec<Diagnostic>);

/// Reads every file and checks them together; returns what could be read and every problem.
/// State files are parsed in parallel ([`crate::par`]); the result does not depend on it.
pub fn load(files: &FactoryFiles) -> (Factory, Vec<Diagnostic>) {
    let images = crate::par::map(&files.image_states, |f| parse(f, state::parse_image));
    let bases = crate::par::map(&files.base_states, |f| parse(f, state::parse_base));
    assemble(files.images.as_ref(), images, bases)
}

/// [`load`] for a caller that gives the state files one at a time: `read` gives the contents
/// of one of `image_states` or `base_states` (in the same order as [`FactoryFiles`]). Each
/// file is parsed as soon as it is read, in parallel, and its text dropped, so a factory of
/// 100,000 files is never all in memory as text. The first error of `read` ends the load.
pub fn load_each<P: Sync, E: Send>(
    images: Option<&SourceFile>,
    image_states: &[P],
    base_states: &[P],
    read: impl Fn(&P) -> Result<SourceFile, E> + Sync,
) -> Result<(Factory, Vec<Diagnostic>), E> {
    let images_parsed = crate::par::map(image_states, |p| {
        read(p).map(|f| parse(&f, state::parse_image))
    });
    let bases_parsed = crate::par::map(base_states, |p| {
        read(p).map(|f| parse(&f, state::parse_base))
    });
    let images_parsed = images_parsed.into_iter().collect::<Result<Vec<_>, E>>()?;
    let bases_parsed = bases_parsed.into_iter().collect::<Result<Vec<_>, E>>()?;
    Ok(assemble(images, images_parsed, bases_parsed))
}

/// One state file parsed with `parse_state` (`state::parse_image` or `parse_base`).
fn parse<S>(f: &SourceFile, parse_state: ParseState<S>) -> Parsed<S> {
    let (s, d) = parse_state(&f.text, &f.path);
    (f.path.clone(), s, d)
}

/// The enrollment and the parsed state files, checked together (no state claimed twice).
fn assemble(
    images_file: Option<&SourceFile>,
    image_states: Vec<Parsed<ImageState>>,
    base_states: Vec<Parsed<BaseImageState>>,
) -> (Factory, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let enrollment = match images_file {
        Some(f) => {
            let (e, d) = enrollment::parse(&f.text, &f.path);
            diags.extend(d);
            e
        }
        None => Enrollment::new(enrollment::FileShape::List),
    };
    let mut images = Vec::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for (path, s, d) in image_states {
        diags.extend(d);
        let Some(s) = s else { continue };
        if let Some(first) = claimed.get(&s.name) {
            diags.push(Diagnostic::error(
                &path,
                Pos { line: 1, col: 1 },
                format!(
                    "image `{}` is claimed by two state files: {first} and {path}; keep one",
                    s.name
                ),
            ));
            continue;
        }
        claimed.insert(s.name.clone(), path.clone());
        images.push((path, s));
    }
    let mut bases = Vec::new();
    let mut identities: BTreeMap<String, String> = BTreeMap::new();
    for (path, s, d) in base_states {
        diags.extend(d);
        let Some(s) = s else { continue };
        if let Some(identity) = s.image_ref().map(|r| r.identity()) {
            if let Some(first) = identities.get(&identity) {
                diags.push(Diagnostic::error(&path, Pos { line: 1, col: 1 }, format!(
                    "base image `{identity}` is claimed by two state files: {first} and {path}; keep one"
                )));
                continue;
            }
            identities.insert(identity, path.clone());
        }
        bases.push((path, s));
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
