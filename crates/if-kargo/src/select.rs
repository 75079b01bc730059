//! The tag a Warehouse's image subscription picks from a repository's tags, for `check`,
//! which watches registries where no Kargo runs: `Digest` watches its one tag, `SemVer` the
//! highest strict semantic version (Kargo's default `strictSemvers: true`), `Lexical` the
//! greatest tag. `NewestBuild` needs every candidate's build date, which a tag listing does not
//! give.

use std::cmp::Ordering;

use if_model::enrollment::SelectionStrategy;

use crate::watch::Selection;

/// Why no tag could be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No tag of the repository matches the subscription.
    #[error("none of the {listed} tags matches {}{}", .regexes.join(" or "), strict_note(*.strategy))]
    NoMatch {
        /// How many tags the registry listed.
        listed: usize,
        /// The `allowTags` regexes.
        regexes: Vec<String>,
        /// The strategy.
        strategy: SelectionStrategy,
    },
    /// An `allowTags` regex does not compile.
    #[error("allowTags `{regex}` is not a valid regex")]
    BadRegex {
        /// The regex.
        regex: String,
    },
    /// `NewestBuild` orders tags by their images' build dates, which `check` does not read.
    #[error(
        "imageSelectionStrategy NewestBuild needs each tag's build date, which `check` does not read (one manifest request per image); use SemVer, Lexical or one literal tag, or let Kargo watch it"
    )]
    NeedsBuildDates,
}

fn strict_note(strategy: SelectionStrategy) -> &'static str {
    match strategy {
        SelectionStrategy::SemVer => " as a strict semantic version (MAJOR.MINOR.PATCH)",
        _ => "",
    }
}

/// Whether a selection needs the repository's tag list (everything but `Digest`).
pub fn needs_tag_list(selection: &Selection) -> bool {
    !matches!(selection, Selection::Digest { .. })
}

/// The tag `selection` picks from `tags` (the repository's tags, any order, duplicates
/// allowed). `Digest` picks its own tag without looking at `tags`.
pub fn select_tag(selection: &Selection, tags: &[String]) -> Result<String, SelectError> {
    let (strategy, regexes) = match selection {
        Selection::Digest { tag } => return Ok(tag.clone()),
        Selection::Tags { strategy, regexes } => (*strategy, regexes),
    };
    let compiled = regexes
        .iter()
        .map(|r| regex::Regex::new(r).map_err(|_| SelectError::BadRegex { regex: r.clone() }))
        .collect::<Result<Vec<_>, _>>()?;
    let allowed = tags
        .iter()
        .filter(|t| compiled.iter().any(|re| re.is_match(t)));
    let picked = match strategy {
        SelectionStrategy::NewestBuild => return Err(SelectError::NeedsBuildDates),
        SelectionStrategy::SemVer => allowed
            .filter_map(|t| Version::parse(t).map(|v| (v, t)))
            // Equal precedence (`1.2.3` and `v1.2.3+b`): the greater text, for determinism.
            .max_by(|(a, ta), (b, tb)| a.cmp(b).then_with(|| ta.cmp(tb)))
            .map(|(_, t)| t),
        // `Digest` never carries regexes (see `watch::from_allow_tags`); read as Lexical.
        SelectionStrategy::Lexical | SelectionStrategy::Digest => allowed.max(),
    };
    picked.cloned().ok_or_else(|| SelectError::NoMatch {
        listed: tags.len(),
        regexes: regexes.clone(),
        strategy,
    })
}

/// A strict semantic version: `[v]MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` (SemVer 2.0.0
/// precedence; build metadata ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    core: [u64; 3],
    pre: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Text(String),
}

impl Version {
    fn parse(tag: &str) -> Option<Version> {
        let text = tag.strip_prefix('v').unwrap_or(tag);
        let (text, build) = match text.split_once('+') {
            Some((t, b)) => (t, Some(b)),
            None => (text, None),
        };
        if let Some(b) = build
            && !b.split('.').all(is_ident)
        {
            return None;
        }
        let (core, pre) = match text.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (text, None),
        };
        let mut parts = core.split('.');
        let mut numbers = [0u64; 3];
        for n in &mut numbers {
            *n = number(parts.next()?)?;
        }
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|id| {
                    if !is_ident(id) {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        number(id).map(Ident::Num)
                    } else {
                        Some(Ident::Text(id.to_string()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Version { core: numbers, pre })
    }
}

/// A numeric identifier: digits, no leading zero.
fn number(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Text(_)) => Ordering::Less,
            (Ident::Text(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Text(a), Ident::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn semver(re: &str) -> Selection {
        Selection::Tags {
            strategy: SelectionStrategy::SemVer,
            regexes: vec![re.to_string()],
        }
    }

    #[test]
    fn digest_picks_its_tag_without_a_listing() {
        let s = Selection::Digest {
            tag: "22-slim".into(),
        };
        assert!(!needs_tag_list(&s));
        assert_eq!(select_tag(&s, &[]).unwrap(), "22-slim");
        assert!(needs_tag_list(&semver(".*")));
    }

    #[test]
    fn semver_orders_numerically_and_ignores_loose_tags() {
        let list = tags(&[
            "1.9.0",
            "1.10.0",
            "1.10.0-rc.1",
            "latest",
            "2",
            "2.0",
            "abc1234",
            "01.2.3",
            "1.10",
        ]);
        assert_eq!(select_tag(&semver(".*"), &list).unwrap(), "1.10.0");
        let list = tags(&["v2.0.0-rc.2", "v2.0.0-rc.10", "v1.9.9"]);
        assert_eq!(select_tag(&semver("^v"), &list).unwrap(), "v2.0.0-rc.10");
    }

    #[test]
    fn semver_precedence_follows_the_spec() {
        // SemVer 2.0.0 §11's example, in order.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (
                Version::parse(pair[0]).unwrap(),
                Version::parse(pair[1]).unwrap(),
            );
            assert!(a < b, "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(
            Version::parse("1.2.3+build.5")
                .unwrap()
                .cmp(&Version::parse("1.2.3").unwrap()),
            Ordering::Equal
        );
        for bad in [
            "1.2",
            "1.2.3.4",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.x",
            "",
            "v",
            "1.2.3+",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn lexical_picks_the_greatest_allowed_tag() {
        let s = Selection::Tags {
            strategy: SelectionStrategy::Lexical,
            regexes: vec!["^2024\\.".into(), "^2025\\.".into()],
        };
        let list = tags(&[
            "2024.12.01",
            "2025.01.15",
            "2026.01.01-x",
            "nightly",
            "2025.01.15",
        ]);
        assert_eq!(select_tag(&s, &list).unwrap(), "2025.01.15");
    }

    #[test]
    fn no_match_names_the_regexes_and_the_count() {
        let e = select_tag(&semver("^16\\."), &tags(&["15.1.0", "16.1"])).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("none of the 2 tags matches ^16\\."), "{text}");
        assert!(text.contains("strict semantic version"), "{text}");
    }

    #[test]
    fn newest_build_and_bad_regexes_are_errors() {
        let s = Selection::Tags {
            strategy: SelectionStrategy::NewestBuild,
            regexes: vec!["^(1|2)$".into()],
        };
        assert_eq!(
            select_tag(&s, &tags(&["1"])),
            Err(SelectError::NeedsBuildDates)
        );
        assert_eq!(
            select_tag(&semver("("), &tags(&["1.0.0"])),
            Err(SelectError::BadRegex { regex: "(".into() })
        );
    }
}
