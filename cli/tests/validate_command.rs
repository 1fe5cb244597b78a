//! `kfp-gitops validate` and `kfp-gitops schema` as a user runs them.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn kfp_gitops() -> Command {
    let mut command = Command::cargo_bin("kfp-gitops").unwrap();
    command
        .env_remove("KFP_NAMESPACE")
        .env_remove("GITHUB_TOKEN")
        .env("NO_COLOR", "1");
    command
}

#[test]
fn a_valid_namespace_exits_zero_with_a_summary() {
    let output = kfp_gitops()
        .current_dir(repo_root())
        .args([
            "validate",
            "--config",
            "examples/daily-digest/schedules/team-1",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ok: namespace team-1 (examples/daily-digest/schedules/team-1): 1 experiment, 1 recurring run\n"
    );
}

#[test]
fn every_problem_is_listed_cargo_style_and_the_exit_code_is_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let ns = dir.path().join("team-1");
    std::fs::create_dir(&ns).unwrap();
    std::fs::write(
        ns.join("experiments.yaml"),
        "experiments:\n  - name: a\n  - name: a\n",
    )
    .unwrap();
    std::fs::write(
        ns.join("recurring_runs.yaml"),
        "recurring_runs:\n  - pipeline_source: {path: missing.yaml}\n    job:\n      enabled: true\n      name: j\n      experiment: b\n      max_concurrency: 11\n      trigger: {catchup: false, cron: \"0 0 * * *\"}\n",
    )
    .unwrap();
    let output = kfp_gitops()
        .current_dir(dir.path())
        .args(["validate", "--config", "team-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}

#[test]
fn offline_validation_of_the_reference_example_says_what_it_skipped() {
    let seed = repo_root().join("kfp-config/tests/fixtures/seed");
    let output = kfp_gitops()
        .current_dir(&seed)
        .args([
            "validate",
            "--config",
            ".",
            "--namespace",
            "team-1",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("skipped (--offline): ").count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("pipeline github:deployKF/kubeflow-pipelines-gitops@f73d515dfa7cff8e04b6bad3551d9db8a8d589f1:"));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "ok: namespace team-1 (.): 2 checks skipped\n"
    );
}

#[test]
fn json_output_lists_problems_with_their_positions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("experiments.yaml"), "experiments: []\n").unwrap();
    std::fs::write(
        dir.path().join("recurring_runs.yaml"),
        "recurring_runs: []\nextra: 1\n",
    )
    .unwrap();
    // The temporary folder's name is no namespace name, so the namespace is given.
    let output = kfp_gitops()
        .args([
            "validate",
            "-o",
            "json",
            "--namespace",
            "team-1",
            "--config",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    // Exactly one JSON document on stdout, so `| jq` works; the summary goes to stderr.
    let stdout = String::from_utf8(output.stdout).unwrap();
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("error: 1 problem in 1 namespace"),
        "{stderr}"
    );
    assert_eq!(report["valid"], false);
    let problem = &report["namespaces"][0]["problems"][0];
    assert_eq!(problem["pointer"], "/extra");
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(problem["message"], "unknown key `extra`");
}

#[test]
fn schema_out_writes_the_committed_schemas() {
    let dir = tempfile::tempdir().unwrap();
    kfp_gitops()
        .args(["schema", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    for name in [
        "experiments.schema.json",
        "recurring_runs.schema.json",
        "kfp-gitops.schema.json",
    ] {
        let written = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let committed = std::fs::read_to_string(repo_root().join("schemas").join(name)).unwrap();
        assert!(written == committed, "{name} differs from schemas/{name}");
    }
}

#[test]
fn schema_prints_every_schema_as_one_json_document() {
    let output = kfp_gitops().arg("schema").output().unwrap();
    assert!(output.status.success());
    let all: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "experiments.schema.json",
            "recurring_runs.schema.json",
            "kfp-gitops.schema.json"
        ]
    );
}

/// A minimal GitHub API on 127.0.0.1 that answers every reference with one SHA and serves the seed's files;
/// it records each request path and stops by itself once `stop` is set (or after 60 seconds).
fn fake_github(
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seed = repo_root().join("kfp-config/tests/fixtures/seed/RENDERED_PIPELINE");
    let handle = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !stop.load(std::sync::atomic::Ordering::SeqCst)
            && std::time::Instant::now() < deadline
        {
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
            let target = request_line
                .split(' ')
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let path = target.split('?').next().unwrap_or_default().to_owned();
            requests.lock().unwrap().push(path.clone());
            let body = if path.contains("/commits/") {
                br#"{"sha": "0123456789abcdef0123456789abcdef01234567"}"#.to_vec()
            } else if path.ends_with("/workflow.yaml") {
                std::fs::read(seed.join("workflow.yaml")).unwrap()
            } else {
                std::fs::read(seed.join("params/custom_message")).unwrap()
            };
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (url, handle)
}

#[test]
fn namespaces_on_the_same_branch_resolve_it_once() {
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, server) = fake_github(requests.clone(), stop.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let seed = repo_root().join("kfp-config/tests/fixtures/seed");
    let runs = std::fs::read_to_string(seed.join("recurring_runs.yaml"))
        .unwrap()
        .replace("f73d515dfa7cff8e04b6bad3551d9db8a8d589f1", "main");
    for namespace in ["team-1", "team-2", "team-3"] {
        let folder = dir.path().join(namespace);
        std::fs::create_dir(&folder).unwrap();
        std::fs::copy(
            seed.join("experiments.yaml"),
            folder.join("experiments.yaml"),
        )
        .unwrap();
        std::fs::write(folder.join("recurring_runs.yaml"), &runs).unwrap();
    }
    let output = kfp_gitops()
        .current_dir(dir.path())
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .args(["validate", "--github-api-url", &url])
        .args(["--config", "team-1=team-1", "--config", "team-2=team-2"])
        .args(["--config", "team-3=team-3"])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut requests = requests.lock().unwrap().clone();
    requests.sort();
    assert_eq!(
        requests,
        [
            "/repos/deployKF/kubeflow-pipelines-gitops/commits/main",
            "/repos/deployKF/kubeflow-pipelines-gitops/contents/step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE/params/custom_message",
            "/repos/deployKF/kubeflow-pipelines-gitops/contents/step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE/workflow.yaml",
        ]
    );
}

/// A namespace folder `team-1` in a repository root, with a local pipeline `workflow.yaml` and two recurring
/// runs named `first` and `second`.
fn two_runs(first: &str, second: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let ns = dir.path().join("team-1");
    std::fs::create_dir(&ns).unwrap();
    std::fs::copy(
        repo_root().join("kfp-config/tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
        ns.join("workflow.yaml"),
    )
    .unwrap();
    std::fs::write(ns.join("experiments.yaml"), "experiments:\n  - name: e\n").unwrap();
    let run = |name: &str| {
        format!(
            "  - pipeline_source: {{path: workflow.yaml}}\n    pipeline_parameters: [{{name: custom_message, value: hi}}]\n    job:\n      enabled: true\n      name: {name}\n      experiment: e\n      max_concurrency: 1\n      trigger: {{catchup: false, cron: \"0 0 0 * * *\"}}\n"
        )
    };
    std::fs::write(
        ns.join("recurring_runs.yaml"),
        format!("recurring_runs:\n{}{}", run(first), run(second)),
    )
    .unwrap();
    dir
}

#[test]
fn names_kfp_takes_for_one_and_a_namespace_that_is_no_namespace_name_exit_one() {
    let dir = two_runs("Nightly", "nightly");
    let output = kfp_gitops()
        .current_dir(dir.path())
        .args(["validate", "--namespace", "team..1", "--config", "team-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_missing_config_folder_is_named_and_the_exit_code_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = kfp_gitops()
        .current_dir(dir.path())
        .args(["validate", "--config", "team-1/schedules"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}

#[cfg(unix)]
#[test]
fn a_pipeline_that_is_a_fifo_is_refused_without_being_opened() {
    let dir = two_runs("first", "second");
    let pipeline = dir.path().join("team-1/workflow.yaml");
    std::fs::remove_file(&pipeline).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&pipeline)
        .status()
        .unwrap();
    assert!(status.success());
    // Opening the FIFO would block forever (nothing writes to it): should that come back, the child is
    // killed and the exit code below is that of a signal.
    let output = kfp_gitops()
        .current_dir(dir.path())
        .args(["validate", "--config", "team-1"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr
            .matches("`workflow.yaml` is a FIFO (named pipe), not a regular file")
            .count(),
        2,
        "{stderr}"
    );
}
