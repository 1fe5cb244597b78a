//! Missed fires: the times a live version's trigger should have fired that produced no run.
//!
//! KFP records no "fired" event, only the runs a ScheduledWorkflow controller creates: each carries the
//! fire time in `scheduled_at` and the version in its JOB reference. A controller that lost a job
//! (kubeflow/pipelines#11597, #10123) creates nothing and reports nothing, so [`missed_fires`] replays
//! the trigger over a window and looks for the run of each fire:
//!
//! * the window starts at the latest of `now - window`, the trigger's start and the version's last
//!   change (its enabling: KFP reports no separate enable time), and ends `grace` before `now` (a fire is
//!   judged only once the controller had time to act) or at the trigger's end;
//! * a fire counts as made when a run of the recurring run (any of its versions) has that `scheduled_at`
//!   (to the second), or, for a run without one, was created within `grace` after it. With `catchup`, a
//!   fire the controller made up later has the fire time as `scheduled_at`, so it counts too; without
//!   catchup a fire the controller was late for is lost, and reported;
//! * a fire at which `max_concurrency` runs were still running is held back by KFP, not missed;
//! * an interval trigger has no fixed times (KFP counts from when the version was enabled): one fire is
//!   expected `interval` after the newest run (or the version's last change), and missed once that is
//!   more than `grace` ago.
//!
//! Pure: the version, its runs and the clock in, the verdict out.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kfp_client::models::{Run, is_terminal_status};
use serde::Serialize;

use crate::observe::{ObservedJob, ObservedSchedule};

/// How far back `status` and the daemon look for missed fires by default (`--window`).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(48 * 3600);

/// How long a fire may take to produce its run by default (`--grace`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10 * 60);

/// At most this many fires are replayed per recurring run (the newest ones of the window).
const MAX_FIRES: usize = 1_000;

/// Where and how missed fires are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedFireOptions {
    /// How far back from the clock fires are checked.
    pub window: Duration,
    /// How long after a fire its run may appear.
    pub grace: Duration,
    /// The IANA zone the scheduler evaluates crons in (`scheduler_timezone` of kfp-gitops.yaml).
    pub scheduler_zone: String,
}

impl Default for MissedFireOptions {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            grace: DEFAULT_GRACE,
            scheduler_zone: "UTC".to_owned(),
        }
    }
}

/// The verdict on one live version's fires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FireCheck {
    /// How many fires were expected in the window.
    pub expected: usize,
    /// The expected fires without a run, oldest first.
    pub missed: Vec<Timestamp>,
    /// Fires KFP held back because `max_concurrency` runs were still running.
    pub held_back: usize,
}

/// The fires of `version` (enabled) since the window's start that produced no run among `runs` (the
/// runs of every version of the same recurring run), at `now`. A disabled version expects no fire.
pub fn missed_fires(
    version: &ObservedJob,
    runs: &[&Run],
    now: Timestamp,
    options: &MissedFireOptions,
) -> FireCheck {
    if !version.enabled {
        return FireCheck::default();
    }
    let window = SignedDuration::try_from(options.window).unwrap_or(SignedDuration::MAX);
    let grace = SignedDuration::try_from(options.grace).unwrap_or(SignedDuration::MAX);
    let trigger = &version.trigger;
    let enabled_since = version.updated_at.or(version.created_at);
    let from = [now.checked_sub(window).ok(), trigger.start, enabled_since]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(now);
    let until = [now.checked_sub(grace).ok(), trigger.end]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now);
    if until <= from {
        return FireCheck::default();
    }
    let fires = match &trigger.schedule {
        ObservedSchedule::None => Vec::new(),
        ObservedSchedule::Cron(cron) => cron_fires(cron, &options.scheduler_zone, from, until),
        ObservedSchedule::Interval(seconds) => {
            interval_fire(*seconds, runs, enabled_since, from, until)
        }
    };
    let mut check = FireCheck {
        expected: fires.len(),
        ..FireCheck::default()
    };
    for fire in fires {
        if runs.iter().any(|run| made_by(run, fire, grace)) {
            continue;
        }
        if held_back(runs, fire, version.max_concurrency) {
            check.held_back += 1;
        } else {
            check.missed.push(fire);
        }
    }
    check
}

/// The fires of `cron` (in `zone`) in `(from, until]`, at most the newest [`MAX_FIRES`].
fn cron_fires(cron: &str, zone: &str, from: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    let mut after = from;
    // A cron firing more often than the window holds checks the end of the window only.
    let probe = crate::zoned::next_fires(cron, zone, after, 2);
    if let [first, second] = probe[..] {
        let period = second.duration_since(first);
        let span = until.duration_since(from);
        if period.is_positive() && span.as_secs() / period.as_secs().max(1) > MAX_FIRES as i64 {
            let back = period.checked_mul(MAX_FIRES as i32).unwrap_or(span);
            after = until.checked_sub(back).unwrap_or(from);
        }
    }
    crate::zoned::next_fires(cron, zone, after, MAX_FIRES)
        .into_iter()
        .take_while(|fire| *fire <= until)
        .collect()
}

/// The one fire an interval trigger is sure to have had by `until`: `seconds` after the newest run, or
/// after the version's last change when it has no run since.
fn interval_fire(
    seconds: i64,
    runs: &[&Run],
    enabled_since: Option<Timestamp>,
    from: Timestamp,
    until: Timestamp,
) -> Vec<Timestamp> {
    if seconds <= 0 {
        return Vec::new();
    }
    let newest_run = runs
        .iter()
        .filter_map(|run| scheduled_at(run).or(run.created_at))
        .max();
    let Some(base) = newest_run.into_iter().chain(enabled_since).max() else {
        return Vec::new();
    };
    match base.checked_add(SignedDuration::from_secs(seconds)) {
        Ok(fire) if fire > from && fire <= until => vec![fire],
        _ => Vec::new(),
    }
}

/// KFP reports an unset `scheduled_at` as the epoch.
fn scheduled_at(run: &Run) -> Option<Timestamp> {
    run.scheduled_at.filter(|at| at.as_second() > 0)
}

/// Whether `run` is the run of the fire at `fire`.
fn made_by(run: &Run, fire: Timestamp, grace: SignedDuration) -> bool {
    match scheduled_at(run) {
        Some(at) => at.as_second() == fire.as_second(),
        None => run
            .created_at
            .is_some_and(|created| created >= fire && created.duration_since(fire) <= grace),
    }
}

/// Whether `max_concurrency` runs were running at `fire`.
fn held_back(runs: &[&Run], fire: Timestamp, max_concurrency: i64) -> bool {
    if max_concurrency <= 0 {
        return false;
    }
    let running = runs
        .iter()
        .filter(|run| run.created_at.is_some_and(|created| created <= fire))
        .filter(|run| {
            !is_terminal_status(&run.status) || run.finished_at.is_some_and(|end| end > fire)
        })
        .count();
    i64::try_from(running).unwrap_or(i64::MAX) >= max_concurrency
}

#[cfg(test)]
mod tests {
    use kfp_client::models::{Relationship, ResourceKey, ResourceReference, ResourceType};

    use super::*;
    use crate::observe::ObservedTrigger;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn version(schedule: ObservedSchedule, enabled_at: &str) -> ObservedJob {
        ObservedJob {
            id: "v".into(),
            name: "GIT::nightly__2027-01-01T00-00-00Z".into(),
            enabled: true,
            max_concurrency: 1,
            trigger: ObservedTrigger {
                schedule,
                ..ObservedTrigger::default()
            },
            created_at: Some(ts(enabled_at)),
            updated_at: Some(ts(enabled_at)),
            ..ObservedJob::default()
        }
    }

    fn daily_at_three() -> ObservedSchedule {
        ObservedSchedule::Cron("0 0 3 * * *".into())
    }

    fn fired(scheduled: &str, status: &str) -> Run {
        Run {
            id: format!("run-{scheduled}"),
            status: status.into(),
            created_at: Some(ts(scheduled)),
            scheduled_at: Some(ts(scheduled)),
            finished_at: is_terminal_status(status).then(|| ts(scheduled)),
            resource_references: vec![ResourceReference {
                key: ResourceKey::new(ResourceType::Job, "v"),
                name: String::new(),
                relationship: Relationship::Creator,
            }],
            ..Run::default()
        }
    }

    fn check(version: &ObservedJob, runs: &[Run], now: &str) -> FireCheck {
        let runs: Vec<&Run> = runs.iter().collect();
        missed_fires(version, &runs, ts(now), &MissedFireOptions::default())
    }

    #[test]
    fn every_fire_of_the_window_with_a_run_is_made() {
        let version = version(daily_at_three(), "2027-01-01T00:00:00Z");
        let runs = [
            fired("2027-01-09T03:00:00Z", "Succeeded"),
            fired("2027-01-10T03:00:00Z", "Failed"),
        ];
        let check = check(&version, &runs, "2027-01-10T12:00:00Z");
        assert_eq!(check.expected, 2, "48 hours back from noon: two fires");
        assert!(check.missed.is_empty(), "{check:?}");
    }

    #[test]
    fn a_fire_without_a_run_is_missed_once_the_grace_period_is_over() {
        let version = version(daily_at_three(), "2027-01-01T00:00:00Z");
        let runs = [fired("2027-01-09T03:00:00Z", "Succeeded")];
        assert_eq!(
            check(&version, &runs, "2027-01-10T03:05:00Z").missed,
            Vec::<Timestamp>::new(),
            "five minutes after the fire, the run may still come"
        );
        assert_eq!(
            check(&version, &runs, "2027-01-10T03:11:00Z").missed,
            [ts("2027-01-10T03:00:00Z")]
        );
    }

    #[test]
    fn fires_before_the_version_was_enabled_or_the_trigger_started_are_not_expected() {
        let late = version(daily_at_three(), "2027-01-10T00:00:00Z");
        assert_eq!(check(&late, &[], "2027-01-10T12:00:00Z").missed.len(), 1);
        let mut starts_later = version(daily_at_three(), "2027-01-01T00:00:00Z");
        starts_later.trigger.start = Some(ts("2027-01-10T04:00:00Z"));
        assert_eq!(
            check(&starts_later, &[], "2027-01-10T12:00:00Z").expected,
            0
        );
        let mut ended = version(daily_at_three(), "2027-01-01T00:00:00Z");
        ended.trigger.end = Some(ts("2027-01-09T12:00:00Z"));
        assert_eq!(check(&ended, &[], "2027-01-10T12:00:00Z").expected, 1);
        let mut paused = version(daily_at_three(), "2027-01-01T00:00:00Z");
        paused.enabled = false;
        assert_eq!(
            check(&paused, &[], "2027-01-10T12:00:00Z"),
            FireCheck::default()
        );
    }

    #[test]
    fn a_fire_held_back_by_max_concurrency_is_not_missed() {
        let version = version(daily_at_three(), "2027-01-01T00:00:00Z");
        let mut long = fired("2027-01-09T03:00:00Z", "Running");
        long.finished_at = None;
        let check = check(&version, &[long], "2027-01-10T12:00:00Z");
        assert_eq!((check.expected, check.held_back), (2, 1));
        assert!(check.missed.is_empty());
    }

    #[test]
    fn a_run_without_a_scheduled_time_counts_when_it_was_created_within_the_grace_period() {
        let version = version(daily_at_three(), "2027-01-09T12:00:00Z");
        let mut run = fired("2027-01-10T03:02:00Z", "Succeeded");
        run.scheduled_at = Some(Timestamp::UNIX_EPOCH);
        assert!(
            check(&version, &[run], "2027-01-10T12:00:00Z")
                .missed
                .is_empty()
        );
        let mut late = fired("2027-01-10T04:00:00Z", "Succeeded");
        late.scheduled_at = None;
        assert_eq!(
            check(&version, &[late], "2027-01-10T12:00:00Z")
                .missed
                .len(),
            1
        );
    }

    #[test]
    fn the_cron_is_replayed_in_the_schedulers_zone() {
        let version = version(daily_at_three(), "2027-01-09T12:00:00Z");
        // 03:00 in Berlin is 02:00 UTC in winter.
        let runs = [fired("2027-01-10T02:00:00Z", "Succeeded")];
        let options = MissedFireOptions {
            scheduler_zone: "Europe/Berlin".into(),
            ..MissedFireOptions::default()
        };
        let refs: Vec<&Run> = runs.iter().collect();
        let check = missed_fires(&version, &refs, ts("2027-01-10T12:00:00Z"), &options);
        assert_eq!((check.expected, check.missed.len()), (1, 0));
    }

    #[test]
    fn an_interval_expects_one_fire_after_the_newest_run() {
        let version = version(ObservedSchedule::Interval(3600), "2027-01-10T00:00:00Z");
        let runs = [fired("2027-01-10T09:00:00Z", "Succeeded")];
        assert!(
            check(&version, &runs, "2027-01-10T10:05:00Z")
                .missed
                .is_empty()
        );
        assert_eq!(
            check(&version, &runs, "2027-01-10T10:30:00Z").missed,
            [ts("2027-01-10T10:00:00Z")]
        );
    }

    #[test]
    fn a_cron_firing_every_second_replays_only_the_newest_fires() {
        let version = version(
            ObservedSchedule::Cron("* * * * * *".into()),
            "2027-01-01T00:00:00Z",
        );
        let check = check(&version, &[], "2027-01-10T12:00:00Z");
        assert!(check.expected <= MAX_FIRES, "{}", check.expected);
        assert!(check.expected > 0);
    }
}
