//! Starting one run of a declared recurring run now: the live version's exact workflow, parameters and
//! service account, in its experiment, carrying a JOB reference to that version so that the run is listed
//! with the schedule's own runs (`kfp-gitops status`).
//!
//! The live version is the newest enabled version of the job, else its newest version. `kfp-gitops trigger`
//! names the run `MANUAL::{job}__{timestamp}` ([`kfp_config::manual_run_name`]); other callers (a
//! verified rollout) choose their own names through [`run_now`].

use jiff::Timestamp;
use kfp_client::models::{
    Filter, Job, PipelineSpec, Relationship, ResourceKey, ResourceReference, ResourceType, Run,
};
use kfp_client::{JobsEvent, KfpApi, ListOptions, for_each_job, list_all};

use crate::observe::{JOBS_SORT, scope};
use kfp_config::{manual_run_name, parse_version_name};

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum RunNowError {
    /// The namespace has no version of the recurring run.
    #[error("recurring run {job:?} has no version in {}", place(namespace))]
    NotFound {
        /// The logical job name.
        job: String,
        /// The namespace.
        namespace: String,
        /// A job that is not managed by kfp-gitops has exactly this name.
        unmanaged: bool,
    },
    /// The live version belongs to no experiment.
    #[error("version {version} of recurring run {job:?} belongs to no experiment")]
    NoExperiment {
        /// The logical job name.
        job: String,
        /// The version's name.
        version: String,
    },
    /// Listing the namespace's recurring runs failed.
    #[error("cannot list the recurring runs of {}", place(namespace))]
    List {
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: Box<kfp_client::Error>,
    },
    /// Creating the run failed.
    #[error("cannot create run {run}")]
    Create {
        /// The run's name.
        run: String,
        /// The API error.
        #[source]
        source: Box<kfp_client::Error>,
    },
    /// The creation got no clear answer, and the run is not there: it was not created.
    #[error("cannot create run {run}")]
    NotCreated {
        /// The run's name.
        run: String,
        /// The API error of the creation.
        #[source]
        source: Box<kfp_client::Error>,
    },
    /// The creation got no clear answer and it is not known whether the run exists.
    #[error("no clear answer to the creation of run {run}; it may have been created")]
    Unclear {
        /// The run's name.
        run: String,
        /// The API error of the creation.
        #[source]
        source: Box<kfp_client::Error>,
    },
}

impl RunNowError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotFound {
                unmanaged: true, ..
            } => Some(
                "a recurring run of that name exists but is not managed by kfp-gitops (no GIT:: versions): \
                 import and apply it first (`kfp-gitops import`)"
                    .to_owned(),
            ),
            Self::NotFound { .. } => Some(
                "check the name and --namespace; `kfp-gitops status` lists the recurring runs of a config"
                    .to_owned(),
            ),
            Self::NotCreated { run, .. } => Some(format!(
                "the run was not created (no run {run} in the experiment): run the command again"
            )),
            Self::Unclear { run, .. } => Some(format!(
                "look for {run} in the experiment before starting another run"
            )),
            _ => None,
        }
    }

    /// The API error underneath, if any.
    pub fn into_api_error(self) -> Option<kfp_client::Error> {
        match self {
            Self::List { source, .. }
            | Self::Create { source, .. }
            | Self::NotCreated { source, .. }
            | Self::Unclear { source, .. } => Some(*source),
            _ => None,
        }
    }
}

fn place(namespace: &str) -> String {
    if namespace.is_empty() {
        "this KFP".to_owned()
    } else {
        format!("namespace {namespace}")
    }
}

/// A run started by [`run_now`].
#[derive(Debug, Clone)]
pub struct StartedRun {
    /// The run as KFP created it.
    pub run: Run,
    /// The version the run was made from.
    pub version: Job,
    /// The experiment the run is in.
    pub experiment_id: String,
}

/// The live version of `job` in `namespace`: its newest enabled version, else its newest version (with its
/// workflow manifest, as KFP lists it).
pub fn live_version(api: &dyn KfpApi, namespace: &str, job: &str) -> Result<Job, RunNowError> {
    let options = ListOptions::scoped(&scope(namespace)).with_sort_by(JOBS_SORT);
    let mut versions: Vec<(Timestamp, Job)> = Vec::new();
    let mut unmanaged = false;
    let mut page_start = 0;
    for_each_job(api, &options, |event| match event {
        JobsEvent::Page { retry } => {
            if retry {
                versions.truncate(page_start);
            }
            page_start = versions.len();
        }
        JobsEvent::Job(found) => match parse_version_name(&found.name) {
            Some(version) if version.job == job => versions.push((version.timestamp, found)),
            Some(_) => {}
            None => unmanaged |= found.name == job,
        },
    })
    .map_err(|source| RunNowError::List {
        namespace: namespace.to_owned(),
        source: Box::new(source),
    })?;
    // Newest first; among equal timestamps the newest created.
    versions
        .sort_by(|(a, job_a), (b, job_b)| b.cmp(a).then(job_b.created_at.cmp(&job_a.created_at)));
    let index = versions
        .iter()
        .position(|(_, version)| version.enabled)
        .unwrap_or(0);
    if versions.is_empty() {
        return Err(RunNowError::NotFound {
            job: job.to_owned(),
            namespace: namespace.to_owned(),
            unmanaged,
        });
    }
    Ok(versions.swap_remove(index).1)
}

/// Starts one run of the live version of `job` now, named `run_name`: the version's workflow manifest,
/// parameters and service account, in its experiment, with a JOB/CREATOR reference to the version.
///
/// A creation without a clear answer (a timeout, a 5xx) is looked up by name before it is reported, so a
/// run is never created twice.
pub fn run_now(
    api: &dyn KfpApi,
    namespace: &str,
    job: &str,
    run_name: &str,
) -> Result<StartedRun, RunNowError> {
    let version = live_version(api, namespace, job)?;
    let description = format!(
        "Started by hand from recurring run version {}",
        version.name
    );
    start_run_of_version(api, job, version, run_name, &description, &[])
}

/// Starts one run of `version` (a version of the recurring run `job`) named `run_name`: its workflow
/// manifest, its parameters with `overrides` replacing the values of the parameters they name, its
/// service account, in its experiment, with a JOB/CREATOR reference to it. Created once (see
/// [`create_run_once`]).
pub fn start_run_of_version(
    api: &dyn KfpApi,
    job: &str,
    version: Job,
    run_name: &str,
    description: &str,
    overrides: &[(String, String)],
) -> Result<StartedRun, RunNowError> {
    let experiment_id =
        version
            .experiment_id()
            .map(str::to_owned)
            .ok_or_else(|| RunNowError::NoExperiment {
                job: job.to_owned(),
                version: version.name.clone(),
            })?;
    let mut parameters = version.pipeline_spec.parameters.clone();
    for parameter in &mut parameters {
        if let Some((_, value)) = overrides.iter().find(|(name, _)| *name == parameter.name) {
            parameter.value.clone_from(value);
        }
    }
    let run = Run {
        name: run_name.to_owned(),
        description: description.to_owned(),
        pipeline_spec: PipelineSpec {
            workflow_manifest: version.pipeline_spec.workflow_manifest.clone(),
            parameters,
            ..PipelineSpec::default()
        },
        resource_references: vec![
            ResourceReference::experiment_owner(&experiment_id),
            ResourceReference {
                key: ResourceKey::new(ResourceType::Job, &version.id),
                name: String::new(),
                relationship: Relationship::Creator,
            },
        ],
        service_account: version.service_account.clone(),
        ..Run::default()
    };
    let run = create_run_once(api, &run, &experiment_id)?;
    Ok(StartedRun {
        run,
        version,
        experiment_id,
    })
}

/// [`run_now`] with the name `kfp-gitops trigger` gives: `MANUAL::{job}__{now}`.
pub fn trigger(
    api: &dyn KfpApi,
    namespace: &str,
    job: &str,
    now: Timestamp,
) -> Result<StartedRun, RunNowError> {
    run_now(api, namespace, job, &manual_run_name(job, now))
}

/// Creates `run` in the experiment `experiment_id`; when the answer got lost (the request may have been
/// applied), looks for it by name instead of creating it a second time.
pub fn create_run_once(
    api: &dyn KfpApi,
    run: &Run,
    experiment_id: &str,
) -> Result<Run, RunNowError> {
    // What the server would refuse is refused here, before anything is sent.
    kfp_client::precheck::check_run(run).map_err(|err| RunNowError::Create {
        run: run.name.clone(),
        source: Box::new(err),
    })?;
    let err = match api.create_run(run) {
        Ok(detail) => return Ok(detail.run),
        Err(err) if err.is_ambiguous() => err,
        Err(err) => {
            return Err(RunNowError::Create {
                run: run.name.clone(),
                source: Box::new(err),
            });
        }
    };
    let options =
        ListOptions::experiment(experiment_id).with_filter(Filter::name_equals(&run.name));
    match list_all(&options, |o| api.list_runs(o)) {
        Ok(found) => match found.into_iter().find(|r| r.name == run.name) {
            Some(created) => Ok(created),
            None => Err(RunNowError::NotCreated {
                run: run.name.clone(),
                source: Box::new(err),
            }),
        },
        Err(_) => Err(RunNowError::Unclear {
            run: run.name.clone(),
            source: Box::new(err),
        }),
    }
}

/// The JOB reference of a run (the version that created it), if any.
pub fn run_job_id(run: &Run) -> Option<&str> {
    run.resource_references
        .iter()
        .find(|r| r.key.r#type == ResourceType::Job)
        .map(|r| r.key.id.as_str())
}
