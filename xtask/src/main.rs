//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! * `cargo xtask demo` — the main job end to end against the KFP API emulator, printing each command.
//! * `cargo xtask ci`   — every check CI runs, in order, stopping at the first failure.
//! * `cargo xtask manifests` — renders `deploy/kubernetes` with kubectl's kustomize and validates it
//!   offline; checks the GitHub workflows, the GitLab CI example and the Dockerfile, also with
//!   actionlint, shellcheck and hadolint.
//! * `cargo xtask invariants` — checks the "Must never" rules of ARCHITECTURE.md on the sources.
//! * `cargo xtask compat` — runs `tests/python/compat.py` (official kfp SDK) against the KFP API emulator.
//! * `cargo xtask bench [--quick]` — the benchmarks (DESIGN §5); writes `docs/BENCHMARKS.md`.
//! * `cargo xtask venv` — creates (or reuses) the Python venv under `target/` with the packages of
//!   `tests/python/requirements.txt` and prints the path of its `python`.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

mod bench;
mod ci;
mod command;
mod compat;
mod demo;
mod emulator_process;
mod invariants;
mod lint_tools;
mod manifests;
mod venv;

use std::process::ExitCode;

use command::project_root;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  demo    run the main job end to end (validate, plan, apply, change, plan, apply) against the KFP API emulator
  ci      run every CI check (fmt, invariants, clippy, python venv, manifests, tests, compat, demo, bench --quick, docs)
  invariants  check the 'Must never' rules of ARCHITECTURE.md on the sources
  venv    create or reuse the Python venv under target/ and print its python
  compat  prove the KFP API emulator against the official kfp 1.8.22 SDK (single- and multi-user)
  manifests  render and validate deploy/kubernetes offline; check the workflows and the Dockerfile
             (also with actionlint, shellcheck and hadolint)
  bench   run the benchmarks (release build) and write docs/BENCHMARKS.md;
          --quick: small sizes of every scenario (debug build), report in target/
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("manifests") => manifests::run(&project_root()),
        Some("invariants") => invariants::run(&project_root()),
        Some("compat") => compat::run(&project_root()),
        Some("bench") => bench::run(&project_root(), &args[1..]),
        Some("demo") => demo::run(&project_root()),
        Some("venv") => {
            venv::ensure(&project_root()).map(|python| println!("{}", python.display()))
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}
