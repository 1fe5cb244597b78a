//! What `observe` reads of the jobs listing: the workflow of the newest version of each managed job (the one
//! planning compares), whatever order the server lists them in, and nothing of the others.

mod support;

use kfp_client::models::Job;
use kfp_reconcile::{ObservedNamespace, ObservedWorkflow, PlanOptions, Reason, plan};
use support::*;

fn digest(message: &str) -> ObservedWorkflow {
    ObservedWorkflow::Digest(workflow(message).digest().0)
}

fn version(job: &str, stamp: &str, id: &str, message: &str) -> Job {
    let mut run = run(job);
    run.pipeline = pipeline(message);
    job_for(&run, stamp, id, id.ends_with("-new"), "exp-1")
}

/// Three versions of `nightly` (the newest with workflow v3), one of `weekly`, and a job that is not managed.
fn jobs() -> Vec<Job> {
    let mut unmanaged = version("adhoc", "2024-05-01T00:00:00Z", "adhoc", "adhoc");
    unmanaged.name = "adhoc".to_owned();
    vec![
        version("nightly", "2024-05-01T00:00:00Z", "n1", "v1"),
        version("nightly", "2024-05-03T00:00:00Z", "n3-new", "v3"),
        unmanaged,
        version("nightly", "2024-05-02T00:00:00Z", "n2", "v2"),
        version("weekly", "2024-04-01T00:00:00Z", "w1-new", "w"),
    ]
}

fn observe_in_order(jobs: Vec<Job>) -> ObservedNamespace {
    FakeKfp::new(vec![kfp_experiment("exp-1", "exp", "", false)], jobs).observe()
}

fn workflows(observed: &ObservedNamespace) -> Vec<(String, ObservedWorkflow)> {
    let mut workflows: Vec<_> = observed
        .jobs
        .iter()
        .map(|job| (job.id.clone(), job.workflow.clone()))
        .collect();
    workflows.sort_by(|a, b| a.0.cmp(&b.0));
    workflows
}

#[test]
fn only_the_newest_version_of_each_managed_job_has_its_workflow_read_in_any_listing_order() {
    let expected = vec![
        ("adhoc".to_owned(), ObservedWorkflow::NotRead),
        ("n1".to_owned(), ObservedWorkflow::NotRead),
        ("n2".to_owned(), ObservedWorkflow::NotRead),
        ("n3-new".to_owned(), digest("v3")),
        ("w1-new".to_owned(), digest("w")),
    ];
    let mut newest_first = jobs();
    newest_first.sort_by(|a, b| b.name.cmp(&a.name));
    let mut oldest_first = jobs();
    oldest_first.sort_by(|a, b| a.name.cmp(&b.name));
    let orders = [jobs(), newest_first, oldest_first];
    let fingerprints: Vec<String> = orders
        .into_iter()
        .map(|order| {
            let observed = observe_in_order(order);
            assert_eq!(workflows(&observed), expected);
            observed.fingerprint()
        })
        .collect();
    assert!(fingerprints.windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn versions_with_the_newest_timestamp_all_have_their_workflow_read() {
    let observed = observe_in_order(vec![
        version("nightly", "2024-05-01T00:00:00Z", "old", "v1"),
        version("nightly", "2024-05-02T00:00:00Z", "twin-a", "a"),
        version("nightly", "2024-05-02T00:00:00Z", "twin-b", "b"),
    ]);
    assert_eq!(
        workflows(&observed),
        vec![
            ("old".to_owned(), ObservedWorkflow::NotRead),
            ("twin-a".to_owned(), digest("a")),
            ("twin-b".to_owned(), digest("b")),
        ]
    );
}

#[test]
fn the_fingerprint_covers_the_workflow_planning_compares_and_no_other() {
    let before = observe_in_order(jobs()).fingerprint();

    let mut older_changed = jobs();
    older_changed[0] = version("nightly", "2024-05-01T00:00:00Z", "n1", "edited");
    assert_eq!(observe_in_order(older_changed).fingerprint(), before);

    let mut newest_changed = jobs();
    newest_changed[1] = version("nightly", "2024-05-03T00:00:00Z", "n3-new", "edited");
    assert_ne!(observe_in_order(newest_changed).fingerprint(), before);
}

#[test]
fn the_jobs_are_listed_by_name_descending_in_pages_of_200() {
    let fake = FakeKfp::new(vec![], jobs());
    fake.observe();
    let listings = fake.state.lock().unwrap().job_listings.clone();
    assert_eq!(listings.len(), 2, "the fake serves pages of 3");
    assert_eq!(listings[0].sort_by.as_deref(), Some("name desc"));
    assert_eq!(
        listings[1].sort_by, None,
        "the page token carries the order"
    );
    assert!(
        listings
            .iter()
            .all(|options| options.page_size == Some(200))
    );
}

#[test]
fn a_workflow_not_read_serializes_as_not_read_and_never_matches_the_config() {
    assert_eq!(
        serde_json::to_value(ObservedWorkflow::NotRead).unwrap(),
        serde_json::json!("not_read")
    );
    let mut observed = observe_in_order(jobs());
    for job in &mut observed.jobs {
        job.workflow = ObservedWorkflow::NotRead;
    }
    let mut nightly = run("nightly");
    nightly.pipeline = pipeline("v3");
    let planned = plan(
        &desired(vec![experiment("exp")], vec![nightly]),
        &observed,
        ts("2024-06-01T00:00:00Z"),
        &PlanOptions::default(),
    );
    let job = planned
        .jobs
        .iter()
        .find(|job| job.name == "nightly")
        .unwrap();
    let workflow = job
        .diffs
        .iter()
        .find(|diff| diff.field == "workflow")
        .unwrap();
    assert_eq!(
        workflow.observed.as_deref(),
        Some("not read (not the newest version of a managed job)")
    );
    assert!(
        job.reasons
            .iter()
            .any(|reason| matches!(reason, Reason::Differs { .. }))
    );
}

#[test]
fn a_jobs_page_that_broke_off_is_read_again_and_counted_once() {
    let whole = observe_in_order(jobs());
    let fake = FakeKfp::new(vec![kfp_experiment("exp-1", "exp", "", false)], jobs());
    for _ in 0..2 {
        fake.inject(Fault {
            call: "list_jobs_break_off",
            nth: 1,
            after_apply: false,
            status: 0,
        });
    }
    let observed = fake.observe();
    assert_eq!(observed, whole);
    assert_eq!(
        fake.state.lock().unwrap().job_listings.len(),
        2 + 2,
        "two pages, one of them read three times"
    );
}
