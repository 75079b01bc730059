//! `check --dry-run` in `cargo xtask bench scale`, against a loopback registry
//! ([`crate::bench_registry`]: Debian's `docker-registry` on 127.0.0.1 behind a local token
//! server).
//!
//! The synthetic factory is made with every registry host mapped to that registry
//! (`synth --registry`), so everything `check` watches (the base images, the external
//! images, the managed images with dependents: `if_kargo::monitor::plan`, what `check`
//! itself asks) is a repository there. For each watch one tag is pushed (the watch's own
//! tag, or for a watch that picks from the tag list the first of [`CANDIDATES`] it would
//! pick), as an empty OCI index: one `PUT` per watch, no blobs. At most [`MAX_PUSH`] are
//! pushed (the first ones, in the plan's order): the rest are not found (one `HEAD` each,
//! recorded as lookup failures, which `--exit-zero` lets pass), and the report says so.
//!
//! `check --dry-run --exit-zero` then looks every watch up (`--concurrency`
//! [`CONCURRENCY`]), writes nothing, and its JSON report gives the requests and the token
//! requests per registry; the bench prints requests per image and token requests beside the
//! wall time and peak RSS. Every synthetic digest differs from the registry's, so each base
//! image is found updated: the worst case, where the attestations of each new base digest
//! are read too.

use std::path::Path;
use std::time::Instant;

use if_testkit::registry::push::OCI_INDEX;

use crate::bench_measure::Measured;
use crate::bench_registry::{CheckRun, Loopback};
use crate::bench_scale_json::{secs, thousands};

/// The command's name in the table.
pub const NAME: &str = "check --dry-run";
/// The most watches given a manifest (pushing is one `PUT` each, a few milliseconds).
pub const MAX_PUSH: usize = 20_000;
/// `check --concurrency` unless `bench scale --check-concurrency` says: check's default.
pub const CONCURRENCY: u16 = 8;
/// The scopes one token request asks for at most (if-registry's batching).
const MAX_SCOPES: usize = 100;
/// The tags a watch that picks from the tag list is offered: one for each of synth's
/// `allowTags` (SemVer `^1\.\d+\.\d+$`, Lexical `^nightly-\d{8}$`, `^stable$`).
pub const CANDIDATES: [&str; 3] = ["1.0.0", "nightly-20261001", "stable"];
/// An empty OCI image index: a manifest with nothing to upload first.
const EMPTY_INDEX: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

/// What was pushed for `check`.
#[derive(Debug, Clone, Default)]
pub struct Pushed {
    /// Watches `check` asks about.
    pub watched: usize,
    /// Their repositories.
    pub repositories: usize,
    /// Watches that list tags first (SemVer, Lexical).
    pub tag_lists: usize,
    /// Watches of base images (their new digests' attestations are read).
    pub bases: usize,
    /// Watches given a manifest.
    pub pushed: usize,
    /// Seconds the pushes took.
    pub secs: f64,
}

/// The figures of `check --dry-run` beside its wall time and RSS.
#[derive(Debug, Clone)]
pub struct Figures {
    /// What was pushed.
    pub pushed: Pushed,
    /// The last run's report.
    pub run: CheckRun,
    /// `--concurrency`.
    pub concurrency: u16,
    /// The last run's CPU time, seconds (beside its wall time: what bounds it).
    pub cpu_s: f64,
}

/// The args after `--root DIR` of the measured `check`, `concurrency` lookups at a time.
pub fn args(now: &str, concurrency: u16) -> Vec<String> {
    [
        "--format",
        "json",
        "check",
        "--dry-run",
        "--exit-zero",
        "--now",
        now,
        "--concurrency",
        &concurrency.to_string(),
    ]
    .map(str::to_string)
    .to_vec()
}

/// What `check` watches on `addr`.
pub struct Watched {
    /// `(repository, tag)`, in the plan's order.
    pub pairs: Vec<(String, String)>,
    /// How many list tags first.
    pub tag_lists: usize,
    /// How many are base images.
    pub bases: usize,
}

/// What `check` asks about on the factory at `root` (every watch whose repository is on
/// `addr`).
pub fn watched(root: &Path, addr: &str) -> Result<Watched, String> {
    let (factory, _, _) = if_cli::load::load_factory(root).map_err(|e| e.to_string())?;
    let images = if_cli::load::images_path(root).display().to_string();
    let plan = if_kargo::monitor::plan(&factory, &images);
    drop(factory);
    let candidates = CANDIDATES.map(str::to_string);
    let prefix = format!("{addr}/");
    let mut w = Watched {
        pairs: Vec::new(),
        tag_lists: 0,
        bases: 0,
    };
    for m in &plan.monitors {
        let Some(repo) = m.repo_url.strip_prefix(&prefix) else {
            continue;
        };
        let Ok(tag) = if_kargo::select::select_tag(&m.selection, &candidates) else {
            continue;
        };
        w.pairs.push((repo.to_string(), tag));
        w.tag_lists += usize::from(if_kargo::select::needs_tag_list(&m.selection));
        w.bases += usize::from(m.prefix == if_kargo::monitor::BASE_PREFIX);
    }
    Ok(w)
}

/// Pushes an empty index for each of the first [`MAX_PUSH`] watches of the factory at
/// `root`; prints and gives what it did.
pub fn push(loopback: &Loopback, root: &Path) -> Result<Pushed, String> {
    let started = Instant::now();
    let watched = watched(root, loopback.addr())?;
    let planned = started.elapsed().as_secs_f64();
    let pairs: Vec<(&str, String)> = watched
        .pairs
        .iter()
        .take(MAX_PUSH)
        .map(|(r, t)| (r.as_str(), t.clone()))
        .collect();
    let started = Instant::now();
    loopback.push_each(&pairs, |pusher, repo, tag| {
        pusher.manifest(repo, tag, OCI_INDEX, EMPTY_INDEX.as_bytes());
    });
    let mut repositories: Vec<&str> = watched.pairs.iter().map(|(r, _)| r.as_str()).collect();
    repositories.sort_unstable();
    repositories.dedup();
    let pushed = Pushed {
        watched: watched.pairs.len(),
        repositories: repositories.len(),
        tag_lists: watched.tag_lists,
        bases: watched.bases,
        pushed: pairs.len(),
        secs: started.elapsed().as_secs_f64(),
    };
    println!(
        "  registry ({}, {}): {} watches (planned in {}), {} pushed in {}{}",
        loopback.addr(),
        loopback.label(),
        thousands(pushed.watched),
        secs(planned),
        thousands(pushed.pushed),
        secs(pushed.secs),
        if pushed.pushed < pushed.watched {
            format!(
                " (at most {}: the other {} are not found)",
                thousands(MAX_PUSH),
                thousands(pushed.watched - pushed.pushed)
            )
        } else {
            String::new()
        }
    );
    Ok(pushed)
}

/// Checks a run's report: every watch looked up, only the ones not pushed failed, nothing
/// written; its figures.
pub fn figures(pushed: &Pushed, concurrency: u16, m: &Measured) -> Result<Figures, String> {
    let run = CheckRun::parse(&m.stdout, m.wall_s)?;
    let missing = (pushed.watched - pushed.pushed) as u64;
    if run.checked != pushed.watched as u64 || run.failed != missing || run.written != 0 {
        return Err(format!(
            "check --dry-run: {} checked, {} failed, {} files written; expected {} checked, \
             {missing} failed (not pushed), none written",
            run.checked, run.failed, run.written, pushed.watched
        ));
    }
    Ok(Figures {
        pushed: pushed.clone(),
        run,
        concurrency,
        cpu_s: m.cpu_s,
    })
}

/// The figures' line under the command's row.
pub fn describe(f: &Figures) -> String {
    format!(
        "{} checked ({} not found), concurrency {}, CPU {} of {} wall, {:.3} requests per \
         image, {} token requests ({})",
        thousands(f.run.checked as usize),
        thousands(f.run.failed as usize),
        f.concurrency,
        secs(f.cpu_s),
        secs(f.run.secs),
        f.run.per_image(),
        f.run.token_requests,
        if f.run.per_registry.is_empty() {
            "none"
        } else {
            f.run.per_registry.as_str()
        }
    )
}

/// Whether `check`'s requests are what the design says, and the target as text: one
/// manifest `HEAD` per watch, one tag list before it for a watch that picks from the list,
/// one read of the attestations of each base image found with a new digest, and the token
/// requests, one per [`MAX_SCOPES`] repositories (one request carries many scopes) plus at
/// most one per worker (a worker that asks before the token covering its repository
/// arrived), and the first request's challenge.
pub fn judge(f: &Figures) -> (bool, String) {
    let p = &f.pushed;
    let tokens = p.repositories.div_ceil(MAX_SCOPES) as u64 + u64::from(f.concurrency);
    let requests = (p.watched + p.tag_lists + p.bases) as u64 + f.run.token_requests + 1;
    let ok = f.run.requests <= requests && f.run.token_requests <= tokens;
    let target = format!(
        "<= {:.3} req/image ({} watches + {} tag lists + {} base attestations + token \
         requests + 1), <= {tokens} token requests ({} repositories)",
        requests as f64 / p.watched.max(1) as f64,
        p.watched,
        p.tag_lists,
        p.bases,
        p.repositories
    );
    (ok, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_watch_of_a_mapped_factory_is_on_the_one_registry_with_a_tag_to_push() {
        let dir = tempfile::tempdir().unwrap();
        let addr = "127.0.0.1:5999";
        let shape = crate::synth::Shape {
            images: 200,
            bases: 40,
            depth: 4,
            registry: Some(addr.to_string()),
        };
        crate::synth::write(&shape, dir.path()).unwrap();
        let root = dir.path().join("image-factory");
        let (factory, _, _) = if_cli::load::load_factory(&root).unwrap();
        let images = if_cli::load::images_path(&root).display().to_string();
        let plan = if_kargo::monitor::plan(&factory, &images);
        assert!(
            plan.monitors
                .iter()
                .all(|m| m.repo_url.starts_with(&format!("{addr}/"))),
            "every watch on {addr}"
        );
        let w = watched(&root, addr).unwrap();
        assert_eq!(w.pairs.len(), plan.monitors.len(), "a tag for every watch");
        assert_eq!(w.bases, 40, "every base image is watched");
        // The external SemVer and Lexical images (i % 30 == 9 or 19) list tags.
        assert_eq!(w.tag_lists, 14);
        assert!(w.pairs.iter().any(|(_, t)| t == "1.0.0"));
        assert!(w.pairs.iter().any(|(_, t)| t == "nightly-20261001"));
        // The hot base image, mapped with Docker Hub's path.
        assert!(
            w.pairs
                .iter()
                .any(|(r, t)| r == "library/lang0" && t == "1.0-slim")
        );
    }
}
