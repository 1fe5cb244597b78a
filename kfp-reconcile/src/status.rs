//! What `kfp-gitops status` shows per recurring run: the live version, its schedule and next fire times,
//! whether KFP matches the config (from the plan), the last runs of its versions and a health word.
//!
//! The health is kept beside the sync state, never folded into it (as Argo CD does): a schedule can be in
//! sync and failing, or out of sync and healthy.
//!
//! [`namespace_status`] is pure (plan, observed state, runs, clock in; status out); [`recent_runs`] lists the
//! runs with as few requests as it can: per experiment of the jobs, newest first, until every job has its
//! runs. A run belongs to a recurring run through its JOB reference (the version that created it; runs
//! started by `trigger` carry one too). KFP 1.8 in multi-user mode does not list runs by a JOB key, so the
//! listing is by experiment and the reference is matched here.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use kfp_client::models::{Run, is_terminal_status};
use kfp_client::{KfpApi, ListOptions};
use serde::Serialize;

use kfp_config::Target;

use crate::missed::{MissedFireOptions, missed_fires};
use crate::model::{JobChange, Plan, Warning};
use crate::observe::{ObserveError, observe_many};
use crate::observe::{ObservedJob, ObservedNamespace, ObservedSchedule};
use crate::session::{Session, SessionError};
use crate::trigger::run_job_id;
use crate::zoned::{local_time, next_fires, recorded};
use kfp_config::parse_version_name;

/// Version of the `status --output json` document; bumped on any incompatible change.
pub const STATUS_FORMAT_VERSION: u32 = 1;

/// The health of a recurring run, beside (never folded into) its sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Health {
    /// Enabled, and its last run did not fail (or it has not run yet).
    Healthy,
    /// Its last finished run failed.
    Degraded,
    /// A run is in progress.
    Progressing,
    /// No version is enabled.
    Suspended,
    /// Declared, but not in KFP.
    Missing,
    /// Enabled, but a fire of its trigger in the window produced no run (see [`crate::missed_fires`]).
    Missed,
}

impl Health {
    /// Every health word, in a fixed order (for metrics: one series per word).
    pub const ALL: [Self; 6] = [
        Self::Healthy,
        Self::Degraded,
        Self::Progressing,
        Self::Suspended,
        Self::Missing,
        Self::Missed,
    ];

    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Degraded => "Degraded",
            Self::Progressing => "Progressing",
            Self::Suspended => "Suspended",
            Self::Missing => "Missing",
            Self::Missed => "Missed",
        }
    }
}

/// Whether KFP matches the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SyncState {
    /// Applying would change nothing for it.
    Synced,
    /// Applying would change it (see the differences).
    OutOfSync,
    /// Not declared in the config (a leftover or an orphan to prune).
    NotInConfig,
}

/// The sync state and, when out of sync, what differs and what apply would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sync {
    /// The state.
    pub state: SyncState,
    /// What differs, in words (empty when in sync).
    pub differences: Vec<String>,
    /// What `apply` would do: `create GIT::…`, `disable GIT::…`, …
    pub pending_actions: Vec<String>,
}

/// The version that runs (the newest enabled one, else the newest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveVersion {
    /// KFP id.
    pub id: String,
    /// KFP display name.
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
}

/// One run of a recurring run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// KFP id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The version that created it.
    pub version_id: String,
    /// The workflow phase (`Pending` while KFP reports none).
    pub state: String,
    /// When it was created.
    pub created_at: Option<Timestamp>,
    /// When it finished (absent while it runs).
    pub finished_at: Option<Timestamp>,
}

/// Everything `status` shows about one recurring run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecurringRunStatus {
    /// The logical name (`job.name`).
    pub name: String,
    /// Whether the config declares it.
    pub declared: bool,
    /// The live version; absent when KFP has none.
    pub live_version: Option<LiveVersion>,
    /// Whether a version is enabled.
    pub enabled: bool,
    /// The live version's schedule: `cron 0 0 3 * * *`, `every 3600s`; absent without one.
    pub trigger: Option<String>,
    /// The next three times it fires (UTC), when enabled.
    pub next_fire_times: Vec<Timestamp>,
    /// The zone its cron is written in, when the live version records one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The next fire times in that zone (`2027-03-29T07:00:00+02:00`), when it has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub next_fire_times_local: Vec<String>,
    /// Fires of the live version in the window that produced no run, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missed_fires: Vec<Timestamp>,
    /// What needs attention beside the health (e.g. a change of UTC offset coming that nothing will
    /// reconcile in time), in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether KFP matches the config.
    pub sync: Sync,
    /// The health word.
    pub health: Health,
    /// The last runs of its versions, newest first.
    pub runs: Vec<RunSummary>,
}

/// The status of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceStatus {
    /// The namespace; empty for a single-user KFP.
    pub namespace: String,
    /// Declared recurring runs by name, then the ones not in the config by name.
    pub recurring_runs: Vec<RecurringRunStatus>,
}

/// What `status` looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOptions {
    /// How many of the last runs to show per recurring run.
    pub runs_per_job: usize,
    /// Where and how missed fires are looked for.
    pub missed: MissedFireOptions,
}

impl Default for StatusOptions {
    fn default() -> Self {
        Self {
            runs_per_job: 5,
            missed: MissedFireOptions::default(),
        }
    }
}

/// Why the runs could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the runs of experiment {experiment_id}")]
pub struct RunsError {
    /// The experiment.
    pub experiment_id: String,
    /// The API error.
    #[source]
    pub source: Box<kfp_client::Error>,
}

/// Why a status could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Loading, observing or planning failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A namespace could not be listed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// The runs could not be listed.
    #[error(transparent)]
    Runs(#[from] RunsError),
}

/// The names a plan knows to be declared: those it plans for (except prunes) and the unchanged ones.
pub fn declared_names(plan: &Plan) -> Vec<String> {
    let names: BTreeSet<&str> = plan
        .jobs
        .iter()
        .filter(|job| job.change != JobChange::Prune)
        .map(|job| job.name.as_str())
        .chain(plan.unchanged.iter().map(String::as_str))
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

/// The status of every target at `now`: plans with `session` (which loads and observes), observes once more
/// for the versions' details and lists the runs (the last few of each recurring run and those of the
/// missed-fire window).
pub fn status(
    session: &Session<'_>,
    api: &dyn KfpApi,
    targets: &[Target],
    now: Timestamp,
    options: &StatusOptions,
) -> Result<Vec<NamespaceStatus>, StatusError> {
    let plans = session.plan(targets, now)?;
    let namespaces: Vec<String> = targets.iter().map(|t| t.namespace.clone()).collect();
    plans
        .iter()
        .zip(observe_many(api, &namespaces))
        .map(|(plan, observed)| {
            let observed = observed?;
            let since = window_start(now, &options.missed);
            let runs = recent_runs(api, &observed, options.runs_per_job, since)?;
            Ok(namespace_status(
                plan,
                &declared_names(plan),
                &observed,
                &runs,
                now,
                options,
            ))
        })
        .collect()
}

/// The health of one recurring run, with the fires it missed: what the `watch` daemon exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHealth {
    /// The logical name.
    pub name: String,
    /// The health word.
    pub health: Health,
    /// How many fires in the window produced no run.
    pub missed_fires: usize,
}

/// The health of every managed recurring run of `namespace` (declared ones first; `declared` that have no
/// version are Missing), from one listing of its jobs and its runs of the missed-fire window.
pub fn namespace_health(
    api: &dyn KfpApi,
    namespace: &str,
    declared: &[String],
    now: Timestamp,
    missed: &MissedFireOptions,
) -> Result<Vec<JobHealth>, StatusError> {
    let observed = crate::observe::observe(api, namespace)?;
    let options = StatusOptions {
        runs_per_job: 1,
        missed: missed.clone(),
    };
    let runs = recent_runs(api, &observed, 1, window_start(now, missed))?;
    let mut plan = Plan {
        namespace: namespace.to_owned(),
        fingerprint: String::new(),
        planned_at: now,
        experiments: Vec::new(),
        jobs: Vec::new(),
        unchanged: Vec::new(),
        leftovers: Vec::new(),
        warnings: Vec::new(),
    };
    plan.unchanged = declared.to_vec();
    let status = namespace_status(&plan, declared, &observed, &runs, now, &options);
    Ok(status
        .recurring_runs
        .into_iter()
        .map(|job| JobHealth {
            name: job.name,
            health: job.health,
            missed_fires: job.missed_fires.len(),
        })
        .collect())
}

/// The oldest instant whose runs the missed-fire check needs.
fn window_start(now: Timestamp, missed: &MissedFireOptions) -> Option<Timestamp> {
    let window = jiff::SignedDuration::try_from(missed.window).ok()?;
    now.checked_sub(window).ok()
}

/// The managed versions of each logical job in `observed`, newest first.
fn versions_by_job(observed: &ObservedNamespace) -> BTreeMap<String, Vec<&ObservedJob>> {
    let mut by_job: BTreeMap<String, Vec<(Timestamp, &ObservedJob)>> = BTreeMap::new();
    for job in &observed.jobs {
        if let Some(version) = parse_version_name(&job.name) {
            by_job
                .entry(version.job)
                .or_default()
                .push((version.timestamp, job));
        }
    }
    by_job
        .into_iter()
        .map(|(name, mut versions)| {
            versions.sort_by(|(a, x), (b, y)| b.cmp(a).then(y.created_at.cmp(&x.created_at)));
            (name, versions.into_iter().map(|(_, job)| job).collect())
        })
        .collect()
}

/// The last `per_job` runs of every managed job of `observed`, and every run of them created since
/// `since`, newest first: the runs of each experiment the versions are in, page by page (newest first),
/// until every job has its runs and the page reaches past `since`, or the experiment has no more.
pub fn recent_runs(
    api: &dyn KfpApi,
    observed: &ObservedNamespace,
    per_job: usize,
    since: Option<Timestamp>,
) -> Result<Vec<Run>, RunsError> {
    if per_job == 0 && since.is_none() {
        return Ok(Vec::new());
    }
    let mut job_of_version: BTreeMap<&str, String> = BTreeMap::new();
    let mut jobs_of_experiment: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, versions) in versions_by_job(observed) {
        for version in versions {
            job_of_version.insert(&version.id, name.clone());
            if let Some(experiment) = &version.experiment_id {
                jobs_of_experiment
                    .entry(experiment)
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    let mut found: Vec<Run> = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (experiment, jobs) in jobs_of_experiment {
        let mut options = ListOptions::experiment(experiment)
            .with_sort_by("created_at desc")
            .with_page_size(kfp_client::MAX_PAGE_SIZE);
        loop {
            let page = api.list_runs(&options).map_err(|source| RunsError {
                experiment_id: experiment.to_owned(),
                source: Box::new(source),
            })?;
            let mut reached_since = since.is_none();
            for run in page.items {
                let recent =
                    since.is_some_and(|since| run.created_at.is_some_and(|at| at >= since));
                reached_since |= !recent;
                let Some(job) = run_job_id(&run).and_then(|id| job_of_version.get(id)) else {
                    continue;
                };
                let count = counts.entry(job.clone()).or_default();
                if *count < per_job || recent {
                    *count += 1;
                    found.push(run);
                }
            }
            let done = reached_since
                && jobs
                    .iter()
                    .all(|job| counts.get(job).copied().unwrap_or(0) >= per_job);
            if done || page.next_page_token.is_empty() {
                break;
            }
            // Sort and filter travel in the token.
            options.sort_by = None;
            options.page_token = Some(page.next_page_token);
        }
    }
    Ok(found)
}

/// The status of every recurring run of `plan`'s namespace: the declared ones (`declared`, by name), then the
/// managed ones the config no longer declares. `runs` are runs of any job (see [`recent_runs`]); each job
/// shows at most `options.runs_per_job`, newest first.
pub fn namespace_status(
    plan: &Plan,
    declared: &[String],
    observed: &ObservedNamespace,
    runs: &[Run],
    now: Timestamp,
    options: &StatusOptions,
) -> NamespaceStatus {
    let versions = versions_by_job(observed);
    let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
    let undeclared: BTreeSet<&str> = versions
        .keys()
        .map(String::as_str)
        .filter(|name| !declared.contains(name))
        .collect();
    let recurring_runs = declared
        .iter()
        .map(|name| (*name, true))
        .chain(undeclared.iter().map(|name| (*name, false)))
        .map(|(name, is_declared)| {
            let versions = versions.get(name).map(Vec::as_slice).unwrap_or_default();
            job_status(plan, name, is_declared, versions, runs, now, options)
        })
        .collect();
    NamespaceStatus {
        namespace: plan.namespace.clone(),
        recurring_runs,
    }
}

fn job_status(
    plan: &Plan,
    name: &str,
    declared: bool,
    versions: &[&ObservedJob],
    runs: &[Run],
    now: Timestamp,
    options: &StatusOptions,
) -> RecurringRunStatus {
    let live = versions
        .iter()
        .find(|version| version.enabled)
        .or_else(|| versions.first())
        .copied();
    let ids: BTreeSet<&str> = versions.iter().map(|version| version.id.as_str()).collect();
    let mut own: Vec<&Run> = runs
        .iter()
        .filter(|run| run_job_id(run).is_some_and(|id| ids.contains(id)))
        .collect();
    // Newest first. KFP keeps whole seconds: within one second, a run still going is the newer one, then
    // the one that finished last.
    own.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(is_terminal_status(&a.status).cmp(&is_terminal_status(&b.status)))
            .then(b.finished_at.cmp(&a.finished_at))
    });
    let missed = live
        .map(|version| missed_fires(version, &own, now, &options.missed).missed)
        .unwrap_or_default();
    own.truncate(options.runs_per_job);
    let enabled = versions.iter().any(|version| version.enabled);
    let health = match (live, own.first()) {
        (None, _) => Health::Missing,
        _ if !enabled => Health::Suspended,
        _ if !missed.is_empty() => Health::Missed,
        (_, Some(run)) if !is_terminal_status(&run.status) => Health::Progressing,
        (_, Some(run)) if matches!(run.status.as_str(), "Failed" | "Error") => Health::Degraded,
        _ => Health::Healthy,
    };
    let next_fire_times = live
        .filter(|version| version.enabled)
        .map(|version| fire_times(version, now, &options.missed.scheduler_zone))
        .unwrap_or_default();
    let zone = live.and_then(|version| {
        recorded(&version.description)
            .schedule
            .map(|(_, zone)| zone)
    });
    RecurringRunStatus {
        name: name.to_owned(),
        declared,
        live_version: live.map(|version| LiveVersion {
            id: version.id.clone(),
            name: version.name.clone(),
            enabled: version.enabled,
        }),
        enabled,
        trigger: live.and_then(|version| schedule_label(&version.trigger.schedule)),
        next_fire_times: next_fire_times.clone(),
        next_fire_times_local: zone
            .map(|zone| {
                next_fire_times
                    .iter()
                    .filter_map(|time| local_time(*time, zone))
                    .collect()
            })
            .unwrap_or_default(),
        timezone: zone.map(str::to_owned),
        missed_fires: missed,
        warnings: plan
            .warnings
            .iter()
            .filter(|warning| {
                matches!(warning, Warning::UtcOffsetChangesSoon { job, .. } if job == name)
            })
            .map(ToString::to_string)
            .collect(),
        sync: sync_of(plan, name, declared),
        health,
        runs: own
            .into_iter()
            .map(|run| RunSummary {
                id: run.id.clone(),
                name: run.name.clone(),
                version_id: run_job_id(run).unwrap_or_default().to_owned(),
                state: if run.status.is_empty() {
                    "Pending".to_owned()
                } else {
                    run.status.clone()
                },
                created_at: run.created_at,
                finished_at: run.finished_at.filter(|_| is_terminal_status(&run.status)),
            })
            .collect(),
    }
}

fn schedule_label(schedule: &ObservedSchedule) -> Option<String> {
    match schedule {
        ObservedSchedule::None => None,
        ObservedSchedule::Cron(cron) => Some(format!("cron {cron}")),
        ObservedSchedule::Interval(seconds) => Some(format!("every {seconds}s")),
    }
}

/// The next three fire times after `now`, within the trigger's start and end. An interval counts from its
/// start time, else from when the version was created (KFP counts from when it was enabled, which KFP does
/// not report: the times are then an estimate).
fn fire_times(version: &ObservedJob, now: Timestamp, scheduler_zone: &str) -> Vec<Timestamp> {
    let trigger = &version.trigger;
    let after = trigger.start.filter(|start| *start > now).unwrap_or(now);
    let times = match &trigger.schedule {
        ObservedSchedule::None => Vec::new(),
        ObservedSchedule::Cron(cron) => next_fires(cron, scheduler_zone, after, 3),
        ObservedSchedule::Interval(seconds) if *seconds > 0 => {
            let base = trigger.start.or(version.created_at).unwrap_or(now);
            let elapsed = after.as_second() - base.as_second();
            let periods = if elapsed < 0 {
                0
            } else {
                elapsed / seconds + 1
            };
            (0..3)
                .filter_map(|k| {
                    Timestamp::from_second(base.as_second() + (periods + k) * seconds).ok()
                })
                .collect()
        }
        ObservedSchedule::Interval(_) => Vec::new(),
    };
    times
        .into_iter()
        .filter(|time| trigger.end.is_none_or(|end| *time <= end))
        .collect()
}

fn sync_of(plan: &Plan, name: &str, declared: bool) -> Sync {
    let planned = plan.jobs.iter().find(|job| job.name == name);
    let pending_actions: Vec<String> = planned
        .map(|job| {
            job.actions
                .iter()
                .map(|action| format!("{} {}", action.verb(), action.version_name()))
                .collect()
        })
        .unwrap_or_default();
    let state = match planned {
        _ if !declared => SyncState::NotInConfig,
        Some(job) if job.change == JobChange::Prune => SyncState::NotInConfig,
        Some(job) if !job.actions.is_empty() => SyncState::OutOfSync,
        _ => SyncState::Synced,
    };
    let differences = match planned {
        Some(job) if state != SyncState::Synced => {
            job.reasons.iter().map(ToString::to_string).collect()
        }
        _ => Vec::new(),
    };
    Sync {
        state,
        differences,
        pending_actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::ObservedTrigger;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn version(id: &str, name: &str, enabled: bool, schedule: ObservedSchedule) -> ObservedJob {
        ObservedJob {
            id: id.into(),
            name: name.into(),
            enabled,
            experiment_id: Some("e".into()),
            trigger: ObservedTrigger {
                schedule,
                ..ObservedTrigger::default()
            },
            created_at: Some(ts("2024-01-01T00:00:00Z")),
            ..ObservedJob::default()
        }
    }

    fn run(id: &str, job: &str, status: &str, created: &str) -> Run {
        Run {
            id: id.into(),
            name: id.into(),
            status: status.into(),
            created_at: Some(ts(created)),
            resource_references: vec![kfp_client::models::ResourceReference {
                key: kfp_client::models::ResourceKey::new(
                    kfp_client::models::ResourceType::Job,
                    job,
                ),
                name: String::new(),
                relationship: kfp_client::models::Relationship::Creator,
            }],
            ..Run::default()
        }
    }

    fn empty_plan() -> Plan {
        Plan {
            namespace: "ns".into(),
            fingerprint: String::new(),
            planned_at: ts("2024-01-01T00:00:00Z"),
            experiments: Vec::new(),
            jobs: Vec::new(),
            unchanged: Vec::new(),
            leftovers: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn health_of(versions: Vec<ObservedJob>, runs: &[Run]) -> Health {
        let observed = ObservedNamespace {
            namespace: "ns".into(),
            experiments: Vec::new(),
            jobs: versions,
        };
        let status = namespace_status(
            &empty_plan(),
            &["a".to_owned()],
            &observed,
            runs,
            ts("2024-06-01T00:00:00Z"),
            &StatusOptions {
                runs_per_job: 3,
                // These versions never ran on their schedule: no missed-fire window.
                missed: MissedFireOptions {
                    window: std::time::Duration::ZERO,
                    ..MissedFireOptions::default()
                },
            },
        );
        status.recurring_runs[0].health
    }

    #[test]
    fn a_missed_fire_outranks_the_last_runs_result_but_not_a_paused_schedule() {
        let mut live = version(
            "v2",
            "GIT::a__2024-05-30T00-00-00Z",
            true,
            ObservedSchedule::Cron("0 0 3 * * *".into()),
        );
        live.created_at = Some(ts("2024-05-30T00:00:00Z"));
        let observed = |version: ObservedJob| ObservedNamespace {
            namespace: "ns".into(),
            experiments: Vec::new(),
            jobs: vec![version],
        };
        let status = |version: ObservedJob, runs: &[Run]| {
            namespace_status(
                &empty_plan(),
                &["a".to_owned()],
                &observed(version),
                runs,
                ts("2024-06-01T00:00:00Z"),
                &StatusOptions::default(),
            )
            .recurring_runs
            .remove(0)
        };
        let ran = run("r1", "v2", "Succeeded", "2024-05-30T03:00:00Z");
        let failed = run("r2", "v2", "Failed", "2024-05-31T03:00:00Z");
        let both = status(live.clone(), &[ran.clone(), failed]);
        assert_eq!(
            (both.health, both.missed_fires.len()),
            (Health::Degraded, 0)
        );
        let one = status(live.clone(), std::slice::from_ref(&ran));
        assert_eq!(one.health, Health::Missed);
        assert_eq!(one.missed_fires, [ts("2024-05-31T03:00:00Z")]);
        live.enabled = false;
        assert_eq!(status(live, &[ran]).health, Health::Suspended);
    }

    #[test]
    fn the_health_follows_the_newest_run_and_the_enabled_state() {
        let cron = || ObservedSchedule::Cron("0 0 3 * * *".into());
        let live = || vec![version("v2", "GIT::a__2024-02-01T00-00-00Z", true, cron())];
        assert_eq!(health_of(Vec::new(), &[]), Health::Missing);
        assert_eq!(health_of(live(), &[]), Health::Healthy);
        let failed = run("r1", "v2", "Failed", "2024-05-01T00:00:00Z");
        let succeeded = run("r2", "v2", "Succeeded", "2024-05-02T00:00:00Z");
        let running = run("r3", "v2", "Running", "2024-05-03T00:00:00Z");
        assert_eq!(
            health_of(live(), std::slice::from_ref(&failed)),
            Health::Degraded
        );
        assert_eq!(
            health_of(live(), &[failed.clone(), succeeded.clone()]),
            Health::Healthy
        );
        assert_eq!(
            health_of(live(), &[failed.clone(), running]),
            Health::Progressing
        );
        let paused = vec![version("v2", "GIT::a__2024-02-01T00-00-00Z", false, cron())];
        assert_eq!(health_of(paused, &[failed]), Health::Suspended);
        // A run of another job does not count.
        let other = run("r4", "elsewhere", "Failed", "2024-05-04T00:00:00Z");
        assert_eq!(health_of(live(), &[succeeded, other]), Health::Healthy);
    }

    #[test]
    fn fire_times_follow_the_cron_expression_and_the_interval_and_stop_at_the_end() {
        let now = ts("2024-06-01T10:00:00Z");
        let mut cron = version(
            "v",
            "GIT::a__2024-02-01T00-00-00Z",
            true,
            ObservedSchedule::Cron("0 0 3 * * *".into()),
        );
        assert_eq!(
            fire_times(&cron, now, "UTC"),
            [
                ts("2024-06-02T03:00:00Z"),
                ts("2024-06-03T03:00:00Z"),
                ts("2024-06-04T03:00:00Z")
            ]
        );
        cron.trigger.end = Some(ts("2024-06-03T12:00:00Z"));
        assert_eq!(fire_times(&cron, now, "UTC").len(), 2);
        let mut every = version(
            "v",
            "GIT::a__2024-02-01T00-00-00Z",
            true,
            ObservedSchedule::Interval(3600),
        );
        every.trigger.start = Some(ts("2024-06-01T09:30:00Z"));
        assert_eq!(
            fire_times(&every, now, "UTC"),
            [
                ts("2024-06-01T10:30:00Z"),
                ts("2024-06-01T11:30:00Z"),
                ts("2024-06-01T12:30:00Z")
            ]
        );
    }
}
