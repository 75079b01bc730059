//! One generated resource of any kind, with the image it belongs to and the fixed order in
//! which the output lists kinds (cluster-scoped Project first, then what the others use).

use serde::Serialize;

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
}

impl Resource {
    /// The `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Project(_) => "Project",
            Resource::ProjectConfig(_) => "ProjectConfig",
            Resource::AnalysisTemplate(_) => "AnalysisTemplate",
            Resource::Warehouse(_) => "Warehouse",
            Resource::Stage(_) => "Stage",
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        match self {
            Resource::Project(r) => &r.metadata.name,
            Resource::ProjectConfig(r) => &r.metadata.name,
            Resource::AnalysisTemplate(r) => &r.metadata.name,
            Resource::Warehouse(r) => &r.metadata.name,
            Resource::Stage(r) => &r.metadata.name,
        }
    }

    /// Position of the kind in the output.
    pub fn kind_order(&self) -> u8 {
        match self {
            Resource::Project(_) => 0,
            Resource::ProjectConfig(_) => 1,
            Resource::AnalysisTemplate(_) => 2,
            Resource::Warehouse(_) => 3,
            Resource::Stage(_) => 4,
        }
    }
}

/// A resource and the image (name or base-image state name) it belongs to; `None` for the
/// shared ones (Project, ProjectConfig, AnalysisTemplates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The resource.
    pub resource: Resource,
    /// Its image.
    pub owner: Option<String>,
}
