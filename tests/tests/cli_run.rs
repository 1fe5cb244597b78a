//! `kfp-gitops run` and `kfp-gitops ping` end to end: the real binary against the KFP API emulator.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{AuthMode, DexConfig, Emulator, EmulatorConfig, RunOutcome};
use serde_json::Value;

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-pipeline-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '2024-01-02T03:04:05.000000'
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "message", "type": "String"}, {"default": "3", "name": "count", "optional": true, "type": "Integer"}], "name": "hello-pipeline"}'
spec:
  entrypoint: hello-pipeline
  arguments:
    parameters:
    - {name: message}
    - {name: count, value: '3'}
  serviceAccountName: pipeline-runner
  templates:
  - name: hello-pipeline
    container:
      image: alpine:3.18
      command: [echo, '{{inputs.parameters.message}}', '{{inputs.parameters.count}}']
    inputs:
      parameters:
      - {name: message}
      - {name: count}
"#;

/// A rendered pipeline folder: workflow.yaml and params/message.
fn rendered_pipeline(dir: &Path) {
    std::fs::write(dir.join("workflow.yaml"), WORKFLOW).unwrap();
    std::fs::create_dir(dir.join("params")).unwrap();
    std::fs::write(dir.join("params/message"), "Hello world!\nTwice.\n").unwrap();
}

fn kfp_gitops(emulator: &Emulator) -> Command {
    Command::from_std(kfp_gitops_std(emulator))
}

/// The binary with a clean environment, pointed at `emulator`.
fn kfp_gitops_std(emulator: &Emulator) -> std::process::Command {
    kfp_gitops_at(&format!("{}/pipeline", emulator.base_url()))
}

/// The binary with a clean environment, pointed at `api_url`.
fn kfp_gitops_at(api_url: &str) -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
    for var in [
        "KFP_API_URL",
        "KFP_NAMESPACE",
        "KFP_TOKEN",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "DEX_USERNAME",
        "DEX_PASSWORD",
        "DEX_AUTH_TYPE",
        "RUST_LOG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(var);
    }
    command.env("NO_COLOR", "1");
    command.arg("--api-url").arg(api_url);
    command
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn runs(emulator: &Emulator) -> Vec<Value> {
    let state = emulator.state();
    match &state["runs"] {
        Value::Array(runs) => runs.clone(),
        Value::Object(runs) => runs.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn run_args(folder: &Path) -> Vec<String> {
    vec![
        "run".into(),
        "--pipeline-folder".into(),
        folder.display().to_string(),
        "--experiment".into(),
        "smoke tests".into(),
        "-n".into(),
        "team-1".into(),
    ]
}

#[test]
fn run_creates_the_experiment_and_a_manual_run_with_the_params_and_prints_its_link() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--param", "count=5"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.starts_with("created run MANUAL::hello-pipeline__"),
        "{out}"
    );
    let link = format!("{}/pipeline/#/runs/details/", emulator.base_url());
    assert!(out.contains(&link), "{out}");

    let runs = runs(&emulator);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    let name = run["name"].as_str().unwrap();
    let stamp = name.strip_prefix("MANUAL::hello-pipeline__").unwrap();
    assert_eq!(stamp.len(), "2024-01-02T03-04-05Z".len(), "{name}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "{name}"
    );
    let id = run["id"].as_str().unwrap();
    assert!(out.contains(&format!("{link}{id}")), "{out}");
    let text = run.to_string();
    assert!(
        text.contains("Hello world!\\nTwice.\\n"),
        "params/ sent byte for byte: {text}"
    );
    assert!(text.contains("\"5\""), "the --param override: {text}");
    assert_eq!(emulator.count("POST /apis/v1beta1/experiments"), 1);
    assert_eq!(emulator.count("POST /apis/v1beta1/runs"), 1);
}

#[test]
fn run_into_a_missing_experiment_fails_without_creating_anything() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("error: experiment \"smoke tests\" does not exist in namespace team-1"),
        "{err}"
    );
    assert!(err.contains("--create-experiment"), "{err}");
    assert_eq!(emulator.count("POST /apis/v1beta1/experiments"), 0);
    assert_eq!(emulator.count("POST /apis/v1beta1/runs"), 0);
}

#[test]
fn parameter_problems_are_reported_before_any_api_call() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    std::fs::remove_file(dir.path().join("params/message")).unwrap();
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--param", "colour=blue"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("error: the parameters do not match the pipeline's inputs"),
        "{err}"
    );
    assert!(
        err.contains("missing required parameter(s): message"),
        "{err}"
    );
    assert!(err.contains("unknown parameter(s): colour"), "{err}");
    assert!(err.contains("message (required), count"), "{err}");
    assert_eq!(emulator.total_requests(), 0);
}

#[test]
fn watch_shows_the_status_changes_and_exits_zero_when_the_run_succeeds() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_millis(400)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--watch", "--poll-interval", "100ms"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.trim_end().ends_with("status: Succeeded"), "{out}");
}

#[test]
fn watch_exits_one_when_the_run_fails() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_secs(3600)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let mut child = kfp_gitops_std(&emulator)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--watch", "--poll-interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Fail the run once it exists (the CLI keeps polling meanwhile).
    let id = loop {
        if let Some(run) = runs(&emulator).first() {
            break run["id"].as_str().unwrap().to_owned();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the CLI ended before creating a run: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(emulator.finish_run(&id, RunOutcome::Failed));
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("status: Failed"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("ended with status Failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn watch_gives_up_after_the_timeout_and_says_the_run_keeps_going() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_secs(3600)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .args([
            "--create-experiment",
            "--watch",
            "--timeout",
            "300ms",
            "--poll-interval",
            "50ms",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("did not finish within"), "{err}");
    assert!(err.contains("the run keeps going"), "{err}");
}

#[test]
fn run_with_json_output_prints_one_document() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .args(["--output", "json", "run", "--pipeline-folder"])
        .arg(dir.path())
        .args(["--experiment", "Default", "--name", "try"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert!(
        doc["run_name"]
            .as_str()
            .unwrap()
            .starts_with("MANUAL::try__")
    );
    assert_eq!(doc["experiment"], "Default");
    assert!(
        doc["url"]
            .as_str()
            .unwrap()
            .ends_with(doc["run_id"].as_str().unwrap())
    );
}

#[test]
fn ping_reports_all_three_checks_ok() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let output = kfp_gitops(&emulator)
        .args(["ping", "-n", "team-1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("ok      api"), "{lines:?}");
    assert!(lines[0].contains("multi-user"), "{lines:?}");
    assert!(lines[1].starts_with("ok      auth"), "{lines:?}");
    assert!(lines[2].starts_with("ok      namespace"), "{lines:?}");
    assert!(lines[2].contains("namespace team-1"), "{lines:?}");
}

#[test]
fn ping_without_a_namespace_in_multi_user_mode_blames_the_namespace() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let output = kfp_gitops(&emulator).arg("ping").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("FAILED  namespace"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("--namespace"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ping_of_an_address_where_nothing_listens_blames_the_api() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = kfp_gitops_at(&format!("http://127.0.0.1:{port}"))
        .args(["ping", "--connect-timeout", "2s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("FAILED  api"), "{out}");
    assert!(out.contains("skipped auth"), "{out}");
    let err = stderr(&output);
    assert!(err.contains("does not answer"), "{err}");
    assert!(err.contains("hint: check --api-url"), "{err}");
}

#[test]
fn ping_with_a_missing_token_blames_authentication() {
    let tokens = AuthMode::Token(BTreeSet::from(["tok123".to_owned()]));
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_auth(tokens)).unwrap();
    let output = kfp_gitops(&emulator)
        .args(["ping", "-n", "team-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("FAILED  auth"),
        "{}",
        stdout(&output)
    );

    let output = kfp_gitops(&emulator)
        .env("KFP_TOKEN", "tok123")
        .args(["ping", "-n", "team-1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(!stdout(&output).contains("tok123") && !stderr(&output).contains("tok123"));
}

#[test]
fn ping_and_run_log_in_to_dex_and_a_wrong_password_is_an_auth_failure() {
    let dex = DexConfig {
        approval_screen: true,
        connector_picker: true,
        ..DexConfig::default()
    };
    let (user, password) = (dex.username.clone(), dex.password.clone());
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_auth(AuthMode::Dex(dex))).unwrap();

    let output = kfp_gitops(&emulator)
        .env("DEX_USERNAME", &user)
        .env("DEX_PASSWORD", "wrong-password")
        .args(["ping", "-n", "team-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("FAILED  auth"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("did not accept the username or password"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("wrong-password"));

    let output = kfp_gitops(&emulator)
        .env("DEX_USERNAME", &user)
        .env("DEX_PASSWORD", &password)
        .args(["ping", "-n", "team-1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );

    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let output = kfp_gitops(&emulator)
        .env("DEX_USERNAME", &user)
        .env("DEX_PASSWORD", &password)
        .args(run_args(dir.path()))
        .arg("--create-experiment")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(runs(&emulator).len(), 1);
}

#[test]
fn a_namespace_mismatch_with_the_servers_mode_gets_a_hint_about_namespace() {
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());

    let multi = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let output = kfp_gitops(&multi)
        .args(["run", "--pipeline-folder"])
        .arg(dir.path())
        .args(["--experiment", "e"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("Namespace is empty"), "{err}");
    assert!(
        err.contains("hint: this KFP runs in multi-user mode: pass --namespace"),
        "{err}"
    );

    let single = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let output = kfp_gitops(&single)
        .args(run_args(dir.path()))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("cannot filter by namespace"), "{err}");
    assert!(
        err.contains("hint: this KFP runs in single-user mode"),
        "{err}"
    );
    assert_eq!(single.count("POST /apis/v1beta1/runs"), 0);
}

#[test]
fn watch_logs_in_again_when_the_dex_session_expires_mid_run() {
    let dex = DexConfig::default();
    let (user, password) = (dex.username.clone(), dex.password.clone());
    let emulator = Emulator::start(
        EmulatorConfig::multi_user()
            .with_auth(AuthMode::Dex(dex))
            .with_run_duration(Duration::from_secs(3600)),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let mut child = kfp_gitops_std(&emulator)
        .env("DEX_USERNAME", &user)
        .env("DEX_PASSWORD", &password)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--watch", "--poll-interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = loop {
        if let Some(run) = runs(&emulator).first() {
            break run["id"].as_str().unwrap().to_owned();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the CLI ended before creating a run: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let polls = emulator.count("GET /apis/v1beta1/runs/{id}");
    emulator.expire_sessions();
    // Let the CLI hit the expired session before the run ends.
    while emulator.count("GET /apis/v1beta1/runs/{id}") < polls + 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the CLI gave up on the expired session"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(emulator.finish_run(&id, RunOutcome::Succeeded));
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(stdout(&output).contains("status: Succeeded"));
}

#[test]
fn ping_reads_the_token_from_a_token_file_and_can_answer_in_json() {
    let tokens = AuthMode::Token(BTreeSet::from(["file-token".to_owned()]));
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_auth(tokens)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token\n").unwrap();
    let output = kfp_gitops(&emulator)
        .args(["--output", "json", "ping", "-n", "team-1", "--token-file"])
        .arg(&token_file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(doc["ok"], true);
    let names: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "auth", "namespace"]);
    assert!(
        doc["checks"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("token")
    );
}

#[test]
fn ctrl_c_stops_watching_but_leaves_the_run_going() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_secs(3600)))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());
    let mut child = kfp_gitops_std(&emulator)
        .args(run_args(dir.path()))
        .args(["--create-experiment", "--watch", "--poll-interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the CLI is polling the run, so that its Ctrl-C handler is installed.
    while emulator.count("GET /apis/v1beta1/runs/{id}") < 2 {
        assert!(child.try_wait().unwrap().is_none(), "the CLI ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("error: stopped watching run MANUAL::hello-pipeline__"),
        "{err}"
    );
    assert!(err.contains("the run keeps going"), "{err}");
    let status = runs(&emulator)[0]["status"].as_str().unwrap().to_owned();
    assert!(
        ["Pending", "Running"].contains(&status.as_str()),
        "{status}"
    );
    assert_eq!(emulator.count("POST /apis/v1beta1/runs/{id}/terminate"), 0);
}

#[test]
fn a_lost_answer_to_the_run_creation_is_resolved_by_looking_the_run_up_not_by_creating_it_again() {
    use kfp_gitops_tests::emulator::Fault;
    let dir = tempfile::tempdir().unwrap();
    rendered_pipeline(dir.path());

    // Applied, but the gateway answered 503.
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    emulator.inject_fault(Fault::status("POST", "/apis/v1beta1/runs", 503).after_apply());
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .arg("--create-experiment")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let runs_now = runs(&emulator);
    assert_eq!(runs_now.len(), 1);
    let id = runs_now[0]["id"].as_str().unwrap();
    assert!(stdout(&output).contains(id), "{}", stdout(&output));
    assert_eq!(emulator.count("POST /apis/v1beta1/runs"), 1);

    // Not applied: the command says so and can simply be run again.
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    emulator.inject_fault(Fault::status("POST", "/apis/v1beta1/runs", 503));
    let output = kfp_gitops(&emulator)
        .args(run_args(dir.path()))
        .arg("--create-experiment")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("the run was not created"), "{err}");
    assert!(runs(&emulator).is_empty());
    assert_eq!(emulator.count("POST /apis/v1beta1/runs"), 1);
}
