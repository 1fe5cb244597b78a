//! Why rendering one target failed.

use std::path::PathBuf;
use std::time::Duration;

use kfp_config::{PIPELINE_SPEC_ANNOTATION, WorkflowError};

/// Everything that can make one target fail. Other targets are not affected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The target has no command to run.
    #[error("the render command is empty")]
    EmptyCommand,

    /// The working directory does not exist or is not a directory.
    #[error("the working directory {} does not exist", path.display())]
    MissingWorkdir {
        /// The directory that was expected.
        path: PathBuf,
    },

    /// The render command could not be started (not found, not executable...).
    #[error("cannot start the render command `{program}`")]
    Spawn {
        /// The program that was to be run.
        program: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The render command ran and failed.
    #[error("the render command failed ({status})")]
    CommandFailed {
        /// How it ended, e.g. `exit status: 1`.
        status: String,
        /// The end of what it wrote on stderr.
        stderr: String,
    },

    /// The render command ran longer than allowed and was killed.
    #[error("the render command did not finish within {}s and was killed", timeout.as_secs_f64())]
    TimedOut {
        /// The limit that was exceeded.
        timeout: Duration,
        /// The end of what it wrote on stderr before being killed.
        stderr: String,
    },

    /// The render was cancelled (Ctrl-C); its command was killed and its temporary folder removed.
    #[error("the render was cancelled")]
    Cancelled,

    /// The render command succeeded but wrote no `workflow.yaml`.
    #[error(
        "the render command succeeded but wrote no workflow.yaml into the output folder{}",
        found_suffix(found)
    )]
    NoWorkflow {
        /// What it wrote instead (top-level names), if anything.
        found: Vec<String>,
        /// The end of what it wrote on stderr.
        stderr: String,
    },

    /// The rendered `workflow.yaml` is not a KFP v1 Argo Workflow.
    #[error("the rendered workflow.yaml is not a valid KFP v1 pipeline")]
    InvalidWorkflow {
        /// What is wrong with it.
        #[source]
        source: WorkflowError,
    },

    /// The rendered `workflow.yaml` is an Argo Workflow without the `pipelines.kubeflow.org/pipeline_spec`
    /// annotation, so it was not compiled by the KFP v1 SDK (whose compiler records the pipeline's name
    /// and inputs there): compile it with `kfp.compiler.Compiler().compile(...)` or `dsl-compile`.
    #[error(
        "the rendered workflow.yaml has no `{PIPELINE_SPEC_ANNOTATION}` annotation in its metadata: \
         it is a plain Argo Workflow, not a pipeline compiled by the KFP v1 SDK"
    )]
    MissingPipelineSpec,

    /// The rendered folder holds something that is neither `workflow.yaml` nor a parameter file.
    #[error("unexpected `{entry}` in the rendered folder: {reason}")]
    UnexpectedEntry {
        /// The path inside the rendered folder.
        entry: String,
        /// Why it is not allowed.
        reason: String,
    },

    /// Two targets write the same output folder.
    #[error("targets `{first}` and `{second}` both write {}", output.display())]
    DuplicateOutput {
        /// The first target.
        first: String,
        /// The second target.
        second: String,
        /// The shared output folder.
        output: PathBuf,
    },

    /// The new render could not be moved into place, and the old output could not be moved back either.
    /// The old output is kept in its staging folder; the next render or check of this output puts it back.
    #[error(
        "cannot move the new render into {}, nor the old output back ({rollback}); the old output is kept in {} and the next run restores it",
        output.display(),
        kept.display()
    )]
    RollbackFailed {
        /// The output folder, now missing.
        output: PathBuf,
        /// Where the old output is.
        kept: PathBuf,
        /// Why the new render could not be moved into place.
        #[source]
        source: std::io::Error,
        /// Why the old output could not be moved back.
        rollback: std::io::Error,
    },

    /// Local file-system work failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `read`.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// What the render command wrote on stderr, when it is relevant to this error.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Self::CommandFailed { stderr, .. }
            | Self::TimedOut { stderr, .. }
            | Self::NoWorkflow { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

fn found_suffix(found: &[String]) -> String {
    if found.is_empty() {
        String::new()
    } else {
        format!(" (it wrote: {})", found.join(", "))
    }
}
