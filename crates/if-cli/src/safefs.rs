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
    use std::io::Write as _;
    let (tmp, mut file) = temp_for(path)?;
    let done = file
        .write_all(contents)
        .and_then(|()| std::fs::rename(&tmp, path));
    done.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        CliError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
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
