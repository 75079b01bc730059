//! Entity names and keys: Backstage's rules for names, annotation keys and entity
//! references, and the name of each image, hashed when cut or shared.

use std::collections::BTreeMap;

use if_model::digest::Digest;

use super::{HASH_LEN, MAX_NAME_LEN, Source};

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
