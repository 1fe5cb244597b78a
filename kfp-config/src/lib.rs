//! The kfp-gitops configuration: what a team declares in git.
//!
//! It owns the schema of `experiments.yaml`, `recurring_runs.yaml` (compatible with deployKF's
//! `kubeflow-pipelines-gitops`) and the optional project file `kfp-gitops.yaml`; validation that reports every
//! problem with its file, JSON-pointer path, line and column; the pipeline sources (GitHub, any git remote,
//! local paths) with their cache; and the checks of a rendered Argo Workflow against its declared inputs.
//!
//! What it must never do: talk to the KFP API, print, or exit the process. Fetching a source may do network
//! and file I/O, but loading never changes anything outside its cache directory.

pub mod check;
pub mod cron;
pub mod desired;
pub mod load;
pub mod model;
pub mod problem;
pub mod project;
pub mod rollout;
pub mod schema;
pub mod sources;
pub mod workflow;
pub mod yaml;

pub use desired::{
    DesiredExperiment, DesiredNamespace, DesiredPipeline, DesiredRecurringRun, DesiredTrigger,
    Schedule,
};
pub use load::{LoadOptions, Validation, load_namespace, validate_namespace};
pub use problem::{ConfigErrors, Problem};
pub use workflow::{PipelineInput, Workflow, WorkflowDigest, WorkflowError};
