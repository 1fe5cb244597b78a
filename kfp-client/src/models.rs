//! Serde models of the KFP v1beta1 wire format (CONTRACT §3).
//!
//! They follow what the API server emits: snake_case names, defaults omitted (so every field here has a
//! default and `null` is treated as absent), int64 as JSON strings (numbers are accepted too), RFC 3339 times
//! (any offset accepted, UTC `Z` written), enums as names (numbers accepted). Unknown fields are ignored, like
//! the server does. Output-only fields (`id`, `created_at`, ...) are skipped on serialization when empty so that
//! request bodies stay small and look like the official SDK's.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::wire::{int64, int64_vec, null_as_default, wire_enum};

mod answers;
mod filter;

pub use answers::{
    ErrorBody, ErrorDetail, Healthz, ListExperimentsResponse, ListJobsResponse,
    ListPipelineVersionsResponse, ListPipelinesResponse, ListRunsResponse, Page,
};
pub use filter::{Filter, Predicate, PredicateValue};

wire_enum! {
    /// The kind of resource a [`ResourceKey`] points at.
    pub enum ResourceType {
        /// `UNKNOWN_RESOURCE_TYPE` (0); also what unknown values become.
        Unknown = (0, "UNKNOWN_RESOURCE_TYPE"),
        /// An experiment.
        Experiment = (1, "EXPERIMENT"),
        /// A job (recurring run).
        Job = (2, "JOB"),
        /// A pipeline (only valid in pipeline-version references).
        Pipeline = (3, "PIPELINE"),
        /// A pipeline version.
        PipelineVersion = (4, "PIPELINE_VERSION"),
        /// A Kubernetes namespace (Kubeflow profile).
        Namespace = (5, "NAMESPACE"),
    }
}

wire_enum! {
    /// How a resource relates to the one a [`ResourceReference`] points at.
    pub enum Relationship {
        /// `UNKNOWN_RELATIONSHIP` (0).
        Unknown = (0, "UNKNOWN_RELATIONSHIP"),
        /// The referenced resource owns this one (experiment of a job, namespace of an experiment).
        Owner = (1, "OWNER"),
        /// The referenced resource created this one (pipeline version of a run).
        Creator = (2, "CREATOR"),
    }
}

wire_enum! {
    /// Storage state of an **experiment** (`api.Experiment.StorageState`; AVAILABLE is 1 and is always emitted).
    pub enum StorageState {
        /// `STORAGESTATE_UNSPECIFIED` (0).
        Unspecified = (0, "STORAGESTATE_UNSPECIFIED"),
        /// Normal, visible.
        Available = (1, "STORAGESTATE_AVAILABLE"),
        /// Archived.
        Archived = (2, "STORAGESTATE_ARCHIVED"),
    }
}

wire_enum! {
    /// Storage state of a **run** (`api.Run.StorageState`; AVAILABLE is 0, so it is omitted on the wire).
    pub enum RunStorageState {
        /// Normal, visible (the omitted default).
        Available = (0, "STORAGESTATE_AVAILABLE"),
        /// Archived.
        Archived = (1, "STORAGESTATE_ARCHIVED"),
    }
}

wire_enum! {
    /// Comparison operator of a filter [`Predicate`].
    pub enum PredicateOp {
        /// `UNKNOWN` (0): rejected by the server.
        Unknown = (0, "UNKNOWN"),
        /// `=`
        Equals = (1, "EQUALS"),
        /// `<>`
        NotEquals = (2, "NOT_EQUALS"),
        /// `>`
        GreaterThan = (3, "GREATER_THAN"),
        /// `>=`
        GreaterThanEquals = (5, "GREATER_THAN_EQUALS"),
        /// `<`
        LessThan = (6, "LESS_THAN"),
        /// `<=`
        LessThanEquals = (7, "LESS_THAN_EQUALS"),
        /// `IN (...)`: needs a list value.
        In = (8, "IN"),
        /// `LIKE '%v%'`: needs a string value.
        IsSubstring = (9, "IS_SUBSTRING"),
    }
}

wire_enum! {
    /// Format of a run metric.
    pub enum MetricFormat {
        /// `UNSPECIFIED` (0).
        Unspecified = (0, "UNSPECIFIED"),
        /// A raw number.
        Raw = (1, "RAW"),
        /// A percentage.
        Percentage = (2, "PERCENTAGE"),
    }
}

/// Points at another resource: `{type, id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceKey {
    /// The kind of resource.
    #[serde(deserialize_with = "null_as_default")]
    pub r#type: ResourceType,
    /// Its id (a UUID, or the namespace name for [`ResourceType::Namespace`]).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
}

impl ResourceKey {
    /// A key of `kind` with `id`.
    pub fn new(kind: ResourceType, id: impl Into<String>) -> Self {
        Self {
            r#type: kind,
            id: id.into(),
        }
    }

    /// A NAMESPACE key.
    pub fn namespace(namespace: impl Into<String>) -> Self {
        Self::new(ResourceType::Namespace, namespace)
    }

    /// An EXPERIMENT key.
    pub fn experiment(id: impl Into<String>) -> Self {
        Self::new(ResourceType::Experiment, id)
    }
}

/// A reference from one resource to another, e.g. a job's owning experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceReference {
    /// What is referenced.
    #[serde(deserialize_with = "null_as_default")]
    pub key: ResourceKey,
    /// Output only: the referenced resource's name (e.g. the experiment name).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub name: String,
    /// How the two relate.
    #[serde(deserialize_with = "null_as_default")]
    pub relationship: Relationship,
}

impl ResourceReference {
    /// An OWNER reference to `key`.
    pub fn owner(key: ResourceKey) -> Self {
        Self {
            key,
            name: String::new(),
            relationship: Relationship::Owner,
        }
    }

    /// The `{NAMESPACE, OWNER}` reference multi-user mode requires on experiments.
    pub fn namespace_owner(namespace: impl Into<String>) -> Self {
        Self::owner(ResourceKey::namespace(namespace))
    }

    /// The `{EXPERIMENT, OWNER}` reference that puts a job or run into an experiment.
    pub fn experiment_owner(experiment_id: impl Into<String>) -> Self {
        Self::owner(ResourceKey::experiment(experiment_id))
    }
}

/// Finds the id of the first reference of `kind` with `relationship`.
pub fn find_reference(
    references: &[ResourceReference],
    kind: ResourceType,
    relationship: Relationship,
) -> Option<&ResourceReference> {
    references
        .iter()
        .find(|r| r.key.r#type == kind && r.relationship == relationship)
}

/// An experiment: a named group of runs and jobs in a namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Experiment {
    /// Output only: the UUID.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    /// Unique per namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Free text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Multi-user mode: exactly one NAMESPACE/OWNER reference. Single-user: empty.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_references: Vec<ResourceReference>,
    /// Output only.
    #[serde(
        skip_serializing_if = "is_unspecified",
        deserialize_with = "null_as_default"
    )]
    pub storage_state: StorageState,
}

fn is_unspecified(state: &StorageState) -> bool {
    *state == StorageState::Unspecified
}

impl Experiment {
    /// The namespace of a multi-user experiment (its NAMESPACE/OWNER reference), if any.
    pub fn namespace(&self) -> Option<&str> {
        find_reference(
            &self.resource_references,
            ResourceType::Namespace,
            Relationship::Owner,
        )
        .map(|r| r.key.id.as_str())
    }

    /// Whether the experiment is archived.
    pub fn is_archived(&self) -> bool {
        self.storage_state == StorageState::Archived
    }
}

/// One pipeline parameter; values are always strings on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Parameter {
    /// The parameter name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The value; the server omits an empty one.
    #[serde(deserialize_with = "null_as_default")]
    pub value: String,
}

impl Parameter {
    /// A `{name, value}` pair.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// What to run: an inline Argo workflow (`workflow_manifest`, JSON text) or a stored pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineSpec {
    /// A stored pipeline's id (instead of a manifest).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pipeline_id: String,
    /// Output only: the stored pipeline's name.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pipeline_name: String,
    /// The Argo Workflow as **JSON text**; echoed byte for byte by the server.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub workflow_manifest: String,
    /// KFP v2 IR (not used by kfp-gitops; kept so that it round-trips).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pipeline_manifest: String,
    /// Parameter values; always sent, like the SDK does.
    #[serde(deserialize_with = "null_as_default")]
    pub parameters: Vec<Parameter>,
}

/// A cron trigger (robfig/cron v1 syntax, seconds first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CronSchedule {
    /// First possible fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Last possible fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// The cron expression.
    #[serde(deserialize_with = "null_as_default")]
    pub cron: String,
}

/// A fixed-interval trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeriodicSchedule {
    /// First possible fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Last possible fire time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Seconds between runs (int64: a string on output).
    #[serde(with = "int64")]
    pub interval_second: i64,
}

/// When a job fires: a protobuf oneof, so at most one of the two is set (`{}` when neither).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trigger {
    /// Cron trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron_schedule: Option<CronSchedule>,
    /// Periodic trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periodic_schedule: Option<PeriodicSchedule>,
}

/// A job, which the KFP UI calls a recurring run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// Output only: the UUID (the ScheduledWorkflow's UID).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    /// Display name; **not** unique.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Free text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    /// What runs.
    #[serde(deserialize_with = "null_as_default")]
    pub pipeline_spec: PipelineSpec,
    /// Usually one EXPERIMENT/OWNER reference.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_references: Vec<ResourceReference>,
    /// Kubernetes service account of the runs (output: the effective one).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub service_account: String,
    /// 1..=10 (int64: a string on output, a number when we send it).
    #[serde(with = "int64")]
    pub max_concurrency: i64,
    /// When it fires.
    #[serde(deserialize_with = "null_as_default")]
    pub trigger: Trigger,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Output only; bumped by the persistence agent on every CR change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Output only: `NO_STATUS`, `Enabled`, `Disabled`, ...
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub status: String,
    /// Output only.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error: String,
    /// Whether it fires; always sent (omitted by the server when false).
    #[serde(deserialize_with = "null_as_default")]
    pub enabled: bool,
    /// `true` = do not back-fill missed runs (catchup off).
    #[serde(deserialize_with = "null_as_default")]
    pub no_catchup: bool,
}

impl Job {
    /// The id of the owning experiment (EXPERIMENT/OWNER reference), if any.
    pub fn experiment_id(&self) -> Option<&str> {
        find_reference(
            &self.resource_references,
            ResourceType::Experiment,
            Relationship::Owner,
        )
        .map(|r| r.key.id.as_str())
    }
}

/// A metric reported by a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMetric {
    /// Metric name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The node that reported it.
    #[serde(deserialize_with = "null_as_default")]
    pub node_id: String,
    /// The value.
    #[serde(deserialize_with = "null_as_default")]
    pub number_value: f64,
    /// Display format.
    #[serde(
        skip_serializing_if = "is_unspecified_format",
        deserialize_with = "null_as_default"
    )]
    pub format: MetricFormat,
}

fn is_unspecified_format(format: &MetricFormat) -> bool {
    *format == MetricFormat::Unspecified
}

/// A single execution of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    /// Output only: the UUID.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    /// Required on create.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Output only; AVAILABLE is omitted on the wire.
    #[serde(
        skip_serializing_if = "is_available",
        deserialize_with = "null_as_default"
    )]
    pub storage_state: RunStorageState,
    /// Free text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    /// What runs.
    #[serde(deserialize_with = "null_as_default")]
    pub pipeline_spec: PipelineSpec,
    /// Usually one EXPERIMENT/OWNER reference.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_references: Vec<ResourceReference>,
    /// Kubernetes service account.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub service_account: String,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<Timestamp>,
    /// Output only; `1970-01-01T00:00:00Z` while unfinished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Output only: `""`, `Pending`, `Running`, `Succeeded`, `Failed`, `Error`, `Skipped`, ...
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub status: String,
    /// Output only.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error: String,
    /// Output only.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub metrics: Vec<RunMetric>,
}

fn is_available(state: &RunStorageState) -> bool {
    *state == RunStorageState::Available
}

impl Run {
    /// Whether the status is final (Argo phases plus KFP's `Skipped`/`Terminated`).
    pub fn is_finished(&self) -> bool {
        is_terminal_status(&self.status)
    }

    /// The id of the owning experiment (EXPERIMENT/OWNER reference), if any.
    pub fn experiment_id(&self) -> Option<&str> {
        find_reference(
            &self.resource_references,
            ResourceType::Experiment,
            Relationship::Owner,
        )
        .map(|r| r.key.id.as_str())
    }
}

/// Whether a run status is terminal.
pub fn is_terminal_status(status: &str) -> bool {
    matches!(
        status,
        "Succeeded" | "Failed" | "Error" | "Skipped" | "Terminated" | "Omitted"
    )
}

/// Runtime information of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineRuntime {
    /// v2 runtime manifest.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub pipeline_manifest: String,
    /// The live Argo Workflow (with status) as JSON text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub workflow_manifest: String,
}

/// A run with its runtime details (answer of run create/get).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunDetail {
    /// The run.
    #[serde(deserialize_with = "null_as_default")]
    pub run: Run,
    /// Runtime details.
    #[serde(deserialize_with = "null_as_default")]
    pub pipeline_runtime: PipelineRuntime,
}

/// `{pipeline_url}` of a pipeline or version created from a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineUrl {
    /// Where the package lives.
    #[serde(deserialize_with = "null_as_default")]
    pub pipeline_url: String,
}

/// A pipeline version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineVersion {
    /// The UUID (the implicit default version of an upload shares the pipeline's).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    /// Name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Declared parameters with defaults.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub parameters: Vec<Parameter>,
    /// Link to the source code.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub code_source_url: String,
    /// Where the package came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_url: Option<PipelineUrl>,
    /// Free text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    /// Output: `[{PIPELINE, <pipeline id>}, OWNER]`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub resource_references: Vec<ResourceReference>,
}

/// A stored pipeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pipeline {
    /// The UUID.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    /// Output only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Name, unique per namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Free text.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub description: String,
    /// Declared parameters with defaults.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub parameters: Vec<Parameter>,
    /// Where the package came from (create-from-URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<PipelineUrl>,
    /// Output only.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error: String,
    /// The default version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_version: Option<PipelineVersion>,
    /// Input only: a single NAMESPACE reference for a namespaced pipeline.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub resource_references: Vec<ResourceReference>,
}
