//! A rendered pipeline folder is read by one rule everywhere: a hidden file in `params/` (a `.gitkeep`)
//! is no parameter for `render`, `validate`, `plan` or `run`.

use std::path::Path;
use std::process::{Command, Output};

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "message", "type": "String"}], "name": "hello"}'
spec:
  entrypoint: hello
  arguments:
    parameters:
    - {name: message}
  serviceAccountName: pipeline-runner
  templates:
  - name: hello
    container:
      image: alpine:3.18
      command: [echo, '{{inputs.parameters.message}}']
    inputs:
      parameters:
      - {name: message}
"#;

/// The binary with a clean environment, run in `dir`.
fn kfp_gitops(dir: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
    for var in [
        "KFP_API_URL",
        "KFP_NAMESPACE",
        "KFP_TOKEN",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "DEX_USERNAME",
        "DEX_PASSWORD",
        "DEX_AUTH_TYPE",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command.env("NO_COLOR", "1").current_dir(dir);
    command
}

fn check(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        !stdout.contains("gitkeep") && !stderr.contains("gitkeep"),
        "{what} treated .gitkeep as a parameter:\n{stdout}\n{stderr}"
    );
    stdout
}

/// A repository with a render command writing `workflow.yaml`, `params/message` and `params/.gitkeep`, and
/// a config folder whose recurring run uses the rendered folder.
fn repository(dir: &Path) {
    let script = format!(
        "set -e\nout=\"$1\"\ncat > \"$out/workflow.yaml\" <<'EOF'\n{WORKFLOW}EOF\nmkdir -p \"$out/params\"\n\
         printf '%s' 'hello' > \"$out/params/message\"\n: > \"$out/params/.gitkeep\"\n"
    );
    std::fs::write(dir.join("render.sh"), script).unwrap();
    std::fs::write(
        dir.join("kfp-gitops.yaml"),
        "namespaces:\n  - namespace: team-1\n    config: schedules/team-1\n",
    )
    .unwrap();
    let config = dir.join("schedules/team-1");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("experiments.yaml"),
        "experiments:\n  - name: nightly\n    description: scheduled from git\n",
    )
    .unwrap();
    std::fs::write(
        config.join("recurring_runs.yaml"),
        "recurring_runs:\n  - pipeline_source:\n      rendered_pipeline: ../../RENDERED_PIPELINE\n    \
         keep_history: 1\n    job:\n      enabled: true\n      name: hello\n      experiment: nightly\n      \
         max_concurrency: 1\n      trigger:\n        catchup: false\n        cron: \"0 0 3 * * *\"\n",
    )
    .unwrap();
}

#[test]
fn a_gitkeep_in_params_is_no_parameter_for_render_validate_plan_or_run() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let api_url = format!("{}/pipeline", emulator.base_url());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    repository(root);

    let render = [
        "render",
        "--workdir",
        ".",
        "--",
        "sh",
        "render.sh",
        "{output}",
    ];
    check(&kfp_gitops(root).args(render).output().unwrap(), "render");
    assert!(root.join("RENDERED_PIPELINE/params/.gitkeep").is_file());
    let mut render_check = vec!["render", "--check"];
    render_check.extend_from_slice(&render[1..]);
    check(
        &kfp_gitops(root).args(&render_check).output().unwrap(),
        "render --check",
    );

    check(
        &kfp_gitops(root).arg("validate").output().unwrap(),
        "validate",
    );
    let plan = check(
        &kfp_gitops(root)
            .args(["--api-url", &api_url, "-o", "json", "plan"])
            .output()
            .unwrap(),
        "plan",
    );
    let plan: Value = serde_json::from_str(&plan).unwrap();
    assert!(plan.to_string().contains("\"message\""), "{plan}");

    check(
        &kfp_gitops(root)
            .args([
                "--api-url",
                &api_url,
                "run",
                "--pipeline-folder",
                "RENDERED_PIPELINE",
            ])
            .args([
                "--experiment",
                "smoke tests",
                "--create-experiment",
                "-n",
                "team-1",
            ])
            .output()
            .unwrap(),
        "run",
    );
    let state = emulator.state();
    let runs: Vec<Value> = match &state["runs"] {
        Value::Array(runs) => runs.clone(),
        Value::Object(runs) => runs.values().cloned().collect(),
        _ => Vec::new(),
    };
    assert_eq!(runs.len(), 1, "{runs:?}");
    let text = runs[0].to_string();
    assert!(
        text.contains("message") && !text.contains("gitkeep"),
        "{text}"
    );
}
