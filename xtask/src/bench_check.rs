//! `cargo xtask bench check`: `image-factory check` as a whole process over 1,000 base images
//! (100 repositories × 10 tags) on a local registry (Debian's `docker-registry` on
//! 127.0.0.1): wall time and requests per image for the first check (baselines), for a check
//! that finds 100 re-pushed tags, and for one that finds nothing; anonymous, then with Bearer
//! tokens from a local token server. The figures must match the design (one manifest request
//! per image; token requests shared across repositories: at most 2 per run for the 100
//! repositories of the one registry, one request carrying many scopes) or the benchmark
//! fails. Token requests per registry are printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::bench::{Figure, Report};
use crate::bench_registry::{CheckRun, Loopback};

const BENCH: &str = "check";
const REPOS: usize = 100;
const TAGS: usize = 10;
/// Base images per enrolled image.
const PER_IMAGE: usize = 5;
/// Every how many tags one is pushed again between the first and second check.
const REPUSH_EVERY: usize = 10;

/// Runs the benchmark (in release mode: see `crate::bench`).
pub fn run() -> Result<Report, String> {
    let binary = crate::bench::build_cli()?;
    let images = REPOS * TAGS;
    println!(
        "check bench: {images} base images ({REPOS} repositories x {TAGS} tags, OCI indexes) on docker-registry, {} enrolled images, concurrency 8",
        images / PER_IMAGE
    );
    println!(
        "  {:<28} {:>8} {:>9} {:>9} {:>10} {:>9} {:>8}",
        "run", "wall s", "images/s", "requests", "req/image", "token req", "updated"
    );
    let mut figures = scenario(&binary, false)?;
    figures.extend(scenario(&binary, true)?);
    let ok = figures.iter().all(|f| f.ok != Some(false));
    Ok(Report { figures, ok })
}

/// One registry (anonymous, or behind a token server), three checks; a figure for each.
fn scenario(binary: &Path, bearer: bool) -> Result<Vec<Figure>, String> {
    let work = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let Some(loopback) = Loopback::start(work.path(), bearer) else {
        let what = if bearer { "bearer" } else { "anonymous" };
        return Ok(vec![Figure::info(
            BENCH,
            what,
            "skipped (no docker-registry)",
        )]);
    };
    let repos: Vec<String> = (0..REPOS).map(|r| format!("bench/base{r:03}")).collect();
    let started = Instant::now();
    let pairs: Vec<(&str, String)> = repos
        .iter()
        .flat_map(|repo| (0..TAGS).map(move |t| (repo.as_str(), format!("{t}.0"))))
        .collect();
    push_parallel(&loopback, &pairs, "v1");
    let refs: Vec<String> = pairs
        .iter()
        .map(|(repo, tag)| format!("{}/{repo}:{tag}", loopback.addr()))
        .collect();
    let push_secs = started.elapsed().as_secs_f64();
    let root = write_factory(work.path(), &refs)?;
    let analyze = Command::new(binary)
        .arg("--root")
        .arg(&root)
        .args([
            "analyze",
            "--all",
            "--now",
            "2026-11-01T00:00:00Z",
            "--source-dir",
        ])
        .arg(work.path().join("src"))
        .output()
        .map_err(|e| format!("cannot run image-factory: {e}"))?;
    if !analyze.status.success() {
        return Err(format!(
            "analyze failed: {}",
            String::from_utf8_lossy(&analyze.stderr)
        ));
    }
    let label = loopback.label();
    println!(
        "  ({label}: pushed {} indexes in {push_secs:.1} s)",
        refs.len()
    );

    let env = loopback.credentials();
    let images = refs.len() as u64;
    // With tokens, the first request to the registry learns the scheme (401); one token
    // request asks for the scopes of every repository (a second one at most, when a worker
    // asked before the first took its scope).
    let (first_requests, tokens_per_run) = if bearer { (images + 1, 2) } else { (images, 0) };
    let mut figures = Vec::new();
    let first = check(binary, &root, &env, "2026-11-02T00:00:00Z")?;
    figures.push(judge(
        &first,
        &format!("{label}: first (baselines)"),
        first_requests,
        tokens_per_run,
        0,
    ));
    let again: Vec<(&str, String)> = pairs.iter().step_by(REPUSH_EVERY).cloned().collect();
    push_parallel(&loopback, &again, "v2");
    let updated = images / REPUSH_EVERY as u64;
    let second = check(binary, &root, &env, "2026-11-03T00:00:00Z")?;
    figures.push(judge(
        &second,
        &format!("{label}: {updated} re-pushed"),
        first_requests,
        tokens_per_run,
        updated,
    ));
    let third = check(binary, &root, &env, "2026-11-04T00:00:00Z")?;
    figures.push(judge(
        &third,
        &format!("{label}: nothing new"),
        first_requests,
        tokens_per_run,
        0,
    ));
    if third.written != 0 {
        println!(
            "  FAIL: a check that found nothing wrote {} files",
            third.written
        );
        figures.push(Figure::judged(
            BENCH,
            format!("{label}: files written when nothing is new"),
            third.written.to_string(),
            "0",
            false,
        ));
    }
    Ok(figures)
}

/// Pushes an OCI index (content from `version`) for each `(repository, tag)`.
fn push_parallel(loopback: &Loopback, pairs: &[(&str, String)], version: &str) {
    loopback.push_each(pairs, |pusher, repo, tag| {
        pusher.oci_index(repo, tag, &format!("{repo}:{tag} {version}"));
    });
}

/// `images.yaml` with one managed image per [`PER_IMAGE`] references, and their Dockerfiles
/// under `dir/src`; returns the factory root.
fn write_factory(dir: &Path, refs: &[String]) -> Result<PathBuf, String> {
    let io = |e: std::io::Error| format!("writing the factory: {e}");
    let root = dir.join("factory");
    std::fs::create_dir_all(&root).map_err(io)?;
    let mut yaml = String::from("images:\n");
    for (i, chunk) in refs.chunks(PER_IMAGE).enumerate() {
        let name = format!("app{i:04}");
        yaml.push_str(&format!(
            "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      provider: github\n      repo: acme/{name}\n      dockerfile: {name}/Dockerfile\n      workflow: build.yml\n"
        ));
        let mut dockerfile = String::new();
        for (s, r) in chunk.iter().enumerate() {
            dockerfile.push_str(&format!("FROM {r} AS stage{s}\nRUN true\n"));
        }
        let src = dir.join("src").join(&name);
        std::fs::create_dir_all(&src).map_err(io)?;
        std::fs::write(src.join("Dockerfile"), dockerfile).map_err(io)?;
    }
    std::fs::write(root.join("images.yaml"), yaml).map_err(io)?;
    Ok(root)
}

/// Prints a check's row; its figure, failed (with the reason printed) when the counts are
/// not the expected ones (`tokens`: the most token requests allowed).
fn judge(run: &CheckRun, label: &str, requests: u64, tokens: u64, updated: u64) -> Figure {
    let per_image = run.per_image();
    println!(
        "  {label:<28} {:>8.2} {:>9.0} {:>9} {:>10.3} {:>9} {:>8}",
        run.secs,
        run.checked as f64 / run.secs,
        run.requests,
        per_image,
        run.token_requests,
        run.updated
    );
    if !run.per_registry.is_empty() {
        println!("    token requests per registry: {}", run.per_registry);
    }
    let expected = (requests, tokens, updated, 0);
    let got = (run.requests, run.token_requests, run.updated, run.failed);
    let ok = (got.0, got.2, got.3) == (requests, updated, 0) && got.1 <= tokens;
    if !ok {
        println!(
            "  FAIL: (requests, token requests, updated, failed) = {got:?}, expected {expected:?} (token requests at most)"
        );
    }
    Figure::judged(
        BENCH,
        label,
        format!(
            "{:.2} s, {:.0} images/s, {per_image:.3} req/image, {} token req",
            run.secs,
            run.checked as f64 / run.secs,
            run.token_requests
        ),
        format!(
            "{requests} requests, at most {tokens} token requests, {updated} updated, 0 failed"
        ),
        ok,
    )
}

fn check(
    binary: &Path,
    root: &Path,
    env: &[(&str, String)],
    now: &str,
) -> Result<CheckRun, String> {
    let mut cmd = Command::new(binary);
    cmd.arg("--root")
        .arg(root)
        .args(["--format", "json", "check", "--now", now])
        // No credentials from the machine's own files.
        .env("DOCKER_CONFIG", root.join("no-docker-config"))
        .env("HOME", root.join("no-home"))
        .env("XDG_RUNTIME_DIR", root.join("no-run"))
        .env("XDG_CONFIG_HOME", root.join("no-config"))
        .env_remove("REGISTRY_AUTH_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run image-factory: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "check failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    CheckRun::parse(&out.stdout, secs)
}
