//! Jobs (recurring runs): create, get, delete, enable and disable, list.

use super::*;

impl Ctx<'_> {
    pub(super) fn create_job(&self, body: &Value) -> Result<Value, ApiError> {
        self.check_fields(body, &JOB_MSG)?;
        let mut state = self.core.state();
        let refs = parse_refs(body)?;
        let max_concurrency = wire::int64(body, "max_concurrency")?;
        let trigger = wire::object(body, "trigger")?.cloned();
        let cron_schedule = match &trigger {
            Some(t) => wire::object(t, "cron_schedule")?.cloned(),
            None => None,
        };
        let periodic = match &trigger {
            Some(t) => wire::object(t, "periodic_schedule")?.cloned(),
            None => None,
        };
        if cron_schedule.is_some() && periodic.is_some() {
            return Err(ApiError::gateway(
                "proto: oneof field \"trigger\" is already set (cron_schedule and periodic_schedule)",
            ));
        }
        let validate = || -> Result<Spec, ApiError> {
            // KFP2-V1BETA1.md §2.6 "Empty `name`": 2.x falls back to the pipeline name, else answers 500.
            if self.profile().is_v2() && wire::string(body, "name")?.is_empty() {
                return Err(ApiError::internal(
                    "Job name cannot be empty",
                    "Failed to convert a recurring run",
                ));
            }
            let spec = self.validate_spec(&state, body, &refs)?;
            if !(1..=10).contains(&max_concurrency) {
                // KFP2-V1BETA1.md §2.6 "`max_concurrency` ∉ [1,10]": new text, "at leas" until 2.4.0.
                return Err(ApiError::invalid(match self.profile() {
                    Profile::V1_8_5 => format!(
                        "The max concurrency of the job is out of range. Support 1-10. Received {max_concurrency}."
                    ),
                    Profile::V2_0 => format!(
                        "Max concurrency of a recurring run must be at leas 1 and at most 10. Received {max_concurrency}"
                    ),
                    _ => format!(
                        "Max concurrency of a recurring run must be at least 1 and at most 10. Received {max_concurrency}"
                    ),
                }));
            }
            if let Some(cron_schedule) = &cron_schedule {
                let expression = wire::string(cron_schedule, "cron")?;
                cron::parse(&expression).map_err(|err| {
                    ApiError::invalid(format!(
                        "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: {err}"
                    ))
                })?;
            }
            if let Some(periodic) = &periodic {
                let interval = wire::int64(periodic, "interval_second")?;
                if interval < 1 {
                    return Err(ApiError::invalid(format!(
                        "Found invalid period schedule interval {interval}. Set at interval to least 1 second."
                    )));
                }
            }
            Ok(spec)
        };
        let spec = validate().map_err(|e| e.wrap("Validate create job request failed."))?;
        let namespace = if self.multi() {
            self.multi_user_experiment(&state, &refs, "Job")?
        } else {
            self.core.config.pod_namespace.clone()
        };
        self.check_v1_allowed(&namespace)
            .map_err(|e| e.wrap("Failed to create a recurring run"))?;
        let wrap = |e: ApiError| e.wrap("Failed to create a new job.");
        check_parameters(&spec).map_err(wrap)?;
        let extra = Self::version_ref(&state, &spec, &refs);
        let (references, experiment_id) = self.resolve_refs(&state, &refs, extra).map_err(wrap)?;
        let (start_time, end_time, cron_text, interval) = match (&cron_schedule, &periodic) {
            (Some(c), _) => (
                wire::timestamp(c, "start_time")?,
                wire::timestamp(c, "end_time")?,
                wire::string(c, "cron")?,
                0,
            ),
            (None, Some(p)) => (
                wire::timestamp(p, "start_time")?,
                wire::timestamp(p, "end_time")?,
                String::new(),
                wire::int64(p, "interval_second")?,
            ),
            (None, None) => (None, None, String::new(), 0),
        };
        let now = self.now();
        let job = Job {
            id: new_uuid(),
            name: wire::string(body, "name")?,
            description: wire::string(body, "description")?,
            service_account: self.service_account(
                &wire::string(body, "service_account")?,
                &spec.workflow_manifest,
            ),
            spec,
            references,
            max_concurrency,
            cron: cron_text,
            interval_second: interval,
            start_time,
            end_time,
            created_at: now,
            updated_at: now,
            status: "NO_STATUS".to_owned(),
            error: String::new(),
            enabled: wire::boolean(body, "enabled")?,
            no_catchup: wire::boolean(body, "no_catchup")?,
            namespace,
            experiment_id,
        };
        let out = job.to_json(self.profile());
        state.jobs.push(job);
        Ok(out)
    }

    pub(super) fn find_job(&self, state: &State, id: &str) -> Result<usize, ApiError> {
        let index = state
            .jobs
            .iter()
            .position(|j| j.id == id)
            .ok_or_else(|| ApiError::not_found("Job", id));
        if self.multi() {
            let index = index.map_err(|e| e.wrap("Failed to authorize the request."))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            Ok(index)
        } else {
            index
        }
    }

    pub(super) fn get_job(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let index = self.find_job(&state, id)?;
        Ok(state.jobs[index].to_json(self.profile()))
    }

    pub(super) fn delete_job(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_job(&state, id)
            .map_err(|e| e.wrap("Failed to delete a job."))?;
        state.jobs.remove(index);
        Ok(json!({}))
    }

    pub(super) fn enable_job(&self, id: &str, enabled: bool) -> Result<Value, ApiError> {
        let now = self.now();
        let mut state = self.core.state();
        let what = if enabled {
            "Failed to enable a job."
        } else {
            "Failed to disable a job."
        };
        let index = self.find_job(&state, id).map_err(|e| e.wrap(what))?;
        let job = &mut state.jobs[index];
        // `UPDATE ... WHERE Enabled = !enabled`: idempotent, and a no-op keeps updated_at.
        if job.enabled != enabled {
            job.enabled = enabled;
            job.updated_at = now;
        }
        Ok(json!({}))
    }

    /// `ListJobs`/`ListRuns` resource-key validation (job_server.go, run_server.go). `kind` is `Jobs` or `Runs`.
    pub(super) fn list_scope(
        &self,
        state: &State,
        pairs: &[(String, String)],
        kind: &str,
    ) -> Result<Option<QueryKey>, ApiError> {
        let key = self.query_key(pairs, "resource_reference_key")?;
        if let Some(key) = &key {
            check_ref_type(key.key_type).map_err(|e| e.wrap("Validating filter failed."))?;
        }
        if self.multi() {
            let Some(key) = &key else {
                return Err(ApiError::invalid(format!(
                    "List{kind} must filter by resource reference in multi-user mode."
                )));
            };
            match key.key_type {
                NAMESPACE if key.id.is_empty() => {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for List{kind}. Namespace is empty."
                    )));
                }
                NAMESPACE => {}
                EXPERIMENT => {
                    let (singular, wrap) = if kind == "Jobs" {
                        ("job", "Failed to get namespace for job's experiment.")
                    } else {
                        ("run", "Run's experiment has no namespace.")
                    };
                    if key.id.is_empty() {
                        return Err(ApiError::invalid(format!(
                            "Invalid resource references for {singular}. Experiment ID is empty."
                        )));
                    }
                    self.find_experiment(state, &key.id).map_err(|e| {
                        e.wrap("Failed to get namespace from experiment ID.")
                            .wrap(wrap)
                    })?;
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for List{kind}. Got {}",
                        key_text(key)
                    )));
                }
            }
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
        }
        Ok(key)
    }

    pub(super) fn list_jobs(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let profile = self.profile();
        let state = self.core.state();
        let key = self.list_scope(&state, &pairs, "Jobs")?;
        let in_scope = |job: &&Job| match &key {
            None => true,
            // KFP2-V1BETA1.md §2.5 "Single-user key": 2.x ignores the namespace in single-user mode.
            Some(k) if k.key_type == NAMESPACE && profile.is_v2() && !self.multi() => true,
            Some(k) if k.key_type == NAMESPACE => job.namespace == k.id,
            // KFP2-V1BETA1.md §2.5 "EXPERIMENT key": 2.x filters on the experiment column.
            Some(k) if k.key_type == EXPERIMENT && profile.is_v2() => job.experiment_id == k.id,
            Some(k) => {
                let type_name = enum_name(RESOURCE_TYPES, k.key_type);
                job.references
                    .iter()
                    .any(|r| r.key_type == type_name && r.key_id == k.id)
            }
        };
        let (page, total, next): (Vec<&Job>, usize, String) = if profile.is_v2() {
            // KFP2-V1BETA1.md §2.5 "Sort/filter keys": 2.x's keys, `package_id` refused.
            let options = list::options::<JobV2<'_>>(&params)
                .map_err(|e| e.wrap("Failed to create list options"))?;
            let rows: Vec<JobV2<'_>> = state.jobs.iter().filter(in_scope).map(JobV2).collect();
            let (page, total, next) = list::page(&rows, &options);
            (page.into_iter().map(|j| j.0).collect(), total, next)
        } else {
            let options = list::options::<Job>(&params)
                .map_err(|e| e.wrap("Failed to create list options"))?;
            list::page(state.jobs.iter().filter(in_scope), &options)
        };
        Ok(Out::new()
            .list("jobs", page.iter().map(|j| j.to_json(profile)).collect())
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }
}
