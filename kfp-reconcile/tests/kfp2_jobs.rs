//! Jobs a KFP 2.x backend lists that kfp-gitops cannot use (KFP2-V1BETA1.md §2.5 "jobs created by others",
//! §5 P0-2): a KFP v2 job under a managed name, a job without any manifest, a job with an `error`. Each is
//! skipped with a warning: never compared, never changed, never drift.

mod support;

use kfp_reconcile::{JobChange, PlanOptions, Warning, plan};
use support::*;

const NOW: &str = "2024-06-01T12:00:00Z";

fn unusable(mut job: kfp_client::models::Job, how: &str) -> kfp_client::models::Job {
    match how {
        "v2" => {
            job.pipeline_spec.workflow_manifest.clear();
            job.pipeline_spec.pipeline_manifest = "pipelineInfo:\n  name: x\n".to_owned();
        }
        "empty" => job.pipeline_spec.workflow_manifest.clear(),
        _ => job.error = "the ScheduledWorkflow is broken".to_owned(),
    }
    job
}

#[test]
fn a_newer_unusable_version_is_skipped_with_a_warning_and_the_usable_one_stays_up_to_date() {
    for how in ["v2", "empty", "error"] {
        let run = run("nightly");
        let good = job_for(&run, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
        let bad = unusable(
            job_for(&run, "2024-05-02T00:00:00Z", "j2", true, "exp-1"),
            how,
        );
        let desired = desired(vec![experiment("exp")], vec![run]);
        let fake = FakeKfp::new(
            vec![kfp_experiment("exp-1", "exp", "exp description", false)],
            vec![bad, good],
        );
        let observed = fake.observe();
        let plan = plan(&desired, &observed, ts(NOW), &PlanOptions::default());
        assert!(
            plan.jobs.is_empty(),
            "{how}: no change at all: {}",
            summary(&plan)
        );
        assert_eq!(plan.unchanged, ["nightly"], "{how}");
        assert!(
            plan.warnings
                .iter()
                .any(|w| matches!(w, Warning::UnusableJobSkipped { id, .. } if id == "j2")),
            "{how}: {:?}",
            plan.warnings
        );
        let text = plan
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<String>();
        assert!(text.contains("is skipped because"), "{text}");
    }
}

#[test]
fn a_job_whose_only_version_is_unusable_gets_a_new_version_once_and_then_converges() {
    let run = run("nightly");
    let bad = unusable(
        job_for(&run, "2024-05-02T00:00:00Z", "j2", false, "exp-1"),
        "v2",
    );
    let desired = desired(vec![experiment("exp")], vec![run]);
    let fake = FakeKfp::new(
        vec![kfp_experiment("exp-1", "exp", "exp description", false)],
        vec![bad],
    );
    let first = plan(&desired, &fake.observe(), ts(NOW), &PlanOptions::default());
    assert_eq!(first.jobs.len(), 1);
    assert_eq!(
        first.jobs[0].change,
        JobChange::Create,
        "{}",
        summary(&first)
    );
    let report = kfp_reconcile::apply(&first, &fake, &kfp_reconcile::ApplyOptions::default());
    assert!(report.is_success(), "{report:?}");
    for _ in 0..3 {
        let again = plan(&desired, &fake.observe(), ts(NOW), &PlanOptions::default());
        assert!(again.jobs.is_empty(), "{}", summary(&again));
        assert_eq!(again.warnings.len(), 1);
    }
}

#[test]
fn unusable_jobs_with_unmanaged_names_are_not_warned_about() {
    let run = run("nightly");
    let good = job_for(&run, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
    let mut foreign = unusable(good.clone(), "v2");
    foreign.name = "someone else's v2 job".to_owned();
    foreign.id = "f1".to_owned();
    let desired = desired(vec![experiment("exp")], vec![run]);
    let fake = FakeKfp::new(
        vec![kfp_experiment("exp-1", "exp", "exp description", false)],
        vec![good, foreign],
    );
    let plan = plan(&desired, &fake.observe(), ts(NOW), &PlanOptions::default());
    assert!(
        plan.jobs.is_empty() && plan.warnings.is_empty(),
        "{}",
        summary(&plan)
    );
}

#[test]
fn a_yaml_manifest_as_2x_echoes_it_compares_like_its_json() {
    let run = run("nightly");
    let json_job = job_for(&run, "2024-05-01T00:00:00Z", "j1", true, "exp-1");
    let value: serde_json::Value =
        serde_json::from_str(&json_job.pipeline_spec.workflow_manifest).unwrap();
    let mut yaml_job = json_job.clone();
    yaml_job.pipeline_spec.workflow_manifest = serde_saphyr::to_string(&value).unwrap();
    assert_ne!(
        yaml_job.pipeline_spec.workflow_manifest,
        json_job.pipeline_spec.workflow_manifest
    );
    let digest = |job| kfp_reconcile::observe_job(job).workflow;
    assert!(matches!(
        digest(&json_job),
        kfp_reconcile::ObservedWorkflow::Digest(_)
    ));
    assert_eq!(digest(&yaml_job), digest(&json_job));
}
