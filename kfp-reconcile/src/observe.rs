//! Reading the observed state of a namespace: one paged listing of its experiments and one of its jobs.

use std::collections::HashMap;

use jiff::Timestamp;
use kfp_client::models::{Experiment, Job};
use kfp_client::{JobsEvent, KfpApi, ListOptions, ListScope, for_each_job, for_each_page};
use kfp_config::Workflow;

mod state;

pub use state::{
    ObservedExperiment, ObservedJob, ObservedNamespace, ObservedSchedule, ObservedTrigger,
    ObservedWorkflow,
};

/// The name of the experiment that is a namespace's lock (see `lock.rs`): no declared experiment, so the
/// observed state leaves it out.
pub const LOCK_EXPERIMENT: &str = "kfp-gitops-lock";

/// Why the observed state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// Listing the namespace's experiments failed.
    #[error("cannot list the experiments of namespace {namespace:?}")]
    Experiments {
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: Box<kfp_client::Error>,
    },
    /// Listing the namespace's jobs failed.
    #[error("cannot list the recurring runs of namespace {namespace:?}")]
    Jobs {
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: Box<kfp_client::Error>,
    },
}

/// The listing scope of a namespace: an empty namespace means a single-user KFP, listed without a scope.
pub(crate) fn scope(namespace: &str) -> ListScope {
    if namespace.is_empty() {
        ListScope::Everything
    } else {
        ListScope::Namespace(namespace.to_owned())
    }
}

/// The order of the jobs listing: a job's versions differ only in their timestamp suffix, so by name descending
/// the first version seen of each job is its newest, and only that one's manifest is parsed. Correctness does
/// not depend on it (a server's collation may order differently): [`observe`] finds the newest version of
/// each job in any order.
pub const JOBS_SORT: &str = "name desc";

/// Lists the experiments and jobs of `namespace` (pages of 200; nothing else is requested).
///
/// Each job is reduced to what planning compares as soon as it is decoded, so memory holds one job's manifest
/// at a time. Only the workflow of the newest version of each managed job is read (the one planning compares);
/// older versions and unmanaged jobs get [`ObservedWorkflow::NotRead`].
pub fn observe(api: &dyn KfpApi, namespace: &str) -> Result<ObservedNamespace, ObserveError> {
    let options = ListOptions::scoped(&scope(namespace));
    // A listing whose page token the server refuses (it restarted or was upgraded between two pages: tokens
    // are not portable across server versions, KFP2-V1BETA1.md §1 "Page size / tokens", §5 P1-15) is read
    // again once from its first page.
    let mut experiments = Vec::new();
    let mut restarted = false;
    loop {
        experiments.clear();
        let listed = for_each_page(
            &options,
            |page| api.list_experiments(page),
            |items| {
                // A namespace lock comes and goes with every apply: it is no part of the state (a
                // saved plan stays fresh across it).
                experiments.extend(
                    items
                        .iter()
                        .filter(|experiment| experiment.name != LOCK_EXPERIMENT)
                        .map(observe_experiment),
                );
                Ok(())
            },
        );
        match listed {
            Err(err) if !restarted && kfp_client::classify::is_refused_page_token(&err) => {
                restarted = true;
            }
            other => {
                other.map_err(|source| ObserveError::Experiments {
                    namespace: namespace.to_owned(),
                    source: Box::new(source),
                })?;
                break;
            }
        }
    }
    let jobs_options = options.with_sort_by(JOBS_SORT);
    let mut jobs = Vec::new();
    let mut newest;
    let mut restarted = false;
    loop {
        jobs.clear();
        newest = NewestVersions::default();
        // What the current page started from, to drop a broken-off attempt at it.
        let mut page_start = (0, NewestVersions::default());
        let listed = for_each_job(api, &jobs_options, |event| match event {
            JobsEvent::Page { retry: false } => page_start = (jobs.len(), newest.clone()),
            JobsEvent::Page { retry: true } => {
                jobs.truncate(page_start.0);
                newest.clone_from(&page_start.1);
            }
            JobsEvent::Job(job) => {
                // An unusable job never counts as the newest version: the newest usable one is compared.
                let workflow =
                    if unusable_reason(&job).is_none() && newest.is_newest_so_far(&job.name) {
                        observe_workflow(&job)
                    } else {
                        ObservedWorkflow::NotRead
                    };
                jobs.push(observe_job_with(&job, workflow));
            }
        });
        match listed {
            Err(err) if !restarted && kfp_client::classify::is_refused_page_token(&err) => {
                restarted = true;
            }
            other => {
                other.map_err(|source| ObserveError::Jobs {
                    namespace: namespace.to_owned(),
                    source: Box::new(source),
                })?;
                break;
            }
        }
    }
    newest.forget_superseded(&mut jobs);
    Ok(ObservedNamespace {
        namespace: namespace.to_owned(),
        experiments,
        jobs,
    })
}

/// The experiment of `namespace` named exactly `name`, if there is one (one filtered listing).
pub(crate) fn experiment_named(
    api: &dyn KfpApi,
    namespace: &str,
    name: &str,
) -> Result<Option<Experiment>, kfp_client::Error> {
    let options = ListOptions::scoped(&scope(namespace))
        .with_filter(kfp_client::models::Filter::name_equals(name));
    let mut found = None;
    for_each_page(
        &options,
        |page| api.list_experiments(page),
        |items| {
            if found.is_none() {
                found = items.into_iter().find(|experiment| experiment.name == name);
            }
            Ok(())
        },
    )?;
    Ok(found)
}

/// Observes several namespaces in parallel (one thread each), keeping the input order.
pub fn observe_many(
    api: &dyn KfpApi,
    namespaces: &[String],
) -> Vec<Result<ObservedNamespace, ObserveError>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = namespaces
            .iter()
            .map(|namespace| scope.spawn(move || observe(api, namespace)))
            .collect();
        handles
            .into_iter()
            .zip(namespaces)
            .map(|(handle, namespace)| {
                handle.join().unwrap_or_else(|_| {
                    Err(ObserveError::Jobs {
                        namespace: namespace.clone(),
                        source: Box::new(kfp_client::Error::Config(
                            "the listing thread panicked".to_owned(),
                        )),
                    })
                })
            })
            .collect()
    })
}

/// The planning view of an experiment.
pub fn observe_experiment(experiment: &Experiment) -> ObservedExperiment {
    ObservedExperiment {
        id: experiment.id.clone(),
        name: experiment.name.clone(),
        description: experiment.description.clone(),
        archived: experiment.is_archived(),
    }
}

/// The newest version timestamp seen so far of each managed job, in any listing order.
#[derive(Debug, Default, Clone)]
struct NewestVersions {
    newest: HashMap<String, Timestamp>,
}

impl NewestVersions {
    /// Records `name` and says whether its workflow is worth reading: it is a managed version at least as new
    /// as every version of its job seen so far. Equal timestamps all count, since the planner tells such
    /// versions apart by creation time and id.
    fn is_newest_so_far(&mut self, name: &str) -> bool {
        let Some(version) = kfp_config::parse_version_name(name) else {
            return false;
        };
        match self.newest.get_mut(&version.job) {
            Some(newest) if *newest > version.timestamp => false,
            Some(newest) => {
                *newest = version.timestamp;
                true
            }
            None => {
                self.newest.insert(version.job, version.timestamp);
                true
            }
        }
    }

    /// Drops the workflows read for versions that a later-listed version superseded, so that the observed
    /// state (and its fingerprint) does not depend on the listing order.
    fn forget_superseded(&self, jobs: &mut [ObservedJob]) {
        for job in jobs {
            if matches!(job.workflow, ObservedWorkflow::NotRead) {
                continue;
            }
            let superseded = kfp_config::parse_version_name(&job.name).is_none_or(|version| {
                self.newest
                    .get(&version.job)
                    .is_some_and(|newest| *newest > version.timestamp)
            });
            if superseded {
                job.workflow = ObservedWorkflow::NotRead;
            }
        }
    }
}

/// Why KFP's job cannot be a version kfp-gitops acts on, if it cannot: KFP reports an `error` for it, or it
/// has no `workflow_manifest` — a KFP v2 job (a `pipeline_manifest` instead), or a 2.5+ "always latest" job
/// with neither (KFP2-V1BETA1.md §2.5 "jobs created by others", §5 P0-2).
pub fn unusable_reason(job: &Job) -> Option<String> {
    let spec = &job.pipeline_spec;
    if !job.error.is_empty() {
        Some(format!("KFP reports an error for it: {}", job.error))
    } else if spec.workflow_manifest.is_empty() && !spec.pipeline_manifest.is_empty() {
        Some("it is a KFP v2 job (a pipeline_manifest, no workflow_manifest)".to_owned())
    } else if spec.workflow_manifest.is_empty() {
        Some("it has no workflow manifest (a KFP v2 job, or one that runs a pipeline's latest version)".to_owned())
    } else {
        None
    }
}

/// A job's workflow manifest reduced to a digest, or why it cannot be read.
pub fn observe_workflow(job: &Job) -> ObservedWorkflow {
    let manifest = &job.pipeline_spec.workflow_manifest;
    if manifest.is_empty() {
        ObservedWorkflow::Unreadable("the job has no workflow manifest".to_owned())
    } else {
        // KFP 2.x accepts and echoes YAML manifests (KFP2-V1BETA1.md §2.5 "YAML manifests", §5 P0-3).
        let parsed = Workflow::parse_json(manifest)
            .or_else(|err| Workflow::parse_yaml(manifest).map_err(|_| err));
        match parsed {
            Ok(workflow) => ObservedWorkflow::Digest(workflow.digest().0),
            Err(err) => ObservedWorkflow::Unreadable(err.to_string()),
        }
    }
}

/// The planning view of a job: its fields, with the workflow manifest reduced to a digest (whether or not
/// planning will compare it; [`observe`] reads only the workflows it compares).
pub fn observe_job(job: &Job) -> ObservedJob {
    observe_job_with(job, observe_workflow(job))
}

fn observe_job_with(job: &Job, workflow: ObservedWorkflow) -> ObservedJob {
    let (start, end, schedule) = match (&job.trigger.cron_schedule, &job.trigger.periodic_schedule)
    {
        (Some(cron), _) if !cron.cron.is_empty() => (
            cron.start_time,
            cron.end_time,
            ObservedSchedule::Cron(cron.cron.clone()),
        ),
        (_, Some(periodic)) if periodic.interval_second != 0 => (
            periodic.start_time,
            periodic.end_time,
            ObservedSchedule::Interval(periodic.interval_second),
        ),
        (Some(cron), _) => (cron.start_time, cron.end_time, ObservedSchedule::None),
        (None, Some(periodic)) => (
            periodic.start_time,
            periodic.end_time,
            ObservedSchedule::None,
        ),
        (None, None) => (None, None, ObservedSchedule::None),
    };
    ObservedJob {
        id: job.id.clone(),
        name: job.name.clone(),
        description: job.description.clone(),
        experiment_id: job.experiment_id().map(str::to_owned),
        enabled: job.enabled,
        max_concurrency: job.max_concurrency,
        service_account: job.service_account.clone(),
        parameters: job
            .pipeline_spec
            .parameters
            .iter()
            .map(|parameter| (parameter.name.clone(), parameter.value.clone()))
            .collect(),
        no_catchup: job.no_catchup,
        trigger: ObservedTrigger {
            start,
            end,
            schedule,
        },
        workflow,
        created_at: job.created_at,
        updated_at: job.updated_at,
        unusable: unusable_reason(job),
    }
}

impl ObserveError {
    /// The API error underneath, by value.
    pub fn into_api_error(self) -> kfp_client::Error {
        match self {
            Self::Experiments { source, .. } | Self::Jobs { source, .. } => *source,
        }
    }

    /// The API error underneath.
    pub fn api_error(&self) -> &kfp_client::Error {
        match self {
            Self::Experiments { source, .. } | Self::Jobs { source, .. } => source,
        }
    }
}
