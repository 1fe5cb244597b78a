//! `kfp-gitops watch`: pull-based reconciliation. Every interval, every namespace configured in the
//! checkout (kept current by git-sync) is planned and applied; `/healthz`, `/readyz` and `/metrics`
//! report how that goes. The loop, shutdown, health and metrics live in [`crate::daemon`]; this module
//! is what one cycle does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use kfp_client::KfpApi;
use kfp_config::LoadOptions;
use kfp_config::{
    PROJECT_FILE_NAME, ProjectLookup, TargetQuery, Targets, configs_in_checkout, project_file_in,
};
use kfp_reconcile::{
    ApplyOptions, CycleOptions, DaemonMemory, JobHealth, NamespaceCycle, NamespaceReconcile,
    Outcome, Session, SessionError, SessionOptions, StatusError, StepReport, VerifyOptions,
    reconcile_cycle,
};

/// The health of each recurring run of a namespace.
type RunsHealth = Vec<JobHealth>;

use crate::daemon::checkout;
use crate::daemon::health::Health;
use crate::daemon::http::HttpServer;
use crate::daemon::metrics::Metrics;
use crate::daemon::shutdown::Shutdown;
use crate::daemon::{
    self, CycleOutcome, LeftoverCounts, LoopEnd, NamespaceOutcome, Reconciler, Schedule,
};
use crate::failure::{Failure, Status};
use crate::kfp_args::{KfpArgs, parse_duration};
use crate::output::Context;
use crate::settings::{
    LockArgs, MissedFireArgs, ReconcileArgs, VerifyArgs, github_token, with_project_api_url,
};

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
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true, value_name = "URL", default_value = kfp_config::DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    #[command(flatten)]
    pub lock: LockArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,

    #[command(flatten)]
    pub missed: MissedFireArgs,

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
    // Every cycle reads below the checkout: a config folder outside it could never be read, so it is
    // refused now rather than failing every cycle.
    let configs = configs_in_checkout(&args.configs, &args.root)?;
    // Like plan and apply: the project file's default, read from the checkout as it is now. The
    // client is built once, so later cycles only warn when the file names another URL.
    let global = with_project_api_url(&ctx.global, checkout_project(&args.root).as_ref());
    let api_url_from_project = global
        .api_url
        .clone()
        .filter(|_| ctx.global.api_url.is_none());
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
        fixed_now: crate::settings::fixed_clock()?,
        args: args.clone(),
        configs,
        namespaces: global.namespaces.clone(),
        github_token: github_token(),
        api: Box::new(api),
        memory: DaemonMemory::default(),
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

/// The checkout's project file as it is now, if it is there and readable.
fn checkout_project(root: &Path) -> Option<kfp_config::Project> {
    let snapshot = checkout::snapshot(root).ok()?;
    kfp_config::Project::load(&snapshot.dir.join(PROJECT_FILE_NAME)).ok()
}

struct WatchReconciler {
    args: WatchArgs,
    /// `--config` entries, relative to the checkout.
    configs: Vec<String>,
    /// `--namespace` values.
    namespaces: Vec<String>,
    github_token: Option<kfp_client::Secret>,
    api: Box<dyn KfpApi>,
    /// What each job last converged to (to tell drift from config changes) and the configs whose
    /// verification failed (not verified again every cycle; forgotten when the config changes;
    /// ignored with `--retry-failed`).
    memory: DaemonMemory,
    /// The API URL in use when it came from the project file at start-up (not from a flag or
    /// `KFP_API_URL`, which the project file never overrides).
    api_url_from_project: Option<String>,
    /// The other API URL last warned about, so that a changed project file is reported once.
    warned_api_url: Option<String>,
    /// The instant every cycle takes as now, when `KFP_GITOPS_NOW` fixes it (tests only).
    fixed_now: Option<jiff::Timestamp>,
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
        // Resolved exactly as `plan` and `apply` resolve them, but below this cycle's checkout: the
        // project file is re-read every cycle, so a namespace added in git is picked up without a
        // restart.
        let query = TargetQuery {
            project: if self.configs.is_empty() {
                ProjectLookup::File(project_file_in(&snapshot.dir))
            } else {
                ProjectLookup::Optional(project_file_in(&snapshot.dir))
            },
            checkout: Some(snapshot.dir.clone()),
            ..TargetQuery::new(self.configs.clone(), self.namespaces.clone())
        };
        let Targets {
            mut targets,
            project,
        } = match kfp_config::resolve_targets(&query) {
            Ok(resolved) => resolved,
            Err(err) => {
                return CycleOutcome {
                    revision: Some(snapshot.revision),
                    error: Some(kfp_reconcile::describe(&err)),
                    ..CycleOutcome::default()
                };
            }
        };
        self.args.reconcile.override_prune(&mut targets);
        self.check_api_url(
            project
                .as_ref()
                .and_then(|p| p.file.defaults.api_url.as_deref()),
        );
        let now = self.now();
        let zones = crate::settings::schedule_zones(project.as_ref(), now);
        let missed = self.args.missed.options(&zones);
        let mut plan = self.args.reconcile.plan_options(project.as_ref());
        // This daemon reconciles every interval, whatever the project file says of other reconcilers.
        plan.reconciled_every = Some(
            plan.reconciled_every
                .map_or(self.args.interval, |every| every.min(self.args.interval)),
        );
        let options = SessionOptions {
            load: LoadOptions {
                cache_dir: self.args.cache_dir.clone(),
                github_token: self.github_token.clone(),
                github_api_url: self.args.github_api_url.clone(),
                // Fresh each cycle, so that branches are resolved anew; shared by the cycle's namespaces.
                fetchers: Some(kfp_config::SharedFetchers::default()),
                zones,
                ..LoadOptions::default()
            },
            plan,
            // A verification run in progress is looked at once per cycle, never waited for.
            apply: ApplyOptions {
                concurrency: usize::from(self.args.concurrency),
                verify: VerifyOptions {
                    progress: crate::daemon::verify::progress_log(),
                    ..self.args.verify.options(false)
                },
            },
            lock: Some(self.args.lock.options()),
        };
        let session = Session::new(self.api.as_ref(), options);
        let cycle = CycleOptions {
            now,
            retry_failed: self.args.verify.retry_failed,
            missed,
        };
        let results = reconcile_cycle(
            &session,
            self.api.as_ref(),
            &targets,
            &self.memory,
            &cycle,
            shutdown.token(),
            &|namespace, holder| {
                tracing::info!(
                    namespace,
                    holder = %holder,
                    "waiting: another kfp-gitops is reconciling the namespace"
                );
            },
        );
        let mut outcome = CycleOutcome {
            revision: Some(snapshot.revision),
            ..CycleOutcome::default()
        };
        for NamespaceCycle { reconcile, health } in results {
            outcome.interrupted |= reconcile.is_interrupted();
            self.memory.remember(&reconcile);
            let mut namespace = namespace_outcome(&reconcile);
            namespace.health = health.and_then(|health| log_health(&reconcile.namespace, health));
            outcome.namespaces.push(namespace);
        }
        outcome
    }
}

/// The health read after a namespace's reconcile, its missed fires logged; `None` (logged) when the runs
/// could not be listed.
fn log_health(namespace: &str, health: Result<RunsHealth, StatusError>) -> Option<RunsHealth> {
    match health {
        Ok(health) => {
            for job in health.iter().filter(|job| job.missed_fires > 0) {
                tracing::warn!(
                    namespace,
                    recurring_run = job.name.as_str(),
                    missed_fires = job.missed_fires,
                    "fires of the live version produced no run (see `kfp-gitops status`)"
                );
            }
            Some(health)
        }
        Err(err) => {
            tracing::warn!(
                namespace,
                error = %kfp_reconcile::describe(&err),
                "cannot read the health of the recurring runs"
            );
            None
        }
    }
}

/// Logs what one namespace's reconcile found and did, and counts it for the metrics.
fn namespace_outcome(result: &NamespaceReconcile) -> NamespaceOutcome {
    let namespace = result.namespace.as_str();
    let mut outcome = NamespaceOutcome {
        namespace: result.namespace.clone(),
        managed_jobs: result.managed_jobs,
        error: result.error.as_ref().map(error_line),
        ..NamespaceOutcome::default()
    };
    for warning in &result.warnings {
        tracing::warn!(namespace, "{warning}");
    }
    if result.managed_jobs.is_some() && result.error.is_none() {
        let enabled = result.leftovers.iter().filter(|l| l.enabled).count() as u64;
        outcome.leftovers = Some(LeftoverCounts {
            enabled,
            paused: result.leftovers.len() as u64 - enabled,
        });
    }
    for leftover in result.leftovers.iter().filter(|leftover| leftover.enabled) {
        tracing::warn!(
            namespace,
            recurring_run = leftover.name.as_str(),
            schedule = leftover.schedule.as_deref().unwrap_or("none"),
            "not in the config but still enabled: it still fires (prune it with --prune or `prune:` in kfp-gitops.yaml)"
        );
    }
    for drift in &result.drift {
        outcome.drift += 1;
        tracing::info!(
            namespace,
            job = drift.job.as_str(),
            reasons = %drift.reasons.join("; "),
            "drift: correcting a change made outside git"
        );
    }
    crate::daemon::verify::count(result, &mut outcome);
    let Some(report) = &result.report else {
        return outcome;
    };
    if report.is_interrupted() {
        tracing::info!(
            namespace,
            done = report.jobs.len(),
            left = report.not_started.len(),
            "shutdown: jobs not started are left for the next run"
        );
    }
    // The audit trail of a process that changes production: every action, at the default level.
    for (recurring_run, step) in report
        .experiments
        .iter()
        .map(|step| ("", step))
        .chain(
            report
                .jobs
                .iter()
                .flat_map(|job| job.steps.iter().map(move |step| (job.name.as_str(), step))),
        )
        .filter(|(_, step)| step.outcome.is_success())
    {
        tracing::info!(
            namespace,
            action = step.action.as_str(),
            recurring_run,
            target = step.target.as_str(),
            id = step.id.as_deref().unwrap_or(""),
            outcome = outcome_word(&step.outcome),
            "applied"
        );
    }
    for step in report.steps() {
        let counts = if step.outcome.is_success() {
            &mut outcome.actions
        } else if matches!(step.outcome, Outcome::Failed { .. }) {
            tracing::warn!(
                namespace,
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
    outcome
}

/// A namespace's error on one line (configuration problems listed one after the other).
fn error_line(error: &SessionError) -> String {
    match error {
        SessionError::Config { problems } => format!(
            "{} configuration problem{}: {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems
                .iter()
                .map(|p| p.problem.render())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => kfp_reconcile::describe(other),
    }
}

fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Done => "done",
        Outcome::AlreadyGone => "already_gone",
        Outcome::Adopted => "adopted",
        Outcome::Failed { .. } => "failed",
        Outcome::Skipped => "skipped",
        Outcome::Pending { .. } => "pending",
    }
}

fn failure_message(step: &StepReport) -> &str {
    match &step.outcome {
        Outcome::Failed { message } => message,
        _ => "",
    }
}

impl WatchReconciler {
    /// The cycle's clock.
    fn now(&self) -> jiff::Timestamp {
        self.fixed_now.unwrap_or_else(jiff::Timestamp::now)
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn the_interval_accepts_go_style_durations_of_at_least_a_second() {
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_interval("500ms").unwrap_err().contains("at least 1s"));
        assert!(parse_interval("soon").is_err());
    }
}
