//! Inputs that KFP would take but store, compare or run differently from what the config says (issue 15):
//! `kfp-gitops apply` against the emulator refuses each one with exit 1, makes no request, and leaves the
//! KFP state byte-identical.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};

const NAMESPACE: &str = "team-1";

const WORKFLOW: &str = kfp_gitops_tests::fixtures::HELLO_WORKFLOW;

/// One recurring run of `workflow.yaml` named `name`, with the parameter value `value` (YAML).
fn run(name: &str, value: &str) -> String {
    format!(
        r#"  - pipeline_source:
      path: workflow.yaml
    pipeline_parameters:
      - name: msg
        value: {value}
    job:
      enabled: true
      name: {name}
      experiment: nightly-exp
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "0 0 7 * * *"
"#
    )
}

/// The emulator (multi-user) with the config folder's recurring run `nightly` applied: KFP state that a
/// refused apply must leave as it is.
struct Applied {
    emulator: Emulator,
    config: tempfile::TempDir,
}

impl Applied {
    fn new() -> Self {
        let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
        let config = tempfile::tempdir().unwrap();
        std::fs::write(
            config.path().join("experiments.yaml"),
            "experiments:\n  - name: nightly-exp\n",
        )
        .unwrap();
        std::fs::write(config.path().join("workflow.yaml"), WORKFLOW).unwrap();
        let applied = Self { emulator, config };
        applied.write_runs(&run("nightly", "hello"));
        let output = applied.apply(&["--namespace", NAMESPACE]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        applied
    }

    fn path(&self) -> &Path {
        self.config.path()
    }

    fn write_runs(&self, runs: &str) {
        std::fs::write(
            self.path().join("recurring_runs.yaml"),
            format!("recurring_runs:\n{runs}"),
        )
        .unwrap();
    }

    /// `kfp-gitops apply` with `args` (the namespace and, unless given there, `--config` of the folder).
    /// Should it hang (on a FIFO), it is killed and its exit code is that of a signal.
    fn apply(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::cargo_bin("kfp-gitops").unwrap();
        command
            .env_remove("KFP_API_URL")
            .env_remove("KFP_NAMESPACE")
            .env_remove("KFP_TOKEN")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .current_dir(self.path())
            .args(["--api-url", &self.emulator.base_url(), "apply"])
            .args(args);
        if !args.contains(&"--config") {
            command.arg("--config").arg(self.path());
        }
        command.timeout(Duration::from_secs(120)).output().unwrap()
    }

    /// Runs `apply` with `args`, which must be refused with `expected` in its errors, before any request
    /// and with the KFP state unchanged to the byte.
    fn refused(&self, args: &[&str], expected: &str) {
        let before = serde_json::to_string(&self.emulator.state()).unwrap();
        self.emulator.reset_counts();
        let output = self.apply(args);
        let text = text(&output);
        assert_eq!(output.status.code(), Some(1), "{text}");
        assert!(text.contains(expected), "{expected}\n{text}");
        assert_eq!(self.emulator.request_counts(), Default::default(), "{text}");
        let after = serde_json::to_string(&self.emulator.state()).unwrap();
        assert!(before == after, "the KFP state changed\n{text}");
    }
}

fn text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn recurring_runs_whose_names_differ_only_in_case_are_refused() {
    let applied = Applied::new();
    applied.write_runs(&format!(
        "{}{}",
        run("nightly", "hello"),
        run("Nightly", "again")
    ));
    applied.refused(
        &["--namespace", NAMESPACE],
        "job name `Nightly` is the same as `nightly` (at /recurring_runs/0/job/name) to KFP",
    );
}

#[test]
fn namespaces_that_are_no_kubernetes_namespace_names_are_refused() {
    let applied = Applied::new();
    applied.write_runs(&run("nightly", "changed"));
    applied.refused(
        &["--namespace", "team-1/../team-2"],
        "namespace `team-1/../team-2` is not a Kubernetes namespace name: it contains `/`",
    );
    let config = format!("..={}", applied.path().display());
    applied.refused(
        &["--config", &config],
        "namespace `..` is not a Kubernetes namespace name: it contains `.`",
    );
    applied.refused(
        &["--namespace", "Team-1"],
        "namespace `Team-1` is not a Kubernetes namespace name: it contains an uppercase letter",
    );
}

#[cfg(unix)]
#[test]
fn a_pipeline_that_is_a_fifo_is_refused_without_being_opened() {
    let applied = Applied::new();
    applied.write_runs(&run("nightly", "changed"));
    let pipeline = applied.path().join("workflow.yaml");
    std::fs::remove_file(&pipeline).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&pipeline)
        .status()
        .unwrap();
    assert!(status.success());
    applied.refused(
        &["--namespace", NAMESPACE],
        "`workflow.yaml` is a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn every_other_refused_input_leaves_kfp_untouched() {
    let applied = Applied::new();
    let cases = [
        (
            run("nightly__2024-01-02T03-04-05Z", "hello"),
            "contains `__2024-01-02T03-04-05Z`, the timestamp of a version name",
        ),
        (
            run("\"night\\tly\"", "hello"),
            "job name `night\\tly` contains the control character U+0009",
        ),
        (
            run(&"n".repeat(229), "hello"),
            "job name is 229 characters long, but KFP stores at most 228",
        ),
        (
            run("nightly", "{a: 1}"),
            "a parameter value must be a string, number or boolean, found a mapping",
        ),
        (
            run("nightly", "[a, b]"),
            "a parameter value must be a string, number or boolean, found a list",
        ),
    ];
    for (runs, expected) in cases {
        applied.write_runs(&runs);
        applied.refused(&["--namespace", NAMESPACE], expected);
    }
    applied.write_runs(&run("nightly", "changed"));
    std::fs::write(
        applied.path().join("workflow.yaml"),
        WORKFLOW.replacen("  entrypoint: hello\n", "", 1),
    )
    .unwrap();
    applied.refused(
        &["--namespace", NAMESPACE],
        "the workflow's `spec.entrypoint` is missing",
    );
    std::fs::write(
        applied.path().join("workflow.yaml"),
        WORKFLOW.replacen("entrypoint: hello", "entrypoint: goodbye", 1),
    )
    .unwrap();
    applied.refused(
        &["--namespace", NAMESPACE],
        "the workflow's `spec.entrypoint` `goodbye` names no template of `spec.templates` (it has `hello`)",
    );
    let missing = applied.path().join("missing");
    let missing = missing.display().to_string();
    applied.refused(
        &["--namespace", NAMESPACE, "--config", &missing],
        &format!("the config folder `{missing}` does not exist"),
    );
}
