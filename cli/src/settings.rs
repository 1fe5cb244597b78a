//! The flags of the config-reading commands (`plan`, `apply`, `watch`, `validate`) and the one place they
//! are resolved, together with the environment and the project file, into what the library session
//! takes: the targets, the session options and the API URL. Commands read the resolved value, never the
//! raw flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kfp_config::LoadOptions;
use kfp_config::RolloutStrategy;
use kfp_config::ScheduleZones;
use kfp_config::{Project, ProjectLookup, Target, TargetQuery, Targets};
use kfp_reconcile::RolloutPolicy;
use kfp_reconcile::{
    ApplyOptions, LockOptions, PlanOptions, ProgressSink, PruneMode, SessionOptions, VerifyOptions,
};

use crate::args::GlobalArgs;
use crate::failure::Failure;

/// Which namespaces to reconcile, from which config folders.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Configs")]
pub struct TargetArgs {
    /// Config folder of one namespace (with experiments.yaml and recurring_runs.yaml). With one folder, its
    /// namespace is --namespace; repeat as NS=DIR for several namespaces. Without it, the namespaces of
    /// kfp-gitops.yaml are used.
    #[arg(long = "config", value_name = "[NS=]DIR", alias = "config-path")]
    pub configs: Vec<String>,

    /// The project file [default: kfp-gitops.yaml in the current folder or a parent]
    #[arg(long, value_name = "FILE")]
    pub project: Option<PathBuf>,
}

impl TargetArgs {
    /// Where the project file is: the one given, else the nearest one upwards from the current folder.
    pub fn project_lookup(&self) -> ProjectLookup {
        match &self.project {
            Some(path) => ProjectLookup::File(path.clone()),
            None => ProjectLookup::Discover(PathBuf::from(".")),
        }
    }

    /// The target query of `plan` and `apply`.
    pub fn query(&self, namespaces: &[String]) -> TargetQuery {
        TargetQuery {
            project: self.project_lookup(),
            ..TargetQuery::new(self.configs.clone(), namespaces.to_vec())
        }
    }
}

/// Where remote pipeline sources come from and where they are cached (the same flags as `validate`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Pipeline sources")]
pub struct SourceArgs {
    /// The GitHub API (GitHub Enterprise: https://HOST/api/v3); the token comes from GITHUB_TOKEN
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true, value_name = "URL", default_value = kfp_config::DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,

    /// The cache of fetched pipelines [default: .cache/kfp-gitops in the repository root]
    #[arg(long, env = "KFP_GITOPS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The reference scripts' `--github-token`: accepted with a warning (`legacy.rs`), GITHUB_TOKEN is the way
    #[arg(long, hide = true, value_name = "TOKEN", value_parser = github_token_arg)]
    pub github_token: Option<kfp_client::Secret>,
}

/// A `--github-token` value, kept as a secret from the start so that it never shows in `Debug`.
fn github_token_arg(text: &str) -> Result<kfp_client::Secret, String> {
    Ok(kfp_client::Secret::new(text))
}

impl SourceArgs {
    /// How config folders are loaded: these sources, the GitHub token from `--github-token`, else
    /// `GITHUB_TOKEN`.
    pub fn load_options(&self, offline: bool) -> LoadOptions {
        LoadOptions {
            offline,
            cache_dir: self.cache_dir.clone(),
            github_api_url: self.github_api_url.clone(),
            github_token: self
                .github_token
                .clone()
                .filter(|token| !token.expose().is_empty())
                .or_else(github_token),
            ..LoadOptions::default()
        }
    }
}

/// The GitHub token of private pipeline sources, from `GITHUB_TOKEN`.
pub fn github_token() -> Option<kfp_client::Secret> {
    std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|token| !token.is_empty())
        .map(kfp_client::Secret::new)
}

/// How desired and observed state are compared and what is pruned.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Reconcile")]
pub struct ReconcileArgs {
    /// Service account of recurring runs that name none [default: the project file's, else default-editor]
    #[arg(
        long,
        env = "KFP_DEFAULT_RUNNER_SA",
        value_name = "SA",
        alias = "kfp-default-runner-sa"
    )]
    pub default_runner_sa: Option<String>,

    /// What to do with versions of recurring runs that are no longer in the config [default: the
    /// namespace's `prune` in kfp-gitops.yaml, else none]
    #[arg(long, value_name = "MODE")]
    pub prune: Option<PruneArg>,

    /// Allow --prune to remove every recurring run of a namespace whose config declares none
    #[arg(long)]
    pub allow_empty_prune: bool,

    /// How new versions take over their schedules, for every recurring run: `verify` runs each new
    /// version once first, `swap` replaces at once [default: each run's `rollout`, else
    /// `defaults.rollout` of kfp-gitops.yaml, else swap]
    #[arg(long, value_name = "STRATEGY")]
    pub rollout: Option<RolloutArg>,
}

/// `--rollout` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RolloutArg {
    /// Run the new version once; swap only when the run succeeds
    Verify,
    /// Disable the old version and enable the new one at once
    Swap,
}

impl From<RolloutArg> for RolloutStrategy {
    fn from(arg: RolloutArg) -> Self {
        match arg {
            RolloutArg::Verify => Self::Verify,
            RolloutArg::Swap => Self::Swap,
        }
    }
}

/// How verification runs are followed (`apply`, `watch`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Reconcile")]
pub struct VerifyArgs {
    /// Start a new verification run for a version whose last one failed, instead of reporting that
    /// failure again (`watch`: also retry a config whose verification failed, every cycle)
    #[arg(long)]
    pub retry_failed: bool,

    /// How often a verification run is looked at while waiting for it
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::kfp_args::parse_duration, hide = true)]
    pub verify_poll_interval: Duration,
}

impl VerifyArgs {
    /// The verification options; `wait`: whether to wait for runs to end.
    pub fn options(&self, wait: bool) -> VerifyOptions {
        VerifyOptions {
            poll_interval: self.verify_poll_interval,
            wait,
            retry_failed: self.retry_failed,
            progress: ProgressSink::default(),
        }
    }
}

impl ReconcileArgs {
    /// The planner's options: the flags, then the project file's defaults, then the built-in ones.
    pub fn plan_options(&self, project: Option<&Project>) -> PlanOptions {
        PlanOptions {
            default_runner_sa: self
                .default_runner_sa
                .clone()
                .or_else(|| project?.file.defaults.default_runner_sa.clone())
                .unwrap_or_else(|| kfp_reconcile::DEFAULT_RUNNER_SA.to_owned()),
            prune: PruneMode::None,
            allow_empty_prune: self.allow_empty_prune,
            rollout: RolloutPolicy {
                defaults: project
                    .map(|project| project.file.defaults.rollout.resolved())
                    .unwrap_or_default(),
                force: self.rollout.map(Into::into),
            },
            reconciled_every: project.and_then(|project| project.file.reconciled_every()),
        }
    }

    /// `--prune`, when given, decides for every target, over the project file.
    pub fn override_prune(&self, targets: &mut [Target]) {
        if let Some(prune) = self.prune {
            for target in targets {
                target.prune = Some(prune.into());
            }
        }
    }
}

/// How `status` and `watch` look for fires of a schedule that produced no run.
#[derive(Debug, Clone, Args)]
pub struct MissedFireArgs {
    /// How far back to look for fires of a live version that produced no run
    #[arg(long, value_name = "DURATION", default_value = "48h", value_parser = crate::kfp_args::parse_duration)]
    pub window: Duration,

    /// How long a fire may take to produce its run before it counts as missed
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::kfp_args::parse_duration)]
    pub grace: Duration,
}

impl MissedFireArgs {
    /// The options, with the scheduler's zone of the project file (`scheduler_timezone`).
    pub fn options(&self, zones: &ScheduleZones) -> kfp_reconcile::MissedFireOptions {
        kfp_reconcile::MissedFireOptions {
            window: self.window,
            grace: self.grace,
            scheduler_zone: zones.scheduler_timezone.clone(),
        }
    }
}

/// How `apply` and `watch` wait for another kfp-gitops process reconciling the same namespace.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Reconcile")]
pub struct LockArgs {
    /// How long to wait while another kfp-gitops apply or watch reconciles one of the namespaces, e.g.
    /// `10m`; `0` gives up at once
    #[arg(long, env = "KFP_GITOPS_LOCK_TIMEOUT", value_name = "DURATION", default_value = "10m", value_parser = crate::kfp_args::parse_duration)]
    pub lock_timeout: Duration,
}

impl LockArgs {
    /// The lock options: this timeout, the default lease.
    pub fn options(&self) -> LockOptions {
        LockOptions {
            timeout: self.lock_timeout,
            ..LockOptions::default()
        }
    }
}

/// `--prune` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PruneArg {
    /// Report them only
    None,
    /// Disable their enabled versions
    Disable,
    /// Disable, then delete every version
    Delete,
}

impl From<PruneArg> for PruneMode {
    fn from(arg: PruneArg) -> Self {
        match arg {
            PruneArg::None => Self::None,
            PruneArg::Disable => Self::Disable,
            PruneArg::Delete => Self::Delete,
        }
    }
}

/// The global options with the project file's API URL when neither `--api-url` nor `KFP_API_URL` gave
/// one.
pub fn with_project_api_url(global: &GlobalArgs, project: Option<&Project>) -> GlobalArgs {
    let mut global = global.clone();
    if global.api_url.is_none() {
        global.api_url = project.and_then(|project| project.file.defaults.api_url.clone());
    }
    global
}

/// The hidden environment variable that sets the clock of `plan`, `apply` and `validate` (an RFC 3339
/// instant such as `2027-03-29T00:00:00Z`), for tests of schedules across changes of UTC offset; not for
/// production use.
pub const NOW_ENV: &str = "KFP_GITOPS_NOW";

/// The clock: `KFP_GITOPS_NOW` when set (tests only), else the current time.
pub fn clock() -> Result<jiff::Timestamp, Failure> {
    Ok(fixed_clock()?.unwrap_or_else(jiff::Timestamp::now))
}

/// The instant `KFP_GITOPS_NOW` fixes the clock at, when it is set (tests only).
pub fn fixed_clock() -> Result<Option<jiff::Timestamp>, Failure> {
    match std::env::var(NOW_ENV) {
        Ok(text) if !text.is_empty() => text.parse().map(Some).map_err(|err: jiff::Error| {
            Failure::new(format!(
                "{NOW_ENV}={text:?} is not an RFC 3339 instant: {err}"
            ))
        }),
        _ => Ok(None),
    }
}

/// The zones of cron schedules a project file declares, at `now`.
pub fn schedule_zones(project: Option<&Project>, now: jiff::Timestamp) -> ScheduleZones {
    ScheduleZones::from_project(project.map(|project| &project.file), now)
}

/// What `plan` and `apply` work with, resolved once.
#[derive(Debug)]
pub struct ReconcileSettings {
    /// The namespaces and their config folders.
    pub targets: Vec<Target>,
    /// The global options, with the API URL filled from the project file.
    pub global: GlobalArgs,
    /// What the library session takes.
    pub session: SessionOptions,
    /// The plan's clock ([`clock`]).
    pub now: jiff::Timestamp,
}

impl ReconcileSettings {
    /// Resolves targets, project defaults, flags and environment.
    pub fn resolve(
        targets: &TargetArgs,
        reconcile: &ReconcileArgs,
        sources: &SourceArgs,
        apply: ApplyOptions,
        lock: Option<LockOptions>,
        global: &GlobalArgs,
    ) -> Result<Self, Failure> {
        let Targets {
            mut targets,
            project,
        } = kfp_config::resolve_targets(&targets.query(&global.namespaces))?;
        reconcile.override_prune(&mut targets);
        let now = clock()?;
        Ok(Self {
            targets,
            global: with_project_api_url(global, project.as_ref()),
            now,
            session: SessionOptions {
                load: LoadOptions {
                    zones: schedule_zones(project.as_ref(), now),
                    ..sources.load_options(false)
                },
                plan: reconcile.plan_options(project.as_ref()),
                apply,
                lock,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_flag_values_map_to_prune_modes() {
        assert_eq!(PruneMode::from(PruneArg::None), PruneMode::None);
        assert_eq!(PruneMode::from(PruneArg::Disable), PruneMode::Disable);
        assert_eq!(PruneMode::from(PruneArg::Delete), PruneMode::Delete);
    }

    #[test]
    fn the_runner_service_account_comes_from_the_flag_then_the_project_then_the_default() {
        let args = ReconcileArgs {
            default_runner_sa: None,
            prune: None,
            allow_empty_prune: false,
            rollout: None,
        };
        assert_eq!(args.plan_options(None).default_runner_sa, "default-editor");
        let project = Project {
            path: PathBuf::from("kfp-gitops.yaml"),
            root: PathBuf::new(),
            file: kfp_config::ProjectFile::parse("defaults:\n  default_runner_sa: from-project\n")
                .unwrap(),
        };
        assert_eq!(
            args.plan_options(Some(&project)).default_runner_sa,
            "from-project"
        );
        let flag = ReconcileArgs {
            default_runner_sa: Some("from-flag".into()),
            ..args
        };
        assert_eq!(
            flag.plan_options(Some(&project)).default_runner_sa,
            "from-flag"
        );
    }

    #[test]
    fn the_rollout_flag_overrides_the_project_default() {
        let project = Project {
            path: PathBuf::from("kfp-gitops.yaml"),
            root: PathBuf::new(),
            file: kfp_config::ProjectFile::parse(
                "defaults:\n  rollout: {strategy: verify, timeout: 30m}\n",
            )
            .unwrap(),
        };
        let args = ReconcileArgs {
            default_runner_sa: None,
            prune: None,
            allow_empty_prune: false,
            rollout: None,
        };
        let policy = args.plan_options(Some(&project)).rollout;
        assert_eq!(policy.defaults.strategy, Some(RolloutStrategy::Verify));
        assert_eq!(policy.defaults.timeout_seconds, Some(1800));
        assert_eq!(policy.force, None);
        let swap = ReconcileArgs {
            rollout: Some(RolloutArg::Swap),
            ..args
        };
        assert_eq!(
            swap.plan_options(Some(&project)).rollout.force,
            Some(RolloutStrategy::Swap)
        );
    }
}
