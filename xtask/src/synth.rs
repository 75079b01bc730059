//! `cargo xtask synth`: a deterministic synthetic factory of any size, for the scale
//! benchmark and for trying the tool on something big.
//!
//! The layout is the example factory's: `DIR/image-factory/` (`images.yaml`, `kargo.yaml`,
//! `state/`) and the Dockerfiles under `DIR/services/` (the default `--source-dir`). Every
//! `i`-th choice comes from `i` alone, so the same arguments give the same bytes.
//!
//! * Image `i` is external when `i % 10 == 9` (SemVer, Lexical or Digest watch); otherwise
//!   managed, on GitHub for even `i`, on GitLab for odd `i`, in one of `N / 50` repositories.
//! * Internal chains: a managed image at level `L = (i / 10) % D > 0` is built on image
//!   `i - 10` (level `L - 1`), so chains are `D` long.
//! * Every managed Dockerfile has a build stage (an external builder, or its internal
//!   parent), a test stage built on it, and a runtime stage on an external base, with ARGs,
//!   `COPY --from`, `RUN --mount` and line continuations. Base image 0 (`hot`) is the runtime
//!   of every image with `i % 10 == 0`, so it has `N / 10` direct dependents.
//! * `M` base images spread over six registries (Docker Hub official and user images, GHCR,
//!   Quay, GCR, GitLab), or with `--registry HOST:PORT` all on that one registry (every
//!   host of the factory mapped to it, paths kept: what `bench scale` runs `check` against);
//!   some images pin theirs by digest; one Dockerfile in 997 (never a
//!   `hot` dependent) cannot be
//!   resolved (a failed discovery).
//! * State with histories, made by the engine itself: enrollment and discovery (with 1% more
//!   images, removed again so their state is archived), baselines for every image, a first
//!   round of base updates whose rebuilds were triggered, built and cascaded (some triggers
//!   failed), and a second round still pending.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use if_cli::cmd::analyze;
use if_model::duration::Duration;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;
use if_state::rebuild::{self, Policy};

mod names;

pub use names::{base_ref, base_text, digest, dockerfile_path, enrolled_repo, name, runtime_base};
use names::{
    builder_base, index_of, is_external, is_github, mix, parent, registry_repository, source_repo,
};

/// The shape of a synthetic factory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Enrolled images.
    pub images: usize,
    /// Distinct external base images.
    pub bases: usize,
    /// Longest internal chain (images built on images of the factory), at least 1.
    pub depth: usize,
    /// The registry (`host:port`) every registry host of the factory is mapped to (base
    /// images, external and managed images), so that one local registry can serve all that
    /// `check` watches; `None`: the public hosts (Docker Hub, GHCR, Quay, GCR, GitLab).
    pub registry: Option<String>,
}

/// The times of the synthetic history.
pub const ENROLLED: &str = "2026-09-01T00:00:00Z";
const FIRST_ROUND: &str = "2026-09-10T00:00:00Z";
const FIRST_BUILDS: &str = "2026-09-25T00:00:00Z";
const SECOND_ROUND: &str = "2026-10-20T00:00:00Z";
/// A time after every delay of the history: everything scheduled is due.
pub const ALL_DUE: &str = "2026-12-01T00:00:00Z";

/// `cargo xtask synth --images N --bases M --depth D --out DIR`.
pub fn run(args: &[&str]) -> Result<bool, String> {
    let mut images = None;
    let mut bases = None;
    let mut depth = 4;
    let mut out = None;
    let mut registry = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .copied()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} `{v}`: {e}"));
        match *flag {
            "--images" => images = Some(number(value()?)?),
            "--bases" => bases = Some(number(value()?)?),
            "--depth" => depth = number(value()?)?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--registry" => registry = Some(value()?.to_string()),
            other => return Err(format!("synth: unknown argument `{other}`\n{USAGE}")),
        }
    }
    let images = images.ok_or_else(|| format!("synth: --images is required\n{USAGE}"))?;
    let out = out.ok_or_else(|| format!("synth: --out is required\n{USAGE}"))?;
    let shape = Shape {
        images,
        bases: bases.unwrap_or(images / 5),
        depth,
        registry,
    };
    let started = std::time::Instant::now();
    let summary = write(&shape, &out)?;
    eprintln!(
        "synth: {} in {:.1} s: {summary}",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

/// Usage of `synth`.
pub const USAGE: &str = "usage: cargo xtask synth --images N [--bases M (default N/5)] [--depth D (default 4)] [--registry HOST:PORT] --out DIR";

/// What [`write`] made.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Managed images (with a Dockerfile).
    pub managed: usize,
    /// External images.
    pub external: usize,
    /// Base-image state files.
    pub base_states: usize,
    /// Image state files (enrolled and archived).
    pub image_states: usize,
    /// Rebuilds pending in the state.
    pub pending: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} managed + {} external images, {} image and {} base-image state files, {} rebuilds pending",
            self.managed, self.external, self.image_states, self.base_states, self.pending
        )
    }
}

/// Writes the factory of `shape` into `out` (which must not exist or be empty).
pub fn write(shape: &Shape, out: &Path) -> Result<Summary, String> {
    if shape.images < 10 || shape.bases < 2 || shape.depth == 0 {
        return Err(format!(
            "synth: need --images >= 10, --bases >= 2, --depth >= 1 (got {}, {}, {})",
            shape.images, shape.bases, shape.depth
        ));
    }
    if out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("synth: {} is not empty", out.display()));
    }
    let root = out.join("image-factory");
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
    let write_file = |p: &Path, text: &str| {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::write(p, text).map_err(|e| io(p, e))
    };

    // 1% more images at first; they are removed again below (archived state).
    let extra = shape.images / 100;
    let all = shape.images + extra;
    let mut summary = Summary::default();
    for i in 0..all {
        if let Some(dockerfile) = dockerfile(shape, i) {
            write_file(&out.join(dockerfile_path(i)), &dockerfile)?;
            if i < shape.images {
                summary.managed += 1;
            }
        } else if i < shape.images {
            summary.external += 1;
        }
    }
    write_file(&root.join("kargo.yaml"), KARGO)?;
    let images_yaml = root.join("images.yaml");

    let at = |s: &str| Timestamp::parse(s).map_err(|e| e.to_string());
    let analyze_at = |now: Timestamp| {
        analyze::execute(&root, &analyze::all_at(now, out)).map_err(|e| e.to_string())
    };
    write_file(&images_yaml, &images_yaml_text(shape, all))?;
    analyze_at(at(ENROLLED)?)?;
    write_file(&images_yaml, &images_yaml_text(shape, shape.images))?;
    analyze_at(at("2026-09-02T00:00:00Z")?)?;

    let world = history(shape, &root, &at)?;
    // Every state of the world is a file.
    summary.image_states = world.images.len();
    summary.base_states = world.bases.len();
    summary.pending = world
        .images
        .values()
        .filter(|s| {
            s.rebuild_state
                .as_ref()
                .is_some_and(|r| r.status.as_deref() == Some(rebuild::PENDING))
        })
        .count();
    Ok(summary)
}

/// Digests, builds and pending rebuilds, through the engine, written once; the state as
/// written.
fn history(
    shape: &Shape,
    root: &Path,
    at: &dyn Fn(&str) -> Result<Timestamp, String>,
) -> Result<if_state::Analysis, String> {
    let (factory, _, _) = if_cli::load::load_factory(root).map_err(|e| e.to_string())?;
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let en = &enrollment;
    let index = rebuild::Index::new(en, &world);
    let policy = Policy::default();
    let err = |e: rebuild::EngineError| e.to_string();

    // Baselines: every base image, every external image, every managed image's first build.
    let t0 = at(ENROLLED)?;
    for j in 0..shape.bases {
        let r = base_ref(shape, j).map_err(|e| format!("base {j}: {e}"))?;
        if let Some(subject) = index.resolve_ref(&r) {
            rebuild::record(en, &mut world, &subject, &digest("base", j, 0), t0);
        }
    }
    for i in 0..shape.images {
        let name = name(i);
        if is_external(i) {
            let r = ImageRef::parse(&enrolled_repo(shape, i)).map_err(|e| e.to_string())?;
            if let Some(subject) = index.resolve_ref(&r) {
                rebuild::record(en, &mut world, &subject, &digest("ext", i, 0), t0);
            }
        } else {
            let d = digest("img", i, 0);
            rebuild::record_build(en, &mut world, &name, &d, Some("1.0.0"), t0).map_err(err)?;
        }
    }

    // First round: every third base image (not `hot`) has a new digest; the rebuilds it
    // schedules are triggered (one in fifty fails), built, and cascade down the chains.
    let t1 = at(FIRST_ROUND)?;
    update_bases(shape, en, &mut world, &index, 1, t1)?;
    let t2 = at(FIRST_BUILDS)?;
    let mut built = 0u64;
    for step in 0..=shape.depth {
        let now = t2.plus(Duration::from_minutes(60 * step as u64));
        let decision = rebuild::reconcile(en, &mut world, now, &policy);
        if decision.triggers.is_empty() {
            break;
        }
        for trigger in &decision.triggers {
            let i = index_of(&trigger.image);
            let outcome = if i % 50 == 7 {
                Err("HTTP 500 from the forge (synthetic)".to_string())
            } else {
                built += 1;
                Ok(rebuild::Started {
                    pipeline_id: Some(1_000_000 + built),
                    ..rebuild::Started::default()
                })
            };
            let ok = outcome.is_ok();
            rebuild::trigger_result(&mut world, trigger, outcome, now, &policy);
            if ok {
                let d = digest("img", i, 1);
                rebuild::record_build(en, &mut world, &trigger.image, &d, Some("1.0.1"), now)
                    .map_err(err)?;
            }
        }
    }

    // Second round: another third of the base images; these rebuilds are still pending.
    let t3 = at(SECOND_ROUND)?;
    update_bases(shape, en, &mut world, &index, 2, t3)?;

    if_cli::load::write_state(root, &baseline, &world).map_err(|e| e.to_string())?;
    Ok(world)
}

/// Records digest 1 (round 1) or 2 (round 2) for the base images with `j % 3 == round`.
fn update_bases(
    shape: &Shape,
    en: &if_model::enrollment::Enrollment,
    world: &mut if_state::Analysis,
    index: &rebuild::Index,
    round: u64,
    at: Timestamp,
) -> Result<(), String> {
    for j in (1..shape.bases).filter(|j| *j as u64 % 3 == round) {
        let r = base_ref(shape, j).map_err(|e| format!("base {j}: {e}"))?;
        if let Some(subject) = index.resolve_ref(&r) {
            rebuild::record(en, world, &subject, &digest("base", j, round), at);
        }
    }
    Ok(())
}

/// The Dockerfile of image `i` (`None` for an external image).
fn dockerfile(shape: &Shape, i: usize) -> Option<String> {
    if is_external(i) {
        return None;
    }
    let n = name(i);
    let mut f = String::new();
    let _ = writeln!(f, "# syntax=docker/dockerfile:1.7");
    let _ = writeln!(f, "# {n}: synthetic service (cargo xtask synth)");
    let runtime = base_text(shape, runtime_base(shape, i));
    let (runtime_repo, runtime_tag) = runtime.rsplit_once(':').unwrap_or((&runtime, "latest"));
    let _ = writeln!(f, "ARG RUNTIME_TAG={runtime_tag}");
    let pin = if i % 23 == 5 && !i.is_multiple_of(10) {
        format!("@{}", digest("base", runtime_base(shape, i), 0))
    } else {
        String::new()
    };
    if i % 997 == 101 && !i.is_multiple_of(10) {
        let _ = writeln!(f, "FROM ${{UNDECLARED_BUILDER}} AS build");
    } else if let Some(p) = parent(shape, i) {
        let _ = writeln!(f, "ARG PARENT={}:stable", enrolled_repo(shape, p));
        let _ = writeln!(f, "FROM ${{PARENT}} AS build");
    } else {
        let builder = base_text(shape, builder_base(shape, i));
        let _ = writeln!(f, "FROM --platform=$BUILDPLATFORM {builder} AS build");
    }
    let _ = writeln!(f, "ARG VERSION=0.0.0\nWORKDIR /src");
    let _ = writeln!(f, "COPY go.mod go.sum ./");
    let _ = writeln!(
        f,
        "RUN --mount=type=cache,target=/root/.cache \\\n    make deps VERSION=$VERSION"
    );
    let _ = writeln!(f, "COPY . .\nRUN make build && \\\n    strip out/{n}");
    let _ = writeln!(f, "\nFROM build AS test\nRUN make test");
    let _ = writeln!(f, "\nFROM {runtime_repo}:${{RUNTIME_TAG}}{pin} AS runtime");
    let _ = writeln!(f, "COPY --from=build /src/out/{n} /usr/local/bin/{n}");
    let _ = writeln!(f, "COPY --from=test /src/report.xml /usr/share/doc/{n}/");
    let _ = writeln!(f, "USER 65532:65532");
    let _ = writeln!(f, "ENTRYPOINT [\"/usr/local/bin/{n}\"]");
    Some(f)
}

/// `images.yaml` with the first `count` images.
fn images_yaml_text(shape: &Shape, count: usize) -> String {
    let mut y = String::with_capacity(count * 300);
    y.push_str("# A synthetic factory (cargo xtask synth); see xtask/src/synth.rs.\nimages:\n");
    for i in 0..count {
        let (registry, repository) = registry_repository(shape, i);
        let _ = writeln!(y, "  - name: {}", name(i));
        let _ = writeln!(y, "    registry: {registry}\n    repository: {repository}");
        if is_external(i) {
            let (tags, strategy) = match i % 30 {
                9 => ("^1\\.\\d+\\.\\d+$", "SemVer"),
                19 => ("^nightly-\\d{8}$", "Lexical"),
                _ => ("^stable$", "Digest"),
            };
            let _ = writeln!(
                y,
                "    allowTags: {tags}\n    imageSelectionStrategy: {strategy}"
            );
            let _ = writeln!(y, "    rebuildDelay: 30d\n    autoRebuild: false");
            continue;
        }
        let _ = writeln!(y, "    source:");
        if is_github(i) {
            let _ = writeln!(y, "      provider: github\n      repo: {}", source_repo(i));
            let _ = writeln!(y, "      dockerfile: {}", dockerfile_path(i));
            let _ = writeln!(y, "      workflow: build-{}.yml", name(i));
        } else {
            let _ = writeln!(y, "      provider: gitlab\n      repo: {}", source_repo(i));
            let _ = writeln!(y, "      branch: release");
            let _ = writeln!(y, "      dockerfile: {}", dockerfile_path(i));
            let _ = writeln!(
                y,
                "      pipeline: .gitlab-ci.yml\n      job: build-{}",
                name(i)
            );
        }
        let delay = ["1d", "3d", "7d", "14d"][mix(i) as usize % 4];
        let _ = writeln!(y, "    rebuildDelay: {delay}");
        if parent(shape, i).is_some() {
            let _ = writeln!(y, "    cascadeDelay: {}", ["0m", "1h"][i % 2]);
        }
        if i % 20 == 3 {
            let _ = writeln!(y, "    autoRebuild: false");
        }
    }
    y
}

const KARGO: &str = "\
# Kargo settings of a synthetic factory (cargo xtask synth).
project: synth
analyzer:
  image: ghcr.io/acme/image-factory:0.1.0
  serviceAccount: image-factory
warehouses:
  interval: 6h
reconcile:
  schedule: \"0 * * * *\"
state:
  repoURL: https://github.com/acme/platform.git
  branch: main
  path: image-factory
webhookReceiver: true
dockerfileWatch:
  enabled: true
";

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_synthetic_factory_is_valid_complete_and_the_same_every_time() {
        let shape = Shape {
            images: 200,
            bases: 40,
            depth: 4,
            registry: None,
        };
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let summary = write(&shape, a.path()).unwrap();
        write(&shape, b.path()).unwrap();
        assert_eq!(tree(a.path()), tree(b.path()), "same arguments, same bytes");

        let root = a.path().join("image-factory");
        // Valid, but for the failed discoveries the factory has on purpose, which `validate`
        // reports (one error each).
        let report = if_cli::load::validate_report(&root).unwrap();
        assert_eq!((summary.managed, summary.external), (180, 20));
        assert_eq!(summary.base_states, 40, "every base image is used");
        assert_eq!(summary.image_states, 202, "200 enrolled + 2 archived");
        assert!(summary.pending > 0);

        let (factory, _, _) = if_cli::load::load_factory(&root).unwrap();
        let hot = base_ref(&shape, 0).unwrap().identity();
        let hot = factory
            .bases
            .iter()
            .find(|(_, b)| b.image_ref().map(|r| r.identity()) == Some(hot.clone()))
            .unwrap();
        assert_eq!(hot.1.dependent_images.len(), 20, "N/10 direct dependents");
        let images = || factory.images.iter().map(|(_, s)| s);
        let count =
            |f: &dyn Fn(&if_model::state::ImageState) -> bool| images().filter(|s| f(s)).count();
        assert_eq!(count(&|s| s.status.as_deref() == Some("archived")), 2);
        let failed = count(&|s| s.discovery_status.as_deref() == Some("failed"));
        assert!(failed >= 1);
        assert_eq!(report.lines().count(), failed, "{report}");
        assert!(
            report
                .lines()
                .all(|l| l.contains(": error: the last discovery of `")),
            "{report}"
        );
        assert!(count(&|s| !s.rebuild_history.is_empty()) > 50);
        assert!(
            count(&|s| s
                .rebuild_state
                .as_ref()
                .is_some_and(|r| r.last_error.is_some()))
                > 0
        );
        assert!(
            count(&|s| s.base_images.iter().any(|b| b.starts_with("svc-"))) > 50,
            "chains"
        );
        assert!(count(&|s| !s.base_image_pins.is_empty()) > 0, "pins");
    }

    #[test]
    fn bad_arguments_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(run(&["--images", "x", "--out", "d"]).is_err());
        assert!(run(&["--out", "d"]).is_err());
        let tiny = Shape {
            images: 5,
            bases: 1,
            depth: 0,
            registry: None,
        };
        assert!(write(&tiny, dir.path()).is_err());
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let ok = Shape {
            images: 10,
            bases: 2,
            depth: 1,
            registry: None,
        };
        assert!(write(&ok, dir.path()).unwrap_err().contains("not empty"));
    }
}
