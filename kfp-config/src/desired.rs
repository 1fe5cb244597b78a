//! The fully resolved desired state of one namespace: what the configuration asks for, with every
//! pipeline fetched, validated and reduced to what planning needs (its digest and the manifest KFP
//! receives), and every parameter value read, ready for planning.
//!
//! The parsed tree of a pipeline is not kept: a 1 MB pipeline is several times that as a tree, and the
//! recurring runs that use the same pipeline share one [`DesiredPipeline`].

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use crate::workflow::{Workflow, WorkflowDigest};

/// Everything one namespace's configuration declares.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredNamespace {
    /// The KFP namespace (profile).
    pub namespace: String,
    /// Experiments, in file order.
    pub experiments: Vec<DesiredExperiment>,
    /// Recurring runs, in file order.
    pub recurring_runs: Vec<DesiredRecurringRun>,
}

/// One declared experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredExperiment {
    /// The experiment name (unique in the namespace).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
}

/// One declared recurring run (a KFP job, deployed as versions named `GIT::{name}__{timestamp}`).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRecurringRun {
    /// `job.name`: the logical name, unique in the namespace.
    pub name: String,
    /// `job.description`.
    pub description: Option<String>,
    /// `job.experiment`: the experiment the job runs in (declared in `experiments.yaml`).
    pub experiment: String,
    /// `job.enabled`.
    pub enabled: bool,
    /// `job.max_concurrency`, 1..=10.
    pub max_concurrency: u8,
    /// `job.service_account`; `None` lets KFP choose (usually `default-editor`).
    pub service_account: Option<String>,
    /// `job.adopt`: the exact name of an unmanaged recurring run this one takes over (disabled, never
    /// deleted).
    pub adopt: Option<String>,
    /// How many non-latest versions to keep; `-1` keeps all, `0` only the latest.
    pub keep_history: i64,
    /// `rollout:` as written (unset fields fall back to the project's defaults when planning).
    pub rollout: crate::rollout::DesiredRollout,
    /// When it runs.
    pub trigger: DesiredTrigger,
    /// Pipeline parameters in config order, values as the strings KFP receives.
    pub parameters: Vec<(String, String)>,
    /// The pipeline, shared with the other recurring runs of the namespace that use the same file.
    pub pipeline: Arc<DesiredPipeline>,
    /// Where the pipeline came from, for messages (for example
    /// `github.com/deployKF/kubeflow-pipelines-gitops@f73d515:step-1/.../workflow.yaml`).
    pub source: String,
}

/// A validated pipeline as planning uses it: its digest and the manifest sent to KFP, without the tree.
#[derive(Clone, PartialEq, Eq)]
pub struct DesiredPipeline {
    digest: WorkflowDigest,
    manifest: String,
}

impl DesiredPipeline {
    /// Keeps what planning needs of `workflow`: [`Workflow::digest`] and [`Workflow::to_manifest_json`].
    pub fn new(workflow: &Workflow) -> Self {
        Self {
            digest: workflow.digest(),
            manifest: workflow.to_manifest_json(),
        }
    }

    /// The digest of the pipeline (volatile compiler annotations ignored), as [`Workflow::digest`].
    pub fn digest(&self) -> &WorkflowDigest {
        &self.digest
    }

    /// The compact JSON sent to KFP as `workflow_manifest`, as [`Workflow::to_manifest_json`].
    pub fn manifest(&self) -> &str {
        &self.manifest
    }
}

impl fmt::Debug for DesiredPipeline {
    // The manifest can be megabytes; its size is enough to tell pipelines apart in a debug dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DesiredPipeline")
            .field("digest", &self.digest)
            .field("manifest_bytes", &self.manifest.len())
            .finish()
    }
}

/// When a recurring run fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredTrigger {
    /// Whether missed runs are back-filled.
    pub catchup: bool,
    /// No run before this time.
    pub start: Option<Timestamp>,
    /// No run after this time.
    pub end: Option<Timestamp>,
    /// The schedule.
    pub schedule: Schedule,
    /// The time zone a cron is written in, when it is not the scheduler's: the planner translates it.
    pub zone: Option<TriggerZone>,
}

/// The zone a cron schedule is written in and the zone KFP's scheduler fires in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerZone {
    /// The IANA name of the zone the cron is written in (`trigger.timezone` or `defaults.timezone`).
    pub timezone: String,
    /// The IANA name of the scheduler's zone (`scheduler_timezone`, default `UTC`).
    pub scheduler: String,
}

/// A cron expression (robfig/cron v1, 6 fields or a descriptor) or a fixed interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `trigger.cron`, validated by [`crate::cron::validate_cron`].
    Cron(String),
    /// `trigger.interval_seconds`, at least 1.
    Interval(u64),
}
