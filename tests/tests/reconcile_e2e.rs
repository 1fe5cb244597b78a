//! `kfp-gitops plan` and `apply` end to end: the real binary against the KFP API emulator (multi-user).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, Fault};
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
  labels:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
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
    metadata:
      labels:
        pipelines.kubeflow.org/enable_caching: "true"
  serviceAccountName: pipeline-runner
"#;

/// A config folder for namespace team-1: one experiment, one recurring run `nightly`.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(cron: &str, keep_history: i64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("experiments.yaml"),
            "experiments:\n  - name: nightly-exp\n    description: the nightly experiment\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
        let config = Self { dir };
        config.set(cron, keep_history);
        config
    }

    fn set(&self, cron: &str, keep_history: i64) {
        std::fs::write(
            self.dir.path().join("recurring_runs.yaml"),
            format!(
                r#"recurring_runs:
  - pipeline_source:
      path: workflow.yaml
    pipeline_parameters:
      - name: msg
        value: hello
    keep_history: {keep_history}
    job:
      enabled: true
      name: nightly
      description: ~
      experiment: nightly-exp
      max_concurrency: 1
      service_account: ~
      trigger:
        catchup: false
        cron: "{cron}"
"#
            ),
        )
        .unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn kfp_gitops(emulator: &Emulator, config: &Path) -> Command {
    let mut command = Command::cargo_bin("kfp-gitops").unwrap();
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(config)
        .args(["--api-url", &emulator.base_url(), "--namespace", NAMESPACE]);
    command
}

fn plan(emulator: &Emulator, config: &Config) -> std::process::Output {
    kfp_gitops(emulator, config.path())
        .args(["plan", "--detailed-exitcode", "--config"])
        .arg(config.path())
        .output()
        .unwrap()
}

fn apply(emulator: &Emulator, config: &Config) -> std::process::Output {
    kfp_gitops(emulator, config.path())
        .args(["apply", "--config"])
        .arg(config.path())
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

fn start() -> Emulator {
    Emulator::start(EmulatorConfig::multi_user()).unwrap()
}

/// The managed versions of `nightly` in the emulator: (name, enabled), by name.
fn versions(emulator: &Emulator) -> Vec<(String, bool)> {
    let response = emulator
        .request(
            "GET",
            &format!(
                "/apis/v1beta1/jobs?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"
            ),
            None,
        )
        .unwrap();
    let body = response.json();
    let mut versions: Vec<(String, bool)> = body["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap_or_default().to_owned(),
                job["enabled"].as_bool().unwrap_or(false),
            )
        })
        .filter(|(name, _)| name.starts_with("GIT::nightly__"))
        .collect();
    versions.sort();
    versions
}

fn assert_converged(emulator: &Emulator, config: &Config, label: &str) {
    let output = plan(emulator, config);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{label}: not converged:\n{}",
        text(&output)
    );
    let versions = versions(emulator);
    let enabled = versions.iter().filter(|(_, enabled)| *enabled).count();
    assert_eq!(enabled, 1, "{label}: {versions:?}");
    let mut names: Vec<&String> = versions.iter().map(|(name, _)| name).collect();
    names.dedup();
    assert_eq!(
        names.len(),
        versions.len(),
        "{label}: duplicate versions {versions:?}"
    );
}

#[test]
fn apply_creates_everything_and_a_second_plan_shows_no_changes() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    let first = plan(&emulator, &config);
    assert_eq!(first.status.code(), Some(2), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("+ experiment \"nightly-exp\""), "{stdout}");
    assert!(stdout.contains("+ create GIT::nightly__"), "{stdout}");
    assert!(
        stdout.contains("cron \"0 0 7 * * *\", next (UTC): "),
        "{stdout}"
    );

    let applied = apply(&emulator, &config);
    assert!(applied.status.success(), "{}", text(&applied));
    assert!(
        String::from_utf8_lossy(&applied.stdout).contains("Apply: 3 action(s) done, 0 failed"),
        "{}",
        text(&applied)
    );
    assert_converged(&emulator, &config, "after the first apply");
}

#[test]
fn a_no_op_plan_makes_only_the_listing_requests() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    assert!(apply(&emulator, &config).status.success());
    emulator.reset_counts();
    let output = plan(&emulator, &config);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let counts = emulator.request_counts();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        vec![
            ("GET /apis/v1beta1/experiments".to_owned(), 1),
            ("GET /apis/v1beta1/jobs".to_owned(), 1),
        ]
    );
}

#[test]
fn a_changed_schedule_is_rolled_out_as_a_new_version_with_its_diff() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 0);
    assert!(apply(&emulator, &config).status.success());
    config.set("0 30 6 * * 1-5", 0);
    let output = plan(&emulator, &config);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("~ recurring run \"nightly\": replace with a new version"),
        "{stdout}"
    );
    assert!(
        stdout.contains("trigger.cron: \"0 0 7 * * *\" -> \"0 30 6 * * 1-5\""),
        "{stdout}"
    );
    assert!(stdout.contains("|| disable GIT::nightly__"), "{stdout}");
    assert!(stdout.contains("- delete GIT::nightly__"), "{stdout}");

    let applied = apply(&emulator, &config);
    assert!(applied.status.success(), "{}", text(&applied));
    assert_converged(&emulator, &config, "after the replacement");
    assert_eq!(
        versions(&emulator).len(),
        1,
        "keep_history 0 keeps only the latest"
    );
}

#[test]
fn the_json_plan_is_versioned() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    let output = kfp_gitops(&emulator, config.path())
        .args(["--output", "json", "plan", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["changes"], true);
    assert_eq!(json["plans"][0]["namespace"], NAMESPACE);
    assert_eq!(json["plans"][0]["jobs"][0]["change"], "create");
}

/// Faults at every step of the replacement of `nightly` (create, disable, enable, delete fail; the connection
/// drops after the create was applied): the next apply converges, without duplicates or two enabled versions.
#[test]
fn a_fault_at_any_step_of_an_apply_is_repaired_by_the_next_apply() {
    let faults = [
        (
            "create fails (looked up by name, not found, created again)",
            Fault::status("POST", "/apis/v1beta1/jobs", 500),
            true,
        ),
        (
            "disable fails",
            Fault::status("POST", "/apis/v1beta1/jobs/*/disable", 500),
            false,
        ),
        (
            "enable fails",
            Fault::status("POST", "/apis/v1beta1/jobs/*/enable", 500),
            false,
        ),
        (
            "delete fails",
            Fault::status("DELETE", "/apis/v1beta1/jobs/*", 500),
            false,
        ),
        (
            "connection dropped after the create was applied",
            Fault::drop_connection("POST", "/apis/v1beta1/jobs").after_apply(),
            true,
        ),
    ];
    for (label, fault, first_apply_succeeds) in faults {
        let emulator = start();
        let config = Config::new("0 0 7 * * *", 0);
        assert!(apply(&emulator, &config).status.success(), "{label}: setup");
        config.set("0 30 6 * * *", 0);
        let before_fault = job_ids(&emulator);

        emulator.inject_fault(fault);
        let faulty = apply(&emulator, &config);
        assert_eq!(
            faulty.status.success(),
            first_apply_succeeds,
            "{label}:\n{}",
            text(&faulty)
        );
        let enabled = versions(&emulator)
            .iter()
            .filter(|(_, enabled)| *enabled)
            .count();
        // The recurring run had an enabled version: after the failed apply it has exactly one (a failed
        // enable of the new version enables the old one again).
        assert_eq!(enabled, 1, "{label}: {:?}", versions(&emulator));
        if first_apply_succeeds {
            // Checked before the repair apply, whose keep_history 0 would delete a duplicate and hide it.
            let after_fault = job_ids(&emulator);
            let mut names: Vec<&str> = after_fault.iter().map(|(_, name)| name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                after_fault.len(),
                "{label}: duplicate versions {after_fault:?}"
            );
            let new_versions = after_fault
                .iter()
                .filter(|(id, _)| !before_fault.iter().any(|(old, _)| old == id))
                .count();
            assert_eq!(
                new_versions,
                1,
                "{label}: {before_fault:?} -> {after_fault:?}\n{}",
                text(&faulty)
            );
            if label.starts_with("connection dropped") {
                assert!(
                    String::from_utf8_lossy(&faulty.stdout)
                        .contains("(the answer was lost; found by listing)"),
                    "{label}: the lost create is not reported as adopted:\n{}",
                    text(&faulty)
                );
            }
        }
        emulator.clear_faults();

        let repaired = apply(&emulator, &config);
        assert!(repaired.status.success(), "{label}: {}", text(&repaired));
        assert_converged(&emulator, &config, label);
        assert_eq!(
            versions(&emulator).len(),
            1,
            "{label}: {:?}",
            versions(&emulator)
        );
    }
}

/// `kfp-gitops plan --out` of the config into its folder's `plan.json`, which it returns.
fn save_plan(emulator: &Emulator, config: &Config) -> PathBuf {
    let plan_file = config.path().join("plan.json");
    let saved = kfp_gitops(emulator, config.path())
        .args(["plan", "--config"])
        .arg(config.path())
        .arg("--out")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved));
    plan_file
}

#[test]
fn a_saved_plan_is_applied_exactly_and_refused_once_stale() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    let plan_file = save_plan(&emulator, &config);
    let applied = kfp_gitops(&emulator, config.path())
        .arg("apply")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", text(&applied));
    assert_converged(&emulator, &config, "after applying the saved plan");

    config.set("0 0 8 * * *", 2);
    save_plan(&emulator, &config);
    // Someone disables the recurring run by hand: the saved plan no longer describes KFP.
    let (id, _) = job_ids(&emulator)[0].clone();
    emulator
        .request("POST", &format!("/apis/v1beta1/jobs/{id}/disable"), None)
        .unwrap();
    let before = emulator.state();
    let refused = kfp_gitops(&emulator, config.path())
        .arg("apply")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is stale"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        emulator.state()["jobs"],
        before["jobs"],
        "a stale plan changes nothing"
    );
}

#[test]
fn a_saved_plan_is_refused_against_another_api() {
    // Two empty KFPs look the same, so only the recorded API URL tells them apart.
    let planned_against = start();
    let other = start();
    let config = Config::new("0 0 7 * * *", 2);
    let plan_file = save_plan(&planned_against, &config);
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    assert!(
        saved.contains(&format!("\"api_url\": \"{}\"", planned_against.base_url())),
        "{saved}"
    );
    let refused = kfp_gitops(&other, config.path())
        .arg("apply")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "was made against {}, not {}",
            planned_against.base_url(),
            other.base_url()
        )),
        "{}",
        text(&refused)
    );
    assert!(
        stderr.contains("hint: nothing was changed"),
        "{}",
        text(&refused)
    );
    assert_eq!(other.count("POST /apis/v1beta1/jobs"), 0);
    assert_eq!(other.count("POST /apis/v1beta1/experiments"), 0);
}

#[test]
fn a_saved_plan_refuses_the_options_it_already_fixed() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    let plan_file = save_plan(&emulator, &config);
    let before = emulator.state();

    let config_dir = config.path().display().to_string();
    let refusals: [(&[&str], &str); 5] = [
        (
            &["--prune", "delete"],
            "a saved plan and --prune cannot be combined",
        ),
        (
            &["--allow-empty-prune"],
            "a saved plan and --allow-empty-prune cannot be combined",
        ),
        (
            &["--default-runner-sa", "other-editor"],
            "a saved plan and --default-runner-sa cannot be combined",
        ),
        (
            &["--prune", "disable", "--default-runner-sa", "other-editor"],
            "a saved plan and --prune, --default-runner-sa cannot be combined",
        ),
        (
            &["--config", &config_dir],
            "a saved plan and --config cannot be combined",
        ),
    ];
    for (options, message) in refusals {
        let refused = kfp_gitops(&emulator, config.path())
            .env_remove("KFP_DEFAULT_RUNNER_SA")
            .arg("apply")
            .arg(&plan_file)
            .args(options)
            .output()
            .unwrap();
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{options:?}: {}",
            text(&refused)
        );
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(message), "{options:?}: {}", text(&refused));
        if !options.contains(&"--config") {
            assert!(
                stderr.contains("kfp-gitops plan --out FILE"),
                "{options:?}: no hint to plan again: {}",
                text(&refused)
            );
        }
        assert_eq!(
            emulator.state()["jobs"],
            before["jobs"],
            "{options:?}: a refused apply changes nothing"
        );
    }

    // The default runner service account set in the environment (as CI does for `plan` and `apply`
    // alike) is no request to change the plan: the plan is applied.
    let applied = kfp_gitops(&emulator, config.path())
        .env("KFP_DEFAULT_RUNNER_SA", "other-editor")
        .arg("apply")
        .arg(&plan_file)
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", text(&applied));
    assert_converged(&emulator, &config, "after applying the saved plan");
}

/// (id, name) of every job in the namespace.
fn job_ids(emulator: &Emulator) -> Vec<(String, String)> {
    let response = emulator
        .request(
            "GET",
            &format!("/apis/v1beta1/jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"),
            None,
        )
        .unwrap();
    response.json()["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|job| {
            (
                job["id"].as_str().unwrap_or_default().to_owned(),
                job["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A pipeline with three inputs, for the parameters the SDK sends: a plain one, an empty one, a multi-line
/// one. Written by hand, with plain scalars that PyYAML's `safe_load` (YAML 1.1) reads differently from
/// YAML 1.2, and non-ASCII text, which `json.dumps` escapes.
const PARAMS_WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: report-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '2024-01-02T03:04:05.123456'
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "msg", "type": "String"}, {"name": "blank", "type": "String"}, {"name": "notes", "type": "String"}], "name": "report"}'
spec:
  entrypoint: report
  arguments:
    parameters:
    - name: msg
    - name: blank
    - name: notes
  suspend: no
  activeDeadlineSeconds: 1_800
  ttlStrategy:
    secondsAfterCompletion: 1:00:00
  templates:
  - name: report
    retryStrategy:
      limit: 0x3
    inputs:
      parameters:
      - name: msg
      - name: blank
      - name: notes
    container:
      image: alpine:3.19
      command: [echo, 'café ☕ 😀', '{{inputs.parameters.msg}}', '{{inputs.parameters.blank}}', '{{inputs.parameters.notes}}']
      env:
      - name: VERBOSE
        value: on
      - name: VERSION
        value: 1.8.22
      resources:
        limits:
          cpu: .5
          memory: 1e3
  serviceAccountName: pipeline-runner
"#;

/// The config of the jobs the SDK creates below; `{windowed_end}` is the end date of `windowed`.
const SDK_RECURRING_RUNS: &str = r#"recurring_runs:
  - pipeline_source: {path: workflow.yaml}
    pipeline_parameters: [{name: msg, value: hello}]
    job:
      enabled: true
      name: nightly
      experiment: nightly-exp
      max_concurrency: 1
      trigger: {catchup: false, cron: "0 0 7 * * *"}
  - pipeline_source: {path: workflow.yaml}
    pipeline_parameters: [{name: msg, value: hello}]
    job:
      enabled: true
      name: windowed
      experiment: nightly-exp
      max_concurrency: 2
      trigger:
        catchup: true
        start_date: 2024-03-01 08:00:00
        end_date: "{windowed_end}"
        cron: "0 15 * * * *"
  - pipeline_source: {path: workflow.yaml}
    pipeline_parameters: [{name: msg, value: hello}]
    job:
      enabled: true
      name: hourly
      experiment: nightly-exp
      max_concurrency: 1
      trigger:
        catchup: true
        start_date: 2024-03-01 08:00:00.250
        interval_seconds: 3600
  - pipeline_source: {path: workflow.yaml}
    pipeline_parameters: [{name: msg, value: hello}]
    job:
      enabled: false
      name: etl
      description: loads the warehouse
      experiment: nightly-exp
      max_concurrency: 3
      service_account: etl-runner
      trigger: {catchup: false, cron: "0 0 */2 * * *"}
  - pipeline_source: {path: params.yaml}
    pipeline_parameters:
      - name: msg
        value: hello
      - name: blank
        value: ""
      - name: notes
        value: |
          first line
          second line: "quoted", # not a comment
    job:
      enabled: true
      name: report
      experiment: nightly-exp
      max_concurrency: 1
      trigger: {catchup: false, cron: "0 0 6 * * 1-5"}
"#;

/// Jobs created the way the reference scripts create them — through the official kfp 1.8.22 SDK, with the
/// manifest as `json.dumps(yaml.safe_load(file))` — are seen as up to date: cron and interval triggers, start
/// and end times, catchup both ways, a service account, a description, a disabled job, and empty and
/// multi-line parameters. Changing one field of the config then replaces exactly that job.
#[test]
fn versions_created_by_the_reference_scripts_through_the_sdk_are_up_to_date() {
    let python = kfp_gitops_tests::python::python().expect("the project venv with kfp==1.8.22");
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    std::fs::write(config.path().join("params.yaml"), PARAMS_WORKFLOW).unwrap();
    let write_runs = |windowed_end: &str| {
        std::fs::write(
            config.path().join("recurring_runs.yaml"),
            SDK_RECURRING_RUNS.replace("{windowed_end}", windowed_end),
        )
        .unwrap();
    };
    write_runs("2030-06-30T18:30:00+02:00");
    // The reference scripts turn YAML timestamps into `isoformat()` strings, a timestamp without zone as UTC
    // (`2024-03-01 08:00:00` -> `2024-03-01T08:00:00+00:00`), and pass quoted strings through. A job without
    // a service account gets `--kfp-default-runner-sa` (default-editor); `nightly` sends none at all, as
    // other SDK users do. Versions are created disabled and enabled afterwards, as the scripts do.
    let script = r#"
import sys, warnings
warnings.simplefilter("ignore")
import kfp
host, namespace, workflow, params_workflow = sys.argv[1:5]
client = kfp.Client(host=host, namespace=namespace)
experiment = client.create_experiment(name="nightly-exp", description="the nightly experiment", namespace=namespace)

def create(name, enabled=True, package=workflow, params={"msg": "hello"}, **fields):
    job = client.create_recurring_run(
        experiment_id=experiment.id,
        job_name="GIT::" + name + "__2024-01-02T03-04-05Z",
        params=params,
        pipeline_package_path=package,
        enabled=False,
        **fields,
    )
    if enabled:
        client._job_api.enable_job(id=job.id)

create("nightly", description=None, cron_expression="0 0 7 * * *", max_concurrency=1, no_catchup=True,
       service_account=None)
create("windowed", description=None, start_time="2024-03-01T08:00:00+00:00",
       end_time="2030-06-30T18:30:00+02:00", cron_expression="0 15 * * * *", max_concurrency=2,
       no_catchup=False, service_account="default-editor")
create("hourly", description=None, start_time="2024-03-01T08:00:00.250000+00:00", interval_second=3600,
       max_concurrency=1, no_catchup=False, service_account="default-editor")
create("etl", enabled=False, description="loads the warehouse", cron_expression="0 0 */2 * * *",
       max_concurrency=3, no_catchup=True, service_account="etl-runner")
create("report", package=params_workflow, description=None, cron_expression="0 0 6 * * 1-5",
       max_concurrency=1, no_catchup=True, service_account="default-editor",
       params={"msg": "hello", "blank": "",
               "notes": 'first line\nsecond line: "quoted", # not a comment\n'})
"#;
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(format!("{}/pipeline", emulator.base_url()))
        .arg(NAMESPACE)
        .arg(config.path().join("workflow.yaml"))
        .arg(config.path().join("params.yaml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(job_ids(&emulator).len(), 5, "the SDK created the five jobs");

    let json_plan = || {
        let output = kfp_gitops(&emulator, config.path())
            .args(["--output", "json", "plan", "--config"])
            .arg(config.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let planned = plan(&emulator, &config);
    assert_eq!(
        planned.status.code(),
        Some(0),
        "{}\n{:#}",
        text(&planned),
        json_plan()["plans"][0]["jobs"]
    );
    assert!(
        String::from_utf8_lossy(&planned.stdout).contains("No changes."),
        "{}",
        text(&planned)
    );

    // The same instant with another offset is no change; one hour later is.
    write_runs("2030-06-30T16:30:00Z");
    let planned = plan(&emulator, &config);
    assert_eq!(planned.status.code(), Some(0), "{}", text(&planned));
    write_runs("2030-06-30T19:30:00+02:00");
    let json = json_plan();
    let jobs = json["plans"][0]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:#?}");
    assert_eq!(jobs[0]["name"], "windowed");
    assert_eq!(jobs[0]["change"], "replace");
    assert_eq!(
        json["plans"][0]["unchanged"],
        serde_json::json!(["nightly", "hourly", "etl", "report"])
    );
    let diffs: Vec<&str> = jobs[0]["diffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|diff| diff["field"].as_str().unwrap())
        .collect();
    assert_eq!(diffs, ["trigger.end_date"], "{:#}", jobs[0]["diffs"]);
}

#[test]
fn a_changed_workflow_is_shown_as_a_unified_diff() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    assert!(apply(&emulator, &config).status.success());
    std::fs::write(
        config.path().join("workflow.yaml"),
        WORKFLOW.replace("alpine:3.19", "alpine:3.20"),
    )
    .unwrap();
    let output = plan(&emulator, &config);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("      workflow:\n"), "{stdout}");
    assert!(stdout.contains("+++ config"), "{stdout}");
    assert!(
        stdout.contains("-") && stdout.contains("image: alpine:3.19"),
        "{stdout}"
    );
    assert!(stdout.contains("image: alpine:3.20"), "{stdout}");

    // `apply` without a saved plan shows the same diff before applying it.
    let applied = apply(&emulator, &config);
    assert!(applied.status.success(), "{}", text(&applied));
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(stdout.contains("+++ config"), "{stdout}");
    let diff_line = |sign: char, text: &str| {
        stdout
            .lines()
            .any(|line| line.trim_start().starts_with(sign) && line.contains(text))
    };
    assert!(diff_line('-', "image: alpine:3.19"), "{stdout}");
    assert!(diff_line('+', "image: alpine:3.20"), "{stdout}");
}

#[test]
fn several_namespaces_are_planned_and_applied_together() {
    let emulator = start();
    let one = Config::new("0 0 7 * * *", 2);
    let two = Config::new("0 0 8 * * *", 2);
    let run = |command: &str| {
        let mut cmd = Command::cargo_bin("kfp-gitops").unwrap();
        cmd.env_remove("KFP_API_URL")
            .env_remove("KFP_NAMESPACE")
            .env("NO_COLOR", "1")
            .current_dir(one.path())
            .args(["--api-url", &emulator.base_url(), command])
            .arg("--config")
            .arg(format!("team-1={}", one.path().display()))
            .arg("--config")
            .arg(format!("team-2={}", two.path().display()));
        cmd.output().unwrap()
    };
    let applied = run("apply");
    assert!(applied.status.success(), "{}", text(&applied));
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        stdout.contains("namespace team-1") && stdout.contains("namespace team-2"),
        "{stdout}"
    );
    let again = run("plan");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("No changes."),
        "{}",
        text(&again)
    );
}

#[test]
fn removed_recurring_runs_are_reported_and_pruned_only_when_asked() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 2);
    assert!(apply(&emulator, &config).status.success());
    // The config now declares no recurring run at all.
    std::fs::write(
        config.path().join("recurring_runs.yaml"),
        "recurring_runs: []\n",
    )
    .unwrap();

    // Still enabled, it still fires: a pending change, whatever prunes it.
    let reported = plan(&emulator, &config);
    assert_eq!(reported.status.code(), Some(2), "{}", text(&reported));
    assert!(
        String::from_utf8_lossy(&reported.stdout)
            .contains("! nightly  ENABLED, not in the config: still fires (cron 0 0 7 * * *)"),
        "{}",
        text(&reported)
    );

    let refused = kfp_gitops(&emulator, config.path())
        .args(["apply", "--prune=delete", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    assert!(refused.status.success(), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("--allow-empty-prune"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        versions(&emulator).len(),
        1,
        "nothing pruned without --allow-empty-prune"
    );

    let pruned = kfp_gitops(&emulator, config.path())
        .args(["apply", "--prune=delete", "--allow-empty-prune", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    assert!(pruned.status.success(), "{}", text(&pruned));
    assert!(versions(&emulator).is_empty(), "{:?}", versions(&emulator));
}

/// The config of namespace team-1 with `nightly` and `weekly`, or (with `weekly_only`) `weekly` alone.
fn two_jobs(config: &Config, weekly_only: bool) {
    let job = |name: &str, cron: &str| {
        format!(
            "  - pipeline_source:\n      path: workflow.yaml\n    keep_history: 1\n    job:\n      enabled: true\n      \
             name: {name}\n      experiment: nightly-exp\n      max_concurrency: 1\n      trigger:\n        \
             catchup: false\n        cron: \"{cron}\"\n"
        )
    };
    let mut runs = String::from("recurring_runs:\n");
    if !weekly_only {
        runs.push_str(&job("nightly", "0 0 7 * * *"));
    }
    runs.push_str(&job("weekly", "0 0 7 * * 1"));
    std::fs::write(config.path().join("recurring_runs.yaml"), runs).unwrap();
}

#[test]
fn an_enabled_leftover_is_out_of_sync_and_the_project_file_can_pause_it() {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 1);
    two_jobs(&config, false);
    assert!(apply(&emulator, &config).status.success());
    two_jobs(&config, true);

    let enabled = plan(&emulator, &config);
    assert_eq!(enabled.status.code(), Some(2), "{}", text(&enabled));
    let stdout = String::from_utf8_lossy(&enabled.stdout);
    assert!(
        stdout.contains("! nightly  ENABLED, not in the config: still fires (cron 0 0 7 * * *)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Out of sync: 1 recurring run(s)"),
        "{stdout}"
    );
    let json = kfp_gitops(&emulator, config.path())
        .args(["--output", "json", "plan", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["changes"], true);
    assert_eq!(json["plans"][0]["leftovers"][0]["name"], "nightly");
    assert_eq!(json["plans"][0]["leftovers"][0]["enabled"], true);

    // The namespace's prune policy in the project file: `apply` pauses the leftover with no flag.
    std::fs::write(
        config.path().join("kfp-gitops.yaml"),
        format!("namespaces:\n  - {{namespace: {NAMESPACE}, config: ., prune: disable}}\n"),
    )
    .unwrap();
    let pruned = apply(&emulator, &config);
    assert!(pruned.status.success(), "{}", text(&pruned));
    let nightly = versions(&emulator);
    assert_eq!(nightly.len(), 1, "{nightly:?}");
    assert!(!nightly[0].1, "paused, not deleted: {nightly:?}");

    // A paused leftover is listed, and is no pending change.
    let paused = plan(&emulator, &config);
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    assert!(
        String::from_utf8_lossy(&paused.stdout).contains(
            "! nightly  paused, not in the config; left alone (--prune=delete removes it)"
        ),
        "{}",
        text(&paused)
    );
}

/// Every cell of create/disable/enable/delete × 503/500/429/dropped connection × before/after the server
/// acted × once/always: after the faulty apply the recurring run has exactly one enabled version (unless
/// every enable fails, when none can be enabled) and no duplicate; the next apply converges.
#[test]
fn the_fault_matrix_converges_in_every_cell() {
    let calls = [
        ("create", "POST", "/apis/v1beta1/jobs"),
        ("disable", "POST", "/apis/v1beta1/jobs/*/disable"),
        ("enable", "POST", "/apis/v1beta1/jobs/*/enable"),
        ("delete", "DELETE", "/apis/v1beta1/jobs/*"),
    ];
    let mut cells = Vec::new();
    for (call, method, path) in calls {
        for failure in ["503", "500", "429", "drop"] {
            for after_apply in [false, true] {
                for always in [false, true] {
                    let mut fault = if failure == "drop" {
                        Fault::drop_connection(method, path)
                    } else {
                        Fault::status(method, path, failure.parse().unwrap())
                    };
                    fault.after_apply = after_apply;
                    fault.times = u64::from(!always);
                    let label = format!(
                        "{call} {failure} {} {}",
                        if after_apply { "after" } else { "before" },
                        if always { "always" } else { "once" }
                    );
                    cells.push((label, fault, call == "enable" && always));
                }
            }
        }
    }
    // Cells are independent (an emulator each): four at a time.
    let chunks: Vec<Vec<(String, Fault, bool)>> = cells.chunks(16).map(<[_]>::to_vec).collect();
    std::thread::scope(|threads| {
        for chunk in &chunks {
            threads.spawn(move || {
                for (label, fault, nothing_can_be_enabled) in chunk {
                    fault_cell(label, fault.clone(), *nothing_can_be_enabled);
                }
            });
        }
    });
}

fn fault_cell(label: &str, fault: Fault, nothing_can_be_enabled: bool) {
    let emulator = start();
    let config = Config::new("0 0 7 * * *", 0);
    assert!(apply(&emulator, &config).status.success(), "{label}: setup");
    config.set("0 30 6 * * *", 0);
    emulator.inject_fault(fault);
    let faulty = apply(&emulator, &config);
    let after_fault = versions(&emulator);
    let enabled = after_fault.iter().filter(|(_, enabled)| *enabled).count();
    if nothing_can_be_enabled {
        assert!(enabled <= 1, "{label}: {after_fault:?}\n{}", text(&faulty));
    } else {
        assert_eq!(enabled, 1, "{label}: {after_fault:?}\n{}", text(&faulty));
    }
    let mut names: Vec<&String> = after_fault.iter().map(|(name, _)| name).collect();
    names.dedup();
    assert_eq!(
        names.len(),
        after_fault.len(),
        "{label}: duplicate versions {after_fault:?}\n{}",
        text(&faulty)
    );
    emulator.clear_faults();
    let repaired = apply(&emulator, &config);
    assert!(repaired.status.success(), "{label}: {}", text(&repaired));
    assert_converged(&emulator, &config, label);
    let versions = versions(&emulator);
    assert_eq!(versions.len(), 1, "{label}: {versions:?}");
    assert!(
        versions[0].1,
        "{label}: the newest version runs: {versions:?}"
    );
}

/// Two `apply` processes with the same change, started 0 to 0.475 s apart against an API with latency,
/// twenty times: the namespace lock makes one wait for the other, so no sampled instant shows two
/// enabled versions or two versions with one name, and the one that waited says for whom.
#[test]
fn two_concurrent_applies_of_one_change_never_overlap() {
    let mut waited = 0;
    for trial in 0..20u64 {
        let emulator = start();
        let config = Config::new("0 0 7 * * *", 2);
        assert!(apply(&emulator, &config).status.success(), "setup");
        config.set("0 30 6 * * *", 2);
        emulator.set_latency(std::time::Duration::from_millis(15));
        let stagger = std::time::Duration::from_millis(trial * 25);
        let spawn = || {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
                .env_remove("KFP_API_URL")
                .env_remove("KFP_NAMESPACE")
                .env_remove("KFP_TOKEN")
                .env_remove("RUST_LOG")
                .env("NO_COLOR", "1")
                .current_dir(config.path())
                .args(["--api-url", &emulator.base_url(), "--namespace", NAMESPACE])
                .args(["apply", "--config"])
                .arg(config.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let done = std::sync::atomic::AtomicBool::new(false);
        let (outputs, violations) = std::thread::scope(|threads| {
            let sampler = threads.spawn(|| {
                let mut violations = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let sample = versions(&emulator);
                    let enabled = sample.iter().filter(|(_, enabled)| *enabled).count();
                    let mut names: Vec<&String> = sample.iter().map(|(name, _)| name).collect();
                    names.dedup();
                    if enabled > 1 || names.len() != sample.len() {
                        violations.push(sample.clone());
                    }
                }
                violations
            });
            let first = spawn();
            std::thread::sleep(stagger);
            let second = spawn();
            let outputs = [
                first.wait_with_output().unwrap(),
                second.wait_with_output().unwrap(),
            ];
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (outputs, sampler.join().unwrap())
        });
        let label = format!("trial {trial} (stagger {stagger:?})");
        assert!(violations.is_empty(), "{label}: {violations:?}");
        for output in &outputs {
            assert!(output.status.success(), "{label}: {}", text(output));
        }
        waited += outputs
            .iter()
            .filter(|output| {
                String::from_utf8_lossy(&output.stderr).contains(
                    "waiting: namespace team-1 is being reconciled by another kfp-gitops (",
                )
            })
            .count();
        emulator.set_latency(std::time::Duration::ZERO);
        assert_converged(&emulator, &config, &label);
    }
    assert!(
        waited > 0,
        "no apply ever had to wait: the trials did not overlap"
    );
}
