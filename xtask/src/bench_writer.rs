//! The Kargo writer's speed, inside `cargo xtask bench scale`: the resources of the first
//! [`SAMPLE`] slots of a synthetic factory are built once, then written one thread, one
//! document at a time, by the Kargo writer (`if_kargo::writer`, what `generate` uses) and by
//! serde-saphyr (the generic path it replaced); it prints both rates in MB/s and fails when
//! the two differ in a single byte.

use std::path::Path;
use std::time::Instant;

use if_cli::cmd::generate::{Options, prepare_root};
use if_kargo::writer::{self, WriteError};

/// Resources written per measurement (bounds the memory the sample takes).
const SAMPLE: usize = 20_000;

/// What one measurement found.
pub struct Rates {
    /// Resources written.
    pub resources: usize,
    /// Bytes written (the same both ways).
    pub bytes: usize,
    /// The Kargo writer, MB/s.
    pub writer_mb_s: f64,
    /// serde-saphyr, MB/s.
    pub reference_mb_s: f64,
    /// Documents the writer refused (written by serde-saphyr in `generate`).
    pub refused: usize,
}

/// Measures the writer on the factory at `root`.
pub fn measure(root: &Path) -> Result<Rates, String> {
    let prepared = prepare_root(root, &Options::default()).map_err(|e| e.to_string())?;
    let resources: Vec<_> = prepared
        .slots
        .iter()
        .take(SAMPLE)
        .map(|s| if_kargo::build::resource(prepared.config(), s).resource)
        .collect();
    let started = Instant::now();
    let mut ours = Vec::with_capacity(resources.len());
    let mut refused = 0;
    for r in &resources {
        match writer::to_string(r) {
            Ok(text) => ours.push(Some(text)),
            Err(WriteError::Unsupported(_)) => {
                refused += 1;
                ours.push(None);
            }
            Err(e) => return Err(format!("{}/{}: {e}", r.kind(), r.name())),
        }
    }
    let writer_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let theirs = resources
        .iter()
        .map(serde_saphyr::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let reference_s = started.elapsed().as_secs_f64();
    let mut bytes = 0;
    for ((r, a), b) in resources.iter().zip(&ours).zip(&theirs) {
        if let Some(a) = a
            && a != b
        {
            return Err(format!(
                "{}/{}: the Kargo writer and serde-saphyr differ:\n{a}\n---\n{b}",
                r.kind(),
                r.name()
            ));
        }
        bytes += b.len();
    }
    let mb = bytes as f64 / 1e6;
    Ok(Rates {
        resources: resources.len(),
        bytes,
        writer_mb_s: mb / writer_s.max(1e-9),
        reference_mb_s: mb / reference_s.max(1e-9),
        refused,
    })
}
