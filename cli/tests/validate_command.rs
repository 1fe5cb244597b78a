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
    let output = kfp_gitops()
        .args(["validate", "-o", "json", "--config"])
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
