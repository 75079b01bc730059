//! `check`'s signature step (issue 23): for every digest a pending rebuild under
//! `requireSignature` waits on and whose signature was not verified with the image's key
//! (that key file, that key's fingerprint: a failed or missing one is asked again),
//! fetch its cosign signatures from the base's registry (`if-registry`), verify them with
//! the key file (`if-state::cosign`) and record the outcome on the base image, where the
//! engine reads it. The key file is read inside the factory only (no link, no `..`: the
//! enrollment refuses those), capped in size. Failing closed: an unreadable key or a
//! missing signature is recorded as not verified (the cause stays held, with the reason); a
//! registry that did not answer records nothing, so the next run asks again.

use std::collections::BTreeMap;
use std::path::Path;

use if_model::enrollment::Enrollment;
use if_model::reference::ImageRef;
use if_model::timestamp::Timestamp;
use if_registry::{Client, Signatures, fetch_signatures};
use if_state::cosign::{self, PublicKey};

use crate::safefs;

/// Largest public key file read (a PEM P-256 key is under 200 bytes).
const MAX_KEY_BYTES: u64 = 16 * 1024;

/// The signature checks a run owes: each key file read once, and what it owes.
pub(crate) struct Owing {
    keys: BTreeMap<String, Result<PublicKey, String>>,
    owed: Vec<cosign::Owed>,
}

/// What the state owes: the key files of every image under `requireSignature` read (inside
/// the factory) and fingerprinted, and the digests not verified with them
/// (`if_state::cosign::owed`). What was read is noted in `world.keys`, so the engine judges
/// each image by the check of its own key.
pub(crate) fn owing(root: &Path, enrollment: &Enrollment, world: &mut if_state::Analysis) -> Owing {
    let keys = read_keys(root, enrollment);
    world.keys = key_reads(&keys);
    let fingerprints: BTreeMap<String, String> = world
        .keys
        .iter()
        .filter_map(|(file, fp)| Some((file.clone(), fp.clone()?)))
        .collect();
    let owed = cosign::owed(enrollment, world, &fingerprints);
    Owing { keys, owed }
}

/// Reads the key files of every image under `requireSignature` and notes their fingerprints
/// in `world.keys` (`status`, `plan`: the engine judges each image by its key's check).
pub(crate) fn note_keys(root: &Path, enrollment: &Enrollment, world: &mut if_state::Analysis) {
    world.keys = key_reads(&read_keys(root, enrollment));
}

fn read_keys(root: &Path, enrollment: &Enrollment) -> BTreeMap<String, Result<PublicKey, String>> {
    cosign::key_files(enrollment)
        .into_iter()
        .map(|file| {
            let key = read_key(root, &file);
            (file, key)
        })
        .collect()
}

/// Each key file's fingerprint, `None` when it could not be read.
fn key_reads(
    keys: &BTreeMap<String, Result<PublicKey, String>>,
) -> BTreeMap<String, Option<String>> {
    keys.iter()
        .map(|(file, key)| (file.clone(), key.as_ref().ok().map(PublicKey::fingerprint)))
        .collect()
}

impl Owing {
    /// Nothing is owed (no registry needs asking).
    pub(crate) fn is_empty(&self) -> bool {
        self.owed.is_empty()
    }

    /// Checks and records every owed signature; returns warnings for checks that could not
    /// be made (and so were not recorded).
    pub(crate) fn check(
        self,
        client: &Client,
        world: &mut if_state::Analysis,
        now: Timestamp,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        for owed in &self.owed {
            let Some(key) = self.keys.get(&owed.key_file) else {
                continue;
            };
            let outcome = match key {
                Err(why) => Err(why.clone()),
                Ok(key) => match fetch(client, owed) {
                    Ok(Signatures::Missing) => Err(format!(
                        "no signature (no tag {} in the repository)",
                        if_registry::signature_tag(&owed.digest)
                    )),
                    Ok(Signatures::Found { layers, .. }) => {
                        let layers: Vec<(Vec<u8>, String)> = layers
                            .into_iter()
                            .map(|l| (l.payload, l.signature))
                            .collect();
                        cosign::verify_any(key, &layers, &owed.digest)
                    }
                    Err(e) => {
                        warnings.push(format!(
                            "signature of {} ({}) not checked: {e}",
                            owed.digest.short(),
                            owed.image
                        ));
                        continue;
                    }
                },
            };
            cosign::record_owed(world, owed, outcome, now);
        }
        warnings
    }
}

fn fetch(client: &Client, owed: &cosign::Owed) -> Result<Signatures, String> {
    let image = ImageRef::parse(&owed.image)
        .map_err(|e| format!("`{}` is not a valid reference: {e}", owed.image))?;
    fetch_signatures(client, &image, &owed.digest).map_err(|e| e.to_string())
}

/// Reads and parses `requireSignature.publicKeyFile`, relative to `root`.
fn read_key(root: &Path, key_file: &str) -> Result<PublicKey, String> {
    let path = root.join(key_file);
    let read = || -> Result<Option<Vec<u8>>, crate::exit::CliError> {
        if let Some(dir) = path.parent() {
            safefs::check_dirs_under(root, dir)?;
        }
        safefs::read_capped(&path, MAX_KEY_BYTES)
    };
    let bytes = match read() {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(format!("the key file {key_file} does not exist")),
        Err(e) => return Err(format!("the key file {key_file}: {e}")),
    };
    let pem = String::from_utf8(bytes).map_err(|_| format!("{key_file} is not UTF-8"))?;
    cosign::parse_public_key(&pem).map_err(|e| format!("{key_file}: {e}"))
}
