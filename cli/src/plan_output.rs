//! Human rendering of plans and apply reports, in the style of `terraform plan`:
//! `+` create, `~` replace with a new version, `>` enable, `||` disable, `-` delete, `*` verify, `!` warning.

pub mod verify;

use std::fmt::Write as _;

use jiff::Timestamp;
use kfp_reconcile::{
    Action, ApplyReport, ExperimentAction, JobChange, JobPlan, Leftover, NewVersion, Outcome, Plan,
    PlannedSchedule,
};
use kfp_reconcile::{local_time, next_fires};

/// Terminal colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    green: &'static str,
    yellow: &'static str,
    red: &'static str,
    cyan: &'static str,
    bold: &'static str,
    dim: &'static str,
    reset: &'static str,
}

impl Palette {
    pub fn new(color: bool) -> Self {
        if color {
            Self {
                green: "\x1b[32m",
                yellow: "\x1b[33m",
                red: "\x1b[31m",
                cyan: "\x1b[36m",
                bold: "\x1b[1m",
                dim: "\x1b[2m",
                reset: "\x1b[0m",
            }
        } else {
            Self {
                green: "",
                yellow: "",
                red: "",
                cyan: "",
                bold: "",
                dim: "",
                reset: "",
            }
        }
    }
}

/// Counts of planned actions, for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub experiments: usize,
    pub creates: usize,
    pub enables: usize,
    pub disables: usize,
    pub deletes: usize,
    pub verifications: usize,
}

impl Totals {
    pub fn of(plans: &[Plan]) -> Self {
        let mut totals = Self::default();
        for plan in plans {
            totals.experiments += plan.experiments.len();
            for action in plan.jobs.iter().flat_map(|job| &job.actions) {
                match action {
                    Action::CreateVersion { .. } => totals.creates += 1,
                    Action::Enable { .. } => totals.enables += 1,
                    Action::Disable { .. } => totals.disables += 1,
                    Action::Delete { .. } => totals.deletes += 1,
                    Action::Verify { .. } => totals.verifications += 1,
                }
            }
        }
        totals
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The whole human plan of several namespaces, ending with a summary line.
pub fn render_plans(plans: &[Plan], palette: Palette) -> String {
    let mut out = String::new();
    for plan in plans {
        render_plan(&mut out, plan, palette);
    }
    let totals = Totals::of(plans);
    let p = palette;
    let firing = plans.iter().flat_map(Plan::enabled_leftovers).count();
    if totals.is_empty() && firing == 0 {
        let _ = writeln!(
            out,
            "{}No changes.{} KFP matches the configuration.",
            p.bold, p.reset
        );
    } else if totals.is_empty() {
        let _ = writeln!(
            out,
            "{}Out of sync:{} {firing} recurring run(s) no longer in the config still fire; nothing is planned for them \
             (prune them with --prune=disable or --prune=delete, or `prune:` in kfp-gitops.yaml).",
            p.bold, p.reset
        );
    } else {
        let _ = writeln!(
            out,
            "{}Plan:{} {} experiment(s) to create or unarchive, {} version(s) to create, {} to enable, {} to disable, {} to delete.",
            p.bold,
            p.reset,
            totals.experiments,
            totals.creates,
            totals.enables,
            totals.disables,
            totals.deletes
        );
        if totals.verifications > 0 {
            let _ = writeln!(
                out,
                "{}Verified rollout:{} {} new version(s) run once first; each takes over its schedule only if that run succeeds.",
                p.bold, p.reset, totals.verifications
            );
        }
        if firing > 0 {
            let _ = writeln!(
                out,
                "{}Out of sync:{} {firing} recurring run(s) no longer in the config still fire and are left alone.",
                p.bold, p.reset
            );
        }
    }
    out
}

fn render_plan(out: &mut String, plan: &Plan, p: Palette) {
    let namespace = if plan.namespace.is_empty() {
        "(single-user)"
    } else {
        plan.namespace.as_str()
    };
    let _ = writeln!(out, "{}namespace {namespace}{}", p.bold, p.reset);
    for experiment in &plan.experiments {
        match &experiment.action {
            ExperimentAction::Create { description } => {
                let _ = write!(
                    out,
                    "  {}+{} experiment {:?}",
                    p.green, p.reset, experiment.name
                );
                if let Some(description) = description {
                    let _ = write!(out, " (description {description:?})");
                }
                let _ = writeln!(out);
            }
            ExperimentAction::Unarchive { id } => {
                let _ = writeln!(
                    out,
                    "  {}>{} experiment {:?}: unarchive {}({id}){}",
                    p.green, p.reset, experiment.name, p.dim, p.reset
                );
            }
        }
    }
    for job in &plan.jobs {
        render_job(out, job, plan.planned_at, p);
    }
    for leftover in &plan.leftovers {
        render_leftover(out, leftover, p);
    }
    if !plan.unchanged.is_empty() {
        let _ = writeln!(
            out,
            "  {}{} recurring run(s) up to date: {}{}",
            p.dim,
            plan.unchanged.len(),
            plan.unchanged.join(", "),
            p.reset
        );
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "  {}!{} {warning}", p.yellow, p.reset);
    }
    let _ = writeln!(out);
}

/// A recurring run no longer in the config that nothing prunes: loud when it still fires.
fn render_leftover(out: &mut String, leftover: &Leftover, p: Palette) {
    if leftover.enabled {
        let schedule = leftover
            .schedule
            .as_deref()
            .map_or_else(String::new, |schedule| format!(" ({schedule})"));
        let _ = writeln!(
            out,
            "  {}!{} {}  {}ENABLED{}, not in the config: still fires{schedule}",
            p.red, p.reset, leftover.name, p.bold, p.reset
        );
        let _ = writeln!(
            out,
            "      {}pause it with --prune=disable, remove it with --prune=delete (or set `prune:` for the namespace in kfp-gitops.yaml){}",
            p.dim, p.reset
        );
    } else {
        let _ = writeln!(
            out,
            "  {}!{} {}  paused, not in the config; left alone (--prune=delete removes it)",
            p.yellow, p.reset, leftover.name
        );
    }
}

fn render_job(out: &mut String, job: &JobPlan, now: Timestamp, p: Palette) {
    let (symbol, color, headline) = match job.change {
        JobChange::Create => ("+", p.green, "create".to_owned()),
        JobChange::Replace => match job
            .reasons
            .iter()
            .find(|reason| matches!(reason, kfp_reconcile::Reason::UtcOffsetChanges { .. }))
        {
            Some(reason) => ("~", p.yellow, format!("replace ({reason})")),
            None => ("~", p.yellow, "replace with a new version".to_owned()),
        },
        JobChange::Update => ("~", p.yellow, "update".to_owned()),
        JobChange::Prune => ("-", p.red, "prune (not in the config)".to_owned()),
        JobChange::Adopt => ("+", p.green, "adopt".to_owned()),
    };
    let headline = match kfp_reconcile::verification(job) {
        Some(verification) => {
            let short = headline
                .strip_suffix(" with a new version")
                .unwrap_or(&headline);
            format!(
                "{short} (verify: one run first, timeout {})",
                kfp_config::format_seconds(verification.timeout_seconds)
            )
        }
        None => headline,
    };
    let _ = writeln!(
        out,
        "  {color}{symbol}{} recurring run {:?}: {headline}",
        p.reset, job.name
    );
    for reason in &job.reasons {
        let _ = writeln!(out, "      {}because {reason}{}", p.dim, p.reset);
    }
    for diff in &job.diffs {
        if diff.field == "workflow" && job.workflow_diff.is_some() {
            continue;
        }
        let _ = writeln!(
            out,
            "      {}{}:{} {} {}->{} {}",
            p.cyan,
            diff.field,
            p.reset,
            show(diff.observed.as_deref()),
            p.dim,
            p.reset,
            show(diff.desired.as_deref())
        );
    }
    if let Some(workflow_diff) = &job.workflow_diff {
        let _ = writeln!(out, "      {}workflow:{}", p.cyan, p.reset);
        for line in workflow_diff.lines() {
            let color = if line.starts_with('+') && !line.starts_with("+++") {
                p.green
            } else if line.starts_with('-') && !line.starts_with("---") {
                p.red
            } else {
                ""
            };
            let reset = if color.is_empty() { "" } else { p.reset };
            let _ = writeln!(out, "        {color}{line}{reset}");
        }
    }
    for action in &job.actions {
        match action {
            Action::CreateVersion { version } => {
                let _ = writeln!(
                    out,
                    "      {}+{} create {} {}(disabled){}",
                    p.green, p.reset, version.name, p.dim, p.reset
                );
                render_schedule(out, version, now, p);
            }
            Action::Enable { version } => {
                let _ = writeln!(
                    out,
                    "      {}>{} enable {}",
                    p.green,
                    p.reset,
                    describe_ref(version)
                );
            }
            Action::Disable { version } => {
                let _ = writeln!(
                    out,
                    "      {}||{} disable {}",
                    p.yellow,
                    p.reset,
                    describe_ref(version)
                );
            }
            Action::Delete { version } => {
                let _ = writeln!(
                    out,
                    "      {}-{} delete {}",
                    p.red,
                    p.reset,
                    describe_ref(version)
                );
            }
            Action::Verify {
                version,
                verification,
            } => {
                verify::render_verify_action(out, version, verification, p);
            }
        }
    }
}

fn describe_ref(version: &kfp_reconcile::VersionRef) -> String {
    match &version.id {
        Some(id) => format!("{} ({id})", version.name),
        None => version.name.clone(),
    }
}

fn show(value: Option<&str>) -> String {
    match value {
        Some(value) => format!("{value:?}"),
        None => "(none)".to_owned(),
    }
}

fn render_schedule(out: &mut String, version: &NewVersion, now: Timestamp, p: Palette) {
    match &version.schedule {
        PlannedSchedule::Cron(cron) => {
            let after = version.start.filter(|start| *start > now).unwrap_or(now);
            let zone = version.zone.as_ref();
            let fires = match zone {
                Some(zone) => next_fires(&zone.local_cron, &zone.timezone, after, 3),
                None => kfp_config::next_fire_times(cron, after, 3),
            };
            let times: Vec<String> = fires
                .into_iter()
                .filter(|time| version.end.is_none_or(|end| *time <= end))
                .map(
                    |time| match zone.and_then(|z| local_time(time, &z.timezone)) {
                        Some(local) => format!("{local} ({time})"),
                        None => time.to_string(),
                    },
                )
                .collect();
            let next = if times.is_empty() {
                "never".to_owned()
            } else {
                times.join(", ")
            };
            match zone {
                Some(zone) => {
                    let _ = writeln!(
                        out,
                        "          {}cron {:?} in {} = {cron:?} in {}, next ({} and UTC): {next}{}",
                        p.dim,
                        zone.local_cron,
                        zone.timezone,
                        zone.scheduler,
                        zone.timezone,
                        p.reset
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "          {}cron {cron:?}, next (UTC): {next}{}",
                        p.dim, p.reset
                    );
                }
            }
        }
        PlannedSchedule::Interval(seconds) => {
            let _ = writeln!(
                out,
                "          {}every {seconds}s, counted from when the version is enabled{}",
                p.dim, p.reset
            );
        }
    }
}

/// What apply did, one line per action, ending with a summary line.
pub fn render_reports(reports: &[ApplyReport], palette: Palette) -> String {
    let p = palette;
    let mut out = String::new();
    let (mut done, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for report in reports {
        let namespace = if report.namespace.is_empty() {
            "(single-user)"
        } else {
            report.namespace.as_str()
        };
        let _ = writeln!(out, "{}namespace {namespace}{}", p.bold, p.reset);
        let job_steps = report
            .jobs
            .iter()
            .flat_map(|job| job.steps.iter().map(move |step| (job.name.as_str(), step)));
        let experiment_steps = report.experiments.iter().map(|step| ("", step));
        for (job, step) in experiment_steps.chain(job_steps) {
            let (symbol, color, verb) = match step.action.as_str() {
                "create" => ("+", p.green, "created"),
                "enable" => (">", p.green, "enabled"),
                "disable" => ("||", p.yellow, "disabled"),
                "delete" => ("-", p.red, "deleted"),
                "create_experiment" => ("+", p.green, "created experiment"),
                "unarchive_experiment" => (">", p.green, "unarchived experiment"),
                "start_verification" => ("*", p.cyan, "started verification run"),
                "verify" => ("✓", p.green, "verified by run"),
                "discard" => ("-", p.red, "deleted the unverified version"),
                _ => ("?", "", step.action.as_str()),
            };
            let id = step
                .id
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default();
            let context = if job.is_empty() {
                String::new()
            } else {
                format!("{}[{job}]{} ", p.dim, p.reset)
            };
            match &step.outcome {
                Outcome::Done => {
                    done += 1;
                    let _ = writeln!(
                        out,
                        "  {context}{color}{symbol}{} {verb} {}{id}",
                        p.reset, step.target
                    );
                }
                Outcome::AlreadyGone => {
                    done += 1;
                    let _ = writeln!(
                        out,
                        "  {context}{color}{symbol}{} {} {}{id}: already gone",
                        p.reset, step.action, step.target
                    );
                }
                Outcome::Adopted => {
                    done += 1;
                    let _ = writeln!(
                        out,
                        "  {context}{color}{symbol}{} {verb} {}{id} (the answer was lost; found by listing)",
                        p.reset, step.target
                    );
                }
                Outcome::Failed { message } => {
                    failed += 1;
                    let _ = writeln!(
                        out,
                        "  {context}{}✗ {} {} failed:{} {message}",
                        p.red, step.action, step.target, p.reset
                    );
                }
                Outcome::Pending { message } => {
                    skipped += 1;
                    let _ = writeln!(
                        out,
                        "  {context}{}… {} {} pending:{} {message}",
                        p.yellow, step.action, step.target, p.reset
                    );
                }
                Outcome::Skipped => {
                    skipped += 1;
                    let waiting = report.jobs.iter().any(|reported| {
                        reported.name == job
                            && reported
                                .steps
                                .iter()
                                .any(|step| matches!(step.outcome, Outcome::Pending { .. }))
                    });
                    let why = if waiting {
                        "waiting for the verification"
                    } else {
                        "an earlier action failed"
                    };
                    let _ = writeln!(
                        out,
                        "  {context}{}  skipped {} {} ({why}){}",
                        p.dim, step.action, step.target, p.reset
                    );
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "{}Apply:{} {done} action(s) done, {failed} failed, {skipped} skipped.",
        p.bold, p.reset
    );
    out
}

#[cfg(test)]
mod tests {
    use kfp_reconcile::{
        ExperimentPlan, FieldDiff, JobReport, Reason, RestartCause, StepReport, VersionRef,
        VersionSummary, Warning,
    };

    use super::*;

    fn version(name: &str, schedule: PlannedSchedule) -> NewVersion {
        NewVersion {
            name: name.into(),
            description: None,
            experiment: "exp".into(),
            experiment_id: Some("exp-1".into()),
            service_account: "default-editor".into(),
            max_concurrency: 1,
            parameters: vec![],
            catchup: false,
            start: None,
            end: None,
            schedule,
            zone: None,
            enabled: true,
            workflow_manifest: "{}".into(),
            workflow_digest: "0".repeat(64),
            source: "fixture".into(),
        }
    }

    fn existing(id: &str, name: &str) -> VersionRef {
        VersionRef {
            id: Some(id.into()),
            name: name.into(),
        }
    }

    fn sample() -> Plan {
        let new_name = "GIT::nightly__2024-06-01T12-00-00Z";
        Plan {
            namespace: "team-1".into(),
            fingerprint: "f".into(),
            planned_at: "2024-06-01T12:00:00Z".parse().unwrap(),
            experiments: vec![
                ExperimentPlan {
                    name: "fresh".into(),
                    action: ExperimentAction::Create {
                        description: Some("new one".into()),
                    },
                },
                ExperimentPlan {
                    name: "old".into(),
                    action: ExperimentAction::Unarchive { id: "exp-9".into() },
                },
            ],
            jobs: vec![
                JobPlan {
                    name: "nightly".into(),
                    change: JobChange::Replace,
                    reasons: vec![Reason::Differs {
                        fields: vec!["trigger.cron".into(), "workflow".into()],
                    }],
                    diffs: vec![
                        FieldDiff {
                            field: "trigger.cron".into(),
                            observed: Some("0 0 7 * * *".into()),
                            desired: Some("0 30 6 * * 1-5".into()),
                        },
                        FieldDiff {
                            field: "workflow".into(),
                            observed: Some("sha256:aaa".into()),
                            desired: Some("sha256:bbb".into()),
                        },
                    ],
                    workflow_diff: Some(
                        "--- GIT::nightly__2024-05-01T00-00-00Z\n+++ config\n@@ -1,2 +1,2 @@\n kind: Workflow\n-image: alpine:3.18\n+image: alpine:3.19\n"
                            .into(),
                    ),
                    versions: vec![VersionSummary {
                        id: "j1".into(),
                        name: "GIT::nightly__2024-05-01T00-00-00Z".into(),
                        enabled: true,
                    }],
                    actions: vec![
                        Action::CreateVersion {
                            version: Box::new(version(new_name, PlannedSchedule::Cron("0 30 6 * * 1-5".into()))),
                        },
                        Action::Disable {
                            version: existing("j1", "GIT::nightly__2024-05-01T00-00-00Z"),
                        },
                        Action::Enable {
                            version: VersionRef {
                                id: None,
                                name: new_name.into(),
                            },
                        },
                        Action::Delete {
                            version: existing("j0", "GIT::nightly__2024-04-01T00-00-00Z"),
                        },
                    ],
                },
                JobPlan {
                    name: "hourly".into(),
                    change: JobChange::Create,
                    reasons: vec![Reason::NoVersion],
                    diffs: vec![],
                    workflow_diff: None,
                    versions: vec![],
                    actions: vec![Action::CreateVersion {
                        version: Box::new(version("GIT::hourly__2024-06-01T12-00-00Z", PlannedSchedule::Interval(3600))),
                    }],
                },
            ],
            unchanged: vec!["weekly".into()],
            leftovers: vec![
                Leftover {
                    name: "retired".into(),
                    enabled: false,
                    schedule: Some("cron 0 0 1 * * *".into()),
                    versions: vec![],
                },
                Leftover {
                    name: "still-hourly".into(),
                    enabled: true,
                    schedule: Some("cron 0 0 * * * *".into()),
                    versions: vec![VersionSummary {
                        id: "j9".into(),
                        name: "GIT::still-hourly__2024-01-01T00-00-00Z".into(),
                        enabled: true,
                    }],
                },
            ],
            warnings: vec![Warning::ScheduleRestarts {
                job: "hourly".into(),
                cause: RestartCause::Interval,
            }],
        }
    }

    #[test]
    fn a_plan_shows_symbols_reasons_diffs_next_fire_times_and_a_summary() {
        insta::assert_snapshot!(render_plans(&[sample()], Palette::new(false)));
    }

    #[test]
    fn an_empty_plan_says_no_changes() {
        let mut plan = sample();
        plan.experiments.clear();
        plan.jobs.clear();
        plan.warnings.clear();
        plan.leftovers.retain(|leftover| !leftover.enabled);
        insta::assert_snapshot!(render_plans(&[plan], Palette::new(false)));
    }

    #[test]
    fn a_leftover_that_still_fires_is_out_of_sync_even_with_nothing_to_apply() {
        let mut plan = sample();
        plan.experiments.clear();
        plan.jobs.clear();
        plan.warnings.clear();
        plan.unchanged.clear();
        assert!(!plan.is_in_sync());
        let text = render_plans(&[plan], Palette::new(false));
        assert_eq!(
            text,
            "namespace team-1\n  \
             ! retired  paused, not in the config; left alone (--prune=delete removes it)\n  \
             ! still-hourly  ENABLED, not in the config: still fires (cron 0 0 * * * *)\n      \
             pause it with --prune=disable, remove it with --prune=delete (or set `prune:` for the namespace in kfp-gitops.yaml)\n\n\
             Out of sync: 1 recurring run(s) no longer in the config still fire; nothing is planned for them \
             (prune them with --prune=disable or --prune=delete, or `prune:` in kfp-gitops.yaml).\n"
        );
    }

    #[test]
    fn an_apply_report_lists_each_outcome() {
        let step = |action: &str, target: &str, id: Option<&str>, outcome: Outcome| StepReport {
            action: action.into(),
            target: target.into(),
            id: id.map(Into::into),
            outcome,
        };
        let report = ApplyReport {
            namespace: "team-1".into(),
            not_started: Vec::new(),
            experiments: vec![step(
                "create_experiment",
                "fresh",
                Some("exp-2"),
                Outcome::Done,
            )],
            jobs: vec![JobReport {
                name: "nightly".into(),
                steps: vec![
                    step(
                        "create",
                        "GIT::nightly__2024-06-01T12-00-00Z",
                        Some("j2"),
                        Outcome::Adopted,
                    ),
                    step(
                        "disable",
                        "GIT::nightly__2024-05-01T00-00-00Z",
                        Some("j1"),
                        Outcome::AlreadyGone,
                    ),
                    step(
                        "enable",
                        "GIT::nightly__2024-06-01T12-00-00Z",
                        Some("j2"),
                        Outcome::Failed {
                            message: "POST /apis/v1beta1/jobs/j2/enable failed with HTTP 500: boom"
                                .into(),
                        },
                    ),
                    step(
                        "delete",
                        "GIT::nightly__2024-04-01T00-00-00Z",
                        Some("j0"),
                        Outcome::Skipped,
                    ),
                ],
            }],
        };
        insta::assert_snapshot!(render_reports(&[report], Palette::new(false)));
    }
}
