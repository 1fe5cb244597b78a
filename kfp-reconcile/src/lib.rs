//! Planning and applying: turning declared experiments and recurring runs into KFP API calls.
//!
//! [`plan()`] is a pure function of (desired state, observed state, clock, options): plain data in, a [`Plan`] out,
//! no I/O, so every decision can be tested as a table. [`observe()`] reads the observed state with the minimum
//! number of requests (the pages of one experiment listing and one job listing). [`apply()`] walks a plan
//! through a [`kfp_client::KfpApi`] in the safe order: create the new version paused, disable the others,
//! enable it, delete old versions. With a verified rollout ([`RolloutPolicy`], [`VerifyOptions`]), one run of
//! the paused new version must succeed before the others are disabled.
//!
//! A recurring run `nightly` exists in KFP as *versions*: jobs named `GIT::nightly__{timestamp}` (see
//! [`kfp_config::version_name`]), compatible with the reference scripts.
//!
//! [`Session`] owns a whole command run on top of these: loading the desired state of every target
//! (resolved by [`kfp_config::resolve_targets`]) with shared fetchers, observing, planning,
//! applying with bounded concurrency and a [`kfp_client::CancelToken`], the stale check of saved plans
//! ([`read_plans`], [`check_fresh`]) and the `watch` daemon's per-namespace reconcile with its drift
//! decision ([`is_drift`]). The `kfp-gitops` CLI calls exactly these functions. Reconciling one
//! namespace takes a few lines (`examples/reconcile_namespace.rs`):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kfp_config::{TargetQuery, resolve_targets};
//! use kfp_client::CancelToken;
//! use kfp_reconcile::{Session, SessionOptions};
//!
//! let api = kfp_client::HttpKfpClient::new(kfp_client::ClientConfig::new("http://localhost:8888"))?;
//! let query = TargetQuery::new(vec!["schedules/team-1".into()], vec!["team-1".into()]);
//! let targets = resolve_targets(&query)?.targets;
//! let session = Session::new(&api, SessionOptions::default());
//! let plans = session.plan(&targets, jiff::Timestamp::now())?;
//! for plan in &plans {
//!     println!("{}: {} action(s)", plan.namespace, plan.action_count());
//! }
//! let reports = session.apply(&plans, &CancelToken::new());
//! # Ok(()) }
//! ```
//!
//! What it must never do: read the clock or the network inside `plan`, print, or exit the process.

mod apply;
mod cycle;
mod diff;
mod drift;
mod error;
mod import;
mod lock;
mod missed;
mod model;
mod observe;
mod planner;
mod report;
mod rollout;
mod saved;
mod session;
mod status;
mod trigger;
mod verify;
mod zoned;

pub use apply::{ApplyOptions, apply, apply_many, apply_many_until, apply_until, job_body};
pub use cycle::{CycleOptions, DaemonMemory, NamespaceCycle, reconcile_cycle};
pub use diff::{attach_workflow_diffs, workflow_diff};
pub use drift::{
    ConfigFingerprint, Converged, ConvergedJob, FailedVerifications, config_fingerprint,
    drift_reasons, is_drift, verification_fingerprint,
};
pub use error::describe;
pub use import::{
    ImportError, ImportNote, ImportOptions, ImportedConfig, import_files, import_namespace,
    schema_dir_for, write_import,
};
pub use lock::{LockError, LockHolder, LockOptions, NamespaceLock, default_holder};
pub use missed::{DEFAULT_GRACE, DEFAULT_WINDOW, FireCheck, MissedFireOptions, missed_fires};
pub use model::{
    Action, ExperimentAction, ExperimentPlan, FORMAT_VERSION, FieldDiff, JobChange, JobPlan,
    Leftover, NewVersion, Parameter, Plan, PlanFile, PlannedSchedule, PlannedZone, Reason,
    RestartCause, Verification, VersionRef, VersionSummary, Warning,
};
pub use observe::{
    JOBS_SORT, LOCK_EXPERIMENT, ObserveError, ObservedExperiment, ObservedJob, ObservedNamespace,
    ObservedSchedule, ObservedTrigger, ObservedWorkflow, observe, observe_experiment, observe_job,
    observe_many, observe_workflow, unusable_reason,
};
pub use planner::{DEFAULT_RUNNER_SA, PlanOptions, PruneMode, plan};
pub use report::{ApplyReport, JobReport, Outcome, RE_ENABLE, StepReport};
pub use rollout::{RolloutPolicy, verification};
pub use saved::{SavedPlanError, check_api_url, check_fresh, read_plans, save_plans};
pub use session::{
    DriftReport, Locks, NamespaceProblem, NamespaceReconcile, Session, SessionError,
    SessionOptions, load_desired, validate,
};
pub use status::{
    Health, JobHealth, LiveVersion, NamespaceStatus, RecurringRunStatus, RunSummary, RunsError,
    STATUS_FORMAT_VERSION, StatusError, StatusOptions, Sync, SyncState, declared_names,
    namespace_health, namespace_status, recent_runs, status,
};
pub use trigger::{
    RunNowError, StartedRun, create_run_once, live_version, run_job_id, run_now,
    start_run_of_version, trigger,
};
pub use verify::{
    DISCARD, ProgressSink, START_VERIFICATION, VERIFY, VerifyOptions, VerifyProgress,
};
pub use zoned::{
    MARKER, Recorded, Translated, description_with_schedule, local_time, next_fires, recorded,
    translate,
};
