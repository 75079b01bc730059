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
    /// check, trigger, expedite). HTTPS token: IMAGE_FACTORY_GIT_TOKEN, else the remote host's
    /// rule or the GitHub App (docs/credentials.md); SSH: your agent.
    #[arg(long, value_name = "URL", help_heading = GIT)]
    pub git_repo: Option<String>,

    /// The branch of --git-repo.
    #[arg(long, value_name = "BRANCH", default_value = "main", help_heading = GIT)]
    pub git_branch: String,

    /// Commit the state files the command changes in the git work tree holding --root
    /// (without --git-repo; nothing is pushed). A command that changes nothing commits nothing.
    #[arg(long, help_heading = GIT)]
    pub commit: bool,

    /// Pushes tried with --git-repo before giving up (each after re-running the step on the
    /// new head).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20), help_heading = GIT)]
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
    #[arg(long, value_name = "NAME", env = "IMAGE_FACTORY_GIT_AUTHOR_NAME", default_value = crate::git::BOT_NAME, help_heading = GIT)]
    pub git_author_name: String,

    /// The e-mail commits are made under.
    #[arg(long, value_name = "EMAIL", env = "IMAGE_FACTORY_GIT_AUTHOR_EMAIL", default_value = crate::git::BOT_EMAIL, help_heading = GIT)]
    pub git_author_email: String,

    /// Print less: only results, warnings and errors (no summaries or progress on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more on stderr: which files and directories a command reads and resolves.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The help heading of the git options.
const GIT: &str = "Git (commands that write state; before or after the command's name)";

/// The six git options again, after the name of a command that writes state
/// (`image-factory analyze --all --commit`); only those commands have them, so the others'
/// help does not list them. Given here, they win over the same options before the name.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Git")]
pub struct GitArgs {
    /// The state lives in this git repository: clone its --git-branch, run there, commit
    /// what changed as the bot, push (HTTPS token: IMAGE_FACTORY_GIT_TOKEN, else the remote
    /// host's rule or the GitHub App).
    #[arg(id = "command_git_repo", long = "git-repo", value_name = "URL")]
    pub repo: Option<String>,
    /// The branch of --git-repo [default: main].
    #[arg(id = "command_git_branch", long = "git-branch", value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Commit the changed state files in the git work tree holding --root.
    #[arg(id = "command_commit", long = "commit")]
    pub commit: bool,
    /// Pushes tried with --git-repo before giving up [default: 5].
    #[arg(id = "command_git_attempts", long = "git-attempts", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: Option<u32>,
    /// The name commits are made under.
    #[arg(
        id = "command_git_author_name",
        long = "git-author-name",
        value_name = "NAME"
    )]
    pub author_name: Option<String>,
    /// The e-mail commits are made under.
    #[arg(
        id = "command_git_author_email",
        long = "git-author-email",
        value_name = "EMAIL"
    )]
    pub author_email: Option<String>,
}

impl Cli {
    /// This command line with the git options given after the command's name (see
    /// [`GitArgs`]) moved to the top level, where the commands read them.
    pub fn with_command_git(&self) -> Cli {
        let mut cli = self.clone();
        let Some(git) = self.command.git() else {
            return cli;
        };
        if let Some(repo) = &git.repo {
            cli.git_repo = Some(repo.clone());
        }
        if let Some(branch) = &git.branch {
            cli.git_branch = branch.clone();
        }
        cli.commit |= git.commit;
        if let Some(n) = git.attempts {
            cli.git_attempts = n;
        }
        if let Some(name) = &git.author_name {
            cli.git_author_name = name.clone();
        }
        if let Some(email) = &git.author_email {
            cli.git_author_email = email.clone();
        }
        cli
    }
}

impl Command {
    /// The git options of a command that writes state (`None` for the others).
    pub fn git(&self) -> Option<&GitArgs> {
        match self {
            Command::Analyze { git, .. }
            | Command::RecordUpdate { git, .. }
            | Command::RecordBuild { git, .. }
            | Command::RecordScan { git, .. }
            | Command::Release { git, .. }
            | Command::Reconcile { git, .. }
            | Command::Trigger { git, .. }
            | Command::Expedite { git, .. }
            | Command::Check { git, .. } => Some(git),
            _ => None,
        }
    }

    /// The name of a command that writes state (`None` for the others).
    pub fn writer(&self) -> Option<&'static str> {
        Some(match self {
            Command::Analyze { .. } => "analyze",
            Command::RecordUpdate { .. } => "record-update",
            Command::RecordBuild { .. } => "record-build",
            Command::RecordScan { .. } => "record-scan",
            Command::Release { .. } => "release",
            Command::Reconcile { .. } => "reconcile",
            Command::Trigger { .. } => "trigger",
            Command::Expedite { .. } => "expedite",
            Command::Check { .. } => "check",
            _ => return None,
        })
    }
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
    /// Also reports the failed discoveries recorded in state. Exit code 0 when clean, 1 when
    /// problems were found, 2 when a file cannot be read.
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
    Analyze {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::analyze::Args,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
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
    RecordUpdate {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::record::UpdateArgs,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
    /// Record that the factory built an image: closes its running rebuild, cascades to the
    /// images built on it. With --failed instead of --digest: the build failed, a failed
    /// attempt (retried with backoff, `failed` after --max-attempts).
    ///
    /// Example: image-factory record-build --image uv-service --digest sha256:... --version 1.4.2
    RecordBuild {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::record::BuildArgs,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
    /// Record a vulnerability scan of one digest of a base image (a Trivy or Grype JSON
    /// report, told apart by its content).
    ///
    /// Keeps, per digest, the counts by severity and the IDs at or above HIGH (at most 200,
    /// the rest counted), and which of them have a fix. With a `vulnerabilityPolicy`, the
    /// rebuild engine holds a digest that brings such vulnerabilities or expedites one that
    /// fixes them (docs/supply-chain.md). A digest the factory has not seen is an error.
    ///
    /// Example: image-factory record-scan --image node:22 --digest sha256:... --report trivy.json
    RecordScan {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::scan::Args,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
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
    /// triggers and their inputs and changes nothing. A failed trigger is recorded on that
    /// image (`status` shows it) and the others go on; the exit code is then 1.
    ///
    /// Example: image-factory reconcile --dry-run
    Reconcile {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::reconcile::ReconcileArgs,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
    /// Rebuild one image now, by hand (also for a `due` or `failed` image); delays and
    /// ancestors are not waited for.
    ///
    /// Example: image-factory trigger postgres-tools --reason "release notes checked"
    Trigger {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::reconcile::TriggerArgs,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
    /// Make every pending rebuild caused by BASE due now (a critical CVE), recording why.
    ///
    /// Example: image-factory expedite node:22-bookworm-slim --reason CVE-2026-12345
    Expedite {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::reconcile::ExpediteArgs,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
    /// Release IMAGE's rebuild causes held by the supply-chain policy (a new vulnerability
    /// under vulnerabilityPolicy.holdOn, no verified signature under requireSignature),
    /// recording why; they then wait for their delay as without a policy.
    ///
    /// Example: image-factory release uv-service --reason "CVE-2026-1234 not reachable, ok by sec"
    Release {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::release::Args,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
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
    /// failure in its state (`checkError`) and the others go on; the exit code is then 1.
    /// Credentials: Docker's config.json ($DOCKER_CONFIG/config.json, else
    /// ~/.docker/config.json) and IMAGE_FACTORY_REGISTRY_HOST / _USERNAME / _PASSWORD.
    ///
    /// Example: image-factory check --now 2026-11-21T06:00:00Z && image-factory reconcile
    Check {
        /// The command's own options.
        #[command(flatten)]
        args: cmd::check::Args,
        /// The git options.
        #[command(flatten)]
        git: GitArgs,
    },
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
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) on stdout.
    ///
    /// Example: image-factory completions bash > ~/.local/share/bash-completion/completions/image-factory
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    ///
    /// Example: image-factory man > ~/.local/share/man/man1/image-factory.1
    Man,
}
