//! The pipeline source of jobs and runs: the pipeline spec and its manifest, the resource references
//! (experiment, namespace, pipeline version) and the service account.

use super::*;

impl Ctx<'_> {
    /// `ValidatePipelineSpecAndResourceReferences`; returns the spec with manifest/name resolved for
    /// pipeline-id sources and the parameters sent.
    pub(super) fn validate_spec(
        &self,
        state: &State,
        body: &Value,
        refs: &[InRef],
    ) -> Result<Spec, ApiError> {
        let spec = wire::object(body, "pipeline_spec")?
            .cloned()
            .unwrap_or_else(|| json!({}));
        let pipeline_id = wire::string(&spec, "pipeline_id")?;
        let workflow_manifest = wire::string(&spec, "workflow_manifest")?;
        let pipeline_manifest = wire::string(&spec, "pipeline_manifest")?;
        let version_id = refs
            .iter()
            .find(|r| r.key_type == PIPELINE_VERSION && r.relationship == CREATOR)
            .map(|r| r.key_id.clone())
            .unwrap_or_default();
        let parameters = wire::array(&spec, "parameters")?
            .iter()
            .map(|p| {
                Ok(Parameter {
                    name: wire::string(p, "name")?,
                    value: wire::string(p, "value")?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let mut out = Spec {
            parameters,
            ..Spec::default()
        };
        if !workflow_manifest.is_empty() || !pipeline_manifest.is_empty() {
            if !workflow_manifest.is_empty() && !pipeline_manifest.is_empty() {
                return Err(ApiError::invalid(
                    "Please don't specify both workflow manifest and pipeline manifest.",
                ));
            }
            if !pipeline_id.is_empty() || !version_id.is_empty() {
                return Err(ApiError::invalid(
                    "Please don't specify a pipeline version or pipeline ID when you specify a workflow manifest or pipeline manifest.",
                ));
            }
            if !workflow_manifest.is_empty() {
                self.validate_manifest(&workflow_manifest)?;
            }
            out.workflow_manifest = workflow_manifest;
            out.pipeline_manifest = pipeline_manifest;
        } else {
            if pipeline_id.is_empty() && version_id.is_empty() {
                // KFP2-V1BETA1.md §2.6 "Neither source": 500 in all 2.x (2.0–2.4 a wrapped InvalidInput,
                // 2.5+ a plain error).
                match self.profile() {
                    Profile::V1_8_5 => {}
                    Profile::V2_0 => {
                        return Err(ApiError::internal(
                            "Invalid input error: empty pipeline spec manifest",
                            "Failed to fetch a template with an invalid pipeline spec manifest",
                        ));
                    }
                    _ => {
                        return Err(ApiError::non_user(
                            "Cannot create a job with an empty pipeline ID",
                        ));
                    }
                }
                return Err(ApiError::invalid(
                    "Please specify a pipeline by providing a (workflow manifest or pipeline manifest) or (pipeline id or/and pipeline version).",
                ));
            }
            let pipeline = if pipeline_id.is_empty() {
                None
            } else {
                Some(
                    state
                        .pipelines
                        .iter()
                        .find(|p| p.id == pipeline_id)
                        .ok_or_else(|| {
                            ApiError::not_found("Pipeline", &pipeline_id)
                                .wrap("Get pipelineId failed.")
                        })?,
                )
            };
            let version = if version_id.is_empty() {
                pipeline.and_then(|p| p.default_version())
            } else {
                let version = state
                    .pipelines
                    .iter()
                    .flat_map(|p| &p.versions)
                    .find(|v| v.id == version_id)
                    .ok_or_else(|| {
                        ApiError::not_found("PipelineVersion", &version_id)
                            .wrap("Get pipelineVersionId failed.")
                    })?;
                if !pipeline_id.is_empty() && version.pipeline_id != pipeline_id {
                    return Err(ApiError::invalid(
                        "pipeline ID should be parent of pipeline version.",
                    ));
                }
                Some(version)
            };
            let version =
                version.ok_or_else(|| ApiError::not_found("PipelineVersion", &pipeline_id))?;
            let owner = state.pipelines.iter().find(|p| p.id == version.pipeline_id);
            out.pipeline_id = owner.map(|p| p.id.clone()).unwrap_or_default();
            out.pipeline_name = owner.map(|p| p.name.clone()).unwrap_or_default();
            out.workflow_manifest = version.template.clone();
        }
        if !out.parameters.is_empty() && wire::field(&spec, "runtime_config").is_some() {
            return Err(ApiError::invalid(
                "Please don't specify both parameters and runtime config.",
            ));
        }
        let params_json = serde_json::to_string(
            &out.parameters
                .iter()
                .map(Parameter::to_json)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        if params_json.len() > 10_000 {
            return Err(ApiError::invalid(
                "The input parameter length exceed maximum size of 10000.",
            ));
        }
        Ok(out)
    }

    /// The manifest checks of the profile: 1.8.5 `json.Unmarshal` + apiVersion/kind (400); 2.x accepts YAML
    /// and wraps every template error in an InternalServerError, HTTP 500 (KFP2-V1BETA1.md §2.6 "Manifest
    /// must be JSON", "Bad apiVersion/kind, Argo lint failure").
    pub(super) fn validate_manifest(&self, manifest: &str) -> Result<(), ApiError> {
        if !self.profile().is_v2() {
            return validate_workflow(manifest);
        }
        let internal = |cause: &str| {
            ApiError::internal(
                cause,
                "Failed to create a recurring run with an invalid pipeline spec manifest",
            )
        };
        let parsed = manifest_value(manifest).ok_or_else(|| {
            internal("Invalid input error: Failed to parse the workflow manifest")
        })?;
        let field = |name: &str| parsed.get(name).and_then(Value::as_str).unwrap_or("");
        if field("apiVersion") != "argoproj.io/v1alpha1" {
            return Err(internal(&format!(
                "Invalid input error: Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: {}",
                field("apiVersion")
            )));
        }
        if field("kind") != "Workflow" {
            return Err(internal(&format!(
                "Invalid input error: Unexpected resource type. Expected: Workflow. Received: {}",
                field("kind")
            )));
        }
        Ok(())
    }

    /// The source's version reference to add when only `pipeline_id` was sent.
    pub(super) fn version_ref(state: &State, spec: &Spec, refs: &[InRef]) -> Option<Reference> {
        if spec.pipeline_id.is_empty() || refs.iter().any(|r| r.key_type == PIPELINE_VERSION) {
            return None;
        }
        let pipeline = state.pipelines.iter().find(|p| p.id == spec.pipeline_id)?;
        let version = pipeline.default_version()?;
        Some(Reference {
            key_type: "PIPELINE_VERSION".to_owned(),
            key_id: version.id.clone(),
            name: version.name.clone(),
            relationship: "CREATOR".to_owned(),
        })
    }

    /// Multi-user: the EXPERIMENT ref must name an existing experiment with a namespace; returns its namespace.
    pub(super) fn multi_user_experiment(
        &self,
        state: &State,
        refs: &[InRef],
        kind: &str,
    ) -> Result<String, ApiError> {
        let Some(experiment_id) = refs
            .iter()
            .find(|r| r.key_type == EXPERIMENT)
            .map(|r| r.key_id.clone())
        else {
            // KFP2-V1BETA1.md §2.6 "Multi-user, no EXPERIMENT ref".
            if self.profile().is_v2() {
                return Err(ApiError::invalid(
                    "Experiment id can not be empty in multi-user mode",
                ));
            }
            return Err(ApiError::invalid(format!("{kind} has no experiment.")));
        };
        let experiment = self.find_experiment(state, &experiment_id).map_err(|e| {
            e.wrap("Failed to get namespace from experiment ID.")
                .wrap("Failed to authorize the request.")
        })?;
        if experiment.namespace.is_empty() {
            return Err(ApiError::invalid(format!(
                "{kind}'s experiment has no namespace."
            )));
        }
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        Ok(experiment.namespace.clone())
    }

    /// Converts the refs (types, relationships, names), adds the Default experiment when no owner experiment
    /// was given; returns (refs, experiment id).
    pub(super) fn resolve_refs(
        &self,
        state: &State,
        refs: &[InRef],
        extra: Option<Reference>,
    ) -> Result<(Vec<Reference>, String), ApiError> {
        let mut out = Vec::new();
        let mut experiment_id = String::new();
        for r in refs {
            check_ref_type(r.key_type)?;
            if r.relationship != OWNER && r.relationship != CREATOR {
                return Err(ApiError::invalid("Unsupported resource relationship"));
            }
            let name = match r.key_type {
                EXPERIMENT => {
                    let experiment = state
                        .experiments
                        .iter()
                        .find(|e| e.id == r.key_id)
                        .ok_or_else(|| {
                            // KFP2-V1BETA1.md §2.6 "Experiment id unknown": 404 in both modes on 2.x.
                            if self.profile().is_v2() {
                                ApiError::not_found("Experiment", &r.key_id)
                            } else {
                                ApiError::internal(
                                    "sql: no rows in result set",
                                    "Failed to get experiment.",
                                )
                            }
                        })?;
                    if r.relationship == OWNER {
                        experiment_id = experiment.id.clone();
                    }
                    experiment.name.clone()
                }
                JOB => state
                    .jobs
                    .iter()
                    .find(|j| j.id == r.key_id)
                    .map(|j| j.name.clone())
                    .unwrap_or_default(),
                PIPELINE_VERSION => state
                    .pipelines
                    .iter()
                    .flat_map(|p| &p.versions)
                    .find(|v| v.id == r.key_id)
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            out.push(Reference {
                key_type: enum_name(RESOURCE_TYPES, r.key_type),
                key_id: r.key_id.clone(),
                name,
                relationship: enum_name(RELATIONSHIPS, r.relationship),
            });
        }
        out.extend(extra);
        if experiment_id.is_empty() {
            let default = state
                .experiments
                .iter()
                .find(|e| e.id == state.default_experiment_id)
                .ok_or_else(|| {
                    ApiError::internal("no default experiment", "Failed to get default experiment.")
                })?;
            experiment_id = default.id.clone();
            out.push(Reference {
                key_type: "EXPERIMENT".to_owned(),
                key_id: default.id.clone(),
                name: default.name.clone(),
                relationship: "OWNER".to_owned(),
            });
        }
        Ok((out, experiment_id))
    }

    /// The service account the workflow will run as.
    pub(super) fn service_account(&self, requested: &str, manifest: &str) -> String {
        if !requested.is_empty() {
            return requested.to_owned();
        }
        let from_manifest = serde_json::from_str::<Value>(manifest)
            .ok()
            .and_then(|w| {
                w.pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        if from_manifest.is_empty() || from_manifest == "pipeline-runner" {
            if self.multi() {
                "default-editor"
            } else {
                "pipeline-runner"
            }
            .to_owned()
        } else {
            from_manifest
        }
    }
}

/// Go `json.Unmarshal` of the manifest into an Argo Workflow, then the apiVersion/kind checks.
pub(super) fn validate_workflow(manifest: &str) -> Result<(), ApiError> {
    let parsed: Value = serde_json::from_str(manifest).map_err(|err| ApiError {
        code: 3,
        message: format!(
            "Invalid input error: Invalid argo workflow format. Workflow: {manifest}: {}",
            go_json_error(manifest, &err)
        ),
        external: Some(format!(
            "Invalid argo workflow format. Workflow: {manifest}"
        )),
    })?;
    if !(parsed.is_object() || parsed.is_null()) {
        return Err(ApiError {
            code: 3,
            message: format!(
                "Invalid input error: Invalid argo workflow format. Workflow: {manifest}: json: cannot unmarshal {} into Go value of type util.Workflow",
                if parsed.is_array() { "array" } else { "value" }
            ),
            external: Some(format!(
                "Invalid argo workflow format. Workflow: {manifest}"
            )),
        });
    }
    let api_version = parsed
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if api_version != "argoproj.io/v1alpha1" {
        return Err(ApiError::invalid(format!(
            "Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: {api_version}"
        )));
    }
    let kind = parsed.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "Workflow" {
        return Err(ApiError::invalid(format!(
            "Unexpected resource type. Expected: Workflow. Received: {kind}"
        )));
    }
    Ok(())
}

/// Roughly Go `encoding/json`'s wording for a syntax error.
pub(super) fn go_json_error(text: &str, err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "unexpected end of JSON input".to_owned();
    }
    let offending = text
        .lines()
        .nth(err.line().saturating_sub(1))
        .and_then(|line| line.chars().nth(err.column().saturating_sub(1)))
        .unwrap_or(' ');
    if err.line() == 1 && err.column() <= 1 {
        format!("invalid character '{offending}' looking for beginning of value")
    } else {
        format!("invalid character '{offending}' ({err})")
    }
}

/// Every parameter sent must be declared in the manifest's `spec.arguments.parameters`.
pub(super) fn check_parameters(spec: &Spec) -> Result<(), ApiError> {
    if spec.workflow_manifest.is_empty() {
        return Ok(());
    }
    let workflow = manifest_value(&spec.workflow_manifest).unwrap_or(Value::Null);
    let declared: Vec<&str> = workflow
        .pointer("/spec/arguments/parameters")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    for parameter in &spec.parameters {
        if !declared.contains(&parameter.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "Unrecognized input parameter: {}",
                parameter.name
            )));
        }
    }
    Ok(())
}

/// A manifest as JSON, or as YAML (which KFP 2.x accepts and echoes, KFP2-V1BETA1.md §2.5 "YAML manifests").
pub(super) fn manifest_value(manifest: &str) -> Option<Value> {
    serde_json::from_str::<Value>(manifest)
        .ok()
        .or_else(|| serde_saphyr::from_str::<Value>(manifest).ok())
        .filter(Value::is_object)
}
