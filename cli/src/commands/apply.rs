//! `kfp-gitops apply [PLAN_FILE]`: make KFP match the configs. Without a file it plans and applies in one
//! go; with a file saved by `plan --out` it applies exactly that plan, refusing it if KFP changed since.

use std::path::{Path, PathBuf};

use clap::Args;
use kfp_client::KfpApi;
use kfp_reconcile::{ApplyOptions, ApplyReport, Plan, PlanFile};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::commands::plan::{
    ProjectDefaults, PruneArg, ReconcileArgs, SourceArgs, TargetArgs, make_plans, resolve_targets,
};
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;
use crate::plan_output::{Palette, render_plans, render_reports};

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

    /// How many recurring runs of a namespace are updated at the same time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    #[command(flatten)]
    pub kfp: KfpArgs,
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
    match &args.plan_file {
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
                    "the saved plan already fixed pruning and the default runner service account when it was made; \
                     drop the option(s) to apply it as it is, or run `kfp-gitops plan --out FILE` again with them",
                ));
            }
            let plans = read_plan_file(path)?;
            // Only the API URL may still come from the project file.
            let defaults = match &args.targets.project {
                Some(_) => resolve_targets(&args.targets, ctx).map(|(_, defaults)| defaults)?,
                None => std::env::current_dir()
                    .ok()
                    .and_then(|cwd| {
                        kfp_config::project::ProjectFile::discover(&cwd)
                            .ok()
                            .flatten()
                    })
                    .map(|project| ProjectDefaults {
                        default_runner_sa: None,
                        api_url: project.file.defaults.api_url,
                    })
                    .unwrap_or_default(),
            };
            let client = args.kfp.client(&defaults.global(&ctx.global))?;
            check_fresh(&plans, &client, path)?;
            apply_plans(&plans, &client, args, ctx)
        }
        None => {
            let (targets, defaults) = resolve_targets(&args.targets, ctx)?;
            let client = args.kfp.client(&defaults.global(&ctx.global))?;
            let mut plans =
                make_plans(&targets, &defaults, &args.reconcile, &args.sources, &client)?;
            // Shown as `plan` shows it: a changed workflow as a diff against the running version's.
            for plan in &mut plans {
                kfp_reconcile::diff::attach_workflow_diffs(plan, &client);
            }
            apply_plans(&plans, &client, args, ctx)
        }
    }
}

/// The planning options given with a saved plan: they had their effect when the plan was made, so here
/// they would be silently ignored. `KFP_DEFAULT_RUNNER_SA` set in the environment is no request (CI
/// often sets it for `plan` and `apply` alike); the same value on the command line cannot be told
/// apart from it, and is harmless.
fn fixed_by_the_plan(reconcile: &ReconcileArgs) -> Vec<&'static str> {
    let mut fixed = Vec::new();
    if reconcile.prune != PruneArg::None {
        fixed.push("--prune");
    }
    if reconcile.allow_empty_prune {
        fixed.push("--allow-empty-prune");
    }
    let from_environment = std::env::var("KFP_DEFAULT_RUNNER_SA").ok();
    if reconcile.default_runner_sa.is_some() && reconcile.default_runner_sa != from_environment {
        fixed.push("--default-runner-sa");
    }
    fixed
}

fn apply_plans(
    plans: &[Plan],
    client: &dyn KfpApi,
    args: &ApplyArgs,
    ctx: &Context,
) -> Result<Status, Failure> {
    let options = ApplyOptions {
        concurrency: usize::from(args.concurrency),
    };
    let palette = Palette::new(ctx.color);
    if ctx.format == OutputFormat::Text {
        print!("{}", render_plans(plans, palette));
    }
    let pending: Vec<Plan> = plans
        .iter()
        .filter(|plan| !plan.is_empty())
        .cloned()
        .collect();
    let reports = kfp_reconcile::apply_many(&pending, client, &options);
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
            if !pending.is_empty() {
                println!();
                print!("{}", render_reports(&reports, palette));
            }
        }
    }
    if success {
        Ok(Status::Ok)
    } else {
        let failed: usize = reports.iter().map(ApplyReport::failed_count).sum();
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
                }
            }
        }
        Err(failure.json_reported_if(ctx.format))
    }
}

fn read_plan_file(path: &Path) -> Result<Vec<Plan>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Failure::io(&format!("reading the plan {}", path.display()), &err))?;
    let version: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        Failure::from_error(format!("{} is not a saved plan", path.display()), &err)
    })?;
    let format_version = version
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if format_version != Some(u64::from(kfp_reconcile::FORMAT_VERSION)) {
        return Err(Failure::new(format!(
            "{} has plan format version {}, this kfp-gitops reads version {}",
            path.display(),
            format_version.map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
            kfp_reconcile::FORMAT_VERSION
        ))
        .hint("make the plan again with this version of kfp-gitops"));
    }
    let file: PlanFile = serde_json::from_value(version).map_err(|err| {
        Failure::from_error(
            format!("{} is not a valid saved plan", path.display()),
            &err,
        )
    })?;
    Ok(file.plans)
}

/// Refuses a saved plan when any of its namespaces changed since it was made.
fn check_fresh(plans: &[Plan], api: &dyn KfpApi, path: &Path) -> Result<(), Failure> {
    let namespaces: Vec<String> = plans.iter().map(|plan| plan.namespace.clone()).collect();
    let observed = kfp_reconcile::observe_many(api, &namespaces);
    let mut stale = Vec::new();
    for (plan, observed) in plans.iter().zip(observed) {
        let observed = observed.map_err(Failure::from)?;
        if observed.fingerprint() != plan.fingerprint {
            stale.push(plan.namespace.clone());
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the saved plan {} is stale: KFP changed since it was made in namespace(s) {}",
        path.display(),
        stale.join(", ")
    ))
    .hint("nothing was changed; run `kfp-gitops plan --out FILE` again, review it, and apply the new plan"))
}
