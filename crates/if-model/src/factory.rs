//! A whole factory read from file contents (the caller reads the files): `images.yaml`, the
//! image state files and the base-image state files, with every problem found across them.

use std::collections::HashMap;
use std::convert::Infallible;

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

/// How many state files are parsed (in parallel) before their states are kept: only one
/// such chunk of parsed files stands beside the states kept so far, so a load never holds
/// two copies of every state. The result does not depend on it.
const CHUNK: usize = 1024;

/// Fewer state files than this are read on the calling thread.
const PARALLEL_FILES: usize = 64;

/// Reads every file and checks them together; returns what could be read and every problem.
/// State files are parsed in parallel ([`crate::par`]); the result does not depend on it.
pub fn load(files: &FactoryFiles) -> (Factory, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let enrollment = read_enrollment(files.images.as_ref(), &mut diags);
    let images = read_states(
        &files.image_states,
        |_, f| Ok::<_, Infallible>(parse(f.path.clone(), &f.text, state::parse_image)),
        IMAGE_CLAIM,
        &mut diags,
    );
    let bases = read_states(
        &files.base_states,
        |_, f| Ok::<_, Infallible>(parse(f.path.clone(), &f.text, state::parse_base)),
        BASE_CLAIM,
        &mut diags,
    );
    let (images, bases) = match (images, bases) {
        (Ok(images), Ok(bases)) => (images, bases),
        (Err(never), _) | (_, Err(never)) => match never {},
    };
    (
        Factory {
            enrollment,
            images,
            bases,
        },
        diags,
    )
}

/// [`load`] for a caller that reads the state files itself: `read` reads one of
/// `image_states` or `base_states` (in the same order as [`FactoryFiles`]) into the buffer
/// it is given, and gives the file's path and its text (borrowed from that buffer). Each
/// thread keeps one buffer for every file it reads, and each file is parsed by the thread
/// that read it as soon as it is read, so a factory of 100,000 files is never all in memory
/// as text and no file's text is copied. `images.yaml` is read first (in parallel parts
/// when it is large) and its text and tree dropped. The first error of `read` (in file
/// order) ends the load.
pub fn load_each<P: Sync, E: Send>(
    images: Option<SourceFile>,
    image_states: &[P],
    base_states: &[P],
    read: impl for<'b> Fn(&P, &'b mut Vec<u8>) -> Result<(String, &'b str), E> + Sync,
) -> Result<(Factory, Vec<Diagnostic>), E> {
    let mut diags = Vec::new();
    let enrollment = read_enrollment(images.as_ref(), &mut diags);
    drop(images);
    let images = read_states(
        image_states,
        |buf, p| read(p, buf).map(|(path, text)| parse(path, text, state::parse_image)),
        IMAGE_CLAIM,
        &mut diags,
    )?;
    let bases = read_states(
        base_states,
        |buf, p| read(p, buf).map(|(path, text)| parse(path, text, state::parse_base)),
        BASE_CLAIM,
        &mut diags,
    )?;
    Ok((
        Factory {
            enrollment,
            images,
            bases,
        },
        diags,
    ))
}

/// One state file's text parsed with `parse_state` (`state::parse_image` or `parse_base`).
fn parse<S>(path: String, text: &str, parse_state: ParseState<S>) -> Parsed<S> {
    let (s, d) = parse_state(text, &path);
    (path, s, d)
}

/// The enrollment of `images.yaml` (empty when there is none); its problems go to `diags`.
fn read_enrollment(file: Option<&SourceFile>, diags: &mut Vec<Diagnostic>) -> Enrollment {
    match file {
        Some(f) => {
            let (e, d) = enrollment::parse(&f.text, &f.path);
            diags.extend(d);
            e
        }
        None => Enrollment::new(enrollment::FileShape::List),
    }
}

/// What a state file claims, for [`read_states`]: what it is called in messages, and the
/// key no two files may share (none: the file claims nothing).
type Claim<S> = (&'static str, fn(&S) -> Option<String>);

/// An image state file claims its image's name.
const IMAGE_CLAIM: Claim<ImageState> = ("image", |s| Some(s.name.clone()));

/// A base-image state file claims its image's identity, when it has a reference.
const BASE_CLAIM: Claim<BaseImageState> = ("base image", |s| s.image_ref().map(|r| r.identity()));

/// The states of `files` (each parsed by `parse_one`, given its thread's buffer), in file
/// order, each file's problems
/// appended to `diags` in file order. A state whose claim ([`Claim`]) an earlier file already
/// made is left out, with an error naming both files. Files are parsed in parallel a
/// [`CHUNK`] at a time and their states moved straight into a list sized for all of them
/// (no second full list, no list grown by doubling). The first error of `parse_one`, in
/// file order, ends the reading.
fn read_states<T: Sync, S: Send, E: Send>(
    files: &[T],
    parse_one: impl Fn(&mut Vec<u8>, &T) -> Result<Parsed<S>, E> + Sync,
    (what, key): Claim<S>,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<(String, S)>, E> {
    let mut kept: Vec<(String, S)> = Vec::with_capacity(files.len());
    // The claims made so far: key to the claiming file's place in `kept`.
    let mut claimed: HashMap<String, usize> = HashMap::with_capacity(files.len());
    // Each file's claim is made by the thread that parsed it: only the bookkeeping of the
    // claims is left to this one while the others wait.
    let parse_and_claim = |buf: &mut Vec<u8>, file: &T| {
        parse_one(buf, file).map(|(path, s, d)| {
            let claim = s.as_ref().and_then(key);
            (path, s, d, claim)
        })
    };
    for chunk in files.chunks(CHUNK) {
        for parsed in crate::par::map_with(chunk, PARALLEL_FILES, Vec::new, parse_and_claim) {
            let (path, s, d, claim) = parsed?;
            diags.extend(d);
            let Some(s) = s else { continue };
            if let Some(k) = claim {
                if let Some((first, _)) = claimed.get(&k).and_then(|&i| kept.get(i)) {
                    diags.push(Diagnostic::error(
                        &path,
                        Pos { line: 1, col: 1 },
                        format!(
                            "{what} `{k}` is claimed by two state files: {first} and {path}; keep one"
                        ),
                    ));
                    continue;
                }
                claimed.insert(k, kept.len());
            }
            kept.push((path, s));
        }
    }
    kept.shrink_to_fit();
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        }
    }

    /// A factory whose state files span several chunks, with claims made twice across chunk
    /// boundaries and files that are not state files.
    fn files() -> FactoryFiles {
        let n = 2 * CHUNK + 7;
        let mut image_states: Vec<SourceFile> = (0..n)
            .map(|i| file(&format!("s/{i:05}.yaml"), &format!("name: img-{i}\n")))
            .collect();
        image_states[CHUNK + 3] = file("s/dup-near.yaml", "name: img-1\n");
        image_states[n - 1] = file("s/dup-far.yaml", "name: img-2\n");
        image_states[5] = file("s/bad.yaml", "name: [\n");
        image_states[CHUNK] = file("s/noname.yaml", "status: archived\n");
        let base = "fullImage: docker.io/library/node:22\n";
        let base_states = vec![
            file("b/a.yaml", &format!("name: a\n{base}")),
            file("b/b.yaml", "name: b\n"),
            file("b/c.yaml", &format!("name: c\n{base}")),
        ];
        FactoryFiles {
            images: Some(file("images.yaml", "- name: a\n  registry: [\n")),
            image_states,
            base_states,
        }
    }

    #[test]
    fn claims_across_chunks_are_found_in_file_order() {
        let (f, diags) = load(&files());
        assert_eq!(f.images.len(), 2 * CHUNK + 7 - 4);
        assert_eq!(f.bases.len(), 2);
        let files: Vec<&str> = diags.iter().map(|d| d.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "images.yaml",
                "s/bad.yaml",
                "s/noname.yaml",
                "s/dup-near.yaml",
                "s/dup-far.yaml",
                "b/b.yaml",
                "b/c.yaml",
            ]
        );
        assert!(
            diags[3]
                .message
                .contains("s/00001.yaml and s/dup-near.yaml")
        );
        assert!(diags[6].message.contains("b/a.yaml and b/c.yaml"));
    }

    /// What a reader of files gives: `f` read into the thread's buffer (left longer by a
    /// longer file before it, which must not show).
    fn through_buffer<'b>(f: &SourceFile, buf: &'b mut Vec<u8>) -> (String, &'b str) {
        buf.resize(buf.len().max(f.text.len() + 40), b'#');
        buf[..f.text.len()].copy_from_slice(f.text.as_bytes());
        let text = std::str::from_utf8(&buf[..f.text.len()]).unwrap();
        (f.path.clone(), text)
    }

    #[test]
    fn loading_file_by_file_gives_what_loading_at_once_gives() {
        let all = files();
        let (want, want_diags) = load(&all);
        let (got, got_diags) = load_each(
            all.images.clone(),
            &all.image_states,
            &all.base_states,
            |f, buf| Ok::<_, ()>(through_buffer(f, buf)),
        )
        .unwrap();
        assert_eq!(got_diags, want_diags);
        assert_eq!(got.enrollment, want.enrollment);
        assert_eq!(got.images, want.images);
        assert_eq!(got.bases, want.bases);
    }

    #[test]
    fn the_first_read_error_in_file_order_ends_the_load() {
        let all = files();
        let got = load_each(None, &all.image_states, &all.base_states, |f, buf| {
            if f.path.ends_with("9.yaml") || f.path.starts_with("b/") {
                Err(f.path.clone())
            } else {
                Ok(through_buffer(f, buf))
            }
        });
        assert_eq!(got.err().as_deref(), Some("s/00009.yaml"));
    }
}
