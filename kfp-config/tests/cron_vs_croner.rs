//! Our robfig/cron v1.2.0 fire times agree with an independent implementation (croner) on every
//! expression where the two libraries define the same schedule.

use chrono::{DateTime, NaiveDateTime, Utc};
use croner::parser::{CronParser, Seconds};
use jiff::Timestamp;

/// Expressions outside robfig's one quirk (`*/N` still counting as `*` when day-of-month and
/// day-of-week are combined), in the syntax both accept.
const EXPRESSIONS: &[&str] = &[
    "0 0 0 * * *",
    "*/15 * * * * *",
    "0 30 9 * * 1-5",
    "0 0 12 1,15 * *",
    "0 0 0 1 1-3,12 *",
    "0 0 0 * * 0",
    "5-50/10 0 0 * * *",
    "0 0 0 13 * 5",
    "0 */20 8-18 * * *",
    "30 59 23 31 12 *",
    "0 0 0 29 2 *",
    "0 0 4 8-14 * 1",
];

fn ours(expr: &str, after: Timestamp, n: usize) -> Vec<i64> {
    kfp_config::next_fire_times(expr, after, n)
        .iter()
        .map(|t| t.as_second())
        .collect()
}

fn croner(expr: &str, after: Timestamp, n: usize) -> Vec<i64> {
    let cron = CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expr)
        .unwrap();
    let start: NaiveDateTime = DateTime::<Utc>::from_timestamp(after.as_second(), 0)
        .unwrap()
        .naive_utc();
    cron.iter_after(start)
        .take(n)
        .map(|time| time.and_utc().timestamp())
        .collect()
}

#[test]
fn fire_times_agree_with_croner() {
    let starts = [
        "2024-01-01T00:00:00Z",
        "2024-02-28T23:59:59Z",
        "2025-06-15T12:34:56Z",
        "2027-12-31T23:00:00Z",
    ];
    for expr in EXPRESSIONS {
        kfp_config::validate_cron(expr).unwrap();
        for start in starts {
            // 12 times: robfig stops looking five years ahead, so after 2096 it never finds the next
            // leap day (2104), while croner keeps going.
            let after: Timestamp = start.parse().unwrap();
            assert_eq!(
                ours(expr, after, 12),
                croner(expr, after, 12),
                "{expr} after {start}"
            );
        }
    }
}
