//! The floor of `cargo xtask bench scale`: the time to read every input file of a synthetic
//! factory once, the least any command that reads them all can take.
//!
//! The input files are every regular file under the factory's directory as `synth` wrote
//! it, before any command ran: `image-factory/images.yaml`, `kargo.yaml`, every state file
//! under `state/`, and every Dockerfile under `services/`. Reading them is: listing each
//! directory (`read_dir`, the entry's own type, no `stat`), then for each file one `open`
//! and reads to its end into a fresh buffer (`std::fs::read`), the bytes dropped. Nothing is
//! parsed. It runs in this process with a warm page cache (the factory was just written),
//! like the commands measured after it.
//!
//! Two floors: serially (one thread lists and reads everything, the floor issue 22 measured
//! and holds commands to: "no slower than merely reading the inputs"), and with the listed
//! files split among [`threads`] threads (what parallel reads can reach on this machine).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// The files of a factory and the best times to read them.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Regular files read.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Best wall time, seconds, one thread (listing included).
    pub serial_s: f64,
    /// Best wall time, seconds, [`Floor::threads`] threads (listing, on one, included).
    pub parallel_s: f64,
    /// Threads of the parallel floor.
    pub threads: usize,
}

/// The threads of the parallel floor: the cores this process may use.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Measures both floors of the factory in `dir`, best of `runs` each.
pub fn measure(dir: &Path, runs: usize) -> Result<Floor, String> {
    let threads = threads();
    let mut serial_s = f64::INFINITY;
    let mut parallel_s = f64::INFINITY;
    let mut seen = (0, 0);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let files = list(dir)?;
        let bytes = read_serial(&files)?;
        serial_s = serial_s.min(started.elapsed().as_secs_f64());
        seen = (files.len(), bytes);

        let started = Instant::now();
        let files = list(dir)?;
        let bytes = read_parallel(&files, threads)?;
        parallel_s = parallel_s.min(started.elapsed().as_secs_f64());
        if (files.len(), bytes) != seen {
            return Err(format!(
                "floor: the factory changed while it was read ({} files, {} bytes, then {} and {})",
                seen.0,
                seen.1,
                files.len(),
                bytes
            ));
        }
    }
    Ok(Floor {
        files: seen.0,
        bytes: seen.1,
        serial_s,
        parallel_s,
        threads,
    })
}

/// Every regular file under `dir`, from the directories' entry types (links are skipped:
/// synth writes none).
fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", d.display()))?;
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}

/// Reads every file once, in one thread; the bytes read.
fn read_serial(files: &[PathBuf]) -> Result<u64, String> {
    let mut total = 0u64;
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        total += bytes.len() as u64;
    }
    Ok(total)
}

/// Reads every file once, the list split into `threads` contiguous parts; the bytes read.
fn read_parallel(files: &[PathBuf], threads: usize) -> Result<u64, String> {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| s.spawn(move || read_serial(part)))
            .collect();
        let mut total = 0u64;
        for h in handles {
            total += h
                .join()
                .map_err(|_| "floor: a reading thread panicked".to_string())??;
        }
        Ok(total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_floors_read_every_regular_file_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("top.yaml"), "12345").unwrap();
        std::fs::write(dir.path().join("a/one"), "123").unwrap();
        std::fs::write(dir.path().join("a/b/two"), "1").unwrap();
        std::os::unix::fs::symlink(dir.path().join("top.yaml"), dir.path().join("link")).unwrap();
        let floor = measure(dir.path(), 2).unwrap();
        assert_eq!((floor.files, floor.bytes), (3, 9));
        assert!(floor.serial_s > 0.0 && floor.parallel_s > 0.0);
        assert!(floor.threads >= 1);
    }
}
