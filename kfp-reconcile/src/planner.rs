//! The pure planner: desired state + observed state + clock -> [`Plan`].

use std::collections::BTreeMap;

use jiff::Timestamp;
use kfp_config::{DesiredNamespace, DesiredRecurringRun, Schedule};

use crate::model::{
    Action, ExperimentAction, ExperimentPlan, FieldDiff, JobChange, JobPlan, Leftover, NewVersion,
    Parameter, Plan, PlannedSchedule, PlannedZone, Reason, RestartCause, VersionRef,
    VersionSummary, Warning,
};
use crate::observe::{ObservedJob, ObservedNamespace, ObservedSchedule, ObservedWorkflow};
use crate::zoned::{self, Translated};
use kfp_config::{VersionName, next_version_timestamp, parse_version_name, version_name};

mod compare;

use compare::compare;

/// The service account used when a recurring run names none (Kubeflow's per-profile runner).
pub const DEFAULT_RUNNER_SA: &str = "default-editor";

pub use kfp_config::PruneMode;

/// Settings of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Service account of recurring runs that name none (`--default-runner-sa`).
    pub default_runner_sa: String,
    /// What to do with orphans (`--prune`).
    pub prune: PruneMode,
    /// Allow pruning every recurring run of a namespace whose config declares none (`--allow-empty-prune`).
    pub allow_empty_prune: bool,
    /// How new versions take over their schedules (`defaults.rollout`, `--rollout`).
    pub rollout: crate::rollout::RolloutPolicy,
    /// How often something reconciles the namespace on its own (the `watch` daemon's interval, a CI
    /// schedule: `reconciled_every` of kfp-gitops.yaml); `None` when nothing does. A coming change of a
    /// zone's UTC offset is a warning unless a reconcile is sure to follow it before the schedule fires.
    pub reconciled_every: Option<std::time::Duration>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            default_runner_sa: DEFAULT_RUNNER_SA.to_owned(),
            prune: PruneMode::None,
            allow_empty_prune: false,
            rollout: crate::rollout::RolloutPolicy::default(),
            reconciled_every: None,
        }
    }
}

/// A managed version found in KFP.
#[derive(Debug, Clone, Copy)]
struct Version<'a> {
    stamp: Timestamp,
    job: &'a ObservedJob,
}

impl Version<'_> {
    fn summary(&self) -> VersionSummary {
        VersionSummary {
            id: self.job.id.clone(),
            name: self.job.name.clone(),
            enabled: self.job.enabled,
        }
    }

    fn reference(&self) -> VersionRef {
        VersionRef {
            id: Some(self.job.id.clone()),
            name: self.job.name.clone(),
        }
    }
}

/// Computes what must change so that KFP matches `desired`.
///
/// Pure: the result depends only on the arguments. `now` stamps the names of new versions (bumped past the
/// newest existing version when needed).
pub fn plan(
    desired: &DesiredNamespace,
    observed: &ObservedNamespace,
    now: Timestamp,
    options: &PlanOptions,
) -> Plan {
    let mut warnings = Vec::new();
    let experiments = plan_experiments(desired, observed, &mut warnings);

    let usable = skip_unusable_jobs(observed, &mut warnings);
    let (mut groups, unmanaged) = group_versions(&usable);
    let mut jobs = Vec::new();
    let mut unchanged = Vec::new();
    for run in &desired.recurring_runs {
        for job in unmanaged
            .iter()
            .filter(|job| job.name == run.name && run.adopt.as_deref() != Some(job.name.as_str()))
        {
            warnings.push(Warning::UnmanagedJobWithSameName {
                job: run.name.clone(),
                id: job.id.clone(),
            });
        }
        let versions = groups.remove(&run.name).unwrap_or_default();
        let translated = match translate(run, now) {
            Ok(translated) => translated,
            Err(reason) => {
                warnings.push(Warning::ScheduleNotTranslatable {
                    job: run.name.clone(),
                    reason,
                });
                continue;
            }
        };
        if let (Some(translated), Some(zone)) = (&translated, &run.trigger.zone)
            && let Some((at, date)) = &translated.next_change
            && at.duration_since(now) <= jiff::SignedDuration::from_hours(24 * SOON_DAYS)
            && !reconciled_in_time(run, translated, *at, options.reconciled_every)
        {
            warnings.push(Warning::UtcOffsetChangesSoon {
                job: run.name.clone(),
                zone: zone.timezone.clone(),
                at: *at,
                date: date.clone(),
            });
        }
        let mut job_plan = plan_job(run, &versions, observed, now, translated.as_ref(), options);
        if let Some(adopted) = &run.adopt {
            adopt(&mut job_plan, adopted, &unmanaged);
        }
        crate::rollout::insert_verification(&mut job_plan, &options.rollout.resolve(run));
        if job_plan.change == JobChange::Replace && job_plan.actions.iter().any(is_create) {
            if run.trigger.catchup {
                warnings.push(Warning::ScheduleRestarts {
                    job: run.name.clone(),
                    cause: RestartCause::Catchup,
                });
            }
            if matches!(run.trigger.schedule, Schedule::Interval(_)) {
                warnings.push(Warning::ScheduleRestarts {
                    job: run.name.clone(),
                    cause: RestartCause::Interval,
                });
            }
        }
        if job_plan.actions.is_empty() {
            unchanged.push(run.name.clone());
        } else {
            jobs.push(job_plan);
        }
    }

    let mut prune = options.prune;
    if prune != PruneMode::None
        && desired.recurring_runs.is_empty()
        && !groups.is_empty()
        && !options.allow_empty_prune
    {
        warnings.push(Warning::EmptyPruneRefused {
            orphans: groups.len(),
        });
        prune = PruneMode::None;
    }
    let mut leftovers = Vec::new();
    for (name, versions) in &groups {
        // Pruning a paused orphan with `disable` has nothing to do: it stays a (paused) leftover.
        match plan_orphan(name, versions, prune) {
            Some(job) => jobs.push(job),
            None => leftovers.push(leftover(name, versions)),
        }
    }

    Plan {
        namespace: desired.namespace.clone(),
        fingerprint: observed.fingerprint(),
        planned_at: now,
        experiments,
        jobs,
        unchanged,
        leftovers,
        warnings,
    }
}

/// Adoption of the unmanaged recurring runs named `adopted` that are enabled: each is disabled right
/// after the managed version is created (before it is enabled), or at once when the managed version
/// exists already. They are never deleted.
fn adopt(job_plan: &mut JobPlan, adopted: &str, unmanaged: &[&ObservedJob]) {
    let enabled: Vec<&&ObservedJob> = unmanaged
        .iter()
        .filter(|job| job.name == adopted && job.enabled)
        .collect();
    if enabled.is_empty() {
        return;
    }
    let at = job_plan
        .actions
        .iter()
        .position(is_create)
        .map_or(0, |index| index + 1);
    let disables = enabled.iter().map(|job| Action::Disable {
        version: VersionRef {
            id: Some(job.id.clone()),
            name: job.name.clone(),
        },
    });
    job_plan.actions.splice(at..at, disables);
    job_plan.reasons.push(Reason::Adopts {
        job: adopted.to_owned(),
    });
    if job_plan.change == JobChange::Create {
        job_plan.change = JobChange::Adopt;
    }
}

/// A change of UTC offset this close (in days) is warned about.
const SOON_DAYS: i64 = 7;

/// Whether a reconcile every `every` is sure to replace a zoned version after its zone's offset changes
/// at `at` and before it fires next: by the old translation (which would fire at the wrong local time) or
/// the new one (which would be skipped).
fn reconciled_in_time(
    run: &DesiredRecurringRun,
    translated: &Translated,
    at: Timestamp,
    every: Option<std::time::Duration>,
) -> bool {
    let (Some(every), Schedule::Cron(local), Some(zone)) =
        (every, &run.trigger.schedule, &run.trigger.zone)
    else {
        return false;
    };
    let Ok(next_reconcile) =
        jiff::SignedDuration::try_from(every).and_then(|every| at.checked_add(every))
    else {
        return false;
    };
    let old = zoned::next_fires(&translated.cron, &zone.scheduler, at, 1);
    let new = zoned::next_fires(local, &zone.timezone, at, 1);
    old.into_iter()
        .chain(new)
        .min()
        .is_none_or(|first| next_reconcile < first)
}

/// The translation of a cron written in a time zone other than the scheduler's, at `now`.
fn translate(run: &DesiredRecurringRun, now: Timestamp) -> Result<Option<Translated>, String> {
    match (&run.trigger.schedule, &run.trigger.zone) {
        (Schedule::Cron(cron), Some(zone)) => zoned::translate(cron, zone, now)
            .map(Some)
            .map_err(|err| err.to_string()),
        _ => Ok(None),
    }
}

fn is_create(action: &Action) -> bool {
    matches!(action, Action::CreateVersion { .. })
}

fn plan_experiments(
    desired: &DesiredNamespace,
    observed: &ObservedNamespace,
    warnings: &mut Vec<Warning>,
) -> Vec<ExperimentPlan> {
    let mut plans = Vec::new();
    for experiment in &desired.experiments {
        let desired_description = experiment.description.clone().unwrap_or_default();
        match observed.experiment_by_name(&experiment.name) {
            None => plans.push(ExperimentPlan {
                name: experiment.name.clone(),
                action: ExperimentAction::Create {
                    description: experiment.description.clone(),
                },
            }),
            Some(found) => {
                if found.archived {
                    plans.push(ExperimentPlan {
                        name: experiment.name.clone(),
                        action: ExperimentAction::Unarchive {
                            id: found.id.clone(),
                        },
                    });
                }
                if found.description != desired_description {
                    warnings.push(Warning::ExperimentDescriptionDiffers {
                        experiment: experiment.name.clone(),
                        observed: found.description.clone(),
                        desired: desired_description,
                    });
                }
            }
        }
    }
    plans
}

/// The observed namespace without the managed versions KFP cannot give us (an `error`, or a KFP v2 job with
/// no workflow manifest): each is skipped with a warning, never compared, changed or counted as drift
/// (KFP2-V1BETA1.md §5 P0-2).
fn skip_unusable_jobs(
    observed: &ObservedNamespace,
    warnings: &mut Vec<Warning>,
) -> ObservedNamespace {
    let mut usable = ObservedNamespace {
        namespace: observed.namespace.clone(),
        experiments: Vec::new(),
        jobs: Vec::with_capacity(observed.jobs.len()),
    };
    for job in &observed.jobs {
        match (&job.unusable, parse_version_name(&job.name)) {
            (Some(reason), Some(version)) => warnings.push(Warning::UnusableJobSkipped {
                job: version.job,
                name: job.name.clone(),
                id: job.id.clone(),
                reason: reason.clone(),
            }),
            _ => usable.jobs.push(job.clone()),
        }
    }
    usable
}

/// Managed versions grouped by logical job name (newest first), and the unmanaged jobs.
fn group_versions(
    observed: &ObservedNamespace,
) -> (BTreeMap<String, Vec<Version<'_>>>, Vec<&ObservedJob>) {
    let mut groups: BTreeMap<String, Vec<Version<'_>>> = BTreeMap::new();
    let mut unmanaged = Vec::new();
    for job in &observed.jobs {
        match parse_version_name(&job.name) {
            Some(VersionName {
                job: name,
                timestamp,
            }) => groups.entry(name).or_default().push(Version {
                stamp: timestamp,
                job,
            }),
            None => unmanaged.push(job),
        }
    }
    for versions in groups.values_mut() {
        // Equal names are possible (KFP names are not unique): of those, an enabled one counts as
        // newer (it is the one that runs, and stays), then the later-created one.
        versions.sort_by(|a, b| {
            (b.stamp, b.job.enabled, b.job.created_at, &b.job.id).cmp(&(
                a.stamp,
                a.job.enabled,
                a.job.created_at,
                &a.job.id,
            ))
        });
    }
    (groups, unmanaged)
}

/// The versions with distinct names (the first of each name in `versions`' order, newest first), and
/// the others.
fn split_duplicates<'a, 'b>(versions: &'b [Version<'a>]) -> (Vec<Version<'a>>, Vec<Version<'a>>) {
    let mut kept: Vec<Version<'a>> = Vec::new();
    let mut duplicates = Vec::new();
    for version in versions {
        if kept
            .iter()
            .any(|newer| newer.job.name.eq_ignore_ascii_case(&version.job.name))
        {
            duplicates.push(*version);
        } else {
            kept.push(*version);
        }
    }
    (kept, duplicates)
}

fn plan_job(
    run: &DesiredRecurringRun,
    all_versions: &[Version<'_>],
    observed: &ObservedNamespace,
    now: Timestamp,
    translated: Option<&Translated>,
    options: &PlanOptions,
) -> JobPlan {
    // A version named like a newer one (in KFP's case-insensitive terms) is never kept: it is deleted
    // after the swap, whatever `keep_history` says, and plays no part in planning.
    let (versions, duplicates) = split_duplicates(all_versions);
    let versions = versions.as_slice();
    let experiment_id = observed
        .experiment_by_name(&run.experiment)
        .map(|experiment| experiment.id.clone());
    let desired_digest = run.pipeline.digest().as_str();
    let (diffs, offset_change) = match versions.first() {
        Some(latest) => compare(
            run,
            latest.job,
            experiment_id.as_deref(),
            desired_digest,
            observed,
            translated,
            options,
        ),
        None => (Vec::new(), None),
    };
    let up_to_date = !versions.is_empty() && diffs.is_empty();

    let mut reasons = Vec::new();
    let mut actions = Vec::new();
    let non_latest: &[Version<'_>];
    let change;
    if up_to_date {
        let latest = &versions[0];
        non_latest = &versions[1..];
        let others_enabled: Vec<&Version<'_>> =
            non_latest.iter().filter(|v| v.job.enabled).collect();
        if !others_enabled.is_empty() {
            reasons.push(Reason::OtherVersionsEnabled {
                count: others_enabled.len(),
            });
        }
        actions.extend(others_enabled.iter().map(|v| Action::Disable {
            version: v.reference(),
        }));
        if run.enabled && !latest.job.enabled {
            reasons.push(Reason::LatestDisabled);
            actions.push(Action::Enable {
                version: latest.reference(),
            });
        } else if !run.enabled && latest.job.enabled {
            reasons.push(Reason::LatestEnabled);
            actions.push(Action::Disable {
                version: latest.reference(),
            });
        }
        change = JobChange::Update;
    } else {
        non_latest = versions;
        // After every version whose name KFP takes for this job's (it compares names without case).
        let newest = observed
            .jobs
            .iter()
            .filter_map(|job| parse_version_name(&job.name))
            .filter(|version| version.job.eq_ignore_ascii_case(&run.name))
            .map(|version| version.timestamp)
            .max();
        let stamp = next_version_timestamp(now, newest);
        let new_version = new_version(
            run,
            version_name(&run.name, stamp),
            experiment_id,
            desired_digest.to_owned(),
            translated,
            options,
        );
        let new_ref = VersionRef {
            id: None,
            name: new_version.name.clone(),
        };
        if versions.is_empty() {
            reasons.push(Reason::NoVersion);
            change = JobChange::Create;
        } else {
            let fields: Vec<String> = diffs
                .iter()
                .filter(|diff| offset_change.is_none() || diff.field != "trigger.cron")
                .map(|diff| diff.field.clone())
                .collect();
            if !fields.is_empty() {
                reasons.push(Reason::Differs { fields });
            }
            reasons.extend(offset_change);
            let older_enabled = versions[1..].iter().filter(|v| v.job.enabled).count();
            if older_enabled > 0 {
                reasons.push(Reason::OtherVersionsEnabled {
                    count: older_enabled,
                });
            }
            change = JobChange::Replace;
        }
        actions.push(Action::CreateVersion {
            version: Box::new(new_version),
        });
        actions.extend(
            versions
                .iter()
                .filter(|v| v.job.enabled)
                .map(|v| Action::Disable {
                    version: v.reference(),
                }),
        );
        if run.enabled {
            actions.push(Action::Enable { version: new_ref });
        }
    }

    if let Ok(keep) = usize::try_from(run.keep_history)
        && non_latest.len() > keep
    {
        let doomed = &non_latest[keep..];
        reasons.push(Reason::HistoryBeyondKeep {
            count: doomed.len(),
            keep_history: run.keep_history,
        });
        actions.extend(doomed.iter().rev().map(|v| Action::Delete {
            version: v.reference(),
        }));
    }

    if !duplicates.is_empty() {
        reasons.push(Reason::DuplicateNames {
            count: duplicates.len(),
        });
        actions.extend(duplicates.iter().map(|v| Action::Delete {
            version: v.reference(),
        }));
    }

    JobPlan {
        name: run.name.clone(),
        change,
        reasons,
        diffs,
        workflow_diff: None,
        versions: all_versions.iter().map(Version::summary).collect(),
        actions,
    }
}

/// An orphan that is reported, not pruned.
fn leftover(name: &str, versions: &[Version<'_>]) -> Leftover {
    let firing = versions.iter().find(|v| v.job.enabled);
    let schedule = match &firing.or(versions.first()).map(|v| &v.job.trigger.schedule) {
        Some(ObservedSchedule::Cron(cron)) => Some(format!("cron {cron}")),
        Some(ObservedSchedule::Interval(seconds)) => Some(format!("every {seconds}s")),
        Some(ObservedSchedule::None) | None => None,
    };
    Leftover {
        name: name.to_owned(),
        enabled: firing.is_some(),
        schedule,
        versions: versions.iter().map(Version::summary).collect(),
    }
}

/// The pruning of an orphan, or `None` when `prune` leaves it as it is.
fn plan_orphan(name: &str, versions: &[Version<'_>], prune: PruneMode) -> Option<JobPlan> {
    if prune == PruneMode::None {
        return None;
    }
    let mut actions: Vec<Action> = versions
        .iter()
        .filter(|v| v.job.enabled)
        .map(|v| Action::Disable {
            version: v.reference(),
        })
        .collect();
    if prune == PruneMode::Delete {
        actions.extend(versions.iter().rev().map(|v| Action::Delete {
            version: v.reference(),
        }));
    }
    if actions.is_empty() {
        return None;
    }
    Some(JobPlan {
        name: name.to_owned(),
        change: JobChange::Prune,
        reasons: vec![Reason::NotInConfig],
        diffs: Vec::new(),
        workflow_diff: None,
        versions: versions.iter().map(Version::summary).collect(),
        actions,
    })
}

fn service_account(run: &DesiredRecurringRun, options: &PlanOptions) -> String {
    run.service_account
        .clone()
        .filter(|sa| !sa.is_empty())
        .unwrap_or_else(|| options.default_runner_sa.clone())
}

fn new_version(
    run: &DesiredRecurringRun,
    name: String,
    experiment_id: Option<String>,
    workflow_digest: String,
    translated: Option<&Translated>,
    options: &PlanOptions,
) -> NewVersion {
    let zone = match (&run.trigger.schedule, &run.trigger.zone, translated) {
        (Schedule::Cron(cron), Some(zone), Some(_)) => Some(PlannedZone {
            timezone: zone.timezone.clone(),
            scheduler: zone.scheduler.clone(),
            local_cron: cron.clone(),
        }),
        _ => None,
    };
    let description = match (&run.trigger.zone, &zone) {
        (Some(trigger_zone), Some(planned)) => Some(zoned::description_with_schedule(
            run.description.as_deref(),
            trigger_zone,
            &planned.local_cron,
        )),
        _ => run.description.clone(),
    };
    NewVersion {
        name,
        description,
        experiment: run.experiment.clone(),
        experiment_id,
        service_account: service_account(run, options),
        max_concurrency: i64::from(run.max_concurrency),
        parameters: run
            .parameters
            .iter()
            .map(|(name, value)| Parameter {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        catchup: run.trigger.catchup,
        start: run.trigger.start,
        end: run.trigger.end,
        schedule: match (&run.trigger.schedule, translated) {
            (Schedule::Cron(_), Some(translated)) => PlannedSchedule::Cron(translated.cron.clone()),
            (Schedule::Cron(cron), None) => PlannedSchedule::Cron(cron.clone()),
            (Schedule::Interval(seconds), _) => PlannedSchedule::Interval(*seconds),
        },
        zone,
        enabled: run.enabled,
        workflow_manifest: run.pipeline.manifest().to_owned(),
        workflow_digest,
        source: run.source.clone(),
    }
}
