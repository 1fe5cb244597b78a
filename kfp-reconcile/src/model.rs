//! The plan: what `apply` will do to one namespace, and why.
//!
//! A plan is plain, serializable data. It carries everything `apply` needs — including the complete definition
//! of every version to create — so a plan saved with `plan --out` is applied exactly as it was shown.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Version of the JSON form of [`Plan`] / [`PlanFile`]; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The plan for one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The namespace (Kubeflow profile); empty for a single-user KFP.
    pub namespace: String,
    /// Fingerprint of the observed state the plan was computed from (see `ObservedNamespace::fingerprint`).
    pub fingerprint: String,
    /// The clock reading the plan was computed with.
    pub planned_at: Timestamp,
    /// Experiments to create or unarchive, in order.
    pub experiments: Vec<ExperimentPlan>,
    /// Recurring runs with something to do or report, in config order, then orphans by name.
    pub jobs: Vec<JobPlan>,
    /// Names of the recurring runs that are up to date.
    pub unchanged: Vec<String>,
    /// Recurring runs no longer in the config that are left in KFP because nothing is pruned, by name.
    /// An enabled one still fires: it is out of sync, a pending change.
    #[serde(default)]
    pub leftovers: Vec<Leftover>,
    /// Things the user should know that no action will fix.
    pub warnings: Vec<Warning>,
}

impl Plan {
    /// True when applying the plan would make no API call.
    pub fn is_empty(&self) -> bool {
        self.experiments.is_empty() && self.jobs.iter().all(|job| job.actions.is_empty())
    }

    /// True when KFP matches the configuration: nothing to apply and no leftover that still fires.
    pub fn is_in_sync(&self) -> bool {
        self.is_empty() && self.enabled_leftovers().next().is_none()
    }

    /// The leftovers that are still enabled (they fire although the config no longer declares them).
    pub fn enabled_leftovers(&self) -> impl Iterator<Item = &Leftover> {
        self.leftovers.iter().filter(|leftover| leftover.enabled)
    }

    /// Number of API calls applying the plan takes.
    pub fn action_count(&self) -> usize {
        self.experiments.len() + self.jobs.iter().map(|job| job.actions.len()).sum::<usize>()
    }
}

/// Several namespace plans as saved by `plan --out FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always [`FORMAT_VERSION`] when written; checked when read.
    pub format_version: u32,
    /// The KFP API URL the plans were made against (normalized, as the client uses it); `apply FILE`
    /// refuses another. Absent in files written before it was recorded, which are then not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// One plan per namespace.
    pub plans: Vec<Plan>,
}

impl PlanFile {
    /// Wraps plans with the current format version.
    pub fn new(plans: Vec<Plan>) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            api_url: None,
            plans,
        }
    }

    /// Wraps plans made against the API at `api_url`.
    pub fn made_against(plans: Vec<Plan>, api_url: &str) -> Self {
        Self {
            api_url: Some(api_url.to_owned()),
            ..Self::new(plans)
        }
    }
}

/// Something to do to an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentPlan {
    /// The experiment name.
    pub name: String,
    /// What to do.
    pub action: ExperimentAction,
}

/// An experiment action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ExperimentAction {
    /// Create the missing experiment.
    Create {
        /// Its description.
        description: Option<String>,
    },
    /// Unarchive the archived experiment.
    Unarchive {
        /// Its KFP id.
        id: String,
    },
}

/// What happens to one logical recurring run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobChange {
    /// No version exists yet: the first one is created.
    Create,
    /// The latest version differs from the config: a new version replaces it.
    Replace,
    /// The latest version is up to date; only enabled states or history change.
    Update,
    /// The job is no longer in the config; its versions are disabled or deleted (`--prune`).
    Prune,
    /// The first version takes over a recurring run kfp-gitops did not manage (`job.adopt`): created
    /// paused, the adopted job disabled, then the version enabled. The adopted job is never deleted.
    Adopt,
}

/// A recurring run no longer in the config whose versions are left in KFP (nothing is pruned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftover {
    /// The logical job name.
    pub name: String,
    /// Whether a version of it is enabled: it still fires.
    pub enabled: bool,
    /// The schedule of the enabled version (or of the newest one), as `cron 0 0 * * * *` or
    /// `every 3600s`; `None` when it has no trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Its versions, newest first.
    pub versions: Vec<VersionSummary>,
}

/// The plan for one logical recurring run (all its versions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPlan {
    /// The logical job name (`job.name`).
    pub name: String,
    /// What kind of change this is.
    pub change: JobChange,
    /// Why anything happens: differences from the config and drift.
    pub reasons: Vec<Reason>,
    /// Field-level differences between the latest version and the config (for `Replace`).
    pub diffs: Vec<FieldDiff>,
    /// Unified diff of the normalized workflow, when the workflow changed and the old one was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_diff: Option<String>,
    /// The observed versions, newest first.
    pub versions: Vec<VersionSummary>,
    /// Actions in the order they must run.
    pub actions: Vec<Action>,
}

/// One observed version of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    /// KFP id.
    pub id: String,
    /// KFP display name.
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
}

/// A job action. Versions created by the plan itself have no id yet: `id` is `None` for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a new version, disabled.
    CreateVersion {
        /// The full definition of the version.
        version: Box<NewVersion>,
    },
    /// Disable a version.
    Disable {
        /// The version.
        version: VersionRef,
    },
    /// Enable a version.
    Enable {
        /// The version.
        version: VersionRef,
    },
    /// Delete a version.
    Delete {
        /// The version.
        version: VersionRef,
    },
    /// Prove a paused version with one run of it before it is enabled (`rollout: {strategy: verify}`):
    /// find or start its `VERIFY::` run, wait for it; on failure the job's later actions are skipped
    /// and the version is deleted (unless `keep_failed`).
    Verify {
        /// The version to verify (the one the plan creates has no id yet).
        version: VersionRef,
        /// How.
        verification: Verification,
    },
}

impl Action {
    /// Short verb used in reports: `create`, `disable`, `enable`, `delete`.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::CreateVersion { .. } => "create",
            Self::Disable { .. } => "disable",
            Self::Enable { .. } => "enable",
            Self::Delete { .. } => "delete",
            Self::Verify { .. } => "verify",
        }
    }

    /// The KFP display name of the version the action is about.
    pub fn version_name(&self) -> &str {
        match self {
            Self::CreateVersion { version } => &version.name,
            Self::Disable { version }
            | Self::Enable { version }
            | Self::Delete { version }
            | Self::Verify { version, .. } => &version.name,
        }
    }
}

/// How a version is verified before it takes over the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// How long the verification run may take, counted from its creation.
    pub timeout_seconds: u64,
    /// Keep the version (paused) when the verification fails, instead of deleting it.
    #[serde(default)]
    pub keep_failed: bool,
    /// Parameter values of the verification run only (the version's own values otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
}

/// A reference to a version: an existing one (with id) or the one this plan creates (without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRef {
    /// KFP id, `None` for the version created by the same plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// KFP display name.
    pub name: String,
}

/// Everything needed to create one version of a recurring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewVersion {
    /// KFP display name `GIT::{job}__{timestamp}`.
    pub name: String,
    /// Description (absent = none).
    pub description: Option<String>,
    /// Experiment name.
    pub experiment: String,
    /// Experiment id when the experiment exists at planning time; otherwise it is created first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment_id: Option<String>,
    /// Service account (config value or the default runner service account).
    pub service_account: String,
    /// Maximum number of concurrent runs.
    pub max_concurrency: i64,
    /// Parameters in config order, values as strings.
    pub parameters: Vec<Parameter>,
    /// `catchup` from the config (KFP's `no_catchup` is its negation).
    pub catchup: bool,
    /// Start of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// End of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// Cron expression or interval (a cron in the scheduler's zone).
    pub schedule: PlannedSchedule,
    /// The zone and local cron the schedule was translated from, when it has a `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<PlannedZone>,
    /// Whether the version is enabled after the plan (it is always created disabled).
    pub enabled: bool,
    /// The workflow manifest sent to KFP (compact JSON).
    pub workflow_manifest: String,
    /// Digest of the normalized workflow.
    pub workflow_digest: String,
    /// Where the pipeline came from, for messages.
    pub source: String,
}

/// A pipeline parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameter {
    /// Name.
    pub name: String,
    /// Value (absent in KFP = `""`).
    pub value: String,
}

/// A cron written in a time zone, translated to the scheduler's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedZone {
    /// The IANA zone the cron is written in.
    pub timezone: String,
    /// The IANA zone of KFP's scheduler.
    pub scheduler: String,
    /// The cron as written in the config.
    pub local_cron: String,
}

/// The schedule of a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlannedSchedule {
    /// A robfig/cron expression (6 fields or a descriptor).
    Cron(String),
    /// A period in seconds.
    Interval(u64),
}

/// One field that differs between the latest version and the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// The field, e.g. `max_concurrency`, `parameters.msg`, `trigger.cron`, `workflow`.
    pub field: String,
    /// The value in KFP (`None` = absent).
    pub observed: Option<String>,
    /// The value in the config (`None` = absent).
    pub desired: Option<String>,
}

/// Why a job has actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The job has no version yet.
    NoVersion,
    /// The latest version differs from the config in the listed fields.
    Differs {
        /// Names of the fields that differ.
        fields: Vec<String>,
    },
    /// The config says enabled, the latest version is disabled.
    LatestDisabled,
    /// The config says disabled, the latest version is enabled.
    LatestEnabled,
    /// Versions other than the latest are enabled (only one may run).
    OtherVersionsEnabled {
        /// How many.
        count: usize,
    },
    /// More non-latest versions exist than `keep_history` allows.
    HistoryBeyondKeep {
        /// How many are deleted.
        count: usize,
        /// The `keep_history` setting.
        keep_history: i64,
    },
    /// The job is no longer declared in the config.
    NotInConfig,
    /// The config adopts an unmanaged recurring run that is still enabled: it is disabled (never deleted).
    Adopts {
        /// The adopted job's name.
        job: String,
    },
    /// Versions share a name with a newer one (KFP does not keep names unique): the extra ones go.
    DuplicateNames {
        /// How many are deleted.
        count: usize,
    },
    /// The newest version is paused until one run of it succeeds (`rollout: {strategy: verify}`); the
    /// older version stays enabled meanwhile.
    Unverified {
        /// The paused version's name.
        version: String,
    },
    /// The cron is written in a time zone whose UTC offset (or the scheduler's) changed since the
    /// latest version was made, so its translation changed.
    UtcOffsetChanges {
        /// The zone the cron is written in.
        zone: String,
        /// The local date of the change.
        date: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoVersion => write!(f, "no version exists in KFP yet"),
            Self::Differs { fields } => {
                write!(
                    f,
                    "the latest version differs from the config: {}",
                    fields.join(", ")
                )
            }
            Self::LatestDisabled => {
                write!(
                    f,
                    "the config says enabled, but the latest version is disabled in KFP"
                )
            }
            Self::LatestEnabled => {
                write!(
                    f,
                    "the config says disabled, but the latest version is enabled in KFP"
                )
            }
            Self::DuplicateNames { count } => write!(
                f,
                "{count} version{} with the same name as a newer one (KFP does not keep names unique; the extra ones are deleted)",
                if *count == 1 { "" } else { "s" }
            ),
            Self::OtherVersionsEnabled { count } => write!(
                f,
                "{count} older version{} enabled (drift: only one version may be enabled)",
                if *count == 1 { " is" } else { "s are" }
            ),
            Self::HistoryBeyondKeep {
                count,
                keep_history,
            } => write!(
                f,
                "{count} old version{} beyond keep_history = {keep_history}",
                if *count == 1 { "" } else { "s" }
            ),
            Self::NotInConfig => write!(f, "no longer declared in the config"),
            Self::Adopts { job } => write!(
                f,
                "adopts the unmanaged recurring run {job:?}: it is disabled (never deleted) once the managed version exists"
            ),
            Self::Unverified { version } => write!(
                f,
                "version {version} is paused until one run of it succeeds (verified rollout)"
            ),
            Self::UtcOffsetChanges { zone, date } => {
                write!(f, "UTC offset of {zone} changes on {date}")
            }
        }
    }
}

/// Something the user should know that the plan does not (or cannot) fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// KFP cannot update an experiment's description.
    ExperimentDescriptionDiffers {
        /// Experiment name.
        experiment: String,
        /// Description in KFP.
        observed: String,
        /// Description in the config.
        desired: String,
    },
    /// A job not managed by kfp-gitops has the display name of a managed job.
    UnmanagedJobWithSameName {
        /// The job name.
        job: String,
        /// KFP id of the unmanaged job.
        id: String,
    },
    /// A replaced version restarts its schedule from now.
    ScheduleRestarts {
        /// The job name.
        job: String,
        /// `catchup` or `interval`.
        cause: RestartCause,
    },
    /// A KFP job with a managed version's name that kfp-gitops cannot use (KFP reports an `error` for it, or it
    /// is a KFP v2 job): it is neither compared nor changed, and never counts as drift (KFP2-V1BETA1.md §5 P0-2).
    UnusableJobSkipped {
        /// The recurring run (logical job) name.
        job: String,
        /// The KFP job's name.
        name: String,
        /// Its KFP id.
        id: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Pruning would remove every recurring run of a namespace whose config declares none.
    EmptyPruneRefused {
        /// How many orphaned jobs were left alone.
        orphans: usize,
    },
    /// The UTC offset of a schedule's zone changes within the next 7 days: the version must be
    /// replaced on that day, by `apply` or the daemon.
    UtcOffsetChangesSoon {
        /// The job name.
        job: String,
        /// The zone.
        zone: String,
        /// When (UTC).
        at: Timestamp,
        /// The local date.
        date: String,
    },
    /// A cron cannot be translated to the scheduler's zone at the plan's clock; the job is left as it is.
    ScheduleNotTranslatable {
        /// The job name.
        job: String,
        /// Why.
        reason: String,
    },
}

/// Why a replaced version restarts its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartCause {
    /// `catchup: true`: the new version has never run, so it back-fills from its start.
    Catchup,
    /// `interval_seconds`: the interval counts from the creation of the new version.
    Interval,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExperimentDescriptionDiffers {
                experiment,
                observed,
                desired,
            } => write!(
                f,
                "experiment {experiment:?}: description in KFP is {observed:?}, the config says {desired:?}; \
                 KFP cannot update an experiment's description (recreate the experiment to change it)"
            ),
            Self::UnmanagedJobWithSameName { job, id } => write!(
                f,
                "recurring run {job:?}: KFP also has a job named exactly {job:?} (id {id}) that is not managed \
                 by kfp-gitops; it is left alone"
            ),
            Self::ScheduleRestarts { job, cause } => match cause {
                RestartCause::Catchup => write!(
                    f,
                    "recurring run {job:?}: catchup is true, so the new version may back-fill every run since \
                     its start date"
                ),
                RestartCause::Interval => write!(
                    f,
                    "recurring run {job:?}: the interval of the new version counts from its creation, so the \
                     schedule restarts from now"
                ),
            },
            Self::UtcOffsetChangesSoon {
                job,
                zone,
                at,
                date,
            } => write!(
                f,
                "recurring run {job:?}: the UTC offset of {zone} changes on {date} ({at}); the version must be \
                 replaced then: make sure `apply` (the CI schedule) or the daemon runs after that time"
            ),
            Self::ScheduleNotTranslatable { job, reason } => write!(
                f,
                "recurring run {job:?}: {reason}; it is left as it is in KFP"
            ),
            Self::UnusableJobSkipped {
                job,
                name,
                id,
                reason,
            } => write!(
                f,
                "recurring run {job:?}: KFP job {name:?} (id {id}) is skipped because {reason}; kfp-gitops \
                 leaves it as it is"
            ),
            Self::EmptyPruneRefused { orphans } => write!(
                f,
                "the config declares no recurring runs, so pruning would remove all {orphans} of them; \
                 nothing is pruned (pass --allow-empty-prune if that is intended)"
            ),
        }
    }
}
