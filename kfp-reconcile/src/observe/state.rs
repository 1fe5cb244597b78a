//! The observed state of one namespace: what planning needs to know about its experiments and jobs, and
//! nothing more (a job's workflow is kept as a digest, never as its manifest, and only for the versions
//! planning compares, so memory holds one manifest at a time rather than a page or the namespace).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Experiments and jobs of one namespace as listed from KFP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedNamespace {
    /// The namespace (Kubeflow profile); empty for a single-user KFP.
    pub namespace: String,
    /// Every experiment of the namespace, archived ones included.
    pub experiments: Vec<ObservedExperiment>,
    /// Every job (recurring run) of the namespace, managed or not.
    pub jobs: Vec<ObservedJob>,
}

/// One KFP experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedExperiment {
    /// KFP id.
    pub id: String,
    /// Display name (unique per namespace).
    pub name: String,
    /// Description; empty when KFP has none.
    pub description: String,
    /// Whether the experiment is archived.
    pub archived: bool,
}

/// One KFP job, reduced to the fields planning compares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedJob {
    /// KFP id.
    pub id: String,
    /// Display name, e.g. `GIT::nightly__2024-01-02T03-04-05Z`.
    pub name: String,
    /// Description; empty when KFP has none.
    pub description: String,
    /// Id of the experiment the job belongs to (its EXPERIMENT resource reference).
    pub experiment_id: Option<String>,
    /// Whether the job is enabled.
    pub enabled: bool,
    /// Maximum number of concurrent runs.
    pub max_concurrency: i64,
    /// Service account the runs use, as KFP reports it.
    pub service_account: String,
    /// Pipeline parameters in KFP's order; a parameter without value has `""`.
    pub parameters: Vec<(String, String)>,
    /// KFP's `no_catchup` flag (the config's `catchup` is its negation).
    pub no_catchup: bool,
    /// The trigger.
    pub trigger: ObservedTrigger,
    /// Digest of the normalized workflow (see `kfp_config::workflow`), why the manifest could not be read, or
    /// that it was not read because planning never compares it.
    pub workflow: ObservedWorkflow,
    /// When KFP created the job.
    pub created_at: Option<Timestamp>,
    /// When KFP last changed the job (enabling or disabling it). Not part of the fingerprint: planning
    /// never reads it; `status` takes it as the time the live version was enabled.
    #[serde(skip)]
    pub updated_at: Option<Timestamp>,
    /// Why the job cannot be a version kfp-gitops compares or acts on, when it cannot: KFP reports an `error`
    /// for it, or it is a KFP v2 job (no `workflow_manifest`; KFP2-V1BETA1.md §2.5 "jobs created by others",
    /// §5 P0-2). Planning skips such a job with a warning. Absent from the fingerprint when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
}

/// A job's trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedTrigger {
    /// First instant the schedule may fire.
    pub start: Option<Timestamp>,
    /// Last instant the schedule may fire.
    pub end: Option<Timestamp>,
    /// The schedule itself.
    pub schedule: ObservedSchedule,
}

/// A job's schedule as KFP reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservedSchedule {
    /// No trigger at all (KFP accepts such a job; it never fires).
    #[default]
    None,
    /// A robfig/cron expression.
    Cron(String),
    /// A period in seconds.
    Interval(i64),
}

/// What is known about a job's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservedWorkflow {
    /// Hex digest of the normalized workflow tree.
    Digest(String),
    /// The manifest could not be parsed as a workflow (it then never equals a desired one).
    Unreadable(String),
    /// Not read: the job is an older version of a managed job, or not a managed version at all, and planning
    /// compares only the workflow of each managed job's newest version. Serialized as `"not_read"`.
    NotRead,
}

impl ObservedWorkflow {
    /// How the workflow appears in a plan's diff: the short digest, or why there is none.
    pub fn label(&self) -> String {
        match self {
            Self::Digest(digest) => format!("sha256:{}", digest.get(..12).unwrap_or(digest)),
            Self::Unreadable(why) => format!("unreadable ({why})"),
            Self::NotRead => "not read (not the newest version of a managed job)".to_owned(),
        }
    }
}

impl Default for ObservedWorkflow {
    fn default() -> Self {
        Self::Unreadable("no workflow manifest".to_owned())
    }
}

impl ObservedNamespace {
    /// A digest of everything planning depends on, independent of listing order: a saved plan is applied only
    /// while the namespace still has this fingerprint.
    ///
    /// It covers what planning compares: every field of every job, but the workflow only where it was read
    /// (the newest version of each managed job); a change to the manifest of an older version or of an
    /// unmanaged job leaves it as it is, since no plan depends on it.
    pub fn fingerprint(&self) -> String {
        let mut experiments: Vec<&ObservedExperiment> = self.experiments.iter().collect();
        experiments.sort_by(|a, b| (&a.id, &a.name).cmp(&(&b.id, &b.name)));
        let mut jobs: Vec<&ObservedJob> = self.jobs.iter().collect();
        jobs.sort_by(|a, b| (&a.id, &a.name).cmp(&(&b.id, &b.name)));
        let canonical = serde_json::json!({
            "namespace": self.namespace,
            "experiments": experiments,
            "jobs": jobs,
        });
        let mut hasher = Sha256::new();
        hasher.update(canonical.to_string().as_bytes());
        hex::encode(hasher.finalize())
    }

    /// The experiment called `name`, if any.
    pub fn experiment_by_name(&self, name: &str) -> Option<&ObservedExperiment> {
        self.experiments
            .iter()
            .find(|experiment| experiment.name == name)
    }
}
