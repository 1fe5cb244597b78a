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
    use serde_json::{Value, json};

    fn recurring_runs() -> Value {
        serde_json::from_str(&schemas()[1].content).unwrap()
    }

    fn accepts_null(property: &Value) -> bool {
        match &property["type"] {
            Value::String(kind) => kind == "null",
            Value::Array(kinds) => kinds.contains(&json!("null")),
            _ => property["anyOf"]
                .as_array()
                .is_some_and(|branches| branches.contains(&json!({"type": "null"}))),
        }
    }

    /// Every object schema (`"type": "object"`) under `value`, with its JSON pointer.
    fn object_schemas<'v>(value: &'v Value, pointer: &str, found: &mut Vec<(String, &'v Value)>) {
        match value {
            Value::Object(map) => {
                if map.get("type") == Some(&json!("object")) {
                    found.push((pointer.to_owned(), value));
                }
                for (key, child) in map {
                    object_schemas(child, &format!("{pointer}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    object_schemas(child, &format!("{pointer}/{index}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn schemas_forbid_unknown_keys_and_encode_the_exclusive_choices() {
        let all = schemas();
        let runs = recurring_runs();
        let defs = &runs["$defs"];
        assert_eq!(defs["Job"]["additionalProperties"], json!(false));
        assert_eq!(
            defs["PipelineSource"]["anyOf"].as_array().map(Vec::len),
            Some(4)
        );
        assert_eq!(
            defs["Job"]["properties"]["max_concurrency"]["maximum"],
            json!(10)
        );
        assert!(all.iter().all(|schema| schema.content.ends_with("}\n")));
    }

    /// The loader reads `~` as an absent key, so `cron: ~` next to `interval_seconds` is a valid trigger.
    #[test]
    fn a_null_key_does_not_count_as_the_chosen_trigger() {
        assert_eq!(
            recurring_runs()["$defs"]["Trigger"]["oneOf"],
            json!([
                {
                    "required": ["cron"],
                    "properties": {"cron": {"not": {"type": "null"}}, "interval_seconds": {"type": "null"}}
                },
                {
                    "required": ["interval_seconds"],
                    "properties": {"interval_seconds": {"not": {"type": "null"}}, "cron": {"type": "null"}}
                }
            ])
        );
    }

    #[test]
    fn each_parameter_form_accepts_the_other_forms_key_as_null() {
        let runs = recurring_runs();
        let branches = runs["$defs"]["PipelineParameter"]["anyOf"]
            .as_array()
            .unwrap();
        assert_eq!(branches.len(), 2);
        let (value, value_from) = (&branches[0]["properties"], &branches[1]["properties"]);
        assert_eq!(
            value["value"],
            json!({"$ref": "#/$defs/ParameterValue", "description": value["value"]["description"]})
        );
        assert!(!accepts_null(&runs["$defs"]["ParameterValue"]));
        assert_eq!(value["valueFrom"], json!({"type": "null"}));
        assert_eq!(value_from["valueFrom"]["$ref"], json!("#/$defs/ValueFrom"));
        assert_eq!(value_from["value"], json!({"type": "null"}));
        for branch in branches {
            assert_eq!(branch["additionalProperties"], json!(false));
        }
    }

    #[test]
    fn each_pipeline_source_form_accepts_the_other_forms_keys_as_null() {
        let runs = recurring_runs();
        let forms = [
            (
                "GitHubSource",
                &["github_owner", "github_repo", "git_reference", "file_path"][..],
            ),
            ("GitSource", &["git_url", "git_reference", "file_path"][..]),
            ("PathSource", &["path"][..]),
            ("RenderedSource", &["rendered_pipeline"][..]),
        ];
        for (form, own) in forms {
            let def = &runs["$defs"][form];
            let properties = def["properties"].as_object().unwrap();
            assert_eq!(def["additionalProperties"], json!(false), "{form}");
            assert_eq!(properties.len(), 7, "{form}: {properties:?}");
            for (key, property) in properties {
                if own.contains(&key.as_str()) {
                    assert_eq!(property["type"], json!("string"), "{form}.{key}");
                    assert!(
                        def["required"].as_array().unwrap().contains(&json!(key)),
                        "{form}.{key}"
                    );
                } else {
                    assert_eq!(property, &json!({"type": "null"}), "{form}.{key}");
                }
            }
        }
    }

    #[test]
    fn value_from_takes_a_local_path_or_a_repository_file_never_both() {
        let runs = recurring_runs();
        let def = &runs["$defs"]["ValueFrom"];
        let absent = json!({"type": "null"});
        let present = json!({"not": {"type": "null"}});
        assert_eq!(
            def["oneOf"],
            json!([
                {
                    "required": ["path"],
                    "properties": {
                        "path": present, "file_path": absent, "github_owner": absent,
                        "github_repo": absent, "git_reference": absent, "git_url": absent
                    }
                },
                {"required": ["file_path"], "properties": {"file_path": present, "path": absent}}
            ])
        );
        assert_eq!(
            def["anyOf"],
            json!([
                {"properties": {"git_url": absent}},
                {"properties": {"github_owner": absent, "github_repo": absent}}
            ])
        );
    }

    /// Checked config files read `~` as absent, so every optional key takes `null`; the project file is
    /// read by serde and keeps its plain types.
    #[test]
    fn every_optional_key_of_the_config_files_accepts_null() {
        let all = schemas();
        for schema in &all[..2] {
            let value: Value = serde_json::from_str(&schema.content).unwrap();
            let mut objects = Vec::new();
            object_schemas(&value, "", &mut objects);
            assert!(objects.len() > 1, "{}", schema.file_name);
            for (pointer, object) in objects {
                let required = object["required"].as_array().cloned().unwrap_or_default();
                for (key, property) in object["properties"].as_object().into_iter().flatten() {
                    assert_eq!(
                        accepts_null(property),
                        !required.contains(&json!(key)),
                        "{}{pointer}/properties/{key}",
                        schema.file_name
                    );
                }
            }
        }
    }
}
