//! `kfp-gitops trigger`, `status` and `import` end to end: the real binary against the KFP API emulator
//! (multi-user).

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, RunOutcome};
use serde_json::Value;

const NAMESPACE: &str = "team-1";

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '2024-01-02T03:04:05.123456'
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"default": "hi", "name": "msg", "optional": true, "type": "String"}], "name": "hello"}'
spec:
  entrypoint: hello
  arguments:
    parameters:
    - name: msg
      value: hi
  templates:
  - name: hello
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.19
      command: [echo, '{{inputs.parameters.msg}}']
  serviceAccountName: pipeline-runner
"#;

/// A config folder for team-1: experiment `exp`, recurring runs `nightly` (enabled) and `weekly`
/// (enabled), both of the hello workflow with different `msg`.
fn config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("experiments.yaml"),
        "experiments:\n  - name: exp\n    description: the experiment\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
    let job = |name: &str, msg: &str, cron: &str| {
        format!(
            r#"  - pipeline_source:
      path: workflow.yaml
    pipeline_parameters:
      - name: msg
        value: {msg}
    job:
      enabled: true
      name: {name}
      experiment: exp
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "{cron}"
"#
        )
    };
    std::fs::write(
        dir.path().join("recurring_runs.yaml"),
        format!(
            "recurring_runs:\n{}{}",
            job("nightly", "hello", "0 0 3 * * *"),
            job("weekly", "bye", "0 30 4 * * 1")
        ),
    )
    .unwrap();
    dir
}

fn kfp_gitops(emulator: &Emulator, cwd: &Path) -> Command {
    Command::from_std(kfp_gitops_std(emulator, cwd))
}

/// The binary with a clean environment, pointed at `emulator`, run in `cwd`.
fn kfp_gitops_std(emulator: &Emulator, cwd: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(cwd)
        .args(["--api-url", &emulator.base_url()]);
    command
}

fn text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn apply(emulator: &Emulator, config: &Path) {
    let output = kfp_gitops(emulator, config)
        .args(["-n", NAMESPACE, "apply", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

fn array(state: &Value, key: &str) -> Vec<Value> {
    match &state[key] {
        Value::Array(items) => items.clone(),
        Value::Object(items) => items.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn runs(emulator: &Emulator) -> Vec<Value> {
    array(&emulator.state(), "runs")
}

fn jobs(emulator: &Emulator) -> Vec<Value> {
    array(&emulator.state(), "jobs")
}

/// The id of the enabled version of `job`.
fn live_version_id(emulator: &Emulator, job: &str) -> String {
    jobs(emulator)
        .into_iter()
        .find(|j| {
            j["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("GIT::{job}__")))
                && j["enabled"] == true
        })
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .unwrap()
}

fn job_reference(run: &Value) -> Option<String> {
    array(run, "references")
        .into_iter()
        .find(|r| r["key_type"] == "JOB")
        .map(|r| r["key_id"].as_str().unwrap().to_owned())
}

#[test]
fn trigger_creates_exactly_one_run_of_the_live_version_with_its_parameters() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let config = config();
    apply(&emulator, config.path());
    let version = live_version_id(&emulator, "nightly");

    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", NAMESPACE, "trigger", "nightly", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let runs = runs(&emulator);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    let name = run["name"].as_str().unwrap();
    assert!(name.starts_with("MANUAL::nightly__"), "{name}");
    assert_eq!(run["spec"]["parameters"][0]["name"], "msg");
    assert_eq!(run["spec"]["parameters"][0]["value"], "hello");
    assert_eq!(job_reference(run).as_deref(), Some(version.as_str()));
    let job = jobs(&emulator)
        .into_iter()
        .find(|j| j["id"] == version.as_str())
        .unwrap();
    assert_eq!(run["experiment_id"], job["experiment_id"]);
    assert_eq!(
        run["spec"]["workflow_manifest"],
        job["spec"]["workflow_manifest"]
    );
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["run_id"], run["id"]);
    assert_eq!(document["version_id"], version.as_str());
}

#[test]
fn trigger_watch_exits_zero_when_the_run_succeeds_and_one_when_it_fails() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_millis(300)))
            .unwrap();
    let config = config();
    apply(&emulator, config.path());
    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", NAMESPACE, "trigger", "nightly", "--watch"])
        .args(["--poll-interval", "50ms"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("status: Succeeded"),
        "{}",
        text(&output)
    );

    emulator.set_run_duration(Duration::from_secs(3600));
    let child = kfp_gitops_std(&emulator, config.path())
        .args(["-n", NAMESPACE, "trigger", "weekly", "--watch"])
        .args(["--poll-interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = loop {
        if let Some(run) = runs(&emulator)
            .into_iter()
            .find(|r| r["name"].as_str().unwrap().starts_with("MANUAL::weekly__"))
        {
            break run["id"].as_str().unwrap().to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(emulator.finish_run(&id, RunOutcome::Failed));
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ended with status Failed"),
        "{}",
        text(&output)
    );
}

#[test]
fn trigger_refuses_an_unknown_name_and_a_namespace_without_the_job_and_creates_nothing() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let config = config();
    apply(&emulator, config.path());
    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", NAMESPACE, "trigger", "no-such-job"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("recurring run \"no-such-job\" has no version in namespace team-1"),
        "{err}"
    );
    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", "team-2", "trigger", "nightly"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("recurring run \"nightly\" has no version in namespace team-2"),
        "{err}"
    );
    assert!(runs(&emulator).is_empty());
    assert_eq!(emulator.count("POST /apis/v1beta1/runs"), 0);
}
