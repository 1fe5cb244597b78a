//! `kfp-gitops apply [PLAN_FILE]`: make KFP match the configs. Without a file it plans and applies in one
//! go; with a file saved by `plan --out` it applies exactly that plan, refusing it if KFP changed since.

use std::path::PathBuf;

use clap::Args;
use kfp_client::CancelToken;
use kfp_config::ProjectLookup;
use kfp_reconcile::{ApplyOptions, ApplyReport, Plan, Session, SessionOptions, VerifyOptions};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::commands::plan::PlanArgs;
use crate::daemon::shutdown::Shutdown;
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;
use crate::plan_output::{Palette, render_plans, render_reports};
use crate::settings::{
    LockArgs, PruneArg, ReconcileArgs, ReconcileSettings, SourceArgs, TargetArgs, VerifyArgs,
    with_project_api_url,
};

/// `kfp-gitops apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan saved by `kfp-gitops plan --out FILE`: apply exactly it (configs are not read)
    #[arg(value_name = "PLAN_FILE")]
    pub plan_file: Option<PathBuf>,

    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    #[command(flatten)]
    pub sources: SourceArgs,

    #[command(flatten)]
    pub lock: LockArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,

    /// How many recurring runs of a namespace are updated at the same time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    #[command(flatten)]
    pub kfp: KfpArgs,

    /// The reference scripts' `--dry-run`: `kfp-gitops plan` (a note says so, `legacy.rs`)
    #[arg(long, hide = true, conflicts_with = "plan_file")]
    pub dry_run: bool,
}

/// The JSON document of `apply --output json`.
#[derive(Debug, Serialize)]
struct ApplyDocument<'a> {
    format_version: u32,
    success: bool,
    plans: &'a [Plan],
    reports: &'a [ApplyReport],
}

pub fn run(args: &ApplyArgs, ctx: &Context) -> Result<Status, Failure> {
    if args.dry_run {
        return crate::commands::plan::run(&as_plan(args), ctx);
    }
    let apply = ApplyOptions {
        concurrency: usize::from(args.concurrency),
        verify: VerifyOptions {
            progress: crate::plan_output::verify::progress_sink(ctx),
            ..args.verify.options(true)
        },
    };
    // Ctrl-C or SIGTERM: the jobs under way finish their actions, no new one starts, the locks are
    // given back, and the command exits 130.
    let shutdown = Shutdown::new();
    shutdown
        .install_signal_handlers()
        .map_err(|err| Failure::from_error("cannot install the SIGTERM/SIGINT handlers", &err))?;
    let cancel = shutdown.token();
    let status = match &args.plan_file {
        Some(path) => {
            if !args.targets.configs.is_empty() {
                return Err(Failure::new("a saved plan and --config cannot be combined").hint(
                    "a saved plan already says what to do; drop --config, or drop the plan file to plan afresh",
                ));
            }
            let fixed = fixed_by_the_plan(&args.reconcile);
            if !fixed.is_empty() {
                return Err(Failure::new(format!(
                    "a saved plan and {} cannot be combined",
                    fixed.join(", ")
                ))
                .hint(
                    "the saved plan already fixed pruning, the rollout and the default runner service account when it was made; \
                     drop the option(s) to apply it as it is, or run `kfp-gitops plan --out FILE` again with them",
                ));
            }
            let file = kfp_reconcile::read_plans(path)?;
            // Only the API URL may still come from the project file; a discovered one that cannot be
            // read is no reason to refuse the saved plan.
            let project = match args.targets.project_lookup() {
                lookup @ ProjectLookup::File(_) => kfp_config::find_project(&lookup)?,
                lookup => kfp_config::find_project(&lookup).unwrap_or(None),
            };
            let client = args
                .kfp
                .client(&with_project_api_url(&ctx.global, project.as_ref()))?;
            let session = Session::new(
                &client,
                SessionOptions {
                    apply,
                    lock: Some(args.lock.options()),
                    ..SessionOptions::default()
                },
            );
            kfp_reconcile::check_api_url(&file, client.api_url(), path)?;
            let plans = file.plans;
            let namespaces: Vec<String> = plans.iter().map(|plan| plan.namespace.clone()).collect();
            let verifying = session.verification_budget(&plans);
            locked(&session, &namespaces, verifying, cancel, || {
                session.check_fresh(&plans, path)?;
                apply_plans(&plans, &session, cancel, ctx, client.api_url())
            })?
        }
        None => {
            let settings = ReconcileSettings::resolve(
                &args.targets,
                &args.reconcile,
                &args.sources,
                apply,
                Some(args.lock.options()),
                &ctx.global,
            )?;
            let client = args.kfp.client(&settings.global)?;
            let session = Session::new(&client, settings.session);
            let namespaces: Vec<String> = settings
                .targets
                .iter()
                .map(|t| t.namespace.clone())
                .collect();
            // Bad configs are refused before anything is asked of KFP, the lock included.
            let desired = session.load(&settings.targets, settings.now)?;
            let verifying = session.verification_budget_of(&desired);
            locked(&session, &namespaces, verifying, cancel, || {
                // Planned once the namespaces are ours: no other apply changes them under the plan.
                let mut plans = session.plan_loaded(&settings.targets, &desired, settings.now)?;
                // Shown as `plan` shows it: a changed workflow as a diff against the running version's.
                session.attach_workflow_diffs(&mut plans);
                apply_plans(&plans, &session, cancel, ctx, client.api_url())
            })?
        }
    };
    if cancel.is_cancelled() {
        return Err(Failure::new(
            "interrupted: the recurring runs under way were finished (one waiting for its verification run keeps its old version enabled), the others were left as they were",
        )
        .hint("run `kfp-gitops apply` again to finish")
        .interrupted());
    }
    Ok(status)
}

/// Runs `work` while holding the locks of `namespaces` (leased for `verifying` longer, the longest it may
/// wait for verification runs), and gives them back whatever happens. While another process
/// holds one, says so on stderr and waits.
fn locked(
    session: &Session<'_>,
    namespaces: &[String],
    verifying: std::time::Duration,
    cancel: &CancelToken,
    work: impl FnOnce() -> Result<Status, Failure>,
) -> Result<Status, Failure> {
    let locks = session.lock_while_verifying(namespaces, verifying, cancel, &mut |namespace, holder| {
        eprintln!(
            "waiting: namespace {namespace} is being reconciled by another kfp-gitops ({holder})"
        );
    })?;
    if let Err(err) = session.check_locks(&locks) {
        let _ = session.unlock(locks);
        return Err(err.into());
    }
    let result = work();
    if let Err(err) = session.unlock(locks) {
        tracing::warn!("{}; it expires by itself", kfp_reconcile::describe(&err));
    }
    result
}

/// `apply --dry-run` (`reconcile_kfp.py --dry-run`) is `plan` with the same configs, options and connection.
fn as_plan(args: &ApplyArgs) -> PlanArgs {
    PlanArgs {
        targets: args.targets.clone(),
        reconcile: args.reconcile.clone(),
        sources: args.sources.clone(),
        out: None,
        detailed_exitcode: false,
        kfp: args.kfp.clone(),
    }
}

/// The planning options given with a saved plan: they had their effect when the plan was made, so here
/// they would be silently ignored. `KFP_DEFAULT_RUNNER_SA` set in the environment is no request (CI
/// often sets it for `plan` and `apply` alike); the same value on the command line cannot be told
/// apart from it, and is harmless.
fn fixed_by_the_plan(reconcile: &ReconcileArgs) -> Vec<&'static str> {
    let mut fixed = Vec::new();
    if reconcile.prune.is_some_and(|prune| prune != PruneArg::None) {
        fixed.push("--prune");
    }
    if reconcile.allow_empty_prune {
        fixed.push("--allow-empty-prune");
    }
    if reconcile.rollout.is_some() {
        fixed.push("--rollout");
    }
    let from_environment = std::env::var("KFP_DEFAULT_RUNNER_SA").ok();
    if reconcile.default_runner_sa.is_some() && reconcile.default_runner_sa != from_environment {
        fixed.push("--default-runner-sa");
    }
    fixed
}

fn apply_plans(
    plans: &[Plan],
    session: &Session<'_>,
    cancel: &CancelToken,
    ctx: &Context,
    api_url: &str,
) -> Result<Status, Failure> {
    let palette = Palette::new(ctx.color);
    if ctx.format == OutputFormat::Text {
        print!("{}", render_plans(plans, palette));
    }
    let reports = session.apply(plans, cancel);
    let success = reports.iter().all(ApplyReport::is_success);
    match ctx.format {
        OutputFormat::Json => {
            let document = ApplyDocument {
                format_version: kfp_reconcile::FORMAT_VERSION,
                success,
                plans,
                reports: &reports,
            };
            let json = serde_json::to_string_pretty(&document)
                .map_err(|err| Failure::from_error("cannot serialize the apply report", &err))?;
            println!("{json}");
        }
        OutputFormat::Text => {
            if !reports.is_empty() {
                println!();
                print!("{}", render_reports(&reports, palette));
                print!(
                    "{}",
                    crate::plan_output::verify::render_verifications(&reports, api_url, palette)
                );
            }
        }
    }
    let failed: usize = reports.iter().map(ApplyReport::failed_count).sum();
    if success || (failed == 0 && cancel.is_cancelled()) {
        // An interrupted wait is reported as the interruption it is.
        Ok(Status::Ok)
    } else if failed == 0 {
        Err(Failure::new(
            "some recurring runs are waiting for their verification runs; the old versions stay enabled",
        )
        .hint("run `kfp-gitops apply` again: it continues with the runs under way")
        .json_reported_if(ctx.format))
    } else {
        let mut failure = Failure::new(format!(
            "{failed} action(s) failed; the other recurring runs were applied"
        ))
        .hint(
            "fix the cause and run `kfp-gitops apply` again: it continues from the current state",
        );
        for report in &reports {
            for step in report.steps() {
                if let kfp_reconcile::Outcome::Failed { message } = &step.outcome {
                    failure = failure.detail(format!("{} {}: {message}", step.action, step.target));
                    if step.action == kfp_reconcile::VERIFY
                        && let Some(id) = &step.id
                    {
                        failure = failure.detail(format!(
                            "the failed run: {}",
                            crate::commands::run::run_url(api_url, id)
                        ));
                    }
                }
            }
        }
        Err(failure.json_reported_if(ctx.format))
    }
}
