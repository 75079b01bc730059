//! The clap definition of the command line: global options and one variant per command.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

/// Keeps container images fresh: discovers base images, waits, rebuilds, cascades.
#[derive(Debug, Clone, Parser)]
#[command(name = "image-factory", version, about, long_about = None)]
pub struct Cli {
    /// The factory root: the directory holding `images.yaml` and `state/`.
    #[arg(
        long,
        global = true,
        env = "IMAGE_FACTORY_ROOT",
        default_value = "image-factory"
    )]
    pub root: PathBuf,

    /// Output format: `text` for people, `json` for machines (one JSON document on stdout).
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The state lives in this git repository: clone its --git-branch (shallow) into a
    /// temporary directory, run the command against --root inside it, commit what changed as
    /// the bot, and push; when someone pushed first, the step runs again on the new head.
    /// Only for commands that write state (analyze, record-update, record-build, reconcile,
    /// check, trigger, expedite). HTTPS token: IMAGE_FACTORY_GIT_TOKEN; SSH: your agent.
    #[arg(long, global = true, value_name = "URL")]
    pub git_repo: Option<String>,

    /// The branch of --git-repo.
    #[arg(long, global = true, value_name = "BRANCH", default_value = "main")]
    pub git_branch: String,

    /// Commit the state files the command changes in the git work tree holding --root
    /// (without --git-repo; nothing is pushed). A command that changes nothing commits nothing.
    #[arg(long, global = true)]
    pub commit: bool,

    /// Pushes tried with --git-repo before giving up (each after re-running the step on the
    /// new head).
    #[arg(long, global = true, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub git_attempts: u32,

    /// Seconds a command that writes state waits for another run on the same root to end
    /// (one writer at a time: a lock on ROOT/.image-factory.lock) before giving up (exit 2).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub lock_timeout: u64,

    /// Let a command that writes state run on an `images.yaml` that enrolls no image while
    /// images have state (it archives every one of them; refused without this).
    #[arg(long, global = true)]
    pub allow_empty: bool,

    /// The name commits are made under.
    #[arg(long, global = true, value_name = "NAME", env = "IMAGE_FACTORY_GIT_AUTHOR_NAME", default_value = crate::git::BOT_NAME)]
    pub git_author_name: String,

    /// The e-mail commits are made under.
    #[arg(long, global = true, value_name = "EMAIL", env = "IMAGE_FACTORY_GIT_AUTHOR_EMAIL", default_value = crate::git::BOT_EMAIL)]
    pub git_author_email: String,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
    /// Graphviz dot (`graph` only).
    Dot,
    /// Mermaid flowchart (`graph` only).
    Mermaid,
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Check images.yaml and every state file; report every problem as path:line:col.
    ///
    /// Exit code 0 when clean, 1 when problems were found, 2 when a file cannot be read.
    ///
    /// Example: image-factory --root image-factory validate
    Validate(cmd::validate::Args),
    /// Discover the base images of enrolled images and update the state files.
    ///
    /// Reads each managed image's Dockerfile (under --source-dir), records its base images,
    /// links internal chains, archives what is no longer used, and prints what changed. A run
    /// that finds nothing new leaves every file byte-identical.
    ///
    /// Example: image-factory analyze --all --now 2024-12-04T10:00:00Z
    Analyze(cmd::analyze::Args),
    /// Show a table of every image: kind, rebuild state and when, digest, reference.
    ///
    /// Base images, waits and errors follow on an indented line when they do not fit the
    /// terminal (100 columns in a pipe); --wide shows everything, --utc exact times.
    /// --format json is the schema in docs/json.md.
    ///
    /// Example: image-factory status --now 2026-03-17T10:00:00Z
    Status(cmd::status::Args),
    /// Print the dependency graph of enrolled and base images (--format dot or mermaid).
    ///
    /// Example: image-factory graph --format mermaid
    Graph(cmd::graph::Args),
    /// Parse and normalize one image reference the way Docker does.
    ///
    /// Example: image-factory --format json ref node:22
    Ref(cmd::reference::Args),
    /// Write the Kargo resources that watch the factory (dist/image-factory.k8s.yaml).
    ///
    /// A Project and ProjectConfig, a Warehouse and a Stage per watched image (external, base,
    /// and managed images others are built on), verified by one AnalysisTemplate that runs
    /// record-update and reconcile. Configured by kargo.yaml beside images.yaml (optional).
    /// --check exits 1 with a summary when the file is stale; --dry-run prints instead.
    ///
    /// Example: image-factory generate --check
    Generate(cmd::generate::Args),
    /// Show how BuildKit reads one Dockerfile: its stages and the base images it is built on.
    ///
    /// Expands FROM lines with the global ARGs and the given --build-arg values, tells for each
    /// stage whether it is built on an external image, an earlier stage, scratch, or something
    /// unresolved, and lists the distinct external base images. With --format json, prints
    /// {"valid","error","stages","base_images"}; the exit code is 0 whether the file is valid
    /// or not, 2 when it cannot be read.
    ///
    /// Example: image-factory --format json dockerfile Dockerfile --build-arg GO_VERSION=1.22
    Dockerfile(cmd::dockerfile::Args),
    /// Record that an image has a digest (a base image, or an image of the factory).
    ///
    /// The first digest seen is a baseline; the same digest again changes nothing; a new one
    /// is added to the history and schedules every direct dependent at now + its rebuildDelay
    /// (an image of the factory: + the dependent's cascadeDelay) and closes the image's own
    /// running rebuild. Kargo's verification job runs this, then `reconcile`.
    ///
    /// Example: image-factory record-update --image docker.io/library/node --tag 22-bookworm-slim --digest sha256:...
    RecordUpdate(cmd::record::UpdateArgs),
    /// Record that the factory built an image: closes its running rebuild, cascades to the
    /// images built on it. With --failed instead of --digest: the build failed, a failed
    /// attempt (retried with backoff, `failed` after --max-attempts).
    ///
    /// Example: image-factory record-build --image uv-service --digest sha256:... --version 1.4.2
    RecordBuild(cmd::record::BuildArgs),
    /// Trigger every rebuild that is due now, in dependency order, and record the outcomes.
    ///
    /// A rebuild triggers when its schedule has passed, no image it is built on (in the
    /// factory) still waits for or runs a rebuild, and autoRebuild is true (otherwise it becomes
    /// `due`). GitHub: workflow_dispatch with GITHUB_TOKEN; GitLab: a pipeline with
    /// GITLAB_TOKEN. A failed trigger is retried by later runs with exponential backoff.
    /// First it asks the forge for the state of every running build (its run or pipeline):
    /// a success closes the rebuild, a failure is a failed attempt, and a build with no
    /// outcome after its image's buildTimeout (default 1d) counts as failed. Each outcome is
    /// written to state before the next build is sent.
    /// API bases: IMAGE_FACTORY_GITHUB_API, IMAGE_FACTORY_GITLAB_API. --dry-run prints the
    /// triggers and their inputs and changes nothing. A failed trigger does not change the
    /// exit code (0): it is recorded on that image (`status` shows it) and the others go on.
    ///
    /// Example: image-factory reconcile --dry-run
    Reconcile(cmd::reconcile::ReconcileArgs),
    /// Rebuild one image now, by hand (also for a `due` or `failed` image); delays and
    /// ancestors are not waited for.
    ///
    /// Example: image-factory trigger postgres-tools --reason "release notes checked"
    Trigger(cmd::reconcile::TriggerArgs),
    /// Make every pending rebuild caused by BASE due now (a critical CVE), recording why.
    ///
    /// Example: image-factory expedite node:22-bookworm-slim --reason CVE-2026-12345
    Expedite(cmd::reconcile::ExpediteArgs),
    /// Show what a new digest of BASE would rebuild, in which order and when; changes nothing.
    ///
    /// Builds are assumed to finish at once; a rebuild that becomes `due` is assumed to be
    /// triggered by a person at once.
    ///
    /// Example: image-factory plan node:22-bookworm-slim --now 2026-11-01T00:00:00Z
    Plan(cmd::plan::Args),
    /// Ask the registries for the current digest of every watched image and record each
    /// (as record-update does): the way to run without Kargo.
    ///
    /// Checks what the Kargo Warehouses would watch: base images, external images and images
    /// others are built on. One manifest request (HEAD) per image, plus a tag listing for
    /// SemVer/Lexical watches and one token request per repository where the registry asks
    /// for one. A new digest schedules the dependents; run `reconcile` next to trigger what
    /// is due. An image whose lookup fails (unknown tag, refused, unreachable) keeps the
    /// failure in its state (`checkError`) and the others go on; the exit code stays 0.
    /// Credentials: Docker's config.json ($DOCKER_CONFIG/config.json, else
    /// ~/.docker/config.json) and IMAGE_FACTORY_REGISTRY_HOST / _USERNAME / _PASSWORD.
    ///
    /// Example: image-factory check --now 2026-11-21T06:00:00Z && image-factory reconcile
    Check(cmd::check::Args),
    /// Write Backstage catalog entities of the factory's images, so their dependency graph
    /// shows in Backstage.
    ///
    /// One `Resource` (spec.type container-image) per enrolled image and per base image in
    /// use, with annotations from the state (registry, repository, digest, last build, rebuild
    /// and discovery status, check error), links to the source repository of managed images,
    /// and spec.dependsOn naming the base and internal parent images each is built on.
    /// Printed on stdout unless --out is given (written atomically, summary on stderr);
    /// --format json prints the entities as one JSON array.
    ///
    /// Example: image-factory catalog --out catalog-info.yaml
    Catalog(cmd::catalog::Args),
}
