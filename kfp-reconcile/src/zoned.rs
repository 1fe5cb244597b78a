//! Recurring runs whose cron is written in a time zone other than the scheduler's.
//!
//! KFP v1 has no field for a time zone, so a version records the zone and the cron as the user wrote it
//! in the last line of its description: `kfp-gitops schedule: 0 0 7 * * MON-FRI in Europe/Berlin`. KFP
//! stores descriptions as they are and shows them in its UI, so the record is durable, visible and
//! harmless to any other client; its `trigger.cron_schedule.cron` holds the translation to the
//! scheduler's zone. Planning compares what the user wrote with that line (the rest of the description
//! with the config's description), and the translation with the one in force at the plan's clock, which
//! differs after a change of the zone's UTC offset.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use kfp_config::TriggerZone;
use kfp_config::ZoneError;

/// What precedes the record in a version's description.
pub const MARKER: &str = "kfp-gitops schedule: ";

/// The description a version gets: the config's, then the record of the local cron and its zone.
pub fn description_with_schedule(
    description: Option<&str>,
    zone: &TriggerZone,
    local_cron: &str,
) -> String {
    let record = format!("{MARKER}{local_cron} in {}", zone.timezone);
    match description.filter(|text| !text.is_empty()) {
        Some(text) => format!("{text}\n\n{record}"),
        None => record,
    }
}

/// A recorded local cron and zone, from a version's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<'a> {
    /// The description without the record.
    pub description: &'a str,
    /// The local cron and zone, when the description ends with a record.
    pub schedule: Option<(&'a str, &'a str)>,
}

/// Splits a version's description into the user's part and the record.
pub fn recorded(description: &str) -> Recorded<'_> {
    let (before, record) = match description.rsplit_once(&format!("\n\n{MARKER}")) {
        Some((before, record)) => (before, record),
        None => match description.strip_prefix(MARKER) {
            Some(record) => ("", record),
            None => {
                return Recorded {
                    description,
                    schedule: None,
                };
            }
        },
    };
    match record.rsplit_once(" in ") {
        Some((cron, zone)) if !record.contains('\n') => Recorded {
            description: before,
            schedule: Some((cron, zone)),
        },
        _ => Recorded {
            description,
            schedule: None,
        },
    }
}

/// A cron translated at a clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The cron KFP gets (in the scheduler's zone).
    pub cron: String,
    /// When the translation changes next (within a year), as `(instant, local date)`.
    pub next_change: Option<(Timestamp, String)>,
    /// When it last changed, as `(instant, local date)`.
    pub last_change: Option<(Timestamp, String)>,
}

fn zones(zone: &TriggerZone) -> Result<(TimeZone, TimeZone), ZoneError> {
    Ok((
        kfp_config::zone(&zone.timezone)?,
        kfp_config::zone(&zone.scheduler)?,
    ))
}

/// Translates `cron`, written in `zone.timezone`, to the scheduler's zone at `now`.
pub fn translate(cron: &str, zone: &TriggerZone, now: Timestamp) -> Result<Translated, ZoneError> {
    let (local, scheduler) = zones(zone)?;
    let translated = kfp_config::translate(cron, &local, &scheduler, now)?;
    let dated = |at: Timestamp| (at, local.to_datetime(at).date().to_string());
    Ok(Translated {
        cron: translated,
        next_change: kfp_config::next_change(&local, &scheduler, now, 366).map(dated),
        last_change: kfp_config::last_change(&local, &scheduler, now).map(dated),
    })
}

/// The next `n` fires strictly after `after` of `local_cron`, written in `zone`: the local times it names,
/// as instants (computed in the zone itself, so they hold whatever the scheduler's zone is).
pub fn next_fires(local_cron: &str, zone: &str, after: Timestamp, n: usize) -> Vec<Timestamp> {
    let Ok(tz) = kfp_config::zone(zone) else {
        return Vec::new();
    };
    // `next_fire_times` works on civil times labelled UTC: give it the local civil time.
    let Ok(start) = TimeZone::UTC.to_timestamp(tz.to_datetime(after)) else {
        return Vec::new();
    };
    kfp_config::next_fire_times(local_cron, start, n)
        .into_iter()
        .filter_map(|civil| {
            tz.to_ambiguous_timestamp(TimeZone::UTC.to_datetime(civil))
                .compatible()
                .ok()
        })
        .collect()
}

/// `time` in `zone` as `2027-03-29T07:00:00+02:00`, or `None` for an unknown zone.
pub fn local_time(time: Timestamp, zone: &str) -> Option<String> {
    let tz = kfp_config::zone(zone).ok()?;
    let seconds = tz.to_offset(time).seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    Some(format!(
        "{}{sign}{:02}:{:02}",
        tz.to_datetime(time).strftime("%Y-%m-%dT%H:%M:%S"),
        minutes / 60,
        minutes % 60
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TriggerZone {
        TriggerZone {
            timezone: "Europe/Berlin".to_owned(),
            scheduler: "UTC".to_owned(),
        }
    }

    #[test]
    fn the_record_follows_the_description_and_is_read_back() {
        let text = description_with_schedule(Some("Daily report"), &berlin(), "0 0 7 * * MON-FRI");
        assert_eq!(
            text,
            "Daily report\n\nkfp-gitops schedule: 0 0 7 * * MON-FRI in Europe/Berlin"
        );
        let read = recorded(&text);
        assert_eq!(read.description, "Daily report");
        assert_eq!(read.schedule, Some(("0 0 7 * * MON-FRI", "Europe/Berlin")));
        let alone = description_with_schedule(None, &berlin(), "@daily");
        assert_eq!(recorded(&alone).description, "");
        assert_eq!(recorded(&alone).schedule, Some(("@daily", "Europe/Berlin")));
        let plain = recorded("no record here");
        assert_eq!(plain.description, "no record here");
        assert_eq!(plain.schedule, None);
    }

    #[test]
    fn the_translation_knows_its_last_and_next_change() {
        let now: Timestamp = "2027-04-01T00:00:00Z".parse().unwrap();
        let translated = translate("0 0 7 * * MON-FRI", &berlin(), now).unwrap();
        assert_eq!(translated.cron, "0 0 5 * * MON-FRI");
        assert_eq!(translated.last_change.unwrap().1, "2027-03-28");
        assert_eq!(translated.next_change.unwrap().1, "2027-10-31");
        assert_eq!(
            local_time("2027-04-01T05:00:00Z".parse().unwrap(), "Europe/Berlin").unwrap(),
            "2027-04-01T07:00:00+02:00"
        );
    }
}
