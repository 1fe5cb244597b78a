//! The command lines of deployKF's `kubeflow-pipelines-gitops` scripts run with kfp-gitops in place of the
//! Python scripts, otherwise unchanged, against the KFP API emulator behind a Dex login (as deployKF serves
//! it, under `/pipeline`). The reference repository's layout is rebuilt in a temporary folder from the seed
//! fixtures; its pipeline source on GitHub is served by a small fake GitHub API (`GITHUB_API_URL`).
//!
//! The only edit to the command lines besides the script → command swap is the host of `--api-url`:
//! `https://deploykf.example.com:8443` becomes the emulator's address (its path `/pipeline` stays). The
//! commands are run by `sh`, so their quoting and line continuations are the scripts' own.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kfp_gitops_tests::emulator::{AuthMode, DexConfig, Emulator, EmulatorConfig};
use serde_json::{Value, json};

/// `step-3--schedule-pipelines/reconcile_team-1.sh` (deployKF/kubeflow-pipelines-gitops @ 2edb47c) from its
/// `export` lines on, with `PYTHONPATH=$(get_pythonpath) python "${REPOSITORY_ROOT_PATH}/common_python/reconcile_kfp.py"`
/// replaced by `kfp-gitops apply`. It runs in the script's folder, as the script `cd`s there.
const RECONCILE_TEAM_1: &str = r#"
# set authentication environment variables
# TIP: can also be set with the `--dex-username` and `--dex-password` script arguments
export DEX_USERNAME="user1@example.com"
export DEX_PASSWORD="user1"

# set github token (for accessing private repositories)
# TIP: can also be set with the `--github-token` script argument
#GITHUB_TOKEN="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

# reconcile pipelines into the 'team-1' namespace
# NOTE: we set PYTHONPATH so we can import our 'common_python' module
kfp-gitops apply \
  --config-path "./team-1" \
  --namespace "team-1" \
  --api-url "https://deploykf.example.com:8443/pipeline" \
  --skip-tls-verify"#;

/// `step-2--run-pipelines/example_pipeline_1/run_pipeline.sh` from its `export` lines on, with
/// `PYTHONPATH=$(get_pythonpath) python "${REPOSITORY_ROOT_PATH}/common_python/run_pipeline.py"` replaced by
/// `kfp-gitops run`. `REPOSITORY_ROOT_PATH` is set as the script sets it (`git rev-parse --show-toplevel`).
const RUN_PIPELINE: &str = r#"
# set authentication environment variables
# TIP: can also be set with the `--dex-username` and `--dex-password` script arguments
export DEX_USERNAME="user1@example.com"
export DEX_PASSWORD="user1"

# run the pipeline in the 'team-1' namespace
# NOTE: we set PYTHONPATH so we can import our 'common_python' module
kfp-gitops run \
  --pipeline-folder "${REPOSITORY_ROOT_PATH}/step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE" \
  --run-name "example_pipeline_1" \
  --experiment-name "example_pipeline_1" \
  --namespace "team-1" \
  --api-url "https://deploykf.example.com:8443/pipeline" \
  --skip-tls-verify"#;

/// The reference's CI check (`.github/workflows/_check-reconciliation-configs.yaml`) runs the reconcile
/// script with these extra flags; with kfp-gitops they make `apply` a `plan`.
const CI_CHECK_FLAGS: &str = r#" \
  --log-level "DEBUG" \
  --dry-run"#;

const REFERENCE_HOST: &str = "https://deploykf.example.com:8443";

fn seed(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kfp-config/tests/fixtures/seed")
        .join(relative)
}

/// The reference repository: the rendered pipeline of step 1 and the `team-1` configs of step 3.
fn reference_repository() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(".git")).unwrap();
    let rendered = root
        .path()
        .join("step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE");
    std::fs::create_dir_all(rendered.join("params")).unwrap();
    for file in ["workflow.yaml", "params/custom_message"] {
        std::fs::copy(
            seed(&format!("RENDERED_PIPELINE/{file}")),
            rendered.join(file),
        )
        .unwrap();
    }
    let team = root.path().join("step-3--schedule-pipelines/team-1");
    std::fs::create_dir_all(&team).unwrap();
    for file in ["experiments.yaml", "recurring_runs.yaml"] {
        std::fs::copy(seed(file), team.join(file)).unwrap();
    }
    std::fs::create_dir_all(root.path().join("step-2--run-pipelines/example_pipeline_1")).unwrap();
    root
}

/// A GitHub API on 127.0.0.1 serving the seed's pipeline files at any reference; it records each request
/// path and stops when dropped.
struct FakeGitHub {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGitHub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut request_line = String::new();
                    reader.read_line(&mut request_line).unwrap();
                    let mut header = String::new();
                    while reader.read_line(&mut header).unwrap() > 2 {
                        header.clear();
                    }
                    let target = request_line.split(' ').nth(1).unwrap_or_default();
                    let path = target.split('?').next().unwrap_or_default().to_owned();
                    requests.lock().unwrap().push(path.clone());
                    let body = if path.contains("/commits/") {
                        br#"{"sha": "f73d515dfa7cff8e04b6bad3551d9db8a8d589f1"}"#.to_vec()
                    } else if path.ends_with("/RENDERED_PIPELINE/workflow.yaml") {
                        std::fs::read(seed("RENDERED_PIPELINE/workflow.yaml")).unwrap()
                    } else if path.ends_with("/RENDERED_PIPELINE/params/custom_message") {
                        std::fs::read(seed("RENDERED_PIPELINE/params/custom_message")).unwrap()
                    } else {
                        Vec::new()
                    };
                    let status = if body.is_empty() {
                        "404 Not Found"
                    } else {
                        "200 OK"
                    };
                    let mut stream = stream;
                    write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .unwrap();
                    stream.write_all(&body).unwrap();
                }
            })
        };
        Self {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The emulator as deployKF serves KFP: multi-user, the API under `/pipeline` behind a Dex login of the
/// scripts' user.
fn deploykf() -> Emulator {
    let dex = DexConfig {
        username: "user1@example.com".to_owned(),
        password: "user1".to_owned(),
        ..DexConfig::default()
    };
    Emulator::start(EmulatorConfig::multi_user().with_auth(AuthMode::Dex(dex))).unwrap()
}

/// Runs `script` with `sh` in `folder`, `kfp-gitops` first on PATH, the reference host replaced by the
/// emulator's address, and a clean environment for everything kfp-gitops reads.
fn sh(
    script: &str,
    folder: &Path,
    emulator: &Emulator,
    github: &FakeGitHub,
    root: &Path,
) -> std::process::Output {
    let binary = assert_cmd::cargo::cargo_bin("kfp-gitops");
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let script = script.replace(REFERENCE_HOST, &emulator.base_url());
    let mut command = std::process::Command::new("sh");
    command.args(["-c", &format!("set -eu\n{script}")]);
    for var in [
        "KFP_API_URL",
        "KFP_NAMESPACE",
        "KFP_TOKEN",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "DEX_USERNAME",
        "DEX_PASSWORD",
        "DEX_AUTH_TYPE",
        "KFP_DEFAULT_RUNNER_SA",
        "KFP_GITOPS_CACHE_DIR",
        "GITHUB_TOKEN",
        "RUST_LOG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    command
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("GITHUB_API_URL", &github.url)
        .env("REPOSITORY_ROOT_PATH", root)
        .current_dir(folder)
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn listed(emulator: &Emulator, what: &str) -> Vec<Value> {
    let response = emulator
        .request(
            "GET",
            &format!(
                "/apis/v1beta1/{what}?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1"
            ),
            None,
        )
        .unwrap();
    response.json()[what]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_reference_reconcile_command_line_applies_team_1_and_its_ci_check_plans() {
    let emulator = deploykf();
    let github = FakeGitHub::start();
    let root = reference_repository();
    let folder = root.path().join("step-3--schedule-pipelines");

    let output = sh(RECONCILE_TEAM_1, &folder, &emulator, &github, root.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: --config-path (reconcile_kfp.py) is spelled --config in kfp-gitops"),
        "{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("Apply: 3 action(s) done, 0 failed"),
        "{}",
        text(&output)
    );
    let experiments = listed(&emulator, "experiments");
    assert_eq!(experiments.len(), 1, "{experiments:?}");
    assert_eq!(experiments[0]["name"], "example-pipeline-1");
    let jobs = listed(&emulator, "jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let name = jobs[0]["name"].as_str().unwrap();
    assert!(name.starts_with("GIT::example-pipeline-1__"), "{name}");
    assert_eq!(jobs[0]["enabled"], true);
    assert_eq!(jobs[0]["trigger"]["cron_schedule"]["cron"], "0 0 0 * * *");
    assert!(
        github
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|path| path.ends_with("/RENDERED_PIPELINE/workflow.yaml")),
        "the pipeline came from the (fake) GitHub source"
    );

    // The reference CI check: the same command line with `--log-level "DEBUG" --dry-run` plans only.
    let check = format!("{RECONCILE_TEAM_1}{CI_CHECK_FLAGS}");
    let output = sh(&check, &folder, &emulator, &github, root.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for note in [
        "note: --log-level DEBUG is spelled --log-level debug in kfp-gitops",
        "note: apply --dry-run (reconcile_kfp.py --dry-run) is `kfp-gitops plan`",
    ] {
        assert!(stderr.contains(note), "{}", text(&output));
    }
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("No changes."),
        "{}",
        text(&output)
    );
    assert!(!stderr.contains("user1\n") && !stderr.contains("\"user1\""));
    assert_eq!(
        emulator.count("POST /apis/v1beta1/jobs"),
        1,
        "a dry run creates nothing"
    );
}

#[test]
fn the_reference_run_command_line_starts_a_manual_run_in_the_existing_experiment() {
    let emulator = deploykf();
    let github = FakeGitHub::start();
    let root = reference_repository();
    // run_pipeline.py runs in an experiment that "must already exist".
    let created = emulator
        .request(
            "POST",
            "/apis/v1beta1/experiments",
            Some(&json!({
                "name": "example_pipeline_1",
                "resource_references": [{"key": {"type": "NAMESPACE", "id": "team-1"}, "relationship": "OWNER"}]
            })),
        )
        .unwrap();
    assert_eq!(created.status, 200);
    let experiment_id = created.json()["id"].as_str().unwrap().to_owned();
    let folder = root.path().join("step-2--run-pipelines/example_pipeline_1");

    let output = sh(RUN_PIPELINE, &folder, &emulator, &github, root.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for note in [
        "note: --run-name (run_pipeline.py) is spelled --name in kfp-gitops",
        "note: --experiment-name (run_pipeline.py) is spelled --experiment in kfp-gitops",
    ] {
        assert!(stderr.contains(note), "{}", text(&output));
    }
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .starts_with("created run MANUAL::example_pipeline_1__"),
        "{}",
        text(&output)
    );
    let runs = listed(&emulator, "runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = runs[0].to_string();
    assert!(
        run.contains(&experiment_id),
        "in the existing experiment: {run}"
    );
    assert!(
        run.contains("Hello world!\\nHello world!"),
        "params/custom_message sent: {run}"
    );
    assert_eq!(
        emulator.count("POST /apis/v1beta1/experiments"),
        1,
        "no experiment created"
    );
}
