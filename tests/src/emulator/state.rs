//! The emulator's database: what the KFP API server keeps in MySQL (plus the bits of the ScheduledWorkflow
//! and Workflow CRs that show through the API), and how each row is rendered as v1beta1 proto-JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::list::{Column, Listable};
use super::profile::Profile;
use super::wire::Out;

/// `api.ResourceType` names and numbers.
pub const RESOURCE_TYPES: &[(&str, i32)] = &[
    ("UNKNOWN_RESOURCE_TYPE", 0),
    ("EXPERIMENT", 1),
    ("JOB", 2),
    ("PIPELINE", 3),
    ("PIPELINE_VERSION", 4),
    ("NAMESPACE", 5),
];
/// `api.Relationship` names and numbers.
pub const RELATIONSHIPS: &[(&str, i32)] =
    &[("UNKNOWN_RELATIONSHIP", 0), ("OWNER", 1), ("CREATOR", 2)];

/// Stored experiment storage state (the enum *name*, as the DB column holds it).
pub const AVAILABLE: &str = "STORAGESTATE_AVAILABLE";
/// Archived.
pub const ARCHIVED: &str = "STORAGESTATE_ARCHIVED";

/// The whole database.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// Experiments, in creation order.
    pub experiments: Vec<Experiment>,
    /// Recurring runs.
    pub jobs: Vec<Job>,
    /// Runs.
    pub runs: Vec<Run>,
    /// Pipelines with their versions.
    pub pipelines: Vec<Pipeline>,
    /// The id of the `Default` experiment ("" once deleted).
    pub default_experiment_id: String,
}

/// A resource reference as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reference {
    /// `EXPERIMENT`, `NAMESPACE`, ...
    pub key_type: String,
    /// The referenced id.
    pub key_id: String,
    /// The referenced resource's name (output only).
    pub name: String,
    /// `OWNER` or `CREATOR`.
    pub relationship: String,
}

impl Reference {
    /// proto-JSON.
    pub fn to_json(&self) -> Value {
        let key = Out::new()
            .str("type", &self.key_type)
            .str("id", &self.key_id)
            .done();
        Out::new()
            .msg("key", key)
            .str("name", &self.name)
            .str("relationship", &self.relationship)
            .done()
    }
}

/// A pipeline parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Parameter {
    /// Name.
    pub name: String,
    /// Value ("" is omitted on output).
    pub value: String,
}

impl Parameter {
    /// proto-JSON.
    pub fn to_json(&self) -> Value {
        Out::new()
            .str("name", &self.name)
            .str("value", &self.value)
            .done()
    }
}

/// An experiment row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Experiment {
    /// UUID.
    pub id: String,
    /// Name (unique per namespace).
    pub name: String,
    /// Description.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Owning namespace ("" in single-user mode).
    pub namespace: String,
    /// `STORAGESTATE_AVAILABLE` / `STORAGESTATE_ARCHIVED`.
    pub storage_state: String,
}

impl Experiment {
    /// proto-JSON of `api.Experiment`. 2.x always emits the NAMESPACE/OWNER reference, without an id in
    /// single-user mode (KFP2-V1BETA1.md §2.2 "`resource_references` in response").
    pub fn to_json(&self, multi_user: bool, profile: Profile) -> Value {
        let refs = if profile.is_v2() {
            let key = Out::new()
                .str("type", "NAMESPACE")
                .str("id", &self.namespace)
                .done();
            vec![json!({"key": key, "relationship": "OWNER"})]
        } else if multi_user {
            vec![
                json!({"key": {"type": "NAMESPACE", "id": self.namespace}, "relationship": "OWNER"}),
            ]
        } else {
            Vec::new()
        };
        Out::new()
            .str("id", &self.id)
            .str("name", &self.name)
            .str("description", &self.description)
            .time("created_at", Some(self.created_at))
            .list("resource_references", refs)
            .str("storage_state", &self.storage_state)
            .done()
    }
}

impl Listable for Experiment {
    const MODEL: &'static str = "Experiment";
    const KEYS: &'static [&'static str] = &[
        "id",
        "name",
        "created_at",
        "description",
        "namespace",
        "storage_state",
    ];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" => Column::Str(self.id.clone()),
            "name" => Column::Str(self.name.clone()),
            "created_at" => Column::Int(self.created_at),
            "description" => Column::Str(self.description.clone()),
            "namespace" => Column::Str(self.namespace.clone()),
            "storage_state" => Column::Str(self.storage_state.clone()),
            _ => return None,
        })
    }
    fn key(&self) -> &str {
        &self.id
    }
}

/// The pipeline source shared by jobs and runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Spec {
    /// `pipeline_id`.
    pub pipeline_id: String,
    /// `pipeline_name` (output).
    pub pipeline_name: String,
    /// `workflow_manifest`, byte for byte as sent (or the stored template).
    pub workflow_manifest: String,
    /// `pipeline_manifest` (v2 IR), as sent.
    pub pipeline_manifest: String,
    /// `parameters`, as sent.
    pub parameters: Vec<Parameter>,
}

impl Spec {
    /// proto-JSON of `api.PipelineSpec`.
    pub fn to_json(&self) -> Value {
        Out::new()
            .str("pipeline_id", &self.pipeline_id)
            .str("pipeline_name", &self.pipeline_name)
            .str("workflow_manifest", &self.workflow_manifest)
            .str("pipeline_manifest", &self.pipeline_manifest)
            .list(
                "parameters",
                self.parameters.iter().map(Parameter::to_json).collect(),
            )
            .done()
    }
}

/// A job (recurring run) row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// UUID (the ScheduledWorkflow CR's UID).
    pub id: String,
    /// Display name (not unique).
    pub name: String,
    /// Description.
    pub description: String,
    /// Pipeline source.
    pub spec: Spec,
    /// References as sent, names filled in.
    pub references: Vec<Reference>,
    /// Effective service account.
    pub service_account: String,
    /// 1..=10.
    pub max_concurrency: i64,
    /// Cron expression ("" when periodic or no trigger).
    pub cron: String,
    /// Interval in seconds (0 when cron or no trigger).
    pub interval_second: i64,
    /// Trigger start, unix seconds.
    pub start_time: Option<i64>,
    /// Trigger end, unix seconds.
    pub end_time: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// `NO_STATUS` at creation.
    pub status: String,
    /// Error text.
    pub error: String,
    /// Enabled.
    pub enabled: bool,
    /// No catch-up.
    pub no_catchup: bool,
    /// The Namespace column (the experiment's namespace; the pod namespace in single-user mode).
    pub namespace: String,
    /// The owning experiment.
    pub experiment_id: String,
}

impl Job {
    /// The trigger as proto-JSON: the stored cron wins, then the interval, else `{}`.
    pub fn trigger_json(&self) -> Value {
        if !self.cron.is_empty() {
            let cron = Out::new()
                .time("start_time", self.start_time)
                .time("end_time", self.end_time)
                .str("cron", &self.cron)
                .done();
            json!({ "cron_schedule": cron })
        } else if self.interval_second != 0 {
            let periodic = Out::new()
                .time("start_time", self.start_time)
                .time("end_time", self.end_time)
                .i64("interval_second", self.interval_second)
                .done();
            json!({ "periodic_schedule": periodic })
        } else {
            json!({})
        }
    }

    /// The references 2.x's `toApiJobV1` rebuilds from columns, never with names, in this order:
    /// NAMESPACE/OWNER, EXPERIMENT/OWNER, PIPELINE/CREATOR, PIPELINE_VERSION/CREATOR (KFP2-V1BETA1.md §2.5
    /// "`resource_references`").
    fn synthesised_refs(&self) -> Vec<Value> {
        let key = |kind: &str, id: &str| Out::new().str("type", kind).str("id", id).done();
        let mut refs = Vec::new();
        if !self.namespace.is_empty() {
            refs.push(json!({"key": key("NAMESPACE", &self.namespace), "relationship": "OWNER"}));
        }
        if !self.experiment_id.is_empty() {
            refs.push(
                json!({"key": key("EXPERIMENT", &self.experiment_id), "relationship": "OWNER"}),
            );
        }
        if !self.spec.pipeline_id.is_empty() {
            refs.push(
                json!({"key": key("PIPELINE", &self.spec.pipeline_id), "relationship": "CREATOR"}),
            );
        }
        if let Some(version) = self
            .references
            .iter()
            .find(|r| r.key_type == "PIPELINE_VERSION")
        {
            refs.push(
                json!({"key": key("PIPELINE_VERSION", &version.key_id), "relationship": "CREATOR"}),
            );
        }
        refs
    }

    /// 2.x's v1 job status: `STATUS_UNSPECIFIED` at create, later `ENABLED`/`DISABLED`; Running/Succeeded
    /// map to ENABLED, Error to STATUS_UNSPECIFIED (KFP2-V1BETA1.md §2.5 "`status`").
    fn status_v2(&self) -> &'static str {
        match self.status.as_str() {
            "Enabled" | "Running" | "Succeeded" | "ENABLED" => "ENABLED",
            "Disabled" | "DISABLED" => "DISABLED",
            _ => "STATUS_UNSPECIFIED",
        }
    }

    /// proto-JSON of `api.Job` as `profile` renders it.
    pub fn to_json(&self, profile: Profile) -> Value {
        let (refs, status) = if profile.is_v2() {
            (self.synthesised_refs(), self.status_v2())
        } else {
            (
                self.references.iter().map(Reference::to_json).collect(),
                self.status.as_str(),
            )
        };
        let trigger = self.trigger_json();
        // KFP2-V1BETA1.md §2.5 "`trigger`": 2.x omits an empty trigger, 1.8.5 writes `{}`.
        let trigger = (!profile.is_v2() || trigger != json!({})).then_some(trigger);
        let mut out = Out::new()
            .str("id", &self.id)
            .str("name", &self.name)
            .str("description", &self.description)
            .msg("pipeline_spec", self.spec.to_json())
            .list("resource_references", refs)
            .str("service_account", &self.service_account)
            .i64("max_concurrency", self.max_concurrency);
        if let Some(trigger) = trigger {
            out = out.msg("trigger", trigger);
        }
        out.time("created_at", Some(self.created_at))
            .time("updated_at", Some(self.updated_at))
            .str("status", status)
            .str("error", &self.error)
            .bool("enabled", self.enabled)
            .bool("no_catchup", self.no_catchup)
            .done()
    }
}

impl Listable for Job {
    const MODEL: &'static str = "Job";
    const KEYS: &'static [&'static str] = &["id", "name", "created_at", "package_id"];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" => Column::Str(self.id.clone()),
            "name" => Column::Str(self.name.clone()),
            "created_at" => Column::Int(self.created_at),
            "package_id" => Column::Str(self.spec.pipeline_id.clone()),
            _ => return None,
        })
    }
    fn key(&self) -> &str {
        &self.id
    }
}

/// A job as KFP 2.x lists it: its sort/filter keys are `jobAPIToModelFieldMap`'s, and `package_id` is gone
/// (KFP2-V1BETA1.md §2.5 "Sort/filter keys").
#[derive(Debug, Clone, Copy)]
pub struct JobV2<'a>(pub &'a Job);

impl Listable for JobV2<'_> {
    const MODEL: &'static str = "Job";
    const KEYS: &'static [&'static str] = &[
        "id",
        "recurring_run_id",
        "name",
        "display_name",
        "created_at",
        "updated_at",
        "description",
    ];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" | "recurring_run_id" => Column::Str(self.0.id.clone()),
            "name" | "display_name" => Column::Str(self.0.name.clone()),
            "created_at" => Column::Int(self.0.created_at),
            "updated_at" => Column::Int(self.0.updated_at),
            "description" => Column::Str(self.0.description.clone()),
            _ => return None,
        })
    }
    fn key(&self) -> &str {
        &self.0.id
    }
}

/// A run row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `STORAGESTATE_AVAILABLE` / `STORAGESTATE_ARCHIVED`.
    pub storage_state: String,
    /// Pipeline source.
    pub spec: Spec,
    /// References, names filled in.
    pub references: Vec<Reference>,
    /// Effective service account.
    pub service_account: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub scheduled_at: i64,
    /// Unix seconds; 0 while unfinished.
    pub finished_at: i64,
    /// Workflow phase (`Pending`, `Running`, `Succeeded`, `Failed`, `Terminating`, ...).
    pub status: String,
    /// Error text.
    pub error: String,
    /// The Namespace column.
    pub namespace: String,
    /// The owning experiment.
    pub experiment_id: String,
    /// Reported metrics (proto-JSON objects).
    pub metrics: Vec<Value>,
    /// When the current attempt started, unix milliseconds (drives Pending → Running → Succeeded).
    pub phase_started_ms: i64,
    /// Set once a control call or termination fixed the outcome; progression stops.
    pub settled: bool,
}

/// Final workflow phases.
pub const FINAL_PHASES: &[&str] = &["Succeeded", "Failed", "Error", "Skipped"];

impl Run {
    /// Moves the run along Pending → Running → Succeeded by elapsed time (`duration_ms` per attempt;
    /// a quarter of it Pending). Terminating runs end Failed.
    pub fn advance(&mut self, now_ms: i64, duration_ms: i64) {
        if self.settled || FINAL_PHASES.contains(&self.status.as_str()) {
            return;
        }
        let elapsed = now_ms - self.phase_started_ms;
        if self.status == "Terminating" {
            if elapsed >= duration_ms / 4 {
                self.status = "Failed".to_owned();
                self.finished_at = now_ms / 1000;
            }
            return;
        }
        if elapsed >= duration_ms {
            self.status = "Succeeded".to_owned();
            self.finished_at = (self.phase_started_ms + duration_ms) / 1000;
        } else if elapsed >= duration_ms / 4 {
            self.status = "Running".to_owned();
        } else {
            self.status = "Pending".to_owned();
        }
    }

    /// 2.x's v1 run status: `Pending` before the agent reports, `Error` (and Canceled) as `Failed`
    /// (KFP2-V1BETA1.md §2.8 "`status` at create", "`status` vocabulary").
    fn status_for(&self, profile: Profile) -> &str {
        match self.status.as_str() {
            "" if profile.is_v2() => "Pending",
            "Error" if profile.is_v2() => "Failed",
            other => other,
        }
    }

    /// 2.x's synthesised run references: EXPERIMENT/OWNER, NAMESPACE/OWNER, JOB/CREATOR, no names
    /// (KFP2-V1BETA1.md §2.8 "Refs").
    fn refs_for(&self, profile: Profile) -> Vec<Value> {
        if !profile.is_v2() {
            return self.references.iter().map(Reference::to_json).collect();
        }
        let key = |kind: &str, id: &str| Out::new().str("type", kind).str("id", id).done();
        let mut refs = Vec::new();
        if !self.experiment_id.is_empty() {
            refs.push(
                json!({"key": key("EXPERIMENT", &self.experiment_id), "relationship": "OWNER"}),
            );
        }
        if !self.namespace.is_empty() {
            refs.push(json!({"key": key("NAMESPACE", &self.namespace), "relationship": "OWNER"}));
        }
        if let Some(job) = self.references.iter().find(|r| r.key_type == "JOB") {
            refs.push(json!({"key": key("JOB", &job.key_id), "relationship": "CREATOR"}));
        }
        refs
    }

    /// proto-JSON of `api.Run` as `profile` renders it.
    pub fn to_json(&self, profile: Profile) -> Value {
        Out::new()
            .str("id", &self.id)
            .str("name", &self.name)
            // Run's enum has AVAILABLE = 0, which jsonpb omits.
            .str(
                "storage_state",
                if self.storage_state == ARCHIVED {
                    ARCHIVED
                } else {
                    ""
                },
            )
            .str("description", &self.description)
            .msg("pipeline_spec", self.spec.to_json())
            .list("resource_references", self.refs_for(profile))
            .str("service_account", &self.service_account)
            .time("created_at", Some(self.created_at))
            .time("scheduled_at", Some(self.scheduled_at))
            .time("finished_at", Some(self.finished_at))
            .str("status", self.status_for(profile))
            .str("error", &self.error)
            .list("metrics", self.metrics.clone())
            .done()
    }

    /// proto-JSON of `api.RunDetail`.
    pub fn detail_json(&self, profile: Profile) -> Value {
        let runtime = json!({
            "metadata": {"name": self.id, "namespace": self.namespace},
            "status": {"phase": self.status, "finishedAt": if self.finished_at > 0 {
                Value::String(super::wire::format_timestamp(self.finished_at)) } else { Value::Null }},
        });
        json!({
            "run": self.to_json(profile),
            "pipeline_runtime": Out::new().str("workflow_manifest", &runtime.to_string()).done(),
        })
    }
}

impl Listable for Run {
    const MODEL: &'static str = "Run";
    const KEYS: &'static [&'static str] = &[
        "id",
        "name",
        "created_at",
        "description",
        "scheduled_at",
        "storage_state",
        "status",
    ];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" => Column::Str(self.id.clone()),
            "name" => Column::Str(self.name.clone()),
            "created_at" => Column::Int(self.created_at),
            "description" => Column::Str(self.description.clone()),
            "scheduled_at" => Column::Int(self.scheduled_at),
            "storage_state" => Column::Str(self.storage_state.clone()),
            "status" => Column::Str(self.status.clone()),
            other => {
                let metric = other.strip_prefix("metric:")?;
                let value = self
                    .metrics
                    .iter()
                    .find(|m| m.get("name").and_then(Value::as_str) == Some(metric))
                    .and_then(|m| m.get("number_value"))
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::MIN);
                Column::Int((value * 1_000_000.0) as i64)
            }
        })
    }
    fn key(&self) -> &str {
        &self.id
    }
}

/// A pipeline version row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Version {
    /// UUID (the default version of an upload shares the pipeline's).
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Parameters from the template's `spec.arguments.parameters`.
    pub parameters: Vec<Parameter>,
    /// The stored template (Argo Workflow JSON).
    pub template: String,
    /// The owning pipeline.
    pub pipeline_id: String,
}

impl Version {
    /// proto-JSON of `api.PipelineVersion`.
    pub fn to_json(&self) -> Value {
        Out::new()
            .str("id", &self.id)
            .str("name", &self.name)
            .time("created_at", Some(self.created_at))
            .list("parameters", self.parameters.iter().map(Parameter::to_json).collect())
            .str("description", &self.description)
            .list(
                "resource_references",
                vec![json!({"key": {"type": "PIPELINE", "id": self.pipeline_id}, "relationship": "OWNER"})],
            )
            .done()
    }
}

impl Listable for Version {
    const MODEL: &'static str = "PipelineVersion";
    const KEYS: &'static [&'static str] = &["id", "name", "created_at", "status"];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" => Column::Str(self.id.clone()),
            "name" => Column::Str(self.name.clone()),
            "created_at" => Column::Int(self.created_at),
            "status" => Column::Str("READY".to_owned()),
            _ => return None,
        })
    }
    fn key(&self) -> &str {
        &self.id
    }
}

/// A pipeline row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Pipeline {
    /// UUID.
    pub id: String,
    /// Name (unique per namespace).
    pub name: String,
    /// Description.
    pub description: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Namespace ("" = shared).
    pub namespace: String,
    /// The default version's id.
    pub default_version_id: String,
    /// Versions.
    pub versions: Vec<Version>,
}

impl Pipeline {
    /// The default version, if any.
    pub fn default_version(&self) -> Option<&Version> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version_id)
    }

    /// proto-JSON of `api.Pipeline`.
    pub fn to_json(&self) -> Value {
        let default = self.default_version();
        let mut out = Out::new()
            .str("id", &self.id)
            .time("created_at", Some(self.created_at))
            .str("name", &self.name)
            .str("description", &self.description)
            .list(
                "parameters",
                default
                    .map(|v| v.parameters.iter().map(Parameter::to_json).collect())
                    .unwrap_or_default(),
            );
        if let Some(version) = default {
            out = out.msg("default_version", version.to_json());
        }
        out.done()
    }
}

impl Listable for Pipeline {
    const MODEL: &'static str = "Pipeline";
    const KEYS: &'static [&'static str] = &["id", "name", "created_at", "description", "namespace"];
    fn column(&self, key: &str) -> Option<Column> {
        Some(match key {
            "id" => Column::Str(self.id.clone()),
            "name" => Column::Str(self.name.clone()),
            "created_at" => Column::Int(self.created_at),
            "description" => Column::Str(self.description.clone()),
            "namespace" => Column::Str(self.namespace.clone()),
            _ => return None,
        })
    }
    fn key(&self) -> &str {
        &self.id
    }
}

/// A random UUID v4 (no external RNG: std's per-process random hasher keys are enough for test ids).
pub fn new_uuid() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    for half in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        bytes[half * 8..half * 8 + 8].copy_from_slice(&hasher.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
