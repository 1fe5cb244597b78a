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

/// The value of a filter [`Predicate`] (a protobuf oneof).
#[derive(Debug, Clone, PartialEq)]
pub enum PredicateValue {
    /// `int_value` (int32).
    Int(i32),
    /// `long_value` (int64).
    Long(i64),
    /// `string_value`.
    String(String),
    /// `timestamp_value`.
    Timestamp(Timestamp),
    /// `int_values.values`.
    Ints(Vec<i32>),
    /// `long_values.values`.
    Longs(Vec<i64>),
    /// `string_values.values`.
    Strings(Vec<String>),
}

impl Default for PredicateValue {
    fn default() -> Self {
        Self::String(String::new())
    }
}

/// One condition of a [`Filter`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawPredicate", into = "RawPredicate")]
pub struct Predicate {
    /// The operator.
    pub op: PredicateOp,
    /// The API field name (`name`, `created_at`, `storage_state`, ...).
    pub key: String,
    /// The operand.
    pub value: PredicateValue,
}

impl Predicate {
    /// `key = value` on a string field.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::Equals,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key <> value` on a string field.
    pub fn not_equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::NotEquals,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key LIKE '%value%'`.
    pub fn is_substring(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::IsSubstring,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key IN (values...)` on a string field.
    pub fn in_strings(
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            op: PredicateOp::In,
            key: key.into(),
            value: PredicateValue::Strings(values.into_iter().map(Into::into).collect()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Values<T> {
    values: Vec<T>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct LongValues {
    #[serde(with = "int64_vec")]
    values: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct RawPredicate {
    #[serde(deserialize_with = "null_as_default")]
    key: String,
    #[serde(deserialize_with = "null_as_default")]
    op: PredicateOp,
    #[serde(skip_serializing_if = "Option::is_none", alias = "intValue")]
    int_value: Option<i32>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        alias = "longValue",
        deserialize_with = "opt_int64",
        serialize_with = "ser_opt_int64_as_string"
    )]
    long_value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "stringValue")]
    string_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "timestampValue")]
    timestamp_value: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "intValues")]
    int_values: Option<Values<i32>>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "longValues")]
    long_values: Option<LongValues>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "stringValues")]
    string_values: Option<Values<String>>,
}

fn opt_int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Item(#[serde(with = "int64")] i64);
    Ok(Option::<Item>::deserialize(deserializer)?.map(|Item(v)| v))
}

// serde's `serialize_with` hands the field by reference.
#[allow(clippy::ref_option)]
fn ser_opt_int64_as_string<S: serde::Serializer>(
    value: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.serialize_str(&v.to_string()),
        None => serializer.serialize_none(),
    }
}

impl From<RawPredicate> for Predicate {
    fn from(raw: RawPredicate) -> Self {
        let value = if let Some(v) = raw.string_value {
            PredicateValue::String(v)
        } else if let Some(v) = raw.int_value {
            PredicateValue::Int(v)
        } else if let Some(v) = raw.long_value {
            PredicateValue::Long(v)
        } else if let Some(v) = raw.timestamp_value {
            PredicateValue::Timestamp(v)
        } else if let Some(v) = raw.int_values {
            PredicateValue::Ints(v.values)
        } else if let Some(v) = raw.long_values {
            PredicateValue::Longs(v.values)
        } else if let Some(v) = raw.string_values {
            PredicateValue::Strings(v.values)
        } else {
            PredicateValue::default()
        };
        Self {
            op: raw.op,
            key: raw.key,
            value,
        }
    }
}

impl From<Predicate> for RawPredicate {
    fn from(predicate: Predicate) -> Self {
        let mut raw = RawPredicate {
            key: predicate.key,
            op: predicate.op,
            ..RawPredicate::default()
        };
        match predicate.value {
            PredicateValue::Int(v) => raw.int_value = Some(v),
            PredicateValue::Long(v) => raw.long_value = Some(v),
            PredicateValue::String(v) => raw.string_value = Some(v),
            PredicateValue::Timestamp(v) => raw.timestamp_value = Some(v),
            PredicateValue::Ints(values) => raw.int_values = Some(Values { values }),
            PredicateValue::Longs(values) => raw.long_values = Some(LongValues { values }),
            PredicateValue::Strings(values) => raw.string_values = Some(Values { values }),
        }
        raw
    }
}

/// A list filter: every predicate must hold (AND). Sent as the protobuf JSON in the `filter` query parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// The conditions.
    #[serde(deserialize_with = "null_as_default")]
    pub predicates: Vec<Predicate>,
}

impl Filter {
    /// A filter of one predicate.
    pub fn single(predicate: Predicate) -> Self {
        Self {
            predicates: vec![predicate],
        }
    }

    /// `name = value`.
    pub fn name_equals(name: impl Into<String>) -> Self {
        Self::single(Predicate::equals("name", name))
    }

    /// Adds a predicate.
    #[must_use]
    pub fn and(mut self, predicate: Predicate) -> Self {
        self.predicates.push(predicate);
        self
    }

    /// The compact JSON text the server parses.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Answer of `GET /healthz`, in either shape: the API server's own (`commit_sha`, `tag_name`, `multi_user`) or
/// the UI proxy's (`apiServerReady`, `frontendTagName`, ..., plus `multi_user` when the API server answered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Healthz {
    /// API server commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// API server version tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_name: Option<String>,
    /// Whether the deployment runs in multi-user mode (missing when the UI cannot reach the API server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_user: Option<bool>,
    /// UI proxy: build date.
    #[serde(rename = "buildDate", skip_serializing_if = "Option::is_none")]
    pub build_date: Option<String>,
    /// UI proxy: frontend commit.
    #[serde(rename = "frontendCommitHash", skip_serializing_if = "Option::is_none")]
    pub frontend_commit_hash: Option<String>,
    /// UI proxy: frontend version tag.
    #[serde(rename = "frontendTagName", skip_serializing_if = "Option::is_none")]
    pub frontend_tag_name: Option<String>,
    /// UI proxy: whether the API server behind it answered.
    #[serde(rename = "apiServerReady", skip_serializing_if = "Option::is_none")]
    pub api_server_ready: Option<bool>,
    /// UI proxy: API server commit.
    #[serde(
        rename = "apiServerCommitHash",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_server_commit_hash: Option<String>,
    /// UI proxy: API server version tag.
    #[serde(rename = "apiServerTagName", skip_serializing_if = "Option::is_none")]
    pub api_server_tag_name: Option<String>,
    /// UI proxy: the API server's multi-user flag.
    #[serde(rename = "apiServerMultiUser", skip_serializing_if = "Option::is_none")]
    pub api_server_multi_user: Option<bool>,
}

impl Healthz {
    /// Whether the API server is reachable: true for a direct answer, `apiServerReady` through the UI proxy.
    pub fn api_server_ready(&self) -> bool {
        self.api_server_ready.unwrap_or(true)
    }

    /// The multi-user flag from whichever shape answered.
    pub fn is_multi_user(&self) -> Option<bool> {
        self.multi_user.or(self.api_server_multi_user)
    }

    /// The API server's version tag from whichever shape answered.
    pub fn server_version(&self) -> Option<&str> {
        self.tag_name
            .as_deref()
            .or(self.api_server_tag_name.as_deref())
    }
}

/// One detail of an error body: `{"@type": "type.googleapis.com/api.Error", error_message, error_details}`
/// (KFP 1.8.5) or `{"@type": "type.googleapis.com/google.rpc.Status", code, message}` (KFP 2.x).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// The protobuf Any type URL.
    #[serde(
        rename = "@type",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub type_url: String,
    /// The user-facing message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_message: String,
    /// The full internal error chain.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_details: String,
    /// KFP 2.x: a `google.rpc.Status` detail's message (the external message; `Internal Server Error` for
    /// every 500).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub message: String,
}

/// What KFP 2.x puts in the detail of every internal error instead of a message.
const OPAQUE_DETAIL: &str = "Internal Server Error";

/// An error body, in any of the shapes KFP uses: the gateway's `{error, code, message, details}`, KFP ≥ 2.14's
/// `{code, message, details}`, and the upload handlers' `{error_message, error_details}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    /// gRPC status message (grpc-gateway v1).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error: String,
    /// gRPC code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// gRPC status message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub message: String,
    /// `api.Error` details.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub details: Vec<ErrorDetail>,
    /// Upload handlers: the message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_message: String,
    /// Upload handlers: the details.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_details: String,
}

impl ErrorBody {
    /// Whether any known field is set (a JSON body that is not an error body at all has none).
    pub fn is_recognized(&self) -> bool {
        !(self.error.is_empty()
            && self.message.is_empty()
            && self.error_message.is_empty()
            && self.details.is_empty())
    }

    /// The most user-facing message available: the `api.Error` external message, a KFP 2.x status detail's
    /// message unless it is the opaque `Internal Server Error`, then the status message.
    pub fn user_message(&self) -> &str {
        self.details
            .iter()
            .map(|d| d.error_message.as_str())
            .find(|m| !m.is_empty())
            .or_else(|| {
                self.details
                    .iter()
                    .map(|d| d.message.as_str())
                    .find(|m| !m.is_empty() && *m != OPAQUE_DETAIL)
            })
            .or_else(|| Some(self.message.as_str()).filter(|m| !m.is_empty()))
            .or_else(|| Some(self.error.as_str()).filter(|m| !m.is_empty()))
            .unwrap_or(self.error_message.as_str())
    }

    /// The full internal chain when it adds something to [`ErrorBody::user_message`].
    pub fn internal_details(&self) -> Option<&str> {
        let user = self.user_message();
        [
            self.message.as_str(),
            self.error.as_str(),
            self.error_details.as_str(),
        ]
        .into_iter()
        .chain(self.details.iter().map(|d| d.error_details.as_str()))
        .find(|d| !d.is_empty() && *d != user)
    }
}

/// One page of a list call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in total (all pages).
    pub total_size: i32,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            total_size: 0,
            next_page_token: String::new(),
        }
    }
}

impl<T> Page<T> {
    /// Whether more pages follow.
    pub fn has_next(&self) -> bool {
        !self.next_page_token.is_empty()
    }
}

macro_rules! list_response {
    ($(#[$meta:meta])* $name:ident, $field:ident, $item:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            /// The items.
            #[serde(deserialize_with = "null_as_default")]
            pub $field: Vec<$item>,
            /// Count of all matches (int32).
            #[serde(deserialize_with = "null_as_default")]
            pub total_size: i32,
            /// Token of the next page; absent on the last page.
            #[serde(deserialize_with = "null_as_default")]
            pub next_page_token: String,
        }

        impl From<$name> for Page<$item> {
            fn from(response: $name) -> Self {
                Page {
                    items: response.$field,
                    total_size: response.total_size,
                    next_page_token: response.next_page_token,
                }
            }
        }
    };
}

list_response!(
    /// `GET /experiments` answer.
    ListExperimentsResponse, experiments, Experiment
);
list_response!(
    /// `GET /jobs` answer.
    ListJobsResponse, jobs, Job
);
list_response!(
    /// `GET /runs` answer.
    ListRunsResponse, runs, Run
);
list_response!(
    /// `GET /pipelines` answer.
    ListPipelinesResponse, pipelines, Pipeline
);
list_response!(
    /// `GET /pipeline_versions` answer.
    ListPipelineVersionsResponse, versions, PipelineVersion
);
