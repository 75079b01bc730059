//! Image Factory's Kargo emitter (pure: no files, network, environment or clock).
//!
//! [`generate`] turns a factory (enrollment + state, as [`if_model::factory::load`] reads
//! it) and a [`Config`] (`kargo.yaml`) into the Kargo v1.11 resources that watch it: a
//! Project and its ProjectConfig, a Warehouse and a Stage per watched image (verified once
//! per Freight by one shared AnalysisTemplate that runs `image-factory record-update` then
//! `reconcile`), optionally a git Warehouse and a Stage per managed image's Dockerfile, and
//! the `batch/v1` CronJob that runs `reconcile` on a schedule. [`render()`] writes
//! them as one multi-document YAML file, the same bytes for the same input. For a large
//! factory, [`build::layout`] lists the resources without building them and [`render_each`]
//! builds and writes them a block at a time, so they are never all in memory.
//!
//! Module map: [`monitor`] decides what is watched and how (the data-alignment contract),
//! [`watch`] turns `allowTags` into a subscription, [`select`] picks the tag a subscription
//! would (for `check`, where no Kargo runs), [`build`] makes the resources,
//! [`analysis`] the shared templates, [`schedule`] the reconcile CronJob, [`pod`] the
//! analyzer pod both run, [`check`] the rules between resources, [`names`] the Kubernetes
//! names, [`kargo`], [`rollouts`] and [`batch`] are the typed resources, [`mod@render`] the
//! YAML file, [`writer`] the YAML emitter it uses, [`config`] `kargo.yaml`.

pub mod analysis;
pub mod batch;
pub mod build;
pub mod check;
pub mod config;
pub mod kargo;
pub mod monitor;
pub mod names;
pub mod pod;
pub mod render;
pub mod resource;
pub mod rollouts;
pub mod schedule;
pub mod select;
pub mod watch;
pub mod writer;

use if_model::diag::Diagnostic;
use if_model::factory::Factory;

pub use build::Slot;
pub use config::Config;
pub use render::{Diff, RenderError, diff, render, render_each};
pub use resource::{Generated, Kind, Resource};

/// What [`generate`] produces.
#[derive(Debug, Clone)]
pub struct Output {
    /// The resources, sorted by kind and name.
    pub resources: Vec<Generated>,
    /// What was adjusted or left out (warnings), e.g. a repaired doubled escape.
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    /// Only the resources of one image (an image name or a base-image state name).
    pub fn only(&self, image: &str) -> Vec<Generated> {
        self.resources
            .iter()
            .filter(|g| g.owner.as_deref() == Some(image))
            .cloned()
            .collect()
    }
}

/// The resources for `factory` under `config`. `images_file` names `images.yaml` in the
/// diagnostics (state files are named by the paths the factory was read from).
pub fn generate(factory: &Factory, images_file: &str, config: &Config) -> Output {
    let plan = monitor::plan(factory, images_file);
    let resources = build::build(&plan, config);
    Output {
        resources,
        diagnostics: plan.notes,
    }
}
