//! Which images Kargo watches, and how: the data-alignment contract applied to the factory as
//! it is read (enrollment + state files; `images.yaml` wins for configuration).
//!
//! * **External** images (enrolled, no `source`): `registry/repository` and `allowTags` from
//!   `images.yaml`.
//! * **Base** images (`state/base-images/*`, not archived, not the repository of an enrolled
//!   managed image): `repoURL`/`allowTags` from the file, derived from its reference (the
//!   anchored tag) when the file lacks them, as the analyzer writes them.
//! * **Managed** images that another image is built on (state `dependentImages`, another
//!   state's `baseImages` naming it, or base-image files of its repository): `allowTags`
//!   from `images.yaml`, else from its state, else the tags its dependents use (one tag:
//!   `Digest`; several: `NewestBuild` over the anchored tags). Other managed images are built,
//!   not watched.
//! * An image left out of `images.yaml` whose state is not archived stays watched as a base
//!   image while something depends on it and its state has `repoURL` and `allowTags`.
//!
//! Archived files give nothing. Two entries that would watch the same repository the same
//! way give one Warehouse (enrolled entries first, then image states, then base images).

use std::collections::{BTreeMap, BTreeSet};

use if_model::diag::Diagnostic;
use if_model::enrollment::{ImageEntry, Provider};
use if_model::factory::Factory;
use if_model::reference::ImageRef;
use if_model::state::{ImageState, Watch};
use if_model::yaml::Pos;

use crate::watch::{self, Selection};

/// The prefix of names derived from image names (`images.yaml`, `state/images`).
pub const IMAGE_PREFIX: &str = "image";
/// The prefix of names derived from base-image state names (slugs).
pub const BASE_PREFIX: &str = "base";
/// The prefix of the Dockerfile watch's names.
pub const DOCKERFILE_PREFIX: &str = "dockerfile";

/// Why an image is watched (the `image-factory/role` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// An upstream image enrolled without a source.
    External,
    /// One of ours that other images are built on.
    Managed,
    /// An upstream image discovered in a Dockerfile.
    Base,
    /// The Dockerfile of a managed image (git).
    Dockerfile,
}

impl Role {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::External => "external",
            Role::Managed => "managed",
            Role::Base => "base",
            Role::Dockerfile => "dockerfile",
        }
    }
}

/// One watched image repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// The image name or base-image state name the resources belong to.
    pub owner: String,
    /// The name prefix ([`IMAGE_PREFIX`] or [`BASE_PREFIX`]).
    pub prefix: &'static str,
    /// Why it is watched.
    pub role: Role,
    /// `registry/repository`.
    pub repo_url: String,
    /// Which tags.
    pub selection: Selection,
    /// The file its configuration comes from (for notes).
    pub file: String,
}

/// One managed image's Dockerfile, for the optional Dockerfile watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileSource {
    /// The image name.
    pub owner: String,
    /// GitHub or GitLab.
    pub provider: Provider,
    /// `owner/repo` or the GitLab project path.
    pub repo: String,
    /// Branch.
    pub branch: String,
    /// Path of the Dockerfile in the repository.
    pub dockerfile: String,
}

/// Everything the resources are built from.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Watched repositories, in priority order.
    pub monitors: Vec<Monitor>,
    /// Managed images' Dockerfiles.
    pub dockerfiles: Vec<DockerfileSource>,
    /// What was adjusted or left out, and why.
    pub notes: Vec<Diagnostic>,
}

/// Whether a state's `status` says archived.
fn archived(status: Option<&String>) -> bool {
    status.is_some_and(|s| s == "archived")
}

/// `registry/repository` in Docker's normalized form (`docker.io/postgres` →
/// `docker.io/library/postgres`); the input unchanged when it does not parse.
fn normalize(repo: &str) -> String {
    ImageRef::parse(repo).map_or_else(|_| repo.to_string(), |r| r.repo_url())
}

fn note(file: &str, message: String) -> Diagnostic {
    Diagnostic::warning(file, Pos { line: 1, col: 1 }, message)
}

/// A base-image file claimed by an enrolled managed image of the same repository.
struct Claim {
    tag: Option<String>,
}

/// Plans the watch of `factory`; `images_file` names `images.yaml` in notes.
pub fn plan(factory: &Factory, images_file: &str) -> Plan {
    let mut out = Plan::default();
    let states: BTreeMap<&str, (&str, &ImageState)> = factory
        .images
        .iter()
        .filter(|(_, s)| !archived(s.status.as_ref()))
        .map(|(p, s)| (s.name.as_str(), (p.as_str(), s)))
        .collect();
    let mut managed_repos: BTreeMap<String, &str> = BTreeMap::new();
    for e in factory
        .enrollment
        .images()
        .iter()
        .filter(|e| e.is_managed())
    {
        managed_repos
            .entry(normalize(&e.repo_url()))
            .or_insert(e.name.as_str());
    }
    // Images that some state file names as a base image, by name.
    let mut named_as_base: BTreeSet<&str> = BTreeSet::new();
    for (_, s) in states.values() {
        named_as_base.extend(s.base_images.iter().map(String::as_str));
    }

    let mut claims: BTreeMap<&str, Vec<Claim>> = BTreeMap::new();
    let mut bases = Vec::new();
    for (path, b) in factory
        .bases
        .iter()
        .filter(|(_, b)| !archived(b.status.as_ref()))
    {
        let reference = b.image_ref();
        let repo = match (&b.watch.repo_url, &reference) {
            (Some(url), _) => normalize(url),
            (None, Some(r)) => r.repo_url(),
            (None, None) => {
                out.notes.push(note(
                    path,
                    format!(
                        "base image `{}` has no usable repository; no Warehouse",
                        b.name
                    ),
                ));
                continue;
            }
        };
        let tag = b
            .tag
            .clone()
            .or_else(|| reference.as_ref().and_then(|r| r.tag().map(str::to_string)));
        if let Some(owner) = managed_repos.get(&repo) {
            claims.entry(owner).or_default().push(Claim { tag });
            continue;
        }
        let selection = match (&b.watch.allow_tags, &tag) {
            (Some(re), _) => derive(&mut out.notes, path, re, &b.watch),
            (None, Some(tag)) if if_model::tags::is_tag(tag) => {
                Some(Selection::Digest { tag: tag.clone() })
            }
            _ => {
                out.notes.push(note(
                    path,
                    format!(
                        "base image `{}` has neither `allowTags` nor a tag; no Warehouse",
                        b.name
                    ),
                ));
                None
            }
        };
        if let Some(selection) = selection {
            bases.push(Monitor {
                owner: b.name.clone(),
                prefix: BASE_PREFIX,
                role: Role::Base,
                repo_url: repo,
                selection,
                file: path.clone(),
            });
        }
    }

    let mut enrolled = Vec::new();
    for e in factory.enrollment.images() {
        let state = states.get(e.name.as_str()).map(|(_, s)| *s);
        match &e.source {
            None => {
                let Some(re) = &e.allow_tags else { continue };
                let w = Watch {
                    repo_url: None,
                    allow_tags: Some(re.clone()),
                    image_selection_strategy: e.image_selection_strategy,
                };
                if let Some(selection) = derive(&mut out.notes, images_file, re, &w) {
                    enrolled.push(image_monitor(e, Role::External, selection, images_file));
                }
            }
            Some(source) => {
                out.dockerfiles.push(DockerfileSource {
                    owner: e.name.clone(),
                    provider: source.provider,
                    repo: source.repo.clone(),
                    branch: source.branch.clone(),
                    dockerfile: source.dockerfile.clone(),
                });
                let claimed = claims.remove(e.name.as_str()).unwrap_or_default();
                let has_dependents = state.is_some_and(|s| !s.dependent_images.is_empty())
                    || named_as_base.contains(e.name.as_str())
                    || !claimed.is_empty();
                if !has_dependents {
                    continue;
                }
                if let Some(selection) =
                    managed_selection(&mut out.notes, images_file, e, state, &claimed, &states)
                {
                    enrolled.push(image_monitor(e, Role::Managed, selection, images_file));
                }
            }
        }
    }

    let mut left = Vec::new();
    for (name, (path, s)) in &states {
        if factory.enrollment.get(name).is_some() {
            continue;
        }
        let has_dependents = !s.dependent_images.is_empty() || named_as_base.contains(name);
        let (Some(url), Some(re)) = (&s.watch.repo_url, &s.watch.allow_tags) else {
            continue;
        };
        if !has_dependents {
            continue;
        }
        if let Some(selection) = derive(&mut out.notes, path, re, &s.watch) {
            left.push(Monitor {
                owner: s.name.clone(),
                prefix: IMAGE_PREFIX,
                role: Role::Base,
                repo_url: normalize(url),
                selection,
                file: (*path).to_string(),
            });
        }
    }

    let mut seen: BTreeMap<(String, Selection), String> = BTreeMap::new();
    for m in enrolled.into_iter().chain(left).chain(bases) {
        let key = (m.repo_url.clone(), m.selection.clone());
        if let Some(first) = seen.get(&key) {
            out.notes.push(note(
                &m.file,
                format!(
                    "`{}` watches {} like `{first}`; one Warehouse (`{first}`) serves both",
                    m.owner, m.repo_url
                ),
            ));
            continue;
        }
        seen.insert(key, m.owner.clone());
        out.monitors.push(m);
    }
    out
}

fn image_monitor(e: &ImageEntry, role: Role, selection: Selection, file: &str) -> Monitor {
    Monitor {
        owner: e.name.clone(),
        prefix: IMAGE_PREFIX,
        role,
        repo_url: normalize(&e.repo_url()),
        selection,
        file: file.to_string(),
    }
}

/// The selection for a watch configuration, with its notes; `None` (and a note) when the
/// regex is unusable.
fn derive(notes: &mut Vec<Diagnostic>, file: &str, re: &str, w: &Watch) -> Option<Selection> {
    match watch::from_allow_tags(re, w.image_selection_strategy) {
        Ok(d) => {
            notes.extend(d.notes.into_iter().map(|n| note(file, n)));
            Some(d.selection)
        }
        Err(msg) => {
            notes.push(note(file, msg));
            None
        }
    }
}

/// How a managed image with dependents is watched: `images.yaml`, then its state, then the
/// tags its dependents are built on.
fn managed_selection(
    notes: &mut Vec<Diagnostic>,
    images_file: &str,
    e: &ImageEntry,
    state: Option<&ImageState>,
    claimed: &[Claim],
    states: &BTreeMap<&str, (&str, &ImageState)>,
) -> Option<Selection> {
    if let Some(re) = &e.allow_tags {
        let w = Watch {
            repo_url: None,
            allow_tags: Some(re.clone()),
            image_selection_strategy: e.image_selection_strategy,
        };
        return derive(notes, images_file, re, &w);
    }
    if let Some(s) = state
        && let Some(re) = &s.watch.allow_tags
    {
        let path = states.get(e.name.as_str()).map_or(images_file, |(p, _)| *p);
        return derive(notes, path, re, &s.watch);
    }
    let tags: BTreeSet<String> = claimed
        .iter()
        .filter_map(|c| c.tag.clone())
        .filter(|t| if_model::tags::is_tag(t))
        .collect();
    let tags: Vec<String> = tags.into_iter().collect();
    let selection = watch::from_tags(&tags);
    if selection.is_none() {
        notes.push(note(
            images_file,
            format!(
                "managed image `{}` has dependents but no tag to watch: give it `allowTags` in images.yaml (e.g. ^1\\.4$)",
                e.name
            ),
        ));
    }
    selection
}
