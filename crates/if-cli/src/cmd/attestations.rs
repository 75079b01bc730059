//! `check`'s attestation step (issue 23): for every base digest the check found whose
//! attestation facts are not recorded yet (`if-state::attest::owed`), read its index's
//! attestation manifests (`if-registry`'s `fetch_attestations`) and record provenance and
//! SBOM, yes or no, on the base image. Each digest is read once: a digest whose facts are
//! recorded costs no request. A read that failed is recorded as failed with the reason (a
//! warning), and read again by the next check that finds the digest.

use if_model::digest::Digest;
use if_model::reference::ImageRef;
use if_model::supply::Attestations;
use if_model::timestamp::Timestamp;
use if_registry::{Client, fetch_attestations};
use if_state::attest;

/// Reads and records the attestations owed for `new` and `seen` (`(base key, digest)`
/// found new and unchanged: see `if_state::attest::owed`), `limit` at a time; returns
/// warnings for the reads that failed (recorded as failed, read again by the next check).
pub(crate) fn check_owed(
    client: &Client,
    world: &mut if_state::Analysis,
    new: &[(String, Digest)],
    seen: &[(String, Digest)],
    limit: usize,
    now: Timestamp,
) -> Vec<String> {
    let owed = attest::owed(
        world,
        new.iter().map(|(k, d)| (k.as_str(), d)),
        seen.iter().map(|(k, d)| (k.as_str(), d)),
    );
    let read = if_registry::map_bounded(&owed, limit, |o| read(client, o, now), &|_, _| {});
    let mut warnings = Vec::new();
    for (o, got) in owed.iter().zip(read) {
        match got {
            Ok(a) => attest::record(world, o, a),
            Err(e) => {
                warnings.push(format!(
                    "attestations of {} ({}) not read: {e}",
                    o.digest.short(),
                    o.image
                ));
                attest::record(world, o, Attestations::failed(e, now));
            }
        }
    }
    warnings
}

fn read(client: &Client, owed: &attest::Owed, now: Timestamp) -> Result<Attestations, String> {
    let image = ImageRef::parse(&owed.image)
        .map_err(|e| format!("`{}` is not a valid reference: {e}", owed.image))?;
    let got = fetch_attestations(client, &image, &owed.digest).map_err(|e| e.to_string())?;
    Ok(Attestations::from_predicates(
        got.index,
        got.predicate_types.iter().map(String::as_str),
        now,
    ))
}
