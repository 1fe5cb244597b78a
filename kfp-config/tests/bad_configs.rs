//! One bad configuration per rule, with the exact error output (insta snapshots of what
//! `kfp-gitops validate` prints). Every case starts from a valid namespace that uses a local pipeline,
//! so no network is involved, and changes one thing.

use std::path::Path;

use kfp_config::{LoadOptions, Schedule, validate_namespace};

const EXPERIMENTS: &str = r#"experiments:
  - name: "example-pipeline-1"
    description: "example-pipeline-1 description"
"#;

const RUNS: &str = r#"recurring_runs:
  - pipeline_source:
      path: "pipelines/workflow.yaml"
    pipeline_parameters:
      - name: custom_message
        value: "hello"
    keep_history: 5
    job:
      enabled: true
      name: "example-pipeline-1"
      description: ~
      experiment: "example-pipeline-1"
      max_concurrency: 1
      service_account: ~
      trigger:
        catchup: false
        cron: "0 0 0 * * *"
"#;

fn seed_workflow() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
    )
    .unwrap()
}

/// A repository root (`.git`) with a namespace folder `team-1/` holding the two files and
/// `team-1/pipelines/workflow.yaml` (the seed's rendered pipeline).
fn repo(experiments: &[u8], runs: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let namespace = dir.path().join("team-1");
    std::fs::create_dir_all(namespace.join("pipelines")).unwrap();
    std::fs::write(namespace.join("experiments.yaml"), experiments).unwrap();
    std::fs::write(namespace.join("recurring_runs.yaml"), runs).unwrap();
    std::fs::write(namespace.join("pipelines/workflow.yaml"), seed_workflow()).unwrap();
    dir
}

fn validate(dir: &Path) -> String {
    let validation = validate_namespace(
        &dir.join("team-1"),
        &LoadOptions {
            offline: true,
            ..LoadOptions::default()
        },
    );
    assert!(validation.desired.is_none(), "the case must be invalid");
    assert!(!validation.problems.is_empty());
    let text = validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n");
    text.replace(&dir.display().to_string(), "[dir]")
}

fn runs_with(from: &str, to: &str) -> String {
    assert!(RUNS.contains(from), "{from}");
    RUNS.replacen(from, to, 1)
}

fn check_runs(name: &str, runs: &str) {
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    insta::assert_snapshot!(name, validate(dir.path()), runs);
}

fn check_experiments(name: &str, experiments: &str) {
    let dir = repo(experiments.as_bytes(), RUNS.as_bytes());
    insta::assert_snapshot!(name, validate(dir.path()), experiments);
}

#[test]
fn the_baseline_is_valid() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    let validation = validate_namespace(&dir.path().join("team-1"), &LoadOptions::default());
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    let desired = validation.desired.unwrap();
    assert_eq!(desired.namespace, "team-1");
    assert_eq!(
        desired.recurring_runs[0].parameters,
        vec![("custom_message".to_owned(), "hello".to_owned())]
    );
    assert_eq!(
        desired.recurring_runs[0].source,
        "`pipelines/workflow.yaml`"
    );
}

#[test]
fn value_and_value_from_together() {
    check_runs(
        "value_and_value_from",
        &runs_with(
            "        value: \"hello\"\n",
            "        value: \"hello\"\n        valueFrom:\n          file_path: x\n",
        ),
    );
}

#[test]
fn neither_value_nor_value_from() {
    check_runs(
        "neither_value_nor_value_from",
        &runs_with("        value: \"hello\"\n", ""),
    );
}

#[test]
fn cron_and_interval_seconds_together() {
    check_runs(
        "cron_and_interval",
        &runs_with(
            "        cron: \"0 0 0 * * *\"\n",
            "        cron: \"0 0 0 * * *\"\n        interval_seconds: 3600\n",
        ),
    );
}

#[test]
fn neither_cron_nor_interval_seconds() {
    check_runs(
        "neither_cron_nor_interval",
        &runs_with("        cron: \"0 0 0 * * *\"\n", ""),
    );
}

#[test]
fn a_five_field_cron_gets_the_kfp_reading_as_tip() {
    check_runs(
        "five_field_cron",
        &runs_with("\"0 0 0 * * *\"", "\"0 0 * * *\""),
    );
}

#[test]
fn a_cron_field_out_of_range() {
    check_runs(
        "cron_field_out_of_range",
        &runs_with("\"0 0 0 * * *\"", "\"60 0 0 * * *\""),
    );
}

#[test]
fn a_cron_with_seven_fields() {
    check_runs(
        "cron_seven_fields",
        &runs_with("\"0 0 0 * * *\"", "\"0 0 0 * * * 2024\""),
    );
}

#[test]
fn an_unknown_cron_descriptor() {
    check_runs(
        "cron_unknown_descriptor",
        &runs_with("\"0 0 0 * * *\"", "\"@fortnightly\""),
    );
}

#[test]
fn an_every_with_a_bad_duration() {
    check_runs(
        "cron_every_bad_duration",
        &runs_with("\"0 0 0 * * *\"", "\"@every 1d\""),
    );
}

#[test]
fn a_cron_that_never_fires() {
    check_runs(
        "cron_never_fires",
        &runs_with("\"0 0 0 * * *\"", "\"0 0 0 30 2 *\""),
    );
}

#[test]
fn max_concurrency_zero() {
    check_runs(
        "max_concurrency_zero",
        &runs_with("max_concurrency: 1", "max_concurrency: 0"),
    );
}

#[test]
fn max_concurrency_above_ten() {
    check_runs(
        "max_concurrency_eleven",
        &runs_with("max_concurrency: 1", "max_concurrency: 11"),
    );
}

#[test]
fn keep_history_below_minus_one() {
    check_runs(
        "keep_history_below_minus_one",
        &runs_with("keep_history: 5", "keep_history: -2"),
    );
}

#[test]
fn interval_seconds_zero() {
    check_runs(
        "interval_seconds_zero",
        &runs_with(
            "        cron: \"0 0 0 * * *\"\n",
            "        interval_seconds: 0\n",
        ),
    );
}

#[test]
fn duplicate_job_names() {
    let second = RUNS.trim_start_matches("recurring_runs:\n");
    check_runs("duplicate_job_names", &format!("{RUNS}{second}"));
}

#[test]
fn duplicate_parameter_names() {
    check_runs(
        "duplicate_parameter_names",
        &runs_with(
            "        value: \"hello\"\n",
            "        value: \"hello\"\n      - name: custom_message\n        value: \"again\"\n",
        ),
    );
}

#[test]
fn an_experiment_that_is_not_declared() {
    check_runs(
        "experiment_not_declared",
        &runs_with(
            "experiment: \"example-pipeline-1\"",
            "experiment: \"example-pipeline-2\"",
        ),
    );
}

#[test]
fn duplicate_yaml_keys() {
    check_runs(
        "duplicate_yaml_keys",
        &runs_with(
            "      enabled: true\n",
            "      enabled: true\n      enabled: false\n",
        ),
    );
}

#[test]
fn an_unknown_key_with_a_suggestion() {
    check_runs(
        "unknown_key_suggestion",
        &runs_with("max_concurrency: 1", "max_concurency: 1"),
    );
}

#[test]
fn value_from_spelled_the_python_way() {
    check_runs(
        "unknown_key_value_from",
        &runs_with(
            "        value: \"hello\"\n",
            "        value_from:\n          file_path: x\n",
        ),
    );
}

#[test]
fn an_unknown_top_level_key() {
    check_runs("unknown_top_level_key", &format!("{RUNS}schedules: []\n"));
}

#[test]
fn a_string_where_a_boolean_belongs() {
    check_runs(
        "wrong_type_boolean",
        &runs_with("enabled: true", "enabled: \"true\""),
    );
}

#[test]
fn a_number_where_a_string_belongs() {
    check_runs(
        "wrong_type_string",
        &runs_with("name: \"example-pipeline-1\"", "name: 12"),
    );
}

#[test]
fn a_list_where_a_mapping_belongs() {
    check_runs(
        "wrong_type_mapping",
        &runs_with(
            "      trigger:\n        catchup: false\n        cron: \"0 0 0 * * *\"\n",
            "      trigger: [daily]\n",
        ),
    );
}

#[test]
fn an_invalid_timestamp() {
    check_runs(
        "invalid_timestamp",
        &runs_with(
            "        catchup: false\n",
            "        catchup: false\n        start_date: 2024-02-30\n",
        ),
    );
}

#[test]
fn start_date_after_end_date() {
    check_runs(
        "start_after_end",
        &runs_with(
            "        catchup: false\n",
            "        catchup: false\n        start_date: 2025-01-01\n        end_date: 2024-12-31T23:59:59Z\n",
        ),
    );
}

#[test]
fn an_empty_recurring_runs_file() {
    check_runs("empty_recurring_runs", "# nothing here yet\n");
}

#[test]
fn an_empty_experiments_file() {
    check_experiments("empty_experiments", "");
}

#[test]
fn a_file_that_is_not_utf8() {
    let mut bytes = EXPERIMENTS.as_bytes().to_vec();
    bytes.splice(30..30, [0xff, 0xfe]);
    let dir = repo(&bytes, RUNS.as_bytes());
    insta::assert_snapshot!("not_utf8", validate(dir.path()));
}

#[test]
fn invalid_yaml_syntax() {
    check_experiments("invalid_yaml", "experiments:\n  - name: [unclosed\n");
}

#[test]
fn missing_required_keys() {
    check_runs(
        "missing_required_keys",
        &runs_with("      name: \"example-pipeline-1\"\n", "").replacen(
            "      experiment: \"example-pipeline-1\"\n",
            "",
            1,
        ),
    );
}

#[test]
fn duplicate_experiment_names() {
    check_experiments(
        "duplicate_experiments",
        &format!("{EXPERIMENTS}  - name: \"example-pipeline-1\"\n"),
    );
}

#[test]
fn an_experiment_with_an_empty_name() {
    check_experiments(
        "empty_experiment_name",
        "experiments:\n  - name: \"\"\n  - description: no name\n",
    );
}

#[test]
fn experiments_that_are_not_a_list() {
    check_experiments("experiments_not_a_list", "experiments:\n  name: x\n");
}

#[test]
fn a_pipeline_source_mixing_kinds() {
    check_runs(
        "source_mixed_kinds",
        &runs_with(
            "      path: \"pipelines/workflow.yaml\"\n",
            "      path: \"pipelines/workflow.yaml\"\n      github_owner: deployKF\n",
        ),
    );
}

#[test]
fn a_github_source_without_file_path() {
    check_runs(
        "source_github_incomplete",
        &runs_with(
            "      path: \"pipelines/workflow.yaml\"\n",
            "      github_owner: deployKF\n      github_repo: kubeflow-pipelines-gitops\n      git_reference: main\n",
        ),
    );
}

#[test]
fn an_unknown_pipeline_source_key() {
    check_runs(
        "source_unknown_key",
        &runs_with(
            "      path: \"pipelines/workflow.yaml\"\n",
            "      url: \"https://example.com/workflow.yaml\"\n",
        ),
    );
}

#[test]
fn value_from_a_repository_file_with_a_local_pipeline() {
    check_runs(
        "value_from_without_repository",
        &runs_with(
            "        value: \"hello\"\n",
            "        valueFrom:\n          file_path: params/custom_message\n",
        ),
    );
}

#[test]
fn a_parameter_the_pipeline_does_not_declare() {
    check_runs(
        "unknown_parameter",
        &runs_with(
            "        value: \"hello\"\n",
            "        value: \"hello\"\n      - name: custom_mesage\n        value: \"typo\"\n",
        ),
    );
}

#[test]
fn a_required_parameter_that_is_not_set() {
    check_runs(
        "missing_required_parameter",
        &runs_with(
            "    pipeline_parameters:\n      - name: custom_message\n        value: \"hello\"\n",
            "",
        ),
    );
}

#[test]
fn a_path_escaping_the_repository() {
    check_runs(
        "path_escape_dotdot",
        &runs_with("\"pipelines/workflow.yaml\"", "\"../../etc/passwd\""),
    );
}

#[test]
fn an_absolute_path() {
    check_runs(
        "path_absolute",
        &runs_with("\"pipelines/workflow.yaml\"", "\"/etc/passwd\""),
    );
}

#[test]
fn a_symlink_leading_out_of_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("workflow.yaml"), seed_workflow()).unwrap();
    let dir = repo(
        EXPERIMENTS.as_bytes(),
        runs_with("\"pipelines/workflow.yaml\"", "\"pipelines/link.yaml\"").as_bytes(),
    );
    std::os::unix::fs::symlink(
        outside.path().join("workflow.yaml"),
        dir.path().join("team-1/pipelines/link.yaml"),
    )
    .unwrap();
    insta::assert_snapshot!("path_symlink_out", validate(dir.path()));
}

#[test]
fn a_missing_local_pipeline() {
    check_runs(
        "path_missing",
        &runs_with("\"pipelines/workflow.yaml\"", "\"pipelines/missing.yaml\""),
    );
}

#[test]
fn a_kfp_v2_pipeline() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::write(
        dir.path().join("team-1/pipelines/workflow.yaml"),
        "pipelineInfo: {name: p}\ndeploymentSpec: {}\nroot: {}\nschemaVersion: 2.1.0\nsdkVersion: kfp-2.0.1\n",
    )
    .unwrap();
    insta::assert_snapshot!("kfp_v2_pipeline", validate(dir.path()));
}

#[test]
fn a_pipeline_that_is_not_an_argo_workflow() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::write(
        dir.path().join("team-1/pipelines/workflow.yaml"),
        seed_workflow().replacen("kind: Workflow", "kind: CronWorkflow", 1),
    )
    .unwrap();
    insta::assert_snapshot!("not_an_argo_workflow", validate(dir.path()));
}

#[test]
fn a_missing_config_file() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::remove_file(dir.path().join("team-1/recurring_runs.yaml")).unwrap();
    insta::assert_snapshot!("missing_file", validate(dir.path()));
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let runs = runs_with("max_concurrency: 1", "max_concurrency: 0")
        .replacen("keep_history: 5", "keep_history: -7", 1)
        .replacen("\"0 0 0 * * *\"", "\"0 0 * * *\"", 1)
        .replacen("enabled: true", "enabled: \"yes please\"", 1)
        .replacen(
            "experiment: \"example-pipeline-1\"",
            "experiment: \"nope\"",
            1,
        );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert_eq!(text.matches("error: ").count(), 5, "{text}");
    insta::assert_snapshot!("every_problem_at_once", text, &runs);
}

#[test]
fn the_repository_example_loads() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/daily-digest/schedules/team-1");
    let desired = kfp_config::load_namespace(&dir, &LoadOptions::default()).unwrap();
    let run = &desired.recurring_runs[0];
    let greeting =
        std::fs::read_to_string(dir.join("../../RENDERED_PIPELINE/params/greeting")).unwrap();
    assert_eq!(
        run.parameters
            .iter()
            .find(|(name, _)| name == "greeting")
            .map(|(_, v)| v),
        Some(&greeting)
    );
    assert_eq!(
        run.parameters
            .iter()
            .find(|(name, _)| name == "top_n")
            .map(|(_, v)| v.as_str()),
        Some("10")
    );
}

#[test]
fn a_broken_run_does_not_hide_the_source_problems_of_another() {
    let second = RUNS
        .trim_start_matches("recurring_runs:\n")
        .replacen("\"pipelines/workflow.yaml\"", "\"../../etc/passwd\"", 1)
        .replacen("name: \"example-pipeline-1\"", "name: \"second\"", 1);
    let runs = format!(
        "{}{second}",
        runs_with("max_concurrency: 1", "max_concurrency: 0")
    );
    check_runs("broken_run_and_source_problem", &runs);
}

#[test]
fn a_job_problem_does_not_hide_the_missing_pipeline_of_the_same_run() {
    let runs = runs_with("max_concurrency: 1", "max_concurrency: 0").replacen(
        "\"pipelines/workflow.yaml\"",
        "\"pipelines/missing.yaml\"",
        1,
    );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert!(
        text.contains("max_concurrency must be between 1 and 10"),
        "{text}"
    );
    assert!(text.contains("pipelines/missing.yaml"), "{text}");
    insta::assert_snapshot!("job_problem_and_missing_pipeline", text, &runs);
}

#[test]
fn a_job_problem_does_not_hide_a_parameter_the_pipeline_does_not_declare() {
    let runs = runs_with("max_concurrency: 1", "max_concurrency: 0").replacen(
        "        value: \"hello\"\n",
        "        value: \"hello\"\n      - name: custom_mesage\n        value: \"typo\"\n",
        1,
    );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert_eq!(text.matches("error: ").count(), 2, "{text}");
    assert!(text.contains("sets parameter `custom_mesage`"), "{text}");
}

#[test]
fn a_run_without_a_job_is_named_by_its_place_when_its_pipeline_is_missing() {
    let runs = runs_with("\"pipelines/workflow.yaml\"", "\"pipelines/missing.yaml\"");
    let runs = &runs[..runs.find("    job:\n").unwrap()];
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert_eq!(text.matches("error: ").count(), 2, "{text}");
    assert!(
        text.contains("error: recurring run at /recurring_runs/0: cannot get the pipeline `pipelines/missing.yaml`"),
        "{text}"
    );
}

#[test]
fn a_broken_parameter_still_lets_the_pipeline_be_checked_but_not_its_inputs() {
    // The duplicate hides which value is meant, so the inputs are not compared; the pipeline still is read.
    let runs = runs_with(
        "        value: \"hello\"\n",
        "        value: \"hello\"\n      - name: custom_message\n        value: \"again\"\n",
    )
    .replacen(
        "\"pipelines/workflow.yaml\"",
        "\"pipelines/missing.yaml\"",
        1,
    );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert_eq!(text.matches("error: ").count(), 2, "{text}");
    assert!(text.contains("is set twice"), "{text}");
    assert!(text.contains("pipelines/missing.yaml"), "{text}");
}

/// A `rendered_pipeline` folder's `params/` supply defaults; listed parameters override them.
fn rendered_namespace(parameters: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let rendered = dir.path().join("pipeline/RENDERED_PIPELINE");
    std::fs::create_dir_all(rendered.join("params")).unwrap();
    std::fs::write(rendered.join("workflow.yaml"), seed_workflow()).unwrap();
    std::fs::write(rendered.join("params/custom_message"), "from params/\n\n").unwrap();
    let namespace = dir.path().join("schedules/team-1");
    std::fs::create_dir_all(&namespace).unwrap();
    std::fs::write(namespace.join("experiments.yaml"), EXPERIMENTS).unwrap();
    let runs = RUNS
        .replacen(
            "      path: \"pipelines/workflow.yaml\"\n",
            "      rendered_pipeline: \"../../pipeline/RENDERED_PIPELINE\"\n",
            1,
        )
        .replacen(
            "    pipeline_parameters:\n      - name: custom_message\n        value: \"hello\"\n",
            parameters,
            1,
        );
    std::fs::write(namespace.join("recurring_runs.yaml"), runs).unwrap();
    dir
}

#[test]
fn a_rendered_pipeline_supplies_default_parameter_values_byte_for_byte() {
    let dir = rendered_namespace("");
    let desired = kfp_config::load_namespace(
        &dir.path().join("schedules/team-1"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        desired.recurring_runs[0].parameters,
        vec![("custom_message".to_owned(), "from params/\n\n".to_owned())]
    );
    assert_eq!(
        desired.recurring_runs[0].source,
        "`../../pipeline/RENDERED_PIPELINE/workflow.yaml`"
    );
}

#[test]
fn listed_parameters_override_a_rendered_pipelines_defaults() {
    let dir = rendered_namespace(
        "    pipeline_parameters:\n      - name: custom_message\n        value: 42\n",
    );
    let desired = kfp_config::load_namespace(
        &dir.path().join("schedules/team-1"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        desired.recurring_runs[0].parameters,
        vec![("custom_message".to_owned(), "42".to_owned())]
    );
}

#[test]
fn anchors_and_merge_keys_share_settings_between_runs() {
    let runs = r#"defaults: &job
  enabled: true
  experiment: "example-pipeline-1"
  max_concurrency: 1
  trigger: {catchup: false, cron: "@daily"}
recurring_runs:
  - pipeline_source: &source {path: "pipelines/workflow.yaml"}
    pipeline_parameters: [{name: custom_message, value: a}]
    job: {<<: *job, name: first}
  - pipeline_source: *source
    pipeline_parameters: [{name: custom_message, value: b}]
    job:
      <<: *job
      name: second
      max_concurrency: 3
"#;
    // `defaults` is not a key of the file, so an anchor cannot live there.
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    insta::assert_snapshot!("anchor_holder_key_is_unknown", validate(dir.path()));
    let runs = r#"recurring_runs:
  - pipeline_source: &source {path: "pipelines/workflow.yaml"}
    pipeline_parameters: [{name: custom_message, value: a}]
    job: &job
      enabled: true
      name: first
      experiment: "example-pipeline-1"
      max_concurrency: 1
      trigger: {catchup: false, cron: "@daily"}
  - pipeline_source: *source
    pipeline_parameters: [{name: custom_message, value: b}]
    job:
      <<: *job
      name: second
      max_concurrency: 3
"#;
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let desired =
        kfp_config::load_namespace(&dir.path().join("team-1"), &LoadOptions::default()).unwrap();
    let summary: Vec<(&str, u8, &Schedule)> = desired
        .recurring_runs
        .iter()
        .map(|r| (r.name.as_str(), r.max_concurrency, &r.trigger.schedule))
        .collect();
    let daily = Schedule::Cron("@daily".into());
    assert_eq!(summary, [("first", 1, &daily), ("second", 3, &daily)]);
}

// Inputs KFP would take but store, compare or run differently from what the config says (issue 15): each is
// refused before anything reaches KFP.

/// A second copy of the baseline run, named `name`.
fn second_run(name: &str) -> String {
    RUNS.trim_start_matches("recurring_runs:\n").replacen(
        "name: \"example-pipeline-1\"",
        &format!("name: {name}"),
        1,
    )
}

#[test]
fn job_names_that_differ_only_in_case() {
    let runs = runs_with("name: \"example-pipeline-1\"", "name: \"Nightly\"");
    check_runs(
        "job_names_differing_in_case",
        &format!("{runs}{}", second_run("\"nightly\"")),
    );
}

#[test]
fn experiment_names_that_differ_only_in_case() {
    check_experiments(
        "experiment_names_differing_in_case",
        &format!("{EXPERIMENTS}  - name: \"Example-Pipeline-1\"\n"),
    );
}

#[test]
fn a_job_name_holding_a_version_timestamp() {
    check_runs(
        "job_name_with_version_suffix",
        &runs_with(
            "name: \"example-pipeline-1\"",
            "name: \"example-pipeline-1__2024-01-02T03-04-05Z\"",
        ),
    );
}

#[test]
fn a_job_name_with_a_control_character() {
    check_runs(
        "job_name_with_control_character",
        &runs_with("name: \"example-pipeline-1\"", "name: \"nightly\\nrun\""),
    );
}

#[test]
fn a_job_name_with_a_character_kfp_cannot_store() {
    check_runs(
        "job_name_with_wide_character",
        &runs_with(
            "name: \"example-pipeline-1\"",
            "name: \"nightly \u{1F319}\"",
        ),
    );
}

#[test]
fn a_job_name_longer_than_kfp_stores() {
    check_runs(
        "job_name_too_long",
        &runs_with(
            "name: \"example-pipeline-1\"",
            &format!("name: \"{}\"", "n".repeat(229)),
        ),
    );
}

#[test]
fn the_longest_job_name_kfp_stores_is_accepted() {
    let runs = runs_with(
        "name: \"example-pipeline-1\"",
        &format!("name: \"{}\"", "é".repeat(228)),
    );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let validation = validate_namespace(&dir.path().join("team-1"), &LoadOptions::default());
    assert_eq!(validation.problems, []);
}

#[test]
fn an_experiment_name_with_a_control_character() {
    check_experiments(
        "experiment_name_with_control_character",
        &format!("{EXPERIMENTS}  - name: \"tab\\there\"\n"),
    );
}

#[test]
fn an_experiment_name_longer_than_kfp_stores() {
    check_experiments(
        "experiment_name_too_long",
        &format!("{EXPERIMENTS}  - name: \"{}\"\n", "e".repeat(256)),
    );
}

#[test]
fn a_parameter_value_that_is_a_mapping() {
    check_runs(
        "parameter_value_mapping",
        &runs_with("        value: \"hello\"\n", "        value: {a: 1}\n"),
    );
}

#[test]
fn a_parameter_value_that_is_a_list() {
    check_runs(
        "parameter_value_list",
        &runs_with(
            "        value: \"hello\"\n",
            "        value:\n          - a\n          - b\n",
        ),
    );
}

#[test]
fn a_workflow_without_an_entrypoint() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::write(
        dir.path().join("team-1/pipelines/workflow.yaml"),
        seed_workflow().replacen("  entrypoint: pipeline-1\n", "", 1),
    )
    .unwrap();
    insta::assert_snapshot!("workflow_without_entrypoint", validate(dir.path()));
}

#[test]
fn a_workflow_whose_entrypoint_names_no_template() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::write(
        dir.path().join("team-1/pipelines/workflow.yaml"),
        seed_workflow().replacen("entrypoint: pipeline-1", "entrypoint: pipeline-2", 1),
    )
    .unwrap();
    insta::assert_snapshot!(
        "workflow_entrypoint_names_no_template",
        validate(dir.path())
    );
}

/// Validates the baseline `team-1` folder as namespace `namespace` (`None`: the folder's name).
fn validate_as(dir: &Path, folder: &str, namespace: Option<&str>) -> String {
    let validation = validate_namespace(
        &dir.join(folder),
        &LoadOptions {
            namespace: namespace.map(str::to_owned),
            ..LoadOptions::default()
        },
    );
    assert!(validation.desired.is_none(), "the case must be invalid");
    let text = validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n");
    text.replace(&dir.display().to_string(), "[dir]")
}

#[test]
fn namespaces_that_are_not_kubernetes_namespace_names() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    let text = ["team/1", "..", "Team-1"]
        .iter()
        .map(|namespace| validate_as(dir.path(), "team-1", Some(namespace)))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("namespace_not_a_kubernetes_name", text);
    let empty = validate_namespace(
        &dir.path().join("team-1"),
        &LoadOptions {
            namespace: Some(String::new()),
            ..LoadOptions::default()
        },
    );
    assert_eq!(
        empty.problems,
        [],
        "the empty namespace is a single-user KFP"
    );
}

#[test]
fn a_folder_name_that_is_not_a_namespace_name() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    std::fs::rename(dir.path().join("team-1"), dir.path().join("Team_1")).unwrap();
    insta::assert_snapshot!(
        "namespace_from_folder_name",
        validate_as(dir.path(), "Team_1", None)
    );
}

#[test]
fn a_config_folder_that_does_not_exist() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    insta::assert_snapshot!(
        "missing_config_folder",
        validate_as(dir.path(), "team-2", None)
    );
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `check`, which must not open the FIFO `fifo` (nothing ever writes to it). Should it open it anyway,
/// a writer waiting on the FIFO lets that open return and the read end at once, so the regression fails the
/// test instead of hanging it.
fn with_a_waiting_writer<T>(fifo: &Path, check: impl FnOnce() -> T) -> T {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let opened = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fifo, opened) = (fifo.to_path_buf(), Arc::clone(&opened));
        std::thread::spawn(move || {
            let file = std::fs::OpenOptions::new().write(true).open(fifo);
            opened.store(true, Ordering::SeqCst);
            drop(file);
        })
    };
    let result = check();
    if !opened.load(Ordering::SeqCst) {
        // Nothing opened it, as it should be: a reader lets the waiting writer go.
        drop(std::fs::File::open(fifo));
    }
    writer.join().unwrap();
    result
}

#[test]
fn a_pipeline_path_that_is_a_fifo() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    let fifo = dir.path().join("team-1/pipelines/workflow.yaml");
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let text = with_a_waiting_writer(&fifo, || validate(dir.path()));
    insta::assert_snapshot!("path_fifo", text);
}

#[test]
fn a_value_from_path_that_is_a_fifo() {
    let runs = runs_with(
        "        value: \"hello\"\n",
        "        valueFrom:\n          path: pipelines/message\n",
    );
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let fifo = dir.path().join("team-1/pipelines/message");
    mkfifo(&fifo);
    let text = with_a_waiting_writer(&fifo, || validate(dir.path()));
    insta::assert_snapshot!("value_from_path_fifo", text, &runs);
}

#[test]
fn a_rendered_pipeline_parameter_that_is_a_fifo() {
    let dir = rendered_namespace("");
    let fifo = dir
        .path()
        .join("pipeline/RENDERED_PIPELINE/params/custom_message");
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let validation = with_a_waiting_writer(&fifo, || {
        validate_namespace(
            &dir.path().join("schedules/team-1"),
            &LoadOptions::default(),
        )
    });
    let text = validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&dir.path().display().to_string(), "[dir]");
    insta::assert_snapshot!("rendered_params_fifo", text);
}

#[test]
fn a_config_file_that_is_a_fifo() {
    let dir = repo(EXPERIMENTS.as_bytes(), RUNS.as_bytes());
    let fifo = dir.path().join("team-1/recurring_runs.yaml");
    std::fs::remove_file(&fifo).unwrap();
    mkfifo(&fifo);
    let text = with_a_waiting_writer(&fifo, || validate(dir.path()));
    insta::assert_snapshot!("config_file_fifo", text);
}

/// Issue 18: a misspelled key, an undeclared experiment and a misspelled parameter are three independent
/// mistakes, all reported by the first run.
#[test]
fn three_independent_mistakes_give_three_errors_at_once() {
    let runs = runs_with("keep_history: 5", "keep_histroy: 5")
        .replacen(
            "experiment: \"example-pipeline-1\"",
            "experiment: \"example-pipeline-2\"",
            1,
        )
        .replacen("- name: custom_message", "- name: custom_mesage", 1);
    let dir = repo(EXPERIMENTS.as_bytes(), runs.as_bytes());
    let text = validate(dir.path());
    assert_eq!(text.matches("error: ").count(), 3, "{text}");
    insta::assert_snapshot!("three_independent_mistakes", text, &runs);
}
