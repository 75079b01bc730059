//! The files a run writes: only those whose content changed, at their existing path, or at
//! `state/images/<name>.yaml` / `state/base-images/<slug>.yaml` for new ones.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use if_model::factory::Factory;
use if_model::state::{BaseImageState, ImageState};
use if_model::yaml::WriteError;

use crate::analyze::{Analysis, file_stem};

/// The first line of every state file the tool writes.
pub const HEADER: &str = "# Written by image-factory: edit images.yaml, not this file.\n";

/// One file to write, relative to the factory root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `state/images/backstage.yaml`.
    pub path: String,
    /// The whole new text.
    pub contents: String,
    /// Whether the file is new.
    pub created: bool,
}

/// What the state files said when they were read: the path of each and a fingerprint of
/// its parsed content (images by name, base images by identity). [`plan_writes`] compares
/// new states with it, so the engine can take the states out of the factory instead of
/// working on a copy (at 100,000 images, each copy is hundreds of megabytes).
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    images: HashMap<String, (String, Fingerprint)>,
    bases: HashMap<String, (String, Fingerprint)>,
}

/// 128 bits of hash of a parsed state (positions and layout do not count, as in `==`).
type Fingerprint = (u64, u64);

fn fingerprint<T: Hash>(value: &T) -> Fingerprint {
    let mut h = Fingerprinter::default();
    value.hash(&mut h);
    (h.a, h.b)
}

/// The hasher of fingerprints: two lanes, each mixing a word at a time by a rotation, an xor
/// and a multiplication by an odd constant. Every step is invertible, so two inputs that
/// differ in a single word always get different lanes; other differences collide with a
/// chance of about 2^-128. It is several times faster than the standard library's SipHash,
/// whose defence of hash tables against chosen keys a fingerprint does not need (at 100,000
/// images, SipHash was 8% of `analyze`).
#[derive(Default)]
struct Fingerprinter {
    a: u64,
    b: u64,
}

impl Fingerprinter {
    fn word(&mut self, w: u64) {
        self.a = (self.a.rotate_left(23) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.b = (self.b.rotate_left(41) ^ w).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    }
}

impl Hasher for Fingerprinter {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
        // The last bytes, padded, with their count in the top bits.
        let rest = words.remainder();
        let mut w = [0u8; 8];
        for (to, from) in w.iter_mut().zip(rest) {
            *to = *from;
        }
        self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 61));
    }

    fn write_u8(&mut self, n: u8) {
        self.word(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.word(n as u64);
    }

    fn finish(&self) -> u64 {
        self.a
    }
}

/// The baseline of the factory as read.
pub fn baseline(factory: &Factory) -> Baseline {
    let images = if_model::par::map(&factory.images, |(p, s)| {
        (s.name.clone(), (p.clone(), fingerprint(s)))
    });
    let bases = if_model::par::map(&factory.bases, |(p, s)| {
        let identity = s.image_ref()?.identity();
        Some((identity, (p.clone(), fingerprint(s))))
    });
    let mut out = Baseline {
        images: HashMap::with_capacity(images.len()),
        bases: HashMap::with_capacity(bases.len()),
    };
    for (name, file) in images {
        out.images.entry(name).or_insert(file);
    }
    for (identity, file) in bases.into_iter().flatten() {
        out.bases.entry(identity).or_insert(file);
    }
    out
}

/// The writes that bring the factory's files (as `baseline` recorded them) to `analysis`: a
/// file whose state did not change is left alone, byte for byte. Sorted by path.
pub fn plan_writes(baseline: &Baseline, analysis: &Analysis) -> Result<Vec<Write>, WriteError> {
    let mut writes = changed(
        &analysis.images,
        &baseline.images,
        "images",
        |name, _| name,
        ImageState::to_yaml,
    )?;
    writes.extend(changed(
        &analysis.bases,
        &baseline.bases,
        "base-images",
        |_, state| &state.name,
        BaseImageState::to_yaml,
    )?);
    writes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(writes)
}

/// The writes of the states in `state/<dir>/` whose fingerprint differs from `old`'s (same
/// keys): at the file's existing path, or at `state/<dir>/<name>.yaml` for a new one (`name`
/// of its key and state). Fingerprints and texts are made in parallel: a record-update of a
/// popular base image rewrites thousands of files.
fn changed<S: Hash + Sync>(
    states: &BTreeMap<String, S>,
    old: &HashMap<String, (String, Fingerprint)>,
    dir: &str,
    name: for<'a> fn(&'a str, &'a S) -> &'a str,
    to_yaml: fn(&S) -> Result<String, WriteError>,
) -> Result<Vec<Write>, WriteError> {
    let states: Vec<(&String, &S)> = states.iter().collect();
    let changed: Vec<(String, bool, &S)> =
        if_model::par::map(&states, |(key, state)| match old.get(key.as_str()) {
            Some((_, fp)) if *fp == fingerprint(state) => None,
            Some((path, _)) => Some((relative(dir, path), false, *state)),
            None => Some((
                format!("state/{dir}/{}.yaml", name(key, state)),
                true,
                *state,
            )),
        })
        .into_iter()
        .flatten()
        .collect();
    let texts = if_model::par::map(&changed, |(_, _, state)| to_yaml(state));
    changed
        .into_iter()
        .zip(texts)
        .map(|((path, created, _), text)| {
            Ok(Write {
                path,
                contents: format!("{HEADER}{}", text?),
                created,
            })
        })
        .collect()
}

/// The write of image `name`'s state alone, when it changed since `baseline`, which then
/// records it as written: a run that writes each outcome as soon as it is known (a
/// reconcile, one build at a time) and [`plan_writes`] at the end writes each file once.
pub fn plan_image_write(
    baseline: &mut Baseline,
    analysis: &Analysis,
    name: &str,
) -> Result<Option<Write>, WriteError> {
    let Some(state) = analysis.images.get(name) else {
        return Ok(None);
    };
    let fp = fingerprint(state);
    let (path, created) = match baseline.images.get(name) {
        Some((_, old)) if *old == fp => return Ok(None),
        Some((path, _)) => (relative("images", path), false),
        None => (format!("state/images/{name}.yaml"), true),
    };
    let contents = format!("{HEADER}{}", state.to_yaml()?);
    baseline.images.insert(name.to_string(), (path.clone(), fp));
    Ok(Some(Write {
        path,
        contents,
        created,
    }))
}

fn relative(dir: &str, path: &str) -> String {
    let stem = file_stem(path).unwrap_or_default();
    format!("state/{dir}/{stem}.yaml")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use if_model::factory::{self, FactoryFiles, SourceFile};

    use super::*;
    use crate::rebuild;

    const WEB: &str = "name: web\nbaseImages:\n  - node-22\nrebuildHistory:\n  - triggeredAt: \"2024-12-04T10:00:00Z\"\n    success: true\n    extraKey: {a: 1}\n";
    /// `WEB` written differently: flow style, other quoting, comments, other positions.
    const WEB_RELAID: &str = "# moved around\nname: 'web'\nbaseImages: [node-22]\nrebuildHistory: [{triggeredAt: 2024-12-04T10:00:00Z, success: true, extraKey: {a: 1}}]\n";

    fn factory(web: &str) -> Factory {
        let files = FactoryFiles {
            images: None,
            image_states: vec![SourceFile {
                path: "root/state/images/web-file.yaml".to_string(),
                text: web.to_string(),
            }],
            base_states: vec![SourceFile {
                path: "root/state/base-images/node-22.yaml".to_string(),
                text: "name: node-22\nfullImage: node:22\n".to_string(),
            }],
        };
        let (f, diags) = factory::load(&files);
        assert!(diags.is_empty(), "{diags:?}");
        f
    }

    #[test]
    fn the_same_states_written_differently_need_no_write() {
        let base = baseline(&factory(WEB));
        let (_, world) = rebuild::take(factory(WEB_RELAID));
        assert!(plan_writes(&base, &world).unwrap().is_empty());
    }

    #[test]
    fn any_change_is_written_at_the_files_own_path() {
        let base = baseline(&factory(WEB));
        for changed in [
            WEB.replace("success: true", "success: false"),
            WEB.replace("{a: 1}", "{a: 2}"),
            WEB.replace("{a: 1}", "{b: 1}"),
            WEB.replace("node-22\n", "node-20\n"),
        ] {
            let (_, world) = rebuild::take(factory(&changed));
            let writes = plan_writes(&base, &world).unwrap();
            let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
            assert_eq!(paths, ["state/images/web-file.yaml"], "{changed}");
            assert!(!writes[0].created);
        }
        let (_, mut world) = rebuild::take(factory(WEB));
        world
            .bases
            .values_mut()
            .for_each(|b| b.tag = Some("20".into()));
        world.images.clear();
        let writes = plan_writes(&base, &world).unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].path, "state/base-images/node-22.yaml");
    }

    #[test]
    fn fingerprints_tell_apart_any_one_changed_byte_and_any_length() {
        let text: Vec<u8> = (0..100u8).collect();
        let mut seen = std::collections::HashSet::new();
        assert!(seen.insert(fingerprint(&text)));
        for i in 0..text.len() {
            for bit in 0..8 {
                let mut changed = text.clone();
                changed[i] ^= 1 << bit;
                assert!(seen.insert(fingerprint(&changed)), "byte {i} bit {bit}");
            }
        }
        // Strings that are prefixes of one another, and strings of zero bytes.
        let mut lengths = std::collections::HashSet::new();
        for n in 0..40 {
            assert!(lengths.insert(fingerprint(&"x".repeat(n))));
            assert!(lengths.insert(fingerprint(&vec![0u8; n])));
        }
        // As `==`: positions do not count.
        let a = if_model::yaml::parse("k: [1, 2]\n").unwrap();
        let b = if_model::yaml::parse("\n\nk:\n  - 1\n  - 2\n").unwrap();
        assert_eq!(a, b);
        assert_eq!(fingerprint(&a), fingerprint(&b));
    }

    #[test]
    fn a_state_without_a_file_is_created() {
        let (_, mut world) = rebuild::take(factory(WEB));
        let mut other = world.images["web"].clone();
        other.name = "api".into();
        world.images.insert("api".into(), other);
        let writes = plan_writes(&baseline(&factory(WEB)), &world).unwrap();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].path, "state/images/api.yaml");
        assert!(writes[0].created);
    }
}
