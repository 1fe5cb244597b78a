//! Applying a plan through the KFP API, in the safe order and with the reconcile invariants:
//!
//! * a new version is created disabled; every other enabled version is disabled before it is enabled, so two
//!   versions of one job are never enabled at the same time;
//! * old versions are deleted only after their replacement exists;
//! * the first failed action of a job stops that job; other jobs go on;
//! * deleting (or disabling) a version that is already gone counts as done;
//! * a create that failed ambiguously (no answer, but it may have been applied) is followed by a look-up of the
//!   version by name, adopting it if it exists, so no duplicate version is made.
//!
//! Any failure leaves a state from which planning and applying again converges.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use kfp_client::models::{
    CronSchedule, Experiment, Filter, Job, Parameter as KfpParameter, PeriodicSchedule,
    PipelineSpec, ResourceReference, Trigger,
};
use kfp_client::{KfpApi, ListOptions, for_each_page};

use crate::error::describe;
use crate::model::{
    Action, ExperimentAction, ExperimentPlan, JobPlan, NewVersion, Plan, PlannedSchedule,
};
use crate::observe::scope;
use crate::report::{ApplyReport, JobReport, Outcome, RE_ENABLE, StepReport};
use crate::verify::VerifyOptions;
use kfp_client::CancelToken;

/// Settings of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// How many jobs of a namespace are worked on at the same time (at least 1); a job waiting for
    /// its verification run holds its place.
    pub concurrency: usize,
    /// How verifications (`rollout: {strategy: verify}`) are run.
    pub verify: VerifyOptions,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            verify: VerifyOptions::default(),
        }
    }
}

/// Applies `plan` (experiments first, then jobs concurrently, each job's actions in order).
pub fn apply(plan: &Plan, api: &dyn KfpApi, options: &ApplyOptions) -> ApplyReport {
    apply_until(plan, api, options, &CancelToken::new())
}

/// [`apply`], starting no new job once `cancel` is cancelled: the jobs in progress finish their
/// actions, so none is left half replaced; the others are listed in [`ApplyReport::not_started`].
pub fn apply_until(
    plan: &Plan,
    api: &dyn KfpApi,
    options: &ApplyOptions,
    cancel: &CancelToken,
) -> ApplyReport {
    let mut experiment_ids: BTreeMap<String, Option<String>> = BTreeMap::new();
    let experiments: Vec<StepReport> = plan
        .experiments
        .iter()
        .map(|experiment| {
            let (step, id) = apply_experiment(&plan.namespace, experiment, api);
            experiment_ids.insert(experiment.name.clone(), id);
            step
        })
        .collect();

    let results: Vec<Mutex<Option<JobReport>>> =
        plan.jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = options.concurrency.max(1).min(plan.jobs.len().max(1));
    std::thread::scope(|threads| {
        for _ in 0..workers {
            threads.spawn(|| {
                while !cancel.is_cancelled() {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = plan.jobs.get(index) else {
                        break;
                    };
                    let report =
                        apply_job(&plan.namespace, job, &experiment_ids, api, options, cancel);
                    if let Ok(mut slot) = results[index].lock() {
                        *slot = Some(report);
                    }
                }
            });
        }
    });
    let started = next.load(Ordering::Relaxed);
    let mut jobs = Vec::new();
    let mut not_started = Vec::new();
    for (index, (slot, job)) in results.into_iter().zip(&plan.jobs).enumerate() {
        match slot.into_inner().ok().flatten() {
            Some(report) => jobs.push(report),
            None if index >= started || cancel.is_cancelled() => not_started.push(job.name.clone()),
            None => jobs.push(JobReport {
                name: job.name.clone(),
                steps: job
                    .actions
                    .iter()
                    .map(|action| StepReport {
                        action: action.verb().to_owned(),
                        target: action.version_name().to_owned(),
                        id: None,
                        outcome: Outcome::Failed {
                            message: "the worker applying this job stopped unexpectedly".to_owned(),
                        },
                    })
                    .collect(),
            }),
        }
    }
    ApplyReport {
        namespace: plan.namespace.clone(),
        experiments,
        jobs,
        not_started,
    }
}

/// Applies several namespace plans in parallel (one thread per namespace), keeping the input order.
pub fn apply_many(plans: &[Plan], api: &dyn KfpApi, options: &ApplyOptions) -> Vec<ApplyReport> {
    apply_many_until(plans, api, options, &CancelToken::new())
}

/// [`apply_many`] that starts no new job once `cancel` is cancelled (see [`apply_until`]).
pub fn apply_many_until(
    plans: &[Plan],
    api: &dyn KfpApi,
    options: &ApplyOptions,
    cancel: &CancelToken,
) -> Vec<ApplyReport> {
    std::thread::scope(|threads| {
        let handles: Vec<_> = plans
            .iter()
            .map(|plan| threads.spawn(move || apply_until(plan, api, options, cancel)))
            .collect();
        handles
            .into_iter()
            .zip(plans)
            .map(|(handle, plan)| {
                handle.join().unwrap_or_else(|_| ApplyReport {
                    namespace: plan.namespace.clone(),
                    experiments: Vec::new(),
                    not_started: Vec::new(),
                    jobs: vec![JobReport {
                        name: String::new(),
                        steps: vec![StepReport {
                            action: "apply".to_owned(),
                            target: plan.namespace.clone(),
                            id: None,
                            outcome: Outcome::Failed {
                                message: "applying the namespace stopped unexpectedly".to_owned(),
                            },
                        }],
                    }],
                })
            })
            .collect()
    })
}

fn apply_experiment(
    namespace: &str,
    experiment: &ExperimentPlan,
    api: &dyn KfpApi,
) -> (StepReport, Option<String>) {
    match &experiment.action {
        ExperimentAction::Create { description } => {
            let body = Experiment {
                name: experiment.name.clone(),
                description: description.clone().unwrap_or_default(),
                resource_references: if namespace.is_empty() {
                    Vec::new()
                } else {
                    vec![ResourceReference::namespace_owner(namespace)]
                },
                ..Experiment::default()
            };
            let step = |id: Option<String>, outcome| StepReport {
                action: "create_experiment".to_owned(),
                target: experiment.name.clone(),
                id,
                outcome,
            };
            // Refused locally what KFP 2.x would answer with a 500 (KFP2-V1BETA1.md §5 P0-6).
            match kfp_client::precheck::check_experiment(&body)
                .and_then(|()| api.create_experiment(&body))
            {
                Ok(created) => (
                    step(Some(created.id.clone()), Outcome::Done),
                    Some(created.id),
                ),
                // Lost answer, or created meanwhile by someone else: the experiment may well exist.
                Err(err) if err.is_ambiguous() || err.is_conflict() => {
                    match find_experiment(namespace, &experiment.name, api) {
                        Ok(Some(id)) => (step(Some(id.clone()), Outcome::Adopted), Some(id)),
                        _ => (
                            step(
                                None,
                                Outcome::Failed {
                                    message: describe(&err),
                                },
                            ),
                            None,
                        ),
                    }
                }
                Err(err) => (
                    step(
                        None,
                        Outcome::Failed {
                            message: describe(&err),
                        },
                    ),
                    None,
                ),
            }
        }
        ExperimentAction::Unarchive { id } => {
            // A version is not created in an experiment that stays archived.
            let (outcome, usable) = match api.unarchive_experiment(id) {
                Ok(()) => (Outcome::Done, Some(id.clone())),
                Err(err) => (
                    Outcome::Failed {
                        message: describe(&err),
                    },
                    None,
                ),
            };
            (
                StepReport {
                    action: "unarchive_experiment".to_owned(),
                    target: experiment.name.clone(),
                    id: Some(id.clone()),
                    outcome,
                },
                usable,
            )
        }
    }
}

/// The id of the experiment of `namespace` named exactly `name`, if there is one.
fn find_experiment(
    namespace: &str,
    name: &str,
    api: &dyn KfpApi,
) -> Result<Option<String>, kfp_client::Error> {
    Ok(crate::observe::experiment_named(api, namespace, name)?.map(|experiment| experiment.id))
}

/// The ids of the jobs of `namespace` named exactly `name`.
fn find_jobs_named(
    namespace: &str,
    name: &str,
    api: &dyn KfpApi,
) -> Result<Vec<String>, kfp_client::Error> {
    let options = ListOptions::scoped(&scope(namespace)).with_filter(Filter::name_equals(name));
    let mut found = Vec::new();
    for_each_page(
        &options,
        |page| api.list_jobs(page),
        |items| {
            found.extend(
                items
                    .into_iter()
                    .filter(|job| job.name == name)
                    .map(|job| job.id),
            );
            Ok(())
        },
    )?;
    Ok(found)
}

fn apply_job(
    namespace: &str,
    job: &JobPlan,
    experiment_ids: &BTreeMap<String, Option<String>>,
    api: &dyn KfpApi,
    options: &ApplyOptions,
    cancel: &CancelToken,
) -> JobReport {
    let mut steps = Vec::with_capacity(job.actions.len());
    // The version whose verification failed for good, to delete once the job stops.
    let mut discard: Option<(String, String, bool)> = None;
    let mut created_id: Option<String> = None;
    // Versions this job disabled, to enable one again if the swap's enable fails: a recurring run
    // that had an enabled version never ends up with none.
    let mut disabled: Vec<(String, String)> = Vec::new();
    let mut stopped = false;
    for action in &job.actions {
        let mut step = StepReport {
            action: action.verb().to_owned(),
            target: action.version_name().to_owned(),
            id: None,
            outcome: Outcome::Skipped,
        };
        if stopped {
            steps.push(step);
            continue;
        }
        match action {
            Action::CreateVersion { version } => {
                let (outcome, id) = create_version(namespace, version, experiment_ids, api);
                step.outcome = outcome;
                step.id.clone_from(&id);
                created_id = id;
            }
            Action::Verify {
                version,
                verification,
            } => {
                let Some(id) = version.id.clone().or_else(|| created_id.clone()) else {
                    step.outcome = Outcome::Failed {
                        message: format!("version {} was not created", version.name),
                    };
                    stopped = true;
                    steps.push(step);
                    continue;
                };
                let verify = crate::verify::Verify {
                    namespace,
                    job: &job.name,
                    api,
                    options: &options.verify,
                    cancel,
                };
                let verified = verify.run(version, &id, verification);
                if verified.failed_for_good {
                    discard = Some((id, version.name.clone(), verification.keep_failed));
                }
                stopped = !verified.steps.iter().all(|step| step.outcome.is_success());
                steps.extend(verified.steps);
                continue;
            }
            Action::Disable { version }
            | Action::Enable { version }
            | Action::Delete { version } => {
                let id = version.id.clone().or_else(|| created_id.clone());
                step.id.clone_from(&id);
                step.outcome = match id {
                    None => Outcome::Failed {
                        message: format!("version {} was not created", version.name),
                    },
                    Some(id) => call(action, &id, api),
                };
            }
        }
        stopped = !step.outcome.is_success();
        if matches!(action, Action::Enable { .. })
            && stopped
            && let Some(id) = step.id.clone()
        {
            restore_after_failed_enable(&id, &mut step, &disabled, &mut steps, api);
            // Re-enabled or not, the job stops after a failed enable.
            stopped = step.action == RE_ENABLE || !step.outcome.is_success();
        }
        if matches!(action, Action::Disable { .. })
            && step.outcome == Outcome::Done
            && let Some(id) = &step.id
        {
            disabled.push((id.clone(), step.target.clone()));
        }
        steps.push(step);
    }
    if let Some((id, name, keep)) = discard
        && !keep
    {
        let outcome = match api.delete_job(&id) {
            Ok(()) => Outcome::Done,
            Err(err) if err.is_not_found() => Outcome::AlreadyGone,
            Err(err) => Outcome::Failed {
                message: describe(&err),
            },
        };
        steps.push(StepReport {
            action: crate::verify::DISCARD.to_owned(),
            target: name,
            id: Some(id),
            outcome,
        });
    }
    JobReport {
        name: job.name.clone(),
        steps,
    }
}

/// After the enable of `id` failed: when its answer was only lost (the version is enabled), the step is
/// adopted; otherwise the first version this job disabled is enabled again (a re-enable step after
/// the failed one), so the recurring run keeps one enabled version. When the state cannot be read,
/// nothing is enabled: two enabled versions would be worse than a schedule the next apply restores.
fn restore_after_failed_enable(
    id: &str,
    step: &mut StepReport,
    disabled: &[(String, String)],
    steps: &mut Vec<StepReport>,
    api: &dyn KfpApi,
) {
    if !matches!(api.get_job(id), Ok(job) if !job.enabled) {
        return;
    }
    let Some((old_id, old_name)) = disabled.first() else {
        return;
    };
    let outcome = match api.enable_job(old_id) {
        Ok(()) => Outcome::Done,
        Err(err) => Outcome::Failed {
            message: describe(&err),
        },
    };
    // Reported after the failed enable it repairs.
    let failed = std::mem::replace(
        step,
        StepReport {
            action: RE_ENABLE.to_owned(),
            target: old_name.clone(),
            id: Some(old_id.clone()),
            outcome,
        },
    );
    steps.push(failed);
}

fn call(action: &Action, id: &str, api: &dyn KfpApi) -> Outcome {
    let result = match action {
        Action::Disable { .. } => api.disable_job(id),
        Action::Enable { .. } => api.enable_job(id),
        Action::Delete { .. } => api.delete_job(id),
        Action::CreateVersion { .. } | Action::Verify { .. } => return Outcome::Skipped,
    };
    match result {
        Ok(()) => Outcome::Done,
        // A version that is gone is neither enabled nor in need of deletion.
        Err(err) if err.is_not_found() && !matches!(action, Action::Enable { .. }) => {
            Outcome::AlreadyGone
        }
        Err(err) => confirm_effect(action, id, api).unwrap_or_else(|| Outcome::Failed {
            message: describe(&err),
        }),
    }
}

/// Reads the version back after a failed call: when the call's effect is in place anyway (its answer
/// was lost, or a proxy failed after the server acted), the step is adopted rather than failed, so a
/// swap goes on instead of stopping half way.
fn confirm_effect(action: &Action, id: &str, api: &dyn KfpApi) -> Option<Outcome> {
    match (action, api.get_job(id)) {
        (Action::Enable { .. }, Ok(job)) if job.enabled => Some(Outcome::Adopted),
        (Action::Disable { .. }, Ok(job)) if !job.enabled => Some(Outcome::Adopted),
        (Action::Delete { .. } | Action::Disable { .. }, Err(err)) if err.is_not_found() => {
            Some(Outcome::AlreadyGone)
        }
        _ => None,
    }
}

fn create_version(
    namespace: &str,
    version: &NewVersion,
    experiment_ids: &BTreeMap<String, Option<String>>,
    api: &dyn KfpApi,
) -> (Outcome, Option<String>) {
    // The experiment's own step (create or unarchive) decides; otherwise it existed when planned.
    let experiment_id = match experiment_ids.get(&version.experiment) {
        Some(outcome) => outcome.clone(),
        None => version.experiment_id.clone(),
    };
    let Some(experiment_id) = experiment_id else {
        return (
            Outcome::Failed {
                message: format!(
                    "experiment {:?} could not be created or unarchived",
                    version.experiment
                ),
            },
            None,
        );
    };
    let body = job_body(version, &experiment_id);
    let mut attempt = 1;
    loop {
        // Refused locally what KFP 2.x would answer with a 500 (KFP2-V1BETA1.md §5 P0-6).
        let err = match kfp_client::precheck::check_job(&body).and_then(|()| api.create_job(&body))
        {
            Ok(created) => return (Outcome::Done, Some(created.id)),
            Err(err) if err.is_ambiguous() => err,
            Err(err) => {
                return (
                    Outcome::Failed {
                        message: describe(&err),
                    },
                    None,
                );
            }
        };
        // It may have been created anyway: only a look-up by name tells, before creating again.
        match find_jobs_named(namespace, &version.name, api) {
            Ok(ids) if !ids.is_empty() => return (Outcome::Adopted, ids.into_iter().next()),
            Ok(_) if attempt < CREATE_ATTEMPTS => {
                std::thread::sleep(CREATE_RETRY_PAUSE * attempt);
                attempt += 1;
            }
            Ok(_) => {
                return (
                    Outcome::Failed {
                        message: format!(
                            "{}; the version was not created (checked by listing, {attempt} attempts), the next apply creates it",
                            describe(&err)
                        ),
                    },
                    None,
                );
            }
            Err(list_err) => {
                return (
                    Outcome::Failed {
                        message: format!(
                            "{}; whether the version was created is unknown ({}); the next apply adopts it if it was",
                            describe(&err),
                            describe(&list_err)
                        ),
                    },
                    None,
                );
            }
        }
    }
}

/// How often a create that failed ambiguously, and is then not found by name, is tried in all.
const CREATE_ATTEMPTS: u32 = 3;

/// The pause before the n-th retry of such a create is n times this.
const CREATE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// The KFP job for a new version: always created disabled.
pub fn job_body(version: &NewVersion, experiment_id: &str) -> Job {
    let trigger = match &version.schedule {
        PlannedSchedule::Cron(cron) => Trigger {
            cron_schedule: Some(CronSchedule {
                start_time: version.start,
                end_time: version.end,
                cron: cron.clone(),
            }),
            periodic_schedule: None,
        },
        PlannedSchedule::Interval(seconds) => Trigger {
            cron_schedule: None,
            periodic_schedule: Some(PeriodicSchedule {
                start_time: version.start,
                end_time: version.end,
                interval_second: i64::try_from(*seconds).unwrap_or(i64::MAX),
            }),
        },
    };
    Job {
        name: version.name.clone(),
        description: version.description.clone().unwrap_or_default(),
        pipeline_spec: PipelineSpec {
            workflow_manifest: version.workflow_manifest.clone(),
            parameters: version
                .parameters
                .iter()
                .map(|parameter| KfpParameter::new(parameter.name.clone(), parameter.value.clone()))
                .collect(),
            ..PipelineSpec::default()
        },
        resource_references: vec![ResourceReference::experiment_owner(experiment_id)],
        service_account: version.service_account.clone(),
        max_concurrency: version.max_concurrency,
        trigger,
        enabled: false,
        no_catchup: !version.catchup,
        ..Job::default()
    }
}
