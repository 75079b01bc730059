//! Attestation facts (issue 23), pure: which digests `check` found still need their index
//! read ([`owed`]: each new digest once, never again once its facts are recorded; a failed
//! read again at the next check that finds the digest), and keeping what it carried
//! ([`record`]) on the base image's `digests` entry. The registry read is
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

/// The reads owed, sorted and without repeats: of the digests `new` (`(base key, digest)`,
/// as a check found them new), those whose attestation facts are not recorded; and of the
/// digests `seen` (found unchanged), those whose last read failed. Keys that are not base
/// images (enrolled images built here) are skipped: digest facts live on base images.
pub fn owed<'a>(
    world: &Analysis,
    new: impl IntoIterator<Item = (&'a str, &'a Digest)>,
    seen: impl IntoIterator<Item = (&'a str, &'a Digest)>,
) -> Vec<Owed> {
    let mut out = std::collections::BTreeSet::new();
    let new = new.into_iter().map(|f| (f, true));
    for ((key, digest), is_new) in new.chain(seen.into_iter().map(|f| (f, false))) {
        let Some(base) = world.bases.get(key) else {
            continue;
        };
        let Some(image) = base.full_image.clone() else {
            continue;
        };
        let recorded = facts(&base.digests, digest).and_then(|f| f.attestations.as_ref());
        let due = match recorded {
            None => is_new,
            Some(a) => a.error.is_some(),
        };
        if due {
            out.insert(Owed {
                base: key.to_string(),
                image,
                digest: digest.clone(),
            });
        }
    }
    out.into_iter().collect()
}

/// Records what `owed`'s index carries (or why it could not be read) on its base image.
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
    fn a_new_digest_is_owed_until_its_facts_are_recorded_a_failed_read_until_it_succeeds() {
        let mut world = world();
        let d = Digest::of_sha256_bytes(b"1");
        let key = "r.example/lib/b:1";
        let found = [(key, &d), (key, &d), ("app", &d)];
        let owed = owed(&world, found, []);
        assert_eq!(owed.len(), 1, "{owed:?}");
        assert_eq!(owed[0].image, "r.example/lib/b:1");
        assert!(
            super::owed(&world, [], [(key, &d)]).is_empty(),
            "unchanged: not read"
        );
        let at = Timestamp::parse("2026-03-10T10:00:00Z").unwrap();
        record(
            &mut world,
            &owed[0],
            Attestations::failed("HTTP 500".into(), at),
        );
        assert_eq!(
            super::owed(&world, [], [(key, &d)]).len(),
            1,
            "failed: read again"
        );
        record(
            &mut world,
            &owed[0],
            Attestations::from_predicates(false, [], at),
        );
        assert!(super::owed(&world, found, [(key, &d)]).is_empty());
        let other = Digest::of_sha256_bytes(b"2");
        assert_eq!(super::owed(&world, [(key, &other)], []).len(), 1);
    }
}
