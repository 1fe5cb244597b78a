//! `kfp-gitops watch`: pull-based reconciliation. Every interval, every namespace configured in the
//! checkout (kept current by git-sync) is planned and applied; `/healthz`, `/readyz` and `/metrics`
//! report how that goes. The loop, shutdown, health and metrics live in [`crate::daemon`]; this module
//! is what one cycle does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Args;
use kfp_client::KfpApi;
use kfp_config::{DesiredRecurringRun, LoadOptions};
use kfp_reconcile::{
    Action, ApplyOptions, ApplyReport, JobPlan, JobReport, Outcome, Plan, PlanOptions, Reason,
    StepReport,
};

use crate::commands::plan::{ProjectDefaults, ReconcileArgs, Target, TargetArgs, resolve_targets};
use crate::daemon::checkout;
use crate::daemon::health::Health;
use crate::daemon::http::HttpServer;
use crate::daemon::metrics::Metrics;
use crate::daemon::shutdown::Shutdown;
use crate::daemon::{self, CycleOutcome, LoopEnd, NamespaceOutcome, Reconciler, Schedule};
use crate::failure::{Failure, Status};
use crate::kfp_args::{KfpArgs, parse_duration};
use crate::output::Context;
use kfp_config::project::PROJECT_FILE_NAME;

/// Arguments of `kfp-gitops watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// The configuration checkout: git-sync's link (e.g. /git/repo) or any folder. It is resolved once
    /// per cycle and everything of that cycle is read below the resolved folder, so a git-sync swap
    /// never mixes two revisions.
    #[arg(long, env = "KFP_GITOPS_ROOT", value_name = "DIR", default_value = ".")]
    pub root: PathBuf,

    /// Config folder of one namespace, relative to the checkout; with several, write NS=DIR each.
    /// Without it, the namespaces of the checkout's kfp-gitops.yaml are reconciled (re-read every cycle).
    #[arg(long = "config", value_name = "[NS=]DIR")]
    pub configs: Vec<String>,

    /// Time between two cycles (±10 % jitter), e.g. `30s`, `5m`, `1h`
    #[arg(long, env = "KFP_GITOPS_INTERVAL", value_name = "DURATION", default_value = "5m", value_parser = parse_interval)]
    pub interval: Duration,

    /// Run one cycle and exit: 0 when it succeeded, 1 otherwise
    #[arg(long)]
    pub once: bool,

    /// Serve /healthz, /readyz and /metrics on this address, e.g. `0.0.0.0:9090`
    #[arg(long, env = "KFP_GITOPS_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Where fetched pipeline sources are cached [default: .cache/kfp-gitops in the checkout, which
    /// must then be writable]
    #[arg(long, env = "KFP_GITOPS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The GitHub REST API of pipeline sources on GitHub (GitHub Enterprise: https://HOST/api/v3); a
    /// token for private repositories is read from GITHUB_TOKEN
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true, value_name = "URL", default_value = kfp_config::sources::DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    /// Jobs of one namespace worked on at the same time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if interval < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is too short: the interval must be at least 1s"
        ));
    }
    Ok(interval)
}

/// Runs the daemon until a signal (or, with `--once`, for one cycle).
pub fn run(args: &WatchArgs, ctx: &Context) -> Result<Status, Failure> {
    let mut global = ctx.global.clone();
    let mut api_url_from_project = None;
    if global.api_url.is_none() {
        // Like plan and apply: the project file's default, read from the checkout as it is now. The
        // client is built once, so later cycles only warn when the file names another URL.
        global.api_url = project_api_url(&args.root);
        api_url_from_project.clone_from(&global.api_url);
    }
    let api = args.kfp.client(&global)?;
    let health = Arc::new(Health::new(args.interval));
    let metrics = Arc::new(Metrics::new());
    let shutdown = Shutdown::new();
    shutdown
        .install_signal_handlers()
        .map_err(|err| Failure::from_error("cannot install the SIGTERM/SIGINT handlers", &err))?;
    let server = match args.listen {
        Some(address) => {
            let server = HttpServer::start(address, Arc::clone(&health), Arc::clone(&metrics))
                .map_err(|err| Failure::from_error("cannot serve the HTTP endpoints", &err))?;
            tracing::info!(
                "serving /healthz, /readyz and /metrics on http://{}",
                server.address()
            );
            Some(server)
        }
        None => None,
    };
    tracing::info!(
        root = %args.root.display(),
        interval_s = args.interval.as_secs(),
        "watching"
    );
    let mut reconciler = WatchReconciler {
        args: args.clone(),
        ctx: Context {
            global,
            ..ctx.clone()
        },
        github_token: std::env::var("GITHUB_TOKEN")
            .ok()
            .filter(|token| !token.is_empty())
            .map(kfp_config::sources::Secret::new),
        api: Box::new(api),
        converged: HashMap::new(),
        api_url_from_project,
        warned_api_url: None,
    };
    let schedule = Schedule {
        interval: args.interval,
        first_retry: Duration::from_secs(5).min(args.interval),
        once: args.once,
    };
    let end = daemon::run_loop(&mut reconciler, schedule, &health, &metrics, &shutdown);
    if let Some(server) = server {
        server.stop();
    }
    match end {
        LoopEnd::Once { success: true } | LoopEnd::Shutdown => {
            if end == LoopEnd::Shutdown {
                tracing::info!("stopped");
            }
            Ok(Status::Ok)
        }
        LoopEnd::Once { success: false } => Err(Failure::new(
            "the reconcile cycle failed (see the log above)",
        )),
    }
}

/// `defaults.api_url` of the checkout's project file, if it is there and has one.
fn project_api_url(root: &Path) -> Option<String> {
    let snapshot = checkout::snapshot(root).ok()?;
    let project = kfp_config::project::Project::load(&snapshot.dir.join(PROJECT_FILE_NAME)).ok()?;
    project.file.defaults.api_url
}

/// The identity of what git declares for one recurring run, to tell drift (the cluster changed) from a
/// config change (git changed).
type Fingerprint = u64;

struct WatchReconciler {
    args: WatchArgs,
    ctx: Context,
    github_token: Option<kfp_config::sources::Secret>,
    api: Box<dyn KfpApi>,
    /// (namespace, job) → the fingerprint of the desired state the job last converged to.
    converged: HashMap<(String, String), Fingerprint>,
    /// The API URL in use when it came from the project file at start-up (not from a flag or
    /// `KFP_API_URL`, which the project file never overrides).
    api_url_from_project: Option<String>,
    /// The other API URL last warned about, so that a changed project file is reported once.
    warned_api_url: Option<String>,
}

impl Reconciler for WatchReconciler {
    fn reconcile(&mut self, shutdown: &Shutdown) -> CycleOutcome {
        let snapshot = match checkout::snapshot(&self.args.root) {
            Ok(snapshot) => snapshot,
            Err(err) => {
                return CycleOutcome::failed(format!(
                    "cannot read the checkout {}: {err}",
                    self.args.root.display()
                ));
            }
        };
        let (targets, project_runner_sa) = match self.targets(&snapshot.dir) {
            Ok((targets, defaults)) => {
                self.check_api_url(defaults.api_url.as_deref());
                (targets, defaults.default_runner_sa)
            }
            Err(error) => {
                return CycleOutcome {
                    revision: Some(snapshot.revision),
                    error: Some(error),
                    ..CycleOutcome::default()
                };
            }
        };
        let plan_options = PlanOptions {
            default_runner_sa: self
                .args
                .reconcile
                .default_runner_sa
                .clone()
                .or(project_runner_sa)
                .unwrap_or_else(|| kfp_reconcile::DEFAULT_RUNNER_SA.to_owned()),
            prune: self.args.reconcile.prune.into(),
            allow_empty_prune: self.args.reconcile.allow_empty_prune,
        };
        let concurrency = usize::from(self.args.concurrency);
        let api: &dyn KfpApi = self.api.as_ref();
        let converged = &self.converged;
        let load_options = LoadOptions {
            offline: false,
            cache_dir: self.args.cache_dir.clone(),
            repo_root: Some(snapshot.dir.clone()),
            github_token: self.github_token.clone(),
            github_api_url: self.args.github_api_url.clone(),
            // Fresh each cycle, so that branches are resolved anew; shared by the cycle's namespaces.
            fetchers: Some(kfp_config::sources::SharedFetchers::default()),
            ..LoadOptions::default()
        };
        // Namespaces are independent: reconciled in parallel.
        let results: Vec<NamespaceResult> = std::thread::scope(|threads| {
            let handles: Vec<_> = targets
                .iter()
                .map(|target| {
                    let plan_options = &plan_options;
                    let load_options = &load_options;
                    threads.spawn(move || {
                        reconcile_namespace(
                            target,
                            load_options,
                            api,
                            plan_options,
                            concurrency,
                            converged,
                            shutdown,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .zip(&targets)
                .map(|(handle, target)| {
                    handle.join().unwrap_or_else(|_| NamespaceResult {
                        outcome: NamespaceOutcome {
                            namespace: target.namespace.clone(),
                            error: Some(
                                "reconciling the namespace stopped unexpectedly".to_owned(),
                            ),
                            ..NamespaceOutcome::default()
                        },
                        converged: Vec::new(),
                        interrupted: false,
                    })
                })
                .collect()
        });
        let mut outcome = CycleOutcome {
            revision: Some(snapshot.revision),
            ..CycleOutcome::default()
        };
        for result in results {
            for (job, fingerprint) in result.converged {
                self.converged
                    .insert((result.outcome.namespace.clone(), job), fingerprint);
            }
            outcome.interrupted |= result.interrupted;
            outcome.namespaces.push(result.outcome);
        }
        outcome
    }
}

impl WatchReconciler {
    /// The namespaces of this cycle, resolved exactly as `plan` and `apply` resolve them, but below the
    /// cycle's checkout: `--config` folders relative to it, else its kfp-gitops.yaml (re-read every cycle,
    /// so a namespace added in git is picked up without a restart). Also the project's default runner
    /// service account.
    fn targets(&self, dir: &Path) -> Result<(Vec<Target>, ProjectDefaults), String> {
        let configs = self
            .args
            .configs
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((namespace, config)) if !namespace.is_empty() && !namespace.contains('/') => {
                    format!("{namespace}={}", dir.join(config).display())
                }
                _ => dir.join(entry).display().to_string(),
            })
            .collect();
        let project = dir.join(PROJECT_FILE_NAME);
        let args = TargetArgs {
            configs,
            project: (self.args.configs.is_empty() || project.is_file()).then_some(project),
        };
        let (targets, defaults) = resolve_targets(&args, &self.ctx).map_err(|failure| {
            let mut message = failure.message.clone();
            for cause in &failure.causes {
                if !message.contains(cause.as_str()) {
                    message.push_str(": ");
                    message.push_str(cause);
                }
            }
            message
        })?;
        Ok((targets, defaults))
    }

    /// Warns (once per URL) when this cycle's project file names another API URL than the one the
    /// client was built with at start-up: switching needs a restart.
    fn check_api_url(&mut self, named: Option<&str>) {
        let other = api_url_changed(self.api_url_from_project.as_deref(), named);
        if let (Some(in_use), Some(other)) = (&self.api_url_from_project, other)
            && self.warned_api_url.as_deref() != Some(other)
        {
            tracing::warn!(
                "{PROJECT_FILE_NAME} now names another defaults.api_url; still using {in_use} until the daemon restarts"
            );
        }
        self.warned_api_url = other.map(str::to_owned);
    }
}

/// The project file's API URL when it differs from the one in use (a URL from the project file at
/// start-up); a trailing `/` makes no difference.
fn api_url_changed<'a>(in_use: Option<&str>, named: Option<&'a str>) -> Option<&'a str> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    match (in_use, named) {
        (Some(in_use), Some(named)) if !same(in_use, named) => Some(named),
        _ => None,
    }
}

struct NamespaceResult {
    outcome: NamespaceOutcome,
    /// Jobs that converged this cycle, with the fingerprint of what they converged to.
    converged: Vec<(String, Fingerprint)>,
    interrupted: bool,
}

fn reconcile_namespace(
    target: &Target,
    load_options: &LoadOptions,
    api: &dyn KfpApi,
    plan_options: &PlanOptions,
    concurrency: usize,
    converged: &HashMap<(String, String), Fingerprint>,
    shutdown: &Shutdown,
) -> NamespaceResult {
    let mut outcome = NamespaceOutcome {
        namespace: target.namespace.clone(),
        ..NamespaceOutcome::default()
    };
    let failed = |mut outcome: NamespaceOutcome, error: String| NamespaceResult {
        outcome: {
            outcome.error = Some(error);
            outcome
        },
        converged: Vec::new(),
        interrupted: false,
    };
    let desired = match load_desired(target, load_options) {
        Ok(desired) => desired,
        Err(error) => return failed(outcome, error),
    };
    outcome.managed_jobs = Some(desired.recurring_runs.len() as u64);
    let observed = match kfp_reconcile::observe(api, &target.namespace) {
        Ok(observed) => observed,
        Err(err) => return failed(outcome, describe(&err)),
    };
    let plan = kfp_reconcile::plan(&desired, &observed, jiff::Timestamp::now(), plan_options);
    for warning in &plan.warnings {
        tracing::warn!(namespace = target.namespace.as_str(), "{warning}");
    }

    let fingerprints: BTreeMap<&str, Fingerprint> = desired
        .recurring_runs
        .iter()
        .map(|run| (run.name.as_str(), fingerprint(run)))
        .collect();
    for job in &plan.jobs {
        let previous = converged.get(&(target.namespace.clone(), job.name.clone()));
        let current = fingerprints.get(job.name.as_str());
        if is_drift(job, previous, current) {
            outcome.drift += 1;
            tracing::info!(
                namespace = target.namespace.as_str(),
                job = job.name.as_str(),
                reasons = %job.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                "drift: correcting a change made outside git"
            );
        }
    }

    let planned_jobs: BTreeSet<String> = plan.jobs.iter().map(|job| job.name.clone()).collect();
    let (report, interrupted) = apply_interruptible(plan, api, concurrency, shutdown);
    for step in report.steps() {
        let counts = if step.outcome.is_success() {
            &mut outcome.actions
        } else if matches!(step.outcome, Outcome::Failed { .. }) {
            tracing::warn!(
                namespace = target.namespace.as_str(),
                action = step.action.as_str(),
                target = step.target.as_str(),
                "{}",
                failure_message(step)
            );
            &mut outcome.failed_actions
        } else {
            continue;
        };
        *counts.entry(step.action.clone()).or_default() += 1;
    }
    // A job converged when it needed no action, or when every action it needed succeeded.
    let converged_now = fingerprints
        .iter()
        .filter(|(name, _)| {
            !planned_jobs.contains(**name)
                || report.jobs.iter().any(|job| {
                    job.name == **name && job.steps.iter().all(|s| s.outcome.is_success())
                })
        })
        .map(|(name, fingerprint)| ((*name).to_owned(), *fingerprint))
        .collect();
    NamespaceResult {
        outcome,
        converged: converged_now,
        interrupted,
    }
}

fn failure_message(step: &StepReport) -> &str {
    match &step.outcome {
        Outcome::Failed { message } => message,
        _ => "",
    }
}

fn describe(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Loads and resolves the desired state of one namespace; local sources may not leave the checkout.
fn load_desired(
    target: &Target,
    options: &LoadOptions,
) -> Result<kfp_config::DesiredNamespace, String> {
    let options = LoadOptions {
        namespace: Some(target.namespace.clone()),
        ..options.clone()
    };
    let mut desired = kfp_config::load_namespace(&target.config, &options).map_err(|errors| {
        let problems: Vec<String> = errors
            .problems
            .iter()
            .map(kfp_config::Problem::render)
            .collect();
        format!(
            "{} configuration problem{}: {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("; ")
        )
    })?;
    desired.namespace.clone_from(&target.namespace);
    Ok(desired)
}

/// A stable hash of everything git declares for one recurring run.
fn fingerprint(run: &DesiredRecurringRun) -> Fingerprint {
    let mut hasher = DefaultHasher::new();
    run.name.hash(&mut hasher);
    run.description.hash(&mut hasher);
    run.experiment.hash(&mut hasher);
    run.enabled.hash(&mut hasher);
    run.max_concurrency.hash(&mut hasher);
    run.service_account.hash(&mut hasher);
    run.keep_history.hash(&mut hasher);
    run.trigger.catchup.hash(&mut hasher);
    run.trigger
        .start
        .map(jiff::Timestamp::as_nanosecond)
        .hash(&mut hasher);
    run.trigger
        .end
        .map(jiff::Timestamp::as_nanosecond)
        .hash(&mut hasher);
    format!("{:?}", run.trigger.schedule).hash(&mut hasher);
    run.parameters.hash(&mut hasher);
    run.pipeline.digest().as_str().hash(&mut hasher);
    hasher.finish()
}

/// Drift: the job needs actions although git did not change since it last converged (something
/// changed it in the cluster), or it has a second enabled version (never our doing).
fn is_drift(job: &JobPlan, previous: Option<&Fingerprint>, current: Option<&Fingerprint>) -> bool {
    let unchanged_in_git = previous.is_some() && previous == current;
    job.reasons.iter().any(|reason| match reason {
        Reason::OtherVersionsEnabled { .. } => true,
        Reason::NoVersion
        | Reason::Differs { .. }
        | Reason::LatestDisabled
        | Reason::LatestEnabled => unchanged_in_git,
        Reason::HistoryBeyondKeep { .. } | Reason::NotInConfig => false,
    })
}

/// Applies `plan` one job at a time per worker, and starts no new job once a shutdown is requested:
/// the jobs in progress finish their actions, so none is left half replaced. Returns the report of
/// what was done and whether jobs were left for the next run.
fn apply_interruptible(
    plan: Plan,
    api: &dyn KfpApi,
    concurrency: usize,
    shutdown: &Shutdown,
) -> (ApplyReport, bool) {
    let mut skeleton = plan;
    let jobs = std::mem::take(&mut skeleton.jobs);
    let experiments = std::mem::take(&mut skeleton.experiments);
    skeleton.unchanged.clear();
    skeleton.warnings.clear();
    let single = ApplyOptions { concurrency: 1 };

    // Experiments first: the jobs' new versions need their ids.
    let mut experiment_plan = skeleton.clone();
    experiment_plan.experiments = experiments;
    let experiment_report = kfp_reconcile::apply(&experiment_plan, api, &single);
    let experiment_ids: BTreeMap<&str, &str> = experiment_report
        .experiments
        .iter()
        .filter(|step| step.outcome.is_success())
        .filter_map(|step| Some((step.target.as_str(), step.id.as_deref()?)))
        .collect();

    let results: Vec<Mutex<Option<JobReport>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = concurrency.clamp(1, jobs.len().max(1));
    std::thread::scope(|threads| {
        for _ in 0..workers {
            threads.spawn(|| {
                while !shutdown.is_triggered() {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(index) else {
                        break;
                    };
                    let mut job = job.clone();
                    for action in &mut job.actions {
                        if let Action::CreateVersion { version } = action
                            && version.experiment_id.is_none()
                        {
                            version.experiment_id = experiment_ids
                                .get(version.experiment.as_str())
                                .map(|id| (*id).to_owned());
                        }
                    }
                    let mut job_plan = skeleton.clone();
                    job_plan.jobs = vec![job];
                    let report = kfp_reconcile::apply(&job_plan, api, &single);
                    *results[index]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = report.jobs.into_iter().next();
                }
            });
        }
    });
    let job_reports: Vec<JobReport> = results
        .into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect();
    let interrupted = job_reports.len() < jobs.len();
    if interrupted {
        tracing::info!(
            namespace = skeleton.namespace.as_str(),
            done = job_reports.len(),
            left = jobs.len() - job_reports.len(),
            "shutdown: jobs not started are left for the next run"
        );
    }
    (
        ApplyReport {
            namespace: skeleton.namespace,
            experiments: experiment_report.experiments,
            jobs: job_reports,
        },
        interrupted,
    )
}

#[cfg(test)]
mod tests {
    use kfp_reconcile::JobChange;

    use super::*;

    #[test]
    fn only_a_different_project_api_url_than_the_one_from_start_up_is_a_change() {
        let start = Some("https://kfp.example.com/pipeline");
        assert_eq!(
            api_url_changed(start, Some("https://other.example.com/pipeline")),
            Some("https://other.example.com/pipeline")
        );
        assert_eq!(api_url_changed(start, start), None);
        assert_eq!(
            api_url_changed(start, Some("https://kfp.example.com/pipeline/")),
            None
        );
        // Removing the default changes nothing either: the URL in use stays.
        assert_eq!(api_url_changed(start, None), None);
        // A URL from --api-url or KFP_API_URL is never overridden by the project file.
        assert_eq!(
            api_url_changed(None, Some("https://other.example.com/pipeline")),
            None
        );
    }

    fn job(reasons: Vec<Reason>) -> JobPlan {
        JobPlan {
            name: "nightly".to_owned(),
            change: JobChange::Update,
            reasons,
            diffs: Vec::new(),
            workflow_diff: None,
            versions: Vec::new(),
            actions: Vec::new(),
        }
    }

    #[test]
    fn a_second_enabled_version_is_always_drift() {
        let plan = job(vec![Reason::OtherVersionsEnabled { count: 1 }]);
        assert!(is_drift(&plan, None, Some(&1)));
    }

    #[test]
    fn changes_needed_while_git_is_unchanged_since_convergence_are_drift() {
        for reason in [
            Reason::LatestDisabled,
            Reason::LatestEnabled,
            Reason::NoVersion,
            Reason::Differs {
                fields: vec!["cron".to_owned()],
            },
        ] {
            let plan = job(vec![reason.clone()]);
            assert!(is_drift(&plan, Some(&7), Some(&7)), "{reason:?}");
            // Git changed (or the job never converged): the change is git's, not drift.
            assert!(!is_drift(&plan, Some(&7), Some(&8)), "{reason:?}");
            assert!(!is_drift(&plan, None, Some(&7)), "{reason:?}");
        }
    }

    #[test]
    fn trimming_history_and_orphans_are_not_drift() {
        let plan = job(vec![
            Reason::HistoryBeyondKeep {
                count: 2,
                keep_history: 1,
            },
            Reason::NotInConfig,
        ]);
        assert!(!is_drift(&plan, Some(&7), Some(&7)));
    }

    #[test]
    fn the_interval_accepts_go_style_durations_of_at_least_a_second() {
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_interval("500ms").unwrap_err().contains("at least 1s"));
        assert!(parse_interval("soon").is_err());
    }
}
