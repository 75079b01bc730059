//! What the names and references given by people, Kargo and `check` mean in a factory,
//! looked up in maps built once: resolving one is a hash lookup, not a scan of every image.

use std::collections::{HashMap, HashSet};

use if_model::enrollment::Enrollment;
use if_model::reference::ImageRef;

use super::Subject;
use crate::analyze::Analysis;

/// The lookups of [`super::resolve`], built from an enrollment and a state in one pass.
///
/// It stays right while no image or base image is added, removed or renamed: recording
/// digests, checks, triggers and builds (everything the engine does) keep it valid, so a
/// caller that records many events builds one.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Every image name with a state or an enrollment entry.
    images: HashSet<String>,
    /// Base-image state name → identity (the first identity in order, as a scan finds it).
    base_by_name: HashMap<String, String>,
    /// Base-image identity → state name.
    base_by_identity: HashMap<String, String>,
    /// Repository URL of an enrolled image → its name (first in file order).
    enrolled_by_repo: HashMap<String, String>,
    /// Repository URL of an image with state but no enrollment (removed) → its name.
    removed_by_repo: HashMap<String, String>,
}

/// The repository URL (`registry/repository`) of a URL as written, normalized.
fn repo_of(url: &str) -> Option<String> {
    ImageRef::parse(url).ok().map(|r| r.repo_url())
}

impl Index {
    /// Indexes `enrollment` and `world`.
    pub fn new(enrollment: &Enrollment, world: &Analysis) -> Index {
        let mut index = Index::default();
        for e in enrollment.images() {
            index.images.insert(e.name.clone());
            if let Some(repo) = repo_of(&e.repo_url()) {
                index
                    .enrolled_by_repo
                    .entry(repo)
                    .or_insert_with(|| e.name.clone());
            }
        }
        for (name, s) in &world.images {
            index.images.insert(name.clone());
            if enrollment.get(&s.name).is_some() {
                continue;
            }
            if let Some(repo) = s.watch.repo_url.as_deref().and_then(repo_of) {
                index
                    .removed_by_repo
                    .entry(repo)
                    .or_insert_with(|| name.clone());
            }
        }
        for (identity, b) in &world.bases {
            index
                .base_by_name
                .entry(b.name.clone())
                .or_insert_with(|| identity.clone());
            index
                .base_by_identity
                .insert(identity.clone(), b.name.clone());
        }
        index
    }

    /// The error for `text` naming nothing: the closest image or base-image name as the
    /// suggestion (only on the error path: one pass over the names).
    pub fn unknown(&self, text: &str) -> super::EngineError {
        let names = self
            .images
            .iter()
            .chain(self.base_by_name.keys())
            .map(String::as_str);
        super::EngineError::UnknownImage {
            reference: text.to_string(),
            suggestion: if_model::diag::closest_name(text, names).map(str::to_string),
        }
    }

    /// What `text` means: an image name, else a base image's state name, else a reference
    /// (see [`Index::resolve_ref`]).
    pub fn resolve(&self, text: &str) -> Option<Subject> {
        if self.images.contains(text) {
            return Some(Subject::Image {
                name: text.to_string(),
            });
        }
        if let Some(identity) = self.base_by_name.get(text) {
            return Some(Subject::Base {
                identity: identity.clone(),
                name: text.to_string(),
            });
        }
        self.resolve_ref(&ImageRef::parse(text).ok()?)
    }

    /// What `reference` means: an enrolled image (same registry and repository, any tag),
    /// else a removed image still watched under that repository, else a base image (same
    /// identity).
    pub fn resolve_ref(&self, reference: &ImageRef) -> Option<Subject> {
        let repo = reference.repo_url();
        if let Some(name) = self
            .enrolled_by_repo
            .get(&repo)
            .or_else(|| self.removed_by_repo.get(&repo))
        {
            return Some(Subject::Image { name: name.clone() });
        }
        let identity = reference.identity();
        let name = self.base_by_identity.get(&identity)?.clone();
        Some(Subject::Base { identity, name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebuild::tests::{img, setup};

    fn image(name: &str) -> Option<Subject> {
        Some(Subject::Image {
            name: name.to_string(),
        })
    }

    #[test]
    fn names_and_references_resolve_like_people_write_them() {
        let (en, world) = setup(&[img("base", &["node:22"]), img("app", &["@base"])]);
        let index = Index::new(&en, &world);
        let node = Some(Subject::Base {
            identity: "docker.io/library/node:22".to_string(),
            name: "node-22".to_string(),
        });
        assert_eq!(index.resolve("app"), image("app"));
        assert_eq!(index.resolve("node-22"), node);
        assert_eq!(index.resolve("node:22"), node);
        assert_eq!(index.resolve("docker.io/library/node:22"), node);
        // An enrolled image is found by repository at any tag, and wins over base images.
        assert_eq!(index.resolve("ghcr.io/acme/base:9.9"), image("base"));
        assert_eq!(
            index.resolve("node:20"),
            None,
            "another tag is another base"
        );
        assert_eq!(index.resolve("nope"), None);
        assert_eq!(index.resolve("NOT A REF"), None);
    }

    #[test]
    fn a_removed_image_is_found_by_its_repository() {
        let (en, mut world) = setup(&[img("app", &["node:22"])]);
        let mut gone = world.images["app"].clone();
        gone.name = "gone".to_string();
        gone.watch.repo_url = Some("quay.io/acme/gone".to_string());
        world.images.insert("gone".to_string(), gone);
        let index = Index::new(&en, &world);
        assert_eq!(index.resolve("quay.io/acme/gone:1"), image("gone"));
        assert_eq!(index.resolve("gone"), image("gone"));
    }

    #[test]
    fn the_one_off_lookups_agree_with_the_index() {
        let (en, world) = setup(&[
            img("base", &["node:22", "python:3"]),
            img("app", &["@base"]),
        ]);
        let index = Index::new(&en, &world);
        for text in [
            "app",
            "base",
            "node-22",
            "python:3",
            "ghcr.io/acme/app:x",
            "x:y",
            "?",
        ] {
            assert_eq!(
                super::super::resolve(&en, &world, text),
                index.resolve(text)
            );
        }
    }
}
