//! Tags and the `allowTags` regexes that watch them: a tag to its anchored regex and back.
//! One place for both directions, so the analyzer that writes `allowTags` and the generator
//! that reads it agree.

use crate::reference::validate_tag;

/// Whether `tag` follows Docker's tag grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty() && validate_tag(tag).is_ok()
}

/// The anchored regex matching exactly `tag`, escaped once (`3.12-slim` → `^3\.12-slim$`;
/// `-` is literal outside a class and stays as written, so the regex reads like the tag).
pub fn anchored(tag: &str) -> String {
    format!("^{}$", escape(tag))
}

/// The anchored regex matching exactly one of `tags` (`^(1\.4|2)$`); one tag as [`anchored`].
pub fn anchored_any(tags: &[String]) -> String {
    match tags {
        [one] => anchored(one),
        many => {
            let alts: Vec<String> = many.iter().map(|t| escape(t)).collect();
            format!("^({})$", alts.join("|"))
        }
    }
}

/// The tag an anchored literal regex matches (`^3\.12-slim$` → `3.12-slim`), or `None` when
/// the regex can match anything else (an unescaped `.`, a class, a group, no anchors).
pub fn literal(re: &str) -> Option<String> {
    let inner = re.strip_prefix('^')?.strip_suffix('$')?;
    let mut tag = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('.' | '-' | '_') => tag.push(e),
                _ => return None,
            },
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => tag.push(c),
            _ => return None,
        }
    }
    is_tag(&tag).then_some(tag)
}

/// Escapes the regex metacharacters of `text` once.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchored_and_literal_are_inverse_for_tags() {
        for tag in [
            "3.12-slim",
            "v1.40.0-focal",
            "latest",
            "22-bookworm-slim",
            "a_b",
        ] {
            assert_eq!(literal(&anchored(tag)).as_deref(), Some(tag));
        }
        assert_eq!(anchored("3.12-slim"), "^3\\.12-slim$");
        assert_eq!(anchored_any(&["1.4".into(), "2".into()]), "^(1\\.4|2)$");
    }

    #[test]
    fn patterns_are_not_literal() {
        assert_eq!(
            literal("^3.12-slim$"),
            None,
            "an unescaped dot is a pattern"
        );
        assert_eq!(literal("^3\\.12-.*$"), None);
        assert_eq!(literal("3\\.12"), None);
        assert_eq!(literal("^$"), None);
    }

    #[test]
    fn tag_grammar() {
        assert!(is_tag("v1.2_3-x"));
        assert!(!is_tag(""));
        assert!(!is_tag(".x"));
        assert!(!is_tag(&"a".repeat(129)));
    }
}
