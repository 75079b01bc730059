//! Attestation facts (issue 23), pure: which digests `check` found still need their index
//! read ([`owed`]: each digest once, never again once its facts are recorded), and keeping
//! what it carried ([`record`]) on the base image's `digests` entry. The registry read is
//! `if-registry`'s `fetch_attestations`.

use if_model::digest::Digest;
use if_model::supply::{Attestations, facts, facts_mut};

use crate::Analysis;

/// An index `check` owes a read of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owed {
    /// The base image's key in [`Analysis::bases`].
    pub base: String,
    /// Its reference (`fullImage`), whose repository holds the index.
    pub image: String,
    /// The digest whose index to read.
    pub digest: Digest,
}

/// Of the digests `found` (`(base key, digest)`, as a check found them), those whose
/// attestation facts are not recorded, sorted and without repeats. Keys that are not base
/// images (enrolled images built here) are skipped: digest facts live on base images.
pub fn owed<'a>(
    world: &Analysis,
    found: impl IntoIterator<Item = (&'a str, &'a Digest)>,
) -> Vec<Owed> {
    let mut out = std::collections::BTreeSet::new();
    for (key, digest) in found {
        let Some(base) = world.bases.get(key) else {
            continue;
        };
        let Some(image) = base.full_image.clone() else {
            continue;
        };
        let known = facts(&base.digests, digest).is_some_and(|f| f.attestations.is_some());
        if !known {
            out.insert(Owed {
                base: key.to_string(),
                image,
                digest: digest.clone(),
            });
        }
    }
    out.into_iter().collect()
}

/// Records what `owed`'s index carries on its base image.
pub fn record(world: &mut Analysis, owed: &Owed, attestations: Attestations) {
    if let Some(base) = world.bases.get_mut(&owed.base) {
        facts_mut(&mut base.digests, &owed.digest).attestations = Some(attestations);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use if_model::state::BaseImageState;
    use if_model::timestamp::Timestamp;

    fn world() -> Analysis {
        let mut world = Analysis::default();
        world.bases.insert(
            "r.example/lib/b:1".into(),
            BaseImageState {
                name: "b".into(),
                full_image: Some("r.example/lib/b:1".into()),
                ..BaseImageState::default()
            },
        );
        world
    }

    #[test]
    fn a_digest_is_owed_until_its_facts_are_recorded() {
        let mut world = world();
        let d = Digest::of_sha256_bytes(b"1");
        let found = [
            ("r.example/lib/b:1", &d),
            ("r.example/lib/b:1", &d),
            ("app", &d),
        ];
        let owed = owed(&world, found);
        assert_eq!(owed.len(), 1, "{owed:?}");
        assert_eq!(owed[0].image, "r.example/lib/b:1");
        let at = Timestamp::parse("2026-03-10T10:00:00Z").unwrap();
        record(
            &mut world,
            &owed[0],
            Attestations::from_predicates(false, [], at),
        );
        assert!(super::owed(&world, found).is_empty());
        let other = Digest::of_sha256_bytes(b"2");
        assert_eq!(
            super::owed(&world, [("r.example/lib/b:1", &other)]).len(),
            1
        );
    }
}
