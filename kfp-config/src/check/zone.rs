//! `trigger.timezone`: a known IANA zone, and a cron whose translation to the scheduler's zone is exact.

use crate::cron::timezone::{self, ScheduleZones};
use crate::yaml::Node;

use super::{Checker, Fields};

/// Checks `timezone` (when written) and, when the cron is valid and has a zone other than the
/// scheduler's, that it translates exactly at the zones' clock. `Err` when a problem was reported.
pub(super) fn check_timezone(
    checker: &mut Checker<'_>,
    fields: &Fields<'_>,
    cron: Option<&str>,
    zones: &ScheduleZones,
) -> Result<Option<String>, ()> {
    let pointer = fields.child("timezone");
    let node: Option<&Node> = fields.get("timezone");
    let written = match node {
        None => None,
        Some(node) => {
            let name = checker.string(node, &pointer, true).ok_or(())?;
            if let Err(err) = timezone::zone(&name) {
                checker.at(node, &pointer, err.to_string(), err.hint());
                return Err(());
            }
            Some(name)
        }
    };
    let (Some(cron), Some(source)) = (cron, zones.source_zone(written.as_deref())) else {
        return Ok(written);
    };
    let (Ok(zone), Ok(scheduler)) = (
        timezone::zone(&source),
        timezone::zone(&zones.scheduler_timezone),
    ) else {
        // The project file's zones are checked when it is read.
        return Ok(written);
    };
    if let Err(err) = timezone::translate(cron, &zone, &scheduler, zones.at) {
        let (at_node, at_pointer, origin) = match node {
            Some(node) => (node, pointer, String::new()),
            None => (
                fields.get("cron").unwrap_or(fields.node),
                fields.child("cron"),
                " (the zone is `defaults.timezone` of kfp-gitops.yaml)".to_owned(),
            ),
        };
        checker.at(at_node, &at_pointer, format!("{err}{origin}"), err.hint());
        return Err(());
    }
    Ok(written)
}
