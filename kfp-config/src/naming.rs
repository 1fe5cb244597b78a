//! The names of recurring-run versions, compatible with the reference scripts.
//!
//! A version of the logical job `nightly` is a KFP job named `GIT::nightly__2024-01-02T03-04-05Z`. The reference
//! scripts recognise their jobs with the regular expression
//! `^GIT::(?P<job_name>.*)__(?P<timestamp>\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)$`; [`parse_version_name`] accepts exactly
//! what that expression accepts (the job name is everything between the prefix and the *last* `__` that is followed
//! by a timestamp), except that the timestamp must also be a real UTC date and time, because versions are ordered
//! by it.
//!
//! Runs started by hand (`kfp-gitops run`, `kfp-gitops trigger`) are named `MANUAL::{name}__{timestamp}` with the
//! same timestamp form ([`manual_run_name`]).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// The prefix that marks a KFP job as managed by kfp-gitops (and by the reference scripts).
pub const MANAGED_PREFIX: &str = "GIT::";

/// The prefix of runs started by hand: `kfp-gitops run` and `kfp-gitops trigger`.
pub const MANUAL_PREFIX: &str = "MANUAL::";

/// The prefix of the run that verifies a new version before it takes over the schedule.
pub const VERIFY_PREFIX: &str = "VERIFY::";

/// Length of the `YYYY-MM-DDTHH-MM-SSZ` suffix.
pub(crate) const STAMP_LEN: usize = 20;

/// The size, in characters, of KFP's job and experiment name columns.
pub const KFP_NAME_CHARS: usize = 255;

/// What a version name adds to a recurring run's name: `GIT::`, `__` and a 20-character timestamp.
const VERSION_NAME_OVERHEAD: usize = MANAGED_PREFIX.len() + "__".len() + STAMP_LEN;

/// The longest recurring-run name whose version names KFP stores whole.
pub const MAX_JOB_NAME_CHARS: usize = KFP_NAME_CHARS - VERSION_NAME_OVERHEAD;

/// The JSON Schema `pattern` (ECMA 262) of a name without control characters.
pub const NO_CONTROL_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// The JSON Schema `pattern` of a version-name timestamp after `__`, which a job name must not contain.
pub const VERSION_SUFFIX_PATTERN: &str = "__[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}Z";

/// A managed version name, split into its logical job name and its timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionName {
    /// The logical job name (`job.name` in `recurring_runs.yaml`).
    pub job: String,
    /// When the version was made, to the second (UTC).
    pub timestamp: Timestamp,
}

/// The KFP display name of the version of `job` made at `timestamp` (sub-second precision is dropped).
pub fn version_name(job: &str, timestamp: Timestamp) -> String {
    format!("{MANAGED_PREFIX}{job}__{}", format_stamp(timestamp))
}

/// The KFP display name of a run of `name` started by hand at `timestamp`:
/// `MANUAL::{name}__{YYYY-MM-DDTHH-MM-SSZ}` (UTC).
pub fn manual_run_name(name: &str, timestamp: Timestamp) -> String {
    format!("{MANUAL_PREFIX}{name}__{}", format_stamp(timestamp))
}

/// The KFP display name of the run that verifies a new version of the recurring run `job`, started at
/// `timestamp`: `VERIFY::{job}__{YYYY-MM-DDTHH-MM-SSZ}` (UTC).
pub fn verify_run_name(job: &str, timestamp: Timestamp) -> String {
    format!("{VERIFY_PREFIX}{job}__{}", format_stamp(timestamp))
}

/// Whether `name` names a verification run of the recurring run `job` (any timestamp).
pub fn is_verify_run_of(name: &str, job: &str) -> bool {
    name.strip_prefix(VERIFY_PREFIX)
        .and_then(|rest| rest.strip_prefix(job))
        .and_then(|rest| rest.strip_prefix("__"))
        .is_some_and(|stamp| parse_stamp(stamp).is_some())
}

/// `YYYY-MM-DDTHH-MM-SSZ` in UTC, the timestamp form used in version names.
pub fn format_stamp(timestamp: Timestamp) -> String {
    let dt = Offset::UTC.to_datetime(timestamp);
    format!(
        "{:04}-{:02}-{:02}T{:02}-{:02}-{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Splits a KFP job name into job name and timestamp if it names a managed version.
///
/// Returns `None` for names the reference regular expression would not match, and for timestamps that are
/// not a real date and time (such as month 13), which cannot be ordered.
pub fn parse_version_name(name: &str) -> Option<VersionName> {
    let rest = name.strip_prefix(MANAGED_PREFIX)?;
    if rest.len() < STAMP_LEN + 2 || !rest.is_char_boundary(rest.len() - STAMP_LEN) {
        return None;
    }
    let (head, stamp) = rest.split_at(rest.len() - STAMP_LEN);
    let job = head.strip_suffix("__")?;
    let timestamp = parse_stamp(stamp)?;
    Some(VersionName {
        job: job.to_owned(),
        timestamp,
    })
}

/// Parses `YYYY-MM-DDTHH-MM-SSZ` (ASCII digits only, as the reference expression's `\d` effectively means for
/// names KFP accepts).
fn parse_stamp(stamp: &str) -> Option<Timestamp> {
    let bytes = stamp.as_bytes();
    if bytes.len() != STAMP_LEN {
        return None;
    }
    let shape_ok = bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 | 13 | 16 => *b == b'-',
        10 => *b == b'T',
        19 => *b == b'Z',
        _ => b.is_ascii_digit(),
    });
    if !shape_ok {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> { stamp.get(range)?.parse().ok() };
    let dt = DateTime::new(
        i16::try_from(number(0..4)?).ok()?,
        i8::try_from(number(5..7)?).ok()?,
        i8::try_from(number(8..10)?).ok()?,
        i8::try_from(number(11..13)?).ok()?,
        i8::try_from(number(14..16)?).ok()?,
        i8::try_from(number(17..19)?).ok()?,
        0,
    )
    .ok()?;
    Offset::UTC.to_timestamp(dt).ok()
}

/// The timestamp for a new version: `now` truncated to the second, or one second after `newest_existing` when
/// that is not later, so names stay unique and ordered even with a clock behind the cluster's history.
pub fn next_version_timestamp(now: Timestamp, newest_existing: Option<Timestamp>) -> Timestamp {
    let now = truncate_to_second(now);
    match newest_existing {
        Some(newest) if newest >= now => {
            let bumped = truncate_to_second(newest).as_second().saturating_add(1);
            Timestamp::from_second(bumped).unwrap_or(Timestamp::MAX)
        }
        _ => now,
    }
}

/// Drops the sub-second part (KFP stores every time as whole seconds).
pub fn truncate_to_second(ts: Timestamp) -> Timestamp {
    Timestamp::from_second(ts.as_second()).unwrap_or(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn names_a_version_with_the_reference_format() {
        assert_eq!(
            version_name("nightly", ts("2024-01-02T03:04:05.9Z")),
            "GIT::nightly__2024-01-02T03-04-05Z"
        );
    }

    #[test]
    fn manual_run_names_follow_the_manual_pattern_in_utc() {
        let now: Timestamp = "2024-01-02T03:04:05.678+02:00".parse().unwrap();
        assert_eq!(
            manual_run_name("hello", now),
            "MANUAL::hello__2024-01-02T01-04-05Z"
        );
    }

    #[test]
    fn verify_run_names_are_recognised_for_their_job_only() {
        let now: Timestamp = "2024-01-02T03:04:05.678Z".parse().unwrap();
        let name = verify_run_name("nightly", now);
        assert_eq!(name, "VERIFY::nightly__2024-01-02T03-04-05Z");
        assert!(is_verify_run_of(&name, "nightly"));
        assert!(!is_verify_run_of(&name, "night"));
        assert!(!is_verify_run_of(&name, "nightly__2024"));
        assert!(!is_verify_run_of(
            "MANUAL::nightly__2024-01-02T03-04-05Z",
            "nightly"
        ));
        assert!(!is_verify_run_of("VERIFY::nightly__yesterday", "nightly"));
    }

    #[test]
    fn parses_what_it_formats() {
        let name = version_name("a__b", ts("2030-12-31T23:59:59Z"));
        assert_eq!(
            parse_version_name(&name),
            Some(VersionName {
                job: "a__b".into(),
                timestamp: ts("2030-12-31T23:59:59Z")
            })
        );
    }

    #[test]
    fn job_name_is_greedy_like_the_reference_expression() {
        let parsed =
            parse_version_name("GIT::x__2020-01-01T00-00-00Z__2021-01-01T00-00-00Z").unwrap();
        assert_eq!(parsed.job, "x__2020-01-01T00-00-00Z");
        assert_eq!(parsed.timestamp, ts("2021-01-01T00:00:00Z"));
    }

    #[test]
    fn an_empty_job_name_is_accepted_as_the_expression_does() {
        assert_eq!(
            parse_version_name("GIT::__2021-01-01T00-00-00Z")
                .unwrap()
                .job,
            ""
        );
    }

    #[test]
    fn rejects_names_the_reference_expression_rejects() {
        for name in [
            "nightly",
            "GIT::nightly",
            "git::nightly__2024-01-02T03-04-05Z",
            "GIT::nightly_2024-01-02T03-04-05Z",
            "GIT::nightly__2024-01-02T03:04:05Z",
            "GIT::nightly__2024-01-02T03-04-05",
            "GIT::nightly__2024-01-02T03-04-05Z ",
            "GIT::nightly__24-01-02T03-04-05Z",
            "GIT::nightly__2024-01-02T03-04-0éZ",
        ] {
            assert_eq!(parse_version_name(name), None, "{name}");
        }
    }

    #[test]
    fn rejects_timestamps_that_are_not_real_dates() {
        assert_eq!(parse_version_name("GIT::n__2024-13-02T03-04-05Z"), None);
        assert_eq!(parse_version_name("GIT::n__2023-02-29T03-04-05Z"), None);
    }

    #[test]
    fn a_new_version_is_stamped_now_when_now_is_later_than_every_version() {
        assert_eq!(
            next_version_timestamp(
                ts("2024-01-02T03:04:05.7Z"),
                Some(ts("2024-01-01T00:00:00Z"))
            ),
            ts("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            next_version_timestamp(ts("2024-01-02T03:04:05Z"), None),
            ts("2024-01-02T03:04:05Z")
        );
    }

    #[test]
    fn a_new_version_is_bumped_one_second_past_a_colliding_or_later_version() {
        assert_eq!(
            next_version_timestamp(
                ts("2024-01-02T03:04:05.2Z"),
                Some(ts("2024-01-02T03:04:05Z"))
            ),
            ts("2024-01-02T03:04:06Z")
        );
        assert_eq!(
            next_version_timestamp(ts("2024-01-02T03:04:05Z"), Some(ts("2025-06-01T00:00:00Z"))),
            ts("2025-06-01T00:00:01Z")
        );
    }
}
