//! Kubernetes names for the generated resources: RFC 1123 labels (lowercase letters, digits
//! and `-`, starting and ending with a letter or digit, at most 63 characters), derived from
//! image names and base-image slugs. A name that is too long is cut and given a hash suffix
//! of its full identity; names that would collide all get one. Both depend only on the
//! input, so names are stable from run to run.

use std::collections::BTreeMap;

use if_model::digest::Digest;

/// The maximum length of a generated name (a Kubernetes label value).
pub const MAX_LEN: usize = 63;
/// Hex digits of the hash suffix.
const HASH_LEN: usize = 8;

/// `prefix-id` made into an RFC 1123 label: lowercased, every run of other characters
/// replaced by one `-`, trimmed; cut with a hash suffix when longer than [`MAX_LEN`].
pub fn kube_name(prefix: &str, id: &str) -> String {
    let plain = sanitize(&format!("{prefix}-{id}"));
    if plain.len() <= MAX_LEN {
        plain
    } else {
        hashed(&plain, prefix, id)
    }
}

/// The name with the hash of `prefix/id` appended, cut to fit [`MAX_LEN`].
fn hashed(plain: &str, prefix: &str, id: &str) -> String {
    let digest = Digest::of_sha256_bytes(format!("{prefix}/{id}").as_bytes());
    let hex = digest.hex();
    let suffix = hex.get(..HASH_LEN).unwrap_or(hex);
    let keep = MAX_LEN - HASH_LEN - 1;
    let head = plain.get(..keep).unwrap_or(plain).trim_end_matches('-');
    format!("{head}-{suffix}")
}

/// Lowercase `[a-z0-9]` runs joined by single `-`.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Names for a set of `(prefix, id)` keys: [`kube_name`] of each, except that keys whose
/// names would be equal all get the hash suffix (so no key's name depends on which of the
/// colliding keys came first). Keys must be distinct.
pub fn assign(keys: &[(String, String)]) -> BTreeMap<(String, String), String> {
    let mut by_name: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
    for key in keys {
        by_name
            .entry(kube_name(&key.0, &key.1))
            .or_default()
            .push(key);
    }
    let mut out = BTreeMap::new();
    for (name, group) in by_name {
        if group.len() == 1 {
            for key in group {
                out.insert(key.clone(), name.clone());
            }
            continue;
        }
        for key in group {
            let full = sanitize(&format!("{}-{}", key.0, key.1));
            out.insert(key.clone(), hashed(&full, &key.0, &key.1));
        }
    }
    out
}

/// A label value for `s` (an image name or base-image slug): `s` itself when it is one
/// (at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends), else a sanitized name cut
/// with the hash of `s`.
pub fn label_value(s: &str) -> String {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if s.len() <= MAX_LEN
        && s.chars().all(ok_char)
        && alnum(s.chars().next())
        && alnum(s.chars().last())
    {
        return s.to_string();
    }
    hashed(&sanitize(s), "label", s)
}

/// Whether `name` is an RFC 1123 label of at most [`MAX_LEN`] characters.
pub fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !name.is_empty()
        && name.len() <= MAX_LEN
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_names_stay_readable() {
        assert_eq!(
            kube_name("base", "node-22-bookworm-slim"),
            "base-node-22-bookworm-slim"
        );
        assert_eq!(
            kube_name("base", "python-3.12-slim"),
            "base-python-3-12-slim"
        );
        assert_eq!(kube_name("image", "my_app..x"), "image-my-app-x");
        assert_eq!(kube_name("image", "--"), "image");
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let id = "mcr.microsoft.com-playwright-v1.40.0-focal-and-a-very-long-suffix-indeed";
        let a = kube_name("base", id);
        assert!(a.len() <= MAX_LEN && a.len() > 50, "{a}");
        assert!(is_valid(&a), "{a}");
        assert_eq!(a, kube_name("base", id), "stable");
        let other = kube_name("base", &format!("{id}2"));
        assert_ne!(a, other);
        assert_eq!(a[..50], other[..50]);
    }

    #[test]
    fn colliding_names_all_get_a_hash() {
        let keys = vec![
            ("base".to_string(), "python-3.12-slim".to_string()),
            ("base".to_string(), "python-3-12-slim".to_string()),
            ("base".to_string(), "node-22".to_string()),
        ];
        let names = assign(&keys);
        assert_eq!(names[&keys[2]], "base-node-22");
        assert_ne!(names[&keys[0]], names[&keys[1]]);
        for n in names.values() {
            assert!(is_valid(n), "{n}");
        }
        assert!(names[&keys[0]].starts_with("base-python-3-12-slim-"));
        let mut reversed = keys.clone();
        reversed.reverse();
        assert_eq!(assign(&reversed), names, "order does not matter");
    }

    #[test]
    fn label_values() {
        assert_eq!(label_value("python-3.12-slim"), "python-3.12-slim");
        assert_eq!(label_value("my_app"), "my_app");
        let long = "ghcr.io-acme-a-very-long-organisation-name-and-repository-name-1.2.3";
        let v = label_value(long);
        assert!(v.len() <= MAX_LEN && v.len() > 50, "{v}");
        assert!(is_valid(&v), "{v}");
    }

    #[test]
    fn validity() {
        assert!(is_valid("a-b-1"));
        assert!(!is_valid("-a"));
        assert!(!is_valid("a.b"));
        assert!(!is_valid("A"));
        assert!(!is_valid(&"a".repeat(64)));
    }
}
