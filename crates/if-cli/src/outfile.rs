//! A file produced a piece at a time and replaced only when its contents change: each piece
//! is compared with the file on disk as it arrives, and only from the first difference on is
//! a temporary file written beside it (the equal beginning copied from the old file), then
//! renamed over it. The whole contents are never in memory, an unchanged file is never
//! rewritten, and a run that fails leaves the old file as it was.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::exit::CliError;

/// What to do once the contents differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replace the file.
    Write,
    /// Only compare (`--check`): nothing is ever written.
    Compare,
}

/// A file being produced. Dropped before [`Replacement::finish`], it removes its temporary
/// file and leaves the old file untouched.
#[derive(Debug)]
pub struct Replacement {
    path: PathBuf,
    mode: Mode,
    /// The old file, read in step with the pieces while they are equal to it.
    existing: Option<BufReader<File>>,
    /// Bytes of the old file equal to every piece so far.
    matched: u64,
    /// Whether a piece differed from the old file (or there was none).
    differs: bool,
    /// The temporary file, once the contents differ (in [`Mode::Write`]).
    tmp: Option<(PathBuf, BufWriter<File>)>,
    /// Reused buffer for the old file's bytes.
    buf: Vec<u8>,
}

impl Replacement {
    /// Starts producing `path` (which need not exist yet).
    pub fn new(path: &Path, mode: Mode) -> Result<Self, CliError> {
        // The old file must be a regular file (not a link to one elsewhere).
        let existing =
            crate::safefs::open_regular(path)?.map(|f| BufReader::with_capacity(1 << 20, f));
        Ok(Replacement {
            path: path.to_path_buf(),
            mode,
            differs: false,
            existing,
            matched: 0,
            tmp: None,
            buf: Vec::new(),
        })
    }

    /// The next piece of the contents.
    pub fn push(&mut self, piece: &str) -> Result<(), CliError> {
        if piece.is_empty() {
            return Ok(());
        }
        if !self.differs {
            if self.next_equals(piece.as_bytes())? {
                self.matched += piece.len() as u64;
                return Ok(());
            }
            self.diverge()?;
        }
        if let Some((_, w)) = &mut self.tmp {
            w.write_all(piece.as_bytes())
                .map_err(|e| self.write_error(e))?;
        }
        Ok(())
    }

    /// Ends the contents: renames the new file over the old one when they differ (in
    /// [`Mode::Write`]). Returns whether they differed (`false`: the file was up to date).
    pub fn finish(mut self) -> Result<bool, CliError> {
        if !self.differs && !self.next_equals(&[])? {
            self.diverge()?;
        }
        let Some((tmp, w)) = self.tmp.take() else {
            return Ok(self.differs);
        };
        let done = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.write_error(e));
        }
        Ok(true)
    }

    /// Whether the old file's next `piece.len()` bytes are `piece` (for an empty piece:
    /// whether the old file has ended). Never, when there is no old file.
    fn next_equals(&mut self, piece: &[u8]) -> Result<bool, CliError> {
        let Some(r) = &mut self.existing else {
            return Ok(false);
        };
        // One byte more than the piece when it is empty, to see the end of the file.
        let want = piece.len().max(1);
        self.buf.resize(want, 0);
        let mut got = 0;
        while got < want {
            match r.read(&mut self.buf[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CliError::Read {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
        Ok(if piece.is_empty() {
            got == 0
        } else {
            self.buf[..got] == *piece
        })
    }

    /// The contents differ from the old file from here on: in [`Mode::Write`], starts the
    /// temporary file with the old file's equal beginning.
    fn diverge(&mut self) -> Result<(), CliError> {
        self.differs = true;
        self.existing = None;
        if self.mode == Mode::Compare {
            return Ok(());
        }
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| self.write_error(e))?;
        }
        // A unique name, created exclusively: a planted link is never followed.
        let (tmp, file) = crate::safefs::temp_for(&self.path)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        if self.matched > 0 {
            let old = crate::safefs::open_regular(&self.path)?
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound));
            let copied = old.and_then(|old| {
                std::io::copy(&mut old.take(self.matched), &mut w).and_then(|n| {
                    if n == self.matched {
                        Ok(())
                    } else {
                        Err(std::io::Error::other(
                            "the file changed while it was compared",
                        ))
                    }
                })
            });
            if let Err(e) = copied {
                drop(w);
                let _ = std::fs::remove_file(&tmp);
                return Err(self.write_error(e));
            }
        }
        self.tmp = Some((tmp, w));
        Ok(())
    }

    fn write_error(&self, source: std::io::Error) -> CliError {
        CliError::Write {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for Replacement {
    fn drop(&mut self) {
        if let Some((tmp, w)) = self.tmp.take() {
            drop(w);
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Produces `pieces` into `path` and returns whether it differed and the file after.
    fn produce(path: &Path, mode: Mode, pieces: &[&str]) -> (bool, Option<String>) {
        let mut r = Replacement::new(path, mode).unwrap();
        for p in pieces {
            r.push(p).unwrap();
        }
        let differed = r.finish().unwrap();
        (differed, std::fs::read_to_string(path).ok())
    }

    fn tmp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_a_new_file_and_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dist/out.yaml");
        let (differed, text) = produce(&path, Mode::Write, &["a\n", "b\n"]);
        assert!(differed);
        assert_eq!(text.as_deref(), Some("a\nb\n"));
        assert!(tmp_files(&dir.path().join("dist")).is_empty());
    }

    #[test]
    fn equal_contents_in_any_pieces_leave_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "abcdef").unwrap();
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        for pieces in [&["abcdef"][..], &["ab", "", "cd", "ef"], &["a", "bcdef"]] {
            assert_eq!(
                produce(&path, Mode::Write, pieces),
                (false, Some("abcdef".into()))
            );
        }
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        assert!(tmp_files(dir.path()).is_empty());
    }

    #[test]
    fn a_difference_anywhere_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        // Differs in the middle of the second piece, in a later piece, by being shorter, and
        // by being longer.
        for (old, pieces, new) in [
            ("abcdef", &["ab", "cX", "ef"][..], "abcXef"),
            ("abcdef", &["abc", "def", "g"], "abcdefg"),
            ("abcdef", &["abc", "de"], "abcde"),
            ("abc", &["abc", "def"], "abcdef"),
            ("abc", &["", "x"], "x"),
        ] {
            std::fs::write(&path, old).unwrap();
            assert_eq!(
                produce(&path, Mode::Write, pieces),
                (true, Some(new.to_string())),
                "{old:?} -> {pieces:?}"
            );
            assert!(tmp_files(dir.path()).is_empty());
        }
    }

    #[test]
    fn compare_mode_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        assert_eq!(produce(&path, Mode::Compare, &["x"]), (true, None));
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(
            produce(&path, Mode::Compare, &["ab", "d"]),
            (true, Some("abc".into()))
        );
        assert_eq!(
            produce(&path, Mode::Compare, &["ab", "c"]),
            (false, Some("abc".into()))
        );
        assert!(tmp_files(dir.path()).is_empty());
    }

    #[test]
    fn an_abandoned_replacement_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.yaml");
        std::fs::write(&path, "old").unwrap();
        let mut r = Replacement::new(&path, Mode::Write).unwrap();
        r.push("new contents").unwrap();
        let left = tmp_files(dir.path());
        assert!(
            left.len() == 1 && left[0].starts_with(".out.yaml."),
            "{left:?}"
        );
        drop(r);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(tmp_files(dir.path()).is_empty());
    }
}
