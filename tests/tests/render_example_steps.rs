//! The committed example `examples/daily-digest` beyond rendering: its step 2 (`run-once.sh`) and its
//! step 3 (the schedules of namespace `team-1`, declared in the repository's `kfp-gitops.yaml`) work
//! against the KFP API emulator exactly as its README says. Everything runs on a copy.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
use kfp_gitops_tests::python::workspace_root;
use serde_json::Value;

const EXAMPLE: &str = "examples/daily-digest";

/// The example and the project file, copied into a temporary repository root.
fn copy_of_the_repository() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    let source = workspace_root();
    copy_dir(&source.join(EXAMPLE), &root.path().join(EXAMPLE));
    std::fs::copy(
        source.join("kfp-gitops.yaml"),
        root.path().join("kfp-gitops.yaml"),
    )
    .expect("copy kfp-gitops.yaml");
    root
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("kfp-gitops")
}

/// A command with a clean environment, `kfp-gitops` first on PATH and the emulator as the API.
fn command(program: impl AsRef<std::ffi::OsStr>, emulator: &Emulator) -> std::process::Command {
    let bin_dir = binary().parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut command = std::process::Command::new(program);
    for var in [
        "KFP_NAMESPACE",
        "KFP_TOKEN",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "DEX_USERNAME",
        "DEX_PASSWORD",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("KFP_API_URL", format!("{}/pipeline", emulator.base_url()));
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The emulator's objects of one kind (`runs`, `jobs`, `experiments`).
fn objects(emulator: &Emulator, kind: &str) -> Vec<Value> {
    match &emulator.state()[kind] {
        Value::Array(items) => items.clone(),
        Value::Object(items) => items.values().cloned().collect(),
        _ => Vec::new(),
    }
}

fn greeting() -> String {
    std::fs::read_to_string(
        workspace_root()
            .join(EXAMPLE)
            .join("RENDERED_PIPELINE/params/greeting"),
    )
    .expect("read the committed greeting")
}

#[test]
fn step_2_run_once_runs_the_committed_render_with_its_params_and_waits_for_it() {
    let emulator =
        Emulator::start(EmulatorConfig::multi_user().with_run_duration(Duration::from_millis(300)))
            .expect("emulator");
    let root = copy_of_the_repository();
    let output = command("sh", &emulator)
        .arg(root.path().join(EXAMPLE).join("run-once.sh"))
        .args(["--namespace", "team-1", "--param", "top_n=3"])
        .args(["--poll-interval", "100ms"])
        .output()
        .expect("run-once.sh runs");
    assert_code(&output, 0);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("created run MANUAL::try-daily-digest__"),
        "{stdout}"
    );
    assert!(stdout.contains("status: Succeeded"), "{stdout}");

    let runs = objects(&emulator, "runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let parameters = runs[0].to_string();
    // The multi-line greeting arrives byte for byte; --param overrides top_n.
    let greeting = serde_json::to_string(&greeting()).expect("json");
    assert!(parameters.contains(&greeting), "{parameters}");
    assert!(
        parameters.contains(r#""name":"top_n","value":"3""#),
        "{parameters}"
    );
}

#[test]
fn step_3_the_schedules_apply_once_and_then_match() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).expect("emulator");
    let root = copy_of_the_repository();
    let kfp_gitops = |args: &[&str]| {
        command(binary(), &emulator)
            .current_dir(root.path())
            .args(args)
            .output()
            .expect("kfp-gitops runs")
    };

    let plan = kfp_gitops(&["plan", "--detailed-exitcode"]);
    assert_code(&plan, 2);
    let stdout = text(&plan.stdout);
    assert!(stdout.contains("namespace team-1"), "{stdout}");
    assert!(stdout.contains("+ experiment \"daily-digest\""), "{stdout}");
    assert!(stdout.contains("+ create GIT::daily-digest__"), "{stdout}");

    assert_code(&kfp_gitops(&["apply"]), 0);
    let jobs = objects(&emulator, "jobs");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = jobs[0].to_string();
    assert!(job.contains("GIT::daily-digest__"), "{job}");
    assert!(job.contains("0 0 7 * * *"), "{job}");
    let greeting = serde_json::to_string(&greeting()).expect("json");
    assert!(job.contains(&greeting), "{job}");
    assert!(job.contains(r#""name":"top_n","value":"10""#), "{job}");

    let again = kfp_gitops(&["plan", "--detailed-exitcode"]);
    assert_code(&again, 0);
    assert!(
        text(&again.stdout).contains("No changes."),
        "{}",
        text(&again.stdout)
    );
}
