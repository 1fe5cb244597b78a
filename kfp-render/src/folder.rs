//! Reading a rendered pipeline folder: `workflow.yaml` and optionally `params/` (one file per parameter).
//!
//! A committed output folder may hold more than a render: anything besides `workflow.yaml` and `params/`
//! (a `README.md`, a `.gitattributes`...) belongs to the user. Such entries take no part in comparisons,
//! and when a render replaces the folder they are copied unchanged into the new output first (see
//! [`extra_entries`] and [`copy_entries`]), so replacing an output never loses them. A render command,
//! on the other hand, may write only `workflow.yaml` and `params/`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use kfp_config::{PARAMS_DIR, ParamsError, WORKFLOW_FILE};
use kfp_config::{PIPELINE_SPEC_ANNOTATION, Workflow};

use crate::error::RenderError;

/// A rendered pipeline read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPipeline {
    /// The parsed `workflow.yaml`.
    pub workflow: Workflow,
    /// `params/`: parameter name to the file's exact bytes.
    pub params: BTreeMap<String, Vec<u8>>,
}

impl RenderedPipeline {
    /// Reads and validates what a render command wrote: a `workflow.yaml` compiled by the KFP v1 SDK (an
    /// Argo Workflow carrying the `pipelines.kubeflow.org/pipeline_spec` annotation), and in `params/`
    /// only regular files named after the pipeline's inputs. Nothing else may be in the folder: a render
    /// is the pipeline and its parameters, while other entries of the committed output are the user's.
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
        // Stricter than `Workflow::validate`, which also accepts plain Argo Workflows (as a config may
        // reference them): a render command is meant to run the KFP v1 compiler, and without the
        // annotation the pipeline's inputs, and so its parameter files, would be guessed.
        let annotated = workflow
            .value()
            .get("metadata")
            .and_then(|metadata| metadata.get("annotations"))
            .and_then(|annotations| annotations.get(PIPELINE_SPEC_ANNOTATION))
            .is_some();
        if !annotated {
            return Err(RenderError::MissingPipelineSpec);
        }
        let params = read_params(dir)?;
        let inputs = workflow
            .inputs()
            .map_err(|source| RenderError::InvalidWorkflow { source })?;
        let names: Vec<&str> = params.keys().map(String::as_str).collect();
        if let Some(unknown) = kfp_config::match_inputs(&inputs, &names).unknown.first() {
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
    /// Lenient where [`Self::read_fresh`] is strict: any parseable workflow is compared, and entries
    /// besides `workflow.yaml` and `params/` are ignored (they are carried over on replace).
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

/// The top-level entries of a committed output that are not part of a render (anything besides
/// `workflow.yaml` and `params/`), sorted. Empty when `output` does not exist or is not a real folder: a
/// symlinked output is replaced as a link, leaving the folder it points to as it is.
pub(crate) fn extra_entries(output: &Path) -> Result<Vec<OsString>, RenderError> {
    match std::fs::symlink_metadata(output) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(RenderError::io("inspect", output, err)),
        Ok(meta) if !meta.is_dir() => return Ok(Vec::new()),
        Ok(_) => {}
    }
    let mut extras = Vec::new();
    for entry in std::fs::read_dir(output).map_err(|err| RenderError::io("list", output, err))? {
        let name = entry
            .map_err(|err| RenderError::io("list", output, err))?
            .file_name();
        if name != WORKFLOW_FILE && name != PARAMS_DIR {
            extras.push(name);
        }
    }
    extras.sort();
    Ok(extras)
}

/// Copies the entries `names` of `from` into `to`, recursively: file bytes and permissions, folders,
/// and symlinks as symlinks (not what they point to).
pub(crate) fn copy_entries(from: &Path, to: &Path, names: &[OsString]) -> Result<(), RenderError> {
    for name in names {
        copy_entry(&from.join(name), &to.join(name))?;
    }
    Ok(())
}

fn copy_entry(from: &Path, to: &Path) -> Result<(), RenderError> {
    let meta =
        std::fs::symlink_metadata(from).map_err(|err| RenderError::io("inspect", from, err))?;
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        return copy_symlink(from, to);
    }
    if file_type.is_dir() {
        std::fs::create_dir(to).map_err(|err| RenderError::io("create", to, err))?;
        for entry in std::fs::read_dir(from).map_err(|err| RenderError::io("list", from, err))? {
            let name = entry
                .map_err(|err| RenderError::io("list", from, err))?
                .file_name();
            copy_entry(&from.join(&name), &to.join(&name))?;
        }
        // Last, so a read-only folder can first be filled.
        return std::fs::set_permissions(to, meta.permissions())
            .map_err(|err| RenderError::io("set the permissions of", to, err));
    }
    if !file_type.is_file() {
        // Copying a FIFO would block, and a device or socket has no content to keep.
        return Err(RenderError::io(
            "carry over",
            from,
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "only files, folders and symlinks can be carried over into a new render",
            ),
        ));
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|err| RenderError::io("copy", from, err))
}

#[cfg(unix)]
fn copy_symlink(from: &Path, to: &Path) -> Result<(), RenderError> {
    let target = std::fs::read_link(from).map_err(|err| RenderError::io("read", from, err))?;
    std::os::unix::fs::symlink(target, to).map_err(|err| RenderError::io("create", to, err))
}

#[cfg(not(unix))]
fn copy_symlink(from: &Path, to: &Path) -> Result<(), RenderError> {
    // Creating symlinks needs privileges there; keep what the link points to instead.
    if from.is_dir() {
        let names = std::fs::read_dir(from)
            .map_err(|err| RenderError::io("list", from, err))?
            .map(|entry| entry.map(|entry| entry.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| RenderError::io("list", from, err))?;
        std::fs::create_dir(to).map_err(|err| RenderError::io("create", to, err))?;
        copy_entries(from, to, &names)
    } else {
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|err| RenderError::io("copy", from, err))
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
    let files = kfp_config::param_files(&params_dir).map_err(|err| match err {
        ParamsError::List { source, .. } => RenderError::io("list", &params_dir, source),
        ParamsError::NameNotUtf8 { name } => RenderError::UnexpectedEntry {
            entry: format!("{PARAMS_DIR}/{name}"),
            reason: "parameter file names must be UTF-8".into(),
        },
    })?;
    let mut params = BTreeMap::new();
    for file in files {
        if !file.file_type.is_file() {
            return Err(RenderError::UnexpectedEntry {
                entry: format!("{PARAMS_DIR}/{}", file.name),
                reason: "params/ holds only regular files, one per parameter".into(),
            });
        }
        let bytes =
            std::fs::read(&file.path).map_err(|err| RenderError::io("read", &file.path, err))?;
        params.insert(file.name, bytes);
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
                    source: kfp_config::WorkflowError::KfpV2
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_plain_argo_workflow_is_not_a_render_but_is_still_read_as_a_committed_output() {
        let plain = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: p-}\nspec: {entrypoint: p, arguments: {parameters: [{name: message}]}}\n";
        let err = fresh(&[("workflow.yaml", plain), ("params/message", "x")]).unwrap_err();
        assert!(matches!(err, RenderError::MissingPipelineSpec), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the rendered workflow.yaml has no `pipelines.kubeflow.org/pipeline_spec` annotation in its \
             metadata: it is a plain Argo Workflow, not a pipeline compiled by the KFP v1 SDK"
        );
        // The other annotations of a real compile do not stand in for it.
        let other = plain.replace(
            "{generateName: p-}",
            "{generateName: p-, annotations: {pipelines.kubeflow.org/kfp_sdk_version: 1.8.22}}",
        );
        let err = fresh(&[("workflow.yaml", &other)]).unwrap_err();
        assert!(matches!(err, RenderError::MissingPipelineSpec), "{err:?}");

        let committed = folder(&[("workflow.yaml", plain)]);
        let read = RenderedPipeline::read_committed(committed.path())
            .unwrap()
            .unwrap();
        assert_eq!(read.workflow.inputs().unwrap()[0].name, "message");
    }

    #[test]
    fn an_annotation_without_inputs_is_a_pipeline_without_parameters() {
        let workflow = WORKFLOW.replace(
            r#"'{"inputs": [{"name": "message", "type": "String"}], "name": "p"}'"#,
            r#"'{"name": "p"}'"#,
        );
        let pipeline = fresh(&[("workflow.yaml", &workflow)]).unwrap();
        assert!(pipeline.workflow.inputs().unwrap().is_empty());
        let err = fresh(&[("workflow.yaml", &workflow), ("params/message", "x")]).unwrap_err();
        assert!(err.to_string().contains("(its inputs: none)"), "{err}");
    }

    #[test]
    fn the_extra_entries_of_a_committed_output_are_everything_but_the_render() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            extra_entries(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
        let output = folder(&[
            ("workflow.yaml", WORKFLOW),
            ("params/message", "m"),
            ("README.md", "ours"),
            (".gitattributes", "* -diff"),
            ("docs/notes.txt", "n"),
        ]);
        assert_eq!(
            extra_entries(output.path()).unwrap(),
            [".gitattributes", "README.md", "docs"]
        );

        let target = tempfile::tempdir().unwrap();
        copy_entries(
            output.path(),
            target.path(),
            &extra_entries(output.path()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            list(target.path()).unwrap(),
            [".gitattributes", "README.md", "docs"]
        );
        assert_eq!(
            std::fs::read_to_string(target.path().join("docs/notes.txt")).unwrap(),
            "n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn carried_over_symlinks_stay_links_and_permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt as _;
        let output = folder(&[("workflow.yaml", WORKFLOW), ("tool.sh", "#!/bin/sh\n")]);
        std::fs::set_permissions(
            output.path().join("tool.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("../elsewhere", output.path().join("link")).unwrap();
        // Not followed even though it points to a folder with content.
        std::os::unix::fs::symlink("/", output.path().join("root")).unwrap();

        let target = tempfile::tempdir().unwrap();
        let extras = extra_entries(output.path()).unwrap();
        copy_entries(output.path(), target.path(), &extras).unwrap();
        assert_eq!(list(target.path()).unwrap(), ["link", "root", "tool.sh"]);
        assert_eq!(
            std::fs::read_link(target.path().join("link")).unwrap(),
            Path::new("../elsewhere")
        );
        assert_eq!(
            std::fs::read_link(target.path().join("root")).unwrap(),
            Path::new("/")
        );
        let mode = std::fs::metadata(target.path().join("tool.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
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
