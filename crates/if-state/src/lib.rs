//! Image Factory's state logic, pure: the merge of the enrollment (`images.yaml`) with the
//! discovered state, the lifecycle of enrolled and base images, and the files a run writes.
//!
//! Nothing here reads files, the network, the environment or the clock: the caller passes
//! the factory's file contents, what discovery found, and the time `now`.

pub mod analyze;
pub mod attest;
pub mod catalog;
pub mod cosign;
mod enrollment_copy;
pub mod files;
pub mod rebuild;
pub mod scan;
pub mod watch;

pub use analyze::{Analysis, Discovery, Published, Request, analyze};
pub use files::{Baseline, Write, baseline, plan_image_write, plan_writes};
