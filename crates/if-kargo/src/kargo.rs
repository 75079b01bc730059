//! The Kargo resources Image Factory emits (`kargo.akuity.io/v1alpha1`, Kargo v1.11): typed
//! structs whose serialized field names are exactly the CRDs' (camelCase, absent fields left
//! out), so that a typo cannot reach a manifest.

use std::collections::BTreeMap;

use serde::Serialize;

/// The API version of every Kargo resource.
pub const KARGO_API_VERSION: &str = "kargo.akuity.io/v1alpha1";

/// `metadata` of any resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The resource name.
    pub name: String,
    /// The namespace (absent for cluster-scoped resources such as `Project`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels, sorted by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations, sorted by key (the Project's Argo CD sync wave).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `Project` (cluster-scoped): Kargo creates and labels the namespace of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Always [`KARGO_API_VERSION`].
    pub api_version: String,
    /// Always `Project`.
    pub kind: String,
    /// Name (and namespace name).
    pub metadata: ObjectMeta,
}

/// `ProjectConfig`: the Project's promotion policies and webhook receivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    /// Always [`KARGO_API_VERSION`].
    pub api_version: String,
    /// Always `ProjectConfig`.
    pub kind: String,
    /// Same name as the Project, in its namespace.
    pub metadata: ObjectMeta,
    /// The configuration.
    pub spec: ProjectConfigSpec,
}

/// `ProjectConfig.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfigSpec {
    /// One auto-promotion policy per generated Stage.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promotion_policies: Vec<PromotionPolicy>,
    /// Webhook receivers (the optional generic refresh receiver).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhook_receivers: Vec<WebhookReceiver>,
}

/// One entry of `promotionPolicies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPolicy {
    /// Which Stage the policy is for.
    pub stage_selector: StageSelector,
    /// Promote new Freight automatically.
    pub auto_promotion_enabled: bool,
}

/// `stageSelector`: by exact name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSelector {
    /// The Stage's name.
    pub name: String,
}

/// One entry of `webhookReceivers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReceiver {
    /// Receiver name (part of its URL).
    pub name: String,
    /// A generic receiver: any authenticated POST performs the actions.
    pub generic: GenericReceiver,
}

/// `webhookReceivers[].generic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericReceiver {
    /// The Secret holding the receiver's shared secret.
    pub secret_ref: LocalObjectReference,
    /// What a request does.
    pub actions: Vec<GenericAction>,
}

/// A reference to an object in the same namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Its name.
    pub name: String,
}

/// `generic.actions[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericAction {
    /// Always `Refresh` (the only action Kargo has).
    pub action: String,
    /// The resources to act on.
    pub target_selection_criteria: Vec<TargetSelectionCriteria>,
}

/// `actions[].targetSelectionCriteria[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetSelectionCriteria {
    /// Always `Warehouse`.
    pub kind: String,
    /// Which Warehouses.
    pub label_selector: LabelSelector,
}

/// A label selector by exact labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Every label must match.
    pub match_labels: BTreeMap<String, String>,
}

/// `Warehouse`: one subscription, to an image repository or a git repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warehouse {
    /// Always [`KARGO_API_VERSION`].
    pub api_version: String,
    /// Always `Warehouse`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The subscription.
    pub spec: WarehouseSpec,
}

/// `Warehouse.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseSpec {
    /// Discovery interval in Go's duration syntax (`6h0m0s`).
    pub interval: String,
    /// The subscriptions (always one).
    pub subscriptions: Vec<Subscription>,
}

/// `spec.subscriptions[]`: exactly one of `image` or `git`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Subscription {
    /// An image repository.
    Image(ImageSubscription),
    /// A git repository.
    Git(GitSubscription),
}

/// `subscriptions[].image`. Deliberately without `allowTags`, `ignoreTags` and
/// `semverConstraint`: Kargo 1.11 fails discovery with the first two, and the third is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSubscription {
    /// `registry/repository`, no tag.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `Digest`, `Lexical`, `NewestBuild` or `SemVer`.
    pub image_selection_strategy: String,
    /// For `Digest`: the one tag whose digest is tracked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// For the other strategies: the tags considered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    /// `os/arch`, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// How many references to keep.
    pub discovery_limit: u32,
}

/// `subscriptions[].git`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitSubscription {
    /// `https://...` URL of the repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Always `NewestFromBranch`.
    pub commit_selection_strategy: String,
    /// The branch followed.
    pub branch: String,
    /// Only commits touching these paths make Freight.
    pub include_paths: Vec<String>,
    /// How many commits to keep.
    pub discovery_limit: u32,
}

/// `Stage`: requests one Warehouse's Freight directly, promotes it with one step, verifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// Always [`KARGO_API_VERSION`].
    pub api_version: String,
    /// Always `Stage`.
    pub kind: String,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The pipeline.
    pub spec: StageSpec,
}

/// `Stage.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageSpec {
    /// Variables for expressions (`vars.repoURL`).
    pub vars: Vec<Var>,
    /// The Freight this Stage takes.
    pub requested_freight: Vec<FreightRequest>,
    /// The promotion steps (at least one, or Kargo skips verification).
    pub promotion_template: PromotionTemplate,
    /// The verification.
    pub verification: Verification,
}

/// A named string variable (`vars[]`, `args[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Var {
    /// Name.
    pub name: String,
    /// Value (may hold a `${{ }}` expression).
    pub value: String,
}

/// `requestedFreight[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightRequest {
    /// The Warehouse.
    pub origin: FreightOrigin,
    /// Where the Freight comes from.
    pub sources: FreightSources,
}

/// `requestedFreight[].origin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightOrigin {
    /// Always `Warehouse`.
    pub kind: String,
    /// The Warehouse's name.
    pub name: String,
}

/// `requestedFreight[].sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightSources {
    /// Straight from the Warehouse.
    pub direct: bool,
}

/// `promotionTemplate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionTemplate {
    /// The template.
    pub spec: PromotionTemplateSpec,
}

/// `promotionTemplate.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionTemplateSpec {
    /// The steps.
    pub steps: Vec<PromotionStep>,
}

/// One promotion step: a built-in step and its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionStep {
    /// The step (`set-metadata`).
    pub uses: String,
    /// Its alias.
    #[serde(rename = "as")]
    pub alias: String,
    /// Its config (checked against the step's schema).
    pub config: SetMetadataConfig,
}

/// Config of the `set-metadata` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetMetadataConfig {
    /// The updates.
    pub updates: Vec<MetadataUpdate>,
}

/// `set-metadata` `updates[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataUpdate {
    /// `Freight`.
    pub kind: String,
    /// The Freight's name (an expression).
    pub name: String,
    /// Key/values to set, sorted.
    pub values: BTreeMap<String, String>,
}

/// `verification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The templates (always the one shared template).
    pub analysis_templates: Vec<AnalysisTemplateReference>,
    /// Labels for the AnalysisRuns.
    pub analysis_run_metadata: AnalysisRunMetadata,
    /// Arguments passed to the template.
    pub args: Vec<Var>,
}

/// `verification.analysisTemplates[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateReference {
    /// The template's name.
    pub name: String,
}

/// `verification.analysisRunMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisRunMetadata {
    /// Labels.
    pub labels: BTreeMap<String, String>,
}
