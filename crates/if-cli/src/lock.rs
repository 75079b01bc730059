//! One writer at a time: a command that writes state holds an exclusive advisory lock
//! (`flock`, through `std::fs::File::lock`) on the factory root directory itself for its
//! whole run, so no lock file is ever written into the factory. A second writer waits for it
//! up to `--lock-timeout`, then gives up (exit 2) saying who holds it (the process that
//! `/proc/locks` names, on Linux). Read-only commands take no lock. The lock ends with the
//! process (the kernel releases it, also after `kill -9`), so a crashed run never blocks the
//! next, and the next writer removes the temporary files the crashed one left.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::exit::CliError;
use crate::safefs;

/// How often a waiting writer tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// The lock on a factory root, held until it is dropped.
#[derive(Debug)]
pub struct RootLock {
    dir: File,
}

impl Drop for RootLock {
    fn drop(&mut self) {
        let _ = self.dir.unlock();
    }
}

/// Takes the lock on `root` for a writer, waiting up to `timeout`. Stale temporary files of
/// a killed run are removed once it is held.
pub fn lock_root(root: &Path, timeout: Duration) -> Result<RootLock, CliError> {
    safefs::check_dir(root)?;
    let read_error = |source| CliError::Read {
        path: root.to_path_buf(),
        source,
    };
    let dir = File::open(root).map_err(read_error)?;
    let start = Instant::now();
    let mut announced = false;
    loop {
        match dir.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(read_error(e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(CliError::Input(format!(
                "{} is locked by another image-factory run ({}); gave up after {} s \
                 (--lock-timeout); nothing was changed",
                root.display(),
                holder(&dir),
                waited.as_secs()
            )));
        }
        if !announced {
            eprintln!(
                "waiting for the lock on {} ({})",
                root.display(),
                holder(&dir)
            );
            announced = true;
        }
        std::thread::sleep(POLL.min(timeout.saturating_sub(waited)));
    }
    // First the writes a killed run left half done (their temporary files are complete),
    // then the temporary files of runs killed before their journal.
    safefs::finish_journal(&root.join("state"));
    for sub in ["state/images", "state/base-images"] {
        safefs::remove_stale_temps(&root.join(sub));
    }
    Ok(RootLock { dir })
}

/// Who holds the lock on `dir`: the process `/proc/locks` lists for its inode.
fn holder(dir: &File) -> String {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = dir.metadata() else {
        return "holder unknown".to_string();
    };
    let dev = meta.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let pid = locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let at = f.iter().position(|w| *w == "FLOCK")?;
        (f.get(at + 4) == Some(&id.as_str()))
            .then(|| f.get(at + 3).map(|p| p.to_string()))
            .flatten()
    });
    match pid {
        Some(pid) => {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = crate::output::escape_controls(comm.trim());
            if comm.is_empty() {
                format!("held by pid {pid}")
            } else {
                format!("held by pid {pid}, {comm}")
            }
        }
        None => "holder unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_taker_waits_then_says_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_root(dir.path(), Duration::from_secs(1)).unwrap();
        let e = lock_root(dir.path(), Duration::ZERO)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is locked by another image-factory run"), "{e}");
        if Path::new("/proc/locks").exists() {
            assert!(
                e.contains(&format!("held by pid {}", std::process::id())),
                "{e}"
            );
        }
        drop(held);
        assert!(lock_root(dir.path(), Duration::ZERO).is_ok());
        // Nothing is written into the root.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_temporary_files_go_once_the_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("state/images");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(images.join(".a.yaml.Ab12Cd.tmp"), "half").unwrap();
        std::fs::write(images.join("a.yaml"), "whole").unwrap();
        let _held = lock_root(dir.path(), Duration::ZERO).unwrap();
        let names: Vec<_> = std::fs::read_dir(&images)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.yaml"]);
    }
}
