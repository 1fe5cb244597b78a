//! Recurring runs that use the same pipeline file: one pipeline value shared by all of them, and every
//! problem of the file still reported for each run that uses it.

use std::path::Path;
use std::sync::Arc;

use kfp_config::{LoadOptions, Workflow, validate_namespace};

const EXPERIMENTS: &str = "experiments:\n  - name: exp\n";

fn seed_workflow() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
    )
    .unwrap()
}

/// A recurring run named `name` whose pipeline is the local file `path`.
fn run(name: &str, path: &str) -> String {
    format!(
        r#"  - pipeline_source:
      path: "{path}"
    pipeline_parameters:
      - name: custom_message
        value: "hello from {name}"
    keep_history: 5
    job:
      enabled: true
      name: "{name}"
      experiment: "exp"
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "0 0 0 * * *"
"#
    )
}

/// A repository root with namespace `team-1/`: `runs` as `(job name, pipeline path)` and `pipelines` as
/// `(path, content)` under the namespace folder.
fn repo(runs: &[(&str, &str)], pipelines: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let namespace = dir.path().join("team-1");
    std::fs::create_dir_all(namespace.join("pipelines")).unwrap();
    std::fs::write(namespace.join("experiments.yaml"), EXPERIMENTS).unwrap();
    let mut text = "recurring_runs:\n".to_owned();
    for (name, path) in runs {
        text.push_str(&run(name, path));
    }
    std::fs::write(namespace.join("recurring_runs.yaml"), text).unwrap();
    for (path, content) in pipelines {
        std::fs::write(namespace.join(path), content).unwrap();
    }
    dir
}

fn messages(dir: &Path) -> Vec<String> {
    let validation = validate_namespace(&dir.join("team-1"), &LoadOptions::default());
    assert!(validation.desired.is_none(), "the case must be invalid");
    validation
        .problems
        .iter()
        .map(|problem| format!("{} {}", problem.pointer, problem.message))
        .collect()
}

#[test]
fn runs_with_the_same_pipeline_file_share_one_pipeline_with_the_files_digest_and_manifest() {
    let other = seed_workflow().replacen("image: python:3.10", "image: python:3.11", 1);
    assert!(other != seed_workflow(), "the second pipeline must differ");
    let dir = repo(
        &[
            ("a", "pipelines/one.yaml"),
            ("b", "pipelines/two.yaml"),
            ("c", "pipelines/one.yaml"),
        ],
        &[
            ("pipelines/one.yaml", seed_workflow()),
            ("pipelines/two.yaml", other.clone()),
        ],
    );
    let validation = validate_namespace(&dir.path().join("team-1"), &LoadOptions::default());
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    let runs = validation.desired.unwrap().recurring_runs;
    let names: Vec<&str> = runs.iter().map(|run| run.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(Arc::ptr_eq(&runs[0].pipeline, &runs[2].pipeline));
    assert!(!Arc::ptr_eq(&runs[0].pipeline, &runs[1].pipeline));
    for (run, text) in [(&runs[0], seed_workflow()), (&runs[1], other)] {
        let workflow = Workflow::parse_yaml(&text).unwrap();
        assert_eq!(run.pipeline.digest(), &workflow.digest(), "{}", run.name);
        assert_eq!(
            run.pipeline.manifest(),
            workflow.to_manifest_json(),
            "{}",
            run.name
        );
    }
    assert_ne!(runs[0].pipeline.digest(), runs[1].pipeline.digest());
    // Parameters stay per run.
    assert_eq!(
        runs[2].parameters,
        [("custom_message".to_owned(), "hello from c".to_owned())]
    );
}

#[test]
fn an_unusable_pipeline_is_reported_for_every_run_that_uses_it() {
    let dir = repo(
        &[
            ("a", "pipelines/bad.yaml"),
            ("b", "pipelines/good.yaml"),
            ("c", "pipelines/bad.yaml"),
        ],
        &[
            (
                "pipelines/bad.yaml",
                seed_workflow().replacen("kind: Workflow", "kind: CronWorkflow", 1),
            ),
            ("pipelines/good.yaml", seed_workflow()),
        ],
    );
    let problem = |index: usize, name: &str| {
        format!(
            "/recurring_runs/{index}/pipeline_source recurring run `{name}`: the pipeline \
             `pipelines/bad.yaml` is not usable: the workflow's kind must be `Workflow`, found \
             `CronWorkflow`"
        )
    };
    assert_eq!(messages(dir.path()), [problem(0, "a"), problem(2, "c")]);
}

#[test]
fn a_missing_pipeline_is_reported_for_every_run_that_uses_it() {
    let dir = repo(
        &[("a", "pipelines/gone.yaml"), ("b", "pipelines/gone.yaml")],
        &[],
    );
    let found = messages(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    for (index, name) in ["a", "b"].iter().enumerate() {
        let prefix = format!(
            "/recurring_runs/{index}/pipeline_source recurring run `{name}`: cannot get the pipeline \
             `pipelines/gone.yaml`: "
        );
        assert!(found[index].starts_with(&prefix), "{found:?}");
    }
}

#[test]
fn a_parameter_the_shared_pipeline_does_not_declare_is_reported_only_for_the_run_that_sets_it() {
    let dir = repo(
        &[("a", "pipelines/one.yaml"), ("b", "pipelines/one.yaml")],
        &[("pipelines/one.yaml", seed_workflow())],
    );
    let path = dir.path().join("team-1/recurring_runs.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = "        value: \"hello from b\"\n";
    let text = text.replacen(
        marker,
        &format!("{marker}      - name: extra\n        value: \"x\"\n"),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let found = messages(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "/recurring_runs/1/pipeline_parameters/1 recurring run `b` sets parameter `extra`, \
             which the pipeline `pipelines/one.yaml` does not declare"
        ),
        "{found:?}"
    );
}
