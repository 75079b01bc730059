//! Analysis: the enrollment, what discovery found in each Dockerfile, and the previous state,
//! at time `now`, give the new state of every enrolled and base image.
//!
//! Rules (DESIGN.md §2–§3, seed 000 "Image Lifecycle Transitions"):
//! * `images.yaml` wins for configuration; runtime data (digests, histories, `enrolledAt`,
//!   `firstDiscovered`) always survives.
//! * A base image `FROM` another enrolled image (same registry and repository) is an internal
//!   link to that entry, never a separate base image.
//! * External and base images carry monitoring config; a managed image only when another
//!   enrolled image is built on it.
//! * A failed discovery keeps the image's previous base images when they came from a
//!   successful discovery; bases recorded by a discovery that never succeeded (`pending`, as
//!   left by older tools) are not trusted and are dropped.
//! * An image removed from `images.yaml` is archived (history kept); its dependents keep the
//!   reference as an ordinary base image. A base image nobody depends on any more is archived
//!   and no longer watched. Re-enrolling or re-using either restores it.
//! * Observation times (`lastDiscovery`, `lastChecked`) move only with a real change.

use std::collections::{BTreeMap, BTreeSet};

use if_model::digest::Digest;
use if_model::enrollment::ImageEntry;
use if_model::factory::Factory;
use if_model::reference::ImageRef;
use if_model::state::{BaseImageState, ImageState, Watch};
use if_model::timestamp::Timestamp;

use crate::{enrollment_copy, watch};

/// `status` of an image or base image nobody uses any more.
pub const ARCHIVED: &str = "archived";
/// `status` of an image removed from `images.yaml` that enrolled images still list as their
/// base: it stays watched until their discovery runs again.
pub const REMOVED: &str = "removed";

/// What discovery found in one managed image's Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// The external base images, in order of first use (pinned ones keep their digest).
    Found(Vec<ImageRef>),
    /// The Dockerfile could not be read, parsed or resolved: why.
    Failed(String),
}

/// The current published version of an image (`analyze --tag --digest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Published {
    /// Version (tag).
    pub version: Option<String>,
    /// Digest.
    pub digest: Option<Digest>,
}

/// One analysis run.
#[derive(Debug, Clone)]
pub struct Request {
    /// The time of the run.
    pub now: Timestamp,
    /// The managed images analysed in this run and what discovery found. Enrolled images not
    /// listed keep their previous discovery.
    pub discoveries: BTreeMap<String, Discovery>,
    /// Published versions reported for images.
    pub published: BTreeMap<String, Published>,
    /// When set, the run is about this one image: other enrolled images that have no state
    /// yet are left without one (they are analysed by their own run).
    pub only: Option<String>,
}

/// The new state, keyed by image name and by base-image identity, and what changed.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Image states by name (enrolled and archived).
    pub images: BTreeMap<String, ImageState>,
    /// Base-image states by identity (`docker.io/library/node:22`).
    pub bases: BTreeMap<String, BaseImageState>,
    /// One line per change, for people.
    pub changes: Vec<String>,
    /// What the caller read of the `requireSignature` key files (an input, never written):
    /// file to its key's fingerprint, `None` when it could not be read. The engine judges an
    /// image's signature by the check of its key (`DigestFacts::signature_for`); a file not
    /// listed was not read, and the newest check made with it stands.
    pub keys: BTreeMap<String, Option<String>>,
}

/// A reference found in a Dockerfile, resolved against the enrollment.
#[derive(Debug, Clone)]
enum Link {
    /// Another enrolled image (by name), used at a tag.
    Internal { name: String, tag: Option<String> },
    /// An external base image (by identity).
    Base { reference: ImageRef },
}

/// Runs the analysis. Pure: the same factory and request give the same result. The
/// factory's states are taken, not copied, into the result (take [`crate::baseline`] first
/// to write only what changed).
pub fn analyze(factory: Factory, req: &Request) -> Analysis {
    let now = req.now;
    let mut out = Analysis::default();
    let Factory {
        enrollment,
        images: image_files,
        bases: base_files,
    } = factory;
    let enrolled: BTreeMap<&str, &ImageEntry> = enrollment
        .images()
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let by_repo: BTreeMap<String, &str> = enrollment
        .images()
        .iter()
        .filter_map(|e| {
            Some((
                ImageRef::parse(&e.repo_url()).ok()?.repo_url(),
                e.name.as_str(),
            ))
        })
        .collect();
    let mut prev_images: BTreeMap<String, ImageState> = image_files
        .into_iter()
        .map(|(_, s)| (s.name.clone(), s))
        .collect();
    // Names in use: every base-image state's name and file name.
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut prev_bases: BTreeMap<String, BaseImageState> = BTreeMap::new();
    for (path, b) in base_files {
        taken.insert(b.name.clone());
        taken.extend(file_stem(&path));
        if let Some(r) = b.image_ref() {
            prev_bases.entry(r.identity()).or_insert(b);
        }
    }
    let by_identity: BTreeMap<String, String> = prev_bases
        .iter()
        .map(|(id, b)| (id.clone(), b.name.clone()))
        .collect();
    let mut names = NameBook { by_identity, taken };

    // 1. Each enrolled image's links (this run's discovery, or what it had before).
    let mut links: BTreeMap<&str, Option<Vec<Link>>> = BTreeMap::new();
    for (name, entry) in &enrolled {
        let l = match (entry.is_managed(), req.discoveries.get(*name)) {
            (false, _) => Some(Vec::new()),
            (true, Some(Discovery::Found(refs))) => Some(resolve(refs, name, &by_repo)),
            (true, Some(Discovery::Failed(_)) | None) => None,
        };
        links.insert(name, l);
    }

    // 2. Base-image names for every external base referenced this run.
    for l in links.values().flatten().flatten() {
        if let Link::Base { reference } = l {
            names.name_for(reference);
        }
    }

    // 3. The base list (names) and pins of every enrolled image.
    let mut base_lists: BTreeMap<&str, (Vec<String>, BTreeMap<String, Digest>)> = BTreeMap::new();
    let mut internal_tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, l) in &links {
        let prev = prev_images.get(*name);
        let list = match l {
            Some(found) => {
                let mut bases = Vec::new();
                let mut pins = BTreeMap::new();
                for link in found {
                    let (base, pin) = match link {
                        Link::Internal { name: parent, tag } => {
                            if let Some(t) = tag {
                                internal_tags
                                    .entry(parent.clone())
                                    .or_default()
                                    .insert(t.clone());
                            }
                            (parent.clone(), None)
                        }
                        Link::Base { reference } => {
                            (names.name_for(reference), reference.digest().cloned())
                        }
                    };
                    if let Some(p) = pin {
                        pins.insert(base.clone(), p);
                    }
                    if !bases.contains(&base) {
                        bases.push(base);
                    }
                }
                (bases, pins)
            }
            None => match prev {
                Some(p) if trusted(p) => (p.base_images.clone(), p.base_image_pins.clone()),
                _ => (Vec::new(), BTreeMap::new()),
            },
        };
        base_lists.insert(name, list);
    }

    // 4. Dependents of every base name and of every enrolled image.
    let mut dependents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, (bases, _)) in &base_lists {
        for b in bases {
            dependents
                .entry(b.clone())
                .or_default()
                .insert((*name).to_string());
        }
    }

    // 5. Enrolled image states.
    for (name, entry) in &enrolled {
        let prev = prev_images.remove(*name);
        let known = prev.is_some();
        if !known && req.only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut s = prev.unwrap_or_else(|| ImageState {
            name: (*name).to_string(),
            ..ImageState::default()
        });
        if !known {
            out.changes.push(format!("{name}: enrolled"));
        }
        if s.status.as_deref() == Some(ARCHIVED) {
            s.status = None;
            out.changes.push(format!("{name}: re-enrolled"));
        }
        s.enrolled_at.get_or_insert(now);
        s.enrollment = Some(enrollment_copy::to_node(entry));
        let (bases, pins) = base_lists.get(name).cloned().unwrap_or_default();
        let (status, error) = match (entry.is_managed(), req.discoveries.get(*name)) {
            (false, _) => (Some("external".to_string()), None),
            (true, Some(Discovery::Found(_))) => (Some("success".to_string()), None),
            (true, Some(Discovery::Failed(why))) => (Some("failed".to_string()), Some(why.clone())),
            (true, None) => (
                s.discovery_status.clone().or(Some("pending".to_string())),
                s.discovery_error.clone(),
            ),
        };
        let discovery_changed = s.base_images != bases
            || s.base_image_pins != pins
            || s.discovery_status != status
            || s.discovery_error != error;
        if discovery_changed {
            if s.base_images != bases {
                out.changes.push(format!(
                    "{name}: base images [{}] -> [{}]",
                    s.base_images.join(", "),
                    bases.join(", ")
                ));
            }
            if s.discovery_status != status || s.discovery_error != error {
                let why = error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                out.changes.push(format!(
                    "{name}: discovery {}{why}",
                    status.as_deref().unwrap_or("-")
                ));
            }
            s.base_images = bases;
            s.base_image_pins = pins;
            s.discovery_status = status;
            s.discovery_error = error;
            s.last_discovery = Some(now);
        }
        let deps: Vec<String> = dependents
            .get(*name)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        s.dependent_images = deps;
        let tags: Vec<String> = internal_tags
            .get(*name)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default();
        s.watch = if !entry.is_managed() {
            watch::for_external(entry)
        } else if s.dependent_images.is_empty() {
            Watch::default()
        } else if tags.is_empty() && s.watch.allow_tags.is_some() && entry.allow_tags.is_none() {
            s.watch.clone()
        } else {
            let tags = if tags.is_empty() {
                vec!["latest".to_string()]
            } else {
                tags
            };
            watch::for_internal_parent(entry, &tags)
        };
        if let Some(p) = req.published.get(*name) {
            if p.version.is_some() && s.current_version != p.version {
                s.current_version.clone_from(&p.version);
                out.changes.push(format!(
                    "{name}: version {}",
                    p.version.as_deref().unwrap_or("-")
                ));
            }
            if p.digest.is_some() && s.current_digest != p.digest {
                s.current_digest.clone_from(&p.digest);
                out.changes.push(format!(
                    "{name}: digest {}",
                    p.digest.as_ref().map_or("-", Digest::as_str)
                ));
            }
        }
        out.images.insert((*name).to_string(), s);
    }

    // 6. Images no longer enrolled: archived, history kept; while enrolled images still list
    //    one as their base (their discovery has not run again), it stays watched as `removed`.
    //    (Step 5 took every enrolled image's state; what is left is not enrolled.)
    for (name, mut s) in prev_images {
        if enrolled.contains_key(name.as_str()) {
            continue;
        }
        let deps: Vec<String> = dependents
            .get(&name)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        let status = if deps.is_empty() { ARCHIVED } else { REMOVED };
        if s.status.as_deref() != Some(status) {
            out.changes
                .push(format!("{name}: not in images.yaml, {status}"));
            s.status = Some(status.to_string());
        }
        if deps.is_empty() {
            s.watch = Watch::default();
        } else if s.watch.repo_url.is_none() {
            s.watch = watch_of_removed(&s);
        }
        s.dependent_images = deps;
        out.images.insert(name, s);
    }

    // 7. Base images: every referenced one, and every previous one (archived when unused).
    let mut identities: BTreeMap<String, ImageRef> = BTreeMap::new();
    for l in links.values().flatten().flatten() {
        if let Link::Base { reference } = l {
            identities
                .entry(reference.identity())
                .or_insert_with(|| reference.without_digest());
        }
    }
    for (identity, b) in &prev_bases {
        if let Some(r) = b.image_ref() {
            identities
                .entry(identity.clone())
                .or_insert_with(|| r.without_digest());
        }
    }
    for (identity, reference) in identities {
        let name = names.name_for(&reference);
        let prev = prev_bases.remove(&identity);
        let known = prev.is_some();
        let deps: Vec<String> = dependents
            .get(&name)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        let mut b = prev.unwrap_or_else(|| BaseImageState {
            name: name.clone(),
            full_image: Some(reference.familiar()),
            registry: Some(reference.registry().to_string()),
            repository: Some(reference.repository().to_string()),
            tag: reference.effective_tag().map(str::to_string),
            first_discovered: Some(now),
            ..BaseImageState::default()
        });
        if !known {
            out.changes
                .push(format!("{}: new base image", reference.familiar()));
        }
        let before = b.clone();
        if deps.is_empty() {
            if b.status.as_deref() != Some(ARCHIVED) {
                out.changes.push(format!(
                    "{}: no dependents left, archived",
                    reference.familiar()
                ));
            }
            b.status = Some(ARCHIVED.to_string());
            b.watch = Watch::default();
        } else {
            if b.status.as_deref() == Some(ARCHIVED) {
                out.changes
                    .push(format!("{}: in use again", reference.familiar()));
            }
            b.status = None;
            b.watch = watch::for_base(&reference);
        }
        if b.dependent_images != deps {
            out.changes.push(format!(
                "{}: dependents [{}] -> [{}]",
                reference.familiar(),
                b.dependent_images.join(", "),
                deps.join(", ")
            ));
            b.dependent_images = deps;
        }
        if known && b != before {
            b.last_checked = Some(now);
        }
        b.first_discovered.get_or_insert(now);
        if !known {
            b.last_checked = Some(now);
        }
        out.bases.insert(identity, b);
    }
    out
}

/// The watch config of a removed image, from the copy of its last enrollment.
fn watch_of_removed(s: &ImageState) -> Watch {
    let field = |k: &str| {
        s.enrollment.as_ref()?.get(k).and_then(|n| match &n.value {
            if_model::yaml::Value::Scalar(_, t) => Some(t.clone()),
            _ => None,
        })
    };
    match (field("registry"), field("repository")) {
        (Some(reg), Some(repo)) => Watch {
            repo_url: Some(format!("{reg}/{repo}")),
            allow_tags: Some(if_model::tags::anchored("latest")),
            image_selection_strategy: Some(if_model::enrollment::SelectionStrategy::Digest),
        },
        _ => Watch::default(),
    }
}

/// Whether an image's recorded base images came from a discovery that succeeded.
fn trusted(s: &ImageState) -> bool {
    matches!(s.discovery_status.as_deref(), Some("success" | "failed"))
        && s.last_discovery.is_some()
}

/// Resolves discovered references: an enrolled image's repository is an internal link.
fn resolve(refs: &[ImageRef], own: &str, by_repo: &BTreeMap<String, &str>) -> Vec<Link> {
    refs.iter()
        .map(|r| match by_repo.get(&r.repo_url()) {
            Some(name) if *name != own => Link::Internal {
                name: (*name).to_string(),
                tag: r.effective_tag().map(str::to_string),
            },
            _ => Link::Base {
                reference: r.clone(),
            },
        })
        .collect()
}

/// Names of base images: existing ones kept, new ones the slug of their reference (with a
/// hash suffix when the slug is taken by a different image).
struct NameBook {
    by_identity: BTreeMap<String, String>,
    taken: BTreeSet<String>,
}

impl NameBook {
    fn name_for(&mut self, reference: &ImageRef) -> String {
        let identity = reference.identity();
        if let Some(n) = self.by_identity.get(&identity) {
            return n.clone();
        }
        let slug = reference.slug();
        let name = if self.taken.contains(&slug) {
            reference.slug_with_hash()
        } else {
            slug
        };
        self.taken.insert(name.clone());
        self.by_identity.insert(identity, name.clone());
        name
    }
}

/// `state/base-images/x.yaml` → `x`.
pub(crate) fn file_stem(path: &str) -> Option<String> {
    let file = path.rsplit(['/', '\\']).next()?;
    file.strip_suffix(".yaml").map(str::to_string)
}

#[cfg(test)]
mod tests;
