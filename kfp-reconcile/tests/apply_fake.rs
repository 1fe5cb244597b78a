//! `observe` and `apply` against an in-memory KFP: order of calls, faults at every step, ambiguous creates.

mod support;

use kfp_reconcile::{ApplyOptions, Outcome, PlanOptions, apply, plan};
use support::*;

const NOW: &str = "2024-06-01T12:00:00Z";

fn exp() -> kfp_client::models::Experiment {
    kfp_experiment("exp-1", "exp", "exp description", false)
}

/// Three versions of `nightly` (the two older ones disabled), and `weekly` with one version.
fn cluster() -> FakeKfp {
    let nightly = run("nightly");
    let weekly = run("weekly");
    FakeKfp::new(
        vec![exp()],
        vec![
            job_for(&nightly, "2024-05-01T00:00:00Z", "n1", false, "exp-1"),
            job_for(&nightly, "2024-05-02T00:00:00Z", "n2", false, "exp-1"),
            job_for(&nightly, "2024-05-03T00:00:00Z", "n3", true, "exp-1"),
            job_for(&weekly, "2024-05-03T00:00:00Z", "w1", true, "exp-1"),
        ],
    )
}

/// The config after a change to `nightly` that needs a new version, keeping one old version.
fn changed_config() -> kfp_config::DesiredNamespace {
    let mut nightly = run("nightly");
    nightly.max_concurrency = 2;
    nightly.keep_history = 1;
    desired(vec![experiment("exp")], vec![nightly, run("weekly")])
}

fn plan_now(fake: &FakeKfp, now: &str) -> kfp_reconcile::Plan {
    plan(
        &changed_config(),
        &fake.observe(),
        ts(now),
        &PlanOptions::default(),
    )
}

fn versions_of(fake: &FakeKfp, job: &str) -> Vec<(String, bool)> {
    let mut versions: Vec<(String, bool)> = fake
        .jobs()
        .into_iter()
        .filter(|j| kfp_config::parse_version_name(&j.name).is_some_and(|n| n.job == job))
        .map(|j| (j.name, j.enabled))
        .collect();
    versions.sort();
    versions
}

#[test]
fn observing_lists_each_page_of_experiments_and_jobs_once_and_nothing_else() {
    let fake = cluster();
    fake.observe();
    // The fake serves pages of 3: one page of experiments, two of jobs.
    assert_eq!(
        fake.calls(),
        vec!["list_experiments ", "list_jobs ", "list_jobs "]
    );
}

#[test]
fn apply_runs_the_safe_order_and_converges() {
    let fake = cluster();
    let plan = plan_now(&fake, NOW);
    let before = fake.calls().len();
    let report = apply(&plan, &fake, &ApplyOptions::default());
    assert!(report.is_success(), "{report:#?}");
    let calls = fake.calls()[before..].to_vec();
    assert_eq!(
        calls,
        vec![
            "create_job GIT::nightly__2024-06-01T12-00-00Z",
            "disable_job n3",
            "enable_job job-1001",
            "delete_job n1",
            "delete_job n2",
        ]
    );
    assert_eq!(
        versions_of(&fake, "nightly"),
        vec![
            ("GIT::nightly__2024-05-03T00-00-00Z".to_owned(), false),
            ("GIT::nightly__2024-06-01T12-00-00Z".to_owned(), true),
        ]
    );
    assert!(plan_now(&fake, "2024-06-01T12:05:00Z").is_empty());
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

/// Every call the apply of [`changed_config`] makes, to fail one at a time.
const STEPS: &[(&str, usize)] = &[
    ("create_job", 1),
    ("disable_job", 1),
    ("enable_job", 1),
    ("delete_job", 1),
    ("delete_job", 2),
];

#[test]
fn a_failure_at_any_step_leaves_a_state_the_next_apply_converges_from() {
    for &(call, nth) in STEPS {
        for after_apply in [false, true] {
            let label = format!("{call} #{nth} (after_apply: {after_apply})");
            let fake = cluster();
            fake.inject(Fault {
                call,
                nth,
                after_apply,
                status: 500,
            });
            let first = apply(&plan_now(&fake, NOW), &fake, &ApplyOptions::default());
            // A call whose answer was lost after the server acted is confirmed by reading the
            // version back (or, for a create, by its name), so the apply goes on; a create that
            // failed with a 5xx and is not found by name is tried again.
            let expect_clean = after_apply || call == "create_job";
            assert_eq!(first.is_success(), expect_clean, "{label}: {first:#?}");
            // The other job is untouched by the failure.
            assert_eq!(versions_of(&fake, "weekly").len(), 1, "{label}");
            // Never zero enabled versions, never two, after the failed apply.
            let enabled = versions_of(&fake, "nightly")
                .into_iter()
                .filter(|(_, enabled)| *enabled)
                .count();
            assert_eq!(enabled, 1, "{label}: {:?}", versions_of(&fake, "nightly"));

            let second_plan = plan_now(&fake, "2024-06-01T12:01:00Z");
            let second = apply(&second_plan, &fake, &ApplyOptions::default());
            assert!(second.is_success(), "{label}: {second:#?}");
            assert!(
                plan_now(&fake, "2024-06-01T12:02:00Z").is_empty(),
                "{label}: not converged"
            );

            let nightly = versions_of(&fake, "nightly");
            assert_eq!(
                nightly.len(),
                2,
                "{label}: keep_history 1 → latest + one: {nightly:?}"
            );
            assert_eq!(
                nightly.iter().filter(|(_, enabled)| *enabled).count(),
                1,
                "{label}: {nightly:?}"
            );
            assert!(
                fake.violations().is_empty(),
                "{label}: {:?}",
                fake.violations()
            );
        }
    }
}

#[test]
fn a_failed_enable_of_the_new_version_enables_the_old_one_again() {
    let fake = cluster();
    fake.inject(Fault {
        call: "enable_job",
        nth: 1,
        after_apply: false,
        status: 500,
    });
    let report = apply(&plan_now(&fake, NOW), &fake, &ApplyOptions::default());
    let steps: Vec<(&str, &str, bool)> = report.jobs[0]
        .steps
        .iter()
        .map(|step| {
            (
                step.action.as_str(),
                step.target.as_str(),
                step.outcome.is_success(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("create", "GIT::nightly__2024-06-01T12-00-00Z", true),
            ("disable", "GIT::nightly__2024-05-03T00-00-00Z", true),
            ("enable", "GIT::nightly__2024-06-01T12-00-00Z", false),
            ("re_enable", "GIT::nightly__2024-05-03T00-00-00Z", true),
            ("delete", "GIT::nightly__2024-05-01T00-00-00Z", false),
            ("delete", "GIT::nightly__2024-05-02T00-00-00Z", false),
        ]
    );
    assert!(
        versions_of(&fake, "nightly")
            .contains(&("GIT::nightly__2024-05-03T00-00-00Z".to_owned(), true)),
        "the old version runs again"
    );
    assert!(!report.is_success());
}

#[test]
fn a_create_whose_answer_is_lost_is_adopted_not_repeated() {
    let fake = cluster();
    fake.inject(Fault {
        call: "create_job",
        nth: 1,
        after_apply: true,
        status: 0,
    });
    let report = apply(&plan_now(&fake, NOW), &fake, &ApplyOptions::default());
    let create = &report.jobs[0].steps[0];
    assert_eq!(create.outcome, Outcome::Adopted);
    assert_eq!(create.id.as_deref(), Some("job-1001"));
    assert_eq!(
        fake.jobs()
            .iter()
            .filter(|job| job.name == "GIT::nightly__2024-06-01T12-00-00Z")
            .count(),
        1
    );
    assert!(report.is_success());
}

#[test]
fn a_failed_job_stops_at_its_first_failure_and_other_jobs_go_on() {
    let fake = cluster();
    let mut config = changed_config();
    config.recurring_runs[1].max_concurrency = 5;
    fake.inject(Fault {
        call: "create_job",
        nth: 1,
        after_apply: false,
        status: 400,
    });
    let plan = plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default());
    let report = apply(
        &plan,
        &fake,
        &ApplyOptions {
            concurrency: 1,
            ..ApplyOptions::default()
        },
    );
    let nightly = &report.jobs[0];
    assert!(matches!(nightly.steps[0].outcome, Outcome::Failed { .. }));
    assert!(
        nightly.steps[1..]
            .iter()
            .all(|step| step.outcome == Outcome::Skipped)
    );
    assert!(
        report.jobs[1]
            .steps
            .iter()
            .all(|step| step.outcome == Outcome::Done)
    );
    assert_eq!(report.failed_count(), 1);
    // The old version of the failed job still runs: nothing was disabled or deleted.
    assert!(
        versions_of(&fake, "nightly")
            .contains(&("GIT::nightly__2024-05-03T00-00-00Z".to_owned(), true))
    );
}

#[test]
fn deleting_or_disabling_a_version_that_is_already_gone_counts_as_done() {
    let fake = cluster();
    let plan = plan_now(&fake, NOW);
    fake.state
        .lock()
        .unwrap()
        .jobs
        .retain(|job| job.id != "n1" && job.id != "n3");
    let report = apply(&plan, &fake, &ApplyOptions::default());
    let outcomes: Vec<(&str, &Outcome)> = report.jobs[0]
        .steps
        .iter()
        .map(|step| (step.action.as_str(), &step.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("create", &Outcome::Done),
            ("disable", &Outcome::AlreadyGone),
            ("enable", &Outcome::Done),
            ("delete", &Outcome::AlreadyGone),
            ("delete", &Outcome::Done),
        ]
    );
}

#[test]
fn missing_experiments_are_created_first_and_used_by_new_versions() {
    let fake = FakeKfp::new(vec![], vec![]);
    let config = desired(vec![experiment("exp")], vec![run("nightly")]);
    let report = apply(
        &plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default()),
        &fake,
        &ApplyOptions::default(),
    );
    assert!(report.is_success(), "{report:#?}");
    let experiments = fake.experiments();
    assert_eq!(experiments.len(), 1);
    assert_eq!(
        experiments[0].resource_references,
        vec![kfp_client::models::ResourceReference::namespace_owner(
            "team-1"
        )]
    );
    assert_eq!(
        fake.jobs()[0].experiment_id(),
        Some(experiments[0].id.as_str())
    );
    assert!(plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default()).is_empty());
}

#[test]
fn an_experiment_create_whose_answer_is_lost_is_adopted() {
    let fake = FakeKfp::new(vec![], vec![]);
    fake.inject(Fault {
        call: "create_experiment",
        nth: 1,
        after_apply: true,
        status: 0,
    });
    let config = desired(vec![experiment("exp")], vec![run("nightly")]);
    let report = apply(
        &plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default()),
        &fake,
        &ApplyOptions::default(),
    );
    assert_eq!(report.experiments[0].outcome, Outcome::Adopted);
    assert!(report.is_success(), "{report:#?}");
}

#[test]
fn a_job_whose_experiment_could_not_be_created_is_not_attempted() {
    let fake = FakeKfp::new(vec![], vec![]);
    fake.inject(Fault {
        call: "create_experiment",
        nth: 1,
        after_apply: false,
        status: 403,
    });
    let config = desired(vec![experiment("exp")], vec![run("nightly")]);
    let report = apply(
        &plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default()),
        &fake,
        &ApplyOptions::default(),
    );
    assert!(!report.is_success());
    assert!(
        matches!(&report.jobs[0].steps[0].outcome, Outcome::Failed { message } if message.contains("experiment"))
    );
    assert!(fake.jobs().is_empty());
}

#[test]
fn many_jobs_are_applied_concurrently_with_each_job_in_order() {
    let runs: Vec<_> = (0..12).map(|i| run(&format!("job-{i:02}"))).collect();
    let fake = FakeKfp::new(vec![exp()], vec![]);
    let config = desired(vec![experiment("exp")], runs);
    let plan = plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default());
    let report = apply(
        &plan,
        &fake,
        &ApplyOptions {
            concurrency: 4,
            ..ApplyOptions::default()
        },
    );
    assert!(report.is_success());
    for job in &report.jobs {
        let calls: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|call| {
                call.contains(&format!("GIT::{}__", job.name))
                    || job
                        .steps
                        .iter()
                        .any(|s| s.id.as_deref().is_some_and(|id| call.ends_with(id)))
            })
            .collect();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert!(
            calls[0].starts_with("create_job") && calls[1].starts_with("enable_job"),
            "{calls:?}"
        );
    }
    assert!(plan_is_empty_after(&fake, &config));
}

fn plan_is_empty_after(fake: &FakeKfp, config: &kfp_config::DesiredNamespace) -> bool {
    plan(
        config,
        &fake.observe(),
        ts("2024-06-01T13:00:00Z"),
        &PlanOptions::default(),
    )
    .is_empty()
}

#[test]
fn no_version_is_created_in_an_experiment_that_stays_archived() {
    let archived = kfp_experiment("exp-1", "exp", "exp description", true);
    let fake = FakeKfp::new(vec![archived], vec![]);
    fake.inject(Fault {
        call: "unarchive_experiment",
        nth: 1,
        after_apply: false,
        status: 403,
    });
    let config = desired(vec![experiment("exp")], vec![run("nightly")]);
    let report = apply(
        &plan(&config, &fake.observe(), ts(NOW), &PlanOptions::default()),
        &fake,
        &ApplyOptions::default(),
    );
    assert!(matches!(
        report.experiments[0].outcome,
        Outcome::Failed { .. }
    ));
    assert!(
        matches!(&report.jobs[0].steps[0].outcome, Outcome::Failed { message } if message.contains("could not be created or unarchived")),
        "{report:#?}"
    );
    assert!(fake.jobs().is_empty());
}
