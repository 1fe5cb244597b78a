//! Cron expressions exactly as KFP v1's scheduled-workflow controller reads them.
//!
//! KFP v1 parses `cron_schedule.cron` with `cron.Parse` of `github.com/robfig/cron` v1.2.0: six fields
//! with **seconds first** (`sec min hour dom month dow`), `* , - / ?`, month and weekday names, the
//! descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly` and `@every <Go duration>`.
//! That parser also accepts five fields, reading them as `sec min hour dom month` with any weekday, so
//! the usual `0 0 * * *` runs every hour; this module rejects five fields with a tip instead.
//!
//! [`next_fire_times`] follows the same library's `Next` algorithm (in UTC, KFP's default
//! `CRON_SCHEDULE_TIMEZONE`), so plan output shows what KFP will actually do; a test checks it against
//! croner, an independent implementation, wherever the two libraries define the same schedule.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

mod duration;
pub(crate) mod timezone;

pub use timezone::{
    DEFAULT_SCHEDULER_TIMEZONE, ScheduleZones, ZoneError, last_change, next_change, translate, zone,
};

pub use duration::parse_go_duration;

/// Why a cron expression is not usable by KFP v1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression is empty.
    #[error("the cron expression is empty")]
    Empty,
    /// Five fields: robfig/cron reads them as `sec min hour dom month`.
    #[error(
        "the cron expression `{expr}` has 5 fields, but KFP cron expressions have 6 (seconds first)"
    )]
    FiveFields {
        /// The expression.
        expr: String,
    },
    /// A field count other than 5 or 6.
    #[error(
        "the cron expression `{expr}` has {count} fields, expected 6: `second minute hour day-of-month month day-of-week`"
    )]
    FieldCount {
        /// The expression.
        expr: String,
        /// How many fields it has.
        count: usize,
    },
    /// One field is invalid.
    #[error("invalid {field} field `{value}` in cron expression `{expr}`: {reason}")]
    Field {
        /// The expression.
        expr: String,
        /// Which field (`second`, `minute`, ...).
        field: &'static str,
        /// The field's text.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// An `@` word that robfig/cron does not know.
    #[error(
        "unknown cron descriptor `{expr}`; known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>"
    )]
    UnknownDescriptor {
        /// The expression.
        expr: String,
    },
    /// `@every` with a duration Go's `time.ParseDuration` rejects, or below one second.
    #[error("invalid duration in `{expr}`: {reason}")]
    Every {
        /// The expression.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// The expression is valid but never fires (for example the 30th of February).
    #[error("the cron expression `{expr}` never fires")]
    NeverFires {
        /// The expression.
        expr: String,
    },
}

impl CronError {
    /// Advice for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            CronError::FiveFields { expr } => {
                let mut fields = expr.split_whitespace();
                let example = match (fields.next(), fields.next()) {
                    (Some(minute), Some(hour)) => format!(
                        " For `{expr}` you probably mean `0 {minute} {hour} {}`.",
                        expr.split_whitespace().skip(2).collect::<Vec<_>>().join(" ")
                    ),
                    _ => String::new(),
                };
                Some(format!(
                    "KFP reads 5 fields as `sec min hour dom month`, so `0 0 * * *` would run every hour; \
                     add the seconds field first: `{{second}} {{minute}} {{hour}} {{day_of_month}} {{month}} {{day_of_week}}`.{example}"
                ))
            }
            CronError::FieldCount { .. } | CronError::Field { .. } => Some(
                "KFP cron expressions have 6 fields: `{second} {minute} {hour} {day_of_month} {month} {day_of_week}` \
                 (robfig/cron v1 syntax), or a descriptor such as `@daily` or `@every 1h`"
                    .to_owned(),
            ),
            CronError::Every { .. } => {
                Some("use a Go duration of at least one second, such as `@every 1h30m` or `@every 90s`".to_owned())
            }
            CronError::Empty | CronError::UnknownDescriptor { .. } | CronError::NeverFires { .. } => None,
        }
    }
}

/// A parsed schedule: either fields as bit sets, or a constant delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schedule {
    Spec(Spec),
    /// `@every`: the delay in whole seconds.
    Every(u64),
}

/// Bit sets of the allowed values per field; `STAR` marks a field written as `*` or `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) second: u64,
    pub(crate) minute: u64,
    pub(crate) hour: u64,
    pub(crate) dom: u64,
    pub(crate) month: u64,
    pub(crate) dow: u64,
}

pub(crate) const STAR: u64 = 1 << 63;

struct Bounds {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DOW_NAMES: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const FIELDS: [Bounds; 6] = [
    Bounds {
        name: "second",
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        name: "month",
        min: 1,
        max: 12,
        names: MONTH_NAMES,
    },
    Bounds {
        name: "day-of-week",
        min: 0,
        max: 6,
        names: DOW_NAMES,
    },
];

/// Checks `expr` as KFP v1 (robfig/cron v1.2.0 `cron.Parse`) would, and rejects five-field expressions
/// (which that parser reads with seconds first), `@every` below one second and schedules that never fire.
pub fn validate_cron(expr: &str) -> Result<(), CronError> {
    parse(expr).map(drop)
}

pub(crate) fn parse(expr: &str) -> Result<Schedule, CronError> {
    if expr.is_empty() {
        return Err(CronError::Empty);
    }
    let schedule = if expr.starts_with('@') {
        parse_descriptor(expr)?
    } else {
        parse_fields(expr)?
    };
    if let Schedule::Spec(spec) = schedule {
        let start = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
        // robfig gives up after five years; a leap day fires within any window of that length.
        if spec_next(&spec, start).is_none() {
            return Err(CronError::NeverFires {
                expr: expr.to_owned(),
            });
        }
    }
    Ok(schedule)
}

fn parse_fields(expr: &str) -> Result<Schedule, CronError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match fields.len() {
        0 => return Err(CronError::Empty),
        5 => {
            return Err(CronError::FiveFields {
                expr: expr.to_owned(),
            });
        }
        6 => {}
        count => {
            return Err(CronError::FieldCount {
                expr: expr.to_owned(),
                count,
            });
        }
    }
    let mut bits = [0_u64; 6];
    for (index, (field, bounds)) in fields.iter().zip(FIELDS.iter()).enumerate() {
        bits[index] = parse_field(field, bounds).map_err(|reason| CronError::Field {
            expr: expr.to_owned(),
            field: bounds.name,
            value: (*field).to_owned(),
            reason,
        })?;
    }
    Ok(Schedule::Spec(Spec {
        second: bits[0],
        minute: bits[1],
        hour: bits[2],
        dom: bits[3],
        month: bits[4],
        dow: bits[5],
    }))
}

fn parse_field(field: &str, bounds: &Bounds) -> Result<u64, String> {
    let mut bits = 0;
    // Like Go's strings.FieldsFunc: empty pieces between commas are skipped.
    for range in field.split(',').filter(|piece| !piece.is_empty()) {
        bits |= parse_range(range, bounds)?;
    }
    Ok(bits)
}

fn parse_range(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.min, bounds.max, STAR)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds.names)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds.names)?,
            _ => return Err(format!("too many hyphens in `{expr}`")),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            // `N/step` means `N-max/step`.
            if single {
                end = bounds.max;
            }
            parse_int(range_and_step[1])?
        }
        _ => return Err(format!("too many slashes in `{expr}`")),
    };
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({})",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({})",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end})"
        ));
    }
    if step == 0 {
        return Err("step of range should be a positive number".to_owned());
    }
    let mut bits = 0;
    let mut value = start;
    while value <= end {
        bits |= 1 << value;
        value += step;
    }
    // In v1.2.0 a `*` keeps its star mark even with a step (`*/10`); later versions changed that.
    Ok(bits | extra)
}

fn parse_int_or_name(text: &str, names: &[(&str, u32)]) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == lower) {
        return Ok(*value);
    }
    parse_int(text)
}

/// Go's `strconv.Atoi` of a non-negative number (an optional `+`, decimal digits).
fn parse_int(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a number"));
    }
    digits
        .parse::<u32>()
        .map_err(|_| format!("`{text}` is out of range"))
}

fn parse_descriptor(expr: &str) -> Result<Schedule, CronError> {
    let all = |bounds: &Bounds| -> u64 {
        ((bounds.min..=bounds.max).fold(0, |bits, v| bits | 1 << v)) | STAR
    };
    let spec = |second: u64, minute: u64, hour: u64, dom: u64, month: u64, dow: u64| {
        Schedule::Spec(Spec {
            second,
            minute,
            hour,
            dom,
            month,
            dow,
        })
    };
    let [_, _, hours, doms, months, dows] = &FIELDS;
    Ok(match expr {
        "@yearly" | "@annually" => spec(1, 1, 1, 1 << 1, 1 << 1, all(dows)),
        "@monthly" => spec(1, 1, 1, 1 << 1, all(months), all(dows)),
        "@weekly" => spec(1, 1, 1, all(doms), all(months), 1),
        "@daily" | "@midnight" => spec(1, 1, 1, all(doms), all(months), all(dows)),
        "@hourly" => spec(1, 1, all(hours), all(doms), all(months), all(dows)),
        _ => match expr.strip_prefix("@every ") {
            Some(duration) => {
                let nanos = parse_go_duration(duration).map_err(|reason| CronError::Every {
                    expr: expr.to_owned(),
                    reason,
                })?;
                if nanos < 1_000_000_000 {
                    return Err(CronError::Every {
                        expr: expr.to_owned(),
                        reason: "the interval must be at least one second (KFP would run it every second)".to_owned(),
                    });
                }
                // robfig/cron drops the sub-second part.
                Schedule::Every((nanos / 1_000_000_000) as u64)
            }
            None => {
                return Err(CronError::UnknownDescriptor {
                    expr: expr.to_owned(),
                });
            }
        },
    })
}

/// The next `n` times strictly after `after` at which KFP fires `expr` (UTC), computed as robfig/cron
/// v1.2.0 does (which gives up five years ahead); empty for an invalid expression. For `@every`, each time is the previous one plus the
/// interval (KFP counts from when the recurring run was created or enabled, which a plan cannot know).
pub fn next_fire_times(expr: &str, after: Timestamp, n: usize) -> Vec<Timestamp> {
    let Ok(schedule) = parse(expr) else {
        return Vec::new();
    };
    let mut times = Vec::with_capacity(n);
    let mut current = TimeZone::UTC.to_datetime(after);
    for _ in 0..n {
        let next = match schedule {
            Schedule::Every(seconds) => {
                let Ok(seconds) = i64::try_from(seconds) else {
                    break;
                };
                current
                    .with()
                    .subsec_nanosecond(0)
                    .build()
                    .ok()
                    .and_then(|dt| {
                        dt.checked_add(jiff::SignedDuration::from_secs(seconds))
                            .ok()
                    })
            }
            Schedule::Spec(spec) => spec_next(&spec, current),
        };
        let Some(next) = next else { break };
        let Ok(timestamp) = TimeZone::UTC.to_timestamp(next) else {
            break;
        };
        times.push(timestamp);
        current = next;
    }
    times
}

fn has(bits: u64, value: i8) -> bool {
    bits & (1 << value) != 0
}

fn day_matches(spec: &Spec, date: Date) -> bool {
    let dom = has(spec.dom, date.day());
    let dow = has(spec.dow, date.weekday().to_sunday_zero_offset());
    if spec.dom & STAR != 0 || spec.dow & STAR != 0 {
        dom && dow
    } else {
        dom || dow
    }
}

/// robfig/cron v1.2.0 `SpecSchedule.Next`, on civil UTC times.
pub(crate) fn spec_next(spec: &Spec, after: DateTime) -> Option<DateTime> {
    let one_second = jiff::SignedDuration::from_secs(1);
    let mut t = after
        .with()
        .subsec_nanosecond(0)
        .build()
        .ok()?
        .checked_add(one_second)
        .ok()?;
    let mut added = false;
    let year_limit = t.year() + 5;
    'wrap: loop {
        if t.year() > year_limit {
            return None;
        }
        while !has(spec.month, t.month()) {
            if !added {
                added = true;
                t = DateTime::new(t.year(), t.month(), 1, 0, 0, 0, 0).ok()?;
            }
            t = t.checked_add(jiff::Span::new().months(1)).ok()?;
            if t.month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(spec, t.date()) {
            if !added {
                added = true;
                t = t.date().to_datetime(jiff::civil::Time::midnight());
            }
            t = t.checked_add(jiff::Span::new().days(1)).ok()?;
            if t.day() == 1 {
                continue 'wrap;
            }
        }
        while !has(spec.hour, t.hour()) {
            if !added {
                added = true;
                t = DateTime::new(t.year(), t.month(), t.day(), t.hour(), 0, 0, 0).ok()?;
            }
            t = t.checked_add(jiff::SignedDuration::from_hours(1)).ok()?;
            if t.hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(spec.minute, t.minute()) {
            if !added {
                added = true;
                t = DateTime::new(t.year(), t.month(), t.day(), t.hour(), t.minute(), 0, 0).ok()?;
            }
            t = t.checked_add(jiff::SignedDuration::from_mins(1)).ok()?;
            if t.minute() == 0 {
                continue 'wrap;
            }
        }
        while !has(spec.second, t.second()) {
            added = true;
            t = t.checked_add(one_second).ok()?;
            if t.second() == 0 {
                continue 'wrap;
            }
        }
        return Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(expr: &str, after: &str, n: usize) -> Vec<String> {
        next_fire_times(expr, ts(after), n)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn six_field_expressions_with_every_syntax_are_valid() {
        for expr in [
            "0 0 0 * * *",
            "*/15 * * * * *",
            "0 30 9 * * mon-fri",
            "0 0 12 1,15 * ?",
            "0 0 0 1 jan-mar,DEC *",
            "0 0 0 * * SUN",
            "5/10 0 0 * * *",
            "0 0 0 ? * 0-6/2",
            "0 0 0 1,,2 * *",
            "+0 0 0 * * *",
            "00 00 00 * * *",
            "  0 0 0 * * *  ",
        ] {
            assert_eq!(validate_cron(expr), Ok(()), "{expr}");
        }
    }

    #[test]
    fn descriptors_are_valid() {
        for expr in [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
            "@every 1h30m",
            "@every 1.5h",
            "@every 90s",
        ] {
            assert_eq!(validate_cron(expr), Ok(()), "{expr}");
        }
    }

    #[test]
    fn five_fields_are_rejected_with_the_kfp_reading_as_tip() {
        let err = validate_cron("0 0 * * *").unwrap_err();
        assert_eq!(
            err,
            CronError::FiveFields {
                expr: "0 0 * * *".into()
            }
        );
        let tip = err.hint().unwrap();
        assert!(tip.contains("`sec min hour dom month`"), "{tip}");
        assert!(tip.contains("every hour"), "{tip}");
        assert!(tip.contains("`0 0 0 * * *`"), "{tip}");
    }

    #[test]
    fn wrong_field_counts_and_bad_fields_are_rejected() {
        assert_eq!(validate_cron(""), Err(CronError::Empty));
        assert!(matches!(
            validate_cron("0 0 0 * * * *"),
            Err(CronError::FieldCount { count: 7, .. })
        ));
        assert!(matches!(
            validate_cron("* *"),
            Err(CronError::FieldCount { count: 2, .. })
        ));
        let cases = [
            (
                "60 0 0 * * *",
                "second",
                "end of range (60) above maximum (59)",
            ),
            (
                "0 0 24 * * *",
                "hour",
                "end of range (24) above maximum (23)",
            ),
            (
                "0 0 0 0 * *",
                "day-of-month",
                "beginning of range (0) below minimum (1)",
            ),
            (
                "0 0 0 * 13 *",
                "month",
                "end of range (13) above maximum (12)",
            ),
            (
                "0 0 0 * * 7",
                "day-of-week",
                "end of range (7) above maximum (6)",
            ),
            (
                "0 0 0 * * mon-sun",
                "day-of-week",
                "beginning of range (1) beyond end of range (0)",
            ),
            ("0 0 0 * * x", "day-of-week", "`x` is not a number"),
            (
                "*/0 * * * * *",
                "second",
                "step of range should be a positive number",
            ),
            ("1-2-3 * * * * *", "second", "too many hyphens in `1-2-3`"),
            ("1/2/3 * * * * *", "second", "too many slashes in `1/2/3`"),
            ("L * * * * *", "second", "`L` is not a number"),
            ("0 0 0 * * 1#2", "day-of-week", "`1#2` is not a number"),
        ];
        for (expr, field, reason) in cases {
            match validate_cron(expr) {
                Err(CronError::Field {
                    field: f,
                    reason: r,
                    ..
                }) => {
                    assert_eq!((f, r.as_str()), (field, reason), "{expr}");
                }
                other => panic!("{expr}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_descriptors_and_durations_are_rejected() {
        assert!(matches!(
            validate_cron("@fortnightly"),
            Err(CronError::UnknownDescriptor { .. })
        ));
        assert!(matches!(
            validate_cron("@Daily"),
            Err(CronError::UnknownDescriptor { .. })
        ));
        assert!(matches!(
            validate_cron("@every"),
            Err(CronError::UnknownDescriptor { .. })
        ));
        for expr in [
            "@every 1d",
            "@every 10",
            "@every ",
            "@every  1h",
            "@every 500ms",
            "@every -1h",
            "@every 0",
            "@every h",
        ] {
            assert!(
                matches!(validate_cron(expr), Err(CronError::Every { .. })),
                "{expr}"
            );
        }
    }

    #[test]
    fn go_durations_parse_like_go() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_go_duration("5.s"), Ok(5_000_000_000));
        assert_eq!(parse_go_duration("1µs2us3μs"), Ok(6_000));
        assert_eq!(parse_go_duration("-2m"), Ok(-120_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("1").is_err());
        assert!(parse_go_duration("1x").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("1..5s").is_err());
    }

    #[test]
    fn schedules_that_never_fire_are_rejected() {
        assert!(matches!(
            validate_cron("0 0 0 30 2 *"),
            Err(CronError::NeverFires { .. })
        ));
        assert_eq!(validate_cron("0 0 0 29 2 *"), Ok(()));
    }

    #[test]
    fn next_fire_times_follow_robfig() {
        assert_eq!(
            next("0 0 0 * * *", "2024-01-01T10:00:00Z", 2),
            ["2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"]
        );
        assert_eq!(
            next("*/20 * * * * *", "2024-01-01T10:00:05.5Z", 3),
            [
                "2024-01-01T10:00:20Z",
                "2024-01-01T10:00:40Z",
                "2024-01-01T10:01:00Z"
            ]
        );
        // 2024-01-06 is a Saturday.
        assert_eq!(
            next("0 30 9 * * mon-fri", "2024-01-05T10:00:00Z", 1),
            ["2024-01-08T09:30:00Z"]
        );
        assert_eq!(
            next("@monthly", "2024-01-31T00:00:00Z", 2),
            ["2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"]
        );
        assert_eq!(
            next("@weekly", "2024-01-01T00:00:00Z", 1),
            ["2024-01-07T00:00:00Z"]
        );
        assert_eq!(
            next("@every 1h30m", "2024-01-01T00:00:00.7Z", 2),
            ["2024-01-01T01:30:00Z", "2024-01-01T03:00:00Z"]
        );
        assert_eq!(
            next("0 0 0 29 2 *", "2024-03-01T00:00:00Z", 1),
            ["2028-02-29T00:00:00Z"]
        );
        assert!(next("0 0 * * *", "2024-01-01T00:00:00Z", 1).is_empty());
    }

    #[test]
    fn day_of_month_and_day_of_week_combine_as_in_vixie_cron() {
        // Both restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            next("0 0 0 13 * fri", "2024-09-01T00:00:00Z", 2),
            ["2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z"]
        );
        // One of them `*`: both must match, which the star always does.
        assert_eq!(
            next("0 0 0 13 * *", "2024-09-01T00:00:00Z", 1),
            ["2024-09-13T00:00:00Z"]
        );
        // robfig v1.2.0 still counts `*/10` as a star, so both must match: a Monday on the 1st, 11th, 21st or 31st.
        assert_eq!(
            next("0 0 0 */10 * mon", "2024-09-01T00:00:00Z", 1),
            ["2024-10-21T00:00:00Z"]
        );
    }
}
