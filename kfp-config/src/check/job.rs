//! The rules of a recurring run's job settings and trigger.

use super::*;

pub(super) fn check_job(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    experiments: Option<&HashSet<String>>,
    experiments_file: &Path,
    job_names: &mut names::SeenNames,
) -> Option<Job> {
    let before = checker.problems.len();
    let fields = checker.mapping(
        node,
        pointer,
        &[
            "enabled",
            "name",
            "description",
            "experiment",
            "max_concurrency",
            "service_account",
            "trigger",
            "adopt",
        ],
    )?;
    let enabled = checker.boolean(&fields, "enabled");
    let name = checker.required_string(&fields, "name");
    if let Some(name) = &name {
        let name_node = fields.get("name").unwrap_or(node);
        names::job_name(checker, name_node, &fields.child("name"), name, job_names);
    }
    let description = checker
        .optional_string(&fields, "description")
        .ok()
        .flatten();
    let experiment = checker.required_string(&fields, "experiment");
    if let (Some(experiment), Some(declared)) = (&experiment, experiments)
        && !declared.contains(experiment)
    {
        let node = fields.get("experiment").unwrap_or(node);
        checker.at(
            node,
            &fields.child("experiment"),
            format!(
                "experiment `{experiment}` is not declared in {}",
                experiments_file.display()
            ),
            Some(format!(
                "add `- name: \"{experiment}\"` to the `experiments` list of {}",
                experiments_file.display()
            )),
        );
    }
    let max_concurrency = checker
        .required(&fields, "max_concurrency")
        .and_then(|node| {
            let max_pointer = fields.child("max_concurrency");
            let value = checker.integer(node, &max_pointer)?;
            match u8::try_from(value) {
                Ok(value @ 1..=10) => Some(value),
                _ => {
                    checker.at(
                        node,
                        &max_pointer,
                        format!("max_concurrency must be between 1 and 10, found {value}"),
                        Some("KFP allows 1 to 10 concurrent runs of a recurring run".to_owned()),
                    );
                    None
                }
            }
        });
    let service_account = checker
        .optional_string(&fields, "service_account")
        .ok()
        .flatten();
    let trigger = checker
        .required(&fields, "trigger")
        .and_then(|node| check_trigger(checker, node, &fields.child("trigger")));
    let adopt = checker.optional_string(&fields, "adopt").ok().flatten();
    if let Some(adopted) = &adopt {
        let adopt_node = fields.get("adopt").unwrap_or(node);
        if adopted.is_empty() {
            checker.at(
                adopt_node,
                &fields.child("adopt"),
                "`adopt` is empty".to_owned(),
                Some("name the recurring run to take over, or leave `adopt` out".to_owned()),
            );
        } else if adopted.starts_with(crate::naming::MANAGED_PREFIX) {
            checker.at(
                adopt_node,
                &fields.child("adopt"),
                format!("`adopt` names `{adopted}`, a version kfp-gitops already manages"),
                Some("only recurring runs without the `GIT::` prefix are adopted".to_owned()),
            );
        }
    }
    let job = Job {
        enabled: enabled?,
        name: name?,
        description,
        experiment: experiment?,
        max_concurrency: max_concurrency?,
        service_account,
        trigger: trigger?,
        adopt,
    };
    (checker.problems.len() == before).then_some(job)
}

pub(super) fn check_trigger(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
) -> Option<Trigger> {
    let before = checker.problems.len();
    let fields = checker.mapping(
        node,
        pointer,
        &[
            "catchup",
            "start_date",
            "end_date",
            "cron",
            "interval_seconds",
            "timezone",
        ],
    )?;
    let catchup = checker.boolean(&fields, "catchup");
    let start = checker.timestamp(&fields, "start_date");
    let end = checker.timestamp(&fields, "end_date");
    if let (Ok(Some((start, _))), Ok(Some((end, end_node)))) = (&start, &end)
        && start > end
    {
        checker.at(
            end_node,
            &fields.child("end_date"),
            format!("end_date {end} is before start_date {start}"),
            Some("the job would never run; swap the dates or remove one".to_owned()),
        );
    }
    const XOR_TIP: &str = "set either `cron` or `interval_seconds` (they are mutually exclusive)";
    let cron = match fields.get("cron") {
        None => None,
        Some(node) => {
            let cron_pointer = fields.child("cron");
            checker.string(node, &cron_pointer, true).and_then(|expr| {
                match cron::validate_cron(&expr) {
                    Ok(()) => Some(expr),
                    Err(err) => {
                        let tip = err.hint();
                        checker.at(node, &cron_pointer, err.to_string(), tip);
                        None
                    }
                }
            })
        }
    };
    let interval = match fields.get("interval_seconds") {
        None => None,
        Some(node) => {
            let interval_pointer = fields.child("interval_seconds");
            match checker.integer(node, &interval_pointer) {
                Some(value) if value >= 1 => u64::try_from(value).ok(),
                Some(value) => {
                    checker.at(
                        node,
                        &interval_pointer,
                        format!("interval_seconds must be at least 1, found {value}"),
                        None,
                    );
                    None
                }
                None => None,
            }
        }
    };
    match (fields.get("cron"), fields.get("interval_seconds")) {
        (Some(_), Some(interval_node)) => {
            checker.at(
                interval_node,
                &fields.child("interval_seconds"),
                "a trigger has both `cron` and `interval_seconds`",
                Some(XOR_TIP.to_owned()),
            );
        }
        (None, None) => {
            checker.at(
                node,
                pointer,
                "a trigger needs `cron` or `interval_seconds`",
                Some(XOR_TIP.to_owned()),
            );
        }
        _ => {}
    }
    let timezone = match checker.zones {
        Some(zones) => zone::check_timezone(checker, &fields, cron.as_deref(), zones),
        None => Ok(None),
    };
    let trigger = Trigger {
        catchup: catchup?,
        start_date: start.ok()?.map(|(t, _)| t),
        end_date: end.ok()?.map(|(t, _)| t),
        cron,
        interval_seconds: interval,
        timezone: timezone.ok()?,
    };
    (checker.problems.len() == before).then_some(trigger)
}
