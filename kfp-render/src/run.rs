//! Rendering, checking and determinism-checking targets, one at a time or many in parallel.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kfp_config::CompareOptions;

use crate::changes::Changes;
use crate::error::RenderError;
use crate::folder::{RenderedPipeline, copy_entries, extra_entries};
use crate::process::{run_render_command, stderr_of};
use crate::staging::{Staging, remove_stale};
use kfp_client::CancelToken;

use crate::target::RenderTarget;

/// What to do with each target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Render and replace the committed output when the pipeline changed.
    Render,
    /// Render into a temporary folder only and report whether the committed output is current; with
    /// `determinism`, also render a second time and compare the two renders.
    Check {
        /// Also check that two renders agree.
        determinism: bool,
    },
    /// Render twice into temporary folders and report whether the two renders agree.
    Determinism,
}

/// Settings shared by every render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// How many targets render at once (at least 1).
    pub jobs: usize,
    /// How long one run of a render command may take before it is killed.
    pub timeout: Option<Duration>,
    /// How workflows are compared.
    pub compare: CompareOptions,
    /// Cancels every render (their commands are killed and temporary folders removed).
    pub cancel: CancelToken,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            timeout: None,
            compare: CompareOptions::default(),
            cancel: CancelToken::new(),
        }
    }
}

/// The result of [`Mode::Render`].
#[derive(Debug, Clone, PartialEq)]
pub enum RenderOutcome {
    /// The new render is the same pipeline as the committed output, which was left untouched.
    Unchanged,
    /// The committed output was replaced; these are the changes.
    Updated(Changes),
    /// There was no output; it was created.
    Created,
}

/// Whether the committed output matches a fresh render.
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    /// It matches.
    UpToDate,
    /// It differs; these are the changes from the committed output to the fresh render.
    Stale(Changes),
    /// There is no committed output.
    Missing,
}

/// Whether two renders of the same target agree.
#[derive(Debug, Clone, PartialEq)]
pub enum Determinism {
    /// They agree.
    Deterministic,
    /// They differ; these are the changes from the first render to the second.
    NonDeterministic(Changes),
}

/// The result of [`Mode::Check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// The committed output against a fresh render.
    pub freshness: Freshness,
    /// The determinism check, when asked for.
    pub determinism: Option<Determinism>,
}

/// What happened to one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// See [`Mode::Render`].
    Render(RenderOutcome),
    /// See [`Mode::Check`].
    Check(CheckOutcome),
    /// See [`Mode::Determinism`].
    Determinism(Determinism),
}

impl Outcome {
    /// True when the outcome is something CI must fail on: a stale or missing output, or a render that
    /// is not deterministic.
    pub fn is_problem(&self) -> bool {
        match self {
            Self::Render(_) => false,
            Self::Check(check) => {
                check.freshness != Freshness::UpToDate
                    || matches!(check.determinism, Some(Determinism::NonDeterministic(_)))
            }
            Self::Determinism(determinism) => {
                matches!(determinism, Determinism::NonDeterministic(_))
            }
        }
    }
}

/// The report of one target.
#[derive(Debug)]
pub struct TargetReport {
    /// The target's name.
    pub name: String,
    /// Its output folder.
    pub output: PathBuf,
    /// What happened, or why it failed.
    pub result: Result<Outcome, RenderError>,
}

/// Progress of [`run_targets`], for a progress bar or log lines.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A target started rendering.
    Started {
        /// Its position in the target list.
        index: usize,
        /// The target.
        target: &'a RenderTarget,
    },
    /// A target is done.
    Finished {
        /// Its position in the target list.
        index: usize,
        /// Its report.
        report: &'a TargetReport,
    },
}

/// Checks that the targets can run together: no two write the same output folder.
pub fn validate_targets(targets: &[RenderTarget]) -> Result<(), RenderError> {
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for target in targets {
        let output = crate::target::absolute_path(&target.output)
            .map_err(|err| RenderError::io("resolve", &target.output, err))?;
        if let Some((_, first)) = seen.iter().find(|(path, _)| *path == output) {
            return Err(RenderError::DuplicateOutput {
                first: (*first).to_owned(),
                second: target.name.clone(),
                output,
            });
        }
        seen.push((output, &target.name));
    }
    Ok(())
}

/// Runs `mode` for every target, `options.jobs` at a time. A failing target does not stop the others.
/// Reports come back in target order; `on_event` sees them as they happen (from worker threads).
pub fn run_targets(
    targets: &[RenderTarget],
    mode: Mode,
    options: &RenderOptions,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Vec<TargetReport>, RenderError> {
    validate_targets(targets)?;
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<Option<TargetReport>>> =
        Mutex::new(targets.iter().map(|_| None).collect());
    let workers = options.jobs.clamp(1, targets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(target) = targets.get(index) else {
                        break;
                    };
                    on_event(Event::Started { index, target });
                    let report = TargetReport {
                        name: target.name.clone(),
                        output: target.output.clone(),
                        result: run_one(target, mode, options),
                    };
                    on_event(Event::Finished {
                        index,
                        report: &report,
                    });
                    if let Ok(mut reports) = reports.lock() {
                        reports[index] = Some(report);
                    }
                }
            });
        }
    });
    let reports = reports
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(reports
        .into_iter()
        .zip(targets)
        .map(|(report, target)| {
            report.unwrap_or_else(|| TargetReport {
                name: target.name.clone(),
                output: target.output.clone(),
                result: Err(RenderError::Cancelled),
            })
        })
        .collect())
}

/// Runs `mode` for one target.
pub fn run_one(
    target: &RenderTarget,
    mode: Mode,
    options: &RenderOptions,
) -> Result<Outcome, RenderError> {
    match mode {
        Mode::Render => render(target, options).map(Outcome::Render),
        Mode::Check { determinism } => check(target, determinism, options).map(Outcome::Check),
        Mode::Determinism => check_determinism(target, options).map(Outcome::Determinism),
    }
}

/// Renders `target` and replaces its output when the pipeline changed. Entries of the committed output
/// besides `workflow.yaml` and `params/` (the user's files) are carried over unchanged into the new one.
pub fn render(
    target: &RenderTarget,
    options: &RenderOptions,
) -> Result<RenderOutcome, RenderError> {
    let (staging, fresh) = render_to_staging(target, options)?;
    let outcome = match RenderedPipeline::read_committed(&target.output) {
        Ok(None) => RenderOutcome::Created,
        Ok(Some(committed)) => {
            let changes = Changes::between(&committed, &fresh, &options.compare);
            if changes.is_empty() {
                return Ok(RenderOutcome::Unchanged);
            }
            RenderOutcome::Updated(changes)
        }
        Err(reason) => {
            RenderOutcome::Updated(Changes::unreadable(reason, &fresh, &options.compare))
        }
    };
    if options.cancel.is_cancelled() {
        return Err(RenderError::Cancelled);
    }
    // Copied, not moved: until the new render is in place the old output must stay whole, for the
    // rollback and for a run that dies midway.
    let extras = extra_entries(&target.output)?;
    copy_entries(&target.output, &staging.rendered(), &extras)?;
    staging.replace_output()?;
    Ok(outcome)
}

/// Renders `target` into a temporary folder and compares it with the committed output, which is never
/// touched; with `determinism`, renders a second time and compares the two renders.
pub fn check(
    target: &RenderTarget,
    determinism: bool,
    options: &RenderOptions,
) -> Result<CheckOutcome, RenderError> {
    let (_staging, fresh) = render_to_staging(target, options)?;
    let freshness = match RenderedPipeline::read_committed(&target.output) {
        Ok(None) => Freshness::Missing,
        Ok(Some(committed)) => {
            let changes = Changes::between(&committed, &fresh, &options.compare);
            if changes.is_empty() {
                Freshness::UpToDate
            } else {
                Freshness::Stale(changes)
            }
        }
        Err(reason) => Freshness::Stale(Changes::unreadable(reason, &fresh, &options.compare)),
    };
    let determinism = if determinism {
        Some(render_again(target, &fresh, options)?)
    } else {
        None
    };
    Ok(CheckOutcome {
        freshness,
        determinism,
    })
}

/// Renders `target` twice into temporary folders and compares the two renders.
pub fn check_determinism(
    target: &RenderTarget,
    options: &RenderOptions,
) -> Result<Determinism, RenderError> {
    let (_staging, first) = render_to_staging(target, options)?;
    render_again(target, &first, options)
}

fn render_again(
    target: &RenderTarget,
    first: &RenderedPipeline,
    options: &RenderOptions,
) -> Result<Determinism, RenderError> {
    let (_staging, second) = render_to_staging(target, options)?;
    let changes = Changes::between(first, &second, &options.compare);
    Ok(if changes.is_empty() {
        Determinism::Deterministic
    } else {
        Determinism::NonDeterministic(changes)
    })
}

/// Cleans up after earlier runs, renders into a fresh staging folder and validates the result.
fn render_to_staging(
    target: &RenderTarget,
    options: &RenderOptions,
) -> Result<(Staging, RenderedPipeline), RenderError> {
    if options.cancel.is_cancelled() {
        return Err(RenderError::Cancelled);
    }
    // Checked before the staging folder exists: creating it could otherwise create a mistyped workdir.
    if target.command.is_empty() {
        return Err(RenderError::EmptyCommand);
    }
    if !target.workdir.is_dir() {
        return Err(RenderError::MissingWorkdir {
            path: target.workdir.clone(),
        });
    }
    remove_stale(&target.output)?;
    let staging = Staging::create(&target.output)?;
    let rendered = staging.rendered();
    run_render_command(
        target,
        &rendered,
        staging.logs(),
        options.timeout,
        &options.cancel,
    )?;
    let pipeline = RenderedPipeline::read_fresh(&rendered, || stderr_of(staging.logs()))?;
    Ok((staging, pipeline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const WORKFLOW: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: p-, annotations: {pipelines.kubeflow.org/pipeline_spec: \"{}\"}}\nspec: {entrypoint: p, templates: []}\n";

    /// A target whose command runs `script` with `$1` = the output folder.
    fn target(dir: &Path, name: &str, script: &str) -> RenderTarget {
        RenderTarget::new(
            name,
            dir,
            vec![
                "sh".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                "{output}".into(),
            ],
            dir.join(name),
        )
    }

    fn writes(text: &str) -> String {
        format!("printf '%s' '{text}' > \"$1/workflow.yaml\"")
    }

    #[test]
    fn targets_run_in_parallel_and_a_failure_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let targets = vec![
            target(dir.path(), "a", &writes(WORKFLOW)),
            target(dir.path(), "b", "echo broken >&2; exit 1"),
            target(dir.path(), "c", &writes(WORKFLOW)),
        ];
        let events = Mutex::new(Vec::new());
        let options = RenderOptions {
            jobs: 2,
            ..RenderOptions::default()
        };
        let reports = run_targets(&targets, Mode::Render, &options, &|event| {
            let line = match event {
                Event::Started { index, .. } => format!("start {index}"),
                Event::Finished { index, .. } => format!("finish {index}"),
            };
            events.lock().unwrap().push(line);
        })
        .unwrap();
        let names: Vec<&str> = reports.iter().map(|report| report.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(matches!(
            reports[0].result,
            Ok(Outcome::Render(RenderOutcome::Created))
        ));
        assert!(
            matches!(&reports[1].result, Err(RenderError::CommandFailed { stderr, .. }) if stderr == "broken")
        );
        assert!(matches!(
            reports[2].result,
            Ok(Outcome::Render(RenderOutcome::Created))
        ));
        let mut events = events.into_inner().unwrap();
        events.sort();
        assert_eq!(
            events,
            [
                "finish 0", "finish 1", "finish 2", "start 0", "start 1", "start 2"
            ]
        );
        assert!(dir.path().join("a/workflow.yaml").is_file());
        assert!(!dir.path().join("b").exists());
    }

    #[test]
    fn two_targets_writing_one_output_are_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut second = target(dir.path(), "b", &writes(WORKFLOW));
        second.output = dir.path().join("x/../a");
        let targets = vec![target(dir.path(), "a", &writes(WORKFLOW)), second];
        let err = run_targets(&targets, Mode::Render, &RenderOptions::default(), &|_| {});
        assert!(
            matches!(&err, Err(RenderError::DuplicateOutput { first, second, .. }) if first == "a" && second == "b"),
            "{err:?}"
        );
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn a_missing_workdir_is_an_error_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = dir.path().join("typo");
        let mut target = target(dir.path(), "a", &writes(WORKFLOW));
        target.workdir = workdir.clone();
        target.output = workdir.join("RENDERED_PIPELINE");
        let err = render(&target, &RenderOptions::default()).unwrap_err();
        assert!(
            matches!(&err, RenderError::MissingWorkdir { path } if *path == workdir),
            "{err:?}"
        );
        assert!(!workdir.exists());
    }

    #[test]
    fn a_cancelled_run_renders_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let options = RenderOptions::default();
        options.cancel.cancel();
        let target = target(dir.path(), "a", &writes(WORKFLOW));
        let err = render(&target, &options).unwrap_err();
        assert!(matches!(err, RenderError::Cancelled), "{err:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn replacing_an_output_carries_the_users_files_over_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let options = RenderOptions::default();
        let output = dir.path().join("a");
        // A folder the team created with only its notes: no render yet, so it is replaced.
        std::fs::create_dir_all(output.join("docs")).unwrap();
        std::fs::write(output.join("README.md"), "# Rendered by CI\n").unwrap();
        std::fs::write(output.join("docs/diagram.txt"), "a -> b").unwrap();
        let first = target(dir.path(), "a", &writes(WORKFLOW));
        let outcome = render(&first, &options).unwrap();
        assert!(
            matches!(&outcome, RenderOutcome::Updated(changes) if changes.unreadable.is_some()),
            "{outcome:?}"
        );
        let mut names: Vec<String> = std::fs::read_dir(&output)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["README.md", "docs", "workflow.yaml"]);

        // They are no part of the pipeline: the output is current, and a real change keeps them.
        let current = check(&first, false, &options).unwrap();
        assert_eq!(current.freshness, Freshness::UpToDate);
        let changed = target(
            dir.path(),
            "a",
            &writes(&WORKFLOW.replace("entrypoint: p", "entrypoint: q")),
        );
        assert!(matches!(
            render(&changed, &options).unwrap(),
            RenderOutcome::Updated(_)
        ));
        assert!(
            std::fs::read_to_string(output.join("workflow.yaml"))
                .unwrap()
                .contains("entrypoint: q")
        );
        assert_eq!(
            std::fs::read_to_string(output.join("README.md")).unwrap(),
            "# Rendered by CI\n"
        );
        assert_eq!(
            std::fs::read_to_string(output.join("docs/diagram.txt")).unwrap(),
            "a -> b"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn check_and_determinism_outcomes_are_problems_only_when_something_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let target = target(dir.path(), "a", &writes(WORKFLOW));
        let options = RenderOptions::default();
        let missing = run_one(&target, Mode::Check { determinism: true }, &options).unwrap();
        assert_eq!(
            missing,
            Outcome::Check(CheckOutcome {
                freshness: Freshness::Missing,
                determinism: Some(Determinism::Deterministic)
            })
        );
        assert!(missing.is_problem());
        assert_eq!(
            run_one(&target, Mode::Render, &options).unwrap(),
            Outcome::Render(RenderOutcome::Created)
        );
        let current = run_one(&target, Mode::Check { determinism: false }, &options).unwrap();
        assert!(!current.is_problem(), "{current:?}");
        let steady = run_one(&target, Mode::Determinism, &options).unwrap();
        assert_eq!(steady, Outcome::Determinism(Determinism::Deterministic));
        assert!(!steady.is_problem());
    }
}
