//! Verified rollouts in the plan, while `apply` waits, and in its summary.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};

use kfp_config::format_seconds;
use kfp_reconcile::{ApplyReport, Outcome, ProgressSink, Verification, VerifyProgress, VersionRef};
use kfp_reconcile::{DISCARD, START_VERIFICATION, VERIFY};

use super::Palette;
use crate::args::OutputFormat;
use crate::commands::run::run_url;
use crate::output::Context;

/// The plan's line of a verification.
pub fn render_verify_action(
    out: &mut String,
    version: &VersionRef,
    verification: &Verification,
    p: Palette,
) {
    let mut details = vec![format!(
        "timeout {}",
        format_seconds(verification.timeout_seconds)
    )];
    if !verification.parameters.is_empty() {
        let values: Vec<String> = verification
            .parameters
            .iter()
            .map(|parameter| format!("{}={}", parameter.name, parameter.value))
            .collect();
        details.push(format!("run parameters {}", values.join(", ")));
    }
    details.push(if verification.keep_failed {
        "kept paused if it fails".to_owned()
    } else {
        "deleted if it fails".to_owned()
    });
    let _ = writeln!(
        out,
        "      {}*{} verify {} with one run first {}({}){}",
        p.cyan,
        p.reset,
        version.name,
        p.dim,
        details.join("; "),
        p.reset
    );
}

/// Where `apply` reports verification progress, on stderr: on a terminal a line per change of state and
/// a status line that counts the time; otherwise a line per change of state.
pub fn progress_sink(ctx: &Context) -> ProgressSink {
    let terminal = ctx.format == OutputFormat::Text && std::io::stderr().is_terminal();
    ProgressSink::new(move |progress: &VerifyProgress| {
        let place = if progress.namespace.is_empty() {
            progress.job.clone()
        } else {
            format!("{}/{}", progress.namespace, progress.job)
        };
        let state = if progress.state.is_empty() {
            "starting"
        } else {
            progress.state.as_str()
        };
        let elapsed = format_seconds(progress.elapsed_seconds);
        if progress.changed {
            let how = if progress.started && progress.state.is_empty() {
                "started"
            } else {
                "is"
            };
            if terminal {
                eprintln!(
                    "\r\x1b[Kverify {place}: run {} ({}) {how} {state} after {elapsed}",
                    progress.run_name, progress.run_id
                );
            } else {
                eprintln!(
                    "verify {place}: run {} ({}) {how} {state} after {elapsed}",
                    progress.run_name, progress.run_id
                );
            }
        } else if terminal {
            eprint!(
                "\r\x1b[Kverify {place}: waiting for run {}: {state}, {elapsed}",
                progress.run_name
            );
            let _ = std::io::stderr().flush();
        }
    })
}

/// The summary of the verifications of an apply: which were verified, which failed and why (with the
/// run's page in the KFP UI), which are still waiting. Empty when nothing was verified.
pub fn render_verifications(reports: &[ApplyReport], api_url: &str, p: Palette) -> String {
    let mut out = String::new();
    let (mut verified, mut failed, mut pending) = (0usize, 0usize, 0usize);
    for report in reports {
        for job in &report.jobs {
            let Some(step) = job.steps.iter().rev().find(|step| {
                step.action == VERIFY
                    || (step.action == START_VERIFICATION && !step.outcome.is_success())
            }) else {
                continue;
            };
            let place = if report.namespace.is_empty() {
                job.name.clone()
            } else {
                format!("{}/{}", report.namespace, job.name)
            };
            let link = step
                .id
                .as_deref()
                .map(|id| format!("\n      {}{}{}", p.dim, run_url(api_url, id), p.reset))
                .unwrap_or_default();
            match &step.outcome {
                Outcome::Failed { message } => {
                    failed += 1;
                    let discarded = job
                        .steps
                        .iter()
                        .any(|step| step.action == DISCARD && step.outcome.is_success());
                    let fate = if discarded {
                        " (the new version was deleted)"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        out,
                        "  {}✗{} {place}: {message}{fate}{link}",
                        p.red, p.reset
                    );
                }
                Outcome::Pending { message } => {
                    pending += 1;
                    let _ = writeln!(out, "  {}…{} {place}: {message}", p.yellow, p.reset);
                }
                _ => {
                    verified += 1;
                    let swapped = job.steps.iter().all(|step| step.outcome.is_success());
                    let then = if swapped {
                        "it took over the schedule"
                    } else {
                        "the swap after it failed"
                    };
                    let _ = writeln!(
                        out,
                        "  {}✓{} {place}: run {} succeeded; {then}",
                        p.green, p.reset, step.target
                    );
                }
            }
        }
    }
    if verified + failed + pending == 0 {
        return String::new();
    }
    format!(
        "{}Verified rollout:{} {verified} verified, {failed} failed, {pending} waiting.\n{out}",
        p.bold, p.reset
    )
}

#[cfg(test)]
mod tests {
    use kfp_reconcile::{JobReport, Parameter, StepReport};

    use super::*;

    fn step(action: &str, target: &str, id: &str, outcome: Outcome) -> StepReport {
        StepReport {
            action: action.to_owned(),
            target: target.to_owned(),
            id: Some(id.to_owned()),
            outcome,
        }
    }

    #[test]
    fn the_summary_says_which_were_verified_which_failed_and_why() {
        let report = ApplyReport {
            namespace: "team-1".to_owned(),
            experiments: Vec::new(),
            not_started: Vec::new(),
            jobs: vec![
                JobReport {
                    name: "good".to_owned(),
                    steps: vec![
                        step(START_VERIFICATION, "VERIFY::good__t", "r1", Outcome::Done),
                        step(VERIFY, "VERIFY::good__t", "r1", Outcome::Done),
                        step("enable", "GIT::good__t", "j1", Outcome::Done),
                    ],
                },
                JobReport {
                    name: "bad".to_owned(),
                    steps: vec![
                        step(
                            VERIFY,
                            "VERIFY::bad__t",
                            "r2",
                            Outcome::Failed {
                                message: "run r2 ended Failed".to_owned(),
                            },
                        ),
                        step(DISCARD, "GIT::bad__t", "j2", Outcome::Done),
                    ],
                },
                JobReport {
                    name: "plain".to_owned(),
                    steps: vec![step("enable", "GIT::plain__t", "j3", Outcome::Done)],
                },
            ],
        };
        let text = render_verifications(&[report], "http://kfp", Palette::new(false));
        assert_eq!(
            text,
            "Verified rollout: 1 verified, 1 failed, 0 waiting.\n\
             \x20 ✓ team-1/good: run VERIFY::good__t succeeded; it took over the schedule\n\
             \x20 ✗ team-1/bad: run r2 ended Failed (the new version was deleted)\n\
             \x20     http://kfp/#/runs/details/r2\n"
        );
        assert_eq!(
            render_verifications(&[], "http://kfp", Palette::new(false)),
            ""
        );
    }

    #[test]
    fn the_plan_line_names_the_timeout_the_run_parameters_and_the_fate_of_a_failure() {
        let mut out = String::new();
        render_verify_action(
            &mut out,
            &VersionRef {
                id: None,
                name: "GIT::n__t".to_owned(),
            },
            &Verification {
                timeout_seconds: 5400,
                keep_failed: true,
                parameters: vec![Parameter {
                    name: "rows".to_owned(),
                    value: "10".to_owned(),
                }],
            },
            Palette::new(false),
        );
        assert_eq!(
            out,
            "      * verify GIT::n__t with one run first (timeout 1h30m; run parameters rows=10; kept paused if it fails)\n"
        );
    }
}
