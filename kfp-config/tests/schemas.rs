//! The JSON Schemas committed under `schemas/` are exactly what the code generates
//! (regenerate with `kfp-gitops schema --out schemas`).

use std::path::Path;

#[test]
fn the_committed_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    if std::env::var_os("KFP_GITOPS_WRITE_SCHEMAS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for schema in kfp_config::schemas() {
            std::fs::write(dir.join(schema.file_name), &schema.content).unwrap();
        }
    }
    for schema in kfp_config::schemas() {
        let committed = std::fs::read_to_string(dir.join(schema.file_name)).unwrap_or_else(|err| {
            panic!(
                "schemas/{}: {err}; run `kfp-gitops schema --out schemas`",
                schema.file_name
            )
        });
        assert!(
            committed == schema.content,
            "schemas/{} is stale; run `kfp-gitops schema --out schemas`",
            schema.file_name
        );
    }
}

/// Every `# yaml-language-server: $schema=` line in the repository's example configs and project file
/// points at the committed schema for that kind of file.
#[test]
fn example_configs_point_to_their_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        (
            "examples/daily-digest/schedules/team-1/experiments.yaml",
            "experiments.schema.json",
        ),
        (
            "examples/daily-digest/schedules/team-1/recurring_runs.yaml",
            "recurring_runs.schema.json",
        ),
        ("kfp-gitops.yaml", "kfp-gitops.schema.json"),
    ];
    for (file, schema) in files {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let target = text
            .lines()
            .find_map(|line| line.strip_prefix("# yaml-language-server: $schema="))
            .unwrap_or_else(|| panic!("{file} has no yaml-language-server line"));
        let resolved = path.parent().unwrap().join(target.trim());
        assert!(
            resolved.ends_with(format!("schemas/{schema}")),
            "{file} points to {target}"
        );
        assert!(
            resolved.is_file(),
            "{file}: {} does not exist",
            resolved.display()
        );
    }
}

/// The schema's `~` branches (see `kfp_config::schema`) describe files the loader accepts: `~` is an
/// absent key, so it does not pick the other side of an exclusive choice.
#[test]
fn null_keys_beside_an_exclusive_choice_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let namespace = dir.path().join("team-1");
    std::fs::create_dir_all(namespace.join("pipelines")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
        namespace.join("pipelines/workflow.yaml"),
    )
    .unwrap();
    std::fs::write(namespace.join("message.txt"), "from a file").unwrap();
    std::fs::write(
        namespace.join("experiments.yaml"),
        "experiments:\n  - name: e\n    description: ~\n",
    )
    .unwrap();
    std::fs::write(
        namespace.join("recurring_runs.yaml"),
        r#"recurring_runs:
  - pipeline_source:
      path: pipelines/workflow.yaml
      github_owner: ~
      rendered_pipeline: ~
    pipeline_parameters:
      - name: custom_message
        value: ~
        valueFrom:
          path: message.txt
          file_path: ~
          git_url: ~
    keep_history: ~
    job:
      enabled: true
      name: hourly
      experiment: e
      max_concurrency: 1
      trigger:
        catchup: false
        cron: ~
        interval_seconds: 3600
  - pipeline_source:
      path: pipelines/workflow.yaml
    pipeline_parameters:
      - name: custom_message
        value: literal
        valueFrom: ~
    job:
      enabled: true
      name: daily
      experiment: e
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "0 0 0 * * *"
        interval_seconds: ~
"#,
    )
    .unwrap();
    let validation = kfp_config::validate_namespace(
        &namespace,
        &kfp_config::LoadOptions {
            offline: true,
            ..kfp_config::LoadOptions::default()
        },
    );
    assert_eq!(validation.problems, Vec::new());
    let desired = validation.desired.expect("the namespace loads");
    let runs = &desired.recurring_runs;
    assert_eq!(
        runs[0].trigger.schedule,
        kfp_config::Schedule::Interval(3600)
    );
    assert_eq!(
        runs[0].parameters,
        [("custom_message".to_owned(), "from a file".to_owned())]
    );
    assert_eq!(runs[0].keep_history, kfp_config::DEFAULT_KEEP_HISTORY);
    assert_eq!(
        runs[1].parameters,
        [("custom_message".to_owned(), "literal".to_owned())]
    );
}
