//! What the verified-rollout end-to-end suites share: a project folder, the binary, the emulator with
//! runs that last until the test finishes them, and the daemon.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, Profile, RunOutcome};
use serde_json::Value;

pub const NAMESPACE: &str = "team-1";

/// Upper bound of every wait: far beyond what any condition needs on an idle machine.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub const WORKFLOW: &str = kfp_gitops_tests::fixtures::HELLO_WORKFLOW;

/// Polls `probe` until it gives a value; `what` describes the wait (evaluated only on failure).
pub fn wait_for<T>(what: impl Fn() -> String, mut probe: impl FnMut() -> Option<T>) -> T {
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
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// `jobs` recurring runs `job-00`, `job-01`, ... (or `nightly` for one) passing `msg`, each with
    /// `rollout` (a YAML flow mapping, or empty), and `defaults` for the project file.
    pub fn new(jobs: usize, msg: &str, rollout: &str, defaults: &str) -> Self {
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

    pub fn set(&self, jobs: usize, msg: &str, rollout: &str, defaults: &str) {
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

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

pub fn job_names(jobs: usize) -> Vec<String> {
    if jobs == 1 {
        return vec!["nightly".to_owned()];
    }
    (0..jobs).map(|index| format!("job-{index:02}")).collect()
}

pub fn kfp_gitops(emulator: &Emulator, project: &Project) -> Command {
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

pub fn apply(emulator: &Emulator, project: &Project, extra: &[&str]) -> Output {
    kfp_gitops(emulator, project)
        .args(["apply", "--verify-poll-interval", "50ms"])
        .args(extra)
        .output()
        .unwrap()
}

pub fn plan(emulator: &Emulator, project: &Project) -> Output {
    kfp_gitops(emulator, project)
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap()
}

pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs take an hour unless the test finishes them.
pub fn start() -> Emulator {
    start_as(Profile::V1_8_5)
}

pub fn start_as(profile: Profile) -> Emulator {
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_profile(profile)).unwrap();
    emulator.set_run_duration(Duration::from_secs(3600));
    emulator
}

pub fn list(emulator: &Emulator, kind: &str) -> Vec<Value> {
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
pub fn versions(emulator: &Emulator, job: &str) -> Vec<(String, String, bool)> {
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
pub fn verify_runs(emulator: &Emulator, job: &str) -> Vec<Value> {
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

pub fn parameter(run: &Value, name: &str) -> Option<String> {
    run["pipeline_spec"]["parameters"]
        .as_array()?
        .iter()
        .find(|parameter| parameter["name"] == name)
        .map(|parameter| parameter["value"].as_str().unwrap_or_default().to_owned())
}

pub fn job_reference(run: &Value) -> Option<String> {
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
pub struct Finisher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Finisher {
    pub fn start(
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

pub const VERIFY: &str = "{strategy: verify, timeout: 1h}";

/// `nightly` applied once (swap) with `msg: one`, then changed to `msg: two` with `rollout`.
pub fn replaced(emulator: &Emulator, rollout: &str) -> (Project, (String, String, bool)) {
    let project = Project::new(1, "one", rollout, "");
    let first = apply(emulator, &project, &["--rollout", "swap"]);
    assert!(first.status.success(), "{}", text(&first));
    let old = versions(emulator, "nightly");
    assert_eq!(old.len(), 1, "{old:?}");
    assert!(verify_runs(emulator, "nightly").is_empty());
    project.set(1, "two", rollout, "");
    (project, old[0].clone())
}

/// Removes the namespace lock a killed apply left behind, as the expiry of its lease (30 minutes)
/// would.
/// When the namespace's lock expires, from its description (`… until 2026-12-06T12:00:00Z`).
pub fn lock_expiry(emulator: &Emulator) -> jiff::Timestamp {
    let lock = list(emulator, "experiments")
        .into_iter()
        .find(|experiment| experiment["name"] == "kfp-gitops-lock")
        .expect("a held lock");
    let description = lock["description"].as_str().unwrap();
    let (_, until) = description
        .rsplit_once(" until ")
        .unwrap_or_else(|| panic!("no expiry in {description:?}"));
    until.trim().parse().unwrap()
}

pub fn free_lock(emulator: &Emulator) {
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

/// `kfp-gitops watch` on the project, serving its metrics; killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    http: std::net::SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    pub fn start(emulator: &Emulator, project: &Project, log: &Path) -> Self {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The value of a metric series, e.g. `kfp_gitops_verifications_total{result="started"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
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
    pub fn wait_cycles(&self, more: f64) {
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
