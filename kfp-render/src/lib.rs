//! Rendering pipelines: runs a render command (usually the KFP v1 compiler) into a temporary folder,
//! compares the result semantically with the committed output and replaces it atomically only when the
//! pipeline really changed; also checks committed renders for staleness and render commands for determinism.
//!
//! A rendered folder holds `workflow.yaml` (an Argo Workflow compiled by the KFP v1 SDK) and optionally
//! `params/`, one file per pipeline parameter whose bytes are the value. Workflows are compared with
//! [`kfp_config::compare`] (volatile compiler annotations ignored, floats within a tolerance);
//! parameter files byte for byte. A render must carry the `pipelines.kubeflow.org/pipeline_spec`
//! annotation of the KFP v1 compiler; a committed output is read leniently, and whatever else it holds
//! besides `workflow.yaml` and `params/` (the user's files) is carried over when it is replaced.
//!
//! What it must never do: leave a half-written output folder behind, print, or exit the process.
//!
//! ```no_run
//! use kfp_render::{Mode, RenderOptions, RenderTarget, run_one};
//!
//! let target = RenderTarget::new(
//!     "example",
//!     "examples/hello",
//!     vec!["python".into(), "pipeline.py".into(), "--output".into(), "{output}".into()],
//!     "examples/hello/RENDERED_PIPELINE",
//! );
//! let outcome = run_one(&target, Mode::Render, &RenderOptions::default())?;
//! # Ok::<(), kfp_render::RenderError>(())
//! ```

mod changes;
mod error;
mod folder;
mod process;
mod run;
mod staging;
mod target;

pub use changes::{Changes, ParamChange};
pub use error::RenderError;
pub use folder::RenderedPipeline;
pub use run::{
    CheckOutcome, Determinism, Event, Freshness, Mode, Outcome, RenderOptions, RenderOutcome,
    TargetReport, check, check_determinism, render, run_one, run_targets, validate_targets,
};
pub use target::{DEFAULT_OUTPUT, OUTPUT_ENV, OUTPUT_PLACEHOLDER, RenderTarget};
