//! `images.yaml`: the enrollment that people edit, its types, and its validation.
//!
//! Both file shapes are read: a bare list of images, or a mapping with an `images:` key.
//! Every problem of the file is reported in one run, each at its line and column.

use std::collections::HashMap;
use std::fmt;

use crate::decode::{Decoder, Unknown};
use crate::diag::{Diagnostic, closest};
use crate::duration::Duration;
use crate::reference::ImageRef;
use crate::yaml::{self, Borrowed, Pos, Tree, View};

mod checks;

#[cfg(test)]
use checks::check_allow_tags_once;
pub use checks::{
    ALLOW_TAGS_SIZE_LIMIT, MAX_ALLOW_TAGS_BYTES, api_host, check_allow_tags, check_api_url,
    check_name, check_relative_path,
};

/// The default delay between a base-image update and the rebuild.
pub const DEFAULT_REBUILD_DELAY: Duration = Duration::from_days(7);
/// How long a triggered build may go without an outcome before it counts as failed.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_days(1);
/// The default branch of a source repository.
pub const DEFAULT_BRANCH: &str = "main";

/// Which forge builds a managed image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    /// GitHub Actions (`workflow_dispatch`).
    Github,
    /// GitLab CI pipelines.
    Gitlab,
}

impl Provider {
    /// The spelling in `images.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
        }
    }

    /// Parses `github` or `gitlab`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "github" => Some(Provider::Github),
            "gitlab" => Some(Provider::Gitlab),
            _ => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How Kargo picks an image version from the tags it sees (`imageSelectionStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SelectionStrategy {
    /// Highest semantic version.
    SemVer,
    /// Lexically greatest tag.
    Lexical,
    /// Most recently built image.
    NewestBuild,
    /// Latest digest of one mutable tag.
    Digest,
}

impl SelectionStrategy {
    /// Every strategy, in the spelling Kargo uses.
    pub const ALL: [SelectionStrategy; 4] = [
        SelectionStrategy::SemVer,
        SelectionStrategy::Lexical,
        SelectionStrategy::NewestBuild,
        SelectionStrategy::Digest,
    ];

    /// The spelling Kargo and `images.yaml` use.
    pub fn as_str(self) -> &'static str {
        match self {
            SelectionStrategy::SemVer => "SemVer",
            SelectionStrategy::Lexical => "Lexical",
            SelectionStrategy::NewestBuild => "NewestBuild",
            SelectionStrategy::Digest => "Digest",
        }
    }

    /// Parses the exact spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for SelectionStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a managed image is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// GitHub or GitLab.
    pub provider: Provider,
    /// `owner/repo` (GitHub) or the project path (GitLab).
    pub repo: String,
    /// The branch the build runs on (default `main`).
    pub branch: String,
    /// Path of the Dockerfile inside the repository (relative, no `..`).
    pub dockerfile: String,
    /// GitHub Actions workflow file name (GitHub).
    pub workflow: Option<String>,
    /// Pipeline file (GitLab; informational).
    pub pipeline: Option<String>,
    /// Job to run, passed to the pipeline as `IMAGE_FACTORY_JOB` (GitLab).
    pub job: Option<String>,
    /// The forge's API base URL when it is not the public one (a GitHub Enterprise Server
    /// `https://ghe.example/api/v3`, a self-hosted GitLab `https://gitlab.example/api/v4`):
    /// https, or http to a loopback host only ([`check_api_url`]).
    pub api: Option<String>,
    /// GitLab: pass the values as pipeline `inputs` (`spec:inputs`) instead of variables.
    pub pipeline_inputs: bool,
}

/// One entry of `images.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// Unique name: a Kubernetes label value (lowercase, at most 63 characters).
    pub name: String,
    /// Registry host the image is published to (`ghcr.io`, `docker.io`).
    pub registry: String,
    /// Repository inside the registry (`org/app`, `library/postgres`).
    pub repository: String,
    /// Present for a managed image (we build it); absent for an external one.
    pub source: Option<Source>,
    /// Delay between an upstream update and the rebuild.
    pub rebuild_delay: Duration,
    /// Delay after an internal parent's rebuild before this image is rebuilt (default 0).
    pub cascade_delay: Duration,
    /// Trigger rebuilds automatically (otherwise they become `due` and wait for a person).
    pub auto_rebuild: bool,
    /// How long a triggered build may run without an outcome (success, failure) before it
    /// is recorded as failed (default 1d): no build blocks its image forever.
    pub build_timeout: Duration,
    /// Regex of the tags to watch (external images).
    pub allow_tags: Option<String>,
    /// How Kargo selects among tags.
    pub image_selection_strategy: Option<SelectionStrategy>,
    /// What vulnerability scans of new base digests decide (off unless set).
    pub vulnerability_policy: crate::supply::VulnerabilityPolicy,
    /// The key base digests must be signed with before they trigger (off unless set).
    pub require_signature: Option<crate::supply::SignaturePolicy>,
}

impl ImageEntry {
    /// Whether we build this image (it has a `source`).
    pub fn is_managed(&self) -> bool {
        self.source.is_some()
    }

    /// `registry/repository`, the image's repository URL.
    pub fn repo_url(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// How `images.yaml` was written, so that it could be written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileShape {
    /// A bare list of images.
    List,
    /// A mapping with an `images:` key.
    ImagesKey,
}

/// The whole enrollment: the images in file order, and an index by name (so a lookup is
/// not a scan; factories have up to 100,000 images).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The images, in file order; names are unique.
    images: Vec<ImageEntry>,
    /// Position in `images` by name.
    by_name: HashMap<String, usize>,
    /// The file's shape.
    pub shape: FileShape,
}

impl Enrollment {
    /// An empty enrollment of the given shape.
    pub fn new(shape: FileShape) -> Enrollment {
        Enrollment {
            images: Vec::new(),
            by_name: HashMap::new(),
            shape,
        }
    }

    /// The images, in file order.
    pub fn images(&self) -> &[ImageEntry] {
        &self.images
    }

    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&ImageEntry> {
        self.by_name.get(name).map(|&i| &self.images[i])
    }

    /// Adds `entry`, whose name [`parse`] has checked is not taken.
    fn push(&mut self, entry: ImageEntry) {
        self.by_name.insert(entry.name.clone(), self.images.len());
        self.images.push(entry);
    }
}

const TOP_KEYS: &[&str] = &["images"];
const ENTRY_KEYS: &[&str] = &[
    "name",
    "registry",
    "repository",
    "source",
    "rebuildDelay",
    "cascadeDelay",
    "autoRebuild",
    "buildTimeout",
    "allowTags",
    "imageSelectionStrategy",
    "vulnerabilityPolicy",
    "requireSignature",
];
const SOURCE_KEYS: &[&str] = &[
    "provider",
    "repo",
    "branch",
    "dockerfile",
    "workflow",
    "pipeline",
    "job",
    "api",
    "pipelineInputs",
];

/// An `images.yaml` at least this long is read in parts, in parallel ([`parse_in_parts`]).
const PARALLEL_BYTES: usize = 1 << 20;

/// Entries per part of a large `images.yaml` (a 100,000-image file is 49 parts).
const PER_PART: usize = 2048;

/// A decoder for `images.yaml`, whose strings must hold no control character.
fn decoder(file: &str) -> Decoder {
    let mut d = Decoder::new(file);
    d.reject_controls = true;
    d
}

/// Reads and validates `images.yaml`. `file` is the name used in messages. Returns the
/// images that could be read (entries with problems are left out) and every problem found.
pub fn parse(src: &str, file: &str) -> (Enrollment, Vec<Diagnostic>) {
    if src.len() >= PARALLEL_BYTES
        && let Some(read) = parse_in_parts(src, file, PER_PART)
    {
        return read;
    }
    parse_whole(src, file)
}

/// [`parse`] of the whole text at once.
fn parse_whole(src: &str, file: &str) -> (Enrollment, Vec<Diagnostic>) {
    let mut d = decoder(file);
    let mut enrollment = Enrollment::new(FileShape::List);
    let doc = match yaml::read(src) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(e.pos, e.message);
            return (enrollment, d.finish());
        }
    };
    let list = match doc.view() {
        View::Seq(_) => Some(&doc),
        View::Map(_) => {
            enrollment.shape = FileShape::ImagesKey;
            let fields = d.fields(&doc, "images.yaml", TOP_KEYS, Unknown::Reject);
            fields.and_then(|f| f.raw("images"))
        }
        _ if doc.is_null() => None,
        _ => {
            d.error(
                doc.pos,
                format!(
                    "images.yaml must be a list of images (or have an `images:` key), found {}",
                    doc.type_name()
                ),
            );
            None
        }
    };
    // Each entry is decoded and enrolled at once, into lists sized for the whole file: no
    // second list of entries, no list grown by doubling (factories have 100,000 images).
    let items = d.items(list.filter(|n| !n.is_null()), "images");
    enrollment.images.reserve_exact(items.len());
    enrollment.by_name.reserve(items.len());
    // Where each enrolled entry stands, by its position in `enrollment.images`.
    let mut first_pos: Vec<Pos> = Vec::with_capacity(items.len());
    for node in items {
        if let Some(entry) = entry(&mut d, node) {
            enroll(&mut enrollment, &mut first_pos, &mut d, entry, node.pos);
        }
    }
    enrollment.images.shrink_to_fit();
    enrollment.by_name.shrink_to_fit();
    (enrollment, d.finish())
}

/// Enrolls `entry` (whose item stands at `at`), or reports it as a second use of its name.
/// `first_pos`: where each enrolled entry stands, by its place in the enrollment.
fn enroll(
    enrollment: &mut Enrollment,
    first_pos: &mut Vec<Pos>,
    d: &mut Decoder,
    entry: ImageEntry,
    at: Pos,
) {
    if let Some(&first) = enrollment.by_name.get(&entry.name) {
        let line = first_pos.get(first).map_or(0, |p| p.line);
        let msg = format!(
            "duplicate image name `{}` (first used at line {line})",
            entry.name
        );
        d.error(at, msg);
        return;
    }
    first_pos.push(at);
    enrollment.push(entry);
}

/// One item of `images.yaml` decoded apart: its entry (when it has no fatal problem), how
/// many problems it has, and where it stands.
type Decoded = (Option<ImageEntry>, usize, Pos);

/// [`parse`] of a large file cut between its entries, `per_part` a part
/// ([`yaml::split_list`]): the parts are
/// read and decoded in parallel, each tree dropped as soon as its entries are decoded, then
/// enrolled in file order, each entry's problems put where the whole reading puts them. The
/// result is exactly [`parse`]'s of the whole text. `None` when the file is not a plain list
/// of entries or a part is outside the fast reader's subset: the whole text is read then.
fn parse_in_parts(src: &str, file: &str, per_part: usize) -> Option<(Enrollment, Vec<Diagnostic>)> {
    let split = yaml::split_list(src, "images", per_part)?;
    let parts = split.parts();
    if parts.len() < 2 {
        return None;
    }
    let decoded = crate::par::map_heavy(&parts, |part| {
        let items = part.read()?;
        let mut d = decoder(file);
        let mut out: Vec<Decoded> = Vec::with_capacity(items.len());
        for node in &items {
            let before = d.diags.len();
            let e = entry(&mut d, node);
            out.push((e, d.diags.len() - before, node.pos));
        }
        Some((out, d.diags))
    });
    let decoded: Vec<(Vec<Decoded>, Vec<Diagnostic>)> =
        decoded.into_iter().collect::<Option<_>>()?;
    let shape = if split.under_key() {
        FileShape::ImagesKey
    } else {
        FileShape::List
    };
    let mut enrollment = Enrollment::new(shape);
    let total: usize = decoded.iter().map(|(entries, _)| entries.len()).sum();
    enrollment.images.reserve_exact(total);
    enrollment.by_name.reserve(total);
    let mut first_pos: Vec<Pos> = Vec::with_capacity(total);
    let mut d = decoder(file);
    for (entries, diags) in decoded {
        let mut diags = diags.into_iter();
        for (entry, problems, at) in entries {
            d.diags.extend(diags.by_ref().take(problems));
            if let Some(entry) = entry {
                enroll(&mut enrollment, &mut first_pos, &mut d, entry, at);
            }
        }
    }
    enrollment.images.shrink_to_fit();
    enrollment.by_name.shrink_to_fit();
    Some((enrollment, d.finish()))
}

fn entry(d: &mut Decoder, node: &Borrowed<'_>) -> Option<ImageEntry> {
    let errors_before = d.diags.len();
    let f = d.fields(node, "an image entry", ENTRY_KEYS, Unknown::Reject)?;
    let name = d.required(f.get("name"), "name", f.pos, "image entry");
    if let (Some(n), Some(at)) = (&name, f.get("name"))
        && let Err(msg) = check_name(n)
    {
        d.error(at.pos, msg);
    }
    let what = format!("image `{}`", name.as_deref().unwrap_or("?"));
    let registry = d.required(f.get("registry"), "registry", f.pos, &what);
    let repository = d.required(f.get("repository"), "repository", f.pos, &what);
    if let (Some(reg), Some(repo), Some(at)) = (&registry, &repository, f.get("registry"))
        && let Err(e) = ImageRef::parse(&format!("{reg}/{repo}"))
    {
        d.error(
            at.pos,
            format!(
                "registry `{reg}` and repository `{repo}` do not form a valid image reference: {e}"
            ),
        );
    }
    let source = f.get("source").and_then(|s| source(d, s, &what));
    let rebuild_delay = d.duration(f.get("rebuildDelay"), "rebuildDelay");
    let cascade_delay = d.duration(f.get("cascadeDelay"), "cascadeDelay");
    let auto_rebuild = d.boolean(f.get("autoRebuild"), "autoRebuild");
    let build_timeout = d.duration(f.get("buildTimeout"), "buildTimeout");
    if let (Some(t), Some(at)) = (build_timeout, f.get("buildTimeout"))
        && t.as_minutes() == 0
    {
        d.error(at.pos, "buildTimeout must be longer than 0m".to_string());
    }
    let allow_tags = decode_allow_tags(d, f.get("allowTags"));
    let strategy = decode_strategy(d, f.get("imageSelectionStrategy"));
    let vulnerability_policy =
        crate::supply::decode_vulnerability_policy(d, f.get("vulnerabilityPolicy"));
    let require_signature = crate::supply::decode_signature_policy(d, f.get("requireSignature"));
    if f.get("source").is_none() && allow_tags.is_none() {
        d.error(f.pos, format!("external {what} has no `allowTags`: say which tags to watch (e.g. ^16-alpine$), or add a `source` if you build it"));
    }
    if d.diags[errors_before..].iter().any(Diagnostic::is_fatal) {
        return None;
    }
    Some(ImageEntry {
        name: name?,
        registry: registry?,
        repository: repository?,
        source,
        rebuild_delay: rebuild_delay.unwrap_or(DEFAULT_REBUILD_DELAY),
        cascade_delay: cascade_delay.unwrap_or_default(),
        auto_rebuild: auto_rebuild.unwrap_or(true),
        build_timeout: build_timeout.unwrap_or(DEFAULT_BUILD_TIMEOUT),
        allow_tags,
        image_selection_strategy: strategy,
        vulnerability_policy,
        require_signature,
    })
}

fn source(d: &mut Decoder, node: &Borrowed<'_>, what: &str) -> Option<Source> {
    let in_what = format!("the source of {what}");
    let f = d.fields(node, &in_what, SOURCE_KEYS, Unknown::Reject)?;
    let provider_text = d.required(f.get("provider"), "provider", f.pos, &in_what);
    let provider = provider_text.as_deref().and_then(|p| {
        let parsed = Provider::parse(p);
        if parsed.is_none()
            && let Some(at) = f.get("provider")
        {
            d.error(
                at.pos,
                format!("unknown provider `{p}`: use github or gitlab"),
            );
        }
        parsed
    });
    let repo = d.required(f.get("repo"), "repo", f.pos, &in_what);
    let branch = d.string(f.get("branch"), "branch");
    let dockerfile = d.required(f.get("dockerfile"), "dockerfile", f.pos, &in_what);
    if let (Some(path), Some(at)) = (&dockerfile, f.get("dockerfile"))
        && let Err(msg) = check_relative_path(path)
    {
        d.error(at.pos, format!("dockerfile `{path}`: {msg}"));
    }
    let workflow = d.string(f.get("workflow"), "workflow");
    let pipeline = d.string(f.get("pipeline"), "pipeline");
    let job = d.string(f.get("job"), "job");
    let api = d.string(f.get("api"), "api");
    if let (Some(url), Some(at)) = (&api, f.get("api"))
        && let Err(msg) = check_api_url(url)
    {
        d.error(at.pos, format!("api {msg}"));
    }
    let pipeline_inputs = d
        .boolean(f.get("pipelineInputs"), "pipelineInputs")
        .unwrap_or(false);
    if provider == Some(Provider::Github)
        && let Some(n) = f.get("pipelineInputs")
    {
        d.error(
            n.pos,
            "`pipelineInputs` is for gitlab sources; github always passes workflow inputs",
        );
    }
    match provider {
        Some(Provider::Github) => {
            if workflow.is_none() {
                d.error(f.pos, format!("{in_what} is on github but has no `workflow` (the Actions workflow file to dispatch, e.g. build.yml)"));
            }
            for key in ["pipeline", "job"] {
                if let Some(n) = f.get(key) {
                    d.error(
                        n.pos,
                        format!("`{key}` is for gitlab sources; github uses `workflow`"),
                    );
                }
            }
        }
        Some(Provider::Gitlab) => {
            if let Some(n) = f.get("workflow") {
                d.error(
                    n.pos,
                    "`workflow` is for github sources; gitlab uses `pipeline` and `job`"
                        .to_string(),
                );
            }
        }
        None => {}
    }
    Some(Source {
        provider: provider?,
        repo: repo?,
        branch: branch.unwrap_or_else(|| DEFAULT_BRANCH.to_string()),
        dockerfile: dockerfile?,
        workflow,
        pipeline,
        job,
        api,
        pipeline_inputs,
    })
}

/// Decodes an `allowTags` value and checks it with [`check_allow_tags`].
pub(crate) fn decode_allow_tags<N: Tree>(d: &mut Decoder, node: Option<&N>) -> Option<String> {
    let re = d.string(node, "allowTags")?;
    if let (Err(msg), Some(at)) = (check_allow_tags(&re), node) {
        d.error(at.pos(), msg);
    }
    Some(re)
}

/// Decodes an `imageSelectionStrategy`, suggesting the right spelling of a near miss.
pub(crate) fn decode_strategy<N: Tree>(
    d: &mut Decoder,
    node: Option<&N>,
) -> Option<SelectionStrategy> {
    let n = node?;
    let text = d.string(Some(n), "imageSelectionStrategy")?;
    let parsed = SelectionStrategy::parse(&text);
    if parsed.is_none() {
        let names: Vec<&str> = SelectionStrategy::ALL.iter().map(|s| s.as_str()).collect();
        let hint = closest(&text, &names).map_or_else(
            || format!("use one of {}", names.join(", ")),
            |c| format!("did you mean `{c}`?"),
        );
        d.error(
            n.pos(),
            format!("unknown imageSelectionStrategy `{text}`; {hint}"),
        );
    }
    parsed
}

#[cfg(test)]
mod tests;
