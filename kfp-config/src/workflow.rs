//! Rendered pipelines: an Argo `Workflow` compiled by the KFP v1 SDK.
//!
//! A [`Workflow`] keeps the parsed tree exactly as the file had it (key order included), because the
//! manifest sent to KFP should look like the file the author committed. Comparison and digests work on a
//! [`normalize`]d copy that ignores what legitimately changes between two compilations of the same
//! pipeline (the compile time and SDK version annotations).

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::yaml::{self, YamlError};

mod compare;

pub use compare::{CompareOptions, Difference, DifferenceKind, compare, normalize, normalize_with};

/// Keys whose values change on every compilation without changing the pipeline; ignored at any depth by
/// [`compare`], [`normalize`] and [`Workflow::digest`].
pub const VOLATILE_KEYS: &[&str] = &[
    "pipelines.kubeflow.org/pipeline_compilation_time",
    "pipelines.kubeflow.org/kfp_sdk_version",
];

/// The annotation in which the KFP v1 compiler records the pipeline's name, description and inputs.
pub const PIPELINE_SPEC_ANNOTATION: &str = "pipelines.kubeflow.org/pipeline_spec";

/// The only Argo API version KFP v1 accepts.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";

/// Why a rendered pipeline is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    /// The YAML could not be parsed.
    #[error("the workflow is not valid YAML: {0}")]
    Yaml(#[source] YamlError),
    /// The JSON could not be parsed.
    #[error("the workflow is not valid JSON: {message} at line {line}, column {column}")]
    Json {
        /// What the JSON parser said.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The document is not a mapping at the top level.
    #[error("the workflow must be a mapping (an Argo Workflow object), found {found}")]
    NotAMapping {
        /// The JSON type found instead.
        found: &'static str,
    },
    /// A KFP v2 pipeline (intermediate representation) instead of an Argo Workflow.
    #[error(
        "this is a KFP v2 pipeline (IR YAML with pipelineInfo/deploymentSpec/root); only pipelines compiled in V1 \
         mode (an Argo Workflow) are supported: compile with kfp 1.x, or with `kfp.compiler.Compiler(mode=kfp.dsl.PipelineExecutionMode.V1_LEGACY)`"
    )]
    KfpV2,
    /// `apiVersion` is missing or not `argoproj.io/v1alpha1`.
    #[error("the workflow's apiVersion must be `{ARGO_API_VERSION}`, found {found}")]
    ApiVersion {
        /// What the file has (rendered for the message).
        found: String,
    },
    /// `kind` is missing or not `Workflow`.
    #[error("the workflow's kind must be `Workflow`, found {found}")]
    Kind {
        /// What the file has (rendered for the message).
        found: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("the workflow's `{pointer}` must be {expected}")]
    Field {
        /// JSON pointer of the field.
        pointer: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `spec.entrypoint` is missing, or names no template of `spec.templates`: Argo cannot start it.
    #[error("the workflow's `spec.entrypoint` {problem}")]
    Entrypoint {
        /// What is wrong with it (`is missing`).
        problem: String,
    },
    /// The `pipelines.kubeflow.org/pipeline_spec` annotation is not what the KFP v1 compiler writes.
    #[error("the `{PIPELINE_SPEC_ANNOTATION}` annotation is invalid: {message}")]
    PipelineSpec {
        /// What is wrong with it.
        message: String,
    },
}

impl WorkflowError {
    /// Advice for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            WorkflowError::Entrypoint { .. } => Some(
                "Argo starts a workflow at the template that `spec.entrypoint` names; the KFP v1 compiler \
                 writes both, so render the pipeline again rather than editing the file"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// One input parameter of a pipeline, as declared in its `pipeline_spec` annotation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PipelineInput {
    /// The parameter name.
    pub name: String,
    /// Whether the pipeline runs without a value for it.
    pub optional: bool,
    /// The default value (as the string KFP would send), if any.
    pub default: Option<String>,
    /// The declared type (`String`, `Integer`, ...); non-string types are rendered as compact JSON.
    #[serde(rename = "type")]
    pub r#type: Option<String>,
}

impl PipelineInput {
    /// True when a run must supply a value: not optional and without a default.
    pub fn is_required(&self) -> bool {
        !self.optional && self.default.is_none()
    }
}

/// A content hash of a workflow that ignores volatile annotations and key order (sha256, lowercase hex).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct WorkflowDigest(pub String);

impl WorkflowDigest {
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkflowDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed pipeline file (Argo Workflow YAML or JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    value: Value,
}

impl Workflow {
    /// Parses YAML (as written by the KFP v1 compiler). Only parses; call [`Workflow::validate`] to check
    /// that it is an Argo Workflow.
    pub fn parse_yaml(text: &str) -> Result<Self, WorkflowError> {
        yaml::to_json_value(text)
            .map(Self::from_value)
            .map_err(|err| {
                // KFP v2 writes its platform config as a second YAML document; name the real problem.
                let v2_markers = ["pipelineInfo:", "deploymentSpec:", "schemaVersion:"];
                if err.message.contains("one YAML document")
                    && v2_markers.iter().all(|marker| text.contains(marker))
                {
                    WorkflowError::KfpV2
                } else {
                    WorkflowError::Yaml(err)
                }
            })
    }

    /// Parses JSON (for example a `workflow_manifest` read back from KFP).
    pub fn parse_json(text: &str) -> Result<Self, WorkflowError> {
        serde_json::from_str(text)
            .map(Self::from_value)
            .map_err(|err| WorkflowError::Json {
                message: err
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                line: err.line(),
                column: err.column(),
            })
    }

    /// Wraps an already parsed tree.
    pub fn from_value(value: Value) -> Self {
        Self { value }
    }

    /// The tree, with the file's key order.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Gives back the tree.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// Checks that this is an Argo Workflow KFP v1 can run: `apiVersion: argoproj.io/v1alpha1`,
    /// `kind: Workflow`, a `metadata` mapping and a `spec` mapping; a KFP v2 IR file gets its own error; the
    /// `pipeline_spec` annotation, when present, must be what the KFP v1 compiler writes.
    pub fn validate(&self) -> Result<(), WorkflowError> {
        let Some(object) = self.value.as_object() else {
            return Err(WorkflowError::NotAMapping {
                found: type_name(&self.value),
            });
        };
        if is_kfp_v2(object) {
            return Err(WorkflowError::KfpV2);
        }
        match object.get("apiVersion") {
            Some(Value::String(version)) if version == ARGO_API_VERSION => {}
            other => {
                return Err(WorkflowError::ApiVersion {
                    found: value_kind(other),
                });
            }
        }
        match object.get("kind") {
            Some(Value::String(kind)) if kind == "Workflow" => {}
            other => {
                return Err(WorkflowError::Kind {
                    found: value_kind(other),
                });
            }
        }
        if !object.get("metadata").is_some_and(Value::is_object) {
            return Err(WorkflowError::Field {
                pointer: "/metadata".into(),
                expected: "a mapping",
            });
        }
        if !object.get("spec").is_some_and(Value::is_object) {
            return Err(WorkflowError::Field {
                pointer: "/spec".into(),
                expected: "a mapping",
            });
        }
        self.inputs().map(drop)
    }

    /// Checks that `spec.entrypoint` names a template of `spec.templates` (call after
    /// [`Workflow::validate`]). KFP accepts a workflow without it, whose runs then fail one by one.
    pub fn validate_entrypoint(&self) -> Result<(), WorkflowError> {
        let spec = self.value.get("spec");
        let entrypoint = match spec.and_then(|spec| spec.get("entrypoint")) {
            None | Some(Value::Null) => {
                return Err(WorkflowError::Entrypoint {
                    problem: "is missing".to_owned(),
                });
            }
            Some(Value::String(name)) if !name.is_empty() => name,
            Some(other) => {
                return Err(WorkflowError::Entrypoint {
                    problem: format!("must be a template name, found {}", value_kind(Some(other))),
                });
            }
        };
        let templates: Vec<&str> = spec
            .and_then(|spec| spec.get("templates"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|template| template.get("name")?.as_str())
            .collect();
        if templates.contains(&entrypoint.as_str()) {
            return Ok(());
        }
        let known = if templates.is_empty() {
            "it has none".to_owned()
        } else {
            let names: Vec<String> = templates.iter().map(|name| format!("`{name}`")).collect();
            format!("it has {}", names.join(", "))
        };
        Err(WorkflowError::Entrypoint {
            problem: format!("`{entrypoint}` names no template of `spec.templates` ({known})"),
        })
    }

    /// The metadata annotations, if any.
    fn annotation(&self, key: &str) -> Option<&Value> {
        self.value.get("metadata")?.get("annotations")?.get(key)
    }

    /// The pipeline's name from its `pipeline_spec` annotation, else `metadata.name`/`generateName`.
    pub fn pipeline_name(&self) -> Option<String> {
        if let Some(Value::String(spec)) = self.annotation(PIPELINE_SPEC_ANNOTATION)
            && let Ok(Value::Object(spec)) = serde_json::from_str::<Value>(spec)
            && let Some(Value::String(name)) = spec.get("name")
        {
            return Some(name.clone());
        }
        let metadata = self.value.get("metadata")?;
        let name = metadata
            .get("name")
            .or_else(|| metadata.get("generateName"))?
            .as_str()?;
        Some(name.trim_end_matches('-').to_owned())
    }

    /// The pipeline's inputs.
    ///
    /// Read from the `pipelines.kubeflow.org/pipeline_spec` annotation written by the KFP v1 compiler. A
    /// plain Argo Workflow without it falls back to `spec.arguments.parameters`, where a parameter with a
    /// `value` is optional with that default.
    pub fn inputs(&self) -> Result<Vec<PipelineInput>, WorkflowError> {
        match self.annotation(PIPELINE_SPEC_ANNOTATION) {
            Some(Value::String(spec)) => parse_pipeline_spec(spec),
            Some(other) => Err(WorkflowError::PipelineSpec {
                message: format!("expected a JSON string, found {}", type_name(other)),
            }),
            None => Ok(argument_inputs(&self.value)),
        }
    }

    /// The compact JSON sent to KFP as `workflow_manifest`, keys in file order.
    pub fn to_manifest_json(&self) -> String {
        self.value.to_string()
    }

    /// The digest of the normalized tree (see [`normalize`]).
    pub fn digest(&self) -> WorkflowDigest {
        digest_value(&self.value)
    }
}

/// The digest of any JSON tree, computed as for [`Workflow::digest`].
pub fn digest_value(value: &Value) -> WorkflowDigest {
    let normalized = normalize(value);
    let mut hasher = Sha256::new();
    hasher.update(normalized.to_string().as_bytes());
    WorkflowDigest(hex::encode(hasher.finalize()))
}

fn is_kfp_v2(object: &Map<String, Value>) -> bool {
    let ir_keys = [
        "pipelineInfo",
        "deploymentSpec",
        "root",
        "schemaVersion",
        "sdkVersion",
    ];
    let ir_key_count = ir_keys
        .iter()
        .filter(|key| object.contains_key(**key))
        .count();
    ir_key_count >= 2
        || object.contains_key("pipelineSpec") && !object.contains_key("apiVersion")
        || object.get("pipelineInfo").is_some() && !object.contains_key("apiVersion")
}

fn parse_pipeline_spec(text: &str) -> Result<Vec<PipelineInput>, WorkflowError> {
    let invalid = |message: String| WorkflowError::PipelineSpec { message };
    let spec: Value =
        serde_json::from_str(text).map_err(|err| invalid(format!("not valid JSON: {err}")))?;
    let Some(spec) = spec.as_object() else {
        return Err(invalid(format!(
            "expected a JSON object, found {}",
            type_name(&spec)
        )));
    };
    let inputs = match spec.get("inputs") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(inputs)) => inputs,
        Some(other) => {
            return Err(invalid(format!(
                "`inputs` must be a list, found {}",
                type_name(other)
            )));
        }
    };
    let mut result = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.iter().enumerate() {
        let Some(name) = input.get("name").and_then(Value::as_str) else {
            return Err(invalid(format!("`inputs[{index}]` has no string `name`")));
        };
        let optional = match input.get("optional") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(optional)) => *optional,
            Some(other) => {
                return Err(invalid(format!(
                    "`inputs[{index}].optional` must be a boolean, found {}",
                    type_name(other)
                )));
            }
        };
        result.push(PipelineInput {
            name: name.to_owned(),
            optional,
            default: input.get("default").and_then(scalar_string),
            r#type: input.get("type").and_then(scalar_string),
        });
    }
    Ok(result)
}

fn argument_inputs(workflow: &Value) -> Vec<PipelineInput> {
    let parameters = workflow
        .pointer("/spec/arguments/parameters")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    parameters
        .iter()
        .filter_map(|parameter| {
            let name = parameter.get("name")?.as_str()?.to_owned();
            let default = parameter.get("value").and_then(scalar_string);
            Some(PipelineInput {
                name,
                optional: default.is_some(),
                default,
                r#type: None,
            })
        })
        .collect()
}

/// A value as the string KFP would use: strings as they are, other scalars and structures as JSON.
fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn value_kind(value: Option<&Value>) -> String {
    match value {
        None => "nothing".to_owned(),
        Some(Value::String(text)) => format!("`{text}`"),
        Some(other) => type_name(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEED_WORKFLOW: &str =
        include_str!("../tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml");

    fn seed() -> Workflow {
        Workflow::parse_yaml(SEED_WORKFLOW).unwrap()
    }

    #[test]
    fn the_seed_workflow_is_valid_and_declares_its_input() {
        let workflow = seed();
        workflow.validate().unwrap();
        assert_eq!(
            workflow.inputs().unwrap(),
            vec![PipelineInput {
                name: "custom_message".into(),
                optional: false,
                default: None,
                r#type: Some("String".into())
            }]
        );
        assert_eq!(workflow.pipeline_name().as_deref(), Some("pipeline_1"));
    }

    #[test]
    fn yaml_1_1_lookalikes_in_the_seed_stay_strings() {
        let workflow = seed();
        let annotations = workflow.value().pointer("/metadata/annotations").unwrap();
        assert_eq!(
            annotations["pipelines.kubeflow.org/kfp_sdk_version"],
            json!("1.8.22")
        );
        assert_eq!(
            annotations["pipelines.kubeflow.org/pipeline_compilation_time"],
            json!("2023-07-30T19:31:36.462884")
        );
        assert_eq!(
            workflow.value().pointer(
                "/spec/templates/0/metadata/labels/pipelines.kubeflow.org~1enable_caching"
            ),
            Some(&json!("true"))
        );
    }

    #[test]
    fn the_manifest_keeps_file_key_order_and_round_trips() {
        let workflow = seed();
        let manifest = workflow.to_manifest_json();
        assert!(
            manifest.starts_with(
                r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":"#
            )
        );
        let back = Workflow::parse_json(&manifest).unwrap();
        assert_eq!(back, workflow);
        assert_eq!(back.digest(), workflow.digest());
    }

    #[test]
    fn kfp_v2_ir_is_detected() {
        let workflow = Workflow::parse_yaml(
            "components: {}\ndeploymentSpec: {}\npipelineInfo: {name: p}\nroot: {}\nschemaVersion: 2.1.0\nsdkVersion: kfp-2.0.1\n",
        )
        .unwrap();
        assert_eq!(workflow.validate(), Err(WorkflowError::KfpV2));
        assert!(WorkflowError::KfpV2.to_string().contains("V1"));
    }

    #[test]
    fn kfp_v2_ir_with_a_platform_document_is_detected_while_parsing() {
        let text = "deploymentSpec: {}\npipelineInfo: {name: p}\nroot: {}\nschemaVersion: 2.1.0\n---\nplatforms:\n  kubernetes: {}\n";
        assert_eq!(Workflow::parse_yaml(text), Err(WorkflowError::KfpV2));
        assert!(matches!(
            Workflow::parse_yaml("a: 1\n---\nb: 2\n"),
            Err(WorkflowError::Yaml(_))
        ));
    }

    #[test]
    fn wrong_api_version_kind_and_missing_spec_are_rejected() {
        let wf = |text: &str| Workflow::parse_yaml(text).unwrap().validate().unwrap_err();
        assert_eq!(
            wf("apiVersion: v1\nkind: Workflow\nmetadata: {}\nspec: {}\n"),
            WorkflowError::ApiVersion {
                found: "`v1`".into()
            }
        );
        assert_eq!(
            wf("apiVersion: argoproj.io/v1alpha1\nkind: CronWorkflow\nmetadata: {}\nspec: {}\n"),
            WorkflowError::Kind {
                found: "`CronWorkflow`".into()
            }
        );
        assert_eq!(
            wf("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {}\n"),
            WorkflowError::Field {
                pointer: "/spec".into(),
                expected: "a mapping"
            }
        );
        assert_eq!(
            wf("- a\n- b\n"),
            WorkflowError::NotAMapping { found: "a list" }
        );
    }

    #[test]
    fn inputs_carry_optional_default_and_type() {
        let spec = r#"{"name": "p", "inputs": [{"name": "a", "type": "Integer", "default": "3", "optional": true}, {"name": "b"}, {"name": "c", "default": 1.5, "type": {"GCSPath": {}}}]}"#;
        let text = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  annotations:\n    pipelines.kubeflow.org/pipeline_spec: '{spec}'\nspec: {{}}\n"
        );
        let inputs = Workflow::parse_yaml(&text).unwrap().inputs().unwrap();
        assert_eq!(
            inputs[0],
            PipelineInput {
                name: "a".into(),
                optional: true,
                default: Some("3".into()),
                r#type: Some("Integer".into())
            }
        );
        assert!(inputs[1].is_required());
        assert_eq!(inputs[2].default.as_deref(), Some("1.5"));
        assert_eq!(inputs[2].r#type.as_deref(), Some(r#"{"GCSPath":{}}"#));
        assert!(!inputs[2].is_required());
    }

    #[test]
    fn the_entrypoint_must_name_a_template() {
        let check = |spec: &str| {
            Workflow::parse_yaml(&format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{}}\nspec: {spec}\n"
            ))
            .unwrap()
            .validate_entrypoint()
            .map_err(|err| err.to_string())
        };
        assert_eq!(
            check("{entrypoint: a, templates: [{name: b}, {name: a}]}"),
            Ok(())
        );
        assert_eq!(
            check("{templates: [{name: a}]}"),
            Err("the workflow's `spec.entrypoint` is missing".to_owned())
        );
        assert_eq!(
            check("{entrypoint: c, templates: [{name: a}, {name: b}]}"),
            Err("the workflow's `spec.entrypoint` `c` names no template of `spec.templates` (it has `a`, `b`)".to_owned())
        );
        assert_eq!(
            check("{entrypoint: c}"),
            Err("the workflow's `spec.entrypoint` `c` names no template of `spec.templates` (it has none)".to_owned())
        );
        assert_eq!(
            check("{entrypoint: [c], templates: []}"),
            Err(
                "the workflow's `spec.entrypoint` must be a template name, found a list".to_owned()
            )
        );
    }

    #[test]
    fn a_broken_pipeline_spec_annotation_is_an_error() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  annotations:\n    pipelines.kubeflow.org/pipeline_spec: '{not json'\nspec: {}\n";
        let err = Workflow::parse_yaml(text).unwrap().validate().unwrap_err();
        assert!(matches!(err, WorkflowError::PipelineSpec { .. }), "{err}");
    }

    #[test]
    fn without_the_annotation_inputs_come_from_the_workflow_arguments() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {}\nspec:\n  arguments:\n    parameters:\n    - {name: a}\n    - {name: b, value: '7'}\n";
        let inputs = Workflow::parse_yaml(text).unwrap().inputs().unwrap();
        assert!(inputs[0].is_required());
        assert_eq!(inputs[1].default.as_deref(), Some("7"));
    }

    #[test]
    fn compare_ignores_volatile_keys_at_any_depth_and_key_order() {
        let a = json!({"x": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22", "b": 1, "a": [1.0, "s"]}});
        let b = json!({"x": {"a": [1.0000000001, "s"], "b": 1, "pipelines.kubeflow.org/kfp_sdk_version": "1.8.21"}});
        assert_eq!(compare(&a, &b, &CompareOptions::default()), vec![]);
        let c = json!({"x": {"a": [1, "s"], "b": 1}});
        assert_eq!(digest_value(&a), digest_value(&c));
    }

    #[test]
    fn compare_reports_json_pointers_of_every_difference() {
        let a = json!({"a/b": 1, "l": [1, 2, 3], "m": {"k~": "v"}, "gone": true});
        let b = json!({"a/b": 2, "l": [1, 2], "m": {"k~": "w"}, "new": null});
        let differences = compare(&a, &b, &CompareOptions::default());
        let summary: Vec<(&str, DifferenceKind)> = differences
            .iter()
            .map(|d| (d.pointer.as_str(), d.kind))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/a~1b", DifferenceKind::Changed),
                ("/l/2", DifferenceKind::Removed),
                ("/m/k~0", DifferenceKind::Changed),
                ("/gone", DifferenceKind::Removed),
                ("/new", DifferenceKind::Added),
            ]
        );
        assert_eq!(differences[0].left, Some(json!(1)));
        assert_eq!(differences[0].right, Some(json!(2)));
    }

    #[test]
    fn floats_outside_the_tolerance_differ_and_types_matter() {
        let options = CompareOptions::default();
        assert_eq!(compare(&json!(1.0), &json!(1.00001), &options).len(), 1);
        assert_eq!(compare(&json!(1), &json!(1.0), &options).len(), 0);
        assert_eq!(compare(&json!("1"), &json!(1), &options).len(), 1);
        assert_eq!(
            compare(
                &json!(123456789.1234568),
                &json!(123456789.12345679),
                &options
            )
            .len(),
            0
        );
        assert_eq!(compare(&json!(1e20), &json!(1.0001e20), &options).len(), 1);
    }

    #[test]
    fn custom_ignore_keys_replace_the_defaults() {
        let options = CompareOptions {
            ignore_keys: vec!["t".into()],
            ..CompareOptions::default()
        };
        assert!(compare(&json!({"t": 1}), &json!({"t": 2}), &options).is_empty());
        let volatile = json!({"pipelines.kubeflow.org/kfp_sdk_version": "1"});
        assert_eq!(compare(&volatile, &json!({}), &options).len(), 1);
    }

    #[test]
    fn digest_ignores_compile_time_and_sdk_version_but_not_content() {
        let workflow = seed();
        let mut changed_time = workflow.value().clone();
        changed_time["metadata"]["annotations"]["pipelines.kubeflow.org/pipeline_compilation_time"] =
            json!("2030-01-01T00:00:00");
        assert_eq!(
            Workflow::from_value(changed_time).digest(),
            workflow.digest()
        );
        let mut changed_entrypoint = workflow.value().clone();
        changed_entrypoint["spec"]["entrypoint"] = json!("other");
        assert_ne!(
            Workflow::from_value(changed_entrypoint).digest(),
            workflow.digest()
        );
        assert_eq!(workflow.digest().as_str().len(), 64);
    }

    #[test]
    fn normalize_sorts_keys_and_drops_volatile_keys() {
        let normalized = normalize(
            &json!({"b": 2.0, "a": {"pipelines.kubeflow.org/pipeline_compilation_time": "x", "z": 0.5}}),
        );
        assert_eq!(normalized.to_string(), r#"{"a":{"z":0.5},"b":2}"#);
    }

    #[test]
    fn normalize_with_drops_only_the_given_keys_at_any_depth() {
        let value = json!({
            "b": [{"drop": 1, "keep": 3.0}],
            "drop": true,
            "pipelines.kubeflow.org/kfp_sdk_version": "1.8"
        });
        assert_eq!(
            normalize_with(&value, &["drop".to_owned()]).to_string(),
            r#"{"b":[{"keep":3}],"pipelines.kubeflow.org/kfp_sdk_version":"1.8"}"#
        );
        assert_eq!(normalize_with(&value, VOLATILE_KEYS), normalize(&value));
    }
}
