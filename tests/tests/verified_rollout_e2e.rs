//! Verified rollouts end to end: the real binary against the KFP API emulator (multi-user). A new
//! version is created paused, one `VERIFY::` run of it proves it (the test decides its outcome with the
//! emulator's finish control), and only then does it take over the schedule.
//!
//! Waits are bounded polls for a condition (never assertions on how long something took).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kfp_gitops_tests::emulator::{ALL_PROFILES, Emulator, EmulatorConfig, Profile, RunOutcome};
use serde_json::Value;

const NAMESPACE: &str = "team-1";

/// Upper bound of every wait: far beyond what any condition needs on an idle machine.
const PATIENCE: Duration = Duration::from_secs(120);

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"default": "hi", "name": "msg", "optional": true, "type": "String"}], "name": "hello"}'
spec:
  entrypoint: hello
  arguments:
    parameters:
    - name: msg
      value: hi
  templates:
  - name: hello
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.19
      command: [echo, '{{inputs.parameters.msg}}']
  serviceAccountName: pipeline-runner
"#;

/// Polls `probe` until it gives a value; `what` describes the wait (evaluated only on failure).
fn wait_for<T>(what: impl Fn() -> String, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for: {}", what());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A project folder: `kfp-gitops.yaml` naming namespace team-1 with its config in `cfg/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// `jobs` recurring runs `job-00`, `job-01`, ... (or `nightly` for one) passing `msg`, each with
    /// `rollout` (a YAML flow mapping, or empty), and `defaults` for the project file.
    fn new(jobs: usize, msg: &str, rollout: &str, defaults: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("workflow.yaml"), WORKFLOW).unwrap();
        std::fs::write(
            cfg.join("experiments.yaml"),
            "experiments:\n  - name: nightly-exp\n    description: from git\n",
        )
        .unwrap();
        let project = Self { dir };
        project.set(jobs, msg, rollout, defaults);
        project
    }

    fn set(&self, jobs: usize, msg: &str, rollout: &str, defaults: &str) {
        std::fs::write(
            self.dir.path().join("kfp-gitops.yaml"),
            format!("namespaces:\n  - namespace: {NAMESPACE}\n    config: cfg\n{defaults}"),
        )
        .unwrap();
        let mut runs = String::from("recurring_runs:\n");
        for name in job_names(jobs) {
            runs.push_str(&format!(
                "  - pipeline_source:\n      path: workflow.yaml\n    pipeline_parameters:\n      - name: msg\n        \
                 value: {msg}\n    keep_history: 1\n"
            ));
            if !rollout.is_empty() {
                runs.push_str(&format!("    rollout: {rollout}\n"));
            }
            runs.push_str(&format!(
                "    job:\n      enabled: true\n      name: {name}\n      experiment: nightly-exp\n      \
                 max_concurrency: 1\n      trigger:\n        catchup: false\n        cron: \"0 0 3 * * *\"\n"
            ));
        }
        std::fs::write(self.dir.path().join("cfg/recurring_runs.yaml"), runs).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn job_names(jobs: usize) -> Vec<String> {
    if jobs == 1 {
        return vec!["nightly".to_owned()];
    }
    (0..jobs).map(|index| format!("job-{index:02}")).collect()
}

fn kfp_gitops(emulator: &Emulator, project: &Project) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(project.path())
        .stdin(Stdio::null())
        .args(["--api-url", &emulator.base_url()]);
    command
}

fn apply(emulator: &Emulator, project: &Project, extra: &[&str]) -> Output {
    kfp_gitops(emulator, project)
        .args(["apply", "--verify-poll-interval", "50ms"])
        .args(extra)
        .output()
        .unwrap()
}

fn plan(emulator: &Emulator, project: &Project) -> Output {
    kfp_gitops(emulator, project)
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs take an hour unless the test finishes them.
fn start() -> Emulator {
    start_as(Profile::V1_8_5)
}

fn start_as(profile: Profile) -> Emulator {
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_profile(profile)).unwrap();
    emulator.set_run_duration(Duration::from_secs(3600));
    emulator
}

fn list(emulator: &Emulator, kind: &str) -> Vec<Value> {
    let response = emulator
        .request(
            "GET",
            &format!(
                "/apis/v1beta1/{kind}?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"
            ),
            None,
        )
        .unwrap();
    response.json()[kind]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The managed versions of `job`: (name, id, enabled), by name.
fn versions(emulator: &Emulator, job: &str) -> Vec<(String, String, bool)> {
    let prefix = format!("GIT::{job}__");
    let mut versions: Vec<(String, String, bool)> = list(emulator, "jobs")
        .iter()
        .filter(|job| {
            job["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&prefix)
        })
        .map(|job| {
            (
                job["name"].as_str().unwrap_or_default().to_owned(),
                job["id"].as_str().unwrap_or_default().to_owned(),
                job["enabled"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    versions.sort();
    versions
}

/// The verification runs of `job`.
fn verify_runs(emulator: &Emulator, job: &str) -> Vec<Value> {
    let prefix = format!("VERIFY::{job}__");
    list(emulator, "runs")
        .into_iter()
        .filter(|run| {
            run["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&prefix)
        })
        .collect()
}

fn parameter(run: &Value, name: &str) -> Option<String> {
    run["pipeline_spec"]["parameters"]
        .as_array()?
        .iter()
        .find(|parameter| parameter["name"] == name)
        .map(|parameter| parameter["value"].as_str().unwrap_or_default().to_owned())
}

fn job_reference(run: &Value) -> Option<String> {
    run["resource_references"]
        .as_array()?
        .iter()
        .find(|reference| reference["key"]["type"] == "JOB")
        .map(|reference| {
            reference["key"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
}

/// Finishes every verification run that appears, with the outcome `decide` gives its job (`None`:
/// left running), until dropped.
struct Finisher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Finisher {
    fn start(
        emulator: &Arc<Emulator>,
        decide: impl Fn(&str) -> Option<RunOutcome> + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let emulator = emulator.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for run in list(&emulator, "runs") {
                        let name = run["name"].as_str().unwrap_or_default();
                        let Some(rest) = name.strip_prefix("VERIFY::") else {
                            continue;
                        };
                        let job = rest.rsplit_once("__").map_or(rest, |(job, _)| job);
                        let status = run["status"].as_str().unwrap_or_default();
                        if matches!(status, "Succeeded" | "Failed" | "Error") {
                            continue;
                        }
                        if let Some(outcome) = decide(job) {
                            emulator.finish_run(run["id"].as_str().unwrap_or_default(), outcome);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Finisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const VERIFY: &str = "{strategy: verify, timeout: 1h}";

/// `nightly` applied once (swap) with `msg: one`, then changed to `msg: two` with `rollout`.
fn replaced(emulator: &Emulator, rollout: &str) -> (Project, (String, String, bool)) {
    let project = Project::new(1, "one", rollout, "");
    let first = apply(emulator, &project, &["--rollout", "swap"]);
    assert!(first.status.success(), "{}", text(&first));
    let old = versions(emulator, "nightly");
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(verify_runs(emulator, "nightly").is_empty());
    project.set(1, "two", rollout, "");
    (project, old[0].clone())
}

#[test]
fn a_verified_replacement_swaps_once_its_run_succeeds() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, VERIFY);
    let planned = plan(&emulator, &project);
    assert_eq!(planned.status.code(), Some(2), "{}", text(&planned));
    let shown = String::from_utf8_lossy(&planned.stdout);
    assert!(
        shown.contains("~ recurring run \"nightly\": replace (verify: one run first, timeout 1h)"),
        "{shown}"
    );

    // Saved, the plan carries the verification: `apply FILE` verifies (and takes no --rollout).
    let saved = kfp_gitops(&emulator, &project)
        .args(["plan", "--out", "plan.json"])
        .output()
        .unwrap();
    assert!(saved.status.success(), "{}", text(&saved));
    let refused = apply(&emulator, &project, &["plan.json", "--rollout", "swap"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--rollout"));
    let finisher = Finisher::start(&emulator, |_| Some(RunOutcome::Succeeded));
    let applied = apply(&emulator, &project, &["plan.json"]);
    drop(finisher);
    assert!(applied.status.success(), "{}", text(&applied));
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        stdout.contains("Verified rollout: 1 verified, 0 failed, 0 waiting."),
        "{stdout}"
    );
    // Not on a terminal: a line per change of the run's state.
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(
        stderr.contains("verify team-1/nightly: run VERIFY::nightly__")
            && stderr.contains(" is Succeeded after "),
        "{stderr}"
    );

    let now = versions(&emulator, "nightly");
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[0], (old.0.clone(), old.1.clone(), false), "{now:?}");
    assert!(now[1].2, "the new version is enabled: {now:?}");
    let runs = verify_runs(&emulator, "nightly");
    assert_eq!(runs.len(), 1, "exactly one verification run: {runs:?}");
    assert_eq!(parameter(&runs[0], "msg").as_deref(), Some("two"));
    assert_eq!(job_reference(&runs[0]).as_deref(), Some(now[1].1.as_str()));

    let after = plan(&emulator, &project);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
}

#[test]
fn every_kfp_backend_finds_the_verification_run_again() {
    for &profile in ALL_PROFILES {
        let emulator = Arc::new(start_as(profile));
        let (project, _) = replaced(&emulator, VERIFY);
        // The first apply is stopped (SIGKILL) once its run exists; the second finds the run.
        let mut child = kfp_gitops(&emulator, &project)
            .args(["apply", "--verify-poll-interval", "50ms"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let run = wait_for(
            || format!("{profile:?}: the verification run"),
            || verify_runs(&emulator, "nightly").into_iter().next(),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(emulator.finish_run(run["id"].as_str().unwrap(), RunOutcome::Succeeded));
        free_lock(&emulator);
        let applied = apply(&emulator, &project, &[]);
        assert!(applied.status.success(), "{profile:?}: {}", text(&applied));
        assert_eq!(verify_runs(&emulator, "nightly").len(), 1, "{profile:?}");
        let now = versions(&emulator, "nightly");
        assert!(!now[0].2 && now[1].2, "{profile:?}: {now:?}");
    }
}

/// Removes the namespace lock a killed apply left behind, as the expiry of its lease (30 minutes)
/// would.
fn free_lock(emulator: &Emulator) {
    let lock = list(emulator, "experiments")
        .into_iter()
        .find(|experiment| experiment["name"] == "kfp-gitops-lock")
        .expect("the killed apply's lock");
    let deleted = emulator
        .request(
            "DELETE",
            &format!("/apis/v1beta1/experiments/{}", lock["id"].as_str().unwrap()),
            None,
        )
        .unwrap();
    assert_eq!(deleted.status, 200, "{}", deleted.text());
}

#[test]
fn a_failed_verification_leaves_the_old_version_and_deletes_the_new_one() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, VERIFY);
    let finisher = Finisher::start(&emulator, |_| Some(RunOutcome::Failed));
    let applied = apply(&emulator, &project, &[]);
    drop(finisher);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    let runs = verify_runs(&emulator, "nightly");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_id = runs[0]["id"].as_str().unwrap();
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(stderr.contains(run_id), "the run id is reported:\n{stderr}");
    assert!(
        stderr.contains("#/runs/details/"),
        "and its page:\n{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&applied.stdout)
            .contains("Verified rollout: 0 verified, 1 failed, 0 waiting."),
        "{}",
        text(&applied)
    );

    assert_eq!(versions(&emulator, "nightly"), vec![old]);
    let after = plan(&emulator, &project);
    assert_eq!(after.status.code(), Some(2), "{}", text(&after));
    assert!(
        String::from_utf8_lossy(&after.stdout).contains("replace (verify: one run first"),
        "{}",
        text(&after)
    );
}

#[test]
fn a_verification_that_times_out_is_terminated_and_the_old_version_stays() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, "{strategy: verify, timeout: 1s}");
    let applied = apply(&emulator, &project, &[]);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    let runs = verify_runs(&emulator, "nightly");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert!(
        stderr.contains(runs[0]["id"].as_str().unwrap())
            && stderr.contains("did not finish within 1s"),
        "{stderr}"
    );
    assert_eq!(versions(&emulator, "nightly"), vec![old]);
    let after = plan(&emulator, &project);
    assert_eq!(after.status.code(), Some(2), "{}", text(&after));
}

#[test]
fn a_kept_failed_version_stays_paused_and_is_not_verified_again_without_retry_failed() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, "{strategy: verify, keep_failed: true}");
    let finisher = Finisher::start(&emulator, |_| Some(RunOutcome::Failed));
    let applied = apply(&emulator, &project, &[]);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    let kept = versions(&emulator, "nightly");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0], old);
    assert!(!kept[1].2, "kept paused: {kept:?}");

    // Applying again reports the same failed run; no second run is started.
    let again = apply(&emulator, &project, &[]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert_eq!(verify_runs(&emulator, "nightly").len(), 1);
    drop(finisher);

    // --retry-failed starts a new run, which this time succeeds.
    let finisher = Finisher::start(&emulator, |_| Some(RunOutcome::Succeeded));
    let retried = apply(&emulator, &project, &["--retry-failed"]);
    drop(finisher);
    assert!(retried.status.success(), "{}", text(&retried));
    assert_eq!(verify_runs(&emulator, "nightly").len(), 2);
    let now = versions(&emulator, "nightly");
    assert_eq!(
        now[1],
        (kept[1].0.clone(), kept[1].1.clone(), true),
        "{now:?}"
    );
    assert!(!now[0].2, "{now:?}");
}

#[test]
fn twenty_verified_replacements_with_five_failing_swap_fifteen_and_leave_five() {
    let emulator = Arc::new(start());
    let defaults = "defaults:\n  rollout: {strategy: verify, timeout: 1h}\n";
    let project = Project::new(20, "one", "", defaults);
    let first = apply(&emulator, &project, &["--rollout", "swap"]);
    assert!(first.status.success(), "{}", text(&first));
    let before: Vec<_> = job_names(20)
        .iter()
        .map(|job| versions(&emulator, job))
        .collect();
    project.set(20, "two", "", defaults);

    let failing = ["job-03", "job-07", "job-11", "job-15", "job-19"];
    let finisher = Finisher::start(&emulator, move |job| {
        Some(if failing.contains(&job) {
            RunOutcome::Failed
        } else {
            RunOutcome::Succeeded
        })
    });
    let applied = apply(&emulator, &project, &[]);
    drop(finisher);
    assert_eq!(applied.status.code(), Some(1), "{}", text(&applied));
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert_eq!(
        stdout
            .matches("Verified rollout: 15 verified, 5 failed, 0 waiting.")
            .count(),
        1,
        "one summary:\n{stdout}"
    );
    for (job, before) in job_names(20).iter().zip(before) {
        let now = versions(&emulator, job);
        assert_eq!(verify_runs(&emulator, job).len(), 1, "{job}");
        if failing.contains(&job.as_str()) {
            assert_eq!(now, before, "{job} untouched");
            assert!(
                stdout.contains(&format!(
                    "✗ {NAMESPACE}/{job}: verification run VERIFY::{job}__"
                )),
                "{stdout}"
            );
        } else {
            assert_eq!(now.len(), 2, "{job}: {now:?}");
            assert!(!now[0].2 && now[1].2, "{job} swapped: {now:?}");
        }
    }
}

#[test]
fn an_apply_killed_while_waiting_is_continued_by_the_next_without_a_second_run() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, VERIFY);
    let mut child = kfp_gitops(&emulator, &project)
        .args(["apply", "--verify-poll-interval", "50ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run = wait_for(
        || "the verification run to exist".to_owned(),
        || verify_runs(&emulator, "nightly").into_iter().next(),
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The old version is still the enabled one; the new one is paused.
    let left = versions(&emulator, "nightly");
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], old);
    assert!(!left[1].2, "{left:?}");

    // The killed process still holds the namespace's lock until its lease expires.
    free_lock(&emulator);

    let run_id = run["id"].as_str().unwrap().to_owned();
    let before = emulator.count("GET /apis/v1beta1/runs/{id}");
    let again = kfp_gitops(&emulator, &project)
        .args(["apply", "--verify-poll-interval", "50ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the second apply is polling the run, the run succeeds.
    wait_for(
        || "the second apply to wait for the run".to_owned(),
        || (emulator.count("GET /apis/v1beta1/runs/{id}") > before).then_some(()),
    );
    assert!(emulator.finish_run(&run_id, RunOutcome::Succeeded));
    let output = again.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(verify_runs(&emulator, "nightly").len(), 1, "no second run");
    let now = versions(&emulator, "nightly");
    assert_eq!(now[0], (old.0, old.1, false), "{now:?}");
    assert_eq!(
        now[1],
        (left[1].0.clone(), left[1].1.clone(), true),
        "{now:?}"
    );
    let after = plan(&emulator, &project);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
}

/// `kfp-gitops watch` on the project, serving its metrics; killed when dropped.
struct Daemon {
    child: std::process::Child,
    http: std::net::SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    fn start(emulator: &Emulator, project: &Project, log: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let child = kfp_gitops(emulator, project)
            .args(["watch", "--interval", "1s", "--root"])
            .arg(project.path())
            .args(["--listen", &http.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            http,
            log: log.to_owned(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of a metric series, e.g. `kfp_gitops_verifications_total{result="started"}`.
    fn metric(&self, series: &str) -> Option<f64> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.http).ok()?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits until the daemon has finished `more` cycles after the current one.
    fn wait_cycles(&self, more: f64) {
        let series = r#"kfp_gitops_reconcile_total{result="success"}"#;
        let now = self.metric(series).unwrap_or(0.0);
        wait_for(
            || format!("{more} more cycles; log:\n{}", self.log()),
            || (self.metric(series)? >= now + more).then_some(()),
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_daemon_verifies_across_cycles_and_does_not_retry_a_config_that_failed() {
    let emulator = Arc::new(start());
    let project = Project::new(2, "one", VERIFY, "");
    let first = apply(&emulator, &project, &["--rollout", "swap"]);
    assert!(first.status.success(), "{}", text(&first));
    project.set(2, "two", VERIFY, "");
    let logs = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&emulator, &project, &logs.path().join("daemon.log"));

    let runs = wait_for(
        || format!("both verification runs; log:\n{}", daemon.log()),
        || {
            let runs: Vec<Value> = ["job-00", "job-01"]
                .iter()
                .filter_map(|job| verify_runs(&emulator, job).into_iter().next())
                .collect();
            (runs.len() == 2).then_some(runs)
        },
    );
    // The daemon goes on cycling while the runs are in progress, and starts no second run.
    daemon.wait_cycles(2.0);
    assert_eq!(verify_runs(&emulator, "job-00").len(), 1);
    assert_eq!(verify_runs(&emulator, "job-01").len(), 1);
    assert!(
        versions(&emulator, "job-00")[0].2,
        "the old version still runs"
    );

    let outcomes = [RunOutcome::Succeeded, RunOutcome::Failed];
    for (run, outcome) in runs.iter().zip(outcomes) {
        assert!(emulator.finish_run(run["id"].as_str().unwrap(), outcome));
    }
    wait_for(
        || {
            format!(
                "job-00 swapped and job-01's new version deleted; log:\n{}",
                daemon.log()
            )
        },
        || {
            let swapped = versions(&emulator, "job-00");
            let kept = versions(&emulator, "job-01");
            (swapped.len() == 2 && swapped[1].2 && kept.len() == 1 && kept[0].2).then_some(())
        },
    );
    wait_for(
        || format!("the verification metrics; log:\n{}", daemon.log()),
        || {
            let value = |series: &str| daemon.metric(series).unwrap_or(-1.0);
            (value(r#"kfp_gitops_verifications_total{result="started"}"#) == 2.0
                && value(r#"kfp_gitops_verifications_total{result="succeeded"}"#) == 1.0
                && value(r#"kfp_gitops_verifications_total{result="failed"}"#) == 1.0
                && value(r#"kfp_gitops_unverified_recurring_runs{namespace="team-1"}"#) == 1.0)
                .then_some(())
        },
    );

    // The config that failed is not verified again in the next cycles...
    daemon.wait_cycles(2.0);
    assert_eq!(
        verify_runs(&emulator, "job-01").len(),
        1,
        "{}",
        daemon.log()
    );
    assert_eq!(versions(&emulator, "job-01").len(), 1);
    // ...but a changed one is.
    project.set(2, "three", VERIFY, "");
    wait_for(
        || format!("a new verification of job-01; log:\n{}", daemon.log()),
        || (verify_runs(&emulator, "job-01").len() == 2).then_some(()),
    );
}

#[test]
fn ctrl_c_while_waiting_stops_at_once_and_leaves_the_old_version_enabled() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, VERIFY);
    let child = kfp_gitops(&emulator, &project)
        .args(["apply", "--verify-poll-interval", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for(
        || "the verification run to exist".to_owned(),
        || verify_runs(&emulator, "nightly").into_iter().next(),
    );
    // The apply now waits an hour between looks at the run; SIGINT ends the wait.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    let left = versions(&emulator, "nightly");
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], old);
    assert!(!left[1].2, "the new version stays paused: {left:?}");

    // The lock was given back: the next apply continues with the same run at once.
    assert!(emulator.finish_run(run["id"].as_str().unwrap(), RunOutcome::Succeeded));
    let applied = apply(&emulator, &project, &[]);
    assert!(applied.status.success(), "{}", text(&applied));
    assert_eq!(verify_runs(&emulator, "nightly").len(), 1);
    let now = versions(&emulator, "nightly");
    assert!(!now[0].2 && now[1].2, "{now:?}");
}
