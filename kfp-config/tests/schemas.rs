//! The JSON Schemas committed under `schemas/` are exactly what the code generates
//! (regenerate with `kfp-gitops schema --out schemas`).

use std::path::Path;

#[test]
fn the_committed_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    if std::env::var_os("KFP_GITOPS_WRITE_SCHEMAS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for schema in kfp_config::schema::schemas() {
            std::fs::write(dir.join(schema.file_name), &schema.content).unwrap();
        }
    }
    for schema in kfp_config::schema::schemas() {
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
