//! Backstage catalog entities of the factory: one `Resource` of type `container-image` per
//! enrolled image (managed and external) and per base image in use, with `spec.dependsOn`
//! following the factory's graph (an image depends on the base images and the internal parent
//! images it is built on), so the image dependency graph shows in Backstage.
//!
//! Pure: a loaded [`Factory`] and [`CatalogOptions`] in, [`Entity`] values out, and
//! [`render`] writes them as one multi-document YAML through if-model's YAML seam. The output
//! depends only on the input: entities sorted by kind then name, a fixed key order, and no
//! time other than what the state files record.
//!
//! Entity names follow Backstage's rules (`[a-zA-Z0-9]` runs joined by single `-`, `_` or `.`,
//! at most 63 characters). They are derived from the image name or the base-image state name,
//! lowercased (Backstage compares names case-insensitively); a name that had to be cut, or
//! that two images would share, gets a short hash of its full identity, so a name never
//! depends on the order of the input.

use std::collections::{BTreeMap, BTreeSet};

use if_model::enrollment::ImageEntry;
use if_model::factory::Factory;
use if_model::state::{BaseImageState, ImageState};
use if_model::yaml::{self, Node};

use entity::{base_entity, image_entity};
pub use names::{
    entity_names, is_valid_annotation_key, is_valid_entity_name, is_valid_entity_ref, sanitize_name,
};

mod entity;
mod names;
#[cfg(test)]
mod tests;

/// `apiVersion` of every entity.
pub const API_VERSION: &str = "backstage.io/v1alpha1";
/// `kind` of every entity.
pub const KIND: &str = "Resource";
/// `spec.type` of every entity.
pub const SPEC_TYPE: &str = "container-image";
/// The prefix of the factory's annotations.
pub const ANNOTATION_PREFIX: &str = "image-factory.io";
/// The default `spec.owner`.
pub const DEFAULT_OWNER: &str = "group:default/platform";
/// The longest entity name, annotation name or tag Backstage accepts.
pub const MAX_NAME_LEN: usize = 63;
/// Hex digits of the hash suffix of a cut or colliding name.
const HASH_LEN: usize = 8;

/// A problem with the options of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// `--owner` or `--system` is not an entity reference.
    #[error(
        "{what} `{value}` is not an entity reference: write [kind:][namespace/]name, e.g. group:default/platform"
    )]
    BadReference {
        /// `owner` or `system`.
        what: &'static str,
        /// The value given.
        value: String,
    },
}

/// What the caller chooses about the entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOptions {
    /// `spec.owner` of every entity (an entity reference).
    pub owner: String,
    /// `spec.system` of every entity, if any.
    pub system: Option<String>,
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            owner: DEFAULT_OWNER.to_string(),
            system: None,
        }
    }
}

impl CatalogOptions {
    /// Options with a checked owner and system (`[kind:][namespace/]name`, each part valid).
    pub fn new(owner: &str, system: Option<&str>) -> Result<Self, CatalogError> {
        let check = |what: &'static str, value: &str| {
            if is_valid_entity_ref(value) {
                Ok(value.to_string())
            } else {
                Err(CatalogError::BadReference {
                    what,
                    value: value.to_string(),
                })
            }
        };
        Ok(CatalogOptions {
            owner: check("owner", owner)?,
            system: system.map(|s| check("system", s)).transpose()?,
        })
    }
}

/// What an entity stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// An enrolled image we build (it has a `source`).
    Managed,
    /// An enrolled image we only watch.
    External,
    /// A base image (a state file under `state/base-images`).
    Base,
}

impl Source {
    /// `managed`, `external` or `base` (also the entity's first tag).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Managed => "managed",
            Source::External => "external",
            Source::Base => "base",
        }
    }
}

/// One entry of `metadata.links`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL.
    pub url: String,
    /// What it shows.
    pub title: String,
}

/// One Backstage entity (`kind: Resource`, `spec.type: container-image`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// What the entity stands for.
    pub source: Source,
    /// The factory's name of the image (image name or base-image state name).
    pub image_name: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.title`: the image reference.
    pub title: String,
    /// `metadata.description`.
    pub description: String,
    /// `metadata.annotations`, sorted by key.
    pub annotations: BTreeMap<String, String>,
    /// `metadata.tags`.
    pub tags: Vec<String>,
    /// `metadata.links`.
    pub links: Vec<Link>,
    /// `spec.owner`.
    pub owner: String,
    /// `spec.system`.
    pub system: Option<String>,
    /// `spec.dependsOn`: `resource:default/<name>` of every image this one is built on,
    /// sorted.
    pub depends_on: Vec<String>,
}

impl Entity {
    /// The reference other entities use for this one (`resource:default/<name>`).
    pub fn reference(&self) -> String {
        resource_ref(&self.name)
    }

    /// The entity as a YAML tree, keys in Backstage's usual order.
    pub fn to_node(&self) -> Node {
        let s = |v: &str| Node::str(v);
        let mut metadata = vec![
            ("name".to_string(), s(&self.name)),
            ("title".to_string(), s(&self.title)),
            ("description".to_string(), s(&self.description)),
        ];
        if !self.annotations.is_empty() {
            metadata.push((
                "annotations".to_string(),
                Node::map(
                    self.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), s(v)))
                        .collect(),
                ),
            ));
        }
        if !self.tags.is_empty() {
            metadata.push((
                "tags".to_string(),
                Node::seq(self.tags.iter().map(|t| s(t)).collect()),
            ));
        }
        if !self.links.is_empty() {
            metadata.push((
                "links".to_string(),
                Node::seq(
                    self.links
                        .iter()
                        .map(|l| {
                            Node::map(vec![
                                ("url".to_string(), s(&l.url)),
                                ("title".to_string(), s(&l.title)),
                            ])
                        })
                        .collect(),
                ),
            ));
        }
        let mut spec = vec![
            ("type".to_string(), s(SPEC_TYPE)),
            ("owner".to_string(), s(&self.owner)),
        ];
        if let Some(system) = &self.system {
            spec.push(("system".to_string(), s(system)));
        }
        if !self.depends_on.is_empty() {
            spec.push((
                "dependsOn".to_string(),
                Node::seq(self.depends_on.iter().map(|d| s(d)).collect()),
            ));
        }
        Node::map(vec![
            ("apiVersion".to_string(), s(API_VERSION)),
            ("kind".to_string(), s(KIND)),
            ("metadata".to_string(), Node::map(metadata)),
            ("spec".to_string(), Node::map(spec)),
        ])
    }
}

/// The header of the rendered file.
pub const HEADER: &str = "# Generated by `image-factory catalog`: Backstage entities of the factory's images.\n# Do not edit: edit images.yaml and run the command again.\n";

/// The entities as one multi-document YAML file (`---` before every document), after
/// [`HEADER`].
pub fn render(entities: &[Entity]) -> Result<String, yaml::WriteError> {
    let mut out = String::from(HEADER);
    for e in entities {
        out.push_str("---\n");
        let doc = yaml::to_string(&e.to_node())?;
        out.push_str(doc.strip_prefix("---\n").unwrap_or(&doc));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// The entities of a factory: every enrolled image and every base image whose state is not
/// archived, sorted by kind then name.
pub fn entities(factory: &Factory, options: &CatalogOptions) -> Vec<Entity> {
    let states: BTreeMap<&str, &ImageState> = factory
        .images
        .iter()
        .map(|(_, s)| (s.name.as_str(), s))
        .collect();
    let enrolled: BTreeSet<&str> = factory
        .enrollment
        .images()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    // A name that is both an image and a base-image state name is read as the image.
    let bases: BTreeMap<&str, &BaseImageState> = factory
        .bases
        .iter()
        .map(|(_, b)| b)
        .filter(|b| b.status.as_deref() != Some("archived"))
        .filter(|b| !enrolled.contains(b.name.as_str()))
        .map(|b| (b.name.as_str(), b))
        .collect();

    let mut keys: Vec<(Source, String)> = factory
        .enrollment
        .images()
        .iter()
        .map(|e| (source_of(e), e.name.clone()))
        .collect();
    keys.extend(bases.keys().map(|n| (Source::Base, (*n).to_string())));
    let names = entity_names(&keys);
    // A lookup, not a scan of every name (that made the catalog quadratic in the factory).
    let ref_of = |image: &str| -> Option<String> {
        let key = |source: Source| (source, image.to_string());
        let name = if enrolled.contains(image) {
            names
                .get(&key(Source::Managed))
                .or_else(|| names.get(&key(Source::External)))
        } else {
            names.get(&key(Source::Base))
        };
        name.map(|n| resource_ref(n))
    };

    let mut out = Vec::new();
    for entry in factory.enrollment.images() {
        let source = source_of(entry);
        let Some(name) = names.get(&(source, entry.name.clone())) else {
            continue;
        };
        let state = states.get(entry.name.as_str()).copied();
        let depends_on: BTreeSet<String> = state
            .map(|s| s.base_images.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|b| *b != &entry.name)
            .filter_map(|b| ref_of(b))
            .collect();
        out.push(image_entity(
            entry,
            state,
            name,
            depends_on.into_iter().collect(),
            options,
        ));
    }
    for (state_name, base) in &bases {
        let Some(name) = names.get(&(Source::Base, (*state_name).to_string())) else {
            continue;
        };
        out.push(base_entity(base, name, options));
    }
    out.sort_by(|a, b| (KIND, &a.name).cmp(&(KIND, &b.name)));
    out
}

fn source_of(entry: &ImageEntry) -> Source {
    if entry.is_managed() {
        Source::Managed
    } else {
        Source::External
    }
}

fn resource_ref(name: &str) -> String {
    format!("resource:default/{name}")
}

fn annotation(key: &str) -> String {
    format!("{ANNOTATION_PREFIX}/{key}")
}
