//! `kfp-gitops import`: a namespace's experiments and recurring runs written as a config folder.

use std::path::PathBuf;

use clap::Args;
use kfp_reconcile::{ImportError, ImportOptions};
use serde_json::json;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;

/// Write a namespace's experiments and recurring runs as a config folder.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Writes DIR/experiments.yaml, DIR/recurring_runs.yaml and each distinct workflow once under DIR/pipelines/
(referenced by local `path:` sources, parameters inline). Every field the config can express is carried
over; what it cannot express is listed, and a recurring run that cannot be declared at all is left out and
said so. Recurring runs that kfp-gitops does not manage get `job.adopt: \"<their name>\"`: the next
`apply` creates the managed version paused, disables the adopted job (never deletes it) and enables the
managed version. With --include-managed, the newest version of each managed recurring run is written too.

Examples:
  kfp-gitops import -n team-1 --out schedules/team-1
  kfp-gitops import -n team-1 --out schedules/team-1 --name-filter nightly --force")]
pub struct ImportArgs {
    /// The config folder to write; it must not exist (see --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Also import the recurring runs kfp-gitops manages (the newest version of each)
    #[arg(long)]
    pub include_managed: bool,

    /// Import only recurring runs whose name contains TEXT (repeatable: any of them)
    #[arg(long, value_name = "TEXT")]
    pub name_filter: Vec<String>,

    /// Write into DIR although it exists (files of the same name are replaced)
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

fn import_failure(err: ImportError) -> Failure {
    let mut failure = Failure::new(err.to_string());
    let hint = err.hint();
    if let ImportError::Write { source, .. } = &err {
        failure.causes.push(source.to_string());
    }
    if let Some(api) = err.into_api_error() {
        let api = Failure::from(api);
        failure.causes.push(api.message);
        failure.causes.extend(api.causes);
        failure.hint = api.hint;
    }
    if hint.is_some() {
        failure.hint = hint;
    }
    failure
}

pub fn run(args: &ImportArgs, ctx: &Context) -> Result<Status, Failure> {
    // Refuse before any API call: nothing is read or written for nothing.
    if args.out.exists() && !args.force {
        return Err(import_failure(ImportError::Exists {
            path: args.out.clone(),
        }));
    }
    let namespace = ctx.global.single_namespace()?.unwrap_or_default();
    let client = args.kfp.client(&ctx.global)?;
    let options = ImportOptions {
        include_managed: args.include_managed,
        name_filters: args.name_filter.clone(),
    };
    let imported =
        kfp_reconcile::import_namespace(&client, namespace, &options).map_err(import_failure)?;
    let schema_dir = kfp_reconcile::schema_dir_for(&args.out);
    let mut files =
        kfp_reconcile::import_files(&imported, schema_dir.as_deref().unwrap_or("./schemas"))
            .map_err(import_failure)?;
    if schema_dir.is_none() {
        // No schemas in a parent folder: the folder gets its own copy, so that editors check it.
        files.extend(kfp_config::schemas().into_iter().map(|schema| {
            (
                PathBuf::from("schemas").join(schema.file_name),
                schema.content,
            )
        }));
    }
    kfp_reconcile::write_import(&args.out, &files, args.force).map_err(import_failure)?;
    let jobs = imported.recurring_runs.recurring_runs.len();
    match ctx.format {
        OutputFormat::Json => {
            let document = json!({
                "out": args.out,
                "experiments": imported.experiments.experiments.len(),
                "recurring_runs": imported
                    .recurring_runs
                    .recurring_runs
                    .iter()
                    .map(|run| json!({"name": run.job.name, "adopt": run.job.adopt}))
                    .collect::<Vec<_>>(),
                "pipelines": imported.pipelines.iter().map(|(file, _)| file).collect::<Vec<_>>(),
                "notes": imported.notes,
            });
            println!("{document}");
        }
        OutputFormat::Text => {
            println!(
                "wrote {} experiment(s), {jobs} recurring run(s) and {} pipeline(s) to {}",
                imported.experiments.experiments.len(),
                imported.pipelines.len(),
                args.out.display()
            );
            for run in &imported.recurring_runs.recurring_runs {
                match &run.job.adopt {
                    Some(adopted) => println!("  {} (adopts {adopted:?})", run.job.name),
                    None => println!("  {}", run.job.name),
                }
            }
            if !imported.notes.is_empty() {
                println!("not carried over:");
                for note in &imported.notes {
                    let left_out = if note.skipped { " (left out)" } else { "" };
                    println!("  {}: {}{left_out}", note.job, note.message);
                }
            }
            println!(
                "next: `kfp-gitops validate --config {0}` and `kfp-gitops plan --config {0}`",
                args.out.display()
            );
        }
    }
    Ok(Status::Ok)
}
