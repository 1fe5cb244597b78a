//! Cron schedules written in a time zone, translated to the zone KFP's scheduler fires in.
//!
//! KFP v1 evaluates every cron in one zone, the scheduler's (`CRON_SCHEDULE_TIMEZONE`, UTC by default).
//! A recurring run may say `timezone: Europe/Berlin`: [`translate`] rewrites its cron so that it fires at
//! the same local times in the scheduler's zone, under the UTC offsets in force at a given instant. The
//! minute and hour fields move by the difference of the offsets; where that crosses midnight, the
//! day-of-week field moves with it. What a single cron cannot express exactly is refused with a
//! [`ZoneError`] (and a tip): a day-of-month or month field crossed by the shift, some times moving to
//! another day and others not, local times that fall into a DST gap or repeat in a DST overlap, offsets
//! that are not whole minutes.
//!
//! Zone data comes from jiff's bundled copy of the IANA database, never from the host's files, so the
//! result does not depend on the machine.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};

use super::{CronError, STAR, Schedule, Spec, parse, spec_next};

/// The zone KFP's scheduler uses unless the project file says otherwise.
pub const DEFAULT_SCHEDULER_TIMEZONE: &str = "UTC";

/// How far ahead DST gaps and overlaps are looked for.
const LOOKAHEAD_DAYS: i64 = 366;

/// Why a schedule's time zone cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// The cron itself is invalid.
    #[error(transparent)]
    Cron(#[from] CronError),
    /// Not a name of the IANA time zone database.
    #[error("unknown time zone `{name}`")]
    UnknownZone {
        /// The name as written.
        name: String,
    },
    /// An offset with seconds: no cron can follow it.
    #[error("the UTC offset of {zone} on {date} is {offset}, not a whole number of minutes")]
    NotWholeMinutes {
        /// The zone.
        zone: String,
        /// The offset.
        offset: String,
        /// The date (in that zone).
        date: String,
    },
    /// The shift moves fires to another day, but the day-of-month field restricts the days.
    #[error(
        "`{cron}` in {zone} moves to another day in {scheduler} (a shift of {shift}), and its day-of-month field cannot move with it"
    )]
    DayOfMonthCrossed {
        /// The cron.
        cron: String,
        /// The zone it is written in.
        zone: String,
        /// The scheduler's zone.
        scheduler: String,
        /// The shift, such as `-01:00`.
        shift: String,
    },
    /// The shift moves fires to another day, but the month field restricts the months.
    #[error(
        "`{cron}` in {zone} moves to another day in {scheduler} (a shift of {shift}), and its month field cannot move with it"
    )]
    MonthCrossed {
        /// The cron.
        cron: String,
        /// The zone it is written in.
        zone: String,
        /// The scheduler's zone.
        scheduler: String,
        /// The shift.
        shift: String,
    },
    /// Some times move to another day and others do not, on restricted days.
    #[error(
        "`{cron}` in {zone} moves some of its times to another day in {scheduler} and others not (a shift of {shift})"
    )]
    SplitDays {
        /// The cron.
        cron: String,
        /// The zone it is written in.
        zone: String,
        /// The scheduler's zone.
        scheduler: String,
        /// The shift.
        shift: String,
    },
    /// The shifted minutes and hours are not a cross product of two lists.
    #[error(
        "`{cron}` in {zone} has no single cron with the same times in {scheduler} (a shift of {shift})"
    )]
    NotRepresentable {
        /// The cron.
        cron: String,
        /// The zone it is written in.
        zone: String,
        /// The scheduler's zone.
        scheduler: String,
        /// The shift.
        shift: String,
    },
    /// A fire falls into the hour skipped when clocks go forward.
    #[error(
        "`{cron}` fires at {time} in {zone}, a time that does not exist there (clocks go forward)"
    )]
    DstGap {
        /// The cron.
        cron: String,
        /// The zone.
        zone: String,
        /// The local time, `2027-03-28 02:30`.
        time: String,
    },
    /// A fire falls into the hour repeated when clocks go back.
    #[error("`{cron}` fires at {time} in {zone}, a time that happens twice there (clocks go back)")]
    DstOverlap {
        /// The cron.
        cron: String,
        /// The zone.
        zone: String,
        /// The local time.
        time: String,
    },
}

impl ZoneError {
    /// Advice for the user.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ZoneError::Cron(err) => return err.hint(),
            ZoneError::UnknownZone { .. } => {
                "use a name of the IANA time zone database, such as `Europe/Berlin`, `America/New_York` or `UTC`".to_owned()
            }
            ZoneError::NotWholeMinutes { .. } => {
                "write the cron in the scheduler's zone (drop `timezone`)".to_owned()
            }
            ZoneError::DayOfMonthCrossed { .. } | ZoneError::MonthCrossed { .. } => {
                "move the times away from midnight so that they stay on the same day in the scheduler's zone, \
                 or write the cron in the scheduler's zone (drop `timezone`)"
                    .to_owned()
            }
            ZoneError::SplitDays { .. } => {
                "split the times that cross midnight into a recurring run of their own".to_owned()
            }
            ZoneError::NotRepresentable { .. } => {
                "split the minutes before and after the half hour into recurring runs of their own".to_owned()
            }
            ZoneError::DstGap { .. } | ZoneError::DstOverlap { .. } => {
                "choose a time outside the hour in which the clocks change (in most of Europe 02:00-03:00, \
                 in the US 01:00-03:00), or restrict the days so that it never falls on the day of the change"
                    .to_owned()
            }
        })
    }
}

/// The IANA zone `name` from jiff's bundled database (case-insensitive, like the database).
pub fn zone(name: &str) -> Result<TimeZone, ZoneError> {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
        .get(name)
        .map_err(|_| ZoneError::UnknownZone {
            name: name.to_owned(),
        })
}

/// The name to show for `tz` (its IANA name, else `UTC`).
fn name_of(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_owned()
}

/// The offset of the scheduler's zone minus that of `zone` at `at`, in seconds.
fn shift_seconds(zone: &TimeZone, scheduler: &TimeZone, at: Timestamp) -> i32 {
    scheduler.to_offset(at).seconds() - zone.to_offset(at).seconds()
}

fn whole_minutes(tz: &TimeZone, at: Timestamp) -> Result<(), ZoneError> {
    let offset = tz.to_offset(at);
    if offset.seconds() % 60 == 0 {
        return Ok(());
    }
    Err(ZoneError::NotWholeMinutes {
        zone: name_of(tz),
        offset: offset.to_string(),
        date: tz.to_datetime(at).date().to_string(),
    })
}

fn format_shift(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let minutes = minutes.abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `cron`, written in `zone`, as the cron that fires at the same local times in `scheduler`'s zone under
/// the offsets in force at `at`; checks that no local time falls into a DST gap or overlap of either zone
/// in the year after `at`. `@every` intervals are returned as they are.
pub fn translate(
    cron: &str,
    zone: &TimeZone,
    scheduler: &TimeZone,
    at: Timestamp,
) -> Result<String, ZoneError> {
    let schedule = parse(cron)?;
    let Schedule::Spec(spec) = schedule else {
        return Ok(cron.to_owned());
    };
    whole_minutes(zone, at)?;
    whole_minutes(scheduler, at)?;
    check_dst(cron, &spec, zone, at)?;
    let shift = shift_seconds(zone, scheduler, at) / 60;
    let translated = if shift == 0 {
        cron.to_owned()
    } else {
        shift_spec(cron, &spec, shift, zone, scheduler)?
    };
    if let Ok(Schedule::Spec(shifted)) = parse(&translated) {
        check_dst(&translated, &shifted, scheduler, at)?;
    }
    Ok(translated)
}

/// The first instant after `at` at which the offset of `scheduler` minus that of `zone` changes (so that
/// [`translate`] gives another cron from then on), within `days` days.
pub fn next_change(
    zone: &TimeZone,
    scheduler: &TimeZone,
    at: Timestamp,
    days: i64,
) -> Option<Timestamp> {
    let limit = at.checked_add(SignedDuration::from_hours(24 * days)).ok()?;
    let before = shift_seconds(zone, scheduler, at);
    [zone, scheduler]
        .into_iter()
        .flat_map(|tz| {
            tz.following(at)
                .take_while(|t| t.timestamp() <= limit)
                .map(|t| t.timestamp())
                .collect::<Vec<_>>()
        })
        .filter(|t| shift_seconds(zone, scheduler, *t) != before)
        .min()
}

/// The last instant at or before `at` at which the offset of `scheduler` minus that of `zone` changed.
pub fn last_change(zone: &TimeZone, scheduler: &TimeZone, at: Timestamp) -> Option<Timestamp> {
    let after = at.checked_add(SignedDuration::from_secs(1)).ok()?;
    [zone, scheduler]
        .into_iter()
        .filter_map(|tz| {
            tz.preceding(after).map(|t| t.timestamp()).find(|t| {
                let just_before = t.checked_sub(SignedDuration::from_secs(1));
                just_before.is_ok_and(|b| {
                    shift_seconds(zone, scheduler, b) != shift_seconds(zone, scheduler, *t)
                })
            })
        })
        .max()
}

/// Refuses `spec` when one of its fires (as local times of `tz`) falls into a gap or an overlap of `tz`
/// in the year after `at`.
fn check_dst(cron: &str, spec: &Spec, tz: &TimeZone, at: Timestamp) -> Result<(), ZoneError> {
    let Ok(limit) = at.checked_add(SignedDuration::from_hours(24 * LOOKAHEAD_DAYS)) else {
        return Ok(());
    };
    for transition in tz.following(at).take_while(|t| t.timestamp() <= limit) {
        let when = transition.timestamp();
        let Ok(just_before) = when.checked_sub(SignedDuration::from_secs(1)) else {
            continue;
        };
        let old: Offset = tz.to_offset(just_before);
        let new = transition.offset();
        if old == new {
            continue;
        }
        // Civil times in [start, end) are skipped (gap) or happen twice (overlap).
        let (start, end) = if new > old {
            (old.to_datetime(when), new.to_datetime(when))
        } else {
            (new.to_datetime(when), old.to_datetime(when))
        };
        if let Some(fire) = first_fire_in(spec, start, end) {
            let time = fire.strftime("%Y-%m-%d %H:%M:%S").to_string();
            let zone = name_of(tz);
            let cron = cron.to_owned();
            return Err(if new > old {
                ZoneError::DstGap { cron, zone, time }
            } else {
                ZoneError::DstOverlap { cron, zone, time }
            });
        }
    }
    Ok(())
}

fn first_fire_in(spec: &Spec, start: DateTime, end: DateTime) -> Option<DateTime> {
    let from = start.checked_sub(SignedDuration::from_secs(1)).ok()?;
    spec_next(spec, from).filter(|fire| *fire < end)
}

fn bits_in(bits: u64, min: u32, max: u32) -> BTreeSet<u32> {
    (min..=max).filter(|v| bits & (1 << v) != 0).collect()
}

fn full(bits: u64, min: u32, max: u32) -> bool {
    (min..=max).all(|v| bits & (1 << v) != 0)
}

/// A field as robfig/cron reads it: `*` for every value, else ranges and single values.
fn format_field(values: &BTreeSet<u32>, min: u32, max: u32) -> String {
    if (min..=max).all(|v| values.contains(&v)) {
        return "*".to_owned();
    }
    let mut parts = Vec::new();
    let mut iter = values.iter().copied().peekable();
    while let Some(low) = iter.next() {
        let mut high = low;
        while iter.peek() == Some(&(high + 1)) {
            high += 1;
            iter.next();
        }
        parts.push(match high - low {
            0 => low.to_string(),
            1 => format!("{low},{high}"),
            _ => format!("{low}-{high}"),
        });
    }
    parts.join(",")
}

/// The six fields of `cron` as written, or of the spec a descriptor stands for.
fn fields_of(cron: &str, spec: &Spec) -> Vec<String> {
    if !cron.starts_with('@') {
        return cron.split_whitespace().map(str::to_owned).collect();
    }
    [
        (spec.second, 0, 59),
        (spec.minute, 0, 59),
        (spec.hour, 0, 23),
        (spec.dom, 1, 31),
        (spec.month, 1, 12),
        (spec.dow, 0, 6),
    ]
    .iter()
    .map(|&(bits, min, max)| format_field(&bits_in(bits, min, max), min, max))
    .collect()
}

fn shift_spec(
    cron: &str,
    spec: &Spec,
    shift: i32,
    zone: &TimeZone,
    scheduler: &TimeZone,
) -> Result<String, ZoneError> {
    let context = || {
        (
            cron.to_owned(),
            name_of(zone),
            name_of(scheduler),
            format_shift(shift),
        )
    };
    let minutes = bits_in(spec.minute, 0, 59);
    let hours = bits_in(spec.hour, 0, 23);
    let mut shifted: BTreeSet<i32> = BTreeSet::new();
    let mut carries: BTreeSet<i32> = BTreeSet::new();
    for hour in &hours {
        for minute in &minutes {
            let local = i32::try_from(hour * 60 + minute).unwrap_or_default() + shift;
            carries.insert(local.div_euclid(1440));
            shifted.insert(local.rem_euclid(1440));
        }
    }
    let dom_full = full(spec.dom, 1, 31);
    let dow_full = full(spec.dow, 0, 6);
    let month_full = full(spec.month, 1, 12);
    let and_semantics = spec.dom & STAR != 0 || spec.dow & STAR != 0;
    let every_day = if and_semantics {
        dom_full && dow_full
    } else {
        dom_full || dow_full
    };
    let mut dow_field = None;
    if carries.iter().any(|carry| *carry != 0) && !(every_day && month_full) {
        let (cron, zone, scheduler, shift) = context();
        if !month_full {
            return Err(ZoneError::MonthCrossed {
                cron,
                zone,
                scheduler,
                shift,
            });
        }
        if !dom_full {
            return Err(ZoneError::DayOfMonthCrossed {
                cron,
                zone,
                scheduler,
                shift,
            });
        }
        if carries.len() > 1 {
            return Err(ZoneError::SplitDays {
                cron,
                zone,
                scheduler,
                shift,
            });
        }
        // Only the day of week restricts the days: it moves with the times.
        let carry = carries.first().copied().unwrap_or_default();
        let days: BTreeSet<u32> = bits_in(spec.dow, 0, 6)
            .into_iter()
            .map(|day| {
                u32::try_from((i32::try_from(day).unwrap_or_default() + carry).rem_euclid(7))
                    .unwrap_or_default()
            })
            .collect();
        dow_field = Some(format_field(&days, 0, 6));
    }
    let new_hours: BTreeSet<u32> = shifted
        .iter()
        .map(|m| u32::try_from(m / 60).unwrap_or_default())
        .collect();
    let new_minutes: BTreeSet<u32> = shifted
        .iter()
        .map(|m| u32::try_from(m % 60).unwrap_or_default())
        .collect();
    if new_hours.len() * new_minutes.len() != shifted.len() {
        let (cron, zone, scheduler, shift) = context();
        return Err(ZoneError::NotRepresentable {
            cron,
            zone,
            scheduler,
            shift,
        });
    }
    let mut fields = fields_of(cron, spec);
    if new_minutes != minutes {
        fields[1] = format_field(&new_minutes, 0, 59);
    }
    fields[2] = format_field(&new_hours, 0, 23);
    if let Some(dow) = dow_field {
        fields[5] = dow;
    }
    Ok(fields.join(" "))
}

/// The zones schedules are checked and translated with: the project's default zone, the scheduler's
/// zone and the instant whose UTC offsets count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleZones {
    /// `defaults.timezone` of kfp-gitops.yaml: the zone of crons that name none.
    pub default_timezone: Option<String>,
    /// `scheduler_timezone` of kfp-gitops.yaml (default `UTC`).
    pub scheduler_timezone: String,
    /// The clock: offsets in force at this instant are used, gaps and overlaps in the year after it
    /// are refused.
    pub at: Timestamp,
}

impl ScheduleZones {
    /// The zone a cron with `timezone` (as written, if any) is written in, when it is not the
    /// scheduler's: the one to translate from.
    pub fn source_zone(&self, timezone: Option<&str>) -> Option<String> {
        let name = timezone.or(self.default_timezone.as_deref())?;
        (!name.eq_ignore_ascii_case(&self.scheduler_timezone)).then(|| name.to_owned())
    }
}

impl Default for ScheduleZones {
    /// No default zone, a UTC scheduler, the current time.
    fn default() -> Self {
        Self::from_project(None, Timestamp::now())
    }
}
