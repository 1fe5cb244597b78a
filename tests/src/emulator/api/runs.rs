//! Runs: create, get, delete, archive, terminate, retry, metrics, artifacts, list.

use super::*;

impl Ctx<'_> {
    pub(super) fn create_run(&self, body: &Value) -> Result<Value, ApiError> {
        self.check_fields(body, &RUN_MSG)?;
        let mut state = self.core.state();
        let refs = parse_refs(body)?;
        let name = wire::string(body, "name")?;
        let validate = || -> Result<Spec, ApiError> {
            // KFP2-V1BETA1.md §2.8 "Empty name": 500 on 2.x (no pipeline_name to fall back to here).
            if name.is_empty() && self.profile().is_v2() {
                return Err(ApiError::internal(
                    "Run name cannot be empty",
                    "Failed to convert a run",
                ));
            }
            if name.is_empty() {
                return Err(ApiError::invalid(
                    "The run name is empty. Please specify a valid name.",
                ));
            }
            self.validate_spec(&state, body, &refs)
        };
        let spec = validate().map_err(|e| e.wrap("Validate create run request failed."))?;
        let namespace = if self.multi() {
            self.multi_user_experiment(&state, &refs, "Run")?
        } else {
            self.core.config.pod_namespace.clone()
        };
        self.check_v1_allowed(&namespace)
            .map_err(|e| e.wrap("Failed to create a run"))?;
        let wrap = |e: ApiError| e.wrap("Failed to create a new run.");
        check_parameters(&spec).map_err(wrap)?;
        let extra = Self::version_ref(&state, &spec, &refs);
        let (references, experiment_id) = self.resolve_refs(&state, &refs, extra).map_err(wrap)?;
        let now_ms = self.core.now_ms();
        let run = Run {
            id: new_uuid(),
            name,
            description: wire::string(body, "description")?,
            storage_state: AVAILABLE.to_owned(),
            service_account: self.service_account(
                &wire::string(body, "service_account")?,
                &spec.workflow_manifest,
            ),
            spec,
            references,
            created_at: now_ms / 1000,
            scheduled_at: now_ms / 1000,
            finished_at: 0,
            // The persistence agent has not reported the workflow yet.
            status: String::new(),
            error: String::new(),
            namespace,
            experiment_id,
            metrics: Vec::new(),
            phase_started_ms: now_ms,
            settled: false,
        };
        let out = run.detail_json(self.profile());
        state.runs.push(run);
        Ok(out)
    }

    pub(super) fn find_run(&self, state: &State, id: &str) -> Result<usize, ApiError> {
        let index = state
            .runs
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| ApiError::not_found("Run", id));
        if self.multi() {
            let index = index.map_err(|e| e.wrap("Failed to authorize the request."))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            Ok(index)
        } else {
            index
        }
    }

    pub(super) fn get_run(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to get a run."))?;
        Ok(state.runs[index].detail_json(self.profile()))
    }

    pub(super) fn delete_run(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to delete a run."))?;
        state.runs.remove(index);
        Ok(json!({}))
    }

    pub(super) fn archive_run(&self, id: &str, archive: bool) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let what = if archive {
            "Failed to archive a run."
        } else {
            "Failed to unarchive a run."
        };
        let index = self.find_run(&state, id).map_err(|e| e.wrap(what))?;
        state.runs[index].storage_state = if archive { ARCHIVED } else { AVAILABLE }.to_owned();
        Ok(json!({}))
    }

    pub(super) fn terminate_run(&self, id: &str) -> Result<Value, ApiError> {
        let now_ms = self.core.now_ms();
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to terminate a run."))?;
        let run = &mut state.runs[index];
        if !["Running", "Pending", ""].contains(&run.status.as_str()) {
            return Err(
                ApiError::invalid(format!("Failed to terminate run {id}. Row not found."))
                    .wrap("Failed to terminate a run."),
            );
        }
        run.status = "Terminating".to_owned();
        run.phase_started_ms = now_ms;
        Ok(json!({}))
    }

    pub(super) fn retry_run(&self, id: &str) -> Result<Value, ApiError> {
        let now_ms = self.core.now_ms();
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Retry run failed."))?;
        let run = &mut state.runs[index];
        if run.status != "Failed" && run.status != "Error" {
            return Err(ApiError::bad_request(
                "workflow cannot be retried",
                "Workflow must be Failed/Error to retry",
            )
            .wrap("Retry run failed."));
        }
        run.status = "Pending".to_owned();
        run.finished_at = 0;
        run.phase_started_ms = now_ms;
        run.settled = false;
        Ok(json!({}))
    }

    pub(super) fn report_metrics(&self, id: &str, body: &Value) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to report run metrics."))?;
        let mut results = Vec::new();
        for metric in wire::array(body, "metrics")? {
            let name = wire::string(metric, "name")?;
            let node_id = wire::string(metric, "node_id")?;
            let value = wire::field(metric, "number_value")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let run = &mut state.runs[index];
            run.metrics
                .retain(|m| m.get("name").and_then(Value::as_str) != Some(name.as_str()));
            let mut stored = Out::new()
                .str("name", &name)
                .str("node_id", &node_id)
                .done();
            if value != 0.0 {
                stored["number_value"] = json!(value);
            }
            if let Some(format) = wire::field(metric, "format")
                .and_then(Value::as_str)
                .filter(|f| *f != "UNSPECIFIED")
            {
                stored["format"] = json!(format);
            }
            run.metrics.push(stored);
            results.push(json!({"metric_name": name, "metric_node_id": node_id, "status": "OK"}));
        }
        Ok(Out::new().list("results", results).done())
    }

    pub(super) fn read_artifact(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        self.find_run(&state, id)
            .map_err(|e| e.wrap("failed to read artifact"))?;
        Err(ApiError::not_found("artifact", id).wrap("failed to read artifact"))
    }

    pub(super) fn list_runs(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let options =
            list::options::<Run>(&params).map_err(|e| e.wrap("Failed to create list options"))?;
        let state = self.core.state();
        let key = self.list_scope(&state, &pairs, "Runs")?;
        let in_scope = |run: &&Run| match &key {
            None => true,
            Some(k) if k.key_type == NAMESPACE => run.namespace == k.id,
            Some(k) if k.key_type == EXPERIMENT => run.experiment_id == k.id,
            Some(k) => {
                let type_name = enum_name(RESOURCE_TYPES, k.key_type);
                run.references
                    .iter()
                    .any(|r| r.key_type == type_name && r.key_id == k.id)
            }
        };
        let (page, total, next) = list::page(state.runs.iter().filter(in_scope), &options);
        Ok(Out::new()
            .list(
                "runs",
                page.iter().map(|r| r.to_json(self.profile())).collect(),
            )
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }
}
