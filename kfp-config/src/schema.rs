//! JSON Schemas of the configuration files, for editors (`# yaml-language-server: $schema=...`) and CI.
//! The committed copies under `schemas/` are written by `kfp-gitops schema` and tested to match.

use crate::model::{ExperimentsFile, RecurringRunsFile};
use crate::project::ProjectFile;

/// One schema file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// The file name (`recurring_runs.schema.json`).
    pub file_name: &'static str,
    /// Pretty-printed JSON with a final newline.
    pub content: String,
}

/// Where the schemas are published, as their `$id` base.
pub const SCHEMA_BASE_URL: &str =
    "https://raw.githubusercontent.com/kfp-gitops/kfp-gitops/main/schemas/";

fn render<T: schemars::JsonSchema>(file_name: &'static str) -> SchemaFile {
    let mut schema = schemars::schema_for!(T);
    schema.insert(
        "$id".to_owned(),
        format!("{SCHEMA_BASE_URL}{file_name}").into(),
    );
    let mut content = serde_json::to_string_pretty(&schema).unwrap_or_default();
    content.push('\n');
    SchemaFile { file_name, content }
}

/// The schemas of `experiments.yaml`, `recurring_runs.yaml` and `kfp-gitops.yaml`.
pub fn schemas() -> Vec<SchemaFile> {
    vec![
        render::<ExperimentsFile>("experiments.schema.json"),
        render::<RecurringRunsFile>("recurring_runs.schema.json"),
        render::<ProjectFile>("kfp-gitops.schema.json"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_forbid_unknown_keys_and_encode_the_exclusive_choices() {
        let all = schemas();
        let runs: serde_json::Value = serde_json::from_str(&all[1].content).unwrap();
        let defs = &runs["$defs"];
        assert_eq!(
            defs["Job"]["additionalProperties"],
            serde_json::json!(false)
        );
        assert_eq!(
            defs["Trigger"]["oneOf"],
            serde_json::json!([{"required": ["cron"]}, {"required": ["interval_seconds"]}])
        );
        assert_eq!(
            defs["PipelineSource"]["anyOf"].as_array().map(Vec::len),
            Some(4)
        );
        assert_eq!(
            defs["Job"]["properties"]["max_concurrency"]["maximum"],
            serde_json::json!(10)
        );
        assert!(all.iter().all(|schema| schema.content.ends_with("}\n")));
    }
}
