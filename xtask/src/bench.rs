//! `cargo xtask bench [--quick] [--release] [--only N]...`: the benchmarks of DESIGN §5.
//!
//! Builds `kfp-gitops` and the `kfp-bench` harness (tests package), then runs `kfp-bench run`, which
//! generates every input under `target/bench/`, measures the real `kfp-gitops` binary against an in-process
//! KFP emulator side by side with the reference scripts' request pattern, and writes a markdown report:
//! `docs/BENCHMARKS.md` for a full run (release build), `target/bench-report-quick.md` for `--quick` and
//! `target/bench-report-partial.md` for a run limited by `--only`.
//!
//! `--quick` runs small sizes of every scenario with the debug build CI already has (unless `--release`),
//! so the benchmark itself cannot rot: it fails when a scenario fails (an unexpected exit code, a no-op
//! plan that finds changes, an apply that does not converge), never because something is slow.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::{cargo_step, run_command};

/// Options of the task.
struct Options {
    quick: bool,
    release: bool,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        release: false,
        only: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--release" => options.release = true,
            "--only" => {
                let scenario = args
                    .next()
                    .ok_or("`--only` needs a scenario number (1-5)")?;
                options.only.push(scenario.clone());
            }
            other => {
                return Err(format!(
                    "`bench` takes --quick, --release and --only N, got `{other}`"
                ));
            }
        }
    }
    Ok(options)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Runs the benchmarks.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let release = options.release || !options.quick;
    let mut build = vec![
        "build",
        "--locked",
        "-p",
        "kfp-gitops",
        "-p",
        "kfp-gitops-tests",
    ];
    if release {
        build.push("--release");
    }
    cargo_step(root, &build, &[])?;
    let target = target_dir(root);
    let profile_dir = target.join(if release { "release" } else { "debug" });
    let exe = |name: &str| profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    // Only a full run of every scenario may replace the committed report.
    let report = if options.quick {
        target.join("bench-report-quick.md")
    } else if !options.only.is_empty() {
        target.join("bench-report-partial.md")
    } else {
        root.join("docs").join("BENCHMARKS.md")
    };
    let mut shown = String::from("cargo xtask bench");
    for arg in args {
        shown.push(' ');
        shown.push_str(arg);
    }
    let mut command = Command::new(exe("kfp-bench"));
    command
        .arg("run")
        .arg("--kfp-gitops")
        .arg(exe("kfp-gitops"))
        .arg("--work")
        .arg(target.join("bench"))
        .arg("--report")
        .arg(&report)
        .arg("--profile")
        .arg(if release { "release" } else { "dev" })
        .arg("--command-line")
        .arg(&shown)
        .current_dir(root);
    if options.quick {
        command.arg("--quick");
    }
    for scenario in &options.only {
        command.arg("--only").arg(scenario);
    }
    run_command(&mut command).map_err(|err| format!("the benchmark failed: {err}"))?;
    println!("    benchmark report: {}", report.display());
    Ok(())
}
