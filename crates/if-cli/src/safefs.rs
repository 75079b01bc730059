//! Files of the factory opened so that no path leads outside it: state files, their
//! directories and Dockerfiles must be regular files and real directories, never symbolic
//! links (a link committed by a pull request would make the bot read a file of the runner
//! into state, or write state over one); files are opened without following links and
//! without blocking (a FIFO is refused, not waited on), and read up to a size cap; new files
//! are written to a temporary file created exclusively, under a unique name, in the target
//! directory, then renamed over the target.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::exit::CliError;

/// Largest Dockerfile read, local or fetched: the forge client's cap on fetched files.
pub const MAX_DOCKERFILE_BYTES: u64 = if_forge::MAX_FILE_BYTES;

/// Largest state or enrollment file read.
pub const MAX_STATE_BYTES: u64 = 64 << 20;

/// Prefix and suffix of the temporary files of [`replace`]: `.NAME.XXXXXX.tmp`.
const TMP_PREFIX: &str = ".";
/// See [`TMP_PREFIX`].
const TMP_SUFFIX: &str = ".tmp";

/// The refusal of a path that is a link.
pub fn symlink_error(path: &Path) -> CliError {
    CliError::Input(format!(
        "path: {} is a symlink (refused: state and Dockerfiles must be regular files inside \
         the factory); nothing was changed",
        path.display()
    ))
}

/// The refusal of a path that is neither a regular file nor (where one is expected) a
/// directory.
fn irregular_error(path: &Path, want: &str) -> CliError {
    CliError::Input(format!(
        "path: {} is not a {want}; nothing was changed",
        path.display()
    ))
}

#[cfg(target_os = "linux")]
fn no_follow_flags() -> i32 {
    use nix::fcntl::OFlag;
    (OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits()
}

#[cfg(not(target_os = "linux"))]
fn no_follow_flags() -> i32 {
    0
}

/// Whether the last component of a path may be a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A link is refused (state files).
    Refuse,
    /// A link is followed (a Dockerfile, whose real path the caller checked).
    Follow,
}

#[cfg(target_os = "linux")]
fn non_blocking_flags() -> i32 {
    nix::fcntl::OFlag::O_NONBLOCK.bits()
}

#[cfg(not(target_os = "linux"))]
fn non_blocking_flags() -> i32 {
    0
}

/// Opens the regular file `path` for reading without following a link; `Ok(None)` when it
/// does not exist.
pub fn open_regular(path: &Path) -> Result<Option<File>, CliError> {
    open_file(path, Links::Refuse)
}

/// Opens the regular file `path` for reading, without blocking (a FIFO or a device is
/// refused, not waited on); `Ok(None)` when it does not exist.
pub fn open_file(path: &Path, links: Links) -> Result<Option<File>, CliError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = match links {
        Links::Refuse => no_follow_flags(),
        Links::Follow => non_blocking_flags(),
    };
    if links == Links::Refuse && cfg!(not(target_os = "linux")) {
        // Without O_NOFOLLOW, the link is looked for first.
        if let Ok(m) = std::fs::symlink_metadata(path)
            && m.file_type().is_symlink()
        {
            return Err(symlink_error(path));
        }
    }
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // ELOOP: O_NOFOLLOW met a link.
        Err(e) if e.raw_os_error() == Some(40) => return Err(symlink_error(path)),
        Err(source) => {
            return Err(CliError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let meta = file.metadata().map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(irregular_error(path, "regular file"));
    }
    Ok(Some(file))
}

/// Reads the regular file `path` (see [`open_regular`]), at most `cap` bytes: a longer file
/// is refused. `Ok(None)` when it does not exist.
pub fn read_capped(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, CliError> {
    read_file(path, cap, Links::Refuse)
}

/// [`read_capped`], links followed or not.
pub fn read_file(path: &Path, cap: u64, links: Links) -> Result<Option<Vec<u8>>, CliError> {
    let Some(file) = open_file(path, links)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| CliError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(CliError::Input(format!(
            "{}: larger than {cap} bytes (refused)",
            path.display()
        )));
    }
    Ok(Some(bytes))
}

/// The first size of a [`read_listed`] buffer: larger than any state file the tool writes.
const LISTED_BUFFER: usize = 64 << 10;

/// Reads the file `path`, which a directory listing said is a regular file, into `buf` (a
/// buffer the caller keeps from file to file), at most `cap` bytes; returns how many bytes
/// it holds (`buf[..n]`). One `open` (a link is still refused: `O_NOFOLLOW`; a FIFO put
/// there since the listing is not waited on: `O_NONBLOCK`) and reads to the end, no `stat`;
/// the buffer is zeroed only when it grows, so a buffer kept across files costs nothing
/// per file. A file missing since the listing is an error, as is a longer file.
pub fn read_listed(path: &Path, cap: u64, buf: &mut Vec<u8>) -> Result<usize, CliError> {
    let read_error = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = if cfg!(target_os = "linux") {
        use std::os::unix::fs::OpenOptionsExt as _;
        match OpenOptions::new()
            .read(true)
            .custom_flags(no_follow_flags())
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(40) => return Err(symlink_error(path)),
            Err(e) => return Err(read_error(e)),
        }
    } else {
        open_regular(path)?.ok_or_else(|| read_error(std::io::ErrorKind::NotFound.into()))?
    };
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    if buf.is_empty() {
        buf.resize(LISTED_BUFFER.min(cap.saturating_add(1)), 0);
    }
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled > cap {
                return Err(CliError::Input(format!(
                    "{}: larger than {cap} bytes (refused)",
                    path.display()
                )));
            }
            let grown = buf.len().saturating_mul(2).min(cap.saturating_add(1));
            buf.resize(grown.max(filled + 1), 0);
        }
        let into = buf.get_mut(filled..).unwrap_or_default();
        match file.read(into) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e)),
        }
    }
    if filled > cap {
        return Err(CliError::Input(format!(
            "{}: larger than {cap} bytes (refused)",
            path.display()
        )));
    }
    Ok(filled)
}

/// Checks that `dir` is a real directory (or absent), not a link or another kind of file.
pub fn check_dir(dir: &Path) -> Result<(), CliError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(symlink_error(dir)),
        Ok(m) if !m.is_dir() => Err(irregular_error(dir, "directory")),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(CliError::Read {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Checks every directory from `root` (included) down to `dir` (a path inside it).
pub fn check_dirs_under(root: &Path, dir: &Path) -> Result<(), CliError> {
    check_dir(root)?;
    let Ok(rel) = dir.strip_prefix(root) else {
        return check_dir(dir);
    };
    let mut at = root.to_path_buf();
    for part in rel.components() {
        at.push(part);
        check_dir(&at)?;
    }
    Ok(())
}

/// A new temporary file in `dir` for replacing `path`, created exclusively (it cannot be a
/// link planted in advance) under a unique name.
pub fn temp_for(path: &Path) -> Result<(PathBuf, File), CliError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{TMP_PREFIX}{name}."))
        .suffix(TMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|source| CliError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    let (file, tmp_path) = tmp.keep().map_err(|e| CliError::Write {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok((tmp_path, file))
}

/// Writes `contents` to `path` through [`temp_for`] and a rename (the directory exists): a
/// killed run leaves the old file or the new one, never a part of either (no fsync: the
/// factory is in git, a lost machine loses nothing that a rerun does not redo).
pub fn replace(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    let tmp = stage(path, contents)?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        CliError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes `contents` to a new temporary file beside `path` (the directory exists) and
/// returns it: the first half of [`replace`], for writes that must land together
/// ([`replace_all`]).
pub fn stage(path: &Path, contents: &[u8]) -> Result<PathBuf, CliError> {
    use std::io::Write as _;
    let (tmp, mut file) = temp_for(path)?;
    file.write_all(contents).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        CliError::Write {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(tmp)
}

/// The journal of a set of writes under way: in `state/`, one line per file, `TEMP\tFILE`
/// (paths relative to `state/`). Written once every temporary file is complete and removed
/// once every rename is done, so a run killed between the two leaves it for the next run
/// holding the lock to finish ([`finish_journal`]).
pub const JOURNAL: &str = ".image-factory-writes";

/// Writes each `(path, contents)` under `state` (paths relative to it) so that they land
/// together: every temporary file first (a failure removes them all and changes nothing),
/// then the journal, then the renames. A run killed before the journal changed nothing; one
/// killed after it is completed by the next locked run. One file is written as [`replace`].
pub fn replace_all(state: &Path, writes: &[(&str, &[u8])]) -> Result<(), CliError> {
    if let [(path, contents)] = writes {
        return replace(&state.join(path), contents);
    }
    let staged: Vec<Result<PathBuf, CliError>> = if_model::par::map(writes, |(path, contents)| {
        stage(&state.join(path), contents)
    });
    if let Some(i) = staged.iter().position(Result::is_err) {
        for tmp in staged.iter().flatten() {
            let _ = std::fs::remove_file(tmp);
        }
        return match staged.into_iter().nth(i) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        };
    }
    let pairs: Vec<(PathBuf, PathBuf)> = staged
        .into_iter()
        .flatten()
        .zip(writes)
        .map(|(tmp, (path, _))| (tmp, state.join(path)))
        .collect();
    let mut journal = String::new();
    for ((tmp, _), (path, _)) in pairs.iter().zip(writes) {
        let name = tmp
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        journal.push_str(&format!("{}\t{path}\n", dir.join(&*name).display()));
    }
    if let Err(e) = replace(&state.join(JOURNAL), journal.as_bytes()) {
        for (tmp, _) in &pairs {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    for (tmp, path) in &pairs {
        std::fs::rename(tmp, path).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
    }
    std::fs::remove_file(state.join(JOURNAL)).map_err(|source| CliError::Write {
        path: state.join(JOURNAL),
        source,
    })
}

/// Completes the writes a killed run left in `state`'s journal (call it holding the
/// factory's lock, before [`remove_stale_temps`]): renames each temporary file still there
/// onto its file, then removes the journal. A line that is not a temporary file of
/// `images/` or `base-images/` beside its own `*.yaml` (the journal is a file in the
/// factory, so untrusted) is skipped. Returns how many files it completed.
pub fn finish_journal(state: &Path) -> usize {
    let journal = state.join(JOURNAL);
    let Ok(Some(bytes)) = read_capped(&journal, MAX_STATE_BYTES) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut n = 0;
    for line in text.lines() {
        let Some((tmp, path)) = line.split_once('\t') else {
            continue;
        };
        if !journal_pair_ok(tmp, path) {
            continue;
        }
        let (tmp, path) = (state.join(tmp), state.join(path));
        let regular = std::fs::symlink_metadata(&tmp).is_ok_and(|m| m.file_type().is_file());
        if regular && std::fs::rename(&tmp, &path).is_ok() {
            n += 1;
        }
    }
    let _ = std::fs::remove_file(&journal);
    n
}

/// A journal line's paths: `DIR/.NAME.yaml.XXXXXX.tmp` and `DIR/NAME.yaml`, `DIR` being
/// `images` or `base-images`, `NAME` without a separator.
fn journal_pair_ok(tmp: &str, path: &str) -> bool {
    let split = |p: &str| -> Option<(String, String)> {
        let (dir, name) = p.split_once('/')?;
        let ok = matches!(dir, "images" | "base-images")
            && !name.is_empty()
            && !name.contains(['/', '\\', '\0'])
            && name != ".."
            && name != ".";
        ok.then(|| (dir.to_string(), name.to_string()))
    };
    let (Some((td, tn)), Some((pd, pn))) = (split(tmp), split(path)) else {
        return false;
    };
    td == pd
        && pn.ends_with(".yaml")
        && is_temp_name(&tn)
        && tn.starts_with(&format!("{TMP_PREFIX}{pn}."))
}

/// Whether `name` is one of our temporary files (`.NAME.XXXXXX.tmp`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX) && name.len() > 5
}

/// Removes the temporary files a killed run left in `dir` (call it holding the factory's
/// lock: no other run can be writing them). Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let plain = e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink());
        if plain && is_temp_name(&name) && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A run killed after its journal and before its last rename is completed by the next
    /// locked run; a journal line pointing outside `images/`/`base-images/` is ignored.
    #[test]
    fn a_journal_left_by_a_killed_run_is_completed_and_hostile_lines_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        for d in ["images", "base-images"] {
            std::fs::create_dir_all(state.join(d)).unwrap();
        }
        std::fs::write(state.join("images/a.yaml"), "old a\n").unwrap();
        // Two files written together land together, and no journal stays behind.
        replace_all(
            &state,
            &[
                ("images/a.yaml", b"a 1\n"),
                ("base-images/b.yaml", b"b 1\n"),
            ],
        )
        .unwrap();
        assert_eq!(
            std::fs::read(state.join("images/a.yaml")).unwrap(),
            b"a 1\n"
        );
        assert_eq!(
            std::fs::read(state.join("base-images/b.yaml")).unwrap(),
            b"b 1\n"
        );
        assert!(!state.join(JOURNAL).exists());
        // What a run killed after its journal and its first rename leaves behind.
        let done = stage(&state.join("images/a.yaml"), b"a 2\n").unwrap();
        std::fs::rename(&done, state.join("images/a.yaml")).unwrap();
        let left = stage(&state.join("base-images/b.yaml"), b"b 2\n").unwrap();
        let outside = dir.path().join("outside.yaml");
        std::fs::write(&outside, "outside\n").unwrap();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        let journal = format!(
            "images/{}\timages/a.yaml\nbase-images/{}\tbase-images/b.yaml\n\
             base-images/{}\t../outside.yaml\nimages/../../x.tmp\timages/a.yaml\n",
            name(&done),
            name(&left),
            name(&left)
        );
        std::fs::write(state.join(JOURNAL), journal).unwrap();
        assert_eq!(finish_journal(&state), 1);
        assert_eq!(
            std::fs::read(state.join("images/a.yaml")).unwrap(),
            b"a 2\n"
        );
        assert_eq!(
            std::fs::read(state.join("base-images/b.yaml")).unwrap(),
            b"b 2\n"
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"outside\n");
        assert!(!state.join(JOURNAL).exists());
        assert_eq!(finish_journal(&state), 0);
        assert!(!journal_pair_ok(".b.yaml.x.tmp", "b.yaml"));
        assert!(!journal_pair_ok(
            "images/.b.yaml.x.tmp",
            "base-images/b.yaml"
        ));
        assert!(!journal_pair_ok("images/.c.yaml.x.tmp", "images/b.yaml"));
        assert!(journal_pair_ok("images/.b.yaml.x.tmp", "images/b.yaml"));
    }

    #[test]
    fn links_fifos_and_big_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("outside.yaml");
        std::fs::write(&target, "secret: 1\n").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = read_capped(&link, 100).unwrap_err().to_string();
        assert!(e.contains("is a symlink"), "{e}");
        assert_eq!(read_capped(&target, 100).unwrap().unwrap(), b"secret: 1\n");
        assert!(read_capped(&target, 3).is_err());
        assert!(read_capped(&dir.path().join("none"), 3).unwrap().is_none());
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = read_capped(&fifo, 100).unwrap_err().to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        let e = check_dir(&link).unwrap_err().to_string();
        assert!(e.contains("is a symlink"), "{e}");
    }

    #[test]
    fn listed_files_are_read_whole_into_a_kept_buffer_and_links_refused() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.yaml");
        std::fs::write(&small, "name: a\n").unwrap();
        let big = dir.path().join("big.yaml");
        let text = "x".repeat(3 * LISTED_BUFFER + 5);
        std::fs::write(&big, &text).unwrap();
        let mut buf = Vec::new();
        let n = read_listed(&small, 1 << 20, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"name: a\n");
        let n = read_listed(&big, 1 << 20, &mut buf).unwrap();
        assert_eq!(&buf[..n], text.as_bytes());
        // The grown buffer is kept; a shorter file after a longer one is read exactly.
        let n = read_listed(&small, 1 << 20, &mut buf).unwrap();
        assert_eq!(&buf[..n], b"name: a\n");
        let e = read_listed(&big, 100, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 100 bytes"), "{e}");
        let n = read_listed(&small, 8, &mut Vec::new()).unwrap();
        assert_eq!(n, 8);
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&small, &link).unwrap();
        let e = read_listed(&link, 100, &mut buf).unwrap_err().to_string();
        assert!(e.contains("is a symlink"), "{e}");
        assert!(read_listed(&dir.path().join("gone.yaml"), 100, &mut buf).is_err());
    }

    #[test]
    fn a_planted_temp_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        // The old fixed temporary name, planted as a link.
        std::os::unix::fs::symlink(&victim, state.join("a.yaml.tmp")).unwrap();
        replace(&state.join("a.yaml"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(state.join("a.yaml")).unwrap(),
            "new"
        );
        let mut names: Vec<String> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.yaml", "a.yaml.tmp"]);
        assert_eq!(remove_stale_temps(&state), 0);
        std::fs::write(state.join(".a.yaml.x1Y2z3.tmp"), "half").unwrap();
        assert_eq!(remove_stale_temps(&state), 1);
    }
}
