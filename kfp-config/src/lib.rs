//! The kfp-gitops configuration: what a team declares in git.
//!
//! It owns the schema of `experiments.yaml`, `recurring_runs.yaml` (compatible with deployKF's
//! `kubeflow-pipelines-gitops`) and the optional project file `kfp-gitops.yaml`; validation that reports every
//! problem with its file, JSON-pointer path, line and column; the pipeline sources (GitHub, any git remote,
//! local paths) with their cache; and the checks of a rendered Argo Workflow against its declared inputs.
//!
//! What it must never do: talk to the KFP API, print, or exit the process. Fetching a source may do network
//! and file I/O, but loading never changes anything outside its cache directory.

mod check;
mod cron;
mod desired;
mod load;
mod model;
mod naming;
mod problem;
mod project;
mod rendered;
mod rollout;
mod schema;
mod sources;
mod workflow;
mod yaml;

pub use check::{
    At, CheckedRun, MAX_NAMESPACE_CHARS, NAMESPACE_HINT, namespace_name, parse_timestamp,
};
pub use cron::{
    CronError, DEFAULT_SCHEDULER_TIMEZONE, ScheduleZones, ZoneError, last_change, next_change,
    next_fire_times, parse_go_duration, translate, validate_cron, zone,
};
pub use desired::{
    DesiredExperiment, DesiredNamespace, DesiredPipeline, DesiredRecurringRun, DesiredTrigger,
    Schedule, TriggerZone,
};
pub use load::{DEFAULT_CACHE_DIR, LoadOptions, Validation, load_namespace, validate_namespace};
pub use model::{
    DEFAULT_KEEP_HISTORY, Experiment, ExperimentsFile, GitHubSource, GitSource, Job,
    ParameterValue, PathSource, PipelineParameter, PipelineSource, RecurringRun, RecurringRunsFile,
    RenderedSource, Rollout, RolloutDefaults, RolloutStrategy, Trigger, ValueFrom,
};
pub use naming::{
    KFP_NAME_CHARS, MANAGED_PREFIX, MANUAL_PREFIX, MAX_JOB_NAME_CHARS, NO_CONTROL_PATTERN,
    VERIFY_PREFIX, VERSION_SUFFIX_PATTERN, VersionName, format_stamp, is_verify_run_of,
    manual_run_name, next_version_timestamp, parse_version_name, truncate_to_second,
    verify_run_name, version_name,
};
pub use problem::{ConfigErrors, Problem, plural};
pub use project::{
    EXPERIMENTS_FILE, NamespaceTarget, PROJECT_FILE_NAME, Project, ProjectDefaults, ProjectError,
    ProjectFile, ProjectFileError, ProjectLookup, PruneMode, RECURRING_RUNS_FILE,
    RENDERED_PIPELINE, RenderTarget, Target, TargetError, TargetQuery, Targets, Unnamed,
    configs_in_checkout, find_project, find_repo_root, project_file_in, resolve_targets,
};
pub use rendered::{
    InputMatch, PARAMS_DIR, ParamFile, ParamsError, WORKFLOW_FILE, is_hidden, match_inputs,
    param_files,
};
pub use rollout::{
    DEFAULT_VERIFY_TIMEOUT_SECONDS, DesiredRollout, ResolvedRollout, desired as desired_rollout,
    format_seconds, resolve as resolve_rollout, timeout_seconds,
};
pub use schema::{SCHEMA_BASE_URL, SchemaFile, schemas};
pub use sources::{
    DEFAULT_GITHUB_API_URL, Fetched, FetchedAll, Fetcher, RemoteFile, Repo, SharedFetchers,
    SourceError, SourceOptions, is_commit_sha, redact_url, resolve_local,
};
pub use workflow::{
    ARGO_API_VERSION, CompareOptions, Difference, DifferenceKind, PIPELINE_SPEC_ANNOTATION,
    PipelineInput, VOLATILE_KEYS, Workflow, WorkflowDigest, WorkflowError, compare, digest_value,
    normalize, normalize_with,
};
pub use yaml::{Node, NodeValue, YamlError, from_str, is_blank, parse_node, to_json_value};
