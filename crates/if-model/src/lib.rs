//! Image Factory's data model: the types of `images.yaml` and the state files, image
//! references, digests, durations, validation of an enrollment, and the YAML seam. No I/O.

pub mod decode;
pub mod diag;
pub mod digest;
pub mod duration;
pub mod enrollment;
pub mod factory;
pub mod host_rules;
pub mod par;
pub mod reference;
pub mod state;
pub mod supply;
pub mod tags;
pub mod timestamp;
pub mod yaml;
