//! `image-factory analyze`: discovers the base images of enrolled images from their
//! Dockerfiles and brings the state files up to date (only files that change are written).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use if_model::digest::Digest;
use if_model::enrollment::{Provider, check_relative_path};
use if_model::timestamp::Timestamp;
use if_state::{Discovery, Published, Request};
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{discover, forge, load, output, safefs};

/// Arguments of `analyze`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["image", "all"])))]
pub struct Args {
    /// Analyze this enrolled image only.
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
    /// Analyze every enrolled image.
    #[arg(long)]
    pub all: bool,
    /// Where `source.dockerfile` paths resolve (default: the top of the git work tree that
    /// holds the root, else the directory containing the root; the same from any working
    /// directory).
    /// A Dockerfile that is not there is fetched from its repository at `source.branch`
    /// (GitHub contents API with GITHUB_TOKEN, GitLab repository files API with GITLAB_TOKEN;
    /// public repositories need no token).
    #[arg(long, value_name = "DIR")]
    pub source_dir: Option<PathBuf>,
    /// Never fetch Dockerfiles from GitHub or GitLab: a Dockerfile missing under --source-dir
    /// fails discovery of that image.
    #[arg(long)]
    pub no_fetch: bool,
    /// Record this as the image's current published version (with --image).
    #[arg(long, requires = "image")]
    pub tag: Option<String>,
    /// Record this as the image's current published digest (with --image).
    #[arg(long, requires = "image")]
    pub digest: Option<String>,
    /// Read the Dockerfile from this path instead of `source.dockerfile` (with --image).
    #[arg(long, requires = "image", value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// Fetch the Dockerfile from its repository at this commit (or branch or tag) instead of
    /// `source.branch`, even when a copy is under --source-dir (with --image; the Kargo
    /// Dockerfile watch passes the Freight's commit).
    #[arg(long, requires = "image", conflicts_with_all = ["no_fetch", "dockerfile"], value_name = "REF")]
    pub source_ref: Option<String>,
    /// Source repository of the image (accepted for seed 000 compatibility; images.yaml wins).
    #[arg(long, value_name = "REPO")]
    pub source_repo: Option<String>,
    /// Source provider, github or gitlab (accepted; images.yaml wins).
    #[arg(long, value_name = "PROVIDER")]
    pub source_provider: Option<String>,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
    /// Seconds all Dockerfile fetches of the run may take together (they run in parallel);
    /// an image whose Dockerfile has not arrived by then fails discovery, the others go on.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub fetch_budget: u64,
}

/// Parses an RFC 3339 time argument.
pub fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

/// The time of the run: `--now`, or the clock in whole seconds (every time the tool shows
/// or writes is whole seconds).
pub fn now_or_clock(now: Option<Timestamp>) -> Timestamp {
    now.unwrap_or_else(|| {
        let t = time::OffsetDateTime::now_utc();
        Timestamp::from(t.replace_nanosecond(0).unwrap_or(t))
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    changes: Vec<String>,
    written: Vec<String>,
}

/// Runs `analyze`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let (changes, written, failed) = execute_counted(&cli.root, args)?;
    match cli.format {
        Format::Json => output::print_json(&Report { changes, written })?,
        _ => {
            for c in &changes {
                output::line(format_args!("{c}"));
            }
            if written.is_empty() {
                crate::output::info(format_args!("nothing changed"));
            } else {
                crate::output::info(format_args!("{} state file(s) written", written.len()));
            }
        }
    }
    if failed > 0 {
        eprintln!("discovery failed for {failed} image(s) (recorded in state; see `status`)");
    }
    Ok(Outcome::failed_if(failed > 0))
}

/// Analyzes the factory at `root` and writes the state files that change. Returns what
/// changed (for people) and the paths written (relative to `root`).
pub fn execute(root: &Path, args: &Args) -> Result<(Vec<String>, Vec<String>), CliError> {
    execute_counted(root, args).map(|(changes, written, _)| (changes, written))
}

/// [`execute`], also counting the images whose discovery failed this run.
pub fn execute_counted(
    root: &Path,
    args: &Args,
) -> Result<(Vec<String>, Vec<String>, usize), CliError> {
    let now = now_or_clock(args.now);
    let factory = load::load_for_update(root)?;
    let selected: Vec<&if_model::enrollment::ImageEntry> = match &args.image {
        Some(name) => vec![factory.enrollment.get(name).ok_or_else(|| {
            CliError::Input(format!(
                "{}; not in {}",
                if_model::diag::no_such_image(
                    name,
                    if_model::diag::closest_name(
                        name,
                        factory.enrollment.images().iter().map(|e| e.name.as_str())
                    )
                ),
                load::images_path(root).display()
            ))
        })?],
        None => factory.enrollment.images().iter().collect(),
    };
    if let Some(p) = &args.source_provider
        && Provider::parse(p).is_none()
    {
        return Err(CliError::Input(format!(
            "--source-provider `{p}`: use github or gitlab"
        )));
    }
    let digest = args
        .digest
        .as_deref()
        .map(Digest::parse)
        .transpose()
        .map_err(|e| CliError::Input(format!("--digest: {e}")))?;
    let source_dir = match &args.source_dir {
        Some(d) if d.as_os_str().is_empty() => PathBuf::from("."),
        Some(d) => d.clone(),
        None => load::source_root(root)?,
    };
    output::detail(format_args!(
        "source.dockerfile paths resolve under {}",
        source_dir.display()
    ));

    let mut req = Request {
        now,
        discoveries: BTreeMap::new(),
        published: BTreeMap::new(),
        only: args.image.clone(),
    };
    // Local Dockerfiles are read and parsed in parallel; the missing ones are fetched after,
    // in parallel through one client, within the run's fetch budget.
    let real_dirs = crate::realdir::RealDirs::new(&source_dir);
    let managed: Vec<(&str, &if_model::enrollment::Source)> = selected
        .iter()
        .filter_map(|e| Some((e.name.as_str(), e.source.as_ref()?)))
        .collect();
    let local = if_model::par::map(&managed, |(_, source)| {
        if args.source_ref.is_some() {
            return None;
        }
        if let Some(p) = &args.dockerfile {
            return read_dockerfile(p, &source.dockerfile, true);
        }
        if let Some(found) = read_regular(&source_dir, &real_dirs, &source.dockerfile) {
            return found;
        }
        match dockerfile_path(&source_dir, &real_dirs, &source.dockerfile) {
            Ok(p) => read_dockerfile(&p, &source.dockerfile, false),
            Err(why) => Some(Discovery::Failed(why)),
        }
    });
    let missing: Vec<if_model::enrollment::Source> = managed
        .iter()
        .zip(&local)
        .filter(|(_, found)| found.is_none() && !args.no_fetch)
        .map(|((_, source), _)| match &args.source_ref {
            // `--source-ref`: the Dockerfile as it is at that commit (Kargo's Freight).
            Some(r) => if_model::enrollment::Source {
                branch: r.clone(),
                ..(*source).clone()
            },
            None => (*source).clone(),
        })
        .collect();
    let mut fetched = fetch_all(
        missing,
        Duration::from_secs(args.fetch_budget),
        args.source_ref.as_deref(),
    )
    .into_iter();
    for ((name, source), found) in managed.iter().zip(local) {
        let discovery = match found {
            Some(d) => d,
            None if args.no_fetch => {
                Discovery::Failed(format!("Dockerfile {} not found", source.dockerfile))
            }
            None => fetched.next().unwrap_or_else(|| {
                Discovery::Failed(format!("Dockerfile {} was not fetched", source.dockerfile))
            }),
        };
        req.discoveries.insert((*name).to_string(), discovery);
    }
    if let Some(name) = &args.image
        && (args.tag.is_some() || digest.is_some())
    {
        req.published.insert(
            name.clone(),
            Published {
                version: args.tag.clone(),
                digest,
            },
        );
    }
    let failed = req
        .discoveries
        .values()
        .filter(|d| matches!(d, Discovery::Failed(_)))
        .count();
    let baseline = if_state::baseline(&factory);
    let analysis = if_state::analyze(factory, &req);
    let written = load::write_state(root, &baseline, &analysis)?;
    Ok((analysis.changes, written, failed))
}

/// How many Dockerfiles are fetched at once.
const FETCHERS: usize = 8;

/// Fetches the Dockerfiles of `sources` (in parallel, [`FETCHERS`] at a time, one client)
/// and discovers what each is built on, in order. Whatever has not arrived once `budget` has
/// passed fails discovery with a message saying so; the fetches still under way are left to
/// end with the process (a hanging forge holds nothing else up).
/// `at`: the `--source-ref` the Dockerfiles are fetched at (said in a failure's reason).
fn fetch_all(
    sources: Vec<if_model::enrollment::Source>,
    budget: Duration,
    at: Option<&str>,
) -> Vec<Discovery> {
    use std::sync::{Arc, Mutex, mpsc};
    if sources.is_empty() {
        return Vec::new();
    }
    let n = sources.len();
    let client = match forge::fetch_clients_from_env(&sources) {
        Ok(forges) => Arc::new(forges),
        Err(e) => {
            let reason = format!("fetching Dockerfiles: {e}");
            return sources
                .iter()
                .map(|_| Discovery::Failed(reason.clone()))
                .collect();
        }
    };
    let queue = Arc::new(Mutex::new(
        sources.iter().cloned().enumerate().collect::<Vec<_>>(),
    ));
    let (tx, rx) = mpsc::channel();
    for _ in 0..FETCHERS.min(n) {
        let (client, queue, tx) = (Arc::clone(&client), Arc::clone(&queue), tx.clone());
        let at = at.map(str::to_string);
        std::thread::spawn(move || {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop();
                let Some((i, source)) = next else { break };
                let found =
                    match if_forge::fetch_file(client.client(&source), &source, &source.dockerfile)
                    {
                        Ok(text) => discover::discover(text.as_bytes(), &source.dockerfile),
                        Err(e) => Discovery::Failed(match &at {
                            Some(at) => format!(
                                "Dockerfile {}: fetching it at {at} failed: {e}",
                                source.dockerfile
                            ),
                            None => format!(
                                "Dockerfile {} not found locally, and fetching it failed: {e}",
                                source.dockerfile
                            ),
                        }),
                    };
                if tx.send((i, found)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = std::time::Instant::now() + budget;
    let mut out: Vec<Option<Discovery>> = (0..n).map(|_| None).collect();
    let mut received = 0;
    while received < n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, found)) => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(found);
                }
                received += 1;
            }
            Err(_) => break,
        }
    }
    out.into_iter()
        .zip(&sources)
        .map(|(found, source)| {
            found.unwrap_or_else(|| {
                Discovery::Failed(format!(
                    "Dockerfile {} not found locally, and fetching it did not end within the \
                     run's fetch budget ({} s, --fetch-budget)",
                    source.dockerfile,
                    budget.as_secs()
                ))
            })
        })
        .collect()
}

/// Arguments for `analyze --all` at `now` with Dockerfiles under `source_dir`.
pub fn all_at(now: Timestamp, source_dir: &Path) -> Args {
    Args {
        image: None,
        all: true,
        source_dir: Some(source_dir.to_path_buf()),
        no_fetch: true,
        tag: None,
        digest: None,
        dockerfile: None,
        source_ref: None,
        source_repo: None,
        source_provider: None,
        now: Some(now),
        fetch_budget: 120,
    }
}

/// Discovers what the Dockerfile at `path` (`name` in `images.yaml`) is built on; `None`
/// when it is not there and may be fetched from its forge (not when it was given with
/// --dockerfile, `explicit`).
/// The Dockerfile must be a regular file (a FIFO would hang the run) of at most the size a
/// fetched one may have.
fn read_dockerfile(path: &Path, name: &str, explicit: bool) -> Option<Discovery> {
    match safefs::read_file(path, safefs::MAX_DOCKERFILE_BYTES, safefs::Links::Follow) {
        Ok(Some(bytes)) => Some(discover::discover(&bytes, name)),
        Ok(None) if !explicit => None,
        Ok(None) => Some(Discovery::Failed(format!(
            "Dockerfile {} not found",
            path.display()
        ))),
        Err(e) => Some(Discovery::Failed(format!(
            "cannot read Dockerfile {name}: {e}"
        ))),
    }
}

/// The discovery of the Dockerfile `source_dir/path` when it is a regular file (not a link)
/// in a directory inside `source_dir`, or missing (`Some(None)`: it may be fetched), read
/// without looking at the file before opening it (no `lstat`: the open refuses a link);
/// `None` for every other case (a link, a directory outside, a bad path, a file that
/// cannot be read), which [`dockerfile_path`] and [`read_dockerfile`] then judge and
/// report as they always did.
fn read_regular(
    source_dir: &Path,
    real_dirs: &crate::realdir::RealDirs,
    path: &str,
) -> Option<Option<Discovery>> {
    check_relative_path(path).ok()?;
    if real_dirs.dir_is_outside(Path::new(path)) {
        return None;
    }
    let full = source_dir.join(path);
    match safefs::read_file(&full, safefs::MAX_DOCKERFILE_BYTES, safefs::Links::Refuse) {
        Ok(Some(bytes)) => Some(Some(discover::discover(&bytes, path))),
        Ok(None) => Some(None),
        Err(_) => None,
    }
}

/// `source_dir/path`, refusing paths that would leave `source_dir` also through links
/// (`real_dirs`: the real paths of its directories, each found once).
fn dockerfile_path(
    source_dir: &Path,
    real_dirs: &crate::realdir::RealDirs,
    path: &str,
) -> Result<PathBuf, String> {
    check_relative_path(path).map_err(|e| format!("dockerfile `{path}`: {e}"))?;
    let full = source_dir.join(path);
    if real_dirs.is_outside(Path::new(path)) {
        let outside = source_dir.display();
        return Err(format!("dockerfile `{path}` resolves outside {outside}"));
    }
    Ok(full)
}
