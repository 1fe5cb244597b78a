//! `kfp-gitops status`: per recurring run, the live version, schedule, sync state, last runs and health.

use std::fmt::Write as _;

use clap::Args;
use jiff::Timestamp;

use kfp_reconcile::Session;
use kfp_reconcile::{
    Health, NamespaceStatus, RecurringRunStatus, STATUS_FORMAT_VERSION, StatusOptions, SyncState,
};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;
use crate::settings::{MissedFireArgs, ReconcileArgs, ReconcileSettings, SourceArgs, TargetArgs};

/// `kfp-gitops status`.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = "\
For each recurring run of the configs (and each one KFP still has that the configs no longer declare):
the live version (newest enabled, else newest), whether it is enabled, its trigger and next three fire
times (UTC), whether KFP matches the config (what `plan` would change), the last runs of its versions and a
health word: Healthy, Degraded (the last run failed), Progressing (a run is in progress), Suspended (no
version enabled), Missing (not in KFP) or Missed (a fire of the live version in the last --window produced
no run within --grace: its ScheduledWorkflow controller lost it). The health is shown beside the sync
state, never instead of it. A schedule written in a time zone shows its next fire times in that zone too,
and a warning when its zone's UTC offset changes within 7 days and nothing declared (`reconciled_every`
of kfp-gitops.yaml) reconciles before it fires.

Examples:
  kfp-gitops status --config schedules/team-1 -n team-1
  kfp-gitops status --runs 10 -o json
  kfp-gitops status --window 7d --grace 30m")]
pub struct StatusArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    #[command(flatten)]
    pub sources: SourceArgs,

    /// How many of the last runs to show per recurring run
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,

    #[command(flatten)]
    pub missed: MissedFireArgs,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

/// The JSON document of `status --output json`.
#[derive(Debug, Serialize)]
struct StatusDocument<'a> {
    format_version: u32,
    namespaces: &'a [NamespaceStatus],
}

pub fn run(args: &StatusArgs, ctx: &Context) -> Result<Status, Failure> {
    let settings = ReconcileSettings::resolve(
        &args.targets,
        &args.reconcile,
        &args.sources,
        kfp_reconcile::ApplyOptions::default(),
        None,
        &ctx.global,
    )?;
    let client = args.kfp.client(&settings.global)?;
    let session = Session::new(&client, settings.session.clone());
    let options = StatusOptions {
        runs_per_job: args.runs,
        missed: args.missed.options(&settings.session.load.zones),
    };
    let statuses =
        kfp_reconcile::status(&session, &client, &settings.targets, settings.now, &options)
            .map_err(status_failure)?;
    match ctx.format {
        OutputFormat::Json => {
            let document = StatusDocument {
                format_version: STATUS_FORMAT_VERSION,
                namespaces: &statuses,
            };
            let json = serde_json::to_string_pretty(&document)
                .map_err(|err| Failure::from_error("cannot serialize the status", &err))?;
            println!("{json}");
        }
        OutputFormat::Text => print!("{}", render(&statuses)),
    }
    Ok(Status::Ok)
}

fn status_failure(err: kfp_reconcile::StatusError) -> Failure {
    use kfp_reconcile::StatusError;
    match err {
        StatusError::Session(err) => Failure::from(err),
        StatusError::Observe(err) => Failure::from(err),
        StatusError::Runs(err) => {
            let message = err.to_string();
            let api = Failure::from(*err.source);
            let mut failure = Failure::new(message);
            failure.causes.push(api.message);
            failure.causes.extend(api.causes);
            failure.hint = api.hint;
            failure
        }
    }
}

fn time(ts: Option<Timestamp>) -> String {
    ts.map_or_else(
        || "-".to_owned(),
        |ts| ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

/// The human-readable status.
pub fn render(statuses: &[NamespaceStatus]) -> String {
    let mut out = String::new();
    for namespace in statuses {
        let title = if namespace.namespace.is_empty() {
            "(single-user)"
        } else {
            namespace.namespace.as_str()
        };
        let _ = writeln!(out, "namespace {title}");
        if namespace.recurring_runs.is_empty() {
            let _ = writeln!(out, "  no recurring runs");
        }
        for job in &namespace.recurring_runs {
            render_job(&mut out, job);
        }
    }
    out
}

fn render_job(out: &mut String, job: &RecurringRunStatus) {
    let sync = match job.sync.state {
        SyncState::Synced => "Synced",
        SyncState::OutOfSync => "OutOfSync",
        SyncState::NotInConfig => "NotInConfig",
    };
    let _ = writeln!(out, "  {}  {}  {sync}", job.name, health_word(job.health));
    match &job.live_version {
        Some(live) => {
            let _ = writeln!(
                out,
                "    live version: {} ({}), {}",
                live.name,
                live.id,
                if job.enabled { "enabled" } else { "disabled" }
            );
        }
        None => {
            let _ = writeln!(out, "    live version: none in KFP");
        }
    }
    if let Some(trigger) = &job.trigger {
        let _ = writeln!(out, "    trigger: {trigger}");
    }
    if !job.next_fire_times.is_empty() {
        let times: Vec<String> = job
            .next_fire_times
            .iter()
            .enumerate()
            .map(|(index, t)| match job.next_fire_times_local.get(index) {
                Some(local) => format!("{local} ({})", time(Some(*t))),
                None => time(Some(*t)),
            })
            .collect();
        let _ = writeln!(out, "    next: {}", times.join(", "));
    }
    if let Some(zone) = &job.timezone {
        let _ = writeln!(out, "    time zone: {zone}");
    }
    for missed in &job.missed_fires {
        let _ = writeln!(
            out,
            "    missed: the fire at {} produced no run",
            time(Some(*missed))
        );
    }
    for warning in &job.warnings {
        let _ = writeln!(out, "    warning: {warning}");
    }
    for difference in &job.sync.differences {
        let _ = writeln!(out, "    differs: {difference}");
    }
    for action in &job.sync.pending_actions {
        let _ = writeln!(out, "    apply would: {action}");
    }
    if job.runs.is_empty() {
        let _ = writeln!(out, "    runs: none");
    } else {
        let _ = writeln!(out, "    runs:");
        for run in &job.runs {
            let _ = writeln!(
                out,
                "      {:<10} {}  created {}  finished {}",
                run.state,
                run.name,
                time(run.created_at),
                time(run.finished_at)
            );
        }
    }
}

fn health_word(health: Health) -> &'static str {
    health.as_str()
}

#[cfg(test)]
mod tests {
    use kfp_client::models::{Relationship, ResourceKey, ResourceReference, ResourceType, Run};
    use kfp_reconcile::{ObservedJob, ObservedNamespace, ObservedSchedule, ObservedTrigger, Plan};

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// One namespace: `nightly` (in sync, last run failed), `weekly` (paused), `gone` (no longer declared).
    fn statuses() -> Vec<NamespaceStatus> {
        let version =
            |id: &str, name: &str, enabled: bool, schedule: ObservedSchedule| ObservedJob {
                id: id.into(),
                name: name.into(),
                enabled,
                experiment_id: Some("exp-1".into()),
                trigger: ObservedTrigger {
                    schedule,
                    ..ObservedTrigger::default()
                },
                created_at: Some(ts("2024-05-01T00:00:00Z")),
                ..ObservedJob::default()
            };
        let observed = ObservedNamespace {
            namespace: "team-1".into(),
            experiments: Vec::new(),
            jobs: vec![
                version(
                    "v-1",
                    "GIT::nightly__2024-05-01T00-00-00Z",
                    true,
                    ObservedSchedule::Cron("0 0 3 * * *".into()),
                ),
                version(
                    "v-2",
                    "GIT::weekly__2024-05-01T00-00-00Z",
                    false,
                    ObservedSchedule::Interval(604_800),
                ),
                version(
                    "v-3",
                    "GIT::gone__2024-05-01T00-00-00Z",
                    false,
                    ObservedSchedule::None,
                ),
            ],
        };
        let run = |id: &str, status: &str, created: &str, finished: Option<&str>| Run {
            id: id.into(),
            name: format!("GIT::nightly__2024-05-01T00-00-00Z-{id}"),
            status: status.into(),
            created_at: Some(ts(created)),
            finished_at: finished.map(ts),
            resource_references: vec![ResourceReference {
                key: ResourceKey::new(ResourceType::Job, "v-1"),
                name: String::new(),
                relationship: Relationship::Creator,
            }],
            ..Run::default()
        };
        let runs = [
            run(
                "r-1",
                "Succeeded",
                "2024-05-30T03:00:00Z",
                Some("2024-05-30T03:10:00Z"),
            ),
            run(
                "r-2",
                "Failed",
                "2024-05-31T03:00:00Z",
                Some("2024-05-31T03:05:00Z"),
            ),
        ];
        let plan = Plan {
            namespace: "team-1".into(),
            fingerprint: String::new(),
            planned_at: ts("2024-06-01T00:00:00Z"),
            experiments: Vec::new(),
            jobs: Vec::new(),
            unchanged: vec!["nightly".into(), "weekly".into()],
            leftovers: Vec::new(),
            warnings: Vec::new(),
        };
        vec![kfp_reconcile::namespace_status(
            &plan,
            &["nightly".to_owned(), "weekly".to_owned()],
            &observed,
            &runs,
            ts("2024-06-01T00:00:00Z"),
            &StatusOptions::default(),
        )]
    }

    #[test]
    fn the_json_document_is_stable() {
        let statuses = statuses();
        let document = StatusDocument {
            format_version: STATUS_FORMAT_VERSION,
            namespaces: &statuses,
        };
        insta::assert_json_snapshot!(document);
    }

    #[test]
    fn the_text_shows_health_beside_sync_and_the_runs() {
        insta::assert_snapshot!(render(&statuses()));
    }
}
