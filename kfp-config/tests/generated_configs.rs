//! Property: any valid configuration, written as YAML (block style, and as JSON, which is YAML too),
//! loads without problems and means exactly what was written.

use std::path::Path;

use jiff::Timestamp;
use kfp_config::{
    Experiment, ExperimentsFile, Job, ParameterValue, PathSource, PipelineParameter,
    PipelineSource, RecurringRun, RecurringRunsFile, Trigger,
};
use kfp_config::{LoadOptions, Schedule, load_namespace};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,12}"
}

/// Text that stresses YAML quoting: YAML 1.1 booleans and numbers, indicators, quotes, unicode, newlines.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("yes".to_owned()),
        Just("off".to_owned()),
        Just("0755".to_owned()),
        Just("1_000".to_owned()),
        Just("1:30".to_owned()),
        Just("1e3".to_owned()),
        Just("~".to_owned()),
        Just("null".to_owned()),
        Just("".to_owned()),
        Just("- item".to_owned()),
        Just("key: value # not a comment".to_owned()),
        Just("2024-01-01".to_owned()),
        "[ -~]{0,20}",
        "[a-zA-Z0-9 éü中\n\t'\"]{0,20}",
    ]
}

fn parameter_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        text().prop_map(serde_json::Value::from),
        any::<i32>().prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        (-1.0e6..1.0e6_f64).prop_map(serde_json::Value::from),
    ]
}

fn schedule() -> impl Strategy<Value = (Option<String>, Option<u64>)> {
    prop_oneof![
        prop::sample::select(vec![
            "0 0 0 * * *",
            "*/30 * * * * *",
            "0 15 9 * * mon-fri",
            "@daily",
            "@every 1h30m",
            "0 0 12 1,15 * ?"
        ])
        .prop_map(|cron| (Some(cron.to_owned()), None)),
        (1_u64..10_000_000).prop_map(|seconds| (None, Some(seconds))),
    ]
}

fn rollout() -> impl Strategy<Value = kfp_config::Rollout> {
    use kfp_config::{Rollout, RolloutStrategy};
    (
        prop::option::of(prop_oneof![
            Just(RolloutStrategy::Swap),
            Just(RolloutStrategy::Verify)
        ]),
        prop::option::of(prop::sample::select(vec!["2h", "45m", "1h30m", "90s"])),
        prop::option::of(any::<bool>()),
        prop::option::of(parameter_value()),
    )
        .prop_map(|(strategy, timeout, keep_failed, smoke)| Rollout {
            strategy,
            timeout: timeout.map(str::to_owned),
            keep_failed,
            parameters: smoke
                .map(|value| ("custom_message".to_owned(), ParameterValue(value)))
                .into_iter()
                .collect(),
        })
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0_i64..4_000_000_000).prop_map(|seconds| Timestamp::from_second(seconds).unwrap())
}

fn run(experiments: Vec<String>, job_name: String) -> impl Strategy<Value = RecurringRun> {
    (
        prop::sample::select(experiments),
        any::<bool>(),
        1_u8..=10,
        -1_i64..20,
        prop::option::of(text()),
        prop::option::of(name()),
        any::<bool>(),
        prop::option::of(timestamp()),
        prop::option::of(timestamp()),
        schedule(),
        parameter_value(),
        prop::option::of(rollout()),
    )
        .prop_map(
            move |(
                experiment,
                enabled,
                max_concurrency,
                keep_history,
                description,
                service_account,
                catchup,
                a,
                b,
                (cron, interval_seconds),
                value,
                rollout,
            )| {
                // start_date must not be after end_date.
                let (start_date, end_date) = match (a, b) {
                    (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                    other => other,
                };
                RecurringRun {
                    pipeline_source: PipelineSource::Path(PathSource {
                        path: "pipelines/workflow.yaml".into(),
                    }),
                    pipeline_parameters: vec![PipelineParameter::Value {
                        name: "custom_message".into(),
                        value: ParameterValue(value),
                    }],
                    keep_history,
                    rollout,
                    job: Job {
                        enabled,
                        name: job_name.clone(),
                        description,
                        experiment,
                        max_concurrency,
                        service_account,
                        trigger: Trigger {
                            catchup,
                            start_date,
                            end_date,
                            cron,
                            interval_seconds,
                            timezone: None,
                        },
                        adopt: None,
                    },
                }
            },
        )
}

fn config() -> impl Strategy<Value = (ExperimentsFile, RecurringRunsFile)> {
    (
        prop::collection::btree_map(name(), prop::option::of(text()), 1..4),
        prop::collection::btree_set(name(), 0..4),
    )
        .prop_flat_map(|(experiments, jobs)| {
            let names: Vec<String> = experiments.keys().cloned().collect();
            let runs: Vec<_> = jobs
                .into_iter()
                .map(|job| run(names.clone(), job))
                .collect();
            let experiments = ExperimentsFile {
                experiments: experiments
                    .into_iter()
                    .map(|(name, description)| Experiment { name, description })
                    .collect(),
            };
            (Just(experiments), runs)
        })
        .prop_map(|(experiments, recurring_runs)| {
            (experiments, RecurringRunsFile { recurring_runs })
        })
}

fn check(
    experiments: &ExperimentsFile,
    runs: &RecurringRunsFile,
    experiments_text: &str,
    runs_text: &str,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("pipelines")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
        dir.path().join("pipelines/workflow.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("experiments.yaml"), experiments_text).unwrap();
    std::fs::write(dir.path().join("recurring_runs.yaml"), runs_text).unwrap();
    let desired = load_namespace(dir.path(), &LoadOptions { namespace: Some("ns".into()), ..LoadOptions::default() })
        .map_err(|errors| TestCaseError::fail(format!("{errors}\n--- experiments.yaml\n{experiments_text}\n--- recurring_runs.yaml\n{runs_text}")))?;
    let loaded: Vec<(String, Option<String>)> = desired
        .experiments
        .iter()
        .map(|e| (e.name.clone(), e.description.clone()))
        .collect();
    let expected: Vec<(String, Option<String>)> = experiments
        .experiments
        .iter()
        .map(|e| (e.name.clone(), e.description.clone()))
        .collect();
    prop_assert_eq!(loaded, expected);
    prop_assert_eq!(desired.recurring_runs.len(), runs.recurring_runs.len());
    for (loaded, run) in desired.recurring_runs.iter().zip(&runs.recurring_runs) {
        let job = &run.job;
        prop_assert_eq!(&loaded.name, &job.name);
        prop_assert_eq!(&loaded.description, &job.description);
        prop_assert_eq!(&loaded.experiment, &job.experiment);
        prop_assert_eq!(loaded.enabled, job.enabled);
        prop_assert_eq!(loaded.max_concurrency, job.max_concurrency);
        prop_assert_eq!(loaded.keep_history, run.keep_history);
        prop_assert_eq!(
            &loaded.rollout,
            &kfp_config::desired_rollout(run.rollout.as_ref())
        );
        prop_assert_eq!(&loaded.service_account, &job.service_account);
        prop_assert_eq!(loaded.trigger.catchup, job.trigger.catchup);
        prop_assert_eq!(loaded.trigger.start, job.trigger.start_date);
        prop_assert_eq!(loaded.trigger.end, job.trigger.end_date);
        let schedule = match (&job.trigger.cron, job.trigger.interval_seconds) {
            (Some(cron), _) => Schedule::Cron(cron.clone()),
            (None, Some(seconds)) => Schedule::Interval(seconds),
            (None, None) => unreachable!("generated triggers have a schedule"),
        };
        prop_assert_eq!(&loaded.trigger.schedule, &schedule);
        let PipelineParameter::Value { value, .. } = &run.pipeline_parameters[0] else {
            unreachable!()
        };
        prop_assert_eq!(
            &loaded.parameters,
            &vec![("custom_message".to_owned(), value.as_kfp_string())]
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn valid_configs_written_as_json_load_with_their_meaning((experiments, runs) in config()) {
        let experiments_text = serde_json::to_string_pretty(&experiments).unwrap();
        let runs_text = serde_json::to_string_pretty(&runs).unwrap();
        check(&experiments, &runs, &experiments_text, &runs_text)?;
    }

    #[test]
    fn valid_configs_written_as_block_yaml_load_with_their_meaning((experiments, runs) in config()) {
        let experiments_text = serde_saphyr::to_string(&experiments).unwrap();
        let runs_text = serde_saphyr::to_string(&runs).unwrap();
        check(&experiments, &runs, &experiments_text, &runs_text)?;
    }
}
