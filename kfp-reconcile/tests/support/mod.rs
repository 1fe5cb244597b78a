//! Shared test support: builders of desired/observed state and an in-memory KFP that implements `KfpApi`,
//! records every call, can inject faults, and checks after every change that no logical job has two enabled
//! versions.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use kfp_client::models::{
    Experiment, Healthz, Job, Page, Pipeline, PredicateOp, PredicateValue, ResourceReference, Run,
    RunDetail, StorageState,
};
use kfp_client::{Error, KfpApi, ListOptions, Result};
use kfp_config::Workflow;
use kfp_config::parse_version_name;
use kfp_config::{
    DesiredExperiment, DesiredNamespace, DesiredPipeline, DesiredRecurringRun, DesiredTrigger,
    Schedule,
};
use kfp_reconcile::{NewVersion, ObservedNamespace};

pub fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// A small valid KFP v1 workflow whose only step echoes `message`.
pub fn workflow(message: &str) -> Workflow {
    let text = format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '2024-01-02T03:04:05.123456'
    pipelines.kubeflow.org/pipeline_spec: '{{"inputs": [{{"name": "msg", "optional": true, "default": "hi", "type": "String"}}], "name": "hello"}}'
spec:
  entrypoint: hello
  arguments:
    parameters:
    - name: msg
      value: hi
  templates:
  - name: hello
    container:
      image: alpine:3.19
      command: [echo, "{message}"]
"#
    );
    Workflow::parse_yaml(&text).unwrap()
}

/// [`workflow`] as a recurring run holds it.
pub fn pipeline(message: &str) -> Arc<DesiredPipeline> {
    Arc::new(DesiredPipeline::new(&workflow(message)))
}

pub fn experiment(name: &str) -> DesiredExperiment {
    DesiredExperiment {
        name: name.to_owned(),
        description: Some(format!("{name} description")),
    }
}

pub fn run(name: &str) -> DesiredRecurringRun {
    DesiredRecurringRun {
        name: name.to_owned(),
        description: None,
        experiment: "exp".to_owned(),
        enabled: true,
        max_concurrency: 1,
        service_account: None,
        adopt: None,
        keep_history: 5,
        rollout: Default::default(),
        trigger: DesiredTrigger {
            catchup: false,
            start: None,
            end: None,
            schedule: Schedule::Cron("0 0 0 * * *".to_owned()),
            zone: None,
        },
        parameters: vec![("msg".to_owned(), "hello".to_owned())],
        pipeline: pipeline("v1"),
        source: "test fixture".to_owned(),
    }
}

pub fn desired(
    experiments: Vec<DesiredExperiment>,
    runs: Vec<DesiredRecurringRun>,
) -> DesiredNamespace {
    DesiredNamespace {
        namespace: "team-1".to_owned(),
        experiments,
        recurring_runs: runs,
    }
}

/// The KFP job a version of `run` would be once created, as KFP lists it.
pub fn job_for(
    run: &DesiredRecurringRun,
    stamp: &str,
    id: &str,
    enabled: bool,
    experiment_id: &str,
) -> Job {
    let plan = kfp_reconcile::plan(
        &desired(vec![], vec![run.clone()]),
        &ObservedNamespace::default(),
        ts(stamp),
        &kfp_reconcile::PlanOptions::default(),
    );
    let version = new_version(&plan.jobs[0].actions[0]);
    let mut job = kfp_reconcile::job_body(version, experiment_id);
    job.id = id.to_owned();
    job.enabled = enabled;
    job.created_at = Some(ts(stamp));
    job
}

pub fn new_version(action: &kfp_reconcile::Action) -> &NewVersion {
    match action {
        kfp_reconcile::Action::CreateVersion { version } => version,
        other => panic!("expected a create, got {other:?}"),
    }
}

/// An experiment as KFP lists it.
pub fn kfp_experiment(id: &str, name: &str, description: &str, archived: bool) -> Experiment {
    Experiment {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        storage_state: if archived {
            StorageState::Archived
        } else {
            StorageState::Available
        },
        resource_references: vec![ResourceReference::namespace_owner("team-1")],
        ..Experiment::default()
    }
}

/// The observed state `kfp_reconcile::observe` reads from a KFP holding `experiments` and `jobs` (listed in
/// this order), so that planner tests see exactly what a real run plans from: among other things, only the
/// newest version of each managed job has its workflow read.
pub fn observed(experiments: &[Experiment], jobs: &[Job]) -> ObservedNamespace {
    FakeKfp::new(experiments.to_vec(), jobs.to_vec()).observe()
}

/// What the fake should do to a matching call.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `create_job`, `disable_job`, `enable_job`, `delete_job`, `create_experiment`, `list_jobs`, ...
    pub call: &'static str,
    /// 1-based count of matching calls.
    pub nth: usize,
    /// Perform the call, then lose the answer (an ambiguous failure).
    pub after_apply: bool,
    /// HTTP status of the failure (ignored when `after_apply`: the failure is then a dropped connection).
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct State {
    pub experiments: Vec<Experiment>,
    pub jobs: Vec<Job>,
    pub calls: Vec<String>,
    pub faults: Vec<Fault>,
    pub counts: BTreeMap<&'static str, usize>,
    /// The options of every `list_jobs` call, in order.
    pub job_listings: Vec<ListOptions>,
    pub violations: Vec<String>,
    next_id: usize,
    clock: i64,
}

/// An in-memory KFP v1beta1 API (multi-user flavour) for one namespace.
#[derive(Debug, Default)]
pub struct FakeKfp {
    pub state: Mutex<State>,
    /// Page size the fake uses whatever is asked (to exercise paging).
    pub page_size: usize,
}

impl FakeKfp {
    pub fn new(experiments: Vec<Experiment>, jobs: Vec<Job>) -> Self {
        Self {
            state: Mutex::new(State {
                experiments,
                jobs,
                next_id: 1000,
                clock: ts("2024-06-01T00:00:00Z").as_second(),
                ..State::default()
            }),
            page_size: 3,
        }
    }

    pub fn inject(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn jobs(&self) -> Vec<Job> {
        self.state.lock().unwrap().jobs.clone()
    }

    pub fn experiments(&self) -> Vec<Experiment> {
        self.state.lock().unwrap().experiments.clone()
    }

    pub fn observe(&self) -> ObservedNamespace {
        kfp_reconcile::observe(self, "team-1").unwrap()
    }
}

/// Records a violation when `job_name` ends up with more than one enabled version after a change made by
/// apply (an initial state with several enabled versions is drift that apply may only reduce).
fn check(state: &mut State, job_name: &str, after: &str) {
    let Some(target) = parse_version_name(job_name) else {
        return;
    };
    let enabled = state
        .jobs
        .iter()
        .filter(|job| job.enabled)
        .filter(|job| parse_version_name(&job.name).is_some_and(|name| name.job == target.job))
        .count();
    if enabled > 1 {
        state.violations.push(format!(
            "{enabled} enabled versions of {} after {after}",
            target.job
        ));
    }
}

impl FakeKfp {
    /// Records the call and decides whether a fault applies: `Err` = fail before applying;
    /// `Ok(true)` = apply, then fail ambiguously.
    fn enter(&self, call: &'static str, target: &str) -> Result<bool> {
        let mut state = self.state.lock().unwrap();
        state.calls.push(format!("{call} {target}"));
        let count = {
            let count = state.counts.entry(call).or_default();
            *count += 1;
            *count
        };
        let fault = state
            .faults
            .iter()
            .position(|fault| fault.call == call && fault.nth == count)
            .map(|index| state.faults.remove(index));
        match fault {
            None => Ok(false),
            Some(fault) if fault.after_apply => Ok(true),
            Some(fault) => Err(Error::Api {
                status: fault.status,
                method: "POST".into(),
                path: format!("/apis/v1beta1/{call}"),
                message: "injected".into(),
                details: None,
                code: None,
            }),
        }
    }

    fn dropped(call: &str) -> Error {
        Error::Transport {
            method: "POST".into(),
            path: format!("/apis/v1beta1/{call}"),
            kind: kfp_client::TransportKind::Io,
            message: "connection dropped (injected)".into(),
            may_have_been_sent: true,
        }
    }

    fn not_found(what: &str, id: &str) -> Error {
        Error::Api {
            status: 404,
            method: "POST".into(),
            path: format!("/apis/v1beta1/{what}/{id}"),
            message: format!("{what} {id} not found."),
            details: None,
            code: Some(5),
        }
    }

    fn page<T: Clone>(&self, items: &[T], options: &ListOptions) -> Page<T> {
        let start: usize = options
            .page_token
            .as_deref()
            .map_or(0, |token| token.parse().unwrap());
        let size = self.page_size.max(1);
        let end = (start + size).min(items.len());
        Page {
            total_size: i32::try_from(items.len()).unwrap(),
            next_page_token: if end < items.len() {
                end.to_string()
            } else {
                String::new()
            },
            items: items[start..end].to_vec(),
        }
    }

    fn name_filter(options: &ListOptions) -> Option<String> {
        let filter = options.filter.as_ref()?;
        filter
            .predicates
            .iter()
            .find_map(|predicate| match (&predicate.op, &predicate.value) {
                (PredicateOp::Equals, PredicateValue::String(value)) if predicate.key == "name" => {
                    Some(value.clone())
                }
                _ => None,
            })
    }

    fn set_enabled(&self, call: &'static str, id: &str, enabled: bool) -> Result<()> {
        let ambiguous = self.enter(call, id)?;
        {
            let mut state = self.state.lock().unwrap();
            let Some(job) = state.jobs.iter_mut().find(|job| job.id == id) else {
                return Err(Self::not_found("jobs", id));
            };
            let was_enabled = std::mem::replace(&mut job.enabled, enabled);
            let name = job.name.clone();
            if enabled && !was_enabled {
                check(&mut state, &name, &format!("{call} {id}"));
            }
        }
        if ambiguous {
            Err(Self::dropped(call))
        } else {
            Ok(())
        }
    }
}

fn unsupported(call: &str) -> Error {
    Error::Config(format!("{call} is not supported by the fake"))
}

impl KfpApi for FakeKfp {
    fn healthz(&self) -> Result<Healthz> {
        Ok(Healthz {
            multi_user: Some(true),
            ..Healthz::default()
        })
    }

    fn create_experiment(&self, experiment: &Experiment) -> Result<Experiment> {
        let ambiguous = self.enter("create_experiment", &experiment.name)?;
        let created = {
            let mut state = self.state.lock().unwrap();
            if state.experiments.iter().any(|e| e.name == experiment.name) {
                return Err(Error::Api {
                    status: 409,
                    method: "POST".into(),
                    path: "/apis/v1beta1/experiments".into(),
                    message: "already exists".into(),
                    details: None,
                    code: Some(6),
                });
            }
            state.next_id += 1;
            let mut created = experiment.clone();
            created.id = format!("exp-{}", state.next_id);
            created.storage_state = StorageState::Available;
            state.experiments.push(created.clone());
            created
        };
        if ambiguous {
            Err(Self::dropped("create_experiment"))
        } else {
            Ok(created)
        }
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        self.enter("get_experiment", id)?;
        let state = self.state.lock().unwrap();
        state
            .experiments
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| Self::not_found("experiments", id))
    }

    fn list_experiments(&self, options: &ListOptions) -> Result<Page<Experiment>> {
        self.enter("list_experiments", "")?;
        let name = Self::name_filter(options);
        let items: Vec<Experiment> = {
            let state = self.state.lock().unwrap();
            state
                .experiments
                .iter()
                .filter(|e| name.as_ref().is_none_or(|name| &e.name == name))
                .cloned()
                .collect()
        };
        Ok(self.page(&items, options))
    }

    fn delete_experiment(&self, _id: &str) -> Result<()> {
        Err(unsupported("delete_experiment"))
    }

    fn archive_experiment(&self, _id: &str) -> Result<()> {
        Err(unsupported("archive_experiment"))
    }

    fn unarchive_experiment(&self, id: &str) -> Result<()> {
        let ambiguous = self.enter("unarchive_experiment", id)?;
        {
            let mut state = self.state.lock().unwrap();
            let Some(experiment) = state.experiments.iter_mut().find(|e| e.id == id) else {
                return Err(Self::not_found("experiments", id));
            };
            experiment.storage_state = StorageState::Available;
        }
        if ambiguous {
            Err(Self::dropped("unarchive_experiment"))
        } else {
            Ok(())
        }
    }

    fn create_job(&self, job: &Job) -> Result<Job> {
        let ambiguous = self.enter("create_job", &job.name)?;
        let created = {
            let mut state = self.state.lock().unwrap();
            let experiment_id = job.experiment_id().unwrap_or_default().to_owned();
            if !state.experiments.iter().any(|e| e.id == experiment_id) {
                return Err(Self::not_found("experiments", &experiment_id));
            }
            state.next_id += 1;
            state.clock += 1;
            let mut created = job.clone();
            created.id = format!("job-{}", state.next_id);
            created.created_at = Some(Timestamp::from_second(state.clock).unwrap());
            // KFP stores times as whole seconds.
            if let Some(cron) = created.trigger.cron_schedule.as_mut() {
                cron.start_time = cron.start_time.map(kfp_config::truncate_to_second);
                cron.end_time = cron.end_time.map(kfp_config::truncate_to_second);
            }
            if let Some(periodic) = created.trigger.periodic_schedule.as_mut() {
                periodic.start_time = periodic.start_time.map(kfp_config::truncate_to_second);
                periodic.end_time = periodic.end_time.map(kfp_config::truncate_to_second);
            }
            state.jobs.push(created.clone());
            if job.enabled {
                state
                    .violations
                    .push(format!("{} was created enabled", job.name));
            }
            created
        };
        if ambiguous {
            Err(Self::dropped("create_job"))
        } else {
            Ok(created)
        }
    }

    fn get_job(&self, id: &str) -> Result<Job> {
        self.enter("get_job", id)?;
        let state = self.state.lock().unwrap();
        state
            .jobs
            .iter()
            .find(|job| job.id == id)
            .cloned()
            .ok_or_else(|| Self::not_found("jobs", id))
    }

    fn list_jobs(&self, options: &ListOptions) -> Result<Page<Job>> {
        self.enter("list_jobs", "")?;
        self.state
            .lock()
            .unwrap()
            .job_listings
            .push(options.clone());
        let name = Self::name_filter(options);
        let items: Vec<Job> = {
            let state = self.state.lock().unwrap();
            state
                .jobs
                .iter()
                .filter(|job| name.as_ref().is_none_or(|name| &job.name == name))
                .cloned()
                .collect()
        };
        Ok(self.page(&items, options))
    }

    /// The default streaming on `list_jobs`, except that each injected `list_jobs_break_off` fault makes one
    /// page break off after its first job, as a lost connection does.
    fn list_jobs_each(
        &self,
        options: &ListOptions,
        visit: &mut dyn FnMut(Job),
    ) -> Result<kfp_client::PageInfo> {
        let page = self.list_jobs(options)?;
        let break_off = {
            let mut state = self.state.lock().unwrap();
            let fault = state
                .faults
                .iter()
                .position(|fault| fault.call == "list_jobs_break_off");
            fault.map(|index| state.faults.remove(index)).is_some()
        };
        if break_off {
            page.items.into_iter().take(1).for_each(visit);
            return Err(Error::Transport {
                method: "GET".into(),
                path: "/apis/v1beta1/jobs".into(),
                kind: kfp_client::TransportKind::Interrupted,
                message: "the answer broke off after 1 job (injected)".into(),
                may_have_been_sent: true,
            });
        }
        page.items.into_iter().for_each(visit);
        Ok(kfp_client::PageInfo {
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        })
    }

    fn delete_job(&self, id: &str) -> Result<()> {
        let ambiguous = self.enter("delete_job", id)?;
        {
            let mut state = self.state.lock().unwrap();
            let before = state.jobs.len();
            state.jobs.retain(|job| job.id != id);
            if state.jobs.len() == before {
                return Err(Self::not_found("jobs", id));
            }
        }
        if ambiguous {
            Err(Self::dropped("delete_job"))
        } else {
            Ok(())
        }
    }

    fn enable_job(&self, id: &str) -> Result<()> {
        self.set_enabled("enable_job", id, true)
    }

    fn disable_job(&self, id: &str) -> Result<()> {
        self.set_enabled("disable_job", id, false)
    }

    fn create_run(&self, _run: &Run) -> Result<RunDetail> {
        Err(unsupported("create_run"))
    }

    fn get_run(&self, _id: &str) -> Result<RunDetail> {
        Err(unsupported("get_run"))
    }

    fn list_runs(&self, _options: &ListOptions) -> Result<Page<Run>> {
        Err(unsupported("list_runs"))
    }

    fn terminate_run(&self, _id: &str) -> Result<()> {
        Err(unsupported("terminate_run"))
    }

    fn archive_run(&self, _id: &str) -> Result<()> {
        Err(unsupported("archive_run"))
    }

    fn unarchive_run(&self, _id: &str) -> Result<()> {
        Err(unsupported("unarchive_run"))
    }

    fn delete_run(&self, _id: &str) -> Result<()> {
        Err(unsupported("delete_run"))
    }

    fn upload_pipeline(
        &self,
        _name: &str,
        _description: Option<&str>,
        _file_name: &str,
        _bytes: &[u8],
    ) -> Result<Pipeline> {
        Err(unsupported("upload_pipeline"))
    }

    fn list_pipelines(&self, _options: &ListOptions) -> Result<Page<Pipeline>> {
        Err(unsupported("list_pipelines"))
    }

    fn get_pipeline(&self, _id: &str) -> Result<Pipeline> {
        Err(unsupported("get_pipeline"))
    }

    fn delete_pipeline(&self, _id: &str) -> Result<()> {
        Err(unsupported("delete_pipeline"))
    }
}

/// A compact, readable rendering of a plan for snapshots.
pub fn summary(plan: &kfp_reconcile::Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for experiment in &plan.experiments {
        let _ = writeln!(
            out,
            "experiment {}: {:?}",
            experiment.name, experiment.action
        );
    }
    for job in &plan.jobs {
        let _ = writeln!(out, "job {} ({:?})", job.name, job.change);
        for reason in &job.reasons {
            let _ = writeln!(out, "  because {reason}");
        }
        for diff in &job.diffs {
            let _ = writeln!(
                out,
                "  ~ {}: {:?} -> {:?}",
                diff.field, diff.observed, diff.desired
            );
        }
        for action in &job.actions {
            let line = match action {
                kfp_reconcile::Action::CreateVersion { version } => format!(
                    "create {} (disabled; experiment {} id {:?})",
                    version.name, version.experiment, version.experiment_id
                ),
                kfp_reconcile::Action::Disable { version }
                | kfp_reconcile::Action::Enable { version }
                | kfp_reconcile::Action::Delete { version } => format!(
                    "{} {} [{}]",
                    action.verb(),
                    version.name,
                    version.id.as_deref().unwrap_or("new")
                ),
                kfp_reconcile::Action::Verify {
                    version,
                    verification,
                } => format!(
                    "verify {} [{}] (timeout {}s, keep_failed {}, parameters {:?})",
                    version.name,
                    version.id.as_deref().unwrap_or("new"),
                    verification.timeout_seconds,
                    verification.keep_failed,
                    verification.parameters
                ),
            };
            let _ = writeln!(out, "  {line}");
        }
    }
    for name in &plan.unchanged {
        let _ = writeln!(out, "unchanged {name}");
    }
    for leftover in &plan.leftovers {
        let state = if leftover.enabled {
            "ENABLED"
        } else {
            "paused"
        };
        let _ = writeln!(
            out,
            "leftover {} ({state}, {} version(s), schedule {})",
            leftover.name,
            leftover.versions.len(),
            leftover.schedule.as_deref().unwrap_or("none")
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if plan.is_empty() {
        let _ = writeln!(out, "(no actions)");
    }
    out
}
