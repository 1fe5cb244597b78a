//! `kfp_reconcile::observe` and `apply` through the real HTTP client against the KFP API emulator: paging,
//! request economy, and a create whose answer is lost on the wire.

use std::sync::Arc;

use jiff::Timestamp;
use kfp_client::{ClientConfig, HttpKfpClient};
use kfp_config::Workflow;
use kfp_config::{
    DesiredExperiment, DesiredNamespace, DesiredPipeline, DesiredRecurringRun, DesiredTrigger,
    Schedule,
};
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, Fault};
use kfp_reconcile::{ApplyOptions, Outcome, PlanOptions, apply, observe, plan};

const NAMESPACE: &str = "team-1";

fn pipeline() -> Arc<DesiredPipeline> {
    let workflow = Workflow::parse_yaml(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: hello-\nspec:\n  entrypoint: hello\n  templates:\n  - name: hello\n    container:\n      image: alpine:3.19\n",
    )
    .unwrap();
    Arc::new(DesiredPipeline::new(&workflow))
}

fn run(name: &str) -> DesiredRecurringRun {
    DesiredRecurringRun {
        name: name.to_owned(),
        description: None,
        experiment: "exp".to_owned(),
        enabled: true,
        max_concurrency: 1,
        service_account: None,
        adopt: None,
        keep_history: 1,
        rollout: Default::default(),
        trigger: DesiredTrigger {
            catchup: false,
            start: None,
            end: None,
            schedule: Schedule::Cron("0 0 0 * * *".to_owned()),
            zone: None,
        },
        parameters: Vec::new(),
        pipeline: pipeline(),
        source: "test".to_owned(),
    }
}

fn desired(count: usize) -> DesiredNamespace {
    DesiredNamespace {
        namespace: NAMESPACE.to_owned(),
        experiments: vec![DesiredExperiment {
            name: "exp".to_owned(),
            description: None,
        }],
        recurring_runs: (0..count).map(|i| run(&format!("job-{i:03}"))).collect(),
    }
}

fn client(emulator: &Emulator) -> HttpKfpClient {
    HttpKfpClient::new(ClientConfig::new(emulator.base_url())).unwrap()
}

fn now() -> Timestamp {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

#[test]
fn observing_a_namespace_of_450_jobs_takes_one_request_per_page_of_200() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let api = client(&emulator);
    let desired = desired(450);
    let report = apply(
        &plan(
            &desired,
            &observe(&api, NAMESPACE).unwrap(),
            now(),
            &PlanOptions::default(),
        ),
        &api,
        &ApplyOptions {
            concurrency: 8,
            ..ApplyOptions::default()
        },
    );
    assert!(report.is_success());

    emulator.reset_counts();
    let observed = observe(&api, NAMESPACE).unwrap();
    assert_eq!(observed.jobs.len(), 450);
    assert!(plan(&desired, &observed, now(), &PlanOptions::default()).is_empty());
    assert_eq!(
        emulator.request_counts().into_iter().collect::<Vec<_>>(),
        vec![
            ("GET /apis/v1beta1/experiments".to_owned(), 1),
            ("GET /apis/v1beta1/jobs".to_owned(), 3),
        ]
    );
}

#[test]
fn a_create_whose_connection_drops_after_it_was_applied_is_adopted_once() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let api = client(&emulator);
    let desired = desired(1);
    emulator.inject_fault(Fault::drop_connection("POST", "/apis/v1beta1/jobs").after_apply());
    let report = apply(
        &plan(
            &desired,
            &observe(&api, NAMESPACE).unwrap(),
            now(),
            &PlanOptions::default(),
        ),
        &api,
        &ApplyOptions::default(),
    );
    assert_eq!(
        report.jobs[0].steps[0].outcome,
        Outcome::Adopted,
        "{report:#?}"
    );
    assert!(report.is_success(), "{report:#?}");
    let observed = observe(&api, NAMESPACE).unwrap();
    assert_eq!(observed.jobs.len(), 1, "no duplicate version");
    assert!(observed.jobs[0].enabled);
    assert!(plan(&desired, &observed, now(), &PlanOptions::default()).is_empty());
}
