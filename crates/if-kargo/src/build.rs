//! From a [`Plan`] and the [`Config`] to the resources: per watched image a Warehouse and a
//! Stage of the same name, per managed image (Dockerfile watch) a git Warehouse and a Stage,
//! the shared AnalysisTemplates, the Project and its ProjectConfig (one auto-promotion
//! policy per generated Stage). Sorted by kind, then name.

use std::collections::BTreeMap;
use std::sync::Arc;

use if_model::enrollment::Provider;

use crate::analysis::{self, ANALYZE_TEMPLATE, RECORD_UPDATE_TEMPLATE};
use crate::config::Config;
use crate::kargo::{
    AnalysisRunMetadata, AnalysisTemplateReference, FreightOrigin, FreightRequest, FreightSources,
    GenericAction, GenericReceiver, GitSubscription, ImageSubscription, KARGO_API_VERSION,
    LabelSelector, LocalObjectReference, MetadataUpdate, ObjectMeta, Project, ProjectConfig,
    ProjectConfigSpec, PromotionPolicy, PromotionStep, PromotionTemplate, PromotionTemplateSpec,
    SetMetadataConfig, Stage, StageSelector, StageSpec, Subscription, TargetSelectionCriteria, Var,
    Verification, Warehouse, WarehouseSpec, WebhookReceiver,
};
use crate::monitor::{DOCKERFILE_PREFIX, DockerfileSource, Monitor, Plan, Role};
use crate::names;
use crate::resource::{Generated, Kind, Resource};
use crate::schedule::{self, RECONCILE_CRONJOB};
use crate::watch::Selection;

/// The label naming the tool that manages the resources.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label saying why a Warehouse exists (`base`, `external`, `managed`, `dockerfile`).
pub const ROLE_LABEL: &str = "image-factory/role";
/// The label naming the image a Warehouse or Stage belongs to.
pub const IMAGE_LABEL: &str = "image-factory/image";
/// The name of the generic webhook receiver.
pub const RECEIVER_NAME: &str = "refresh-base-images";
/// References kept by a `Digest` subscription.
const DIGEST_DISCOVERY_LIMIT: u32 = 1;
/// References kept by the other subscriptions.
const DISCOVERY_LIMIT: u32 = 5;
/// The Freight being promoted, in a Kargo expression.
const TARGET_FREIGHT: &str = "${{ quote(ctx.targetFreight.name) }}";
/// The annotation ordering Argo CD's sync.
pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// The Project's wave: before every other object (which are in the default wave, 0), so
/// that its namespace exists before anything is applied into it.
pub const PROJECT_WAVE: &str = "-1";

/// A resource before it is built: its kind, name and image (enough to sort, list and pick
/// resources) and what it is made from. [`layout`] gives every slot of a plan; [`resource`]
/// builds one. A factory of 100,000 images has about 375,000 resources: building them a
/// block at a time, writing each and dropping it ([`crate::render::render_each`]) keeps
/// them from ever being all in memory.
#[derive(Debug, Clone)]
pub struct Slot {
    /// `metadata.name`.
    pub name: String,
    source: Source,
}

impl Slot {
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self.source {
            Source::Project => Kind::Project,
            Source::ProjectConfig(_) => Kind::ProjectConfig,
            Source::RecordUpdate | Source::Analyze => Kind::AnalysisTemplate,
            Source::Reconcile => Kind::CronJob,
            Source::ImageWarehouse(_) | Source::GitWarehouse(_) => Kind::Warehouse,
            Source::ImageStage(_) | Source::GitStage(_) => Kind::Stage,
        }
    }

    /// The image (name or base-image state name) it belongs to; `None` for the shared ones.
    pub fn owner(&self) -> Option<&str> {
        match &self.source {
            Source::ImageWarehouse(m) | Source::ImageStage(m) => Some(&m.owner),
            Source::GitWarehouse(d) | Source::GitStage(d) => Some(&d.owner),
            Source::Project
            | Source::ProjectConfig(_)
            | Source::RecordUpdate
            | Source::Analyze
            | Source::Reconcile => None,
        }
    }
}

/// What a slot's resource is made from.
#[derive(Debug, Clone)]
enum Source {
    Project,
    /// The names of every generated Stage, sorted.
    ProjectConfig(Vec<String>),
    RecordUpdate,
    Analyze,
    Reconcile,
    ImageWarehouse(Arc<Monitor>),
    ImageStage(Arc<Monitor>),
    GitWarehouse(Arc<DockerfileSource>),
    GitStage(Arc<DockerfileSource>),
}

/// Every resource for `plan` under `config`, sorted by kind and name.
pub fn build(plan: &Plan, config: &Config) -> Vec<Generated> {
    layout(plan, config)
        .iter()
        .map(|slot| resource(config, slot))
        .collect()
}

/// The slot of every resource for `plan` under `config`, sorted by kind and name (the order
/// of [`build`]).
pub fn layout(plan: &Plan, config: &Config) -> Vec<Slot> {
    let dockerfiles: &[DockerfileSource] = if config.dockerfile_watch.enabled {
        &plan.dockerfiles
    } else {
        &[]
    };
    let keys: Vec<(String, String)> = plan
        .monitors
        .iter()
        .map(|m| (m.prefix.to_string(), m.owner.clone()))
        .chain(
            dockerfiles
                .iter()
                .map(|d| (DOCKERFILE_PREFIX.to_string(), d.owner.clone())),
        )
        .collect();
    let names = names::assign(&keys);
    drop(keys);
    let name_of = |prefix: &str, owner: &str| {
        names
            .get(&(prefix.to_string(), owner.to_string()))
            .cloned()
            .unwrap_or_else(|| names::kube_name(prefix, owner))
    };
    let slot = |name: &str, source| Slot {
        name: name.to_string(),
        source,
    };

    let mut slots = Vec::with_capacity(2 * (plan.monitors.len() + dockerfiles.len()) + 4);
    for m in &plan.monitors {
        let name = name_of(m.prefix, &m.owner);
        let from = Arc::new(m.clone());
        slots.push(slot(&name, Source::ImageWarehouse(Arc::clone(&from))));
        slots.push(slot(&name, Source::ImageStage(from)));
    }
    for d in dockerfiles {
        let name = name_of(DOCKERFILE_PREFIX, &d.owner);
        let from = Arc::new(d.clone());
        slots.push(slot(&name, Source::GitWarehouse(Arc::clone(&from))));
        slots.push(slot(&name, Source::GitStage(from)));
    }
    drop(names);
    slots.push(slot(RECORD_UPDATE_TEMPLATE, Source::RecordUpdate));
    slots.push(slot(RECONCILE_CRONJOB, Source::Reconcile));
    if config.dockerfile_watch.enabled {
        slots.push(slot(ANALYZE_TEMPLATE, Source::Analyze));
    }
    let mut stages: Vec<String> = slots
        .iter()
        .filter(|s| s.kind() == Kind::Stage)
        .map(|s| s.name.clone())
        .collect();
    stages.sort();
    slots.push(slot(&config.project, Source::ProjectConfig(stages)));
    slots.push(slot(&config.project, Source::Project));
    slots.sort_by(|a, b| (a.kind(), &a.name).cmp(&(b.kind(), &b.name)));
    slots
}

/// The resource of one slot of [`layout`] (`config` is the one the slot was laid out with).
pub fn resource(config: &Config, slot: &Slot) -> Generated {
    let name = slot.name.as_str();
    let resource = match &slot.source {
        Source::ImageWarehouse(m) => Resource::Warehouse(image_warehouse(config, m, name)),
        Source::ImageStage(m) => Resource::Stage(image_stage(config, m, name)),
        Source::GitWarehouse(d) => {
            Resource::Warehouse(git_warehouse(config, d, name, &git_url(config, d)))
        }
        Source::GitStage(d) => Resource::Stage(git_stage(config, d, name, &git_url(config, d))),
        Source::RecordUpdate => {
            Resource::AnalysisTemplate(analysis::record_update(config, &base_labels()))
        }
        Source::Analyze => Resource::AnalysisTemplate(analysis::analyze(config, &base_labels())),
        Source::Reconcile => Resource::CronJob(schedule::reconcile_cronjob(config, &base_labels())),
        Source::ProjectConfig(stages) => Resource::ProjectConfig(project_config(config, stages)),
        Source::Project => Resource::Project(Project {
            api_version: KARGO_API_VERSION.to_string(),
            kind: "Project".to_string(),
            metadata: ObjectMeta {
                name: config.project.clone(),
                namespace: None,
                labels: base_labels(),
                annotations: BTreeMap::from([(SYNC_WAVE.to_string(), PROJECT_WAVE.to_string())]),
            },
        }),
    };
    Generated {
        resource,
        owner: slot.owner().map(str::to_string),
    }
}

fn base_labels() -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(MANAGED_BY.to_string(), "image-factory".to_string());
    labels
}

fn labels(role: Role, owner: &str) -> BTreeMap<String, String> {
    let mut labels = base_labels();
    labels.insert(ROLE_LABEL.to_string(), role.as_str().to_string());
    labels.insert(IMAGE_LABEL.to_string(), names::label_value(owner));
    labels
}

fn meta(config: &Config, name: &str, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: name.to_string(),
        namespace: Some(config.project.clone()),
        labels,
        annotations: BTreeMap::new(),
    }
}

/// `${{ quote(EXPR) }}`: Kargo reads an expression's result as a number, boolean or JSON
/// when it parses as one (a tag `1.10`, an all-digit commit ID), and an AnalysisRun argument
/// that is not a string fails; `quote` keeps it a string.
pub fn quoted(expr: &str) -> String {
    format!("${{{{ quote({expr}) }}}}")
}

fn interval(config: &Config) -> String {
    analysis::go_duration(config.warehouse_interval.as_minutes())
}

fn image_warehouse(config: &Config, m: &Monitor, name: &str) -> Warehouse {
    let (strategy, constraint, regexes, limit) = match &m.selection {
        Selection::Digest { tag } => (
            "Digest".to_string(),
            Some(tag.clone()),
            Vec::new(),
            DIGEST_DISCOVERY_LIMIT,
        ),
        Selection::Tags { strategy, regexes } => {
            (strategy.to_string(), None, regexes.clone(), DISCOVERY_LIMIT)
        }
    };
    Warehouse {
        api_version: KARGO_API_VERSION.to_string(),
        kind: "Warehouse".to_string(),
        metadata: meta(config, name, labels(m.role, &m.owner)),
        spec: WarehouseSpec {
            interval: interval(config),
            subscriptions: vec![Subscription::Image(ImageSubscription {
                repo_url: m.repo_url.clone(),
                image_selection_strategy: strategy,
                constraint,
                allow_tags_regexes: regexes,
                platform: config.platform.clone(),
                discovery_limit: limit,
            })],
        },
    }
}

fn var(name: &str, value: impl Into<String>) -> Var {
    Var {
        name: name.to_string(),
        value: value.into(),
    }
}

/// A Stage taking `warehouse`'s Freight directly, recording `values` on the Freight (the one
/// promotion step that makes Kargo run verification), verified by `template` with `args`.
fn stage(
    config: &Config,
    name: &str,
    labels: BTreeMap<String, String>,
    vars: Vec<Var>,
    values: BTreeMap<String, String>,
    template: &str,
    args: Vec<Var>,
) -> Stage {
    Stage {
        api_version: KARGO_API_VERSION.to_string(),
        kind: "Stage".to_string(),
        metadata: meta(config, name, labels.clone()),
        spec: StageSpec {
            vars,
            requested_freight: vec![FreightRequest {
                origin: FreightOrigin {
                    kind: "Warehouse".to_string(),
                    name: name.to_string(),
                },
                sources: FreightSources { direct: true },
            }],
            promotion_template: PromotionTemplate {
                spec: PromotionTemplateSpec {
                    steps: vec![PromotionStep {
                        uses: "set-metadata".to_string(),
                        alias: "record-freight".to_string(),
                        config: SetMetadataConfig {
                            updates: vec![MetadataUpdate {
                                kind: "Freight".to_string(),
                                name: TARGET_FREIGHT.to_string(),
                                values,
                            }],
                        },
                    }],
                },
            },
            verification: Verification {
                analysis_templates: vec![AnalysisTemplateReference {
                    name: template.to_string(),
                }],
                analysis_run_metadata: AnalysisRunMetadata { labels },
                args,
            },
        },
    }
}

fn image_stage(config: &Config, m: &Monitor, name: &str) -> Stage {
    let tag = quoted("imageFrom(vars.repoURL).Tag");
    let digest = quoted("imageFrom(vars.repoURL).Digest");
    let mut values = BTreeMap::new();
    values.insert("image".to_string(), m.repo_url.clone());
    values.insert("tag".to_string(), tag.clone());
    values.insert("digest".to_string(), digest.clone());
    stage(
        config,
        name,
        labels(m.role, &m.owner),
        vec![var("repoURL", m.repo_url.clone())],
        values,
        RECORD_UPDATE_TEMPLATE,
        vec![
            var("image", quoted("vars.repoURL")),
            var("tag", tag),
            var("digest", digest),
        ],
    )
}

/// The `https://` URL of a managed image's source repository.
fn git_url(config: &Config, d: &DockerfileSource) -> String {
    let base = match d.provider {
        Provider::Github => &config.dockerfile_watch.github_url,
        Provider::Gitlab => &config.dockerfile_watch.gitlab_url,
    };
    format!("{base}/{}.git", d.repo.trim_matches('/'))
}

fn git_warehouse(config: &Config, d: &DockerfileSource, name: &str, url: &str) -> Warehouse {
    Warehouse {
        api_version: KARGO_API_VERSION.to_string(),
        kind: "Warehouse".to_string(),
        metadata: meta(config, name, labels(Role::Dockerfile, &d.owner)),
        spec: WarehouseSpec {
            interval: interval(config),
            subscriptions: vec![Subscription::Git(GitSubscription {
                repo_url: url.to_string(),
                commit_selection_strategy: "NewestFromBranch".to_string(),
                branch: d.branch.clone(),
                include_paths: vec![d.dockerfile.clone()],
                discovery_limit: DISCOVERY_LIMIT,
            })],
        },
    }
}

fn git_stage(config: &Config, d: &DockerfileSource, name: &str, url: &str) -> Stage {
    let commit = quoted("commitFrom(vars.repoURL).ID");
    let mut values = BTreeMap::new();
    values.insert("dockerfile".to_string(), d.dockerfile.clone());
    values.insert("commit".to_string(), commit.clone());
    stage(
        config,
        name,
        labels(Role::Dockerfile, &d.owner),
        vec![var("repoURL", url)],
        values,
        ANALYZE_TEMPLATE,
        vec![var("image", d.owner.clone()), var("commit", commit)],
    )
}

fn project_config(config: &Config, stages: &[String]) -> ProjectConfig {
    let mut receivers = Vec::new();
    if config.webhook_receiver {
        let mut match_labels = BTreeMap::new();
        match_labels.insert(ROLE_LABEL.to_string(), Role::Base.as_str().to_string());
        receivers.push(WebhookReceiver {
            name: RECEIVER_NAME.to_string(),
            generic: GenericReceiver {
                secret_ref: LocalObjectReference {
                    name: config.secrets.webhook.clone(),
                },
                actions: vec![GenericAction {
                    action: "Refresh".to_string(),
                    target_selection_criteria: vec![TargetSelectionCriteria {
                        kind: "Warehouse".to_string(),
                        label_selector: LabelSelector { match_labels },
                    }],
                }],
            },
        });
    }
    ProjectConfig {
        api_version: KARGO_API_VERSION.to_string(),
        kind: "ProjectConfig".to_string(),
        metadata: meta(config, &config.project, base_labels()),
        spec: ProjectConfigSpec {
            promotion_policies: stages
                .iter()
                .map(|s| PromotionPolicy {
                    stage_selector: StageSelector { name: s.clone() },
                    auto_promotion_enabled: true,
                })
                .collect(),
            webhook_receivers: receivers,
        },
    }
}
