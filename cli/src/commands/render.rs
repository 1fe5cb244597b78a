//! `kfp-gitops render`: render pipelines into their committed output folders, or check that those are
//! current (`--check`) and that rendering is deterministic (`--check-determinism`).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kfp_client::CancelToken;
use kfp_render::{
    Changes, CheckOutcome, Determinism, Event, Freshness, Mode, Outcome, RenderOptions,
    RenderOutcome, RenderTarget, TargetReport,
};
use serde_json::{Value, json};

use kfp_config::{PROJECT_FILE_NAME, Project, ProjectFile};

use kfp_config::plural;

use crate::args::OutputFormat;
use crate::failure::{self, Failure, Status};
use crate::kfp_args::parse_duration;
use crate::output::Context;

/// How many differing paths a non-deterministic target lists before summarising the rest.
const MAX_LISTED_PATHS: usize = 40;

const DETERMINISM_HINT: &str = "the pipeline definition is not deterministic (e.g. datetime.now() at \
definition time); compute such values inside a step, or use Argo variables such as \
{{workflow.creationTimestamp.RFC3339}} in a step's arguments instead";

/// Render pipelines (KFP v1 DSL → Argo Workflow YAML) into their committed output folders, replacing an
/// output only when the pipeline really changed.
#[derive(Debug, Args)]
#[command(after_long_help = "\
Targets come from the project file (kfp-gitops.yaml, `render_targets`) or, for one ad-hoc target, from \
--workdir/--output-dir and a command after `--`. In the command, `{output}` is replaced by the folder the \
command must write workflow.yaml and params/ into; the same folder is in $KFP_GITOPS_OUTPUT.

Examples:
  kfp-gitops render                         render every target of kfp-gitops.yaml
  kfp-gitops render daily-digest            render one target
  kfp-gitops render --check                 CI: fail when a committed render is stale or missing
  kfp-gitops render --check-determinism     render twice and show what differs
  kfp-gitops render --workdir pipelines/p1 -- python pipeline.py --output {output}")]
pub struct RenderArgs {
    /// Targets to render, by name (default: every target of the project file)
    #[arg(value_name = "TARGET", conflicts_with_all = ["command", "workdir", "output_dir"])]
    pub targets: Vec<String>,

    /// Render into temporary folders only and exit 1 if any committed output is stale or missing,
    /// showing a diff
    #[arg(long)]
    pub check: bool,

    /// Render each target twice and exit 1 if the two renders differ, listing the differing paths
    #[arg(long)]
    pub check_determinism: bool,

    /// How many targets render at once [default: the number of CPUs]
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// Kill a render command running longer than this (e.g. `90s`, `5m`)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// The project file [default: kfp-gitops.yaml in the current folder or the nearest parent]
    #[arg(long, value_name = "FILE", conflicts_with = "command")]
    pub project: Option<PathBuf>,

    /// Ad-hoc target: the working directory of the command [default: .]
    #[arg(long, value_name = "DIR", requires = "command")]
    pub workdir: Option<PathBuf>,

    /// Ad-hoc target: the output folder, relative to --workdir [default: RENDERED_PIPELINE]
    #[arg(long, value_name = "DIR", requires = "command")]
    pub output_dir: Option<PathBuf>,

    /// Ad-hoc target: the render command and its arguments (`{output}` is substituted)
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Runs `kfp-gitops render`.
pub fn run(args: &RenderArgs, ctx: &Context) -> Result<Status, Failure> {
    let targets = select_targets(args)?;
    let mode = match (args.check, args.check_determinism) {
        (true, determinism) => Mode::Check { determinism },
        (false, true) => Mode::Determinism,
        (false, false) => Mode::Render,
    };
    let cancel = interrupt_token();
    let options = RenderOptions {
        jobs: args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, usize::from),
            usize::from,
        ),
        timeout: args.timeout,
        cancel: cancel.clone(),
        ..RenderOptions::default()
    };

    let progress = Progress::new(ctx, &targets, mode);
    let reports = kfp_render::run_targets(&targets, mode, &options, &|event| {
        progress.on_event(event);
    })
    .map_err(|err| failure::render_error(&err))?;
    progress.finish();

    // Read once: what is reported and the exit status must agree even if Ctrl-C comes only now.
    let interrupted = cancel.is_cancelled();
    match ctx.format {
        OutputFormat::Json => println!("{}", json_document(&reports, mode, interrupted)),
        OutputFormat::Text => print_details(&reports, ctx),
    }
    if interrupted {
        return Err(interruption(&reports)
            .interrupted()
            .json_reported_if(ctx.format));
    }
    conclude(&reports, mode).map_err(|failure| failure.json_reported_if(ctx.format))
}

/// The failure of an interrupted run: how many targets finished (each reported as usual) and which
/// were stopped or never started, whose outputs are unchanged.
fn interruption(reports: &[TargetReport]) -> Failure {
    let cancelled: Vec<&str> = reports
        .iter()
        .filter(|report| is_cancelled(report))
        .map(|report| report.name.as_str())
        .collect();
    let total = reports.len();
    let finished = total - cancelled.len();
    let mut message = format!(
        "interrupted: {finished} of {total} render target{} finished",
        plural(total)
    );
    if !cancelled.is_empty() {
        let _ = write!(
            message,
            "; the running render commands were killed and their temporary folders removed, the \
             outputs of the others are unchanged: {}",
            cancelled.join(", ")
        );
    }
    Failure::new(message)
}

fn is_cancelled(report: &TargetReport) -> bool {
    matches!(report.result, Err(kfp_render::RenderError::Cancelled))
}

/// The targets to work on: the ad-hoc one from flags, or the named (or all) targets of the project file.
fn select_targets(args: &RenderArgs) -> Result<Vec<RenderTarget>, Failure> {
    if !args.command.is_empty() {
        let workdir = args.workdir.clone().unwrap_or_else(|| PathBuf::from("."));
        let output_dir = args
            .output_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(kfp_render::DEFAULT_OUTPUT));
        let output = workdir.join(&output_dir);
        let name = display_path(&output);
        return Ok(vec![RenderTarget::new(
            name,
            workdir,
            args.command.clone(),
            output,
        )]);
    }
    let all = project_targets(args.project.as_deref())?;
    if args.targets.is_empty() {
        if all.is_empty() {
            return Err(
                Failure::new(format!("{PROJECT_FILE_NAME} declares no render targets")).hint(
                    "add `render_targets` to kfp-gitops.yaml, or render one ad-hoc target: \
                     kfp-gitops render --workdir DIR -- python pipeline.py --output {output}",
                ),
            );
        }
        return Ok(all);
    }
    let mut selected = Vec::new();
    for name in &args.targets {
        let Some(target) = all.iter().find(|target| &target.name == name) else {
            let known: Vec<&str> = all.iter().map(|target| target.name.as_str()).collect();
            return Err(Failure::new(format!("no render target named `{name}`"))
                .hint(format!("the project file declares: {}", known.join(", "))));
        };
        if !selected.contains(target) {
            selected.push(target.clone());
        }
    }
    Ok(selected)
}

/// The render targets of the project file, with paths resolved: `workdir` against the file's folder,
/// `output` against `workdir`.
fn project_targets(explicit: Option<&Path>) -> Result<Vec<RenderTarget>, Failure> {
    let project_error =
        |err: kfp_config::ProjectError| Failure::from_error("cannot use the project file", &err);
    let project = match explicit {
        Some(path) => Project::load(path).map_err(project_error)?,
        None => {
            let cwd = std::env::current_dir()
                .map_err(|err| Failure::io("reading the current folder", &err))?;
            ProjectFile::discover(&cwd)
                .map_err(project_error)?
                .ok_or_else(|| {
                    Failure::new(format!(
                        "no render targets: there is no {PROJECT_FILE_NAME} here or in a parent folder"
                    ))
                    .hint(
                        "declare `render_targets` in kfp-gitops.yaml, or render one ad-hoc target: \
                         kfp-gitops render --workdir DIR -- python pipeline.py --output {output}",
                    )
                })?
        }
    };
    Ok(project
        .file
        .render_targets
        .iter()
        .map(|target| {
            let workdir = project.resolve(&target.workdir);
            let output = workdir.join(&target.output);
            RenderTarget::new(&target.name, workdir, target.command.clone(), output)
        })
        .collect())
}

/// A cancellation token triggered by Ctrl-C (and SIGTERM); a second Ctrl-C exits at once.
fn interrupt_token() -> CancelToken {
    static TOKEN: OnceLock<CancelToken> = OnceLock::new();
    TOKEN
        .get_or_init(|| {
            let token = CancelToken::new();
            let handler_token = token.clone();
            let installed = ctrlc::set_handler(move || {
                if handler_token.is_cancelled() {
                    eprintln!("interrupted again: exiting without cleaning up");
                    std::process::exit(130);
                }
                eprintln!("interrupted: stopping the render commands and cleaning up...");
                handler_token.cancel();
            });
            if let Err(err) = installed {
                tracing::warn!("cannot handle Ctrl-C, an interrupted render may leave temporary folders until the next run: {err}");
            }
            token
        })
        .clone()
}

/// Shows which targets run and prints a result line per finished target: a progress bar on a terminal,
/// plain lines otherwise, nothing in JSON mode (the document comes at the end).
struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    color: bool,
    mode: Mode,
    running: Mutex<Vec<String>>,
}

impl Progress {
    fn new(ctx: &Context, targets: &[RenderTarget], mode: Mode) -> Self {
        let text = ctx.format == OutputFormat::Text;
        let bar = (text && std::io::stderr().is_terminal() && !targets.is_empty()).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(targets.len() as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            lines: text,
            color: ctx.color,
            mode,
            running: Mutex::new(Vec::new()),
        }
    }

    fn on_event(&self, event: Event<'_>) {
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        match event {
            Event::Started { target, .. } => running.push(target.name.clone()),
            Event::Finished { report, .. } => {
                running.retain(|name| *name != report.name);
                if self.lines {
                    let line = summary_line(report, self.mode, self.color);
                    match &self.bar {
                        Some(bar) => bar.suspend(|| println!("{line}")),
                        None => println!("{line}"),
                    }
                }
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
        }
        if let Some(bar) = &self.bar {
            if running.is_empty() {
                bar.set_message("");
            } else {
                bar.set_message(format!("rendering {}", running.join(", ")));
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What happened to a target, in one word (also used in JSON).
fn status_word(report: &TargetReport) -> &'static str {
    match &report.result {
        Err(kfp_render::RenderError::Cancelled) => "cancelled",
        Err(_) => "failed",
        Ok(Outcome::Render(RenderOutcome::Unchanged)) => "unchanged",
        Ok(Outcome::Render(RenderOutcome::Updated(_))) => "updated",
        Ok(Outcome::Render(RenderOutcome::Created)) => "created",
        Ok(Outcome::Check(check)) => match (&check.freshness, &check.determinism) {
            (Freshness::Missing, _) => "missing",
            (Freshness::Stale(_), _) => "stale",
            (Freshness::UpToDate, Some(Determinism::NonDeterministic(_))) => "non-deterministic",
            (Freshness::UpToDate, _) => "up-to-date",
        },
        Ok(Outcome::Determinism(Determinism::Deterministic)) => "deterministic",
        Ok(Outcome::Determinism(Determinism::NonDeterministic(_))) => "non-deterministic",
    }
}

fn summary_line(report: &TargetReport, mode: Mode, color: bool) -> String {
    let word = status_word(report);
    let width = match mode {
        Mode::Render => "unchanged".len(),
        Mode::Check { determinism: false } => "up-to-date".len(),
        Mode::Check { determinism: true } | Mode::Determinism => "non-deterministic".len(),
    };
    let paint = if !color {
        ""
    } else {
        match word {
            "failed" | "stale" | "missing" | "non-deterministic" => "\x1b[1;31m",
            "updated" | "created" | "cancelled" => "\x1b[1;33m",
            _ => "\x1b[32m",
        }
    };
    let reset = if paint.is_empty() { "" } else { "\x1b[0m" };
    let mut line = format!(
        "{paint}{word:<width$}{reset} {} ({})",
        report.name,
        display_path(&report.output)
    );
    match &report.result {
        Ok(Outcome::Render(RenderOutcome::Updated(changes)))
        | Ok(Outcome::Check(CheckOutcome {
            freshness: Freshness::Stale(changes),
            ..
        })) => {
            let _ = write!(line, ": {}", describe_changes(changes));
        }
        Ok(Outcome::Determinism(Determinism::NonDeterministic(changes))) => {
            let _ = write!(line, ": {}", describe_changes(changes));
        }
        Err(err) => {
            let _ = write!(line, ": {err}");
        }
        _ => {}
    }
    line
}

fn describe_changes(changes: &Changes) -> String {
    if let Some(reason) = &changes.unreadable {
        return reason.clone();
    }
    let mut parts = Vec::new();
    match changes.workflow.len() {
        0 => {}
        1 => parts.push("1 workflow difference".to_owned()),
        n => parts.push(format!("{n} workflow differences")),
    }
    match changes.params.len() {
        0 => {}
        1 => parts.push("1 parameter file differs".to_owned()),
        n => parts.push(format!("{n} parameter files differ")),
    }
    parts.join(", ")
}

/// After the result lines: the stderr of failed commands, the diffs of stale outputs and the paths of
/// non-deterministic renders, in target order.
fn print_details(reports: &[TargetReport], ctx: &Context) {
    let mut nondeterministic = false;
    for report in reports {
        match &report.result {
            // Summed up by the interruption's own message.
            Err(_) if is_cancelled(report) => {}
            Err(err) => {
                let mut failure = failure::render_error(err);
                // The message gains the target's name; drop the cause that merely repeated it.
                let message = std::mem::take(&mut failure.message);
                failure.causes.retain(|cause| *cause != message);
                failure.message = format!("{}: {message}", report.name);
                failure.report(ctx);
            }
            Ok(Outcome::Check(check)) => {
                if let Freshness::Stale(changes) = &check.freshness {
                    print!(
                        "{}",
                        changes.unified_diff(&display_path(&report.output), "rendered")
                    );
                }
                if let Some(Determinism::NonDeterministic(changes)) = &check.determinism {
                    print_paths(report, changes);
                    nondeterministic = true;
                }
            }
            Ok(Outcome::Determinism(Determinism::NonDeterministic(changes))) => {
                print_paths(report, changes);
                nondeterministic = true;
            }
            Ok(_) => {}
        }
    }
    if nondeterministic {
        eprintln!("hint: {DETERMINISM_HINT}");
    }
}

fn print_paths(report: &TargetReport, changes: &Changes) {
    println!("{}: two renders differ at:", report.name);
    for difference in changes.workflow.iter().take(MAX_LISTED_PATHS) {
        println!(
            "  workflow.yaml {} ({})",
            pointer_or_root(&difference.pointer),
            kind_word(difference.kind)
        );
    }
    if changes.workflow.len() > MAX_LISTED_PATHS {
        println!(
            "  ... and {} more",
            changes.workflow.len() - MAX_LISTED_PATHS
        );
    }
    for param in &changes.params {
        println!("  params/{} ({})", param.name, kind_word(param.kind));
    }
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

fn kind_word(kind: kfp_config::DifferenceKind) -> &'static str {
    match kind {
        kfp_config::DifferenceKind::Added => "added",
        kfp_config::DifferenceKind::Removed => "removed",
        kfp_config::DifferenceKind::Changed => "changed",
    }
}

/// The `--output json` document; `interrupted` (present only when true) says that Ctrl-C stopped the
/// run, the targets it stopped or never started having the status `cancelled`.
fn json_document(reports: &[TargetReport], mode: Mode, interrupted: bool) -> Value {
    let targets: Vec<Value> = reports
        .iter()
        .map(|report| {
            let mut target = json!({
                "name": report.name,
                "output": display_path(&report.output),
                "status": status_word(report),
            });
            let changes_json = |changes: &Changes, old_label: &str| {
                json!({
                    "workflow": changes.workflow,
                    "params": changes.params,
                    "unreadable": changes.unreadable,
                    "diff": changes.unified_diff(old_label, "rendered"),
                })
            };
            let output_label = display_path(&report.output);
            match &report.result {
                Ok(Outcome::Render(RenderOutcome::Updated(changes))) => {
                    target["changes"] = changes_json(changes, &output_label);
                }
                Ok(Outcome::Check(check)) => {
                    if let Freshness::Stale(changes) = &check.freshness {
                        target["changes"] = changes_json(changes, &output_label);
                    }
                    if let Some(determinism) = &check.determinism {
                        target["determinism"] = determinism_json(determinism);
                    }
                }
                Ok(Outcome::Determinism(determinism)) => {
                    target["determinism"] = determinism_json(determinism);
                }
                Ok(Outcome::Render(_)) => {}
                Err(err) => {
                    let failure = failure::render_error(err);
                    target["error"] = json!({
                        "message": failure.message,
                        "causes": failure.causes,
                        "hint": failure.hint,
                        "stderr": err.stderr(),
                    });
                }
            }
            target
        })
        .collect();
    let mut document = json!({
        "format_version": 1,
        "mode": match mode {
            Mode::Render => "render",
            Mode::Check { .. } => "check",
            Mode::Determinism => "check-determinism",
        },
        "targets": targets,
    });
    if interrupted {
        document["interrupted"] = Value::Bool(true);
    }
    document
}

fn determinism_json(determinism: &Determinism) -> Value {
    match determinism {
        Determinism::Deterministic => json!({"deterministic": true}),
        Determinism::NonDeterministic(changes) => json!({
            "deterministic": false,
            "workflow": changes.workflow,
            "params": changes.params,
            "hint": DETERMINISM_HINT,
        }),
    }
}

/// The exit status: failures and (for the checks) stale, missing or non-deterministic targets fail.
fn conclude(reports: &[TargetReport], mode: Mode) -> Result<Status, Failure> {
    let total = reports.len();
    let failed = reports
        .iter()
        .filter(|report| report.result.is_err())
        .count();
    let problems: Vec<&TargetReport> = reports
        .iter()
        .filter(|report| report.result.as_ref().is_ok_and(Outcome::is_problem))
        .collect();
    if failed > 0 {
        return Err(Failure::new(format!(
            "{failed} of {total} render target{} failed",
            plural(total)
        )));
    }
    if problems.is_empty() {
        return Ok(Status::Ok);
    }
    let names: Vec<&str> = problems.iter().map(|report| report.name.as_str()).collect();
    let stale = problems
        .iter()
        .filter(|report| {
            matches!(
                &report.result,
                Ok(Outcome::Check(CheckOutcome {
                    freshness: Freshness::Stale(_) | Freshness::Missing,
                    ..
                }))
            )
        })
        .count();
    let nondeterministic = problems.len() - stale;
    if stale > 0 {
        let failure = Failure::new(format!(
            "{stale} of {total} rendered pipeline{} stale or missing: {}",
            if stale == 1 { " is" } else { "s are" },
            names.join(", ")
        ));
        return Err(failure.hint(if nondeterministic > 0 || mode == Mode::Determinism {
            "run `kfp-gitops render` and commit the output folders; make the non-deterministic pipelines deterministic first".to_owned()
        } else {
            "run `kfp-gitops render` and commit the output folders".to_owned()
        }));
    }
    Err(Failure::new(format!(
        "{nondeterministic} of {total} render target{} not deterministic: {}",
        if nondeterministic == 1 {
            " is"
        } else {
            "s are"
        },
        names.join(", ")
    )))
}

/// A path for humans: relative to the current directory when it is below it.
fn display_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| absolute.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    let shown = match relative {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative,
        None => path.to_path_buf(),
    };
    shown
        .components()
        .filter(|component| !matches!(component, std::path::Component::CurDir))
        .collect::<PathBuf>()
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_friendly_iso_and_plain_seconds() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT2M"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5s").is_err());
    }
}
