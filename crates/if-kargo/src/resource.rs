//! One generated resource of any kind, with the image it belongs to and the fixed order in
//! which the output lists kinds (cluster-scoped Project first, then what the others use).

use serde::Serialize;

use crate::batch::CronJob;
use crate::kargo::{Project, ProjectConfig, Stage, Warehouse};
use crate::rollouts::AnalysisTemplate;

/// A resource of one of the kinds Image Factory emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Resource {
    /// The Project.
    Project(Project),
    /// Its configuration.
    ProjectConfig(ProjectConfig),
    /// A shared verification template.
    AnalysisTemplate(AnalysisTemplate),
    /// A watch.
    Warehouse(Warehouse),
    /// A Stage.
    Stage(Stage),
    /// The scheduled reconcile.
    CronJob(CronJob),
}

/// The kinds, in the order the output lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `Project` (cluster-scoped, first).
    Project,
    /// `ProjectConfig`.
    ProjectConfig,
    /// `AnalysisTemplate`.
    AnalysisTemplate,
    /// `Warehouse`.
    Warehouse,
    /// `Stage`.
    Stage,
    /// `CronJob` (last: it uses what Kargo's objects record).
    CronJob,
}

impl Kind {
    /// The `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "Project",
            Kind::ProjectConfig => "ProjectConfig",
            Kind::AnalysisTemplate => "AnalysisTemplate",
            Kind::Warehouse => "Warehouse",
            Kind::Stage => "Stage",
            Kind::CronJob => "CronJob",
        }
    }
}

impl Resource {
    /// The kind.
    pub fn kind_of(&self) -> Kind {
        match self {
            Resource::Project(_) => Kind::Project,
            Resource::ProjectConfig(_) => Kind::ProjectConfig,
            Resource::AnalysisTemplate(_) => Kind::AnalysisTemplate,
            Resource::Warehouse(_) => Kind::Warehouse,
            Resource::Stage(_) => Kind::Stage,
            Resource::CronJob(_) => Kind::CronJob,
        }
    }

    /// The `kind`.
    pub fn kind(&self) -> &'static str {
        self.kind_of().as_str()
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        match self {
            Resource::Project(r) => &r.metadata.name,
            Resource::ProjectConfig(r) => &r.metadata.name,
            Resource::AnalysisTemplate(r) => &r.metadata.name,
            Resource::Warehouse(r) => &r.metadata.name,
            Resource::Stage(r) => &r.metadata.name,
            Resource::CronJob(r) => &r.metadata.name,
        }
    }

    /// Position of the kind in the output.
    pub fn kind_order(&self) -> u8 {
        self.kind_of() as u8
    }
}

/// A resource and the image (name or base-image state name) it belongs to; `None` for the
/// shared ones (Project, ProjectConfig, AnalysisTemplates, the CronJob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The resource.
    pub resource: Resource,
    /// Its image.
    pub owner: Option<String>,
}
