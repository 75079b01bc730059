//! What a registry check (`image-factory check`) leaves on the image it looked at: the
//! digest it found, recorded like any observed update, or why the lookup failed.
//!
//! A failure is kept on the image (`checkError`, with `checkErrorSince`, which moves only
//! when the message changes, so a failure that repeats every run makes no new diff) and
//! cleared by the next success. A failure changes nothing else: no digest, no schedule.

use if_model::digest::Digest;
use if_model::enrollment::Enrollment;
use if_model::timestamp::Timestamp;

use super::Subject;
use super::record::{Recorded, record};
use crate::analyze::Analysis;

/// Records that the watched image `subject` (resolved with [`super::Index`]) has `digest`,
/// seen at `at`: as [`super::record_update`] would, and clears a failure recorded by an
/// earlier check.
pub fn check_found(
    enrollment: &Enrollment,
    world: &mut Analysis,
    subject: &Subject,
    digest: &Digest,
    at: Timestamp,
) -> Recorded {
    set_error(world, subject, None, at);
    record(enrollment, world, subject, digest, at)
}

/// Records that checking the watched image `subject` failed with `message` at `at`. Returns
/// whether the state changed (not when the same failure is already recorded).
pub fn check_failed(world: &mut Analysis, subject: &Subject, message: &str, at: Timestamp) -> bool {
    set_error(world, subject, Some(message), at)
}

/// Sets (or with `None` clears) the recorded failure; true when it changed.
fn set_error(
    world: &mut Analysis,
    subject: &Subject,
    message: Option<&str>,
    at: Timestamp,
) -> bool {
    let slots = match subject {
        Subject::Image { name } => world
            .images
            .get_mut(name)
            .map(|s| (&mut s.check_error, &mut s.check_error_since)),
        Subject::Base { identity, .. } => world
            .bases
            .get_mut(identity)
            .map(|b| (&mut b.check_error, &mut b.check_error_since)),
    };
    let Some((error, since)) = slots else {
        return false;
    };
    if error.as_deref() == message {
        return false;
    }
    let name = subject.name();
    match message {
        Some(m) => {
            *error = Some(m.to_string());
            *since = Some(at);
            world.changes.push(format!("{name}: check failed: {m}"));
        }
        None => {
            *error = None;
            *since = None;
            world.changes.push(format!("{name}: check succeeds again"));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebuild::Index;
    use crate::rebuild::tests::{day, digest, img, setup};

    #[test]
    fn a_failure_is_kept_once_and_cleared_by_a_success() {
        let (en, mut world) = setup(&[img("app", &["node:22"])]);
        let base = world.bases.values().next().unwrap().name.clone();
        let subject = Index::new(&en, &world).resolve(&base).unwrap();
        let (t1, t2) = (day(1), day(2));
        assert!(check_failed(&mut world, &subject, "not found", t1));
        // The same failure again changes nothing, not even the time.
        assert!(!check_failed(&mut world, &subject, "not found", t2));
        let b = world.bases.values().find(|b| b.name == base).unwrap();
        assert_eq!(b.check_error.as_deref(), Some("not found"));
        assert_eq!(b.check_error_since, Some(t1));
        assert!(b.current_digest.is_none(), "a failure records no digest");
        // Another failure moves the time.
        assert!(check_failed(&mut world, &subject, "refused", t2));
        let rec = check_found(&en, &mut world, &subject, &digest(1), t2);
        assert_eq!(rec.outcome, "baseline");
        let b = world.bases.values().find(|b| b.name == base).unwrap();
        assert_eq!((b.check_error.as_ref(), b.check_error_since), (None, None));
        assert!(
            world
                .changes
                .iter()
                .any(|c| c.ends_with("check succeeds again"))
        );
    }
}
