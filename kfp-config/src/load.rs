//! Loading a namespace: both config files checked, every pipeline and parameter fetched, workflows
//! validated, parameters checked against the pipelines' inputs; every problem reported at once.
//!
//! Each distinct pipeline file is read, parsed, validated and digested once per load, however many
//! recurring runs use it; its problems are still reported for every run that uses it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::check::{self, At, files};
use crate::cron::timezone::ScheduleZones;
use crate::desired::{
    DesiredExperiment, DesiredNamespace, DesiredPipeline, DesiredRecurringRun, DesiredTrigger,
    Schedule, TriggerZone,
};
use crate::model::{PipelineParameter, PipelineSource, RecurringRun, ValueFrom};
use crate::problem::{ConfigErrors, Problem};
use crate::project::{EXPERIMENTS_FILE, RECURRING_RUNS_FILE, find_repo_root};
use crate::rendered;
use crate::sources::{
    Fetcher, RemoteFile, Repo, Secret, SharedFetchers, SourceError, SourceOptions, resolve_local,
};
use crate::workflow::{PipelineInput, Workflow};

/// The cache folder, relative to the repository root, unless overridden.
pub const DEFAULT_CACHE_DIR: &str = ".cache/kfp-gitops";

/// How a namespace is loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The namespace; default: the config folder's name.
    pub namespace: Option<String>,
    /// Fetch nothing remote: remote sources are checked only from the cache (SHA references), and the
    /// checks that need them are skipped and listed.
    pub offline: bool,
    /// The cache folder; default: `.cache/kfp-gitops` in the repository root.
    pub cache_dir: Option<PathBuf>,
    /// The repository root local paths must stay in; default: the nearest ancestor of the config folder
    /// with `.git` or `kfp-gitops.yaml`, else the config folder.
    pub repo_root: Option<PathBuf>,
    /// The GitHub API base.
    pub github_api_url: String,
    /// The GitHub token.
    pub github_token: Option<Secret>,
    /// How many fetches run at once.
    pub concurrency: usize,
    /// Whether HTTP requests honour proxy environment variables.
    pub use_env_proxy: bool,
    /// The fetchers this load shares with the other namespaces of the same command run (make one per run,
    /// per `watch` cycle), so that a reference they have in common is resolved once, a file is fetched
    /// once, and `concurrency` bounds them together; `None`: a fetcher of this load's own.
    pub fetchers: Option<SharedFetchers>,
    /// The zones of cron schedules (`defaults.timezone`, `scheduler_timezone`) and the clock their
    /// translation is checked at.
    pub zones: ScheduleZones,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            namespace: None,
            offline: false,
            cache_dir: None,
            repo_root: None,
            github_api_url: crate::sources::DEFAULT_GITHUB_API_URL.to_owned(),
            github_token: None,
            concurrency: 8,
            use_env_proxy: true,
            fetchers: None,
            zones: ScheduleZones::default(),
        }
    }
}

/// The outcome of checking a namespace: problems, skipped checks and, when nothing is wrong or
/// missing, the desired state.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The namespace.
    pub namespace: String,
    /// The files checked.
    pub files: Vec<PathBuf>,
    /// Every problem found.
    pub problems: Vec<Problem>,
    /// Checks not made (offline), one sentence each.
    pub skipped: Vec<String>,
    /// The desired state, when there are no problems and nothing was skipped.
    pub desired: Option<DesiredNamespace>,
    /// How many network requests (HTTP, git fetch) this load made (one that a namespace sharing the
    /// fetchers made first is not counted again).
    pub network_requests: usize,
}

/// Loads a namespace folder into its desired state, or every problem found.
pub fn load_namespace(
    config_dir: &Path,
    options: &LoadOptions,
) -> Result<DesiredNamespace, ConfigErrors> {
    let validation = validate_namespace(config_dir, options);
    match validation.desired {
        Some(desired) => Ok(desired),
        None => {
            let mut problems = validation.problems;
            for skipped in validation.skipped {
                problems.push(Problem {
                    file: config_dir.join(RECURRING_RUNS_FILE),
                    pointer: String::new(),
                    line: None,
                    column: None,
                    message: skipped,
                    tip: Some("loading needs every source; run without --offline".to_owned()),
                });
            }
            Err(ConfigErrors { problems })
        }
    }
}

/// Where one value (pipeline or parameter) comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Origin {
    Remote(RemoteFile),
    Local(PathBuf),
    /// A `file_path` without a repository (the checks report it before loading gets here).
    Incomplete(String),
}

/// Checks a namespace folder as far as possible and reports every problem.
pub fn validate_namespace(config_dir: &Path, options: &LoadOptions) -> Validation {
    let namespace = options
        .namespace
        .clone()
        .unwrap_or_else(|| absolute_name(config_dir));
    let experiments_path = config_dir.join(EXPERIMENTS_FILE);
    let runs_path = config_dir.join(RECURRING_RUNS_FILE);
    let mut problems = Vec::new();
    if let Err(reason) = check::namespace_name(&namespace) {
        problems.push(Problem {
            file: config_dir.to_path_buf(),
            pointer: String::new(),
            line: None,
            column: None,
            message: format!(
                "namespace `{}` is not a Kubernetes namespace name: {reason}",
                namespace.escape_debug()
            ),
            tip: Some(check::names::NAMESPACE_HINT.to_owned()),
        });
    }
    let missing_folder = files::config_folder(config_dir);
    let folder_ok = missing_folder.is_none();
    problems.extend(missing_folder);
    let read = |path: &Path, problems: &mut Vec<Problem>| {
        folder_ok
            .then(|| files::read_text(path, problems))
            .flatten()
    };
    let (experiments, declared) = match read(&experiments_path, &mut problems) {
        Some(text) => check::check_experiments(&experiments_path, &text, &mut problems),
        None => (None, None),
    };
    let runs = read(&runs_path, &mut problems).and_then(|text| {
        check::check_recurring_runs(
            &runs_path,
            &text,
            declared.as_ref(),
            &experiments_path,
            &options.zones,
            &mut problems,
        )
    });
    let mut validation = Validation {
        namespace: namespace.clone(),
        files: vec![experiments_path.clone(), runs_path.clone()],
        problems,
        skipped: Vec::new(),
        desired: None,
        network_requests: 0,
    };
    // Sources are checked even when other parts of their run, or other runs, have problems.
    let Some(runs) = runs else {
        return validation;
    };
    let root = options
        .repo_root
        .clone()
        .unwrap_or_else(|| find_repo_root(config_dir));
    let cache_dir = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_CACHE_DIR));
    let source_options = SourceOptions {
        github_api_url: options.github_api_url.clone(),
        github_token: options.github_token.clone(),
        cache_dir,
        offline: options.offline,
        concurrency: options.concurrency,
        use_env_proxy: options.use_env_proxy,
        timeout: std::time::Duration::from_secs(60),
    };
    let fetcher = match &options.fetchers {
        Some(shared) => shared.fetcher(source_options),
        None => std::sync::Arc::new(Fetcher::new(source_options)),
    };
    let mut resolver = Resolver {
        root: &root,
        config_dir,
        runs_path: &runs_path,
        problems: Vec::new(),
    };
    // Every origin of every run, in order: the pipeline first, then valueFrom parameters.
    let mut plans: Vec<(Origin, Vec<(usize, Origin)>)> = Vec::new();
    for run in &runs {
        let pipeline = pipeline_origin(&run.pipeline_source);
        let mut parameters = Vec::new();
        for (index, parameter) in run.pipeline_parameters.iter().flatten().enumerate() {
            if let PipelineParameter::ValueFrom { value_from, .. } = parameter {
                parameters.push((index, value_origin(value_from, &run.pipeline_source)));
            }
        }
        plans.push((pipeline, parameters));
    }
    let remote: Vec<RemoteFile> = plans
        .iter()
        .flat_map(|(pipeline, parameters)| {
            std::iter::once(pipeline).chain(parameters.iter().map(|(_, o)| o))
        })
        .filter_map(|origin| match origin {
            Origin::Remote(file) => Some(file.clone()),
            Origin::Local(_) | Origin::Incomplete(_) => None,
        })
        .collect();
    let all = fetcher.fetch_all(&remote);
    validation.network_requests = all.network_requests;
    let fetched = all.files;
    let mut recurring_runs = Vec::new();
    let mut skipped = Vec::new();
    // Keyed by the origin as written: the same origin names the same bytes within one load.
    let mut pipelines: HashMap<Origin, LoadedPipeline> = HashMap::new();
    for (run, (pipeline_origin, parameter_origins)) in runs.iter().zip(plans) {
        let label = &run.label;
        let no_parameters = Vec::new();
        let run_parameters = run.pipeline_parameters.as_ref().unwrap_or(&no_parameters);
        let mut ok = true;
        let mut incomplete = false;
        let loaded = pipelines
            .entry(pipeline_origin.clone())
            .or_insert_with(|| load_pipeline(&resolver, &pipeline_origin, &fetched));
        let pipeline = match &*loaded {
            LoadedPipeline::Unreadable(SourceError::Offline) => {
                skipped.push(format!(
                    "{label}: pipeline {} not checked (remote source, --offline)",
                    origin_label(&pipeline_origin)
                ));
                incomplete = true;
                None
            }
            LoadedPipeline::Unreadable(err) => {
                resolver.report(
                    &run.source_at,
                    format!(
                        "{label}: cannot get the pipeline {}: {err}",
                        origin_label(&pipeline_origin)
                    ),
                    err.hint(),
                );
                ok = false;
                None
            }
            LoadedPipeline::Unusable {
                source,
                message,
                tip,
            } => Some(Err((source, message, tip))),
            LoadedPipeline::Usable(usable) => Some(Ok(usable)),
        };
        let mut file_values: HashMap<usize, String> = HashMap::new();
        for (index, origin) in &parameter_origins {
            let parameter_name = run_parameters[*index].name();
            let at = run
                .parameters_at
                .get(*index)
                .cloned()
                .unwrap_or_else(|| run.at.clone());
            match resolver.read(origin, &fetched) {
                Ok((bytes, _)) => match std::str::from_utf8(&bytes) {
                    Ok(text) => {
                        file_values.insert(*index, text.to_owned());
                    }
                    Err(_) => {
                        resolver.report(
                            &at,
                            format!(
                                "{label}, parameter `{parameter_name}`: {} is not UTF-8 text",
                                origin_label(origin)
                            ),
                            None,
                        );
                        ok = false;
                    }
                },
                Err(SourceError::Offline) => {
                    skipped.push(format!("{label}, parameter `{parameter_name}`: value {} not read (remote source, --offline)", origin_label(origin)));
                    incomplete = true;
                }
                Err(err) => {
                    resolver.report(
                        &at,
                        format!(
                            "{label}, parameter `{parameter_name}`: cannot get the value {}: {err}",
                            origin_label(origin)
                        ),
                        err.hint(),
                    );
                    ok = false;
                }
            }
        }
        let UsablePipeline {
            source,
            pipeline,
            inputs,
        } = match pipeline {
            None => continue,
            Some(Ok(usable)) => usable,
            Some(Err((source, message, tip))) => {
                resolver.report(
                    &run.source_at,
                    format!("{label}: the pipeline {source} is not usable: {message}"),
                    tip.clone(),
                );
                continue;
            }
        };
        // Parameter values: defaults from a rendered folder's params/, then the config's, in order.
        let mut defaults_unread = false;
        let mut parameters: Vec<(String, String)> = match &run.pipeline_source {
            PipelineSource::Rendered(rendered) => {
                match resolver.rendered_params(&rendered.rendered_pipeline) {
                    Ok(defaults) => defaults.into_iter().collect(),
                    Err(err) => {
                        resolver.report(
                            &run.source_at,
                            format!(
                                "{label}: cannot read the parameters of {}: {err}",
                                rendered.rendered_pipeline.display()
                            ),
                            err.hint(),
                        );
                        ok = false;
                        defaults_unread = true;
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        let mut explicit: Vec<(usize, String, String)> = Vec::new();
        for (index, parameter) in run_parameters.iter().enumerate() {
            let value = match parameter {
                PipelineParameter::Value { value, .. } => Some(value.as_kfp_string()),
                PipelineParameter::ValueFrom { .. } => file_values.remove(&index),
            };
            if let Some(value) = value {
                explicit.push((index, parameter.name().to_owned(), value));
            }
        }
        for (_, name, value) in &explicit {
            match parameters.iter_mut().find(|(existing, _)| existing == name) {
                Some(slot) => slot.1 = value.clone(),
                None => parameters.push((name.clone(), value.clone())),
            }
        }
        // Parameters with problems cannot be compared with the pipeline's inputs.
        if run.pipeline_parameters.is_some() {
            let input_names: Vec<&str> = inputs.iter().map(|input| input.name.as_str()).collect();
            let configured: Vec<&str> =
                run_parameters.iter().map(PipelineParameter::name).collect();
            let unknown = rendered::match_inputs(inputs, &configured).unknown;
            // An input that no parameter sets and that an undeclared parameter's name is close to: that
            // parameter is its misspelling, one problem rather than two.
            let unset: Vec<&str> = input_names
                .iter()
                .copied()
                .filter(|input| !parameters.iter().any(|(name, _)| name == input))
                .collect();
            let mut misspelled: Vec<&str> = Vec::new();
            for (index, parameter) in run_parameters.iter().enumerate() {
                if unknown.contains(&parameter.name()) {
                    let at = run
                        .parameters_at
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| run.at.clone());
                    let declared = if input_names.is_empty() {
                        "none".to_owned()
                    } else {
                        input_names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let tip = match check::suggestion(parameter.name(), &unset) {
                        Some(near) => {
                            misspelled.push(near);
                            format!(
                                "did you mean `{near}`, which is not set? The pipeline's inputs are: {declared}"
                            )
                        }
                        None => format!("the pipeline's inputs are: {declared}"),
                    };
                    resolver.report(&at, format!("{label} sets parameter `{}`, which the pipeline {source} does not declare", parameter.name()), Some(tip));
                    ok = false;
                }
            }
            // A listed parameter whose value could not be read has a problem of its own already.
            if !incomplete && !defaults_unread {
                let set: Vec<&str> = parameters
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .chain(configured.iter().copied())
                    .collect();
                let missing = rendered::match_inputs(inputs, &set).missing;
                for input in missing
                    .into_iter()
                    .filter(|input| !misspelled.contains(&input.name.as_str()))
                {
                    let at = At {
                        pointer: format!("{}/pipeline_parameters", run.at.pointer),
                        ..run.at.clone()
                    };
                    resolver.report(&at, format!("{label} does not set the required parameter `{}` of the pipeline {source}", input.name), Some(format!("add `- name: {}` with a `value` or `valueFrom` to `pipeline_parameters`", input.name)));
                    ok = false;
                }
            }
        }
        if let (true, false, Some(checked)) = (ok, incomplete, &run.run) {
            recurring_runs.push(desired_run(
                checked,
                parameters,
                Arc::clone(pipeline),
                source.clone(),
                &options.zones,
            ));
        }
    }
    validation.problems.extend(resolver.problems);
    validation.skipped = skipped;
    if let Some((experiments, _)) = experiments
        && validation.problems.is_empty()
        && validation.skipped.is_empty()
    {
        validation.desired = Some(DesiredNamespace {
            namespace,
            experiments: experiments
                .experiments
                .into_iter()
                .map(|e| DesiredExperiment {
                    name: e.name,
                    description: e.description,
                })
                .collect(),
            recurring_runs,
        });
    }
    validation
}

fn absolute_name(config_dir: &Path) -> String {
    let absolute = if config_dir.is_absolute() {
        config_dir.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(config_dir)
    };
    absolute
        .components()
        .rfind(|c| !matches!(c, std::path::Component::CurDir))
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default()
        .to_owned()
}

/// One pipeline file as read, parsed and validated once for every recurring run that uses it.
enum LoadedPipeline {
    /// It could not be read.
    Unreadable(SourceError),
    /// It was read from `source` but is not a usable workflow.
    Unusable {
        source: String,
        message: String,
        tip: Option<String>,
    },
    Usable(UsablePipeline),
}

struct UsablePipeline {
    /// Where it came from, for messages.
    source: String,
    pipeline: Arc<DesiredPipeline>,
    /// Its declared inputs, for the parameter checks.
    inputs: Vec<PipelineInput>,
}

/// Reads, parses and validates a pipeline, keeping only what planning and the parameter checks need: the
/// parsed tree is dropped before this returns.
fn load_pipeline(
    resolver: &Resolver<'_>,
    origin: &Origin,
    fetched: &HashMap<RemoteFile, Result<crate::sources::Fetched, SourceError>>,
) -> LoadedPipeline {
    let (bytes, source) = match resolver.read(origin, fetched) {
        Ok(read) => read,
        Err(err) => return LoadedPipeline::Unreadable(err),
    };
    let unusable = |err: crate::WorkflowError| (err.to_string(), err.hint());
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|_| ("the file is not UTF-8 text".to_owned(), None))
        .and_then(|text| {
            let workflow = Workflow::parse_yaml(text).map_err(unusable)?;
            workflow.validate().map_err(unusable)?;
            workflow.validate_entrypoint().map_err(unusable)?;
            // `validate` has read the inputs already, so this cannot fail where it succeeded.
            let inputs = workflow.inputs().map_err(unusable)?;
            Ok((DesiredPipeline::new(&workflow), inputs))
        });
    match parsed {
        Ok((pipeline, inputs)) => LoadedPipeline::Usable(UsablePipeline {
            source,
            pipeline: Arc::new(pipeline),
            inputs,
        }),
        Err((message, tip)) => LoadedPipeline::Unusable {
            source,
            message,
            tip,
        },
    }
}

fn desired_run(
    run: &RecurringRun,
    parameters: Vec<(String, String)>,
    pipeline: Arc<DesiredPipeline>,
    source: String,
    zones: &ScheduleZones,
) -> DesiredRecurringRun {
    let job = &run.job;
    let trigger = &job.trigger;
    DesiredRecurringRun {
        name: job.name.clone(),
        description: job.description.clone(),
        experiment: job.experiment.clone(),
        enabled: job.enabled,
        max_concurrency: job.max_concurrency,
        service_account: job.service_account.clone(),
        adopt: job.adopt.clone(),
        keep_history: run.keep_history,
        rollout: crate::rollout::desired(run.rollout.as_ref()),
        trigger: DesiredTrigger {
            catchup: trigger.catchup,
            start: trigger.start_date,
            end: trigger.end_date,
            schedule: match (&trigger.cron, trigger.interval_seconds) {
                (Some(cron), _) => Schedule::Cron(cron.clone()),
                (None, Some(seconds)) => Schedule::Interval(seconds),
                // The checks guarantee exactly one of them.
                (None, None) => Schedule::Interval(0),
            },
            zone: trigger
                .cron
                .as_ref()
                .and_then(|_| zones.source_zone(trigger.timezone.as_deref()))
                .map(|timezone| TriggerZone {
                    timezone,
                    scheduler: zones.scheduler_timezone.clone(),
                }),
        },
        parameters,
        pipeline,
        source,
    }
}

fn pipeline_origin(source: &PipelineSource) -> Origin {
    match source {
        PipelineSource::GitHub(github) => Origin::Remote(RemoteFile {
            repo: Repo::GitHub {
                owner: github.github_owner.clone(),
                repo: github.github_repo.clone(),
            },
            reference: github.git_reference.clone(),
            path: github.file_path.clone(),
        }),
        PipelineSource::Git(git) => Origin::Remote(RemoteFile {
            repo: Repo::Git {
                url: git.git_url.clone(),
            },
            reference: git.git_reference.clone(),
            path: git.file_path.clone(),
        }),
        PipelineSource::Path(path) => Origin::Local(path.path.clone()),
        PipelineSource::Rendered(rendered) => {
            Origin::Local(rendered.rendered_pipeline.join("workflow.yaml"))
        }
    }
}

/// A `valueFrom`'s origin: missing repository fields come from the pipeline source.
fn value_origin(value_from: &ValueFrom, source: &PipelineSource) -> Origin {
    if let Some(path) = &value_from.path {
        return Origin::Local(path.clone());
    }
    let file_path = value_from.file_path.clone().unwrap_or_default();
    let (default_repo, default_reference) = match source {
        PipelineSource::GitHub(github) => (
            Some(Repo::GitHub {
                owner: github.github_owner.clone(),
                repo: github.github_repo.clone(),
            }),
            Some(github.git_reference.clone()),
        ),
        PipelineSource::Git(git) => (
            Some(Repo::Git {
                url: git.git_url.clone(),
            }),
            Some(git.git_reference.clone()),
        ),
        PipelineSource::Path(_) | PipelineSource::Rendered(_) => (None, None),
    };
    let repo = if let Some(url) = &value_from.git_url {
        Some(Repo::Git { url: url.clone() })
    } else if value_from.github_owner.is_some() || value_from.github_repo.is_some() {
        let (default_owner, default_name) = match &default_repo {
            Some(Repo::GitHub { owner, repo }) => (Some(owner.clone()), Some(repo.clone())),
            _ => (None, None),
        };
        match (
            value_from.github_owner.clone().or(default_owner),
            value_from.github_repo.clone().or(default_name),
        ) {
            (Some(owner), Some(repo)) => Some(Repo::GitHub { owner, repo }),
            _ => None,
        }
    } else {
        default_repo
    };
    let reference = value_from.git_reference.clone().or(default_reference);
    match (repo, reference) {
        (Some(repo), Some(reference)) => Origin::Remote(RemoteFile {
            repo,
            reference,
            path: file_path,
        }),
        _ => Origin::Incomplete(file_path),
    }
}

fn origin_label(origin: &Origin) -> String {
    match origin {
        Origin::Remote(file) => file.to_string(),
        Origin::Local(path) => format!("`{}`", path.display()),
        Origin::Incomplete(path) => format!("`{path}`"),
    }
}

struct Resolver<'a> {
    root: &'a Path,
    config_dir: &'a Path,
    runs_path: &'a Path,
    problems: Vec<Problem>,
}

impl Resolver<'_> {
    fn report(&mut self, at: &At, message: String, tip: Option<String>) {
        self.problems.push(Problem {
            file: self.runs_path.to_path_buf(),
            pointer: at.pointer.clone(),
            line: Some(at.line),
            column: Some(at.column),
            message,
            tip,
        });
    }

    /// The bytes of an origin and a description of where they came from (with the resolved SHA).
    fn read(
        &self,
        origin: &Origin,
        fetched: &HashMap<RemoteFile, Result<crate::sources::Fetched, SourceError>>,
    ) -> Result<(Arc<[u8]>, String), SourceError> {
        match origin {
            Origin::Remote(file) => {
                let result = fetched
                    .get(file)
                    .cloned()
                    .unwrap_or(Err(SourceError::Offline))?;
                let short = &result.sha[..result.sha.len().min(12)];
                let description = match &file.repo {
                    Repo::GitHub { owner, repo } => {
                        format!("github:{owner}/{repo}@{short}:{}", file.path)
                    }
                    Repo::Git { url } => {
                        format!("{}@{short}:{}", crate::sources::redact_url(url), file.path)
                    }
                };
                Ok((result.bytes, description))
            }
            Origin::Local(path) => {
                let real = resolve_local(self.root, self.config_dir, path)?;
                let bytes = files::read_regular(&real, path)?;
                Ok((Arc::from(bytes), format!("`{}`", path.display())))
            }
            Origin::Incomplete(file_path) => Err(SourceError::BadPath(format!(
                "`file_path: {file_path}` names a file in a repository, but no repository is given"
            ))),
        }
    }

    /// `params/NAME` files of a rendered pipeline folder, by name, byte-exact.
    fn rendered_params(&self, dir: &Path) -> Result<BTreeMap<String, String>, SourceError> {
        let params = dir.join(rendered::PARAMS_DIR);
        let real = match resolve_local(self.root, self.config_dir, &params) {
            Ok(real) => real,
            Err(SourceError::NotFound { .. }) => return Ok(BTreeMap::new()),
            Err(err) => return Err(err),
        };
        let entries = rendered::param_files(&real).map_err(|err| match err {
            rendered::ParamsError::List { source, .. } => {
                SourceError::Io(format!("cannot list `{}`: {source}", params.display()))
            }
            other => SourceError::Io(other.to_string()),
        })?;
        let mut values = BTreeMap::new();
        for param in entries {
            let relative = params.join(&param.name);
            let file = resolve_local(self.root, self.config_dir, &relative)?;
            let bytes = files::read_regular(&file, &relative)?;
            let text = String::from_utf8(bytes).map_err(|_| {
                SourceError::Io(format!("`{}` is not UTF-8 text", relative.display()))
            })?;
            values.insert(param.name, text);
        }
        Ok(values)
    }
}
