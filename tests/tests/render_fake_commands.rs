//! `kfp-gitops render` end to end with small fake render commands (sh scripts written by each test), so
//! every behaviour of the render loop is pinned down without the Python SDK: created / unchanged /
//! updated, `--check`, `--check-determinism`, failing commands, KFP v2 IR, plain Argo Workflows,
//! commands writing nothing, timeouts, Ctrl-C, leftover temporary folders, the user's own files in an
//! output folder and several targets from the project file.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// A workflow the fake commands write; `VALUE` and `EXTRA` are replaced per test.
const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: fake-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '$(date +%s%N)'
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "message", "type": "String"}], "name": "fake"}'
spec:
  entrypoint: fake
  arguments:
    parameters:
    - {name: message}
  templates:
  - name: fake
    container: {image: "busybox", args: ["echo", "VALUE"]}
"#;

/// A folder holding a fake pipeline: `render.sh` writes `workflow.yaml` and `params/message`.
struct Pipeline {
    dir: tempfile::TempDir,
}

impl Pipeline {
    /// A deterministic render command whose step prints `value` and whose message parameter is `message`.
    fn new(value: &str, message: &str) -> Self {
        let pipeline = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        pipeline.set(value, message);
        pipeline
    }

    /// Changes what the next render writes.
    fn set(&self, value: &str, message: &str) {
        let workflow = WORKFLOW.replace("VALUE", value);
        // The compile time changes on every render, as with the real compiler; it must not count.
        let script = format!(
            "set -e\nout=\"$1\"\ncat > \"$out/workflow.yaml\" <<EOF\n{workflow}EOF\nmkdir -p \"$out/params\"\nprintf '%s' '{message}' > \"$out/params/message\"\n"
        );
        self.script(&script);
    }

    fn script(&self, script: &str) {
        std::fs::write(self.dir.path().join("render.sh"), script).expect("write render.sh");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn output(&self) -> PathBuf {
        self.path().join("RENDERED_PIPELINE")
    }

    /// `kfp-gitops render [extra...] --workdir DIR -- sh render.sh {output}`.
    fn render(&self, extra: &[&str]) -> Output {
        kfp_gitops()
            .current_dir(self.path())
            .arg("render")
            .args(extra)
            .args(["--workdir", ".", "--", "sh", "render.sh", "{output}"])
            .output()
            .expect("kfp-gitops runs")
    }

    /// Every name in the folder, sorted (to see leftover temporary folders).
    fn entries(&self) -> Vec<String> {
        names(self.path())
    }
}

fn kfp_gitops() -> Command {
    let mut command = Command::cargo_bin("kfp-gitops").expect("the kfp-gitops binary is built");
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    command
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}

#[track_caller]
fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

#[test]
fn a_first_render_creates_the_output_and_a_second_identical_one_leaves_it_untouched() {
    let pipeline = Pipeline::new("hello", "two\nlines");
    let first = pipeline.render(&[]);
    assert_code(&first, 0);
    assert_eq!(
        stdout(&first),
        "created   RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );
    let committed = read(&pipeline.output().join("workflow.yaml"));
    assert!(
        committed.contains("args: [\"echo\", \"hello\"]"),
        "{committed}"
    );
    assert_eq!(
        read(&pipeline.output().join("params/message")),
        "two\nlines"
    );

    // The compile time differs, nothing else does: the committed bytes stay as they were.
    let second = pipeline.render(&[]);
    assert_code(&second, 0);
    assert_eq!(
        stdout(&second),
        "unchanged RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );
    assert_eq!(read(&pipeline.output().join("workflow.yaml")), committed);
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn a_changed_pipeline_replaces_the_output_and_names_what_changed() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    pipeline.set("goodbye", "m2");
    let output = pipeline.render(&[]);
    assert_code(&output, 0);
    assert_eq!(
        stdout(&output),
        "updated   RENDERED_PIPELINE (RENDERED_PIPELINE): 1 workflow difference, 1 parameter file differs\n"
    );
    assert!(read(&pipeline.output().join("workflow.yaml")).contains("goodbye"));
    assert_eq!(read(&pipeline.output().join("params/message")), "m2");
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn check_passes_on_a_current_output_and_fails_with_a_diff_on_a_stale_one() {
    let pipeline = Pipeline::new("hello", "same");
    assert_code(&pipeline.render(&[]), 0);
    let current = pipeline.render(&["--check"]);
    assert_code(&current, 0);
    assert_eq!(
        stdout(&current),
        "up-to-date RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );

    let before = read(&pipeline.output().join("workflow.yaml"));
    pipeline.set("changed", "other");
    let stale = pipeline.render(&["--check"]);
    assert_code(&stale, 1);
    let out = stdout(&stale);
    assert!(
        out.starts_with(
            "stale      RENDERED_PIPELINE (RENDERED_PIPELINE): 1 workflow difference, 1 parameter file differs\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "--- RENDERED_PIPELINE/workflow.yaml (normalized)\n+++ rendered/workflow.yaml (normalized)\n"
        ),
        "{out}"
    );
    assert!(out.contains("-      - hello\n+      - changed\n"), "{out}");
    assert!(
        out.contains("--- RENDERED_PIPELINE/params/message\n+++ rendered/params/message\n"),
        "{out}"
    );
    assert!(out.contains("-same\n"), "{out}");
    assert!(out.contains("+other\n"), "{out}");
    assert!(
        stderr(&stale)
            .contains("error: 1 of 1 rendered pipeline is stale or missing: RENDERED_PIPELINE"),
        "{}",
        stderr(&stale)
    );
    assert!(stderr(&stale).contains("hint: run `kfp-gitops render`"));
    // --check never writes.
    assert_eq!(read(&pipeline.output().join("workflow.yaml")), before);
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn check_fails_when_the_output_was_never_rendered() {
    let pipeline = Pipeline::new("hello", "m");
    let output = pipeline.render(&["--check"]);
    assert_code(&output, 1);
    assert_eq!(
        stdout(&output),
        "missing    RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );
    assert_eq!(pipeline.entries(), ["render.sh"]);
}

#[test]
fn a_non_deterministic_command_is_reported_with_the_differing_paths_and_the_hint() {
    let pipeline = Pipeline::new("x", "m");
    // Each run writes a new counter value into the step's arguments, as datetime.now() at definition
    // time would.
    let script = read(&pipeline.path().join("render.sh")).replace(
        "set -e\n",
        "set -e\nn=$(cat counter 2>/dev/null || echo 0); n=$((n+1)); echo $n > counter\n",
    );
    pipeline.script(&script.replace("\"x\"", "\"$n\""));
    let output = pipeline.render(&["--check-determinism"]);
    assert_code(&output, 1);
    assert_eq!(
        stdout(&output),
        "non-deterministic RENDERED_PIPELINE (RENDERED_PIPELINE): 1 workflow difference\n\
         RENDERED_PIPELINE: two renders differ at:\n  workflow.yaml /spec/templates/0/container/args/1 (changed)\n"
    );
    let err = stderr(&output);
    assert!(err.contains("datetime.now()"), "{err}");
    assert!(
        err.contains("{{workflow.creationTimestamp.RFC3339}}"),
        "{err}"
    );
    assert!(
        err.contains("error: 1 of 1 render target is not deterministic: RENDERED_PIPELINE"),
        "{err}"
    );
    assert_eq!(pipeline.entries(), ["counter", "render.sh"]);

    // A deterministic command passes the same check.
    let steady = Pipeline::new("x", "m");
    let output = steady.render(&["--check-determinism"]);
    assert_code(&output, 0);
    assert_eq!(
        stdout(&output),
        "deterministic     RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );
}

#[test]
fn a_failing_command_shows_its_stderr_and_leaves_the_output_intact() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    let committed = read(&pipeline.output().join("workflow.yaml"));
    pipeline.script(
        "echo 'partial' > \"$1/workflow.yaml\"\necho 'Traceback: something broke' >&2\nexit 3\n",
    );
    let output = pipeline.render(&[]);
    assert_code(&output, 1);
    assert_eq!(
        stdout(&output),
        "failed    RENDERED_PIPELINE (RENDERED_PIPELINE): the render command failed (exit code 3)\n"
    );
    let err = stderr(&output);
    assert!(
        err.contains("error: RENDERED_PIPELINE: the render command failed (exit code 3)\n  stderr of the render command:\n  | Traceback: something broke\n"),
        "{err}"
    );
    assert!(err.contains("error: 1 of 1 render target failed"), "{err}");
    assert_eq!(read(&pipeline.output().join("workflow.yaml")), committed);
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn a_kfp_v2_pipeline_is_rejected_with_a_clear_error() {
    let pipeline = Pipeline::new("x", "m");
    pipeline.script(
        "cat > \"$1/workflow.yaml\" <<'EOF'\npipelineInfo: {name: p}\nroot: {dag: {tasks: {}}}\nschemaVersion: 2.1.0\nsdkVersion: kfp-2.7.0\ndeploymentSpec: {executors: {}}\nEOF\n",
    );
    let output = pipeline.render(&[]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("the rendered workflow.yaml is not a valid KFP v1 pipeline"),
        "{err}"
    );
    assert!(err.contains("KFP v2"), "{err}");
    assert!(err.contains("V1"), "{err}");
    assert_eq!(pipeline.entries(), ["render.sh"]);
}

#[test]
fn a_plain_argo_workflow_without_the_kfp_annotation_is_rejected_with_a_hint() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    let committed = read(&pipeline.output().join("workflow.yaml"));
    // An Argo Workflow written by hand (or by another tool): valid Argo, but not compiled by KFP v1.
    let plain: String = WORKFLOW
        .lines()
        .filter(|line| !line.contains("pipeline_spec"))
        .map(|line| format!("{line}\n"))
        .collect();
    pipeline.script(&format!("cat > \"$1/workflow.yaml\" <<EOF\n{plain}EOF\n"));
    let output = pipeline.render(&[]);
    assert_code(&output, 1);
    let message = "the rendered workflow.yaml has no `pipelines.kubeflow.org/pipeline_spec` annotation in \
                   its metadata: it is a plain Argo Workflow, not a pipeline compiled by the KFP v1 SDK";
    assert_eq!(
        stdout(&output),
        format!("failed    RENDERED_PIPELINE (RENDERED_PIPELINE): {message}\n")
    );
    let err = stderr(&output);
    assert!(
        err.contains(&format!("error: RENDERED_PIPELINE: {message}\n")),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: compile the pipeline with the KFP v1 SDK compiler, which records the pipeline's name and \
             inputs in that annotation: `kfp.compiler.Compiler().compile(pipeline_func, package_path)` in \
             Python, or `dsl-compile --py pipeline.py --output workflow.yaml`\n"
        ),
        "{err}"
    );
    assert_eq!(read(&pipeline.output().join("workflow.yaml")), committed);
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);

    let json = pipeline.render(&["-o", "json"]);
    assert_code(&json, 1);
    let document: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("one JSON document");
    let target = &document["targets"][0];
    assert_eq!(target["status"], "failed");
    assert_eq!(target["error"]["message"], message);
    assert!(
        target["error"]["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("kfp.compiler.Compiler().compile(")),
        "{target}"
    );
}

#[test]
fn the_users_own_files_in_the_output_folder_survive_a_replace() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    let output_dir = pipeline.output();
    std::fs::write(
        output_dir.join("README.md"),
        "Do not edit: run `kfp-gitops render`.\n",
    )
    .expect("write README");
    std::fs::create_dir_all(output_dir.join("docs")).expect("mkdir");
    std::fs::write(output_dir.join("docs/graph.svg"), "<svg/>").expect("write svg");

    // Not part of the pipeline: the render is still current...
    let current = pipeline.render(&["--check"]);
    assert_code(&current, 0);
    // ...and a changed pipeline replaces the folder with the files carried over, byte for byte.
    pipeline.set("goodbye", "m");
    let output = pipeline.render(&[]);
    assert_code(&output, 0);
    assert_eq!(
        stdout(&output),
        "updated   RENDERED_PIPELINE (RENDERED_PIPELINE): 1 workflow difference\n"
    );
    assert!(read(&output_dir.join("workflow.yaml")).contains("goodbye"));
    assert_eq!(
        names(&output_dir),
        ["README.md", "docs", "params", "workflow.yaml"]
    );
    assert_eq!(
        read(&output_dir.join("README.md")),
        "Do not edit: run `kfp-gitops render`.\n"
    );
    assert_eq!(read(&output_dir.join("docs/graph.svg")), "<svg/>");
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn a_command_writing_nothing_is_an_error_with_a_hint() {
    let pipeline = Pipeline::new("x", "m");
    pipeline.script("echo 'compiled to ./pipeline.yaml' >&2\n");
    let output = pipeline.render(&[]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains(
            "the render command succeeded but wrote no workflow.yaml into the output folder"
        ),
        "{err}"
    );
    assert!(err.contains("| compiled to ./pipeline.yaml"), "{err}");
    assert!(
        err.contains("hint: the command must write workflow.yaml"),
        "{err}"
    );
    assert_eq!(pipeline.entries(), ["render.sh"]);
}

#[test]
fn a_python_without_kfp_gets_a_hint_a_user_can_follow() {
    let pipeline = Pipeline::new("x", "m");
    pipeline.script(
        "echo 'Traceback (most recent call last):' >&2\n\
         echo \"ModuleNotFoundError: No module named 'kfp'\" >&2\nexit 1\n",
    );
    let output = pipeline.render(&[]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("hint: the Python that runs the pipeline has no KFP SDK: install it there with `pip install kfp==1.8.22`"),
        "{err}"
    );
    assert!(
        !err.contains("kfp-venv") && !err.contains("xtask"),
        "no folder of kfp-gitops' own build: {err}"
    );
}

#[test]
fn a_missing_program_gets_a_hint_about_path() {
    let pipeline = Pipeline::new("x", "m");
    let output = kfp_gitops()
        .current_dir(pipeline.path())
        .args(["render", "--", "kfp-gitops-no-such-python", "{output}"])
        .output()
        .expect("runs");
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("cannot start the render command `kfp-gitops-no-such-python`"),
        "{err}"
    );
    assert!(err.contains("put it on PATH"), "{err}");
}

#[test]
fn a_render_exceeding_the_timeout_is_killed_and_cleaned_up() {
    let pipeline = Pipeline::new("x", "m");
    pipeline.script("echo started >&2\nsleep 60\n");
    let output = pipeline.render(&["--timeout", "3s"]);
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains("the render command did not finish within 3s and was killed"),
        "{err}"
    );
    assert!(err.contains("| started"), "{err}");
    assert!(
        err.contains("hint: raise the limit with --timeout"),
        "{err}"
    );
    assert_eq!(pipeline.entries(), ["render.sh"]);
}

#[test]
fn temporary_folders_left_by_a_killed_run_are_removed_and_an_interrupted_replace_is_undone() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    // What a run killed with SIGKILL between the two renames of a replace leaves behind (pid 2^31-1 never
    // exists): the output moved aside into its staging folder, plus another run's half-written render.
    let dead = i32::MAX;
    let aside = pipeline
        .path()
        .join(format!(".RENDERED_PIPELINE.kfp-gitops-{dead}-aaaa"));
    std::fs::create_dir_all(&aside).expect("mkdir");
    std::fs::rename(pipeline.output(), aside.join("previous")).expect("move aside");
    let half = pipeline.path().join(format!(
        ".RENDERED_PIPELINE.kfp-gitops-{dead}-bbbb/rendered"
    ));
    std::fs::create_dir_all(&half).expect("mkdir");
    std::fs::write(half.join("workflow.yaml"), "half").expect("write");

    let output = pipeline.render(&[]);
    assert_code(&output, 0);
    // The restored output is the same pipeline, so it is left as it was.
    assert_eq!(
        stdout(&output),
        "unchanged RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );
    assert_eq!(pipeline.entries(), ["RENDERED_PIPELINE", "render.sh"]);
}

#[test]
fn ctrl_c_kills_the_render_command_and_removes_the_temporary_folder() {
    let pipeline = Pipeline::new("hello", "m");
    assert_code(&pipeline.render(&[]), 0);
    let committed = read(&pipeline.output().join("workflow.yaml"));
    // The command records the pid of a grandchild, then waits for it.
    pipeline.script("sleep 120 &\necho $! > sleeper.pid\nwait\n");
    let binary = assert_cmd::cargo::cargo_bin("kfp-gitops");
    let child = std::process::Command::new(binary)
        .current_dir(pipeline.path())
        .env("NO_COLOR", "1")
        .args([
            "render",
            "--workdir",
            ".",
            "--",
            "sh",
            "render.sh",
            "{output}",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kfp-gitops");
    let pid_file = pipeline.path().join("sleeper.pid");
    wait_until(
        || read_pid(&pid_file).is_some(),
        "the render command to start",
    );
    let sleeper = read_pid(&pid_file).expect("pid");

    let output = interrupt(child);
    assert_code(&output, 130);
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );
    wait_until(|| !process_alive(sleeper), "the grandchild to die");
    assert_eq!(read(&pipeline.output().join("workflow.yaml")), committed);
    assert_eq!(
        pipeline.entries(),
        ["RENDERED_PIPELINE", "render.sh", "sleeper.pid"]
    );
}

/// Two project targets, `fast` (already rendered once, now changed) and `slow` (its command waits),
/// rendered together and interrupted once `fast` has replaced its output and `slow` is running.
fn interrupted_render(extra: &[&str]) -> (tempfile::TempDir, Output) {
    let root = project(&[
        ("fast", &script_writing("v1")),
        ("slow", &script_writing("s1")),
    ]);
    let first = kfp_gitops()
        .current_dir(root.path())
        .arg("render")
        .output()
        .expect("runs");
    assert_code(&first, 0);
    let pipelines = root.path().join("pipelines");
    std::fs::write(pipelines.join("fast/render.sh"), script_writing("v2")).expect("write");
    std::fs::write(
        pipelines.join("slow/render.sh"),
        "sleep 120 &\necho $! > ../slow.pid\nwait\n",
    )
    .expect("write");

    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
        .current_dir(root.path())
        .env("NO_COLOR", "1")
        .args(["render", "--jobs", "2"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn kfp-gitops");
    let fast_workflow = pipelines.join("fast/RENDERED_PIPELINE/workflow.yaml");
    let pid_file = pipelines.join("slow.pid");
    wait_until(
        || {
            // Briefly absent while the new render is renamed into place.
            read_pid(&pid_file).is_some()
                && std::fs::read_to_string(&fast_workflow).is_ok_and(|text| text.contains("\"v2\""))
        },
        "`fast` to be updated while `slow` runs",
    );
    let sleeper = read_pid(&pid_file).expect("pid");
    let output = interrupt(child);
    wait_until(|| !process_alive(sleeper), "the grandchild to die");
    assert!(read(&pipelines.join("slow/RENDERED_PIPELINE/workflow.yaml")).contains("\"s1\""));
    assert_eq!(
        names(&pipelines.join("slow")),
        ["RENDERED_PIPELINE", "render.sh"]
    );
    (root, output)
}

#[test]
fn an_interrupted_render_still_reports_the_targets_that_finished() {
    let (_root, output) = interrupted_render(&[]);
    assert_code(&output, 130);
    let mut lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "cancelled slow (pipelines/slow/RENDERED_PIPELINE): the render was cancelled",
            "updated   fast (pipelines/fast/RENDERED_PIPELINE): 1 workflow difference",
        ]
    );
    let err = stderr(&output);
    assert!(
        err.ends_with(
            "error: interrupted: 1 of 2 render targets finished; the running render commands were killed \
             and their temporary folders removed, the outputs of the others are unchanged: slow\n"
        ),
        "{err}"
    );
    // The stopped target is summed up once, not reported as a failure of its own.
    assert!(!err.contains("error: slow"), "{err}");
}

#[test]
fn an_interrupted_render_in_json_mode_prints_one_document_with_what_finished() {
    let (_root, output) = interrupted_render(&["-o", "json"]);
    assert_code(&output, 130);
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("exactly one JSON document");
    assert_eq!(document["interrupted"], true);
    let targets = document["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["name"], "fast");
    assert_eq!(targets[0]["status"], "updated");
    assert_eq!(
        targets[0]["changes"]["workflow"][0]["pointer"],
        "/spec/templates/0/container/args/1"
    );
    assert_eq!(targets[1]["name"], "slow");
    assert_eq!(targets[1]["status"], "cancelled");
    assert!(
        stderr(&output).contains("error: interrupted: 1 of 2 render targets finished"),
        "{}",
        stderr(&output)
    );
}

/// Sends SIGINT (Ctrl-C) to `child` and waits for it to exit.
fn interrupt(child: std::process::Child) -> std::process::Output {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    child.wait_with_output().expect("kfp-gitops exits")
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether a process exists and is not a zombie.
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// Polls `condition` (generously: the machine may be busy); panics naming `what` if it never holds.
fn wait_until(condition: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A project with a `kfp-gitops.yaml` declaring one fake target per `(name, script)`.
fn project(targets: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    let mut file = String::from("render_targets:\n");
    for (name, script) in targets {
        let dir = root.path().join("pipelines").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("render.sh"), script).expect("write script");
        file.push_str(&format!(
            "  - name: {name}\n    workdir: pipelines/{name}\n    command: [sh, render.sh, \"{{output}}\"]\n"
        ));
    }
    std::fs::write(root.path().join("kfp-gitops.yaml"), file).expect("write project file");
    root
}

fn script_writing(value: &str) -> String {
    format!(
        "cat > \"$1/workflow.yaml\" <<EOF\n{}EOF\n",
        WORKFLOW.replace("VALUE", value)
    )
}

#[test]
fn project_targets_render_in_parallel_and_one_failure_does_not_stop_the_others() {
    let good = script_writing("ok");
    let root = project(&[
        ("alpha", &good),
        ("broken", "echo 'no such pipeline' >&2\nexit 2\n"),
        ("gamma", &good),
    ]);
    let output = kfp_gitops()
        .current_dir(root.path().join("pipelines"))
        .args(["render", "--jobs", "3"])
        .output()
        .expect("runs");
    assert_code(&output, 1);
    let mut lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "created   alpha (alpha/RENDERED_PIPELINE)",
            "created   gamma (gamma/RENDERED_PIPELINE)",
            "failed    broken (broken/RENDERED_PIPELINE): the render command failed (exit code 2)",
        ]
    );
    let err = stderr(&output);
    assert!(err.contains("error: broken: the render command failed (exit code 2)\n  stderr of the render command:\n  | no such pipeline\n"), "{err}");
    assert!(err.contains("error: 1 of 3 render targets failed"), "{err}");
    for name in ["alpha", "gamma"] {
        let workflow = root
            .path()
            .join("pipelines")
            .join(name)
            .join("RENDERED_PIPELINE/workflow.yaml");
        assert!(read(&workflow).contains("\"ok\""));
    }
    assert_eq!(names(&root.path().join("pipelines/broken")), ["render.sh"]);
}

#[test]
fn named_targets_are_the_only_ones_rendered_and_unknown_names_are_refused() {
    let root = project(&[
        ("alpha", &script_writing("a")),
        ("beta", &script_writing("b")),
    ]);
    let output = kfp_gitops()
        .current_dir(root.path())
        .args(["render", "beta", "-o", "json"])
        .output()
        .expect("runs");
    assert_code(&output, 0);
    let document: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(
        document,
        serde_json::json!({
            "format_version": 1,
            "mode": "render",
            "targets": [{"name": "beta", "output": "pipelines/beta/RENDERED_PIPELINE", "status": "created"}]
        })
    );
    assert_eq!(names(&root.path().join("pipelines/alpha")), ["render.sh"]);

    let unknown = kfp_gitops()
        .current_dir(root.path())
        .args(["render", "gamma"])
        .output()
        .expect("runs");
    assert_code(&unknown, 1);
    assert_eq!(
        stderr(&unknown),
        "error: no render target named `gamma`\nhint: the project file declares: alpha, beta\n"
    );
}

#[test]
fn without_a_project_file_or_a_command_render_explains_both_ways() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = kfp_gitops()
        .current_dir(dir.path())
        .arg("render")
        .output()
        .expect("runs");
    assert_code(&output, 1);
    let err = stderr(&output);
    assert!(
        err.starts_with(
            "error: no render targets: there is no kfp-gitops.yaml here or in a parent folder\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("kfp-gitops render --workdir DIR -- python pipeline.py --output {output}"),
        "{err}"
    );
}

#[test]
fn check_with_check_determinism_reports_both_in_one_pass() {
    let pipeline = Pipeline::new("x", "m");
    assert_code(&pipeline.render(&[]), 0);
    let current = pipeline.render(&["--check", "--check-determinism"]);
    assert_code(&current, 0);
    assert_eq!(
        stdout(&current),
        "up-to-date        RENDERED_PIPELINE (RENDERED_PIPELINE)\n"
    );

    let script = read(&pipeline.path().join("render.sh")).replace(
        "set -e\n",
        "set -e\nn=$(cat counter 2>/dev/null || echo 0); n=$((n+1)); echo $n > counter\n",
    );
    pipeline.script(&script.replace("\"x\"", "\"$n\""));
    let output = pipeline.render(&["--check", "--check-determinism", "-o", "json"]);
    assert_code(&output, 1);
    // stdout holds exactly one JSON document, so `| jq` works.
    let document: serde_json::Value =
        serde_json::from_str(&stdout(&output)).expect("one JSON document");
    let target = &document["targets"][0];
    assert_eq!(target["status"], "stale");
    assert_eq!(
        target["changes"]["workflow"][0]["pointer"],
        "/spec/templates/0/container/args/1"
    );
    assert_eq!(target["determinism"]["deterministic"], false);
    assert_eq!(
        target["determinism"]["workflow"][0]["pointer"],
        "/spec/templates/0/container/args/1"
    );
}

#[test]
fn json_output_carries_a_failed_commands_stderr() {
    let pipeline = Pipeline::new("x", "m");
    pipeline.script("echo 'bad import' >&2\nexit 1\n");
    let output = pipeline.render(&["-o", "json"]);
    assert_code(&output, 1);
    let first_line = stdout(&output)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let document: serde_json::Value = serde_json::from_str(&first_line).expect("JSON");
    let target = &document["targets"][0];
    assert_eq!(target["status"], "failed");
    assert_eq!(
        target["error"]["message"],
        "the render command failed (exit code 1)"
    );
    assert_eq!(target["error"]["stderr"], "bad import");
}
