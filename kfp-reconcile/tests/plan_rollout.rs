//! Planning verified rollouts: where the verification goes, when there is one, and which setting wins.

mod support;

use kfp_config::{DesiredRollout, RolloutStrategy};
use kfp_reconcile::RolloutPolicy;
use kfp_reconcile::{Action, JobChange, Parameter, Plan, PlanFile, PlanOptions, Reason, plan};
use support::*;

const NOW: &str = "2024-06-01T12:00:00Z";

fn verify(timeout_seconds: u64) -> DesiredRollout {
    DesiredRollout {
        strategy: Some(RolloutStrategy::Verify),
        timeout_seconds: Some(timeout_seconds),
        ..DesiredRollout::default()
    }
}

fn plan_with(
    run: kfp_config::DesiredRecurringRun,
    jobs: &[kfp_client::models::Job],
    options: &PlanOptions,
) -> Plan {
    let experiments = [kfp_experiment("exp-1", "exp", "exp description", false)];
    plan(
        &desired(vec![experiment("exp")], vec![run]),
        &observed(&experiments, jobs),
        ts(NOW),
        options,
    )
}

/// The actions of the only job, as `verb name`.
fn steps(plan: &Plan) -> Vec<String> {
    assert_eq!(plan.jobs.len(), 1, "{plan:#?}");
    plan.jobs[0]
        .actions
        .iter()
        .map(|action| format!("{} {}", action.verb(), action.version_name()))
        .collect()
}

/// `nightly` changed in git (a new message) with one enabled version of the old config in KFP.
fn changed(
    rollout: DesiredRollout,
) -> (
    kfp_config::DesiredRecurringRun,
    Vec<kfp_client::models::Job>,
) {
    let old = run("nightly");
    let job = job_for(&old, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
    let mut new = run("nightly");
    new.pipeline = pipeline("v2");
    new.rollout = rollout;
    (new, vec![job])
}

#[test]
fn a_verified_replacement_runs_the_new_version_before_the_swap() {
    let (run, jobs) = changed(verify(7200));
    let plan = plan_with(run, &jobs, &PlanOptions::default());
    assert_eq!(plan.jobs[0].change, JobChange::Replace);
    assert_eq!(
        steps(&plan),
        [
            "create GIT::nightly__2024-06-01T12-00-00Z",
            "verify GIT::nightly__2024-06-01T12-00-00Z",
            "disable GIT::nightly__2024-05-01T00-00-00Z",
            "enable GIT::nightly__2024-06-01T12-00-00Z",
        ]
    );
    let verification = kfp_reconcile::verification(&plan.jobs[0]).unwrap();
    assert_eq!(verification.timeout_seconds, 7200);
    assert!(!verification.keep_failed);
}

#[test]
fn a_swap_has_no_verification() {
    let (run, jobs) = changed(DesiredRollout::default());
    let plan = plan_with(run, &jobs, &PlanOptions::default());
    assert!(!steps(&plan).iter().any(|step| step.starts_with("verify")));
}

#[test]
fn a_first_creation_is_verified_too_but_a_disabled_run_is_not() {
    let mut first = run("nightly");
    first.rollout = verify(60);
    let plan = plan_with(first.clone(), &[], &PlanOptions::default());
    assert_eq!(
        steps(&plan),
        [
            "create GIT::nightly__2024-06-01T12-00-00Z",
            "verify GIT::nightly__2024-06-01T12-00-00Z",
            "enable GIT::nightly__2024-06-01T12-00-00Z",
        ]
    );
    first.enabled = false;
    let plan = plan_with(first, &[], &PlanOptions::default());
    assert_eq!(steps(&plan), ["create GIT::nightly__2024-06-01T12-00-00Z"]);
}

#[test]
fn a_paused_newest_version_next_to_the_enabled_old_one_resumes_its_verification() {
    let old = run("nightly");
    let mut new = run("nightly");
    new.pipeline = pipeline("v2");
    new.rollout = verify(600);
    let jobs = vec![
        job_for(&old, "2024-05-01T00:00:00Z", "j1", true, "exp-1"),
        job_for(&new, "2024-06-01T11:00:00Z", "j2", false, "exp-1"),
    ];
    let plan = plan_with(new, &jobs, &PlanOptions::default());
    let job = &plan.jobs[0];
    assert_eq!(job.change, JobChange::Update);
    assert_eq!(
        steps(&plan),
        [
            "verify GIT::nightly__2024-06-01T11-00-00Z",
            "disable GIT::nightly__2024-05-01T00-00-00Z",
            "enable GIT::nightly__2024-06-01T11-00-00Z",
        ]
    );
    match &job.actions[0] {
        Action::Verify { version, .. } => assert_eq!(version.id.as_deref(), Some("j2")),
        other => panic!("{other:?}"),
    }
    // The old version still running is the rollout's doing: not drift while git's change rolls out.
    assert_eq!(
        job.reasons,
        [Reason::Unverified {
            version: "GIT::nightly__2024-06-01T11-00-00Z".to_owned()
        }]
    );
    assert!(!kfp_reconcile::is_drift(job, Some(&1), Some(&2)));
    assert!(!kfp_reconcile::is_drift(job, None, Some(&2)));
}

#[test]
fn the_command_line_beats_the_run_which_beats_the_project_default() {
    let (own_swap, jobs) = changed(DesiredRollout {
        strategy: Some(RolloutStrategy::Swap),
        ..DesiredRollout::default()
    });
    let project_verifies = PlanOptions {
        rollout: RolloutPolicy {
            defaults: verify(1800),
            force: None,
        },
        ..PlanOptions::default()
    };
    let plan = plan_with(own_swap, &jobs, &project_verifies);
    assert!(kfp_reconcile::verification(&plan.jobs[0]).is_none());

    let (unset, jobs) = changed(DesiredRollout::default());
    let plan = plan_with(unset.clone(), &jobs, &project_verifies);
    let verification = kfp_reconcile::verification(&plan.jobs[0]).unwrap();
    assert_eq!(verification.timeout_seconds, 1800);

    let forced_swap = PlanOptions {
        rollout: RolloutPolicy {
            force: Some(RolloutStrategy::Swap),
            ..project_verifies.rollout.clone()
        },
        ..PlanOptions::default()
    };
    let plan = plan_with(unset.clone(), &jobs, &forced_swap);
    assert!(kfp_reconcile::verification(&plan.jobs[0]).is_none());

    let forced_verify = PlanOptions {
        rollout: RolloutPolicy {
            defaults: DesiredRollout::default(),
            force: Some(RolloutStrategy::Verify),
        },
        ..PlanOptions::default()
    };
    let plan = plan_with(unset, &jobs, &forced_verify);
    let verification = kfp_reconcile::verification(&plan.jobs[0]).unwrap();
    assert_eq!(
        verification.timeout_seconds,
        kfp_config::DEFAULT_VERIFY_TIMEOUT_SECONDS
    );
}

#[test]
fn a_saved_plan_carries_the_verification_with_its_parameters() {
    let (run, jobs) = changed(DesiredRollout {
        keep_failed: Some(true),
        parameters: vec![("msg".to_owned(), "smoke".to_owned())],
        ..verify(900)
    });
    let plan = plan_with(run, &jobs, &PlanOptions::default());
    let text = serde_json::to_string(&PlanFile::new(vec![plan.clone()])).unwrap();
    let read: PlanFile = serde_json::from_str(&text).unwrap();
    assert_eq!(read.plans, std::slice::from_ref(&plan));
    let verification = kfp_reconcile::verification(&read.plans[0].jobs[0]).unwrap();
    assert!(verification.keep_failed);
    assert_eq!(
        verification.parameters,
        [Parameter {
            name: "msg".to_owned(),
            value: "smoke".to_owned()
        }]
    );
}
