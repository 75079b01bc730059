//! `check --dry-run` in `cargo xtask bench scale`, against a loopback registry
//! ([`crate::bench_registry`]: Debian's `docker-registry` on 127.0.0.1 behind a local token
//! server).
//!
//! The synthetic factory is made with every registry host mapped to that registry
//! (`synth --registry`), so everything `check` watches (the base images, the external
//! images, the managed images with dependents: `if_kargo::monitor::plan`, what `check`
//! itself asks) is a repository there. Every watch is given one tag (the watch's own tag,
//! or for a watch that picks from the tag list the first of [`CANDIDATES`] it would pick)
//! pointing at an empty OCI index, so every lookup finds its tag, as a real factory's do.
//! Pushing 100,000 manifests over HTTP takes minutes, so the tags are written straight into
//! the registry's filesystem storage ([`write_storage`], in the layout the distribution
//! registry's filesystem driver reads: `registry/storage/paths.go` of
//! github.com/distribution/distribution v2.8.2, Debian's version); one tag is pushed over
//! HTTP first, and the files the registry wrote for it must be the ones written for the
//! others, byte for byte, or the bench fails.
//!
//! `check --dry-run --exit-zero` then looks every watch up (`--concurrency`
//! [`CONCURRENCY`]), writes nothing, and its JSON report gives the requests and the token
//! requests per registry; the bench prints requests per image and token requests beside the
//! wall time and peak RSS. Every synthetic digest differs from the registry's, so each base
//! image is found updated: the worst case, where the attestations of each new base digest
//! are read too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use if_model::digest::Digest;

use if_testkit::registry::push::OCI_INDEX;

use crate::bench_measure::Measured;
use crate::bench_registry::{CheckRun, Loopback};
use crate::bench_scale_json::{secs, thousands};

/// The command's name in the table.
pub const NAME: &str = "check --dry-run";
/// Threads writing the registry's storage.
const WRITE_THREADS: usize = 4;
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
    /// Watches given a manifest (all of them).
    pub pushed: usize,
    /// Seconds giving them their manifests took.
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

/// Gives every watch of the factory at `root` its tag, pointing at an empty index: the
/// first over HTTP, the others written into the registry's storage like it; prints and
/// gives what it did.
pub fn push(loopback: &Loopback, root: &Path) -> Result<Pushed, String> {
    let started = Instant::now();
    let watched = watched(root, loopback.addr())?;
    let planned = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let storage = loopback.registry.dir().join("storage");
    if let Some((repo, tag)) = watched.pairs.first() {
        loopback.push_each(&[(repo.as_str(), tag.clone())], |pusher, repo, tag| {
            pusher.manifest(repo, tag, OCI_INDEX, EMPTY_INDEX.as_bytes());
        });
        same_as_pushed(&storage, EMPTY_INDEX.as_bytes(), repo, tag)?;
    }
    write_storage(&storage, EMPTY_INDEX.as_bytes(), &watched.pairs)?;
    let mut repositories: Vec<&str> = watched.pairs.iter().map(|(r, _)| r.as_str()).collect();
    repositories.sort_unstable();
    repositories.dedup();
    let pushed = Pushed {
        watched: watched.pairs.len(),
        repositories: repositories.len(),
        tag_lists: watched.tag_lists,
        bases: watched.bases,
        pushed: watched.pairs.len(),
        secs: started.elapsed().as_secs_f64(),
    };
    println!(
        "  registry ({}, {}): {} watches in {} repositories (planned in {}), their tags \
         written in {}",
        loopback.addr(),
        loopback.label(),
        thousands(pushed.watched),
        thousands(pushed.repositories),
        secs(planned),
        secs(pushed.secs),
    );
    Ok(pushed)
}

/// `<storage>/docker/registry/v2`: the registry's root in the filesystem driver's
/// `rootdirectory` (`storagePathRoot`, `storagePathVersion`).
fn storage_root(storage: &Path) -> PathBuf {
    storage.join("docker").join("registry").join("v2")
}

/// A repository's directory: `<root>/repositories/<name>`.
fn repository_dir(storage: &Path, repo: &str) -> PathBuf {
    storage_root(storage).join("repositories").join(repo)
}

/// Writes the manifest `body` into the registry's filesystem storage at `storage`, and
/// tags it in every `(repository, tag)`, as a `PUT` of the manifest by tag does
/// (`registry/storage/paths.go`, `manifestStore.Put`, `tagStore.Tag`, distribution
/// v2.8.2): the blob at `blobs/sha256/<first 2 hex>/<hex>/data`; per repository, the
/// revision link `_manifests/revisions/sha256/<hex>/link`; per tag, `_manifests/tags/<tag>/
/// current/link` and the tag's index entry `_manifests/tags/<tag>/index/sha256/<hex>/link`.
/// A link holds the digest as text (`sha256:<hex>`, `blobStore.link`). A manifest without
/// layers links no blob under `_layers`.
pub fn write_storage(
    storage: &Path,
    body: &[u8],
    pairs: &[(String, String)],
) -> Result<(), String> {
    let digest = Digest::of_sha256_bytes(body);
    let hex = digest.hex();
    let root = storage_root(storage);
    let blob = root.join("blobs").join("sha256").join(&hex[..2]).join(hex);
    write_file(&blob.join("data"), body)?;
    let link = digest.as_str().as_bytes();
    let mut by_repo: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (repo, tag) in pairs {
        by_repo.entry(repo).or_default().push(tag);
    }
    let repos: Vec<(&str, Vec<&str>)> = by_repo.into_iter().collect();
    let chunk = repos.len().div_ceil(WRITE_THREADS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = repos
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<(), String> {
                    for (repo, tags) in part {
                        let manifests = repository_dir(storage, repo).join("_manifests");
                        let revision = manifests.join("revisions").join("sha256").join(hex);
                        write_file(&revision.join("link"), link)?;
                        for tag in tags {
                            let dir = manifests.join("tags").join(tag);
                            write_file(&dir.join("current").join("link"), link)?;
                            let entry = dir.join("index").join("sha256").join(hex);
                            write_file(&entry.join("link"), link)?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err("a storage writer panicked".into()))
        })
    })
}

/// Whether what [`write_storage`] writes for `repo-written:tag` is, file for file and byte
/// for byte, what the registry wrote for a `PUT` of `body` to `repo:tag` (the blob
/// included); the scratch repository is removed after.
pub fn same_as_pushed(storage: &Path, body: &[u8], repo: &str, tag: &str) -> Result<(), String> {
    let digest = Digest::of_sha256_bytes(body);
    let hex = digest.hex();
    let blob = storage_root(storage)
        .join("blobs")
        .join("sha256")
        .join(&hex[..2])
        .join(hex);
    let stored = std::fs::read(blob.join("data")).map_err(|e| format!("the pushed blob: {e}"))?;
    let scratch = format!("{repo}-written");
    write_storage(storage, body, &[(scratch.clone(), tag.to_string())])?;
    let (pushed, written) = (
        repository_files(storage, repo)?,
        repository_files(storage, &scratch)?,
    );
    std::fs::remove_dir_all(repository_dir(storage, &scratch)).map_err(|e| e.to_string())?;
    if stored != body || pushed != written {
        let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        return Err(format!(
            "the registry's files for a push of {repo}:{tag} are not the ones the bench writes \
             (registry/storage/paths.go): pushed {:?}, written {:?}",
            names(&pushed),
            names(&written)
        ));
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every file under a repository's directory but its uploads: (path inside it, content).
fn repository_files(storage: &Path, repo: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let dir = repository_dir(storage, repo);
    let mut files = Vec::new();
    let mut todo = vec![dir.clone()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", d.display()))?.path();
            let inside = path
                .strip_prefix(&dir)
                .map_err(|e| e.to_string())?
                .display()
                .to_string();
            if inside == "_uploads" {
                continue;
            }
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                files.push((inside, bytes));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Checks a run's report: every watch looked up, none failed (every tag is there), nothing
/// written; its figures.
pub fn figures(pushed: &Pushed, concurrency: u16, m: &Measured) -> Result<Figures, String> {
    let run = CheckRun::parse(&m.stdout, m.wall_s)?;
    let missing = (pushed.watched - pushed.pushed) as u64;
    if run.checked != pushed.watched as u64 || run.failed != missing || run.written != 0 {
        return Err(format!(
            "check --dry-run: {} checked, {} failed, {} files written; expected {} checked, \
             {missing} failed, none written",
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

    /// The tags the bench writes into a registry's storage are served by the registry
    /// itself: `HEAD` by tag gives the manifest's digest, `GET` by digest its bytes, the tag
    /// list lists them, and a tag not written is unknown; and the files written for a tag
    /// are the ones a `PUT` makes (distribution's `registry/storage/paths.go`).
    #[test]
    fn tags_written_into_storage_are_served_like_pushed_ones() {
        use if_testkit::registry::push::Pusher;
        let registry = if_testkit::registry_or_skip!(if_testkit::registry::RegistryAuth::None);
        let storage = registry.dir().join("storage");
        let body = EMPTY_INDEX.as_bytes();
        Pusher::new(&registry.addr, None).manifest("acme/pushed", "1.0", OCI_INDEX, body);
        same_as_pushed(&storage, body, "acme/pushed", "1.0").unwrap();
        assert!(
            same_as_pushed(&storage, body, "acme/never-pushed", "1.0").is_err(),
            "a repository nothing was pushed to has other files"
        );
        let pairs: Vec<(String, String)> = [
            ("library/lang0", "1.0-slim"),
            ("library/lang0", "stable"),
            ("org/deep/path", "1.0.0"),
        ]
        .map(|(r, t)| (r.to_string(), t.to_string()))
        .to_vec();
        write_storage(&storage, body, &pairs).unwrap();
        let client = if_registry::Client::new(if_registry::Config::default());
        let digest = Digest::of_sha256_bytes(body);
        for (repo, tag) in &pairs {
            let found =
                if_registry::resolve_digest(&client, &registry.image(&format!("{repo}:{tag}")))
                    .unwrap();
            assert_eq!(found.digest, digest, "{repo}:{tag}");
            assert_eq!(found.media_type.as_deref(), Some(OCI_INDEX));
            assert_eq!(found.requests, 1, "one HEAD: the digest header is there");
            let pusher = Pusher::new(&registry.addr, None);
            assert_eq!(pusher.manifest_size(repo, &digest), body.len());
        }
        let list = if_registry::list_tags(
            &client,
            &registry.image("library/lang0"),
            &if_registry::TagQuery::default(),
        )
        .unwrap();
        assert_eq!(list.tags, ["1.0-slim", "stable"]);
        let missing = if_registry::resolve_digest(&client, &registry.image("library/lang0:2.0"));
        assert!(
            matches!(missing, Err(if_registry::RegistryError::NotFound { .. })),
            "{missing:?}"
        );
    }

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
