//! Experiments: create, get, list, delete, archive and unarchive.

use super::*;

impl Ctx<'_> {
    pub(super) fn create_experiment(&self, body: &Value) -> Result<Value, ApiError> {
        let name = wire::string(body, "name")?;
        let description = wire::string(body, "description")?;
        let refs = parse_refs(body)?;
        self.check_fields(body, &EXPERIMENT_MSG)?;
        let validate = || -> Result<String, ApiError> {
            if name.is_empty() {
                // KFP2-V1BETA1.md §2.3 "Empty `name`": 2.x wraps it in an InternalServerError (500).
                if self.profile().is_v2() {
                    return Err(ApiError::internal(
                        "Experiment must have a non-empty name",
                        "Failed to convert an experiment",
                    ));
                }
                return Err(ApiError::invalid(
                    "Experiment name is empty. Please specify a valid experiment name.",
                ));
            }
            // KFP2-V1BETA1.md §2.3 "Name length": 2.15+ (our 2.14/2.17 profiles) answers 500 beyond 128 bytes.
            if self.profile().length_limits() && name.len() > 128 {
                return Err(ApiError::internal(
                    &format!(
                        "Experiment.Name length cannot exceed 128 (got {})",
                        name.len()
                    ),
                    "Failed to convert an experiment",
                ));
            }
            if self.profile().is_v2() {
                // KFP2-V1BETA1.md §2.3 "Multi-user refs"/"Single-user refs": the first NAMESPACE ref counts
                // (any relationship), single-user refs are ignored.
                if !self.multi() {
                    return Ok(String::new());
                }
                return refs
                    .iter()
                    .find(|r| r.key_type == NAMESPACE && !r.key_id.is_empty())
                    .map(|r| r.key_id.clone())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "An experiment cannot have an empty namespace in multi-user mode",
                        )
                    });
            }
            if self.multi() {
                let ok = refs.len() == 1
                    && refs[0].key_type == NAMESPACE
                    && refs[0].relationship == OWNER
                    && !refs[0].key_id.is_empty();
                if !ok {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for experiment. Expect one namespace type with owner relationship. Got: {}",
                        refs_text(&refs)
                    )));
                }
                Ok(refs[0].key_id.clone())
            } else if !refs.is_empty() {
                Err(ApiError::invalid(
                    "In single-user mode, CreateExperimentRequest shouldn't contain resource references.",
                ))
            } else {
                Ok(String::new())
            }
        };
        let namespace = validate().map_err(|e| e.wrap("Validate experiment request failed."))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        let mut state = self.core.state();
        if state
            .experiments
            .iter()
            .any(|e| e.namespace == namespace && e.name.to_lowercase() == name.to_lowercase())
        {
            return Err(ApiError::already_exists(format!(
                "Failed to create a new experiment. The name {name} already exists. Please specify a new name."
            ))
            .wrap("Failed to create a new experiment."));
        }
        let experiment = Experiment {
            id: new_uuid(),
            name,
            description,
            created_at: self.now(),
            namespace,
            storage_state: AVAILABLE.to_owned(),
        };
        let out = experiment.to_json(self.multi(), self.profile());
        state.experiments.push(experiment);
        Ok(out)
    }

    pub(super) fn find_experiment<'s>(
        &self,
        state: &'s State,
        id: &str,
    ) -> Result<&'s Experiment, ApiError> {
        state
            .experiments
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::not_found("Experiment", id))
    }

    pub(super) fn get_experiment(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let experiment = self
            .find_experiment(&state, id)
            .map_err(|e| self.auth_wrap(e))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        Ok(experiment.to_json(self.multi(), self.profile()))
    }

    /// In multi-user mode the RBAC check looks the resource up first, so its errors carry that prefix.
    pub(super) fn auth_wrap(&self, err: ApiError) -> ApiError {
        if self.multi() {
            err.wrap("Failed to authorize the request.")
        } else {
            err.wrap("Failed to get experiment.")
        }
    }

    pub(super) fn list_experiments(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let options = list::options::<Experiment>(&params)
            .map_err(|e| e.wrap("Failed to create list options"))?;
        let key = self.query_key(&pairs, "resource_reference_key")?;
        if let Some(key) = &key {
            check_ref_type(key.key_type).map_err(|e| e.wrap("Validating filter failed."))?;
        }
        let namespace = if self.multi() {
            let Some(key) = key.filter(|k| k.key_type == NAMESPACE) else {
                return Err(ApiError::invalid(
                    "Invalid resource references for experiment. ListExperiment requires filtering by namespace.",
                ));
            };
            if key.id.is_empty() {
                return Err(ApiError::invalid(
                    "Invalid resource references for experiment. Namespace is empty.",
                ));
            }
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            key.id
        } else {
            // KFP2-V1BETA1.md §2.2 "Single-user key": 2.x ignores the namespace instead of refusing it.
            if !self.profile().is_v2()
                && key
                    .as_ref()
                    .is_some_and(|k| k.key_type == NAMESPACE && !k.id.is_empty())
            {
                return Err(ApiError::invalid(
                    "In single-user mode, ListExperiment cannot filter by namespace.",
                ));
            }
            String::new()
        };
        let state = self.core.state();
        let (page, total, next) = list::page(
            state
                .experiments
                .iter()
                .filter(|e| e.namespace == namespace),
            &options,
        );
        Ok(Out::new()
            .list(
                "experiments",
                page.iter()
                    .map(|e| e.to_json(self.multi(), self.profile()))
                    .collect(),
            )
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }

    pub(super) fn delete_experiment(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        self.find_experiment(&state, id)
            .map_err(|e| self.auth_wrap(e))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        state.experiments.retain(|e| e.id != id);
        if state.default_experiment_id == id {
            state.default_experiment_id.clear();
        }
        Ok(json!({}))
    }

    pub(super) fn archive_experiment(&self, id: &str, archive: bool) -> Result<Value, ApiError> {
        let now = self.now();
        let mut state = self.core.state();
        if self.multi() {
            self.find_experiment(&state, id)
                .map_err(|e| self.auth_wrap(e))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
        }
        // A missing id in single-user mode: the UPDATEs touch no rows and the call succeeds.
        let target = if archive { ARCHIVED } else { AVAILABLE };
        for experiment in state.experiments.iter_mut().filter(|e| e.id == id) {
            experiment.storage_state = target.to_owned();
        }
        if archive {
            for run in state.runs.iter_mut().filter(|r| r.experiment_id == id) {
                run.storage_state = ARCHIVED.to_owned();
            }
            for job in state
                .jobs
                .iter_mut()
                .filter(|j| j.experiment_id == id && j.enabled)
            {
                job.enabled = false;
                job.updated_at = now;
            }
        }
        Ok(json!({}))
    }
}
