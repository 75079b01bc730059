//! Reading a factory from disk into [`FactoryFiles`] (the only place the CLI lists and reads
//! the factory's files).

use std::path::{Path, PathBuf};

use if_model::factory::{FactoryFiles, SourceFile};

use crate::exit::CliError;
use crate::safefs;

/// `images.yaml` inside the root.
pub fn images_path(root: &Path) -> PathBuf {
    root.join("images.yaml")
}

/// Where `source.dockerfile` paths of `images.yaml` resolve unless `--source-dir` says
/// otherwise: the top of the git work tree that holds the factory, else the directory that
/// holds the root. Found from the root's canonical path, so the answer is the same whatever
/// the working directory and however `--root` is spelled (`.`, `../image-factory`, a link).
pub fn source_root(root: &Path) -> Result<PathBuf, CliError> {
    let canonical = root.canonicalize().map_err(|source| CliError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    if let Some(top) = canonical.ancestors().find(|d| d.join(".git").exists()) {
        return Ok(top.to_path_buf());
    }
    Ok(canonical
        .parent()
        .map_or_else(|| canonical.clone(), Path::to_path_buf))
}

/// Reads `images.yaml` and every `*.yaml` under `state/images` and `state/base-images`
/// (sorted by name; missing state directories are simply empty).
pub fn read_factory(root: &Path) -> Result<FactoryFiles, CliError> {
    Ok(FactoryFiles {
        images: Some(read_images(root)?),
        image_states: read_all(&state_paths(root, "images")?)?,
        base_states: read_all(&state_paths(root, "base-images")?)?,
    })
}

/// What [`load_factory`] gives: the factory, every problem, how many state files were read.
pub type LoadedFactory = (
    if_model::factory::Factory,
    Vec<if_model::diag::Diagnostic>,
    usize,
);

/// A factory read from disk and parsed as it is read (no file text kept): the factory,
/// every problem, and how many state files were read. `images.yaml` is handed over, so its
/// text is dropped once it is parsed, before the state files are read.
pub fn load_factory(root: &Path) -> Result<LoadedFactory, CliError> {
    let loaded = load_checked(root)?;
    Ok((loaded.factory, loaded.diags, loaded.files))
}

/// [`load_factory`] without refusing anything: `validate`, which reports every problem.
pub fn load_unchecked(root: &Path) -> Result<LoadedFactory, CliError> {
    let loaded = load_all(root)?;
    Ok((loaded.factory, loaded.diags, loaded.files))
}

/// A state file that could not be read into the factory (unparsable, truncated, or a second
/// file claiming the same image): what it is about and why.
#[derive(Debug, Clone)]
pub struct Damaged {
    /// The image or base image the file is named after (its file stem).
    pub name: String,
    /// The file.
    pub path: String,
    /// Its problems, one `path:line:col: ...` line each.
    pub problems: Vec<String>,
}

/// [`load_factory`] with the state files that could not be read.
pub struct Loaded {
    /// What could be read.
    pub factory: if_model::factory::Factory,
    /// Every problem.
    pub diags: Vec<if_model::diag::Diagnostic>,
    /// How many state files there are.
    pub files: usize,
    /// The state files that could not be read.
    pub damaged: Vec<Damaged>,
}

/// Reads the factory (see [`load_factory`]) and finds the state files it could not read.
/// An error in `images.yaml` (an unknown key included: a typo'd `rebuildDealy` would
/// otherwise silently mean the default) ends the command, exactly as `validate` reports it.
pub fn load_checked(root: &Path) -> Result<Loaded, CliError> {
    let loaded = load_all(root)?;
    refuse_enrollment_errors(root, &loaded.diags)?;
    Ok(loaded)
}

/// Every error of `images.yaml` ends a command that reads enrollment (exit 2): unknown keys
/// and invalid values alike, one `path:line:col` line each, as `validate` prints them.
fn refuse_enrollment_errors(
    root: &Path,
    diags: &[if_model::diag::Diagnostic],
) -> Result<(), CliError> {
    let images = images_path(root).display().to_string();
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == if_model::diag::Severity::Error && d.file == images)
        .map(ToString::to_string)
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(CliError::Input(format!(
        "images.yaml has problems; nothing was changed:\n{}",
        errors.join("\n")
    )))
}

/// Reads the factory and finds the state files it could not read, refusing nothing.
fn load_all(root: &Path) -> Result<Loaded, CliError> {
    let images = read_images(root)?;
    let state = root.join("state");
    let image_files = state_files(root, "images")?;
    let base_files = state_files(root, "base-images")?;
    let (factory, diags) =
        if_model::factory::load_each(Some(images), &image_files, &base_files, |f, buf| {
            read_listed(&state.join(f), buf)
        })?;
    // The states kept are in file order, each under its file's path: walking them beside the
    // listed files finds the files left out without building or hashing every path again.
    let prefix = format!("{}{}", state.display(), std::path::MAIN_SEPARATOR);
    let mut damaged = Vec::new();
    for (files, kept) in [
        (
            &image_files,
            unread(&image_files, factory.images.iter().map(|(p, _)| p), &prefix),
        ),
        (
            &base_files,
            unread(&base_files, factory.bases.iter().map(|(p, _)| p), &prefix),
        ),
    ] {
        for i in kept {
            let Some(f) = files.get(i) else { continue };
            let path = state.join(f).display().to_string();
            let problems = diags
                .iter()
                .filter(|d| d.file == path && d.is_fatal())
                .map(ToString::to_string)
                .collect();
            let name = f
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            damaged.push(Damaged {
                name,
                path,
                problems,
            });
        }
    }
    Ok(Loaded {
        factory,
        diags,
        files: image_files.len() + base_files.len(),
        damaged,
    })
}

/// The places in `files` (relative to the state directory, in order) of the files whose
/// state was not kept: `kept` are the paths of the kept ones, in the same order, each
/// `prefix` (the state directory and a separator) and its file.
fn unread<'k>(
    files: &[PathBuf],
    kept: impl Iterator<Item = &'k String>,
    prefix: &str,
) -> Vec<usize> {
    let mut kept = kept.peekable();
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let is_next = kept.peek().is_some_and(|p| {
            p.strip_prefix(prefix)
                .is_some_and(|rest| rest == f.to_string_lossy())
        });
        if is_next {
            kept.next();
        } else {
            out.push(i);
        }
    }
    out
}

/// Whether `--allow-empty` was given: an `images.yaml` that enrolls nothing may archive
/// every image.
static ALLOW_EMPTY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets `--allow-empty` for this process.
pub fn allow_empty(allow: bool) {
    ALLOW_EMPTY.store(allow, std::sync::atomic::Ordering::Relaxed);
}

/// Reads `images.yaml`; when it is not there, says so and how to point at a factory
/// (`--root`), instead of a bare "not found".
fn read_images(root: &Path) -> Result<SourceFile, CliError> {
    let path = images_path(root);
    match read_source(&path) {
        Err(CliError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(no_factory(root))
        }
        other => other,
    }
}

/// Refuses to go on when `root` holds no `images.yaml` (a missing root included), saying how
/// to point at a factory.
pub fn check_factory(root: &Path) -> Result<(), CliError> {
    match std::fs::symlink_metadata(images_path(root)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(no_factory(root)),
        _ => Ok(()),
    }
}

fn no_factory(root: &Path) -> CliError {
    CliError::Input(format!(
        "no factory at {}: {} does not exist. Run in the directory that holds \
         `image-factory/`, or give the factory's directory with --root DIR (or \
         IMAGE_FACTORY_ROOT)",
        root.display(),
        images_path(root).display()
    ))
}

/// Reads one text file of the factory: a regular file, not a link (see [`safefs`]).
pub fn read_source(path: &Path) -> Result<SourceFile, CliError> {
    let read_error = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = safefs::read_capped(path, safefs::MAX_STATE_BYTES)?
        .ok_or_else(|| read_error(std::io::ErrorKind::NotFound.into()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })?;
    Ok(SourceFile {
        path: path.display().to_string(),
        text,
    })
}

/// Reads a state file that [`state_files`] listed into `buf` (see [`safefs::read_listed`]:
/// one `open`, no `stat`, the buffer kept from file to file): its path as shown and its
/// text, borrowed from `buf`.
fn read_listed<'b>(path: &Path, buf: &'b mut Vec<u8>) -> Result<(String, &'b str), CliError> {
    let n = safefs::read_listed(path, safefs::MAX_STATE_BYTES, buf)?;
    let text =
        std::str::from_utf8(buf.get(..n).unwrap_or_default()).map_err(|e| CliError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
    Ok((path.display().to_string(), text))
}

/// The `*.yaml` files of `state/<dir>`, sorted (none when the directory is missing).
fn state_paths(root: &Path, dir: &str) -> Result<Vec<PathBuf>, CliError> {
    let state = root.join("state");
    Ok(state_files(root, dir)?
        .iter()
        .map(|f| state.join(f))
        .collect())
}

/// The `*.yaml` files of `state/<dir>` as paths relative to `state/` (`images/a.yaml`),
/// sorted (none when the directory is missing). A factory has 100,000 of them, so the list
/// holds the short relative paths, not the full ones.
fn state_files(root: &Path, dir: &str) -> Result<Vec<PathBuf>, CliError> {
    let full = root.join("state").join(dir);
    safefs::check_dirs_under(root, &full)?;
    let entries = match std::fs::read_dir(&full) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CliError::Read { path: full, source }),
    };
    // The directory's own entry types say which are files (no stat per file: at 100,000
    // files that is a third of a second). A link or anything else than a regular file is
    // refused: a link would read a file from outside the factory into state.
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CliError::Read {
            path: full.clone(),
            source,
        })?;
        let name = entry.file_name();
        if Path::new(&name).extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let kind = entry
            .file_type()
            .or_else(|_| std::fs::symlink_metadata(entry.path()).map(|m| m.file_type()))
            .map_err(|source| CliError::Read {
                path: entry.path(),
                source,
            })?;
        if kind.is_symlink() {
            return Err(safefs::symlink_error(&entry.path()));
        }
        if !kind.is_file() {
            return Err(CliError::Input(format!(
                "path: {} is not a regular file; nothing was changed",
                entry.path().display()
            )));
        }
        names.push(name);
    }
    // One directory: sorting the names sorts the paths, without comparing path components.
    names.sort_unstable();
    Ok(names.iter().map(|n| Path::new(dir).join(n)).collect())
}

/// Reads `paths` in parallel, in order.
fn read_all(paths: &[PathBuf]) -> Result<Vec<SourceFile>, CliError> {
    if_model::par::map(paths, |p| read_source(p))
        .into_iter()
        .collect()
}

/// Every problem of the factory at `root`, rendered one per line as `path:line:col: ...`,
/// with paths relative to `root` (the golden format of `testdata/validate/`).
pub fn validate_report(root: &Path) -> Result<String, CliError> {
    let (_, diags, _) = crate::cmd::validate::check(root)?;
    let prefix = format!("{}/", root.display());
    Ok(diags
        .iter()
        .map(|d| {
            let line = d.to_string().replace(&prefix, "");
            format!("{line}\n")
        })
        .collect())
}

/// Reads the factory and checks it for a command that changes state: a damaged state file
/// ends the command (exit 1), so does any error of `images.yaml` (exit 2, unknown keys
/// included); nothing is written. Problems of state files the run rewrites (unknown keys,
/// bad values) are printed as warnings.
pub fn load_for_update(root: &Path) -> Result<if_model::factory::Factory, CliError> {
    let Loaded {
        factory,
        diags,
        damaged,
        ..
    } = load_all(root)?;
    refuse_damaged(&damaged)?;
    refuse_enrollment_errors(root, &diags)?;
    refuse_empty(root, &factory)?;
    for d in &diags {
        eprintln!("warning: {d}");
    }
    Ok(factory)
}

/// A writer refuses to run while a state file cannot be read: writing would drop what it
/// holds (a pending rebuild, its history) or re-enroll its image from scratch.
fn refuse_damaged(damaged: &[Damaged]) -> Result<(), CliError> {
    if damaged.is_empty() {
        return Ok(());
    }
    let mut lines = Vec::new();
    for d in damaged {
        if d.problems.is_empty() {
            lines.push(format!("{}: cannot be read", d.path));
        }
        lines.extend(d.problems.iter().cloned());
    }
    Err(CliError::Damaged(format!(
        "{} state file(s) cannot be read; nothing was changed. Restore them from git \
         (`git checkout HEAD -- FILE`) or repair them (`image-factory validate` shows every \
         problem), then run again:\n{}",
        damaged.len(),
        lines.join("\n")
    )))
}

/// An `images.yaml` that enrolls nothing while state exists would archive every image: done
/// only with `--allow-empty`.
fn refuse_empty(root: &Path, factory: &if_model::factory::Factory) -> Result<(), CliError> {
    let live = factory
        .images
        .iter()
        .filter(|(_, s)| s.status.as_deref() != Some("archived"))
        .count();
    if !factory.enrollment.images().is_empty()
        || live == 0
        || ALLOW_EMPTY.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(());
    }
    Err(CliError::Input(format!(
        "{} enrolls no image, but {live} image(s) have state: running would archive every one; \
         nothing was changed (pass --allow-empty to do it deliberately)",
        images_path(root).display()
    )))
}

/// Writes `contents` to `path` atomically: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent() {
        safefs::check_dirs_under(dir.parent().unwrap_or(dir), dir)?;
        std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    replace_file(path, contents)
}

/// [`write_atomic`] in a directory that exists: a unique temporary file created
/// exclusively beside `path`, then a rename.
fn replace_file(path: &Path, contents: &str) -> Result<(), CliError> {
    safefs::replace(path, contents.as_bytes())
}

/// Writes the state files whose content changed between the factory as read (`baseline`)
/// and `state`; returns their paths relative to `root`. Nothing is written when rendering any
/// file fails. After [`note_writes`], the files and the changes are also noted (the commit
/// of a run).
pub fn write_state(
    root: &Path,
    baseline: &if_state::Baseline,
    state: &if_state::Analysis,
) -> Result<Vec<String>, CliError> {
    let writes =
        if_state::plan_writes(baseline, state).map_err(|e| CliError::Input(e.to_string()))?;
    // Each directory is made once; the files (a record-update of a popular base image
    // rewrites thousands) are written in parallel.
    let dirs: std::collections::BTreeSet<PathBuf> = writes
        .iter()
        .filter_map(|w| root.join(&w.path).parent().map(Path::to_path_buf))
        .collect();
    for dir in &dirs {
        safefs::check_dirs_under(root, dir)?;
        std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
            path: dir.clone(),
            source,
        })?;
    }
    // Together (a kill -9 halfway leaves none or, after the next locked run, all of them):
    // a base image's new digest and its dependents' schedules are one change, and a rerun
    // that sees the digest already recorded schedules nothing.
    let state_dir = root.join("state");
    let under_state: Option<Vec<(&str, &[u8])>> = writes
        .iter()
        .map(|w| Some((w.path.strip_prefix("state/")?, w.contents.as_bytes())))
        .collect();
    match under_state {
        Some(files) => safefs::replace_all(&state_dir, &files)?,
        None => if_model::par::map(&writes, |w| replace_file(&root.join(&w.path), &w.contents))
            .into_iter()
            .collect::<Result<(), CliError>>()?,
    }
    if let Some(noted) = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_mut()
    {
        noted
            .files
            .extend(writes.iter().map(|w| root.join(&w.path)));
        // Files written one at a time before (`write_image`) count too: their changes are
        // in `state.changes`, noted here once, at the run's last write.
        if !noted.files.is_empty() {
            noted.changes.extend(state.changes.iter().cloned());
        }
    }
    Ok(writes.into_iter().map(|w| w.path).collect())
}

/// Writes image `name`'s state file now when it changed since `baseline` (which then counts
/// it as written): `reconcile` records each build's outcome as soon as the forge answers,
/// before it sends the next, so a crash re-sends at most the build in flight. Returns the
/// path written, relative to `root`.
pub fn write_image(
    root: &Path,
    baseline: &mut if_state::Baseline,
    state: &if_state::Analysis,
    name: &str,
) -> Result<Option<String>, CliError> {
    let write = if_state::plan_image_write(baseline, state, name)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let Some(w) = write else { return Ok(None) };
    write_atomic(&root.join(&w.path), &w.contents)?;
    if let Some(noted) = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_mut()
    {
        noted.files.push(root.join(&w.path));
    }
    Ok(Some(w.path))
}

/// What the state writes of this process wrote since [`note_writes`].
#[derive(Debug, Default, Clone)]
pub struct Written {
    /// The files written (`root` joined with the state path).
    pub files: Vec<PathBuf>,
    /// The changes, for people, of the writes that wrote something.
    pub changes: Vec<String>,
}

/// The writes noted since [`note_writes`] (`None`: not noting).
static WRITTEN: std::sync::Mutex<Option<Written>> = std::sync::Mutex::new(None);

/// Starts noting what [`write_state`] writes, forgetting anything noted before.
pub fn note_writes() {
    *WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Written::default());
}

/// What was noted since [`note_writes`] so far, with `changes` (the run's changes until now,
/// which the last write notes otherwise); noting goes on.
pub fn written_so_far(changes: &[String]) -> Written {
    let noted = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .unwrap_or_default();
    Written {
        files: noted.files,
        changes: changes.to_vec(),
    }
}

/// What was noted since [`note_writes`]; stops noting.
pub fn take_written() -> Written {
    WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_whose_state_was_not_kept_are_found_in_order() {
        let files: Vec<PathBuf> = ["images/a.yaml", "images/b.yaml", "images/c.yaml"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let kept = [
            "/f/state/images/a.yaml".to_string(),
            "/f/state/images/c.yaml".to_string(),
        ];
        assert_eq!(unread(&files, kept.iter(), "/f/state/"), [1]);
        assert_eq!(unread(&files, [].iter(), "/f/state/"), [0, 1, 2]);
        assert!(unread(&files[..1], kept[..1].iter(), "/f/state/").is_empty());
        // A kept path under another directory is not one of these files.
        assert_eq!(unread(&files[..1], kept[..1].iter(), "/g/state/"), [0]);
    }
}
