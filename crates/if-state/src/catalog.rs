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

use if_model::digest::Digest;
use if_model::enrollment::{ImageEntry, Provider};
use if_model::factory::Factory;
use if_model::state::{BaseImageState, ImageState};
use if_model::yaml::{self, Node};

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
    let ref_of = |image: &str| -> Option<String> {
        names
            .iter()
            .find(|((source, n), _)| {
                n == image
                    && if enrolled.contains(image) {
                        *source != Source::Base
                    } else {
                        *source == Source::Base
                    }
            })
            .map(|(_, name)| resource_ref(name))
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

fn image_entity(
    entry: &ImageEntry,
    state: Option<&ImageState>,
    name: &str,
    depends_on: Vec<String>,
    options: &CatalogOptions,
) -> Entity {
    let source = source_of(entry);
    let mut a = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            a.insert(annotation(key), v);
        }
    };
    put("image-name", Some(entry.name.clone()));
    put("kind", Some(source.as_str().to_string()));
    put("registry", Some(entry.registry.clone()));
    put("repository", Some(entry.repository.clone()));
    put("auto-rebuild", Some(entry.auto_rebuild.to_string()));
    put("rebuild-delay", Some(entry.rebuild_delay.to_string()));
    put("allow-tags", entry.allow_tags.clone());
    let mut tags = vec![source.as_str().to_string()];
    let mut links = Vec::new();
    let mut description = match source {
        Source::Managed => "Container image built by Image Factory".to_string(),
        _ => "External container image watched by Image Factory".to_string(),
    };
    if let Some(src) = &entry.source {
        let provider = src.provider.as_str();
        tags.push(provider.to_string());
        put("source-provider", Some(provider.to_string()));
        put("source-repo", Some(src.repo.clone()));
        put("source-branch", Some(src.branch.clone()));
        put("dockerfile", Some(src.dockerfile.clone()));
        let (repo_url, file_url, forge) = match src.provider {
            Provider::Github => {
                let repo = format!("https://github.com/{}", src.repo);
                let file = format!("{repo}/blob/{}/{}", src.branch, src.dockerfile);
                (repo, file, "GitHub")
            }
            Provider::Gitlab => {
                let repo = format!("https://gitlab.com/{}", src.repo);
                let file = format!("{repo}/-/blob/{}/{}", src.branch, src.dockerfile);
                (repo, file, "GitLab")
            }
        };
        put("source-url", Some(repo_url.clone()));
        description = format!(
            "{description} from {} ({forge}, {}).",
            src.repo, src.dockerfile
        );
        links.push(Link {
            url: repo_url,
            title: format!("Source repository ({forge})"),
        });
        links.push(Link {
            url: file_url,
            title: "Dockerfile".to_string(),
        });
    } else {
        description.push('.');
    }
    if let Some(s) = state {
        put("current-digest", s.current_digest.as_ref().map(digest_text));
        put("current-version", s.current_version.clone());
        put("last-built", s.last_built.map(|t| t.to_string()));
        let rebuild = s.rebuild_state.as_ref();
        put(
            "rebuild-status",
            Some(
                rebuild
                    .and_then(|r| r.status.clone())
                    .unwrap_or_else(|| "monitoring".to_string()),
            ),
        );
        put(
            "rebuild-scheduled-for",
            rebuild
                .and_then(|r| r.rebuild_scheduled_for)
                .map(|t| t.to_string()),
        );
        put(
            "rebuild-reason",
            rebuild.and_then(|r| r.rebuild_reason.clone()),
        );
        put("rebuild-error", rebuild.and_then(|r| r.last_error.clone()));
        put("discovery-status", s.discovery_status.clone());
        put("discovery-error", s.discovery_error.clone());
        put("last-discovery", s.last_discovery.map(|t| t.to_string()));
        put("check-error", s.check_error.clone());
        put(
            "check-error-since",
            s.check_error_since.map(|t| t.to_string()),
        );
    }
    Entity {
        source,
        image_name: entry.name.clone(),
        name: name.to_string(),
        title: entry.repo_url(),
        description,
        annotations: a,
        tags,
        links,
        owner: options.owner.clone(),
        system: options.system.clone(),
        depends_on,
    }
}

fn base_entity(base: &BaseImageState, name: &str, options: &CatalogOptions) -> Entity {
    let reference = base.image_ref();
    let title = reference
        .as_ref()
        .map(|r| r.familiar())
        .or_else(|| base.full_image.clone())
        .unwrap_or_else(|| base.name.clone());
    let mut a = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            a.insert(annotation(key), v);
        }
    };
    put("image-name", Some(base.name.clone()));
    put("kind", Some(Source::Base.as_str().to_string()));
    put(
        "registry",
        reference
            .as_ref()
            .map(|r| r.registry().to_string())
            .or_else(|| base.registry.clone()),
    );
    put(
        "repository",
        reference
            .as_ref()
            .map(|r| r.repository().to_string())
            .or_else(|| base.repository.clone()),
    );
    put(
        "tag",
        reference
            .as_ref()
            .and_then(|r| r.tag().map(str::to_string))
            .or_else(|| base.tag.clone()),
    );
    put(
        "current-digest",
        base.current_digest.as_ref().map(digest_text),
    );
    put("last-updated", base.last_updated.map(|t| t.to_string()));
    put("last-checked", base.last_checked.map(|t| t.to_string()));
    put("check-error", base.check_error.clone());
    put(
        "check-error-since",
        base.check_error_since.map(|t| t.to_string()),
    );
    let mut dependents = base.dependent_images.clone();
    dependents.sort();
    dependents.dedup();
    let used_by = if dependents.is_empty() {
        String::new()
    } else {
        format!("; used by {}", dependents.join(", "))
    };
    Entity {
        source: Source::Base,
        image_name: base.name.clone(),
        name: name.to_string(),
        title: title.clone(),
        description: format!("Base image {title}, watched by Image Factory{used_by}."),
        annotations: a,
        tags: vec![Source::Base.as_str().to_string()],
        links: Vec::new(),
        owner: options.owner.clone(),
        system: options.system.clone(),
        depends_on: Vec::new(),
    }
}

fn digest_text(d: &Digest) -> String {
    d.to_string()
}

// ---------------------------------------------------------------------------------------------
// Names and keys.

/// Whether `s` is `[a-zA-Z0-9]` runs joined by single `-`, `_` or `.` (at least one character).
fn is_word_chain(s: &str) -> bool {
    let mut prev_sep = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            prev_sep = false;
        } else if matches!(c, '-' | '_' | '.') && !prev_sep {
            prev_sep = true;
        } else {
            return false;
        }
    }
    !prev_sep
}

/// Whether `name` is a valid Backstage entity name (`metadata.name`): 1 to 63 characters,
/// `[a-zA-Z0-9]` runs joined by single `-`, `_` or `.`.
pub fn is_valid_entity_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && is_word_chain(name)
}

/// Whether `key` is a valid Backstage annotation key: `prefix/name`, the prefix a DNS
/// subdomain (at most 253 characters), the name as an entity name (at most 63).
pub fn is_valid_annotation_key(key: &str) -> bool {
    let Some((prefix, name)) = key.split_once('/') else {
        return is_valid_entity_name(key);
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    prefix.len() <= 253 && prefix.split('.').all(label_ok) && is_valid_entity_name(name)
}

/// Whether `value` is an entity reference `[kind:][namespace/]name`.
pub fn is_valid_entity_ref(value: &str) -> bool {
    let (kind, rest) = match value.split_once(':') {
        Some((k, r)) => (Some(k), r),
        None => (None, value),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, rest),
    };
    kind.is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
        && namespace.is_none_or(is_valid_entity_name)
        && is_valid_entity_name(name)
}

/// `raw` lowercased, with every run of other characters than `[a-z0-9]` made one separator
/// (the run's first character when it is `-`, `_` or `.`, else `-`), trimmed at both ends.
/// Empty when `raw` has no letter or digit.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending: Option<char> = None;
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if let Some(sep) = pending.take()
                && !out.is_empty()
            {
                out.push(sep);
            }
            out.push(c);
        } else if pending.is_none() {
            pending = Some(if matches!(c, '-' | '_' | '.') { c } else { '-' });
        }
    }
    out
}

/// `sanitized` cut to leave room for the hash of `identity` (`hash_len` hex digits), then
/// `-<hash>`.
fn hashed(sanitized: &str, identity: &str, hash_len: usize) -> String {
    let digest = Digest::of_sha256_bytes(identity.as_bytes());
    let hex = digest.hex();
    let suffix = hex.get(..hash_len).unwrap_or(hex);
    let keep = MAX_NAME_LEN - hash_len - 1;
    let head = sanitized
        .get(..keep.min(sanitized.len()))
        .unwrap_or_default()
        .trim_end_matches(['-', '_', '.']);
    if head.is_empty() {
        suffix.to_string()
    } else {
        format!("{head}-{suffix}")
    }
}

fn identity(source: Source, raw: &str) -> String {
    let kind = match source {
        Source::Base => "base",
        Source::Managed | Source::External => "image",
    };
    format!("{kind}/{raw}")
}

/// The entity name of each `(source, name)` key: the sanitized name when it is valid and no
/// other key has it; otherwise (cut, empty, or shared) the sanitized name with a hash of the
/// key. Only the set of keys matters, not their order. Keys must be distinct.
pub fn entity_names(keys: &[(Source, String)]) -> BTreeMap<(Source, String), String> {
    let mut names: BTreeMap<(Source, String), String> = BTreeMap::new();
    for (source, raw) in keys {
        let plain = sanitize_name(raw);
        let name = if plain.is_empty() || plain.len() > MAX_NAME_LEN {
            hashed(&plain, &identity(*source, raw), HASH_LEN)
        } else {
            plain
        };
        names.insert((*source, raw.clone()), name);
    }
    // Every key of a shared name gets a hash; longer hashes if that is still not enough.
    for hash_len in [HASH_LEN, 16, 32, 48] {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for name in names.values() {
            *count.entry(name.as_str()).or_default() += 1;
        }
        let shared: Vec<(Source, String)> = names
            .iter()
            .filter(|(_, n)| count.get(n.as_str()).copied().unwrap_or(0) > 1)
            .map(|(k, _)| k.clone())
            .collect();
        if shared.is_empty() {
            break;
        }
        for key in shared {
            let plain = sanitize_name(&key.1);
            let name = hashed(&plain, &identity(key.0, &key.1), hash_len);
            names.insert(key, name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn names(keys: &[(Source, &str)]) -> BTreeMap<(Source, String), String> {
        let keys: Vec<(Source, String)> =
            keys.iter().map(|(s, n)| (*s, (*n).to_string())).collect();
        entity_names(&keys)
    }

    fn name_of(map: &BTreeMap<(Source, String), String>, s: Source, n: &str) -> String {
        map.get(&(s, n.to_string())).cloned().unwrap()
    }

    #[test]
    fn plain_names_are_kept() {
        let m = names(&[
            (Source::Managed, "uv-service"),
            (Source::Base, "python-3.12-slim"),
        ]);
        assert_eq!(name_of(&m, Source::Managed, "uv-service"), "uv-service");
        assert_eq!(
            name_of(&m, Source::Base, "python-3.12-slim"),
            "python-3.12-slim"
        );
    }

    #[test]
    fn odd_characters_are_replaced_and_runs_collapsed() {
        assert_eq!(sanitize_name("My Image!!name"), "my-image-name");
        assert_eq!(sanitize_name("--a..b__c--"), "a.b_c");
        assert_eq!(sanitize_name("a-.b"), "a-b");
        assert_eq!(
            sanitize_name("gcr.io/distroless:latest"),
            "gcr.io-distroless-latest"
        );
        assert_eq!(sanitize_name("ÄÖÜ"), "");
        for raw in ["My Image!!name", "--a..b__c--", "x", "a-.b", "ÄÖÜ", "..."] {
            let m = names(&[(Source::External, raw)]);
            let n = name_of(&m, Source::External, raw);
            assert!(is_valid_entity_name(&n), "{raw} -> {n}");
        }
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let long = format!("{}-image", "a".repeat(70));
        let m = names(&[(Source::Managed, &long), (Source::Base, &long)]);
        let image = name_of(&m, Source::Managed, &long);
        let base = name_of(&m, Source::Base, &long);
        assert_eq!(image.len(), MAX_NAME_LEN);
        assert!(is_valid_entity_name(&image), "{image}");
        assert!(is_valid_entity_name(&base), "{base}");
        assert_ne!(image, base);
        // A name of exactly 63 characters stays as it is.
        let exact = "b".repeat(63);
        let m = names(&[(Source::Managed, &exact)]);
        assert_eq!(name_of(&m, Source::Managed, &exact), exact);
        // Cutting at a separator does not leave it at the end.
        let dotted = format!("{}.{}", "c".repeat(53), "d".repeat(20));
        let m = names(&[(Source::Base, &dotted)]);
        let n = name_of(&m, Source::Base, &dotted);
        assert!(is_valid_entity_name(&n), "{n}");
    }

    #[test]
    fn collisions_get_hashes_whatever_the_order() {
        let a = names(&[
            (Source::Managed, "node"),
            (Source::Base, "node"),
            (Source::External, "My_Image"),
            (Source::External, "my_image"),
            (Source::Managed, "other"),
        ]);
        let b = names(&[
            (Source::Managed, "other"),
            (Source::External, "my_image"),
            (Source::Base, "node"),
            (Source::External, "My_Image"),
            (Source::Managed, "node"),
        ]);
        assert_eq!(a, b);
        let all: BTreeSet<&String> = a.values().collect();
        assert_eq!(all.len(), a.len(), "{a:?}");
        assert_eq!(name_of(&a, Source::Managed, "other"), "other");
        let node = name_of(&a, Source::Managed, "node");
        assert!(
            node.starts_with("node-") && node.len() == 4 + 1 + HASH_LEN,
            "{node}"
        );
        assert!(a.values().all(|n| is_valid_entity_name(n)));
    }

    #[test]
    fn a_hashed_name_never_takes_a_plain_one() {
        // Find what `node` (image) and `node` (base) hash to, then enroll an image that is
        // already called that: every name must still be distinct.
        let first = names(&[(Source::Managed, "node"), (Source::Base, "node")]);
        let taken = name_of(&first, Source::Managed, "node");
        let m = names(&[
            (Source::Managed, "node"),
            (Source::Base, "node"),
            (Source::External, &taken),
        ]);
        let all: BTreeSet<&String> = m.values().collect();
        assert_eq!(all.len(), 3, "{m:?}");
        assert!(m.values().all(|n| is_valid_entity_name(n)));
    }

    #[test]
    fn entity_name_rules() {
        for ok in ["a", "A1", "a-b_c.d", "uv-service", &"x".repeat(63)] {
            assert!(is_valid_entity_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a/b", "a b", "é", &"x".repeat(64)] {
            assert!(!is_valid_entity_name(bad), "{bad}");
        }
    }

    #[test]
    fn entity_names_follow_backstages_regex() {
        let re = regex::Regex::new(r"^[a-z0-9A-Z]+([-_.][a-z0-9A-Z]+)*$").unwrap();
        let raws = [
            "uv-service",
            "My Image!!name",
            "--a..b__c--",
            "gcr.io/distroless:latest",
            "ÄÖÜ",
            "...",
            "a_-_b",
        ];
        let long = format!("{}._{}", "q".repeat(61), "r".repeat(9));
        let mut keys: Vec<(Source, String)> = raws
            .iter()
            .map(|r| (Source::External, (*r).to_string()))
            .collect();
        keys.push((Source::Base, long));
        for (key, name) in entity_names(&keys) {
            assert!(
                re.is_match(&name) && name.len() <= MAX_NAME_LEN,
                "{key:?} -> {name}"
            );
            assert!(is_valid_entity_name(&name));
        }
    }

    #[test]
    fn annotation_keys() {
        for key in [
            "current-digest",
            "last-built",
            "rebuild-status",
            "rebuild-scheduled-for",
            "check-error",
            "discovery-status",
        ] {
            assert!(is_valid_annotation_key(&annotation(key)), "{key}");
        }
        assert!(is_valid_annotation_key("backstage.io/source-location"));
        for bad in [
            "image-factory.io/",
            "/name",
            "Image-Factory.io/x",
            "image-factory.io/a b",
            "image-factory..io/x",
            "a/b/c",
        ] {
            assert!(!is_valid_annotation_key(bad), "{bad}");
        }
        let long = format!("{ANNOTATION_PREFIX}/{}", "x".repeat(64));
        assert!(!is_valid_annotation_key(&long));
    }

    #[test]
    fn entity_refs() {
        assert!(is_valid_entity_ref("group:default/platform"));
        assert!(is_valid_entity_ref("user:jane.doe"));
        assert!(is_valid_entity_ref("platform"));
        assert!(!is_valid_entity_ref("group:default/"));
        assert!(!is_valid_entity_ref(""));
        assert!(!is_valid_entity_ref("group:a b"));
        assert_eq!(
            CatalogOptions::new("group:default/platform", Some("image-factory")),
            Ok(CatalogOptions {
                owner: "group:default/platform".to_string(),
                system: Some("image-factory".to_string()),
            })
        );
        assert!(CatalogOptions::new("bad owner", None).is_err());
    }

    const IMAGES: &str = "images:
  - name: app
    registry: ghcr.io
    repository: acme/app
    source:
      provider: gitlab
      repo: acme/group/app
      dockerfile: Dockerfile
      pipeline: .gitlab-ci.yml
  - name: ext
    registry: docker.io
    repository: library/redis
    allowTags: ^7$
";

    fn factory() -> Factory {
        use if_model::factory::{FactoryFiles, SourceFile};
        let file = |path: &str, text: &str| SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        };
        let files = FactoryFiles {
            images: Some(file("images.yaml", IMAGES)),
            image_states: vec![file(
                "state/images/app.yaml",
                "name: app\nbaseImages:\n  - node-22\n  - ext\n  - gone\nlastBuilt: \"2026-01-02T03:04:05Z\"\nrebuildState:\n  status: pending\n  rebuildScheduledFor: \"2026-01-09T00:00:00Z\"\n",
            )],
            base_states: vec![
                file(
                    "state/base-images/node-22.yaml",
                    "name: node-22\nfullImage: node:22\ndependentImages:\n  - app\n",
                ),
                file(
                    "state/base-images/old.yaml",
                    "name: old\nfullImage: node:18\nstatus: archived\n",
                ),
            ],
        };
        let (f, diags) = if_model::factory::load(&files);
        assert!(diags.iter().all(|d| !d.is_fatal()), "{diags:?}");
        f
    }

    #[test]
    fn entities_of_a_small_factory() {
        let es = entities(&factory(), &CatalogOptions::default());
        let names: Vec<&str> = es.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["app", "ext", "node-22"]);
        let app = &es[0];
        assert_eq!(
            app.depends_on,
            ["resource:default/ext", "resource:default/node-22"]
        );
        assert_eq!(app.tags, ["managed", "gitlab"]);
        assert_eq!(app.links[0].url, "https://gitlab.com/acme/group/app");
        assert_eq!(
            app.annotations
                .get("image-factory.io/rebuild-status")
                .map(String::as_str),
            Some("pending")
        );
        assert_eq!(
            app.annotations
                .get("image-factory.io/last-built")
                .map(String::as_str),
            Some("2026-01-02T03:04:05Z")
        );
        assert!(
            es.iter()
                .flat_map(|e| e.annotations.keys())
                .all(|k| is_valid_annotation_key(k))
        );
        let text = render(&es).unwrap();
        assert_eq!(text.lines().filter(|l| *l == "---").count(), 3, "{text}");
        assert_eq!(render(&es).unwrap(), text);
        for doc in text.split("---\n").skip(1) {
            let node = yaml::parse(doc).unwrap();
            assert_eq!(node.get("kind").map(|k| k.type_name()), Some("a string"));
        }
    }
}
