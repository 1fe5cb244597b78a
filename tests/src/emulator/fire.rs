//! The ScheduledWorkflow controller on the simulated clock: advancing the clock with firing makes every
//! enabled cron job fire at each of its times in the interval (evaluated in UTC, KFP's default
//! `CRON_SCHEDULE_TIMEZONE`, within its start and end time), each fire a run created by the job with
//! `scheduled_at` the fire time; a job told to skip its fires makes none (a controller that lost it).
//! Interval (`@every`, periodic) jobs do not fire here.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::control::{advance_clock, trigger_job_at};
use super::core::{Core, lock};

/// Advances the clock by `seconds` and fires what falls due; returns how many runs were created.
pub(crate) fn advance_firing(core: &Core, seconds: i64) -> usize {
    let from = core.now_ms() / 1000;
    advance_clock(core, seconds);
    let to = from + seconds;
    let skipped = lock(&core.control).skipped_fires.clone();
    let due: Vec<(String, Vec<i64>)> = core
        .state()
        .jobs
        .iter()
        .filter(|job| job.enabled && !job.cron.is_empty() && !skipped.contains(&job.id))
        .map(|job| {
            let start = job.start_time.unwrap_or(i64::MIN).max(from);
            let end = job
                .end_time
                .filter(|end| *end > 0)
                .unwrap_or(i64::MAX)
                .min(to);
            (job.id.clone(), fires(&job.cron, start, end))
        })
        .collect();
    let mut count = 0;
    for (id, times) in due {
        for at in times {
            if trigger_job_at(core, &id, at * 1000).is_some() {
                count += 1;
            }
        }
    }
    count
}

/// Tells the controller to skip (or no longer skip) the fires of a job.
pub(crate) fn skip_fires(core: &Core, id: &str, skip: bool) {
    let mut control = lock(&core.control);
    if skip {
        control.skipped_fires.insert(id.to_owned());
    } else {
        control.skipped_fires.remove(id);
    }
}

/// A cron's allowed values per field (sec, min, hour, dom, month, dow) and whether dom/dow were `*`/`?`.
struct Fields {
    bits: [u64; 6],
    dom_star: bool,
    dow_star: bool,
}

const RANGES: [(u32, u32); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(text: &str, index: usize) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    let named = match index {
        4 => MONTHS.iter().position(|m| *m == lower).map(|i| i + 1),
        5 => DAYS.iter().position(|d| *d == lower),
        _ => None,
    };
    match named {
        Some(position) => u32::try_from(position).ok(),
        None => text.trim_start_matches('+').parse().ok(),
    }
}

fn field(text: &str, index: usize) -> Option<(u64, bool)> {
    let (min, max) = RANGES[index];
    let mut bits = 0;
    let mut star = false;
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step.parse::<u32>().ok()?)),
            None => (part, None),
        };
        let (low, high) = if range == "*" || range == "?" {
            star = true;
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (value(low, index)?, value(high, index)?)
        } else {
            let low = value(range, index)?;
            (low, if step.is_some() { max } else { low })
        };
        let mut v = low;
        while v <= high {
            bits |= 1 << v;
            v += step.unwrap_or(1).max(1);
        }
    }
    Some((bits, star))
}

fn parse(cron: &str) -> Option<Fields> {
    let expanded = match cron {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * 0",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        other if other.starts_with('@') => return None,
        other => other,
    };
    let mut parts: Vec<&str> = expanded.split_whitespace().collect();
    if parts.len() == 5 {
        parts.push("*");
    }
    if parts.len() != 6 {
        return None;
    }
    let mut fields = Fields {
        bits: [0; 6],
        dom_star: false,
        dow_star: false,
    };
    for (index, part) in parts.iter().enumerate() {
        let (bits, star) = field(part, index)?;
        fields.bits[index] = bits;
        match index {
            3 => fields.dom_star = star,
            5 => fields.dow_star = star,
            _ => {}
        }
    }
    Some(fields)
}

fn has(bits: u64, value: i8) -> bool {
    u32::try_from(value).is_ok_and(|v| bits & (1 << v) != 0)
}

fn matches_minute(fields: &Fields, dt: DateTime) -> bool {
    let dom = has(fields.bits[3], dt.day());
    let dow = has(fields.bits[5], dt.weekday().to_sunday_zero_offset());
    let day = if fields.dom_star || fields.dow_star {
        dom && dow
    } else {
        dom || dow
    };
    day && has(fields.bits[4], dt.month())
        && has(fields.bits[2], dt.hour())
        && has(fields.bits[1], dt.minute())
}

/// The fire times (unix seconds) of `cron` in `(after, until]`, minute by minute.
fn fires(cron: &str, after: i64, until: i64) -> Vec<i64> {
    let Some(fields) = parse(cron) else {
        return Vec::new();
    };
    let mut times = Vec::new();
    let mut minute = after.div_euclid(60) * 60;
    while minute <= until {
        if let Ok(ts) = Timestamp::from_second(minute)
            && matches_minute(&fields, TimeZone::UTC.to_datetime(ts))
        {
            times.extend(
                (0..60)
                    .filter(|s| fields.bits[0] & (1 << s) != 0)
                    .map(|s| minute + s)
                    .filter(|t| *t > after && *t <= until),
            );
        }
        minute += 60;
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn fires_follow_robfig_fields_in_utc() {
        let weekdays = fires(
            "0 0 6 * * MON-FRI",
            at("2027-03-20T00:00:00Z"),
            at("2027-03-27T00:00:00Z"),
        );
        let expected: Vec<i64> = ["22", "23", "24", "25", "26"]
            .iter()
            .map(|day| at(&format!("2027-03-{day}T06:00:00Z")))
            .collect();
        assert_eq!(weekdays, expected);
        // Either day field matches when neither is `*`; `@daily` is midnight.
        assert_eq!(
            fires(
                "0 0 0 1 * SUN",
                at("2027-03-27T00:00:00Z"),
                at("2027-04-02T00:00:00Z")
            ),
            vec![at("2027-03-28T00:00:00Z"), at("2027-04-01T00:00:00Z")]
        );
        assert_eq!(
            fires(
                "@daily",
                at("2027-03-27T00:00:00Z"),
                at("2027-03-28T00:00:00Z")
            ),
            vec![at("2027-03-28T00:00:00Z")]
        );
        assert!(fires("@every 1h", 0, 86_400).is_empty());
    }
}
