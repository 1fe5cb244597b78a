//! The planner on a table of scenarios, snapshotted in a compact readable form (see `support::summary`).

mod support;

use kfp_config::{DesiredNamespace, Schedule};
use kfp_reconcile::{JobChange, ObservedWorkflow, PlanOptions, PruneMode, plan};
use support::*;

const NOW: &str = "2024-06-01T12:00:00Z";

fn options() -> PlanOptions {
    PlanOptions::default()
}

fn exp() -> kfp_client::models::Experiment {
    kfp_experiment("exp-1", "exp", "exp description", false)
}

/// `nightly` in the config, and one up-to-date enabled version of it in KFP.
fn baseline() -> (DesiredNamespace, Vec<kfp_client::models::Job>) {
    let run = run("nightly");
    let job = job_for(&run, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
    (desired(vec![experiment("exp")], vec![run]), vec![job])
}

fn snapshot_plan(
    desired: &DesiredNamespace,
    jobs: &[kfp_client::models::Job],
    options: &PlanOptions,
) -> String {
    snapshot_plan_with(desired, &[exp()], jobs, options)
}

fn snapshot_plan_with(
    desired: &DesiredNamespace,
    experiments: &[kfp_client::models::Experiment],
    jobs: &[kfp_client::models::Job],
    options: &PlanOptions,
) -> String {
    let observed = observed(experiments, jobs);
    let plan = plan(desired, &observed, ts(NOW), options);
    summary(&plan)
}

/// Seven versions of `nightly`, a day apart, the newest up to date and enabled.
fn seven_versions() -> Vec<kfp_client::models::Job> {
    let run = run("nightly");
    (1..=7)
        .map(|day| {
            job_for(
                &run,
                &format!("2024-05-0{day}T00:00:00Z"),
                &format!("j{day}"),
                day == 7,
                "exp-1",
            )
        })
        .collect()
}

#[test]
fn empty_namespace_creates_the_experiment_and_every_first_version() {
    let mut weekly = run("weekly");
    weekly.enabled = false;
    weekly.trigger.schedule = Schedule::Interval(604_800);
    let desired = desired(vec![experiment("exp")], vec![run("nightly"), weekly]);
    insta::assert_snapshot!(snapshot_plan_with(&desired, &[], &[], &options()));
}

#[test]
fn up_to_date_namespace_has_no_actions() {
    let (desired, jobs) = baseline();
    let observed = observed(&[exp()], &jobs);
    let plan = plan(&desired, &observed, ts(NOW), &options());
    assert!(plan.is_empty(), "{}", summary(&plan));
    assert_eq!(plan.unchanged, vec!["nightly".to_owned()]);
    assert!(plan.warnings.is_empty());
    insta::assert_snapshot!(summary(&plan));
}

#[test]
fn equivalent_values_are_not_changes() {
    // An empty parameter value that KFP omits, sub-second start dates KFP truncates, and a recompiled workflow
    // that differs only in its volatile annotations are all up to date.
    let mut run = run("nightly");
    run.parameters.push(("empty".to_owned(), String::new()));
    run.trigger.start = Some(ts("2024-01-01T00:00:00Z"));
    let mut job = job_for(&run, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
    for parameter in &mut job.pipeline_spec.parameters {
        if parameter.name == "empty" {
            parameter.value = String::new();
        }
    }
    job.pipeline_spec.workflow_manifest = job
        .pipeline_spec
        .workflow_manifest
        .replace("2024-01-02T03:04:05.123456", "2030-12-31T00:00:00")
        .replace("1.8.22", "1.8.99");
    run.trigger.start = Some(ts("2024-01-01T00:00:00.750Z"));
    let desired = desired(vec![experiment("exp")], vec![run]);
    let plan = plan(&desired, &observed(&[exp()], &[job]), ts(NOW), &options());
    assert!(plan.is_empty(), "{}", summary(&plan));
}

#[test]
fn each_compared_field_that_changes_replaces_the_version() {
    type Change = fn(&mut kfp_config::DesiredRecurringRun);
    let changes: Vec<(&str, Change)> = vec![
        ("description", |r| {
            r.description = Some("now described".into());
        }),
        ("experiment", |r| r.experiment = "other".into()),
        ("max_concurrency", |r| r.max_concurrency = 3),
        ("service_account", |r| {
            r.service_account = Some("runner".into());
        }),
        ("parameter value", |r| r.parameters[0].1 = "bonjour".into()),
        ("parameter added", |r| {
            r.parameters.push(("extra".into(), "1".into()));
        }),
        ("parameter removed", |r| r.parameters.clear()),
        ("catchup", |r| r.trigger.catchup = true),
        ("start date", |r| {
            r.trigger.start = Some(ts("2024-07-01T00:00:00Z"));
        }),
        ("end date", |r| {
            r.trigger.end = Some(ts("2025-01-01T00:00:00Z"));
        }),
        ("cron", |r| {
            r.trigger.schedule = Schedule::Cron("0 30 1 * * *".into());
        }),
        ("cron to interval", |r| {
            r.trigger.schedule = Schedule::Interval(3600);
        }),
        ("workflow", |r| r.pipeline = pipeline("v2")),
    ];
    let mut out = String::new();
    for (label, change) in changes {
        let (mut desired, jobs) = baseline();
        desired.experiments.push(experiment("other"));
        change(&mut desired.recurring_runs[0]);
        let observed = observed(
            &[
                exp(),
                kfp_experiment("exp-2", "other", "other description", false),
            ],
            &jobs,
        );
        let plan = plan(&desired, &observed, ts(NOW), &options());
        assert_eq!(plan.jobs.len(), 1, "{label}");
        assert_eq!(plan.jobs[0].change, JobChange::Replace, "{label}");
        out.push_str(&format!("## {label}\n{}\n", summary(&plan)));
    }
    insta::with_settings!({filters => vec![(r"sha256:[0-9a-f]{12}", "sha256:[digest]")]}, {
        insta::assert_snapshot!(out);
    });
}

#[test]
fn enabled_state_follows_the_config_without_a_new_version() {
    let (mut desired, jobs) = baseline();
    desired.recurring_runs[0].enabled = false;
    let to_disabled = snapshot_plan(&desired, &jobs, &options());

    let (desired, mut jobs) = baseline();
    jobs[0].enabled = false;
    let back_to_enabled = snapshot_plan(&desired, &jobs, &options());
    insta::assert_snapshot!(format!(
        "## enabled -> disabled\n{to_disabled}\n## disabled -> enabled\n{back_to_enabled}"
    ));
}

#[test]
fn latest_version_deleted_outside_git() {
    // Versions j1 (older config) and j2 (current config) existed; j2 was deleted by hand, j1 is disabled.
    let (desired, _) = baseline();
    let mut old = run("nightly");
    old.parameters[0].1 = "old".into();
    let old_job = job_for(&old, "2024-04-01T00:00:00Z", "j1", false, "exp-1");
    let replaced = snapshot_plan(&desired, &[old_job], &options());

    // When the surviving version happens to match the config, it is simply enabled again.
    let survivor = job_for(
        &run("nightly"),
        "2024-04-01T00:00:00Z",
        "j1",
        false,
        "exp-1",
    );
    let re_enabled = snapshot_plan(&desired, &[survivor], &options());
    insta::assert_snapshot!(format!(
        "## survivor differs\n{replaced}\n## survivor matches\n{re_enabled}"
    ));
}

#[test]
fn two_enabled_versions_are_reduced_to_the_latest() {
    let (desired, mut jobs) = baseline();
    jobs.push(job_for(
        &run("nightly"),
        "2024-04-01T00:00:00Z",
        "j0",
        true,
        "exp-1",
    ));
    insta::assert_snapshot!(snapshot_plan(&desired, &jobs, &options()));
}

#[test]
fn keep_history_with_seven_versions() {
    let mut out = String::new();
    for keep in [0, 2, -1] {
        let (mut desired, _) = baseline();
        desired.recurring_runs[0].keep_history = keep;
        out.push_str(&format!(
            "## keep_history {keep}, up to date\n{}\n",
            snapshot_plan(&desired, &seven_versions(), &options())
        ));
        desired.recurring_runs[0].max_concurrency = 2;
        out.push_str(&format!(
            "## keep_history {keep}, replaced\n{}\n",
            snapshot_plan(&desired, &seven_versions(), &options())
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn orphans_are_reported_and_pruned_only_when_asked() {
    let (desired, mut jobs) = baseline();
    let gone = run("retired");
    jobs.push(job_for(&gone, "2024-03-01T00:00:00Z", "r1", false, "exp-1"));
    jobs.push(job_for(&gone, "2024-03-02T00:00:00Z", "r2", true, "exp-1"));
    let mut out = String::new();
    for prune in [PruneMode::None, PruneMode::Disable, PruneMode::Delete] {
        let options = PlanOptions { prune, ..options() };
        out.push_str(&format!(
            "## prune {prune:?}\n{}\n",
            snapshot_plan(&desired, &jobs, &options)
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn pruning_an_empty_config_needs_allow_empty_prune() {
    let (_, jobs) = baseline();
    let empty = desired(vec![experiment("exp")], vec![]);
    let refused = snapshot_plan(
        &empty,
        &jobs,
        &PlanOptions {
            prune: PruneMode::Delete,
            ..options()
        },
    );
    let allowed = snapshot_plan(
        &empty,
        &jobs,
        &PlanOptions {
            prune: PruneMode::Delete,
            allow_empty_prune: true,
            ..options()
        },
    );
    insta::assert_snapshot!(format!(
        "## without --allow-empty-prune\n{refused}\n## with --allow-empty-prune\n{allowed}"
    ));
}

#[test]
fn archived_experiment_is_unarchived_and_its_job_re_enabled() {
    // Archiving an experiment disables its jobs; unarchiving does not re-enable them.
    let (desired, mut jobs) = baseline();
    jobs[0].enabled = false;
    let archived = kfp_experiment("exp-1", "exp", "exp description", true);
    insta::assert_snapshot!(snapshot_plan_with(&desired, &[archived], &jobs, &options()));
}

#[test]
fn experiment_description_drift_is_a_warning_only() {
    let (desired, jobs) = baseline();
    let drifted = kfp_experiment("exp-1", "exp", "edited in the UI", false);
    let observed = observed(&[drifted], &jobs);
    let plan = plan(&desired, &observed, ts(NOW), &options());
    assert!(plan.is_empty());
    insta::assert_snapshot!(summary(&plan));
}

#[test]
fn version_timestamp_collisions_are_bumped_past_the_newest_version() {
    let (mut desired, _) = baseline();
    desired.recurring_runs[0].max_concurrency = 4;
    let same_second = job_for(&run("nightly"), NOW, "j1", true, "exp-1");
    let clock_behind = job_for(&run("nightly"), "2024-06-01T12:00:30Z", "j1", true, "exp-1");
    let twin_a = job_for(
        &run("nightly"),
        "2024-05-01T00:00:00Z",
        "ja",
        false,
        "exp-1",
    );
    let mut twin_b = job_for(&run("nightly"), "2024-05-01T00:00:00Z", "jb", true, "exp-1");
    twin_b.created_at = Some(ts("2024-05-01T00:00:01Z"));
    insta::assert_snapshot!(format!(
        "## newest version made in the same second\n{}\n## newest version ahead of the clock\n{}\n## two versions with the same name\n{}",
        snapshot_plan(&desired, &[same_second], &options()),
        snapshot_plan(&desired, &[clock_behind], &options()),
        snapshot_plan(&desired, &[twin_a, twin_b], &options()),
    ));
}

#[test]
fn warnings_for_unmanaged_namesakes_and_restarting_schedules() {
    let (mut desired, mut jobs) = baseline();
    desired.recurring_runs[0].trigger.catchup = true;
    let mut interval = run("hourly");
    interval.trigger.schedule = Schedule::Interval(3600);
    let mut old_interval = interval.clone();
    old_interval.trigger.schedule = Schedule::Interval(1800);
    jobs.push(job_for(
        &old_interval,
        "2024-05-01T00:00:00Z",
        "h1",
        true,
        "exp-1",
    ));
    desired.recurring_runs.push(interval);
    let mut namesake = job_for(&run("nightly"), "2024-05-01T00:00:00Z", "u1", true, "exp-1");
    namesake.name = "nightly".into();
    jobs.push(namesake);
    insta::assert_snapshot!(snapshot_plan(&desired, &jobs, &options()));
}

#[test]
fn missing_experiment_is_created_before_the_versions_that_need_it() {
    let (mut desired, jobs) = baseline();
    desired.experiments.push(experiment("fresh"));
    desired.recurring_runs[0].experiment = "fresh".into();
    insta::assert_snapshot!(snapshot_plan(&desired, &jobs, &options()));
}

#[test]
fn default_runner_service_account_is_configurable() {
    let (desired, jobs) = baseline();
    let options = PlanOptions {
        default_runner_sa: "pipeline-runner".into(),
        ..options()
    };
    let plan = plan(&desired, &observed(&[exp()], &jobs), ts(NOW), &options);
    assert_eq!(plan.jobs[0].diffs[0].field, "service_account");
    assert_eq!(
        plan.jobs[0].diffs[0].desired.as_deref(),
        Some("pipeline-runner")
    );
}

#[test]
fn the_json_form_of_a_plan_is_versioned_and_complete() {
    let (mut desired, jobs) = baseline();
    desired.recurring_runs[0].max_concurrency = 2;
    let observed = observed(&[exp()], &jobs);
    let plan = plan(&desired, &observed, ts(NOW), &options());
    let file = kfp_reconcile::PlanFile::new(vec![plan]);
    let text = serde_json::to_string(&file).unwrap();
    let back: kfp_reconcile::PlanFile = serde_json::from_str(&text).unwrap();
    assert_eq!(back, file);
    insta::assert_json_snapshot!(file, {
        ".plans[].fingerprint" => "[fingerprint]",
        ".plans[].jobs[].actions[].version.workflow_digest" => "[digest]",
        ".plans[].jobs[].actions[].version.workflow_manifest" => "[manifest]",
    });
}

#[test]
fn the_fingerprint_ignores_listing_order_but_not_state() {
    let (_, jobs) = baseline();
    let mut more = jobs.clone();
    more.push(job_for(
        &run("other"),
        "2024-05-02T00:00:00Z",
        "j2",
        false,
        "exp-1",
    ));
    let a = observed(&[exp()], &more);
    let mut reversed = more.clone();
    reversed.reverse();
    let b = observed(&[exp()], &reversed);
    assert_eq!(a.fingerprint(), b.fingerprint());
    more[1].enabled = true;
    assert_ne!(a.fingerprint(), observed(&[exp()], &more).fingerprint());
}

#[test]
fn older_versions_are_planned_without_their_workflows() {
    // Three older, disabled versions of `nightly` whose manifests are not workflows at all, listed before and
    // after the newest one, which matches the config.
    let (desired, mut jobs) = baseline();
    let mut older = Vec::new();
    for (day, id) in [("02", "j-2"), ("03", "j-3"), ("04", "j-4")] {
        let mut job = job_for(
            &run("nightly"),
            &format!("2024-04-{day}T00:00:00Z"),
            id,
            false,
            "exp-1",
        );
        job.pipeline_spec.workflow_manifest = "{ this is not a workflow".to_owned();
        older.push(job);
    }
    jobs.insert(0, older[0].clone());
    jobs.extend(older[1..].iter().cloned());

    let state = observed(&[exp()], &jobs);
    for job in &state.jobs {
        let expected_read = job.id == "j1";
        assert_eq!(
            !matches!(job.workflow, ObservedWorkflow::NotRead),
            expected_read,
            "{}: {:?}",
            job.name,
            job.workflow
        );
    }
    let up_to_date = plan(&desired, &state, ts(NOW), &options());
    assert!(up_to_date.is_empty(), "{}", summary(&up_to_date));
    assert_eq!(up_to_date.unchanged, vec!["nightly".to_owned()]);
    assert!(up_to_date.warnings.is_empty(), "{:?}", up_to_date.warnings);

    // The same manifest on the newest version is read, and replaces it.
    let mut broken_newest = jobs.clone();
    let newest = broken_newest.iter_mut().find(|job| job.id == "j1").unwrap();
    newest.pipeline_spec.workflow_manifest = "{ this is not a workflow".to_owned();
    let replaced = plan(
        &desired,
        &observed(&[exp()], &broken_newest),
        ts(NOW),
        &options(),
    );
    assert_eq!(replaced.jobs.len(), 1, "{}", summary(&replaced));
    assert_eq!(replaced.jobs[0].change, JobChange::Replace);
    assert_eq!(replaced.jobs[0].diffs.len(), 1, "{}", summary(&replaced));
    assert_eq!(replaced.jobs[0].diffs[0].field, "workflow");
    assert!(
        replaced.jobs[0].diffs[0]
            .observed
            .as_deref()
            .is_some_and(|observed| observed.starts_with("unreadable")),
        "{}",
        summary(&replaced)
    );
}

#[test]
fn of_two_up_to_date_versions_with_one_name_the_enabled_one_stays_even_if_created_first() {
    let (desired, _) = baseline();
    // A create retried after its answer was lost left a second, paused version of the same name,
    // created later than the one that runs.
    let running = job_for(&run("nightly"), "2024-05-01T00:00:00Z", "ja", true, "exp-1");
    let mut twin = job_for(
        &run("nightly"),
        "2024-05-01T00:00:00Z",
        "jb",
        false,
        "exp-1",
    );
    twin.created_at = Some(ts("2024-05-01T00:00:01Z"));
    let plan = snapshot_plan(&desired, &[running, twin], &options());
    assert_eq!(
        plan,
        "job nightly (Update)\n  because 1 version with the same name as a newer one (KFP does not keep names \
         unique; the extra ones are deleted)\n  delete GIT::nightly__2024-05-01T00-00-00Z [jb]\n"
    );
}

#[test]
fn an_adopted_unmanaged_job_is_disabled_between_creating_and_enabling_the_first_version_and_then_left_alone()
 {
    let mut nightly = run("nightly");
    nightly.adopt = Some("Nightly (UI)".into());
    let desired = desired(vec![experiment("exp")], vec![nightly.clone()]);
    let mut ui_job = job_for(&nightly, "2024-05-01T00:00:00Z", "u1", true, "exp-1");
    ui_job.name = "Nightly (UI)".into();
    let observed_before = observed(&[exp()], std::slice::from_ref(&ui_job));
    let before = plan(&desired, &observed_before, ts(NOW), &options());
    assert_eq!(before.jobs.len(), 1);
    let job = &before.jobs[0];
    assert_eq!(job.change, kfp_reconcile::JobChange::Adopt);
    let steps: Vec<String> = job
        .actions
        .iter()
        .map(|a| format!("{} {}", a.verb(), a.version_name()))
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(steps[0].starts_with("create GIT::nightly__"), "{steps:?}");
    assert_eq!(steps[1], "disable Nightly (UI)");
    assert!(steps[2].starts_with("enable GIT::nightly__"), "{steps:?}");
    assert!(before.warnings.is_empty(), "{:?}", before.warnings);

    // After the apply: the managed version is enabled, the adopted job paused and kept.
    ui_job.enabled = false;
    let managed = job_for(&nightly, "2024-06-01T00:00:00Z", "m1", true, "exp-1");
    let after = plan(
        &desired,
        &observed(&[exp()], &[ui_job.clone(), managed.clone()]),
        ts(NOW),
        &options(),
    );
    assert!(after.is_in_sync(), "{}", summary(&after));
    // Enabled again in the UI: disabled again, never deleted.
    ui_job.enabled = true;
    let again = plan(
        &desired,
        &observed(&[exp()], &[ui_job, managed]),
        ts(NOW),
        &options(),
    );
    let steps: Vec<String> = again.jobs[0]
        .actions
        .iter()
        .map(|a| format!("{} {}", a.verb(), a.version_name()))
        .collect();
    assert_eq!(steps, ["disable Nightly (UI)"]);
}
