//! From a watch configuration (`allowTags`, `imageSelectionStrategy`) to what a Warehouse
//! subscribes to: the `Digest` strategy on one tag when `allowTags` is an anchored literal
//! tag, otherwise `allowTagsRegexes` with a tag-ordering strategy. Doubled regex escapes
//! (`^3\\.12-slim$`, written by the original implementation) are repaired, never copied.

use if_model::enrollment::{SelectionStrategy, check_allow_tags};
use if_model::tags::{anchored, literal as literal_tag};

/// The strategy used with `allowTagsRegexes` when none is configured (the seeds' default).
pub const DEFAULT_STRATEGY: SelectionStrategy = SelectionStrategy::Lexical;

/// What an image subscription selects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selection {
    /// The digest behind one (mutable) tag.
    Digest {
        /// The tag.
        tag: String,
    },
    /// The newest of the tags matching any regex, by `strategy` (never `Digest`).
    Tags {
        /// `Lexical`, `SemVer` or `NewestBuild`.
        strategy: SelectionStrategy,
        /// The regexes (`allowTagsRegexes`).
        regexes: Vec<String>,
    },
}

/// A selection and what had to be adjusted to get it (reported as warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The selection.
    pub selection: Selection,
    /// Adjustments made to the configuration, for the user.
    pub notes: Vec<String>,
}

/// The selection for an `allowTags` regex and an optional strategy. An error when the regex
/// is unusable (it does not compile, even after repairing doubled escapes).
pub fn from_allow_tags(re: &str, strategy: Option<SelectionStrategy>) -> Result<Derived, String> {
    let mut notes = Vec::new();
    let re = match check_allow_tags(re) {
        Ok(()) => re.to_string(),
        Err(problem) => {
            let fixed = re.replace("\\\\", "\\");
            if fixed != re && check_allow_tags(&fixed).is_ok() {
                notes.push(format!(
                    "allowTags `{re}` has a doubled escape; the Warehouse uses `{fixed}`"
                ));
                fixed
            } else {
                return Err(format!("{problem}; no Warehouse is generated for it"));
            }
        }
    };
    if let Some(tag) = literal_tag(&re) {
        return Ok(Derived {
            selection: Selection::Digest { tag },
            notes,
        });
    }
    let strategy = match strategy {
        Some(SelectionStrategy::Digest) => {
            notes.push(format!(
                "imageSelectionStrategy Digest needs one literal tag (like ^22-slim$), but allowTags `{re}` is a pattern; the Warehouse uses {DEFAULT_STRATEGY}"
            ));
            DEFAULT_STRATEGY
        }
        Some(s) => s,
        None => DEFAULT_STRATEGY,
    };
    Ok(Derived {
        selection: Selection::Tags {
            strategy,
            regexes: vec![re],
        },
        notes,
    })
}

/// The selection for a set of tags known from base-image references: `Digest` on the tag
/// when there is one, the newest build among them when there are several. `None` when empty.
pub fn from_tags(tags: &[String]) -> Option<Selection> {
    match tags {
        [] => None,
        [tag] => Some(Selection::Digest { tag: tag.clone() }),
        many => Some(Selection::Tags {
            strategy: SelectionStrategy::NewestBuild,
            regexes: many.iter().map(|t| anchored(t)).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(tag: &str) -> Selection {
        Selection::Digest {
            tag: tag.to_string(),
        }
    }

    #[test]
    fn anchored_literals_become_digest_constraints() {
        for (re, tag) in [
            ("^22-bookworm-slim$", "22-bookworm-slim"),
            ("^3\\.12-slim$", "3.12-slim"),
            ("^latest$", "latest"),
            ("^v1\\.40\\.0-focal$", "v1.40.0-focal"),
        ] {
            let d = from_allow_tags(re, Some(SelectionStrategy::Lexical)).unwrap();
            assert_eq!(d.selection, digest(tag), "{re}");
            assert!(d.notes.is_empty());
        }
    }

    #[test]
    fn doubled_escapes_are_repaired_with_a_note() {
        let d = from_allow_tags("^3\\\\.12-slim$", None).unwrap();
        assert_eq!(d.selection, digest("3.12-slim"));
        assert_eq!(d.notes.len(), 1);
        assert!(d.notes[0].contains("^3\\.12-slim$"), "{}", d.notes[0]);
    }

    #[test]
    fn patterns_keep_their_strategy() {
        let d = from_allow_tags("^16\\.\\d+-alpine$", Some(SelectionStrategy::SemVer)).unwrap();
        assert_eq!(
            d.selection,
            Selection::Tags {
                strategy: SelectionStrategy::SemVer,
                regexes: vec!["^16\\.\\d+-alpine$".to_string()]
            }
        );
        let d = from_allow_tags("^3.12-slim$", None).unwrap();
        assert!(
            matches!(
                d.selection,
                Selection::Tags {
                    strategy: SelectionStrategy::Lexical,
                    ..
                }
            ),
            "an unescaped dot is a pattern"
        );
        let d = from_allow_tags("^1\\.[0-9]+$", Some(SelectionStrategy::Digest)).unwrap();
        assert!(matches!(
            d.selection,
            Selection::Tags {
                strategy: SelectionStrategy::Lexical,
                ..
            }
        ));
        assert_eq!(d.notes.len(), 1);
    }

    #[test]
    fn broken_regexes_are_refused() {
        let err = from_allow_tags("^(16$", None).unwrap_err();
        assert!(err.contains("not a valid regex"), "{err}");
    }

    #[test]
    fn literal_detection() {
        assert_eq!(literal_tag("^a_b-c\\.d$").as_deref(), Some("a_b-c.d"));
        assert_eq!(literal_tag("22-slim"), None);
        assert_eq!(literal_tag("^22-slim"), None);
        assert_eq!(literal_tag("^(22)$"), None);
        assert_eq!(literal_tag("^\\d$"), None);
        assert_eq!(literal_tag("^$"), None);
        assert_eq!(literal_tag("^-x$"), None);
    }

    #[test]
    fn tags_from_references() {
        assert_eq!(from_tags(&[]), None);
        assert_eq!(from_tags(&["1.4".to_string()]), Some(digest("1.4")));
        assert_eq!(
            from_tags(&["1.4".to_string(), "latest".to_string()]),
            Some(Selection::Tags {
                strategy: SelectionStrategy::NewestBuild,
                regexes: vec!["^1\\.4$".to_string(), "^latest$".to_string()]
            })
        );
        assert_eq!(anchored("a.b-c"), "^a\\.b-c$");
    }
}
