//! What differs between the newest version of a job and the desired recurring run: the fields of the
//! plan's diff, and the offset change of a zoned cron.

use super::*;

/// The fields in which `latest` differs from `run` (empty = up to date), and the offset change when
/// the only reason the KFP cron differs is that the translation of a zoned cron changed since `latest`
/// was made.
pub(super) fn compare(
    run: &DesiredRecurringRun,
    latest: &ObservedJob,
    experiment_id: Option<&str>,
    desired_digest: &str,
    observed: &ObservedNamespace,
    translated: Option<&Translated>,
    options: &PlanOptions,
) -> (Vec<FieldDiff>, Option<Reason>) {
    let recorded = zoned::recorded(&latest.description);
    let mut offset_change = None;
    let mut diffs = Vec::new();
    let mut push = |field: &str, observed: Option<String>, desired: Option<String>| {
        diffs.push(FieldDiff {
            field: field.to_owned(),
            observed,
            desired,
        });
    };
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());

    let desired_description = run.description.as_deref().unwrap_or_default();
    if recorded.description != desired_description {
        push(
            "description",
            non_empty(recorded.description),
            non_empty(desired_description),
        );
    }

    if experiment_id.is_none() || latest.experiment_id.as_deref() != experiment_id {
        let observed_name = latest.experiment_id.as_ref().map(|id| {
            observed
                .experiments
                .iter()
                .find(|experiment| &experiment.id == id)
                .map_or_else(|| format!("id {id}"), |experiment| experiment.name.clone())
        });
        push("experiment", observed_name, Some(run.experiment.clone()));
    }

    let max_concurrency = i64::from(run.max_concurrency);
    if latest.max_concurrency != max_concurrency {
        push(
            "max_concurrency",
            Some(latest.max_concurrency.to_string()),
            Some(max_concurrency.to_string()),
        );
    }

    let sa = service_account(run, options);
    if latest.service_account != sa {
        push(
            "service_account",
            non_empty(&latest.service_account),
            Some(sa),
        );
    }

    let observed_params: BTreeMap<&str, &str> = latest
        .parameters
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let desired_params: BTreeMap<&str, &str> = run
        .parameters
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let mut names: Vec<&str> = observed_params
        .keys()
        .chain(desired_params.keys())
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (old, new) = (observed_params.get(name), desired_params.get(name));
        if old != new {
            push(
                &format!("parameters.{name}"),
                old.map(|v| (*v).to_owned()),
                new.map(|v| (*v).to_owned()),
            );
        }
    }

    let observed_catchup = !latest.no_catchup;
    if observed_catchup != run.trigger.catchup {
        push(
            "trigger.catchup",
            Some(observed_catchup.to_string()),
            Some(run.trigger.catchup.to_string()),
        );
    }
    let desired_start = run.trigger.start.map(kfp_config::truncate_to_second);
    if latest.trigger.start != desired_start {
        push(
            "trigger.start_date",
            latest.trigger.start.map(|t| t.to_string()),
            desired_start.map(|t| t.to_string()),
        );
    }
    let desired_end = run.trigger.end.map(kfp_config::truncate_to_second);
    if latest.trigger.end != desired_end {
        push(
            "trigger.end_date",
            latest.trigger.end.map(|t| t.to_string()),
            desired_end.map(|t| t.to_string()),
        );
    }

    let (observed_cron, observed_interval) = match &latest.trigger.schedule {
        ObservedSchedule::None => (None, None),
        ObservedSchedule::Cron(cron) => (Some(cron.clone()), None),
        ObservedSchedule::Interval(seconds) => (None, Some(*seconds)),
    };
    let (desired_cron, desired_interval) = match &run.trigger.schedule {
        Schedule::Cron(cron) => (Some(cron.clone()), None),
        Schedule::Interval(seconds) => (None, i64::try_from(*seconds).ok()),
    };
    match (&run.trigger.zone, translated, &desired_cron) {
        (Some(zone), Some(translated), Some(local)) => {
            let desired_record = format!("{local} in {}", zone.timezone);
            let observed_record = recorded
                .schedule
                .map(|(cron, zone)| format!("{cron} in {zone}"));
            if observed_record.as_deref() != Some(desired_record.as_str()) {
                push(
                    "trigger.cron",
                    observed_record.or(observed_cron),
                    Some(desired_record),
                );
            } else if observed_cron.as_deref() != Some(translated.cron.as_str()) {
                push("trigger.cron", observed_cron, Some(translated.cron.clone()));
                offset_change = translated
                    .last_change
                    .as_ref()
                    .filter(|(at, _)| latest.created_at.is_none_or(|created| created < *at))
                    .map(|(_, date)| Reason::UtcOffsetChanges {
                        zone: zone.timezone.clone(),
                        date: date.clone(),
                    });
            }
        }
        _ => {
            if let Some((_, zone)) = recorded.schedule {
                push("trigger.timezone", Some(zone.to_owned()), None);
            }
            if observed_cron != desired_cron {
                push("trigger.cron", observed_cron, desired_cron);
            }
        }
    }
    if observed_interval != desired_interval {
        push(
            "trigger.interval_seconds",
            observed_interval.map(|s| s.to_string()),
            desired_interval.map(|s| s.to_string()),
        );
    }

    match &latest.workflow {
        ObservedWorkflow::Digest(digest) if digest == desired_digest => {}
        ObservedWorkflow::Digest(digest) => push(
            "workflow",
            Some(format!("sha256:{}", short(digest))),
            Some(format!("sha256:{}", short(desired_digest))),
        ),
        unread => push(
            "workflow",
            Some(unread.label()),
            Some(format!("sha256:{}", short(desired_digest))),
        ),
    }
    (diffs, offset_change)
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}
