//! Monitoring configuration (the data-alignment contract): what a Warehouse needs to watch an
//! image, derived from a tag or taken from `images.yaml`.

use if_model::enrollment::{ImageEntry, SelectionStrategy};
use if_model::reference::ImageRef;
use if_model::state::Watch;
use if_model::tags;

/// A base image is watched on its one tag, by digest (a mutable tag gets new digests).
pub fn for_base(reference: &ImageRef) -> Watch {
    let tag = reference.effective_tag().unwrap_or("latest");
    Watch {
        repo_url: Some(reference.repo_url()),
        allow_tags: Some(tags::anchored(tag)),
        image_selection_strategy: Some(SelectionStrategy::Digest),
    }
}

/// An external image is watched as `images.yaml` says (strategy default: Lexical, the seeds').
pub fn for_external(entry: &ImageEntry) -> Watch {
    Watch {
        repo_url: Some(entry.repo_url()),
        allow_tags: entry.allow_tags.clone(),
        image_selection_strategy: Some(
            entry
                .image_selection_strategy
                .unwrap_or(SelectionStrategy::Lexical),
        ),
    }
}

/// A managed image that other enrolled images are built on is watched on the tags they use:
/// its new digest starts the cascade. `allowTags` from `images.yaml` wins when given.
pub fn for_internal_parent(entry: &ImageEntry, tags: &[String]) -> Watch {
    let allow_tags = entry
        .allow_tags
        .clone()
        .unwrap_or_else(|| tags::anchored_any(tags));
    let strategy = entry
        .image_selection_strategy
        .unwrap_or(if tags.len() == 1 {
            SelectionStrategy::Digest
        } else {
            SelectionStrategy::Lexical
        });
    Watch {
        repo_url: Some(entry.repo_url()),
        allow_tags: Some(allow_tags),
        image_selection_strategy: Some(strategy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_anchored_and_escaped_once() {
        assert_eq!(tags::anchored("3.12-slim"), "^3\\.12-slim$");
        assert_eq!(tags::anchored("v1.40.0-focal"), "^v1\\.40\\.0-focal$");
        assert_eq!(
            tags::anchored_any(&["1.4".into(), "2".into()]),
            "^(1\\.4|2)$"
        );
        let re = regex::Regex::new(&tags::anchored("3.12-slim")).unwrap();
        assert!(re.is_match("3.12-slim"));
        assert!(!re.is_match("3x12-slim"));
        assert!(!re.is_match("3.12-slim-bookworm"));
    }

    #[test]
    fn base_watch_uses_the_digest_of_one_tag() {
        let r = ImageRef::parse("node:22-bookworm-slim").unwrap();
        let w = for_base(&r);
        assert_eq!(w.repo_url.as_deref(), Some("docker.io/library/node"));
        assert_eq!(w.allow_tags.as_deref(), Some("^22-bookworm-slim$"));
        assert_eq!(w.image_selection_strategy, Some(SelectionStrategy::Digest));
        let r = ImageRef::parse("gcr.io/distroless/static").unwrap();
        assert_eq!(for_base(&r).allow_tags.as_deref(), Some("^latest$"));
    }
}
