//! The typed configuration: `experiments.yaml` and `recurring_runs.yaml`, as the reference design
//! (deployKF's `kubeflow-pipelines-gitops`) defines them, plus our pipeline source extensions (`path`,
//! `git_url`, `rendered_pipeline`).
//!
//! These types are what a valid file means; the checks that produce them from YAML, reporting every
//! problem at once, live in [`crate::check`]. They serialize back to the file format and describe the
//! JSON Schema published under `schemas/`.

use std::path::PathBuf;

mod rollout;
pub use rollout::{Rollout, RolloutDefaults, RolloutStrategy};

use jiff::Timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

/// The default of `keep_history`.
pub const DEFAULT_KEEP_HISTORY: i64 = 5;

/// `experiments.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "kfp-gitops experiments.yaml")]
pub struct ExperimentsFile {
    /// The experiments of this namespace.
    pub experiments: Vec<Experiment>,
}

/// One KFP experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The experiment name, unique in the namespace as KFP compares names (without regard to case), with
    /// no control character and at most 255 characters.
    #[schemars(
        length(min = 1, max = crate::naming::KFP_NAME_CHARS),
        pattern(crate::naming::NO_CONTROL_PATTERN)
    )]
    pub name: String,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `recurring_runs.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "kfp-gitops recurring_runs.yaml")]
pub struct RecurringRunsFile {
    /// The recurring runs (KFP jobs) of this namespace.
    pub recurring_runs: Vec<RecurringRun>,
}

/// One recurring run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurringRun {
    /// Where the rendered pipeline (`workflow.yaml`) comes from.
    pub pipeline_source: PipelineSource,
    /// The pipeline's parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Option<Vec<PipelineParameter>>")]
    pub pipeline_parameters: Vec<PipelineParameter>,
    /// How many non-latest versions of the job to keep: `-1` keeps all, `0` only the latest.
    #[serde(default = "default_keep_history")]
    #[schemars(with = "Option<i64>", range(min = -1))]
    pub keep_history: i64,
    /// How a new version takes over the schedule: `swap` at once, or `verify` with one run first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// The KFP job.
    pub job: Job,
}

fn default_keep_history() -> i64 {
    DEFAULT_KEEP_HISTORY
}

// The loader reads a `null` (`~`) value as an absent key (DESIGN §4.3), so in the schema each form of an
// exclusive choice also accepts the other forms' keys when they are `null`; otherwise an editor would
// flag files that load.

/// Every key of the pipeline source forms.
pub(crate) const SOURCE_KEYS: &[&str] = &[
    "github_owner",
    "github_repo",
    "git_reference",
    "file_path",
    "git_url",
    "path",
    "rendered_pipeline",
];

/// Lets an object schema take each of `keys` it does not declare, as `null` only.
fn accept_null_keys(object: &mut serde_json::Map<String, serde_json::Value>, keys: &[&str]) {
    if let Some(properties) = object
        .get_mut("properties")
        .and_then(serde_json::Value::as_object_mut)
    {
        for key in keys {
            properties
                .entry(*key)
                .or_insert_with(|| serde_json::json!({"type": "null"}));
        }
    }
}

fn source_form_schema(schema: &mut Schema) {
    accept_null_keys(schema.ensure_object(), SOURCE_KEYS);
}

fn parameter_schema(schema: &mut Schema) {
    let branches = schema
        .ensure_object()
        .get_mut("anyOf")
        .and_then(serde_json::Value::as_array_mut);
    for branch in branches.into_iter().flatten() {
        if let Some(object) = branch.as_object_mut() {
            accept_null_keys(object, &["value", "valueFrom"]);
        }
    }
}

/// Where a pipeline file comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PipelineSource {
    /// A file in a GitHub repository at a branch, tag or commit (the reference design's only form).
    GitHub(GitHubSource),
    /// A file in any git repository (GitLab, Bitbucket, self-hosted, `file://`), through the `git` CLI.
    Git(GitSource),
    /// A local file relative to the config folder, inside the repository.
    Path(PathSource),
    /// A local rendered pipeline folder (`workflow.yaml` and `params/`), relative to the config folder.
    Rendered(RenderedSource),
}

/// A file in a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = source_form_schema)]
pub struct GitHubSource {
    /// The repository owner.
    #[schemars(length(min = 1))]
    pub github_owner: String,
    /// The repository name.
    #[schemars(length(min = 1))]
    pub github_repo: String,
    /// A branch, tag or commit SHA.
    #[schemars(length(min = 1))]
    pub git_reference: String,
    /// The path of the file in the repository.
    #[schemars(length(min = 1))]
    pub file_path: String,
}

/// A file in any git repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = source_form_schema)]
pub struct GitSource {
    /// The remote URL, as `git clone` takes it.
    #[schemars(length(min = 1))]
    pub git_url: String,
    /// A branch, tag or commit SHA.
    #[schemars(length(min = 1))]
    pub git_reference: String,
    /// The path of the file in the repository.
    #[schemars(length(min = 1))]
    pub file_path: String,
}

/// A local file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = source_form_schema)]
pub struct PathSource {
    /// Relative to the config folder; must stay inside the repository.
    #[schemars(length(min = 1))]
    pub path: PathBuf,
}

/// A local rendered pipeline folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = source_form_schema)]
pub struct RenderedSource {
    /// Relative to the config folder; `workflow.yaml` is the pipeline and `params/NAME` files give default
    /// parameter values.
    #[schemars(length(min = 1))]
    pub rendered_pipeline: PathBuf,
}

/// One pipeline parameter: a literal `value` or a `valueFrom` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
#[schemars(transform = parameter_schema)]
pub enum PipelineParameter {
    /// A literal value.
    Value {
        /// The parameter name.
        name: String,
        /// The value; numbers and booleans are sent as KFP's Python client would (`str(value)`).
        value: ParameterValue,
    },
    /// The content of a file.
    ValueFrom {
        /// The parameter name.
        name: String,
        /// Where the value comes from.
        #[serde(rename = "valueFrom")]
        value_from: ValueFrom,
    },
}

impl PipelineParameter {
    /// The parameter name.
    pub fn name(&self) -> &str {
        match self {
            PipelineParameter::Value { name, .. } | PipelineParameter::ValueFrom { name, .. } => {
                name
            }
        }
    }
}

/// A literal parameter value, kept as written so it serializes back unchanged; [`ParameterValue::as_kfp_string`]
/// is what KFP receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ParameterValue(pub serde_json::Value);

impl ParameterValue {
    /// The string KFP receives, as the KFP v1 Python client makes it: strings unchanged, `True`/`False`,
    /// numbers as Python prints them (the checks refuse lists and mappings, which would be sent as
    /// `json.dumps` writes them).
    pub fn as_kfp_string(&self) -> String {
        python_str(&self.0)
    }
}

impl JsonSchema for ParameterValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ParameterValue".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The parameter value, a scalar: numbers and booleans are sent as the KFP v1 Python client sends them. A list or mapping is refused; quote JSON to pass it as a string.",
            "type": ["string", "number", "integer", "boolean"]
        })
    }
}

fn python_str(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Bool(true) => "True".to_owned(),
        serde_json::Value::Bool(false) => "False".to_owned(),
        serde_json::Value::Null => "None".to_owned(),
        serde_json::Value::Number(number) => python_number(number),
        other => python_json_dumps(other),
    }
}

fn python_number(number: &serde_json::Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() => {
            if float.fract() == 0.0 && float.abs() < 1e16 {
                format!("{float:.1}")
            } else if float.abs() >= 1e16 || (float != 0.0 && float.abs() < 1e-4) {
                // Python switches to exponent notation here and writes the exponent with a sign.
                let text = format!("{float:e}");
                match text.split_once('e') {
                    Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                        format!("{mantissa}e+{exponent:0>2}")
                    }
                    Some((mantissa, exponent)) => format!("{mantissa}e-{:0>2}", &exponent[1..]),
                    None => text,
                }
            } else {
                float.to_string()
            }
        }
        _ => number.to_string(),
    }
}

/// `json.dumps` with its default separators (`", "` and `": "`).
fn python_json_dumps(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(python_json_dumps)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        serde_json::Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(key, value)| format!(
                    "{}: {}",
                    serde_json::Value::String(key.clone()),
                    python_json_dumps(value)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        serde_json::Value::Number(number) => python_number(number),
        other => other.to_string(),
    }
}

/// Where a parameter value is read from: `path` (a local file), or `file_path` in a repository that
/// defaults to the pipeline source's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "oneOf" = [
        {
            "required": ["path"],
            "properties": {
                "path": {"not": {"type": "null"}},
                "file_path": {"type": "null"},
                "github_owner": {"type": "null"},
                "github_repo": {"type": "null"},
                "git_reference": {"type": "null"},
                "git_url": {"type": "null"}
            }
        },
        {
            "required": ["file_path"],
            "properties": {"file_path": {"not": {"type": "null"}}, "path": {"type": "null"}}
        }
    ],
    "anyOf" = [
        {"properties": {"git_url": {"type": "null"}}},
        {"properties": {"github_owner": {"type": "null"}, "github_repo": {"type": "null"}}}
    ]
))]
pub struct ValueFrom {
    /// The file in the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    /// The GitHub owner (default: the pipeline source's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_owner: Option<String>,
    /// The GitHub repository (default: the pipeline source's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_repo: Option<String>,
    /// The git reference (default: the pipeline source's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_reference: Option<String>,
    /// A git remote instead of GitHub (default: the pipeline source's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_url: Option<String>,
    /// A local file relative to the config folder, inside the repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// The KFP job of a recurring run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Whether the job runs; disable jobs instead of removing them from the file.
    pub enabled: bool,
    /// The job name, unique in the namespace as KFP compares names (without regard to case); versions are
    /// named `GIT::{name}__{YYYY-MM-DDTHH-MM-SSZ}`, so the name holds no such timestamp, no control character,
    /// and at most 228 characters.
    #[schemars(
        length(min = 1, max = crate::naming::MAX_JOB_NAME_CHARS),
        pattern(crate::naming::NO_CONTROL_PATTERN),
        extend("not" = {"pattern": crate::naming::VERSION_SUFFIX_PATTERN})
    )]
    pub name: String,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The experiment the job runs in; it must be declared in `experiments.yaml`.
    #[schemars(length(min = 1))]
    pub experiment: String,
    /// The maximum number of concurrent runs.
    #[schemars(range(min = 1, max = 10))]
    pub max_concurrency: u8,
    /// The Kubernetes service account runs use (KFP's default when absent, usually `default-editor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// When the job runs.
    pub trigger: Trigger,
    /// The exact name of a recurring run that kfp-gitops does not manage (made in the KFP UI or by a
    /// script, without a `GIT::` prefix) that this one takes over: `apply` creates the managed version
    /// paused, disables that job, then enables the managed version. The adopted job is never deleted
    /// (only `--prune=delete` of the user's own choosing removes it). `kfp-gitops import` writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub adopt: Option<String>,
}

/// When a job runs: exactly one of `cron` and `interval_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {
        "required": ["cron"],
        "properties": {"cron": {"not": {"type": "null"}}, "interval_seconds": {"type": "null"}}
    },
    {
        "required": ["interval_seconds"],
        "properties": {"interval_seconds": {"not": {"type": "null"}}, "cron": {"type": "null"}}
    }
]))]
pub struct Trigger {
    /// Whether missed runs are back-filled (`true`) or only the latest one runs.
    pub catchup: bool,
    /// No run before this time: a YAML timestamp or RFC 3339 string; without a zone it is UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub start_date: Option<Timestamp>,
    /// No run after this time: a YAML timestamp or RFC 3339 string; without a zone it is UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub end_date: Option<Timestamp>,
    /// A robfig/cron v1 expression with 6 fields, seconds first
    /// (`{second} {minute} {hour} {day_of_month} {month} {day_of_week}`), or `@daily`, `@every 1h`, ...;
    /// evaluated in `timezone`, else in the scheduler's zone (`scheduler_timezone` of kfp-gitops.yaml, UTC
    /// by default, the cluster's `CRON_SCHEDULE_TIMEZONE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// The IANA time zone `cron` is written in, such as `Europe/Berlin` [default: `defaults.timezone` of
    /// kfp-gitops.yaml, else the scheduler's zone]. kfp-gitops translates the cron to the scheduler's zone
    /// under the UTC offsets in force when it plans, and replaces the version when they change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The number of seconds between runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub interval_seconds: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameter_values_become_the_strings_the_kfp_python_client_sends() {
        let cases = [
            (json!("text"), "text"),
            (json!(true), "True"),
            (json!(false), "False"),
            (json!(5), "5"),
            (json!(1.5), "1.5"),
            (json!(2.0), "2.0"),
            (json!(1e20), "1e+20"),
            (json!(0.00001), "1e-05"),
            (json!([1, "a", {"k": null}]), r#"[1, "a", {"k": null}]"#),
        ];
        for (value, expected) in cases {
            assert_eq!(
                ParameterValue(value.clone()).as_kfp_string(),
                expected,
                "{value}"
            );
        }
    }
}
