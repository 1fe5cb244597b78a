//! `kfp-gitops plan`: what `apply` would change in KFP, per namespace — created, replaced, enabled, disabled
//! and deleted recurring-run versions, with the reasons, field-level diffs and workflow diffs.

use std::path::PathBuf;

use clap::Args;
use kfp_reconcile::{Plan, Session};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;
use crate::plan_output::{Palette, render_plans};
use crate::settings::{ReconcileArgs, ReconcileSettings, SourceArgs, TargetArgs};

/// `kfp-gitops plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    #[command(flatten)]
    pub sources: SourceArgs,

    /// Save the plan (with a fingerprint of what KFP looked like) to FILE, for `kfp-gitops apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 2 when there are changes to apply (0: none, 1: error)
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

/// The JSON document of `plan --output json` (`plan --out FILE` writes a [`kfp_reconcile::PlanFile`]
/// instead).
#[derive(Debug, Serialize)]
struct PlanDocument<'a> {
    format_version: u32,
    changes: bool,
    plans: &'a [Plan],
}

pub fn run(args: &PlanArgs, ctx: &Context) -> Result<Status, Failure> {
    // Planning changes nothing: it takes no lock.
    let settings = ReconcileSettings::resolve(
        &args.targets,
        &args.reconcile,
        &args.sources,
        kfp_reconcile::ApplyOptions::default(),
        None,
        &ctx.global,
    )?;
    let client = args.kfp.client(&settings.global)?;
    let session = Session::new(&client, settings.session);
    let mut plans = session.plan(&settings.targets, settings.now)?;
    session.attach_workflow_diffs(&mut plans);
    // An enabled leftover is a pending change although nothing is applied for it.
    let changes = plans.iter().any(|plan| !plan.is_in_sync());
    if let Some(out) = &args.out {
        kfp_reconcile::save_plans(out, &plans, client.api_url())?;
    }
    match ctx.format {
        OutputFormat::Json => {
            let document = PlanDocument {
                format_version: kfp_reconcile::FORMAT_VERSION,
                changes,
                plans: &plans,
            };
            let json = serde_json::to_string_pretty(&document)
                .map_err(|err| Failure::from_error("cannot serialize the plan", &err))?;
            println!("{json}");
        }
        OutputFormat::Text => {
            print!("{}", render_plans(&plans, Palette::new(ctx.color)));
            if let Some(out) = &args.out {
                println!(
                    "Saved the plan to {}; apply it with `kfp-gitops apply {}`.",
                    out.display(),
                    out.display()
                );
            }
        }
    }
    Ok(if changes && args.detailed_exitcode {
        Status::ChangesPending
    } else {
        Status::Ok
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The targets `plan` resolves from a command line (no project file involved).
    fn targets_of(argv: &[&str]) -> Result<Vec<kfp_config::Target>, Failure> {
        use clap::Parser as _;
        let cli = crate::args::Cli::try_parse_from(argv).unwrap();
        let crate::args::Command::Plan(args) = cli.command else {
            panic!("not a plan command");
        };
        let mut query = args.targets.query(&cli.global.namespaces);
        query.project =
            kfp_config::ProjectLookup::Optional(PathBuf::from("/nonexistent/kfp-gitops.yaml"));
        Ok(kfp_config::resolve_targets(&query)?.targets)
    }

    fn pairs(targets: &[kfp_config::Target]) -> Vec<(&str, &Path)> {
        targets
            .iter()
            .map(|t| (t.namespace.as_str(), t.config.as_path()))
            .collect()
    }

    #[test]
    fn one_config_folder_takes_the_namespace_flag() {
        let targets = targets_of(&[
            "kfp-gitops",
            "-n",
            "team-1",
            "plan",
            "--config",
            "schedules/team-1",
        ])
        .unwrap();
        assert_eq!(pairs(&targets), [("team-1", Path::new("schedules/team-1"))]);
    }

    #[test]
    fn repeated_config_and_namespace_flags_pair_up_in_order() {
        let targets = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "cfg/a",
            "--namespace",
            "team-a",
            "--config",
            "cfg/b",
            "--namespace",
            "team-b",
        ])
        .unwrap();
        assert_eq!(
            pairs(&targets),
            [
                ("team-a", Path::new("cfg/a")),
                ("team-b", Path::new("cfg/b"))
            ]
        );
    }

    #[test]
    fn a_config_folder_without_a_namespace_is_an_error_with_a_hint() {
        let failure = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "a=cfg/a",
            "--config",
            "cfg/b",
        ])
        .unwrap_err();
        assert_eq!(failure.message, "no namespace for --config cfg/b");
        assert!(
            failure
                .hint
                .as_deref()
                .is_some_and(|hint| hint.contains("--config NS=DIR")),
            "{failure:?}"
        );
    }
}
