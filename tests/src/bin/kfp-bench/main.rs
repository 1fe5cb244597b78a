//! `kfp-bench`: the benchmark harness behind `cargo xtask bench`.
//!
//! `kfp-bench run` generates every input under a work folder, serves an in-process KFP emulator seeded from
//! a generated state file, runs the real `kfp-gitops` binary against it (wall time, peak RSS, requests
//! counted by the emulator), replays the reference scripts' request pattern with kfp-client next to it, and
//! writes a markdown report. A scenario that does not produce the expected outcome fails the run; a slow one
//! is only reported. `kfp-bench compare` is the in-process timing of a workflow comparison.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod generate;
mod measure;
mod reference;
mod report;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use kfp_config::{CompareOptions, Workflow, compare};

#[derive(Debug, Parser)]
#[command(
    name = "kfp-bench",
    version,
    about = "Benchmarks of kfp-gitops against the KFP emulator"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run every scenario and write the report.
    Run {
        /// Small sizes of every scenario (checks the harness; figures are not the targets' sizes).
        #[arg(long)]
        quick: bool,
        /// The kfp-gitops binary to measure.
        #[arg(long)]
        kfp_gitops: PathBuf,
        /// Folder for generated inputs and logs (emptied first).
        #[arg(long)]
        work: PathBuf,
        /// Where to write the markdown report.
        #[arg(long)]
        report: PathBuf,
        /// Build profile of the binaries, for the report.
        #[arg(long, default_value = "release")]
        profile: String,
        /// The command line shown in the report.
        #[arg(long, default_value = "cargo xtask bench")]
        command_line: String,
        /// Run only these scenarios (1-5; repeatable); all by default.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        only: Vec<u8>,
    },
    /// Time `kfp_config::compare` of two workflow files in-process; prints JSON.
    Compare {
        /// Left workflow (YAML).
        left: PathBuf,
        /// Right workflow (YAML).
        right: PathBuf,
        /// How many comparisons to time.
        #[arg(long, default_value_t = 10)]
        iterations: usize,
        /// Fail unless the comparison finds exactly this many differences.
        #[arg(long)]
        expect_differences: Option<usize>,
    },
}

fn main() -> ExitCode {
    let result = match Args::parse().command {
        Cmd::Run {
            quick,
            kfp_gitops,
            work,
            report,
            profile,
            command_line,
            only,
        } => run(
            quick,
            &kfp_gitops,
            &work,
            &report,
            &profile,
            &command_line,
            &only,
        ),
        Cmd::Compare {
            left,
            right,
            iterations,
            expect_differences,
        } => compare_files(&left, &right, iterations, expect_differences),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kfp-bench: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One scenario of [`scenarios::Bench`].
type Scenario = fn(&scenarios::Bench, &mut report::Report) -> Result<(), String>;

fn run(
    quick: bool,
    kfp_gitops: &Path,
    work: &Path,
    report_path: &Path,
    profile: &str,
    command_line: &str,
    only: &[u8],
) -> Result<(), String> {
    let started = Instant::now();
    if !kfp_gitops.is_file() {
        return Err(format!("no kfp-gitops binary at {}", kfp_gitops.display()));
    }
    if work.exists() {
        std::fs::remove_dir_all(work)
            .map_err(|err| format!("emptying {}: {err}", work.display()))?;
    }
    std::fs::create_dir_all(work).map_err(|err| format!("creating {}: {err}", work.display()))?;
    let work = work
        .canonicalize()
        .map_err(|err| format!("{}: {err}", work.display()))?;
    let kfp_gitops = kfp_gitops
        .canonicalize()
        .map_err(|err| format!("{}: {err}", kfp_gitops.display()))?;
    // kfp-gitops runs in the work folder; this empty project file stops the discovery of the repository's
    // own project file (its defaults) and makes the work folder the root local sources must stay in.
    std::fs::write(work.join("kfp-gitops.yaml"), "namespaces: []\n")
        .map_err(|err| format!("writing the work folder's project file: {err}"))?;
    let bench = scenarios::Bench {
        kfp_gitops,
        myself: std::env::current_exe().map_err(|err| format!("locating kfp-bench: {err}"))?,
        work,
        sizes: if quick {
            scenarios::Sizes::quick()
        } else {
            scenarios::Sizes::full()
        },
        quick,
    };
    let mut report = report::Report::default();
    let steps: [(&str, Scenario); 5] = [
        ("1. no-op reconcile", scenarios::Bench::no_op),
        ("2. apply", scenarios::Bench::apply),
        ("3. memory", scenarios::Bench::memory),
        ("4. rendering", scenarios::Bench::rendering),
        ("5. validate", scenarios::Bench::validate),
    ];
    for (number, (name, step)) in (1u8..).zip(steps) {
        if !only.is_empty() && !only.contains(&number) {
            continue;
        }
        let step_started = Instant::now();
        eprintln!("kfp-bench: scenario {name}");
        step(&bench, &mut report).map_err(|err| format!("scenario {name} failed: {err}"))?;
        eprintln!(
            "kfp-bench: scenario {name} done in {:.1} s",
            step_started.elapsed().as_secs_f64()
        );
    }
    let text = report.render(
        quick,
        profile,
        command_line,
        started.elapsed().as_secs_f64(),
    );
    if let Some(parent) = report_path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("creating {}: {err}", parent.display()))?;
    }
    std::fs::write(report_path, &text)
        .map_err(|err| format!("writing {}: {err}", report_path.display()))?;
    for target in report.targets() {
        eprintln!(
            "kfp-bench: target {}: {} — {}",
            match (target.at_size, target.met) {
                (true, true) => "met",
                (true, false) => "MISSED",
                (false, _) => "not evaluated at this size",
            },
            target.name,
            target.figure
        );
    }
    eprintln!("kfp-bench: report written to {}", report_path.display());
    Ok(())
}

fn compare_files(
    left: &std::path::Path,
    right: &std::path::Path,
    iterations: usize,
    expect_differences: Option<usize>,
) -> Result<(), String> {
    let read = |path: &std::path::Path| -> Result<Workflow, String> {
        let text =
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
        Workflow::parse_yaml(&text).map_err(|err| format!("{}: {err}", path.display()))
    };
    let parse_started = Instant::now();
    let left = read(left)?;
    let right = read(right)?;
    let parse_ms = measure::ms(parse_started.elapsed());
    let options = CompareOptions::default();
    let mut samples = Vec::with_capacity(iterations);
    let mut differences = 0;
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let found = compare(left.value(), right.value(), &options);
        samples.push(measure::ms(started.elapsed()));
        differences = found.len();
    }
    let mut digests = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let digest = left.digest();
        digests.push(measure::ms(started.elapsed()));
        drop(digest);
    }
    if let Some(expected) = expect_differences
        && expected != differences
    {
        return Err(format!(
            "the comparison found {differences} differences, expected {expected}"
        ));
    }
    println!(
        "{}",
        serde_json::json!({
            "parse_ms": parse_ms,
            "compare_ms": samples,
            "digest_ms": digests,
            "differences": differences,
        })
    );
    Ok(())
}
