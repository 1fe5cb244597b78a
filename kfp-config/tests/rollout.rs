//! `rollout:` of a recurring run: what a valid one loads as, and every problem of an invalid one.

use std::path::Path;

use kfp_config::{DesiredRollout, RolloutStrategy};
use kfp_config::{LoadOptions, load_namespace, validate_namespace};

const EXPERIMENTS: &str = "experiments:\n  - name: exp\n";

fn runs(rollout: &str) -> String {
    format!(
        r#"recurring_runs:
  - pipeline_source:
      path: "pipelines/workflow.yaml"
    pipeline_parameters:
      - name: custom_message
        value: "hello"
{rollout}    job:
      enabled: true
      name: nightly
      experiment: exp
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "0 0 0 * * *"
"#
    )
}

fn repo(runs: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let namespace = dir.path().join("team-1");
    std::fs::create_dir_all(namespace.join("pipelines")).unwrap();
    std::fs::write(namespace.join("experiments.yaml"), EXPERIMENTS).unwrap();
    std::fs::write(namespace.join("recurring_runs.yaml"), runs).unwrap();
    let workflow = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
    )
    .unwrap();
    std::fs::write(namespace.join("pipelines/workflow.yaml"), workflow).unwrap();
    dir
}

fn options() -> LoadOptions {
    LoadOptions {
        offline: true,
        ..LoadOptions::default()
    }
}

#[test]
fn a_verified_rollout_loads_with_its_timeout_in_seconds_and_its_run_parameters() {
    let dir = repo(&runs(
        "    rollout:\n      strategy: verify\n      timeout: 1h30m\n      keep_failed: true\n      parameters:\n        custom_message: 5\n",
    ));
    let desired = load_namespace(&dir.path().join("team-1"), &options()).unwrap();
    assert_eq!(
        desired.recurring_runs[0].rollout,
        DesiredRollout {
            strategy: Some(RolloutStrategy::Verify),
            timeout_seconds: Some(5400),
            keep_failed: Some(true),
            parameters: vec![("custom_message".to_owned(), "5".to_owned())],
        }
    );
}

#[test]
fn without_rollout_nothing_is_set() {
    let dir = repo(&runs(""));
    let desired = load_namespace(&dir.path().join("team-1"), &options()).unwrap();
    assert_eq!(desired.recurring_runs[0].rollout, DesiredRollout::default());
}

#[test]
fn every_problem_of_a_rollout_is_reported() {
    let dir = repo(&runs(
        "    rollout:\n      strategy: blue-green\n      timeout: 500ms\n      keep_failed: \"yes\"\n      parameters:\n        rows: 100\n      wait: true\n",
    ));
    let validation = validate_namespace(&dir.path().join("team-1"), &options());
    assert!(validation.desired.is_none());
    let text: Vec<String> = validation
        .problems
        .iter()
        .map(|problem| format!("{} {}", problem.pointer, problem.message))
        .collect();
    assert_eq!(
        text,
        [
            "/recurring_runs/0/rollout/wait unknown key `wait`",
            "/recurring_runs/0/rollout/strategy strategy must be `swap` or `verify`",
            "/recurring_runs/0/rollout/timeout the timeout `500ms` is shorter than one second",
            "/recurring_runs/0/rollout/keep_failed expected a boolean, found a string",
            "/recurring_runs/0/rollout/parameters/rows `rows` is not one of this recurring run's pipeline_parameters",
        ],
        "{text:#?}"
    );
}

#[test]
fn the_project_file_gives_a_default_rollout_and_refuses_a_bad_timeout() {
    use kfp_config::ProjectFile;
    let file = ProjectFile::parse(
        "defaults:\n  rollout: {strategy: verify, timeout: 30m, keep_failed: true}\n",
    )
    .unwrap();
    assert_eq!(
        file.defaults.rollout.resolved(),
        DesiredRollout {
            strategy: Some(RolloutStrategy::Verify),
            timeout_seconds: Some(1800),
            keep_failed: Some(true),
            parameters: Vec::new(),
        }
    );
    let bad = ProjectFile::parse("defaults:\n  rollout: {timeout: soon}\n").unwrap_err();
    assert!(
        bad.to_string()
            .starts_with("defaults.rollout.timeout: `soon` is not a Go duration"),
        "{bad}"
    );
    let unknown = ProjectFile::parse("defaults:\n  rollout: {strategy: canary}\n").unwrap_err();
    assert!(unknown.to_string().contains("canary"), "{unknown}");
}
