//! Property: for any observed state and config, applying the plan and planning again gives an empty plan,
//! and no step of the apply leaves two versions of one job enabled.

mod support;

use kfp_config::{DesiredRecurringRun, Schedule};
use kfp_reconcile::{ApplyOptions, PlanOptions, PruneMode, apply, plan};
use proptest::prelude::*;
use support::*;

const NAMES: &[&str] = &["alpha", "beta", "gamma", "delta"];

/// A recurring run built from small choices, so that observed versions often (but not always) match it.
#[derive(Debug, Clone)]
struct Variant {
    enabled: bool,
    max_concurrency: u8,
    interval: bool,
    workflow_v2: bool,
    message: bool,
    keep_history: i64,
}

fn variant() -> impl Strategy<Value = Variant> {
    (
        any::<bool>(),
        1u8..=2,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        -1i64..=2,
    )
        .prop_map(
            |(enabled, max_concurrency, interval, workflow_v2, message, keep_history)| Variant {
                enabled,
                max_concurrency,
                interval,
                workflow_v2,
                message,
                keep_history,
            },
        )
}

fn build(name: &str, variant: &Variant) -> DesiredRecurringRun {
    let mut run = run(name);
    run.enabled = variant.enabled;
    run.max_concurrency = variant.max_concurrency;
    run.keep_history = variant.keep_history;
    if variant.interval {
        run.trigger.schedule = Schedule::Interval(3600);
    }
    if variant.workflow_v2 {
        run.pipeline = pipeline("v2");
    }
    if variant.message {
        run.parameters[0].1 = "other".into();
    }
    run
}

/// One observed version: (day of May, enabled, variant it was made from).
type ObservedVersion = (u8, bool, Variant);

/// Observed versions of one job.
fn versions() -> impl Strategy<Value = Vec<ObservedVersion>> {
    prop::collection::vec((1u8..=28, any::<bool>(), variant()), 0..5)
}

#[derive(Debug, Clone)]
struct Case {
    desired: Vec<(usize, Variant)>,
    observed: Vec<(usize, Vec<ObservedVersion>)>,
    experiment: u8,
    prune: PruneMode,
    allow_empty_prune: bool,
    concurrency: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::btree_map(0..NAMES.len(), variant(), 0..=3),
        prop::collection::btree_map(0..NAMES.len(), versions(), 0..=4),
        0u8..3,
        prop_oneof![
            Just(PruneMode::None),
            Just(PruneMode::Disable),
            Just(PruneMode::Delete)
        ],
        any::<bool>(),
        1usize..4,
    )
        .prop_map(
            |(desired, observed, experiment, prune, allow_empty_prune, concurrency)| Case {
                desired: desired.into_iter().collect(),
                observed: observed.into_iter().collect(),
                experiment,
                prune,
                allow_empty_prune,
                concurrency,
            },
        )
}

proptest! {
    // Failures are reported with their minimal input; nothing is written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn applying_a_plan_converges_and_never_enables_two_versions(case in case()) {
        let experiments = match case.experiment {
            0 => vec![],
            1 => vec![kfp_experiment("exp-1", "exp", "exp description", false)],
            _ => vec![kfp_experiment("exp-1", "exp", "exp description", true)],
        };
        let mut jobs = Vec::new();
        for (name, versions) in &case.observed {
            for (index, (day, enabled, variant)) in versions.iter().enumerate() {
                let stamp = format!("2024-05-{day:02}T00:00:{index:02}Z");
                let id = format!("{}-{index}", NAMES[*name]);
                jobs.push(job_for(&build(NAMES[*name], variant), &stamp, &id, *enabled, "exp-1"));
            }
        }
        let fake = FakeKfp::new(experiments, jobs);
        let config = desired(
            vec![experiment("exp")],
            case.desired.iter().map(|(name, variant)| build(NAMES[*name], variant)).collect(),
        );
        let options = PlanOptions {
            prune: case.prune,
            allow_empty_prune: case.allow_empty_prune,
            ..PlanOptions::default()
        };

        let first = plan(&config, &fake.observe(), ts("2024-06-01T00:00:00Z"), &options);
        let report = apply(&first, &fake, &ApplyOptions { concurrency: case.concurrency, ..ApplyOptions::default() });
        prop_assert!(report.is_success(), "{:#?}", report);
        prop_assert!(fake.violations().is_empty(), "{:?}", fake.violations());

        let second = plan(&config, &fake.observe(), ts("2024-06-01T00:10:00Z"), &options);
        prop_assert!(second.is_empty(), "first:\n{}\nsecond:\n{}", summary(&first), summary(&second));

        // Every declared job ends with exactly its config's enabled state on its latest version, and at
        // most one enabled version.
        for run in &config.recurring_runs {
            let mut versions: Vec<_> = fake
                .jobs()
                .into_iter()
                .filter_map(|job| {
                    kfp_config::parse_version_name(&job.name)
                        .filter(|name| name.job == run.name)
                        .map(|name| (name.timestamp, job.enabled))
                })
                .collect();
            versions.sort();
            prop_assert!(versions.iter().filter(|(_, enabled)| *enabled).count() <= 1);
            prop_assert_eq!(versions.last().map(|(_, enabled)| *enabled), Some(run.enabled));
            if let Ok(keep) = usize::try_from(run.keep_history) {
                prop_assert!(versions.len() <= keep + 1);
            }
        }
    }
}
