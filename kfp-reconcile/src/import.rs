//! `kfp-gitops import`: the experiments and recurring runs of a namespace written as a config folder
//! (`experiments.yaml`, `recurring_runs.yaml`, each distinct workflow once under `pipelines/`), so that
//! schedules made in the KFP UI can be taken over from git.
//!
//! Every field the config can express is carried over; what it cannot express is reported as an
//! [`ImportNote`], never dropped silently. Jobs kfp-gitops does not manage get `job.adopt` with their
//! original name, so that the next `apply` adopts them (see the planner). Of a managed job (`GIT::`
//! versions), only the newest version is written, so that importing managed jobs and planning gives no
//! changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use kfp_client::models::{Job, ResourceType};
use kfp_client::{KfpApi, ListOptions, list_all};
use kfp_config::Workflow;
use kfp_config::{
    DEFAULT_KEEP_HISTORY, Experiment, ExperimentsFile, Job as ConfigJob, ParameterValue,
    PathSource, PipelineParameter, PipelineSource, RecurringRun, RecurringRunsFile, Trigger,
};

use crate::observe::scope;
use kfp_config::parse_version_name;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Also import the recurring runs kfp-gitops manages (`GIT::` versions; the newest of each).
    pub include_managed: bool,
    /// Import only recurring runs whose name contains one of these (all when empty).
    pub name_filters: Vec<String>,
}

/// Something of KFP that the config cannot express, or a change made to fit it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportNote {
    /// The KFP job (or experiment) it is about.
    pub job: String,
    /// What was not carried over, or what was changed.
    pub message: String,
    /// Whether the recurring run was left out of the config because of it.
    pub skipped: bool,
}

/// An imported config folder, not yet written.
#[derive(Debug, Clone)]
pub struct ImportedConfig {
    /// `experiments.yaml`.
    pub experiments: ExperimentsFile,
    /// `recurring_runs.yaml`.
    pub recurring_runs: RecurringRunsFile,
    /// Each distinct workflow: its file name under `pipelines/` and the workflow.
    pub pipelines: Vec<(String, Workflow)>,
    /// What could not be carried over.
    pub notes: Vec<ImportNote>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Listing failed.
    #[error("cannot list the {what} of {}", place(namespace))]
    List {
        /// `experiments` or `recurring runs`.
        what: &'static str,
        /// The namespace.
        namespace: String,
        /// The API error.
        #[source]
        source: Box<kfp_client::Error>,
    },
    /// The output folder exists.
    #[error("{} exists already; nothing was written", path.display())]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serializing failed.
    #[error("cannot write {file} as YAML: {message}")]
    Yaml {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
}

impl ImportError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Exists { .. } => Some(
                "choose a new folder with --out, or pass --force to write into it (existing files are replaced)"
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// The API error underneath, if any.
    pub fn into_api_error(self) -> Option<kfp_client::Error> {
        match self {
            Self::List { source, .. } => Some(*source),
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

/// Reads the experiments and recurring runs of `namespace` and builds the config that declares them.
pub fn import_namespace(
    api: &dyn KfpApi,
    namespace: &str,
    options: &ImportOptions,
) -> Result<ImportedConfig, ImportError> {
    let list_error = |what: &'static str| {
        move |source| ImportError::List {
            what,
            namespace: namespace.to_owned(),
            source: Box::new(source),
        }
    };
    let experiments = list_all(&ListOptions::namespace(namespace), |o| {
        api.list_experiments(o)
    })
    .map_err(list_error("experiments"))?;
    let jobs = list_all(&ListOptions::scoped(&scope(namespace)), |o| {
        api.list_jobs(o)
    })
    .map_err(list_error("recurring runs"))?;
    let experiment_names: BTreeMap<&str, (&str, &str)> = experiments
        .iter()
        .filter(|e| e.name != crate::observe::LOCK_EXPERIMENT)
        .map(|e| (e.id.as_str(), (e.name.as_str(), e.description.as_str())))
        .collect();
    let mut imported = build(&jobs, &experiment_names, options);
    // Every experiment in use is declared (`build`); so is every other available one. An archived
    // experiment in use would be unarchived by `apply`: that is said.
    for experiment in &experiments {
        let declared = imported
            .experiments
            .experiments
            .iter()
            .any(|e| e.name == experiment.name);
        if experiment.name == crate::observe::LOCK_EXPERIMENT {
            continue;
        }
        if declared && experiment.is_archived() {
            imported.notes.push(ImportNote {
                job: experiment.name.clone(),
                message: "this experiment is archived in KFP; a config declares available experiments, so `apply` unarchives it".to_owned(),
                skipped: false,
            });
        } else if !declared && !experiment.is_archived() {
            imported.experiments.experiments.push(Experiment {
                name: experiment.name.clone(),
                description: Some(experiment.description.clone()).filter(|d| !d.is_empty()),
            });
        }
    }
    imported
        .experiments
        .experiments
        .sort_by(|a, b| a.name.cmp(&b.name));
    Ok(imported)
}

/// The jobs to import, with their logical names and whether they are managed: each unmanaged job, and
/// the newest version of each managed one.
fn select<'a>(jobs: &'a [Job], options: &ImportOptions) -> Vec<(String, bool, &'a Job)> {
    let mut newest: BTreeMap<String, (Timestamp, &Job)> = BTreeMap::new();
    let mut selected = Vec::new();
    for job in jobs {
        match parse_version_name(&job.name) {
            Some(version) => {
                let entry = newest
                    .entry(version.job)
                    .or_insert((version.timestamp, job));
                if version.timestamp > entry.0 {
                    *entry = (version.timestamp, job);
                }
            }
            None => selected.push((job.name.clone(), false, job)),
        }
    }
    if options.include_managed {
        selected.extend(newest.into_iter().map(|(name, (_, job))| (name, true, job)));
    }
    selected.retain(|(name, _, _)| {
        options.name_filters.is_empty() || options.name_filters.iter().any(|f| name.contains(f))
    });
    selected.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.id.cmp(&b.2.id)));
    selected
}

/// A file name for a pipeline: lower-case letters, digits and dashes.
fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.ends_with('-') {
            stem.push('-');
        }
    }
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "pipeline".to_owned()
    } else {
        stem.chars().take(80).collect()
    }
}

fn build(
    jobs: &[Job],
    experiments: &BTreeMap<&str, (&str, &str)>,
    options: &ImportOptions,
) -> ImportedConfig {
    let mut notes = Vec::new();
    let mut runs = Vec::new();
    let mut pipelines: Vec<(String, Workflow)> = Vec::new();
    let mut file_of_digest: BTreeMap<String, String> = BTreeMap::new();
    let mut used_experiments: BTreeSet<&str> = BTreeSet::new();
    let mut used_names: BTreeSet<String> = BTreeSet::new();
    let selected = select(jobs, options);
    // Managed names first: an unmanaged job renamed to fit never takes a managed job's name.
    for (name, _, _) in selected.iter().filter(|(_, managed, _)| *managed) {
        used_names.insert(name.to_lowercase());
    }
    for (name, managed, job) in &selected {
        let mut note = |message: String, skipped: bool| {
            notes.push(ImportNote {
                job: job.name.clone(),
                message,
                skipped,
            });
        };
        let Some((experiment, _)) = job.experiment_id().and_then(|id| experiments.get(id)) else {
            note(
                "it belongs to no experiment of the namespace; a recurring run of the config needs one"
                    .to_owned(),
                true,
            );
            continue;
        };
        if !job.pipeline_spec.pipeline_manifest.is_empty() {
            note(
                "it has a KFP v2 pipeline_manifest, which kfp-gitops does not deploy".to_owned(),
                true,
            );
            continue;
        }
        let workflow = match Workflow::parse_json(&job.pipeline_spec.workflow_manifest) {
            Ok(workflow) => workflow,
            Err(err) => {
                note(format!("its workflow manifest cannot be read: {err}"), true);
                continue;
            }
        };
        let trigger = match trigger_of(job) {
            Ok(trigger) => trigger,
            Err(message) => {
                note(message, true);
                continue;
            }
        };
        if !job.pipeline_spec.pipeline_id.is_empty()
            || job
                .resource_references
                .iter()
                .any(|r| r.key.r#type == ResourceType::PipelineVersion)
        {
            note(
                "it was made from an uploaded pipeline (version); the config deploys that pipeline's workflow itself (a local path source), not a reference to the upload"
                    .to_owned(),
                false,
            );
        }
        let max_concurrency = match u8::try_from(job.max_concurrency) {
            Ok(value @ 1..=10) => value,
            _ => {
                note(
                    format!(
                        "max_concurrency {} is outside 1..10; written as 1",
                        job.max_concurrency
                    ),
                    false,
                );
                1
            }
        };
        let mut logical = name.clone();
        if !*managed {
            let fitted = fit_job_name(name);
            logical = unique_name(&fitted, &mut used_names);
            if fitted != *name {
                note(
                    format!(
                        "its name cannot be a config's job name (control characters, a version timestamp or more than {} characters); imported as {logical:?}",
                        kfp_config::MAX_JOB_NAME_CHARS
                    ),
                    false,
                );
            } else if logical != *name {
                note(
                    format!(
                        "its name is taken (names compare without case); imported as {logical:?}"
                    ),
                    false,
                );
            }
        }
        let digest = workflow.digest().as_str().to_owned();
        let file = match file_of_digest.get(&digest) {
            Some(file) => file.clone(),
            None => {
                let stem = file_stem(&workflow.pipeline_name().unwrap_or_else(|| logical.clone()));
                let mut file = format!("{stem}.yaml");
                let mut n = 2;
                while pipelines.iter().any(|(f, _)| *f == file) {
                    file = format!("{stem}-{n}.yaml");
                    n += 1;
                }
                file_of_digest.insert(digest, file.clone());
                pipelines.push((file.clone(), workflow));
                file
            }
        };
        used_experiments.insert(experiment);
        runs.push(RecurringRun {
            pipeline_source: PipelineSource::Path(PathSource {
                path: Path::new("pipelines").join(&file),
            }),
            pipeline_parameters: job
                .pipeline_spec
                .parameters
                .iter()
                .map(|p| PipelineParameter::Value {
                    name: p.name.clone(),
                    value: ParameterValue(serde_json::Value::String(p.value.clone())),
                })
                .collect(),
            keep_history: DEFAULT_KEEP_HISTORY,
            rollout: None,
            job: ConfigJob {
                enabled: job.enabled,
                name: logical,
                description: Some(crate::zoned::recorded(&job.description).description)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
                experiment: (*experiment).to_owned(),
                max_concurrency,
                service_account: Some(job.service_account.clone()).filter(|s| !s.is_empty()),
                trigger,
                adopt: (!*managed).then(|| job.name.clone()),
            },
        });
    }
    let experiments = experiments
        .values()
        .filter(|(name, _)| used_experiments.contains(name))
        .map(|(name, description)| Experiment {
            name: (*name).to_owned(),
            description: Some((*description).to_owned()).filter(|d| !d.is_empty()),
        })
        .collect();
    ImportedConfig {
        experiments: ExperimentsFile { experiments },
        recurring_runs: RecurringRunsFile {
            recurring_runs: runs,
        },
        pipelines,
        notes,
    }
}

/// `name` made a valid `job.name`: without control characters, without a version timestamp
/// (`__YYYY-MM-DDTHH-MM-SSZ`; its `__` becomes `_`), short enough to leave room for a `-N` suffix
/// within what a version name allows.
fn fit_job_name(name: &str) -> String {
    let mut fitted: String = name.chars().filter(|c| !c.is_control()).collect();
    while let Some(at) = version_stamp_at(&fitted) {
        fitted.replace_range(at..at + 2, "_");
    }
    let mut fitted: String = fitted
        .chars()
        .take(kfp_config::MAX_JOB_NAME_CHARS - 3)
        .collect();
    if fitted.trim().is_empty() {
        fitted = "imported".to_owned();
    }
    fitted
}

/// Where `__YYYY-MM-DDTHH-MM-SSZ` starts in `name`, if anywhere.
fn version_stamp_at(name: &str) -> Option<usize> {
    let bytes = name.as_bytes();
    (0..bytes.len()).find(|&at| {
        let Some(window) = bytes.get(at..at + 22) else {
            return false;
        };
        window.iter().enumerate().all(|(i, b)| match i {
            0 | 1 => *b == b'_',
            6 | 9 | 15 | 18 => *b == b'-',
            12 => *b == b'T',
            21 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
    })
}

/// `name`, or `name-2`, `name-3`, … when a name equal without case is taken.
fn unique_name(name: &str, used: &mut BTreeSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while used.contains(&candidate.to_lowercase()) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    used.insert(candidate.to_lowercase());
    candidate
}

/// The trigger of a job. A version made from a zoned cron records the cron as written and its zone in
/// its description: that is what the config says (KFP's cron is its translation).
fn trigger_of(job: &Job) -> Result<Trigger, String> {
    let catchup = !job.no_catchup;
    let recorded = crate::zoned::recorded(&job.description).schedule;
    match (&job.trigger.cron_schedule, &job.trigger.periodic_schedule) {
        (Some(cron), _) if !cron.cron.is_empty() => Ok(Trigger {
            catchup,
            start_date: cron.start_time,
            end_date: cron.end_time,
            cron: Some(recorded.map_or_else(|| cron.cron.clone(), |(local, _)| local.to_owned())),
            interval_seconds: None,
            // Without a record, KFP's cron is in the scheduler's zone: a cron without a zone.
            timezone: recorded.map(|(_, zone)| zone.to_owned()),
        }),
        (_, Some(periodic)) if periodic.interval_second > 0 => Ok(Trigger {
            catchup,
            start_date: periodic.start_time,
            end_date: periodic.end_time,
            cron: None,
            interval_seconds: u64::try_from(periodic.interval_second).ok(),
            timezone: None,
        }),
        _ => Err("it has no trigger (it never fires); a recurring run of the config needs a cron or an interval".to_owned()),
    }
}

/// The files of an imported config, relative to its folder, with their text. `schema_dir` is how the
/// folder reaches the JSON Schemas (for the `# yaml-language-server: $schema=` lines).
pub fn import_files(
    imported: &ImportedConfig,
    schema_dir: &str,
) -> Result<Vec<(PathBuf, String)>, ImportError> {
    let yaml = |file: &str, value: &dyn erased::Serialize| -> Result<String, ImportError> {
        value.to_yaml().map_err(|message| ImportError::Yaml {
            file: file.to_owned(),
            message,
        })
    };
    let header = |schema: &str, what: &str| {
        format!(
            "# yaml-language-server: $schema={schema_dir}/{schema}\n## {what}, imported from KFP by `kfp-gitops import`\n"
        )
    };
    let mut files = vec![
        (
            PathBuf::from("experiments.yaml"),
            header("experiments.schema.json", "experiments")
                + &yaml("experiments.yaml", &imported.experiments)?,
        ),
        (
            PathBuf::from("recurring_runs.yaml"),
            header("recurring_runs.schema.json", "recurring runs")
                + &yaml("recurring_runs.yaml", &imported.recurring_runs)?,
        ),
    ];
    for (file, workflow) in &imported.pipelines {
        files.push((
            Path::new("pipelines").join(file),
            yaml(file, workflow.value())?,
        ));
    }
    Ok(files)
}

/// Object-safe YAML serialization.
mod erased {
    pub trait Serialize {
        fn to_yaml(&self) -> Result<String, String>;
    }

    impl<T: serde::Serialize> Serialize for T {
        fn to_yaml(&self) -> Result<String, String> {
            serde_saphyr::to_string(self).map_err(|err| err.to_string())
        }
    }
}

/// Writes `files` into `out`. Refuses when `out` exists, unless `force` (then files are replaced).
pub fn write_import(
    out: &Path,
    files: &[(PathBuf, String)],
    force: bool,
) -> Result<(), ImportError> {
    if out.exists() && !force {
        return Err(ImportError::Exists {
            path: out.to_owned(),
        });
    }
    for (relative, text) in files {
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ImportError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| ImportError::Write { path, source })?;
    }
    Ok(())
}

/// How a config folder `out` (not necessarily existing) reaches the JSON Schemas: the nearest ancestor's
/// `schemas/` folder that holds them, as a relative path; `None` when there is none.
pub fn schema_dir_for(out: &Path) -> Option<String> {
    let absolute = std::path::absolute(out).ok()?;
    let mut ups = 0;
    let mut dir = absolute.as_path();
    loop {
        if dir.join("schemas/recurring_runs.schema.json").is_file() {
            let prefix = if ups == 0 {
                ".".to_owned()
            } else {
                vec![".."; ups].join("/")
            };
            return Some(format!("{prefix}/schemas"));
        }
        dir = dir.parent()?;
        ups += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmanaged_names_are_fitted_to_what_a_config_accepts() {
        assert_eq!(fit_job_name("Nightly report"), "Nightly report");
        assert_eq!(fit_job_name("a\tb\n"), "ab");
        assert_eq!(
            fit_job_name("x__2024-01-02T03-04-05Z"),
            "x_2024-01-02T03-04-05Z"
        );
        assert_eq!(fit_job_name("\n"), "imported");
        assert_eq!(fit_job_name(&"a".repeat(300)).chars().count(), 225);
        let mut used = BTreeSet::from(["nightly".to_owned()]);
        assert_eq!(unique_name("Nightly", &mut used), "Nightly-2");
        assert_eq!(unique_name("Nightly", &mut used), "Nightly-3");
    }

    #[test]
    fn a_zoned_version_is_imported_as_the_cron_and_zone_it_was_made_from() {
        let mut job = Job {
            description: "Daily report\n\nkfp-gitops schedule: 0 0 7 * * MON-FRI in Europe/Berlin"
                .to_owned(),
            ..Job::default()
        };
        job.trigger.cron_schedule = Some(kfp_client::models::CronSchedule {
            cron: "0 0 6 * * MON-FRI".to_owned(),
            ..Default::default()
        });
        let trigger = trigger_of(&job).unwrap();
        assert_eq!(trigger.cron.as_deref(), Some("0 0 7 * * MON-FRI"));
        assert_eq!(trigger.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            crate::zoned::recorded(&job.description).description,
            "Daily report"
        );
        // Without a record, the cron is KFP's own.
        job.description = "Daily report".to_owned();
        let trigger = trigger_of(&job).unwrap();
        assert_eq!(trigger.cron.as_deref(), Some("0 0 6 * * MON-FRI"));
        assert_eq!(trigger.timezone, None);
    }

    #[test]
    fn pipeline_file_names_are_plain() {
        assert_eq!(file_stem("Hello World / v2"), "hello-world-v2");
        assert_eq!(file_stem("__"), "pipeline");
    }
}
