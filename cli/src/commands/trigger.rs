//! `kfp-gitops trigger`: one run now of a declared recurring run, with its live version's exact settings.

use std::time::Duration;

use clap::Args;
use serde_json::json;

use crate::args::OutputFormat;
use crate::commands::run::{finished_status, run_url, watch_run};
use crate::failure::{Failure, Status};
use crate::kfp_args::{KfpArgs, parse_duration};
use crate::output::Context;

/// Start one run of a recurring run now, with its live version's workflow and parameters.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The live version is the newest enabled GIT:: version of the recurring run (else its newest version). The run
gets that version's workflow, parameters and service account, runs in its experiment, carries a reference to
the version (so `kfp-gitops status` lists it with the schedule's runs) and is named
MANUAL::{name}__{YYYY-MM-DDTHH-MM-SSZ} (UTC), like the runs of `kfp-gitops run`.

Examples:
  kfp-gitops trigger nightly-training -n team-1
  kfp-gitops trigger nightly-training -n team-1 --watch --timeout 2h")]
pub struct TriggerArgs {
    /// The recurring run's name (`job.name` in recurring_runs.yaml)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Wait until the run finishes, showing its status changes; exit 0 only if it succeeded
    #[arg(long)]
    pub watch: bool,

    /// With --watch: give up waiting after this long, e.g. `30m` (the run keeps going)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    pub timeout: Option<Duration>,

    /// With --watch: time between status checks
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

pub fn run(args: &TriggerArgs, ctx: &Context) -> Result<Status, Failure> {
    if args.name.trim().is_empty() {
        return Err(Failure::new("the recurring run's name is empty"));
    }
    let namespace = ctx.global.single_namespace()?.unwrap_or_default();
    let client = args.kfp.client(&ctx.global)?;
    let started = kfp_reconcile::trigger(&client, namespace, &args.name, jiff::Timestamp::now())?;
    let url = run_url(client.api_url(), &started.run.id);
    let document = |run: &kfp_client::models::Run| {
        json!({
            "run_id": run.id,
            "run_name": run.name,
            "recurring_run": args.name,
            "version": started.version.name,
            "version_id": started.version.id,
            "experiment_id": started.experiment_id,
            "status": run.status,
            "url": url,
        })
    };
    if ctx.format == OutputFormat::Text {
        println!("created run {} ({})", started.run.name, started.run.id);
        println!(
            "  from version {} ({})",
            started.version.name, started.version.id
        );
        println!("  {url}");
    }
    if !args.watch {
        if ctx.format == OutputFormat::Json {
            println!("{}", document(&started.run));
        }
        return Ok(Status::Ok);
    }
    let finished = watch_run(&client, &started.run, args.timeout, args.poll_interval, ctx)?;
    if ctx.format == OutputFormat::Json {
        println!("{}", document(&finished));
    }
    finished_status(&finished, &url)
}
