//! The comparison of two rendered pipelines as render uses it: the workflows semantically (through
//! [`kfp_config::compare`]), the parameter files byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kfp_config::{CompareOptions, Difference, DifferenceKind};
use serde::Serialize;
use serde_json::Value;

use kfp_config::{PARAMS_DIR, WORKFLOW_FILE};

use crate::folder::RenderedPipeline;

/// One parameter file that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamChange {
    /// The parameter (file) name.
    pub name: String,
    /// Added (only in the new render), removed (only in the old one) or changed (different bytes).
    pub kind: DifferenceKind,
}

/// How two rendered pipelines differ. Empty when they are the same pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    /// Semantic differences of the workflows, as JSON pointers into the old/new tree.
    pub workflow: Vec<Difference>,
    /// Parameter files added, removed or changed.
    pub params: Vec<ParamChange>,
    /// Why the old side could not be read at all (then everything counts as changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    #[serde(skip)]
    before: Option<Box<RenderedPipeline>>,
    #[serde(skip)]
    after: Option<Box<RenderedPipeline>>,
    /// The keys the comparison ignored, left out of the diff too so it shows what was compared.
    #[serde(skip)]
    ignore_keys: Vec<String>,
}

impl Changes {
    /// Compares `before` (the committed output, or a first render) with `after` (a new render).
    pub fn between(
        before: &RenderedPipeline,
        after: &RenderedPipeline,
        options: &CompareOptions,
    ) -> Self {
        let workflow =
            kfp_config::compare(before.workflow.value(), after.workflow.value(), options);
        let params = compare_params(&before.params, &after.params);
        let differs = !workflow.is_empty() || !params.is_empty();
        Self {
            workflow,
            params,
            unreadable: None,
            before: differs.then(|| Box::new(before.clone())),
            after: differs.then(|| Box::new(after.clone())),
            ignore_keys: options.ignore_keys.clone(),
        }
    }

    /// The changes against an old side that could not be read (`reason` says why); `options` are those
    /// a readable old side would have been compared with.
    pub fn unreadable(reason: String, after: &RenderedPipeline, options: &CompareOptions) -> Self {
        Self {
            workflow: Vec::new(),
            params: Vec::new(),
            unreadable: Some(reason),
            before: None,
            after: Some(Box::new(after.clone())),
            ignore_keys: options.ignore_keys.clone(),
        }
    }

    /// True when the two renders are the same pipeline.
    pub fn is_empty(&self) -> bool {
        self.workflow.is_empty() && self.params.is_empty() && self.unreadable.is_none()
    }

    /// A unified diff of the normalized workflow YAML (keys sorted, the comparison's ignored keys removed) and of
    /// every differing parameter file. `old_label`/`new_label` name the two sides in the headers (e.g. the
    /// committed folder and "rendered"). Empty when nothing differs.
    pub fn unified_diff(&self, old_label: &str, new_label: &str) -> String {
        let mut out = String::new();
        let Some(after) = &self.after else {
            return out;
        };
        let before = self.before.as_deref();
        if self.unreadable.is_some() || !self.workflow.is_empty() {
            let old = before.map_or_else(String::new, |before| {
                normalized_yaml(before.workflow.value(), &self.ignore_keys)
            });
            let new = normalized_yaml(after.workflow.value(), &self.ignore_keys);
            out.push_str(&text_diff(
                &old,
                &new,
                &format!("{old_label}/{WORKFLOW_FILE} (normalized)"),
                &format!("{new_label}/{WORKFLOW_FILE} (normalized)"),
            ));
        }
        let empty = Vec::new();
        let names: Vec<&str> = if self.unreadable.is_some() {
            after.params.keys().map(String::as_str).collect()
        } else {
            self.params
                .iter()
                .map(|change| change.name.as_str())
                .collect()
        };
        for name in names {
            let old = before
                .and_then(|before| before.params.get(name))
                .unwrap_or(&empty);
            let new = after.params.get(name).unwrap_or(&empty);
            let old_name = format!("{old_label}/{PARAMS_DIR}/{name}");
            let new_name = format!("{new_label}/{PARAMS_DIR}/{name}");
            match (std::str::from_utf8(old), std::str::from_utf8(new)) {
                (Ok(old), Ok(new)) => out.push_str(&text_diff(old, new, &old_name, &new_name)),
                _ => {
                    let _ = writeln!(out, "Binary files {old_name} and {new_name} differ");
                }
            }
        }
        out
    }
}

fn compare_params(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Vec<ParamChange> {
    let mut changes = Vec::new();
    for (name, old) in before {
        match after.get(name) {
            None => changes.push(ParamChange {
                name: name.clone(),
                kind: DifferenceKind::Removed,
            }),
            Some(new) if new != old => changes.push(ParamChange {
                name: name.clone(),
                kind: DifferenceKind::Changed,
            }),
            Some(_) => {}
        }
    }
    for name in after.keys().filter(|name| !before.contains_key(*name)) {
        changes.push(ParamChange {
            name: name.clone(),
            kind: DifferenceKind::Added,
        });
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    changes
}

fn normalized_yaml(value: &Value, ignore_keys: &[String]) -> String {
    let normalized = kfp_config::normalize_with(value, ignore_keys);
    // Reading YAML goes through kfp_config::yaml; writing it for display needs no parsing options.
    serde_saphyr::to_string(&normalized).unwrap_or_else(|_| {
        // Every JSON tree is representable in YAML; fall back to pretty JSON (also valid YAML) regardless.
        serde_json::to_string_pretty(&normalized).unwrap_or_default() + "\n"
    })
}

fn text_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kfp_config::Workflow;
    use serde_json::json;

    fn pipeline(workflow: Value, params: &[(&str, &str)]) -> RenderedPipeline {
        RenderedPipeline {
            workflow: Workflow::from_value(workflow),
            params: params
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn base() -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "annotations": {
                    "pipelines.kubeflow.org/kfp_sdk_version": "1.8.22",
                    "pipelines.kubeflow.org/pipeline_compilation_time": "2023-07-30T19:31:36.462884"
                },
                "labels": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22"}
            },
            "spec": {
                "templates": [{
                    "name": "a",
                    "metadata": {"labels": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22"}},
                    "retryStrategy": {"backoff": {"factor": 0.1}},
                    "args": ["x", "y"]
                }]
            }
        })
    }

    fn changes(before: Value, after: Value) -> Changes {
        Changes::between(
            &pipeline(before, &[]),
            &pipeline(after, &[]),
            &CompareOptions::default(),
        )
    }

    fn pointers(changes: &Changes) -> Vec<&str> {
        changes
            .workflow
            .iter()
            .map(|d| d.pointer.as_str())
            .collect()
    }

    #[test]
    fn volatile_annotations_are_ignored_at_every_depth() {
        let mut after = base();
        after["metadata"]["annotations"]["pipelines.kubeflow.org/pipeline_compilation_time"] =
            json!("2030-01-01T00:00:00");
        after["metadata"]["labels"]["pipelines.kubeflow.org/kfp_sdk_version"] = json!("1.8.23");
        after["spec"]["templates"][0]["metadata"]["labels"]["pipelines.kubeflow.org/kfp_sdk_version"] =
            json!("9");
        // A volatile key missing on one side is not a difference either.
        after["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("pipelines.kubeflow.org/kfp_sdk_version");
        let changes = changes(base(), after);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(changes.unified_diff("a", "b"), "");
    }

    #[test]
    fn floats_are_equal_within_the_tolerance_but_not_beyond() {
        let mut close = base();
        close["spec"]["templates"][0]["retryStrategy"]["backoff"]["factor"] = json!(0.1 + 1e-12);
        assert!(changes(base(), close).is_empty());

        let mut far = base();
        far["spec"]["templates"][0]["retryStrategy"]["backoff"]["factor"] = json!(0.1 + 1e-6);
        assert_eq!(
            pointers(&changes(base(), far)),
            ["/spec/templates/0/retryStrategy/backoff/factor"]
        );
    }

    #[test]
    fn a_type_change_is_a_difference() {
        let mut after = base();
        after["spec"]["templates"][0]["retryStrategy"]["backoff"]["factor"] = json!("0.1");
        let changes = changes(base(), after);
        assert_eq!(changes.workflow[0].kind, DifferenceKind::Changed);
        assert_eq!(changes.workflow[0].left, Some(json!(0.1)));
        assert_eq!(changes.workflow[0].right, Some(json!("0.1")));
    }

    #[test]
    fn list_order_matters_but_key_order_does_not() {
        let mut swapped = base();
        swapped["spec"]["templates"][0]["args"] = json!(["y", "x"]);
        assert_eq!(
            pointers(&changes(base(), swapped)),
            ["/spec/templates/0/args/0", "/spec/templates/0/args/1"]
        );

        let reordered: Value = serde_json::from_str(
            r#"{"spec": {"templates": [{"args": ["x", "y"], "retryStrategy": {"backoff": {"factor": 0.1}},
                "metadata": {"labels": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22"}}, "name": "a"}]},
                "metadata": {"labels": {}, "annotations": {}}, "kind": "Workflow", "apiVersion": "argoproj.io/v1alpha1"}"#,
        )
        .unwrap();
        assert!(changes(base(), reordered).is_empty());
    }

    #[test]
    fn params_added_removed_and_changed_are_listed_byte_exact() {
        let before = pipeline(
            base(),
            &[("kept", "same"), ("gone", "x"), ("edited", "a\n")],
        );
        let after = pipeline(base(), &[("kept", "same"), ("edited", "a"), ("new", "y")]);
        let changes = Changes::between(&before, &after, &CompareOptions::default());
        assert!(changes.workflow.is_empty());
        assert_eq!(
            changes.params,
            [
                ParamChange {
                    name: "edited".into(),
                    kind: DifferenceKind::Changed
                },
                ParamChange {
                    name: "gone".into(),
                    kind: DifferenceKind::Removed
                },
                ParamChange {
                    name: "new".into(),
                    kind: DifferenceKind::Added
                },
            ]
        );
        let diff = changes.unified_diff("committed", "rendered");
        assert!(
            diff.contains("--- committed/params/edited\n+++ rendered/params/edited\n"),
            "{diff}"
        );
        assert!(diff.contains("\\ No newline at end of file"), "{diff}");
        assert!(diff.contains("-x"), "{diff}");
        assert!(diff.contains("+y"), "{diff}");
    }

    #[test]
    fn the_workflow_diff_is_of_the_normalized_yaml() {
        let mut after = base();
        after["spec"]["templates"][0]["name"] = json!("b");
        after["metadata"]["annotations"]["pipelines.kubeflow.org/pipeline_compilation_time"] =
            json!("2030-01-01T00:00:00");
        let diff = changes(base(), after).unified_diff("old", "new");
        assert!(
            diff.starts_with(
                "--- old/workflow.yaml (normalized)\n+++ new/workflow.yaml (normalized)\n"
            ),
            "{diff}"
        );
        assert!(diff.contains("-    name: a\n+    name: b\n"), "{diff}");
        assert!(!diff.contains("compilation_time"), "{diff}");
    }

    #[test]
    fn the_workflow_diff_leaves_out_exactly_the_keys_the_comparison_ignored() {
        // A custom list replaces the volatile keys: the compilation time counts, `retryStrategy` does not.
        let options = CompareOptions {
            ignore_keys: vec!["retryStrategy".into()],
            ..CompareOptions::default()
        };
        let mut after = base();
        after["metadata"]["annotations"]["pipelines.kubeflow.org/pipeline_compilation_time"] =
            json!("2030-01-01T00:00:00");
        after["spec"]["templates"][0]["retryStrategy"]["backoff"]["factor"] = json!(0.5);
        let changes = Changes::between(&pipeline(base(), &[]), &pipeline(after, &[]), &options);
        assert_eq!(
            pointers(&changes),
            ["/metadata/annotations/pipelines.kubeflow.org~1pipeline_compilation_time"]
        );
        let diff = changes.unified_diff("old", "new");
        let added: Vec<&str> = diff
            .lines()
            .filter(|line| line.starts_with('+') && !line.starts_with("+++"))
            .collect();
        assert_eq!(added.len(), 1, "{diff}");
        assert!(added[0].contains("pipeline_compilation_time"), "{diff}");
        assert!(added[0].contains("2030-01-01T00:00:00"), "{diff}");
        assert!(!diff.contains("retryStrategy"), "{diff}");
    }

    #[test]
    fn an_unreadable_old_side_diffs_against_nothing() {
        let after = pipeline(base(), &[("p", "v")]);
        let changes = Changes::unreadable("broken".into(), &after, &CompareOptions::default());
        assert!(!changes.is_empty());
        let diff = changes.unified_diff("old", "new");
        assert!(diff.contains("+kind: Workflow\n"), "{diff}");
        assert!(diff.contains("+++ new/params/p\n"), "{diff}");
    }
}
