//! Container image references (`node:22`, `ghcr.io/org/app:1.2@sha256:...`), parsed and
//! normalized following Docker's reference grammar (`github.com/distribution/reference`,
//! `ParseNormalizedNamed`), and the names Image Factory derives from them (identity, slug).
//!
//! Normalization: a reference without a registry is on Docker Hub (`docker.io`), a
//! single-component Docker Hub repository gets the `library/` namespace, and
//! `index.docker.io` is folded into `docker.io`. The first `/`-separated component is a
//! registry only when it is `localhost`, contains `.` or `:`, or contains an uppercase
//! letter. Unlike Docker's `ParseDockerRef`, a reference with both a tag and a digest keeps
//! both. The repository path (the name without the registry, after normalization, so
//! `library/` counts) has at most 255 characters, as `distribution/reference` checks it
//! (`RepositoryNameTotalLengthMax` against the path in `Parse`, after `ParseNormalizedNamed`
//! has added `docker.io/library/`); the registry is not counted.
//!
//! Two deliberate departures from `distribution/reference`, both only for inputs it handles
//! badly: a first component chosen as the registry (it contains a `.`) that is not a valid
//! registry is an error here, where Docker would silently take the whole name as a path with
//! an empty registry (`foo_bar.com/app`); and [`ImageRef::familiar`] keeps `docker.io/` when
//! dropping it would make the first path component read as a registry
//! (`docker.io/foo.bar/app`), so that the familiar form always parses back to the same
//! reference.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use crate::digest::Digest;

mod error;
#[cfg(test)]
mod tests;

pub use error::{PathProblem, RefError, RegistryProblem, TagProblem};

/// The registry of references that name none: Docker Hub.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The legacy name of Docker Hub's registry, folded into [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a reference means when it has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// The maximum length of a repository path (the name without the registry, `library/`
/// included: `distribution/reference`'s `RepositoryNameTotalLengthMax`).
pub const NAME_MAX_LEN: usize = 255;
/// The maximum length of a tag.
pub const TAG_MAX_LEN: usize = 128;
/// The maximum length of a slug ([`ImageRef::slug`], [`ImageRef::slug_with_hash`]).
pub const SLUG_MAX_LEN: usize = 100;
/// The number of hex digits of the identity hash in [`ImageRef::slug_with_hash`].
const SLUG_HASH_LEN: usize = 8;

/// A normalized container image reference: registry, repository path, and an optional tag
/// and/or digest.
///
/// Built only by [`ImageRef::parse`], so every value is valid. [`fmt::Display`] gives the
/// canonical form. Serialized as a string, the fully qualified reference exactly as parsed
/// (`docker.io/library/node`, without adding `:latest`), so that deserializing gives back an
/// equal value; deserialization validates. Equality is structural (`node` and `node:latest`
/// differ): compare [`ImageRef::identity`] to know whether two references name the same base
/// image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalizes a reference the way Docker does (`node` is
    /// `docker.io/library/node`).
    pub fn parse(s: &str) -> Result<ImageRef, RefError> {
        if s.is_empty() {
            return Err(RefError::Empty);
        }
        if let Some(index) = s.chars().position(char::is_whitespace) {
            return Err(RefError::Whitespace {
                input: s.to_owned(),
                position: index + 1,
            });
        }
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(RefError::HexIdentifier {
                input: s.to_owned(),
            });
        }
        if s.starts_with('/') {
            return Err(RefError::EmptyRegistry {
                input: s.to_owned(),
            });
        }

        let (registry, remainder) = split_registry(s);
        let (name_and_tag, digest) = match remainder.split_once('@') {
            Some((name_and_tag, digest)) => (name_and_tag, Some(digest)),
            None => (remainder, None),
        };
        let (path, tag) = match name_and_tag.split_once(':') {
            Some((path, tag)) => (path, Some(tag)),
            None => (name_and_tag, None),
        };
        if path.is_empty() {
            return Err(RefError::MissingRepository {
                input: s.to_owned(),
            });
        }
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("{OFFICIAL_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        if repository.chars().any(char::is_uppercase) {
            return Err(RefError::Uppercase { repository });
        }

        validate_registry(s, registry)?;
        validate_repository(&repository)?;
        let tag = match tag {
            None => None,
            Some("") => {
                return Err(RefError::EmptyTag {
                    input: s.to_owned(),
                });
            }
            Some(tag) => {
                validate_tag(tag)?;
                Some(tag.to_owned())
            }
        };
        let length = repository.len();
        if length > NAME_MAX_LEN {
            return Err(RefError::NameTooLong {
                name: repository.clone(),
                length,
            });
        }
        let digest = match digest {
            None => None,
            Some("") => {
                return Err(RefError::EmptyDigest {
                    input: s.to_owned(),
                });
            }
            Some(digest) => {
                Some(
                    Digest::parse(digest).map_err(|source| RefError::InvalidDigest {
                        digest: digest.to_owned(),
                        source,
                    })?,
                )
            }
        };

        Ok(ImageRef {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry: `docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry: `library/node`, `org/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, `None` if there is none.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The tag, or `latest` when the reference has neither tag nor digest; `None` for a
    /// reference pinned by digest only.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => Some(tag),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// The fully qualified reference, with `:latest` added when there is neither tag nor
    /// digest: `docker.io/library/node:22`, `docker.io/library/node:22@sha256:...`,
    /// `docker.io/library/node@sha256:...`.
    pub fn canonical(&self) -> String {
        format!("{}{}", self.repo_url(), self.suffix())
    }

    /// Docker's familiar form of the same (tag-defaulted) reference: `node:22`,
    /// `node:latest`, `user/app:1`, `ghcr.io/org/app:1.2`, `node:22@sha256:...`.
    pub fn familiar(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    /// `registry/repository`, what Kargo's Warehouse `repoURL` takes:
    /// `docker.io/library/node`.
    pub fn repo_url(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The base-image identity reference: the same reference without its digest, with the
    /// tag set to `latest` if it then has none.
    pub fn without_digest(&self) -> ImageRef {
        ImageRef {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(self.tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_owned())),
            digest: None,
        }
    }

    /// The identity of a base image: the canonical form of [`ImageRef::without_digest`],
    /// the same for `node:22` and `node:22@sha256:...`.
    pub fn identity(&self) -> String {
        self.without_digest().canonical()
    }

    /// A readable file name for the base image (DESIGN.md §2): the familiar form of
    /// [`ImageRef::without_digest`], lowercased, every run of characters outside
    /// `[a-z0-9.]` replaced by one `-`, cut to [`SLUG_MAX_LEN`] characters. Never empty,
    /// never `.` or `..`, never contains `/`.
    pub fn slug(&self) -> String {
        slugify(&self.without_digest().familiar(), SLUG_MAX_LEN)
    }

    /// The slug, cut so that the whole stays within [`SLUG_MAX_LEN`], then `-` and the first
    /// 8 hex digits of the sha256 of [`ImageRef::identity`]; used when the plain slug is
    /// already taken by another reference.
    pub fn slug_with_hash(&self) -> String {
        let hash = Digest::of_sha256_bytes(self.identity().as_bytes());
        let hex = hash.hex();
        let short = hex.get(..SLUG_HASH_LEN).unwrap_or(hex);
        let base = slugify(
            &self.without_digest().familiar(),
            SLUG_MAX_LEN - SLUG_HASH_LEN - 1,
        );
        format!("{base}-{short}")
    }

    /// Whether the reference is pinned by a digest.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// `:tag` (defaulted) and `@digest`, as far as present.
    fn suffix(&self) -> String {
        let mut suffix = String::new();
        if let Some(tag) = self.effective_tag() {
            suffix.push(':');
            suffix.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            suffix.push('@');
            suffix.push_str(digest.as_str());
        }
        suffix
    }

    /// The fully qualified reference exactly as parsed, without defaulting the tag: the
    /// serialized form.
    fn qualified(&self) -> String {
        let mut out = self.repo_url();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest.as_str());
        }
        out
    }

    /// The name without Docker Hub's `docker.io/` and `library/`, when dropping them keeps
    /// the name unambiguous.
    fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            let path = match self.repository.strip_prefix(OFFICIAL_PREFIX) {
                Some(rest) if !rest.contains('/') => rest,
                _ => self.repository.as_str(),
            };
            let ambiguous = path
                .split_once('/')
                .is_some_and(|(first, _)| looks_like_registry(first));
            if !ambiguous {
                return path.to_owned();
            }
        }
        self.repo_url()
    }
}

/// Whether the first `/`-separated component of a reference names a registry (Docker's
/// `splitDockerDomain` rule).
fn looks_like_registry(first: &str) -> bool {
    first == "localhost" || first.contains(['.', ':']) || first.chars().any(char::is_uppercase)
}

/// Splits a reference into its registry (defaulted and folded) and the rest.
fn split_registry(s: &str) -> (&str, &str) {
    match s.split_once('/') {
        Some((first, rest)) if first == LEGACY_DEFAULT_REGISTRY => (DEFAULT_REGISTRY, rest),
        Some((first, rest)) if looks_like_registry(first) => (first, rest),
        _ => (DEFAULT_REGISTRY, s),
    }
}

/// Checks `registry` against `host [":" port]`, host being a domain name or `[IPv6]`.
fn validate_registry(input: &str, registry: &str) -> Result<(), RefError> {
    let invalid = |problem| RefError::InvalidRegistry {
        registry: registry.to_owned(),
        problem,
    };
    let port = if let Some(bracketed) = registry.strip_prefix('[') {
        let (address, rest) = bracketed
            .split_once(']')
            .ok_or_else(|| invalid(RegistryProblem::UnclosedBracket))?;
        if address.is_empty() {
            return Err(invalid(RegistryProblem::EmptyIpv6));
        }
        if let Some(character) = address
            .chars()
            .find(|c| !(c.is_ascii_hexdigit() || *c == ':'))
        {
            return Err(invalid(RegistryProblem::InvalidIpv6Character { character }));
        }
        if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':').ok_or_else(|| {
                invalid(RegistryProblem::TextAfterIpv6 {
                    text: rest.to_owned(),
                })
            })?)
        }
    } else {
        let (host, port) = match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        };
        if host.is_empty() {
            return Err(RefError::EmptyRegistry {
                input: input.to_owned(),
            });
        }
        for component in host.split('.') {
            if component.is_empty() {
                return Err(invalid(RegistryProblem::EmptyComponent));
            }
            if let Some(character) = component
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            {
                return Err(invalid(RegistryProblem::InvalidCharacter { character }));
            }
            if component.starts_with('-') || component.ends_with('-') {
                return Err(invalid(RegistryProblem::HyphenAtEdge {
                    component: component.to_owned(),
                }));
            }
        }
        port
    };
    match port {
        Some("") => Err(invalid(RegistryProblem::EmptyPort)),
        Some(port) if !port.bytes().all(|b| b.is_ascii_digit()) => {
            Err(invalid(RegistryProblem::InvalidPort {
                port: port.to_owned(),
            }))
        }
        _ => Ok(()),
    }
}

/// Checks every `/`-separated component of a (lowercase) repository path.
fn validate_repository(repository: &str) -> Result<(), RefError> {
    for component in repository.split('/') {
        if component.is_empty() {
            return Err(RefError::EmptyPathComponent {
                repository: repository.to_owned(),
            });
        }
        check_path_component(component).map_err(|problem| RefError::InvalidPathComponent {
            repository: repository.to_owned(),
            component: component.to_owned(),
            problem,
        })?;
    }
    Ok(())
}

/// Whether `c` may start or end a path component (`[a-z0-9]`).
fn is_path_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Checks one path component against `[a-z0-9]+ (separator [a-z0-9]+)*`, separators being
/// `.`, `_`, `__` or one or more `-`.
fn check_path_component(component: &str) -> Result<(), PathProblem> {
    if let Some(character) = component
        .chars()
        .find(|&c| !(is_path_alnum(c) || matches!(c, '.' | '_' | '-')))
    {
        return Err(PathProblem::InvalidCharacter { character });
    }
    if let Some(character) = component.chars().next().filter(|&c| !is_path_alnum(c)) {
        return Err(PathProblem::BadStart { character });
    }
    if let Some(character) = component.chars().last().filter(|&c| !is_path_alnum(c)) {
        return Err(PathProblem::BadEnd { character });
    }
    let mut run = String::new();
    for c in component.chars() {
        if is_path_alnum(c) {
            if !run.is_empty() {
                let valid =
                    run == "." || run == "_" || run == "__" || run.chars().all(|c| c == '-');
                if !valid {
                    return Err(PathProblem::InvalidSeparator { separator: run });
                }
                run.clear();
            }
        } else {
            run.push(c);
        }
    }
    Ok(())
}

/// Checks a (non-empty) tag against `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn validate_tag(tag: &str) -> Result<(), RefError> {
    let invalid = |problem| RefError::InvalidTag {
        tag: tag.to_owned(),
        problem,
    };
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    if let Some(character) = chars.next().filter(|&c| !is_word(c)) {
        return Err(invalid(TagProblem::BadStart { character }));
    }
    if let Some(character) = chars.find(|&c| !(is_word(c) || c == '.' || c == '-')) {
        return Err(invalid(TagProblem::InvalidCharacter { character }));
    }
    let length = tag.chars().count();
    if length > TAG_MAX_LEN {
        return Err(RefError::TagTooLong {
            tag: tag.to_owned(),
            length,
        });
    }
    Ok(())
}

/// Lowercases `text`, replaces every run of characters outside `[a-z0-9.]` by one `-`, and
/// keeps at most `max` characters. Falls back to `image` if the result would be unusable
/// as a file name (empty, or dots only), which a parsed reference never produces.
fn slugify(text: &str, max: usize) -> String {
    let mut slug = String::with_capacity(text.len().min(max));
    let mut in_run = false;
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
            slug.push(c);
            in_run = false;
        } else if !in_run {
            slug.push('-');
            in_run = true;
        }
    }
    let slug: String = slug.chars().take(max).collect();
    if slug.chars().all(|c| c == '.') {
        return "image".to_owned();
    }
    slug
}

impl fmt::Display for ImageRef {
    /// The canonical form, [`ImageRef::canonical`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for ImageRef {
    type Err = RefError;

    fn from_str(s: &str) -> Result<ImageRef, RefError> {
        ImageRef::parse(s)
    }
}

impl TryFrom<String> for ImageRef {
    type Error = RefError;

    fn try_from(s: String) -> Result<ImageRef, RefError> {
        ImageRef::parse(&s)
    }
}

impl TryFrom<&str> for ImageRef {
    type Error = RefError;

    fn try_from(s: &str) -> Result<ImageRef, RefError> {
        ImageRef::parse(s)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.qualified())
    }
}
