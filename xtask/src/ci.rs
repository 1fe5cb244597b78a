//! `cargo xtask ci`: the ordered list of checks CI runs. Each step is printed before it runs; the first
//! failing step stops the run and is named in the error.

use std::path::Path;
use std::time::Instant;

use crate::command::{cargo_step, project_root};
use crate::venv;

/// One CI step: a name for humans and what it does.
struct Step {
    name: &'static str,
    run: fn(&Path) -> Result<(), String>,
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        run: |root| cargo_step(root, &["fmt", "--all", "--check"], &[]),
    },
    Step {
        name: "invariants",
        run: crate::invariants::run,
    },
    Step {
        name: "clippy",
        run: |root| {
            cargo_step(
                root,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )
        },
    },
    Step {
        name: "python venv",
        run: |root| venv::ensure(root).map(|_| ()),
    },
    Step {
        name: "manifests",
        run: crate::manifests::run,
    },
    Step {
        name: "test",
        run: |root| cargo_step(root, &["test", "--workspace", "--locked"], &[]),
    },
    Step {
        name: "compat",
        run: crate::compat::run,
    },
    Step {
        // The README's first command must keep working: the demo checks each step's exit code.
        name: "demo",
        run: crate::demo::run,
    },
    Step {
        name: "bench --quick",
        run: |root| crate::bench::run(root, &["--quick".to_owned()]),
    },
    Step {
        name: "doc",
        run: |root| {
            cargo_step(
                root,
                &["doc", "--workspace", "--no-deps", "--locked"],
                &[("RUSTDOCFLAGS", "-D warnings")],
            )
        },
    },
];

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{unknown}`"));
    }
    let root = project_root();
    let started = Instant::now();
    for (index, step) in STEPS.iter().enumerate() {
        println!("==> [{}/{}] {}", index + 1, STEPS.len(), step.name);
        let step_started = Instant::now();
        (step.run)(&root).map_err(|err| format!("CI step `{}` failed: {err}", step.name))?;
        println!(
            "    {} ok ({:.1}s)",
            step.name,
            step_started.elapsed().as_secs_f64()
        );
    }
    println!(
        "==> all {} CI steps passed in {:.0}s",
        STEPS.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
