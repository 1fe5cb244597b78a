//! `kfp-gitops render` with the real KFP v1 compiler (kfp==1.8.22 from the project's venv) on copies of
//! the committed example `examples/daily-digest`: the committed render is current and stays untouched,
//! an edited pipeline makes `render --check` fail with a diff, and a pipeline reading the clock at
//! definition time is reported as non-deterministic. The committed example itself is never modified.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use kfp_gitops_tests::python::{python, workspace_root};

const EXAMPLE: &str = "examples/daily-digest";

/// A copy of the example (and of the project file) in a temporary folder.
struct Copy {
    root: tempfile::TempDir,
}

impl Copy {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let source = workspace_root();
        copy_dir(&source.join(EXAMPLE), &root.path().join(EXAMPLE));
        std::fs::copy(
            source.join("kfp-gitops.yaml"),
            root.path().join("kfp-gitops.yaml"),
        )
        .expect("copy kfp-gitops.yaml");
        Self { root }
    }

    fn example(&self) -> PathBuf {
        self.root.path().join(EXAMPLE)
    }

    fn edit_pipeline(&self, edit: impl FnOnce(String) -> String) {
        let path = self.example().join("pipeline.py");
        let text = std::fs::read_to_string(&path).expect("read pipeline.py");
        let edited = edit(text.clone());
        assert_ne!(edited, text, "the edit changed nothing");
        std::fs::write(&path, edited).expect("write pipeline.py");
    }

    /// `kfp-gitops render [extra...]` for the example as an ad-hoc target, run from the copy's root with
    /// the venv's `python` first on PATH.
    fn render_adhoc(&self, extra: &[&str]) -> Output {
        kfp_gitops()
            .current_dir(self.root.path())
            .arg("render")
            .args(extra)
            .args(["--workdir", EXAMPLE, "--"])
            .args(["python", "pipeline.py", "--output", "{output}"])
            .output()
            .expect("kfp-gitops runs")
    }
}

fn kfp_gitops() -> Command {
    let python = python().unwrap_or_else(|err| panic!("{err}"));
    let bin = python.parent().expect("the venv python is in bin/");
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let mut command = Command::cargo_bin("kfp-gitops").expect("the kfp-gitops binary is built");
    command
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("RUST_LOG");
    command
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().expect("type").is_dir() {
            files.extend(
                snapshot(&entry.path())
                    .into_iter()
                    .map(|(inner, bytes)| (format!("{name}/{inner}"), bytes)),
            );
        } else {
            files.push((name, std::fs::read(entry.path()).expect("read")));
        }
    }
    files.sort();
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

#[test]
fn rendering_the_committed_example_twice_reports_unchanged_and_keeps_its_bytes() {
    let copy = Copy::new();
    let output_dir = copy.example().join("RENDERED_PIPELINE");
    let committed = snapshot(&output_dir);
    assert!(
        committed
            .iter()
            .any(|(name, bytes)| name == "params/greeting" && bytes.contains(&b'\n')),
        "the example has a multi-line parameter value"
    );
    for _ in 0..2 {
        let output = copy.render_adhoc(&[]);
        assert_code(&output, 0);
        assert_eq!(
            text(&output.stdout),
            format!("unchanged {EXAMPLE}/RENDERED_PIPELINE ({EXAMPLE}/RENDERED_PIPELINE)\n")
        );
        assert_eq!(snapshot(&output_dir), committed);
    }
    let check = copy.render_adhoc(&["--check"]);
    assert_code(&check, 0);
    let mut entries: Vec<String> = std::fs::read_dir(copy.example())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            "README.md",
            "RENDERED_PIPELINE",
            "pipeline.py",
            "print_message.yaml",
            "reconcile",
            "run-once.sh",
            "schedules"
        ],
        "no temporary folders are left behind"
    );
}

#[test]
fn editing_the_pipeline_makes_check_fail_with_a_diff_of_workflow_and_params() {
    let copy = Copy::new();
    let committed = snapshot(&copy.example().join("RENDERED_PIPELINE"));
    copy.edit_pipeline(|text| {
        text.replace(
            "Prints a multi-line greeting with the day of the week, once a day.",
            "Prints the digest.",
        )
        .replace("\"top_n\": \"5\"", "\"top_n\": \"7\"")
    });
    let output = copy.render_adhoc(&["--check"]);
    assert_code(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "stale      {EXAMPLE}/RENDERED_PIPELINE ({EXAMPLE}/RENDERED_PIPELINE): "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "--- {EXAMPLE}/RENDERED_PIPELINE/workflow.yaml (normalized)\n+++ rendered/workflow.yaml (normalized)\n"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Prints the digest."), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "--- {EXAMPLE}/RENDERED_PIPELINE/params/top_n\n+++ rendered/params/top_n\n@@ -1 +1 @@\n-5\n\\ No newline at end of file\n+7\n\\ No newline at end of file\n"
        )),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("1 of 1 rendered pipeline is stale or missing"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        snapshot(&copy.example().join("RENDERED_PIPELINE")),
        committed
    );
}

#[test]
fn a_pipeline_reading_the_clock_at_definition_time_is_reported_non_deterministic() {
    let copy = Copy::new();
    copy.edit_pipeline(|text| {
        text.replace(
            "        \"scheduled for: {{workflow.creationTimestamp.RFC3339}}\"",
            "        f\"rendered at: {__import__('datetime').datetime.now().isoformat()}\"",
        )
    });
    let output = copy.render_adhoc(&["--check-determinism"]);
    assert_code(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!("non-deterministic {EXAMPLE}/RENDERED_PIPELINE")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{EXAMPLE}/RENDERED_PIPELINE: two renders differ at:\n"
        )),
        "{stdout}"
    );
    // The time lands in the print step's arguments and in the annotation recording them.
    let paths: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  workflow.yaml "))
        .collect();
    assert!(!paths.is_empty(), "{stdout}");
    assert!(
        paths
            .iter()
            .any(|path| path.contains("/container/args/") && path.ends_with("(changed)")),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .any(|path| path.contains("arguments.parameters")),
        "{paths:?}"
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("datetime.now()"), "{stderr}");
    assert!(
        stderr.contains("{{workflow.creationTimestamp.RFC3339}}"),
        "{stderr}"
    );
    assert!(stderr.contains("is not deterministic"), "{stderr}");
}

#[test]
fn the_project_file_target_of_the_example_is_current() {
    let copy = Copy::new();
    let committed = snapshot(&copy.example().join("RENDERED_PIPELINE"));
    for args in [&["render", "--check"][..], &["render", "daily-digest"][..]] {
        let output = kfp_gitops()
            .current_dir(copy.root.path())
            .args(args)
            .output()
            .expect("kfp-gitops runs");
        assert_code(&output, 0);
        let word = if args.contains(&"--check") {
            "up-to-date"
        } else {
            "unchanged"
        };
        assert_eq!(
            text(&output.stdout),
            format!("{word} daily-digest ({EXAMPLE}/RENDERED_PIPELINE)\n")
        );
    }
    assert_eq!(
        snapshot(&copy.example().join("RENDERED_PIPELINE")),
        committed
    );
}
