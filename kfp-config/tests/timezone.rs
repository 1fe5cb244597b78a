//! Table tests of the time-zone translation of cron schedules, checked against jiff: the translated cron's
//! fires (as KFP computes them, in UTC) must be exactly the local cron's fires in the zone, turned into
//! instants by jiff, between the plan's clock and the next change of the zone's UTC offset.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use kfp_config::next_fire_times;
use kfp_config::{ZoneError, last_change, next_change, translate, zone};

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The local cron's fires in `tz` strictly after `at`, as instants, until `until`.
fn local_fires(cron: &str, tz: &TimeZone, at: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    // next_fire_times works on civil times labelled UTC: feed it the local civil time.
    let local_now: DateTime = tz.to_datetime(at);
    let start = TimeZone::UTC.to_timestamp(local_now).unwrap();
    next_fire_times(cron, start, 2000)
        .into_iter()
        .map(|civil_as_utc| {
            let civil = TimeZone::UTC.to_datetime(civil_as_utc);
            tz.to_ambiguous_timestamp(civil).unambiguous().unwrap()
        })
        .filter(|t| *t > at && *t < until)
        .collect()
}

fn scheduler_fires(cron: &str, at: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    next_fire_times(cron, at, 2000)
        .into_iter()
        .filter(|t| *t < until)
        .collect()
}

/// Translates at `at` for a UTC scheduler, checks the result against jiff up to the next offset change
/// (at most 60 days ahead) and returns it.
fn checked(cron: &str, name: &str, at: &str) -> String {
    let tz = zone(name).unwrap();
    let at = ts(at);
    let translated = translate(cron, &tz, &TimeZone::UTC, at)
        .unwrap_or_else(|err| panic!("{cron} in {name} at {at}: {err}"));
    let horizon = at
        .checked_add(jiff::SignedDuration::from_hours(24 * 45))
        .unwrap();
    let until = next_change(&tz, &TimeZone::UTC, at, 45).map_or(horizon, |t| t.min(horizon));
    let expected = local_fires(cron, &tz, at, until);
    let actual = scheduler_fires(&translated, at, until);
    if until.duration_since(at) > jiff::SignedDuration::from_hours(24 * 32) {
        assert!(
            !expected.is_empty(),
            "{cron} in {name} never fires before {until}"
        );
    }
    assert_eq!(actual, expected, "{cron} in {name} at {at} -> {translated}");
    translated
}

const WINTER: &str = "2027-01-15T12:00:00Z";
const SUMMER: &str = "2027-07-15T12:00:00Z";

#[test]
fn translations_fire_at_the_same_local_times_in_ten_zones_on_both_sides_of_2027s_transitions() {
    // (zone, cron, at, expected translation)
    let cases = [
        // Central Europe: +01:00 in winter, +02:00 from 2027-03-28, +01:00 again from 2027-10-31.
        (
            "Europe/Berlin",
            "0 0 7 * * MON-FRI",
            WINTER,
            "0 0 6 * * MON-FRI",
        ),
        (
            "Europe/Berlin",
            "0 0 7 * * MON-FRI",
            SUMMER,
            "0 0 5 * * MON-FRI",
        ),
        (
            "Europe/Berlin",
            "0 0 7 * * MON-FRI",
            "2027-03-28T00:59:59Z",
            "0 0 6 * * MON-FRI",
        ),
        (
            "Europe/Berlin",
            "0 0 7 * * MON-FRI",
            "2027-03-28T01:00:00Z",
            "0 0 5 * * MON-FRI",
        ),
        (
            "Europe/Berlin",
            "0 0 7 * * MON-FRI",
            "2027-10-31T01:00:00Z",
            "0 0 6 * * MON-FRI",
        ),
        // Across midnight: the day of week moves back.
        ("Europe/Berlin", "0 30 0 * * MON", WINTER, "0 30 23 * * 0"),
        (
            "Europe/Berlin",
            "0 30 1 * * MON,FRI",
            SUMMER,
            "0 30 23 * * 0,4",
        ),
        ("Europe/London", "0 15 8 * * *", WINTER, "0 15 8 * * *"),
        ("Europe/London", "0 15 8 * * *", SUMMER, "0 15 7 * * *"),
        // Half-hour offsets: +05:30 all year.
        ("Asia/Kolkata", "0 30 9 * * *", WINTER, "0 0 4 * * *"),
        ("Asia/Kolkata", "0 0 9 * * *", SUMMER, "0 30 3 * * *"),
        ("Asia/Kolkata", "0 0 3 * * SUN", WINTER, "0 30 21 * * 6"),
        // Southern hemisphere, half-hour: +10:30 in (southern) summer, +09:30 from 2027-04-04.
        ("Australia/Adelaide", "0 0 9 * * *", WINTER, "0 30 22 * * *"),
        ("Australia/Adelaide", "0 0 9 * * *", SUMMER, "0 30 23 * * *"),
        (
            "Australia/Adelaide",
            "0 0 9 * * MON-FRI",
            SUMMER,
            "0 30 23 * * 0-4",
        ),
        // Southern hemisphere: Sydney +11:00 / +10:00.
        ("Australia/Sydney", "0 0 12 * * *", WINTER, "0 0 1 * * *"),
        ("Australia/Sydney", "0 0 12 * * *", SUMMER, "0 0 2 * * *"),
        // Americas.
        (
            "America/New_York",
            "0 0 18 * * FRI",
            WINTER,
            "0 0 23 * * FRI",
        ),
        ("America/New_York", "0 0 20 * * FRI", SUMMER, "0 0 0 * * 6"),
        ("America/Sao_Paulo", "0 0 8 * * *", WINTER, "0 0 11 * * *"),
        // Zones that abolished DST: Sao Paulo (2019), Istanbul (2016), Moscow (2014): one translation.
        ("America/Sao_Paulo", "0 0 8 * * *", SUMMER, "0 0 11 * * *"),
        ("Europe/Istanbul", "0 0 10 * * *", SUMMER, "0 0 7 * * *"),
        ("Europe/Moscow", "0 0 1 * * *", WINTER, "0 0 22 * * *"),
        // +05:45 and +12:45/+13:45.
        ("Asia/Kathmandu", "0 45 6 * * *", WINTER, "0 0 1 * * *"),
        ("Pacific/Chatham", "0 45 12 * * *", WINTER, "0 0 23 * * *"),
        ("Pacific/Chatham", "0 45 12 * * *", SUMMER, "0 0 0 * * *"),
        // Lists, ranges and steps of minutes and hours.
        (
            "Europe/Berlin",
            "0 0,30 8-17 * * MON-FRI",
            WINTER,
            "0 0,30 7-16 * * MON-FRI",
        ),
        (
            "Europe/Berlin",
            "0 */15 9-17 * * *",
            SUMMER,
            "0 */15 7-15 * * *",
        ),
        ("Asia/Kolkata", "0 30 10,11 * * *", WINTER, "0 0 5,6 * * *"),
        // Month and day-of-month fields stay when no time changes day.
        ("Europe/Berlin", "0 0 9 1 * *", WINTER, "0 0 8 1 * *"),
        (
            "Europe/Berlin",
            "0 0 9 * JAN,JUL *",
            SUMMER,
            "0 0 7 * JAN,JUL *",
        ),
        // Descriptors are written out.
        ("Europe/Berlin", "@daily", WINTER, "0 0 23 * * *"),
        ("America/New_York", "@weekly", WINTER, "0 0 5 * * 0"),
        ("UTC", "0 0 7 * * *", SUMMER, "0 0 7 * * *"),
    ];
    for (name, cron, at, expected) in cases {
        assert_eq!(
            checked(cron, name, at),
            expected,
            "{cron} in {name} at {at}"
        );
    }
}

#[test]
fn every_intervals_are_not_translated() {
    let tz = zone("Europe/Berlin").unwrap();
    assert_eq!(
        translate("@every 1h", &tz, &TimeZone::UTC, ts(WINTER)).unwrap(),
        "@every 1h"
    );
}

#[test]
fn a_scheduler_in_another_zone_gets_the_difference_of_the_offsets() {
    let berlin = zone("Europe/Berlin").unwrap();
    let new_york = zone("America/New_York").unwrap();
    // Berlin 15:00 is New York 09:00 most of the year...
    assert_eq!(
        translate("0 0 15 * * *", &berlin, &new_york, ts(WINTER)).unwrap(),
        "0 0 9 * * *"
    );
    // ...and 10:00 between the US change (2027-03-14) and the European one (2027-03-28).
    assert_eq!(
        translate(
            "0 0 15 * * *",
            &berlin,
            &new_york,
            ts("2027-03-20T12:00:00Z")
        )
        .unwrap(),
        "0 0 10 * * *"
    );
    assert_eq!(
        next_change(&berlin, &new_york, ts(WINTER), 366),
        Some(ts("2027-03-14T07:00:00Z"))
    );
    // Same zone: nothing to translate.
    assert_eq!(
        translate("0 0 15 * * *", &berlin, &berlin, ts(WINTER)).unwrap(),
        "0 0 15 * * *"
    );
}

#[test]
fn the_changes_of_the_translation_are_found_on_both_sides() {
    let berlin = zone("Europe/Berlin").unwrap();
    assert_eq!(
        next_change(&berlin, &TimeZone::UTC, ts(WINTER), 366),
        Some(ts("2027-03-28T01:00:00Z"))
    );
    assert_eq!(
        next_change(&berlin, &TimeZone::UTC, ts(SUMMER), 366),
        Some(ts("2027-10-31T01:00:00Z"))
    );
    assert_eq!(next_change(&berlin, &TimeZone::UTC, ts(WINTER), 7), None);
    assert_eq!(
        last_change(&berlin, &TimeZone::UTC, ts(SUMMER)),
        Some(ts("2027-03-28T01:00:00Z"))
    );
    assert_eq!(
        last_change(&berlin, &TimeZone::UTC, ts("2027-03-28T01:00:00Z")),
        Some(ts("2027-03-28T01:00:00Z"))
    );
    let kolkata = zone("Asia/Kolkata").unwrap();
    assert_eq!(next_change(&kolkata, &TimeZone::UTC, ts(WINTER), 366), None);
}

fn refused(cron: &str, name: &str, at: &str) -> ZoneError {
    let tz = zone(name).unwrap();
    let err = translate(cron, &tz, &TimeZone::UTC, ts(at))
        .expect_err(&format!("{cron} in {name} at {at} should be refused"));
    assert!(err.hint().is_some(), "{err} has a tip");
    err
}

#[test]
fn every_refusal_has_its_reason() {
    // A day of month crossed by the shift.
    assert!(matches!(
        refused("0 30 0 1 * *", "Europe/Berlin", WINTER),
        ZoneError::DayOfMonthCrossed { .. }
    ));
    assert!(matches!(
        refused("0 0 9 15 * *", "Australia/Sydney", SUMMER),
        ZoneError::DayOfMonthCrossed { .. }
    ));
    // A month crossed by the shift.
    assert!(matches!(
        refused("0 30 0 * JAN *", "Europe/Berlin", WINTER),
        ZoneError::MonthCrossed { .. }
    ));
    // Some times cross midnight, others not, on restricted days.
    assert!(matches!(
        refused("0 30 0,12 * * MON", "Europe/Berlin", WINTER),
        ZoneError::SplitDays { .. }
    ));
    // Minutes on both sides of the half hour: no cross product.
    assert!(matches!(
        refused("0 15,45 9 * * *", "Asia/Kolkata", WINTER),
        ZoneError::NotRepresentable { .. }
    ));
    // DST gap: 02:30 does not exist in Berlin on 2027-03-28 (nor in New York on 2027-03-14).
    let gap = refused("0 30 2 * * *", "Europe/Berlin", WINTER);
    assert!(matches!(gap, ZoneError::DstGap { .. }), "{gap}");
    assert!(gap.to_string().contains("2027-03-28 02:30:00"), "{gap}");
    assert!(matches!(
        refused("0 30 2 * * SUN", "America/New_York", WINTER),
        ZoneError::DstGap { .. }
    ));
    // DST overlap: 02:30 happens twice in Berlin on 2027-10-31, 02:30 in Adelaide on 2027-04-04.
    let overlap = refused("0 30 2 * * *", "Europe/Berlin", SUMMER);
    assert!(matches!(overlap, ZoneError::DstOverlap { .. }), "{overlap}");
    assert!(
        overlap.to_string().contains("2027-10-31 02:30:00"),
        "{overlap}"
    );
    assert!(matches!(
        refused("0 30 2 * * *", "Australia/Adelaide", WINTER),
        ZoneError::DstOverlap { .. }
    ));
    // Not a whole number of minutes: Monrovia was -00:44:30 until 1972.
    assert!(matches!(
        refused("0 0 9 * * *", "Africa/Monrovia", "1971-06-01T12:00:00Z"),
        ZoneError::NotWholeMinutes { .. }
    ));
    // An unknown zone.
    assert!(matches!(
        zone("Mars/Olympus_Mons"),
        Err(ZoneError::UnknownZone { .. })
    ));
}

#[test]
fn times_that_avoid_the_change_are_accepted_on_restricted_days() {
    // Berlin changes on Sundays: 02:30 on weekdays never falls into the gap or the overlap.
    assert_eq!(
        checked("0 30 2 * * MON-FRI", "Europe/Berlin", WINTER),
        "0 30 1 * * MON-FRI"
    );
    // Zones without DST have no gaps.
    assert_eq!(
        checked("0 30 2 * * *", "Asia/Kolkata", WINTER),
        "0 0 21 * * *"
    );
}

#[test]
fn zone_data_is_bundled_not_read_from_the_host() {
    // The bundled database answers for any IANA name whatever /usr/share/zoneinfo holds.
    for name in [
        "Europe/Berlin",
        "asia/kolkata",
        "Australia/Adelaide",
        "UTC",
        "Etc/GMT+5",
    ] {
        assert!(zone(name).is_ok(), "{name}");
    }
}

const RUNS: &str = r#"recurring_runs:
  - pipeline_source:
      path: workflow.yaml
    job:
      enabled: true
      name: morning
      description: ~
      experiment: reports
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "0 30 0 1 * *"
"#;

fn problems_with(zones: kfp_config::ScheduleZones) -> Vec<kfp_config::Problem> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("experiments.yaml"),
        "experiments:\n  - name: reports\n    description: ~\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("recurring_runs.yaml"), RUNS).unwrap();
    kfp_config::validate_namespace(
        dir.path(),
        &kfp_config::LoadOptions {
            namespace: Some("team-1".to_owned()),
            offline: true,
            zones,
            ..kfp_config::LoadOptions::default()
        },
    )
    .problems
}

#[test]
fn the_project_default_zone_is_checked_at_the_cron_with_its_origin() {
    use kfp_config::ScheduleZones;
    let zones = ScheduleZones {
        default_timezone: Some("Europe/Berlin".to_owned()),
        scheduler_timezone: "UTC".to_owned(),
        at: ts(WINTER),
    };
    let problems = problems_with(zones.clone());
    let problem = problems
        .iter()
        .find(|p| p.pointer == "/recurring_runs/0/job/trigger/cron")
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert_eq!(problem.line, Some(12));
    assert!(
        problem.message.contains("day-of-month field"),
        "{}",
        problem.message
    );
    assert!(
        problem.message.contains("defaults.timezone"),
        "{}",
        problem.message
    );
    assert!(problem.tip.is_some());
    // In the scheduler's zone the same cron is fine.
    let utc = ScheduleZones {
        default_timezone: Some("UTC".to_owned()),
        ..zones
    };
    assert!(
        !problems_with(utc)
            .iter()
            .any(|p| p.pointer.ends_with("/trigger/cron")),
    );
}

#[test]
fn the_project_file_names_known_zones() {
    use kfp_config::ProjectFile;
    let file =
        ProjectFile::parse("scheduler_timezone: UTC\ndefaults:\n  timezone: Europe/Berlin\n")
            .unwrap();
    assert_eq!(file.defaults.timezone.as_deref(), Some("Europe/Berlin"));
    for text in [
        "scheduler_timezone: Europe/Berlim\n",
        "defaults:\n  timezone: Mars/Olympus_Mons\n",
    ] {
        let err = ProjectFile::parse(text).unwrap_err().to_string();
        assert!(err.contains("unknown time zone"), "{err}");
    }
}
