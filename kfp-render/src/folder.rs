//! Reading a rendered pipeline folder: `workflow.yaml` and optionally `params/` (one file per parameter).

use std::collections::BTreeMap;
use std::path::Path;

use kfp_config::workflow::Workflow;

use crate::error::RenderError;

/// The workflow file inside a rendered folder.
pub const WORKFLOW_FILE: &str = "workflow.yaml";

/// The folder of parameter files inside a rendered folder.
pub const PARAMS_DIR: &str = "params";

/// A rendered pipeline read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPipeline {
    /// The parsed `workflow.yaml`.
    pub workflow: Workflow,
    /// `params/`: parameter name to the file's exact bytes.
    pub params: BTreeMap<String, Vec<u8>>,
}

impl RenderedPipeline {
    /// Reads and validates what a render command wrote: a valid KFP v1 `workflow.yaml`, and in `params/`
    /// only regular files named after the pipeline's inputs. Nothing else may be in the folder, because
    /// the folder replaces the committed output as a whole.
    ///
    /// `stderr` is attached to the error when the command wrote no workflow, to show what happened.
    pub fn read_fresh(dir: &Path, stderr: impl FnOnce() -> String) -> Result<Self, RenderError> {
        let entries = list(dir)?;
        if !entries.iter().any(|name| name == WORKFLOW_FILE) {
            return Err(RenderError::NoWorkflow {
                found: entries,
                stderr: stderr(),
            });
        }
        if let Some(extra) = entries
            .iter()
            .find(|name| *name != WORKFLOW_FILE && *name != PARAMS_DIR)
        {
            return Err(RenderError::UnexpectedEntry {
                entry: extra.clone(),
                reason: format!(
                    "a rendered pipeline holds only {WORKFLOW_FILE} and {PARAMS_DIR}/ (one file per parameter)"
                ),
            });
        }
        let path = dir.join(WORKFLOW_FILE);
        if !path.is_file() {
            return Err(RenderError::UnexpectedEntry {
                entry: WORKFLOW_FILE.into(),
                reason: "it must be a file".into(),
            });
        }
        let text =
            std::fs::read_to_string(&path).map_err(|err| RenderError::io("read", &path, err))?;
        let workflow = Workflow::parse_yaml(&text)
            .and_then(|workflow| workflow.validate().map(|()| workflow))
            .map_err(|source| RenderError::InvalidWorkflow { source })?;
        let params = read_params(dir)?;
        let inputs = workflow
            .inputs()
            .map_err(|source| RenderError::InvalidWorkflow { source })?;
        if let Some(unknown) = params
            .keys()
            .find(|name| !inputs.iter().any(|input| &input.name == *name))
        {
            let known: Vec<&str> = inputs.iter().map(|input| input.name.as_str()).collect();
            return Err(RenderError::UnexpectedEntry {
                entry: format!("{PARAMS_DIR}/{unknown}"),
                reason: format!(
                    "the pipeline has no input named `{unknown}` (its inputs: {})",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        }
        Ok(Self { workflow, params })
    }

    /// Reads a committed output for comparison. `Ok(None)` when the folder does not exist; `Err` with a
    /// human reason when it exists but cannot be read as a rendered pipeline (it is then simply stale).
    pub fn read_committed(dir: &Path) -> Result<Option<Self>, String> {
        match std::fs::symlink_metadata(dir) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("cannot read {}: {err}", dir.display())),
            Ok(_) => {}
        }
        let path = dir.join(WORKFLOW_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("the committed output has no {WORKFLOW_FILE}"));
            }
            Err(err) => return Err(format!("cannot read the committed {WORKFLOW_FILE}: {err}")),
        };
        let workflow = Workflow::parse_yaml(&text)
            .map_err(|err| format!("the committed {WORKFLOW_FILE} cannot be parsed: {err}"))?;
        let params = read_params(dir)
            .map_err(|err| format!("the committed {PARAMS_DIR}/ cannot be read: {err}"))?;
        Ok(Some(Self { workflow, params }))
    }
}

/// The sorted top-level names in `dir`.
fn list(dir: &Path) -> Result<Vec<String>, RenderError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|err| RenderError::io("list", dir, err))? {
        let entry = entry.map_err(|err| RenderError::io("list", dir, err))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

fn read_params(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, RenderError> {
    let params_dir = dir.join(PARAMS_DIR);
    let mut params = BTreeMap::new();
    let entries = match std::fs::read_dir(&params_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(params),
        Err(err) => return Err(RenderError::io("list", &params_dir, err)),
    };
    for entry in entries {
        let entry = entry.map_err(|err| RenderError::io("list", &params_dir, err))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(RenderError::UnexpectedEntry {
                entry: format!("{PARAMS_DIR}/{}", entry.file_name().to_string_lossy()),
                reason: "parameter file names must be UTF-8".into(),
            });
        };
        let file_type = entry
            .file_type()
            .map_err(|err| RenderError::io("inspect", &path, err))?;
        if !file_type.is_file() {
            return Err(RenderError::UnexpectedEntry {
                entry: format!("{PARAMS_DIR}/{name}"),
                reason: "params/ holds only regular files, one per parameter".into(),
            });
        }
        let bytes = std::fs::read(&path).map_err(|err| RenderError::io("read", &path, err))?;
        params.insert(name, bytes);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: p-
  annotations: {pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "message", "type": "String"}], "name": "p"}'}
spec:
  entrypoint: p
  templates: []
"#;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn fresh(files: &[(&str, &str)]) -> Result<RenderedPipeline, RenderError> {
        let dir = folder(files);
        RenderedPipeline::read_fresh(dir.path(), || "the stderr".into())
    }

    #[test]
    fn a_workflow_with_params_is_read_byte_exact() {
        let pipeline = fresh(&[
            ("workflow.yaml", WORKFLOW),
            ("params/message", "two\nlines"),
        ])
        .unwrap();
        assert_eq!(pipeline.params["message"], b"two\nlines");
        assert_eq!(pipeline.workflow.inputs().unwrap()[0].name, "message");
    }

    #[test]
    fn writing_nothing_is_an_error_carrying_stderr() {
        match fresh(&[]).unwrap_err() {
            RenderError::NoWorkflow { found, stderr } => {
                assert!(found.is_empty());
                assert_eq!(stderr, "the stderr");
            }
            other => panic!("unexpected {other:?}"),
        }
        match fresh(&[("pipeline.yaml", WORKFLOW)]).unwrap_err() {
            RenderError::NoWorkflow { found, .. } => assert_eq!(found, ["pipeline.yaml"]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_kfp_v2_ir_file_is_rejected_as_such() {
        let ir = "pipelineInfo: {name: p}\nroot: {dag: {tasks: {}}}\nschemaVersion: 2.1.0\nsdkVersion: kfp-2.7.0\ndeploymentSpec: {}\n";
        let err = fresh(&[("workflow.yaml", ir)]).unwrap_err();
        assert!(
            matches!(
                &err,
                RenderError::InvalidWorkflow {
                    source: kfp_config::workflow::WorkflowError::KfpV2
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn extra_files_and_unknown_params_are_rejected() {
        let err = fresh(&[("workflow.yaml", WORKFLOW), ("notes.txt", "x")]).unwrap_err();
        assert!(
            matches!(&err, RenderError::UnexpectedEntry { entry, .. } if entry == "notes.txt"),
            "{err:?}"
        );
        let err = fresh(&[("workflow.yaml", WORKFLOW), ("params/other", "x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected `params/other` in the rendered folder: the pipeline has no input named `other` (its inputs: message)"
        );
        let err = fresh(&[("workflow.yaml", WORKFLOW), ("params/message/x", "x")]).unwrap_err();
        assert!(
            matches!(&err, RenderError::UnexpectedEntry { entry, .. } if entry == "params/message"),
            "{err:?}"
        );
    }

    #[test]
    fn a_committed_output_is_missing_readable_or_broken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            RenderedPipeline::read_committed(&dir.path().join("absent")),
            Ok(None)
        );
        let ok = folder(&[("workflow.yaml", WORKFLOW)]);
        assert!(matches!(
            RenderedPipeline::read_committed(ok.path()),
            Ok(Some(_))
        ));
        let empty = folder(&[]);
        assert_eq!(
            RenderedPipeline::read_committed(empty.path()),
            Err("the committed output has no workflow.yaml".to_owned())
        );
        let broken = folder(&[("workflow.yaml", "a: [")]);
        let err = RenderedPipeline::read_committed(broken.path()).unwrap_err();
        assert!(
            err.starts_with("the committed workflow.yaml cannot be parsed"),
            "{err}"
        );
    }
}
