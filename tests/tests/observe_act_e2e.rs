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

fn status_json(emulator: &Emulator, config: &Path) -> Value {
    let output = kfp_gitops(emulator, config)
        .args([
            "-n", NAMESPACE, "status", "--runs", "2", "-o", "json", "--config",
        ])
        .arg(config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn job_status<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["namespaces"][0]["recurring_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"] == name)
        .unwrap()
}

#[test]
fn status_shows_healthy_and_degraded_schedules_by_their_last_runs_beside_the_sync_state() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_secs(3600)))
            .unwrap();
    let config = config();
    apply(&emulator, config.path());

    // Before any run: both healthy and in sync, with their next fire times.
    let document = status_json(&emulator, config.path());
    assert_eq!(document["format_version"], 1);
    let nightly = job_status(&document, "nightly");
    assert_eq!(nightly["health"], "Healthy");
    assert_eq!(nightly["sync"]["state"], "Synced");
    assert_eq!(nightly["enabled"], true);
    assert_eq!(nightly["trigger"], "cron 0 0 3 * * *");
    assert_eq!(nightly["next_fire_times"].as_array().unwrap().len(), 3);
    assert!(
        nightly["next_fire_times"][0]
            .as_str()
            .unwrap()
            .ends_with("T03:00:00Z"),
        "{nightly}"
    );
    assert_eq!(
        nightly["live_version"]["id"],
        live_version_id(&emulator, "nightly").as_str()
    );

    // The schedules fire: nightly's run succeeds, weekly's fails; a second nightly run is in progress.
    let nightly_run = emulator
        .trigger_job(&live_version_id(&emulator, "nightly"))
        .unwrap();
    assert!(emulator.finish_run(&nightly_run, RunOutcome::Succeeded));
    let weekly_run = emulator
        .trigger_job(&live_version_id(&emulator, "weekly"))
        .unwrap();
    assert!(emulator.finish_run(&weekly_run, RunOutcome::Failed));
    let document = status_json(&emulator, config.path());
    let nightly = job_status(&document, "nightly");
    let weekly = job_status(&document, "weekly");
    assert_eq!(nightly["health"], "Healthy", "{nightly}");
    assert_eq!(weekly["health"], "Degraded", "{weekly}");
    assert_eq!(weekly["sync"]["state"], "Synced");
    assert_eq!(nightly["runs"][0]["id"], nightly_run.as_str());
    assert_eq!(nightly["runs"][0]["state"], "Succeeded");
    assert_eq!(weekly["runs"][0]["state"], "Failed");
    assert!(weekly["runs"][0]["finished_at"].is_string(), "{weekly}");

    // A run started now makes nightly progress; the text output shows both words.
    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", NAMESPACE, "trigger", "nightly"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let document = status_json(&emulator, config.path());
    let nightly = job_status(&document, "nightly");
    assert_eq!(nightly["health"], "Progressing", "{nightly}");
    assert_eq!(nightly["runs"].as_array().unwrap().len(), 2);
    let output = kfp_gitops(&emulator, config.path())
        .args(["-n", NAMESPACE, "status", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("nightly  Progressing  Synced"), "{out}");
    assert!(out.contains("weekly  Degraded  Synced"), "{out}");
}

#[test]
fn status_shows_what_differs_a_paused_schedule_and_a_missing_one() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let config = config();
    apply(&emulator, config.path());
    // weekly is disabled outside git; a third recurring run is declared but not applied.
    let weekly = live_version_id(&emulator, "weekly");
    let response = emulator
        .request(
            "POST",
            &format!("/apis/v1beta1/jobs/{weekly}/disable"),
            None,
        )
        .unwrap();
    assert_eq!(response.status, 200);
    let runs_file = config.path().join("recurring_runs.yaml");
    let text_before = std::fs::read_to_string(&runs_file).unwrap();
    std::fs::write(
        &runs_file,
        format!(
            "{text_before}  - pipeline_source:\n      path: workflow.yaml\n    job:\n      enabled: true\n      name: hourly\n      experiment: exp\n      max_concurrency: 1\n      trigger:\n        catchup: false\n        interval_seconds: 3600\n"
        ),
    )
    .unwrap();
    let document = status_json(&emulator, config.path());
    let weekly = job_status(&document, "weekly");
    assert_eq!(weekly["health"], "Suspended", "{weekly}");
    assert_eq!(weekly["sync"]["state"], "OutOfSync");
    assert!(
        weekly["sync"]["differences"][0]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{weekly}"
    );
    assert_eq!(weekly["next_fire_times"].as_array().unwrap().len(), 0);
    let hourly = job_status(&document, "hourly");
    assert_eq!(hourly["health"], "Missing", "{hourly}");
    assert_eq!(hourly["sync"]["state"], "OutOfSync");
    assert!(hourly["live_version"].is_null());
    // status changes nothing.
    assert_eq!(emulator.count("POST /apis/v1beta1/jobs"), 2);
}

/// Creates an experiment and a recurring run the way the KFP UI does (no `GIT::` name); returns the job id.
fn ui_job(emulator: &Emulator, experiment: &str, name: &str, msg: &str, cron: &str) -> String {
    let existing = array(&emulator.state(), "experiments")
        .into_iter()
        .find(|e| e["name"] == experiment)
        .map(|e| e["id"].as_str().unwrap().to_owned());
    let experiment_id = existing.unwrap_or_else(|| {
        let body = serde_json::json!({
            "name": experiment,
            "description": "made in the UI",
            "resource_references": [{"key": {"type": "NAMESPACE", "id": NAMESPACE}, "relationship": "OWNER"}]
        });
        let response = emulator
            .request("POST", "/apis/v1beta1/experiments", Some(&body))
            .unwrap();
        assert_eq!(response.status, 200, "{}", response.text());
        response.json()["id"].as_str().unwrap().to_owned()
    });
    let manifest = kfp_config::Workflow::parse_yaml(WORKFLOW)
        .unwrap()
        .to_manifest_json();
    let body = serde_json::json!({
        "name": name,
        "description": "clicked together",
        "pipeline_spec": {"workflow_manifest": manifest, "parameters": [{"name": "msg", "value": msg}]},
        "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment_id}, "relationship": "OWNER"}],
        "max_concurrency": "2",
        "trigger": {"cron_schedule": {"cron": cron}},
        "enabled": true,
        "no_catchup": true
    });
    let response = emulator
        .request("POST", "/apis/v1beta1/jobs", Some(&body))
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["id"].as_str().unwrap().to_owned()
}

fn plan_exit(emulator: &Emulator, config: &Path) -> (Option<i32>, Value) {
    let output = kfp_gitops(emulator, config)
        .args([
            "-n",
            NAMESPACE,
            "plan",
            "--detailed-exitcode",
            "-o",
            "json",
            "--config",
        ])
        .arg(config)
        .output()
        .unwrap();
    let document =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", text(&output)));
    (output.status.code(), document)
}

#[test]
fn ui_made_jobs_are_imported_validated_adopted_and_then_in_sync() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let nightly = ui_job(
        &emulator,
        "reports",
        "Nightly report",
        "hello",
        "0 15 6 * * *",
    );
    let weekly = ui_job(&emulator, "reports", "weekly report", "bye", "0 0 8 * * 1");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("team-1");

    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "import", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let runs_text = std::fs::read_to_string(out.join("recurring_runs.yaml")).unwrap();
    assert!(
        runs_text.starts_with("# yaml-language-server: $schema="),
        "{runs_text}"
    );
    assert!(runs_text.contains("adopt: Nightly report"), "{runs_text}");
    // One workflow, written once.
    let pipelines: Vec<_> = std::fs::read_dir(out.join("pipelines")).unwrap().collect();
    assert_eq!(pipelines.len(), 1);

    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "validate", "--config"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let (code, plan) = plan_exit(&emulator, &out);
    assert_eq!(code, Some(2), "{plan}");
    let planned = plan["plans"][0]["jobs"].as_array().unwrap();
    assert_eq!(planned.len(), 2, "{plan}");
    for job in planned {
        assert_eq!(job["change"], "adopt", "{job}");
        let steps: Vec<&str> = job["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["create_version", "disable", "enable"], "{job}");
    }
    assert!(
        plan["plans"][0]["experiments"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{plan}"
    );

    apply(&emulator, &out);
    let jobs_now = jobs(&emulator);
    for id in [&nightly, &weekly] {
        let adopted = jobs_now.iter().find(|j| j["id"] == id.as_str()).unwrap();
        assert_eq!(adopted["enabled"], false, "{adopted}");
    }
    for name in ["Nightly report", "weekly report"] {
        let managed: Vec<&Value> = jobs_now
            .iter()
            .filter(|j| {
                j["name"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("GIT::{name}__"))
            })
            .collect();
        assert_eq!(managed.len(), 1, "{jobs_now:#?}");
        assert_eq!(managed[0]["enabled"], true);
    }
    let (code, plan) = plan_exit(&emulator, &out);
    assert_eq!(code, Some(0), "{plan}");
}

#[test]
fn importing_managed_jobs_gives_a_config_that_plans_no_changes() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let config = config();
    apply(&emulator, config.path());
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("imported");
    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "import", "--include-managed", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let runs_text = std::fs::read_to_string(out.join("recurring_runs.yaml")).unwrap();
    assert!(!runs_text.contains("adopt"), "{runs_text}");
    let (code, plan) = plan_exit(&emulator, &out);
    assert_eq!(code, Some(0), "{plan}");
}

#[test]
fn import_refuses_an_existing_folder_and_writes_and_asks_nothing() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    ui_job(
        &emulator,
        "reports",
        "Nightly report",
        "hello",
        "0 15 6 * * *",
    );
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("existing");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    emulator.reset_counts();
    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "import", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("exists already; nothing was written"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(emulator.total_requests(), 0);
    let entries: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(entries.len(), 1);
    // With --force it writes beside the existing file.
    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "import", "--force", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("recurring_runs.yaml").is_file());
}

#[test]
fn what_the_config_cannot_express_is_reported_not_dropped_silently() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    ui_job(
        &emulator,
        "reports",
        "Nightly report",
        "hello",
        "0 15 6 * * *",
    );
    // A job without a trigger (KFP 1.8 accepts it; it never fires): a config cannot declare it.
    let experiment = array(&emulator.state(), "experiments")
        .into_iter()
        .find(|e| e["name"] == "reports")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .unwrap();
    let manifest = kfp_config::Workflow::parse_yaml(WORKFLOW)
        .unwrap()
        .to_manifest_json();
    let body = serde_json::json!({
        "name": "never fires",
        "pipeline_spec": {"workflow_manifest": manifest},
        "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment}, "relationship": "OWNER"}],
        "max_concurrency": "1",
        "enabled": true
    });
    let response = emulator
        .request("POST", "/apis/v1beta1/jobs", Some(&body))
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("team-1");
    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "import", "-o", "json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        document["recurring_runs"].as_array().unwrap().len(),
        1,
        "{document}"
    );
    let notes = document["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{document}");
    assert_eq!(notes[0]["job"], "never fires");
    assert_eq!(notes[0]["skipped"], true);
    assert!(
        notes[0]["message"].as_str().unwrap().contains("no trigger"),
        "{document}"
    );
    let output = kfp_gitops(&emulator, root.path())
        .args(["-n", NAMESPACE, "validate", "--config"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}
