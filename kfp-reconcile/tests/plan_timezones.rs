//! The planner with schedules written in a time zone: versions carry the local cron and zone in their
//! description and the translation in their cron; a change of UTC offset replaces them.

mod support;

use kfp_config::{DesiredRecurringRun, Schedule, TriggerZone};
use kfp_reconcile::{JobChange, PlanOptions, PlannedSchedule, Reason, Warning, plan};
use support::*;

fn berlin(cron: &str) -> DesiredRecurringRun {
    let mut run = run("nightly");
    run.trigger.schedule = Schedule::Cron(cron.to_owned());
    run.trigger.zone = Some(TriggerZone {
        timezone: "Europe/Berlin".to_owned(),
        scheduler: "UTC".to_owned(),
    });
    run
}

fn exp() -> kfp_client::models::Experiment {
    kfp_experiment("exp-1", "exp", "exp description", false)
}

fn cron_of(job: &kfp_client::models::Job) -> String {
    job.trigger.cron_schedule.as_ref().unwrap().cron.clone()
}

#[test]
fn a_zoned_version_is_kept_while_the_offset_holds_and_replaced_after_it_changes() {
    let run = berlin("0 0 7 * * MON-FRI");
    let job = job_for(&run, "2027-01-10T00:00:00Z", "j1", true, "exp-1");
    assert_eq!(cron_of(&job), "0 0 6 * * MON-FRI");
    assert!(
        job.description
            .ends_with("kfp-gitops schedule: 0 0 7 * * MON-FRI in Europe/Berlin"),
        "{:?}",
        job.description
    );
    let desired = desired(vec![experiment("exp")], vec![run]);
    let observed = observed(&[exp()], &[job]);
    let options = PlanOptions::default();

    let winter = plan(&desired, &observed, ts("2027-02-01T00:00:00Z"), &options);
    assert!(winter.jobs.is_empty(), "{winter:?}");
    assert!(winter.warnings.is_empty(), "{:?}", winter.warnings);

    let soon = plan(&desired, &observed, ts("2027-03-22T00:00:00Z"), &options);
    assert!(soon.jobs.is_empty(), "{soon:?}");
    assert!(
        matches!(&soon.warnings[..], [Warning::UtcOffsetChangesSoon { zone, date, .. }]
            if zone == "Europe/Berlin" && date == "2027-03-28"),
        "{:?}",
        soon.warnings
    );

    let after = plan(&desired, &observed, ts("2027-03-29T00:00:00Z"), &options);
    let job = &after.jobs[0];
    assert_eq!(job.change, JobChange::Replace);
    assert_eq!(
        job.reasons,
        vec![Reason::UtcOffsetChanges {
            zone: "Europe/Berlin".to_owned(),
            date: "2027-03-28".to_owned(),
        }]
    );
    assert_eq!(
        job.reasons[0].to_string(),
        "UTC offset of Europe/Berlin changes on 2027-03-28"
    );
    let version = new_version(&job.actions[0]);
    assert_eq!(
        version.schedule,
        PlannedSchedule::Cron("0 0 5 * * MON-FRI".to_owned())
    );
    assert_eq!(
        version.zone.as_ref().unwrap().local_cron,
        "0 0 7 * * MON-FRI"
    );
}

#[test]
fn what_the_user_wrote_is_compared_not_the_translation() {
    let job = job_for(
        &berlin("0 0 7 * * MON-FRI"),
        "2027-01-10T00:00:00Z",
        "j1",
        true,
        "exp-1",
    );
    let observed = observed(&[exp()], &[job]);
    let now = ts("2027-02-01T00:00:00Z");

    let moved = desired(vec![experiment("exp")], vec![berlin("0 0 8 * * MON-FRI")]);
    let planned = plan(&moved, &observed, now, &PlanOptions::default());
    let diff = &planned.jobs[0].diffs[0];
    assert_eq!(diff.field, "trigger.cron");
    assert_eq!(
        diff.observed.as_deref(),
        Some("0 0 7 * * MON-FRI in Europe/Berlin")
    );
    assert_eq!(
        diff.desired.as_deref(),
        Some("0 0 8 * * MON-FRI in Europe/Berlin")
    );
    assert!(matches!(
        &planned.jobs[0].reasons[0],
        Reason::Differs { .. }
    ));

    // Without the zone, the version is replaced by one in the scheduler's zone.
    let mut utc = berlin("0 0 6 * * MON-FRI");
    utc.trigger.zone = None;
    let planned = plan(
        &desired(vec![experiment("exp")], vec![utc]),
        &observed,
        now,
        &PlanOptions::default(),
    );
    let fields: Vec<&str> = planned.jobs[0]
        .diffs
        .iter()
        .map(|diff| diff.field.as_str())
        .collect();
    assert_eq!(fields, ["trigger.timezone"]);
}

#[test]
fn a_cron_that_cannot_be_translated_at_the_clock_is_left_alone_with_a_warning() {
    let planned = plan(
        &desired(vec![experiment("exp")], vec![berlin("0 30 2 * * *")]),
        &observed(&[exp()], &[]),
        ts("2027-02-01T00:00:00Z"),
        &PlanOptions::default(),
    );
    assert!(planned.jobs.is_empty(), "{planned:?}");
    assert!(
        matches!(&planned.warnings[..], [Warning::ScheduleNotTranslatable { reason, .. }]
            if reason.contains("does not exist there")),
        "{:?}",
        planned.warnings
    );
}

#[test]
fn a_coming_change_of_offset_is_a_warning_only_when_no_reconcile_follows_it_before_the_next_fire() {
    let run = berlin("0 0 7 * * MON-FRI");
    let job = job_for(&run, "2027-01-10T00:00:00Z", "j1", true, "exp-1");
    let desired = desired(vec![experiment("exp")], vec![run]);
    let observed = observed(&[exp()], &[job]);
    // The offset changes on Sunday 2027-03-28 at 01:00 UTC; the next fire is Monday 05:00 UTC.
    let warned = |every: Option<std::time::Duration>| {
        let options = PlanOptions {
            reconciled_every: every,
            ..PlanOptions::default()
        };
        let soon = plan(&desired, &observed, ts("2027-03-22T00:00:00Z"), &options);
        soon.warnings
            .iter()
            .any(|warning| matches!(warning, Warning::UtcOffsetChangesSoon { .. }))
    };
    assert!(warned(None), "nothing reconciles on its own");
    assert!(!warned(Some(std::time::Duration::from_secs(3600))));
    assert!(!warned(Some(std::time::Duration::from_secs(27 * 3600))));
    assert!(
        warned(Some(std::time::Duration::from_secs(2 * 86_400))),
        "a reconcile every two days may come after Monday's fire"
    );
}
