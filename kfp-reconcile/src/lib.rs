//! Planning and applying: turning declared experiments and recurring runs into KFP API calls.
//!
//! [`plan()`] is a pure function of (desired state, observed state, clock, options): plain data in, a [`Plan`] out,
//! no I/O, so every decision can be tested as a table. [`observe()`] reads the observed state with the minimum
//! number of requests (the pages of one experiment listing and one job listing). [`apply()`] walks a plan
//! through a [`kfp_client::KfpApi`] in the safe order: create the new version paused, disable the others,
//! enable it, delete old versions. With a verified rollout ([`rollout`], [`verify`]), one run of the paused
//! new version must succeed before the others are disabled.
//!
//! A recurring run `nightly` exists in KFP as *versions*: jobs named `GIT::nightly__{timestamp}` (see
//! [`naming`]), compatible with the reference scripts.
//!
//! [`Session`] owns a whole command run on top of these: loading the desired state of every target
//! (resolved by [`kfp_config::project::resolve_targets`]) with shared fetchers, observing, planning,
//! applying with bounded concurrency and a [`CancelToken`], the stale check of saved plans
//! ([`read_plans`], [`check_fresh`]) and the `watch` daemon's per-namespace reconcile with its drift
//! decision ([`is_drift`]). The `kfp-gitops` CLI calls exactly these functions. Reconciling one
//! namespace takes a few lines (`examples/reconcile_namespace.rs`):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kfp_config::project::{TargetQuery, resolve_targets};
//! use kfp_reconcile::{CancelToken, Session, SessionOptions};
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

pub mod apply;
mod cancel;
pub mod diff;
mod drift;
mod error;
pub mod import;
mod lock;
pub mod missed;
pub mod model;
pub mod naming;
pub mod observe;
pub mod observed;
pub mod planner;
pub mod rollout;
mod saved;
mod session;
pub mod status;
pub mod trigger;
pub mod verify;
pub mod zoned;

pub use apply::{
    ApplyOptions, ApplyReport, JobReport, Outcome, RE_ENABLE, StepReport, apply, apply_many,
    apply_many_until, apply_until,
};
pub use cancel::CancelToken;
pub use drift::{
    ConfigFingerprint, Converged, ConvergedJob, FailedVerifications, config_fingerprint,
    drift_reasons, is_drift, verification_fingerprint,
};
pub use error::describe;
pub use lock::{
    LOCK_EXPERIMENT, LockError, LockHolder, LockOptions, NamespaceLock, default_holder,
};
pub use model::{
    Action, ExperimentAction, ExperimentPlan, FORMAT_VERSION, FieldDiff, JobChange, JobPlan,
    Leftover, NewVersion, Parameter, Plan, PlanFile, PlannedSchedule, PlannedZone, Reason,
    RestartCause, Verification, VersionRef, VersionSummary, Warning,
};
pub use observe::{ObserveError, observe, observe_many};
pub use observed::{
    ObservedExperiment, ObservedJob, ObservedNamespace, ObservedSchedule, ObservedTrigger,
    ObservedWorkflow,
};
pub use planner::{DEFAULT_RUNNER_SA, PlanOptions, PruneMode, plan};
pub use saved::{SavedPlanError, check_api_url, check_fresh, read_plans, save_plans};
pub use session::{
    DriftReport, Locks, NamespaceProblem, NamespaceReconcile, Session, SessionError,
    SessionOptions, load_desired, longest_verification, validate,
};
pub use trigger::{RunNowError, StartedRun, live_version, run_now};
pub use verify::{ProgressSink, VerifyOptions, VerifyProgress};
