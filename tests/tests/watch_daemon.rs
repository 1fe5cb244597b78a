//! `kfp-gitops watch` end to end: the real binary as a daemon against the emulator, with its
//! configuration in a git-sync style checkout (worktrees published by swapping a symlink) or a plain
//! folder edited in place.
//!
//! Waits are bounded polls for a condition (never assertions on how long something took): a slow
//! machine makes these tests slower, not flaky.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, Fault};
use serde_json::Value;

/// Upper bound of every wait: far beyond what any condition needs on an idle machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `probe` until it gives a value; `what` describes the wait (evaluated only on failure).
fn wait_for<T>(what: impl Fn() -> String, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for: {}", what());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A git-sync style checkout: `root/.worktrees/<rev>/...` with `root/repo` pointing at the current one.
struct Checkout {
    root: tempfile::TempDir,
}

impl Checkout {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
        }
    }

    /// The link the daemon is given (`--root`).
    fn link(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    /// Writes a complete revision into a new worktree, then swaps the link to it atomically, the way
    /// git-sync does (a new symlink renamed over the old one).
    fn publish(&self, revision: &str, schedules: &Schedules) {
        let worktree = self.root.path().join(".worktrees").join(revision);
        schedules.write(&worktree);
        let staged = self.root.path().join(format!(".repo-{revision}"));
        std::os::unix::fs::symlink(format!(".worktrees/{revision}"), &staged).unwrap();
        std::fs::rename(&staged, self.link()).unwrap();
    }
}

/// The content of the schedules repository: recurring runs of namespace `team-1`, all using the
/// example pipeline committed in `examples/daily-digest/RENDERED_PIPELINE`.
#[derive(Clone)]
struct Schedules {
    /// (job name, 6-field cron, enabled)
    jobs: Vec<(String, String, bool)>,
    /// `defaults.api_url` of the project file.
    api_url: Option<String>,
}

impl Schedules {
    fn new(jobs: &[(&str, &str, bool)]) -> Self {
        Self {
            jobs: jobs
                .iter()
                .map(|(name, cron, enabled)| ((*name).to_owned(), (*cron).to_owned(), *enabled))
                .collect(),
            api_url: None,
        }
    }

    fn write(&self, dir: &Path) {
        let pipeline = kfp_gitops_tests::python::workspace_root()
            .join("examples/daily-digest/RENDERED_PIPELINE");
        let rendered = dir.join("RENDERED_PIPELINE");
        std::fs::create_dir_all(rendered.join("params")).unwrap();
        std::fs::copy(
            pipeline.join("workflow.yaml"),
            rendered.join("workflow.yaml"),
        )
        .unwrap();
        for entry in std::fs::read_dir(pipeline.join("params")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                rendered.join("params").join(entry.file_name()),
            )
            .unwrap();
        }
        let mut project =
            String::from("namespaces:\n  - namespace: team-1\n    config: schedules/team-1\n");
        if let Some(url) = &self.api_url {
            project.push_str(&format!("defaults:\n  api_url: {url}\n"));
        }
        std::fs::write(dir.join("kfp-gitops.yaml"), project).unwrap();
        let config = dir.join("schedules/team-1");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("experiments.yaml"),
            "experiments:\n  - name: nightly\n    description: scheduled from git\n",
        )
        .unwrap();
        let mut runs = String::from("recurring_runs:\n");
        for (name, cron, enabled) in &self.jobs {
            runs.push_str(&format!(
                "  - pipeline_source:\n      rendered_pipeline: ../../RENDERED_PIPELINE\n    \
                 keep_history: 1\n    job:\n      enabled: {enabled}\n      name: {name}\n      \
                 experiment: nightly\n      max_concurrency: 1\n      trigger:\n        catchup: false\n        \
                 cron: \"{cron}\"\n"
            ));
        }
        std::fs::write(config.join("recurring_runs.yaml"), runs).unwrap();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon process; killed (if still running) when dropped.
struct Daemon {
    child: Child,
    http: SocketAddr,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Daemon {
    fn start(emulator: &Emulator, checkout: &Checkout, extra: &[&str]) -> Self {
        Self::spawn(&["--api-url", &emulator.base_url()], checkout, extra)
    }

    /// Without `--api-url` (nor `KFP_API_URL`): the API comes from the checkout's project file.
    fn start_with_project_api_url(checkout: &Checkout) -> Self {
        Self::spawn(&[], checkout, &[])
    }

    fn spawn(global: &[&str], checkout: &Checkout, extra: &[&str]) -> Self {
        Self::spawn_with_clock(global, checkout, extra, None)
    }

    /// With `now`, every cycle takes that instant as its clock (`KFP_GITOPS_NOW`, tests only).
    fn spawn_with_clock(
        global: &[&str],
        checkout: &Checkout,
        extra: &[&str],
        now: Option<&str>,
    ) -> Self {
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("daemon.log");
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
        if let Some(now) = now {
            command.env("KFP_GITOPS_NOW", now);
        }
        let child = command
            .args(global)
            .args(["watch", "--interval", "1s"])
            .arg("--root")
            .arg(checkout.link())
            .arg("--listen")
            .arg(http.to_string())
            .args(extra)
            .env_remove("KFP_API_URL")
            .env_remove("KFP_NAMESPACE")
            .env_remove("RUST_LOG")
            .env_remove("KFP_TOKEN")
            .env_remove("DEX_USERNAME")
            .env_remove("DEX_PASSWORD")
            .env_remove("KF_PIPELINES_SA_TOKEN_PATH")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("kfp-gitops starts");
        Self {
            child,
            http,
            log,
            _log_dir: log_dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(self.http).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.get(9..12)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    }

    fn wait_ready(&self) {
        wait_for(
            || format!("/readyz to answer 200; log:\n{}", self.log()),
            || self.get("/readyz").filter(|(status, _)| *status == 200),
        );
    }

    /// The value of a metric series, e.g. `kfp_gitops_actions_total{kind="create"}`.
    fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The recurring-run versions in the emulator: display name -> (cron, enabled).
fn versions(emulator: &Emulator) -> BTreeMap<String, (String, bool)> {
    emulator.state()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job: &Value| {
            (
                job["name"].as_str().unwrap().to_owned(),
                (
                    job["cron"].as_str().unwrap_or_default().to_owned(),
                    job["enabled"].as_bool().unwrap_or(false),
                ),
            )
        })
        .collect()
}

/// The versions of one logical job, i.e. named `GIT::{job}__{timestamp}`.
fn versions_of(emulator: &Emulator, job: &str) -> Vec<(String, bool)> {
    let prefix = format!("GIT::{job}__");
    versions(emulator)
        .into_iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(_, version)| version)
        .collect()
}

fn multi_user() -> Emulator {
    Emulator::start(EmulatorConfig::multi_user()).unwrap()
}

#[test]
fn the_daemon_converges_turns_ready_and_counts_its_actions() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "1111111",
        &Schedules::new(&[
            ("nightly", "0 0 2 * * *", true),
            ("weekly", "0 0 3 * * 1", false),
        ]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();

    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );
    assert_eq!(
        versions_of(&emulator, "weekly"),
        vec![("0 0 3 * * 1".to_owned(), false)]
    );
    // Two versions created, one enabled, one experiment created; later cycles change nothing.
    wait_for(
        || "a second, no-op cycle".to_owned(),
        || {
            daemon
                .metric("kfp_gitops_reconcile_total{result=\"success\"}")
                .filter(|n| *n >= 2.0)
        },
    );
    assert_eq!(
        daemon.metric("kfp_gitops_actions_total{kind=\"create\"}"),
        Some(2.0)
    );
    assert_eq!(
        daemon.metric("kfp_gitops_actions_total{kind=\"enable\"}"),
        Some(1.0)
    );
    assert_eq!(
        daemon.metric("kfp_gitops_actions_total{kind=\"create_experiment\"}"),
        Some(1.0)
    );
    assert_eq!(
        daemon.metric("kfp_gitops_managed_jobs{namespace=\"team-1\"}"),
        Some(2.0)
    );
    assert!(
        daemon
            .metric("kfp_gitops_last_success_timestamp_seconds")
            .unwrap()
            > 1.0e9
    );
    assert_eq!(daemon.get("/healthz"), Some((200, "ok\n".to_owned())));
    let log = daemon.log();
    assert!(log.contains("reconcile finished"), "{log}");
    assert!(
        log.contains("revision=\"1111111\"") || log.contains("revision=1111111"),
        "{log}"
    );
}

#[test]
fn the_daemon_exports_the_health_of_each_recurring_run_and_a_failed_run_makes_it_degraded() {
    let emulator = Emulator::start(
        EmulatorConfig::multi_user().with_run_duration(std::time::Duration::from_secs(3600)),
    )
    .unwrap();
    let checkout = Checkout::new();
    checkout.publish(
        "1111111",
        &Schedules::new(&[
            ("nightly", "0 0 2 * * *", true),
            ("weekly", "0 0 3 * * 1", false),
        ]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    let series = |job: &str, health: &str| {
        format!(
            "kfp_gitops_recurring_run_health{{namespace=\"team-1\",recurring_run=\"{job}\",health=\"{health}\"}}"
        )
    };
    wait_for(
        || {
            format!(
                "nightly Healthy and weekly Suspended; metrics:\n{:?}\nlog:\n{}",
                daemon.get("/metrics"),
                daemon.log()
            )
        },
        || {
            (daemon.metric(&series("nightly", "Healthy")) == Some(1.0)
                && daemon.metric(&series("weekly", "Suspended")) == Some(1.0))
            .then_some(())
        },
    );
    assert_eq!(daemon.metric(&series("nightly", "Degraded")), Some(0.0));
    // nightly fires and its run fails.
    let nightly = emulator.state()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"].as_str().unwrap().starts_with("GIT::nightly__"))
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .unwrap();
    let run = emulator.trigger_job(&nightly).unwrap();
    assert!(emulator.finish_run(&run, kfp_gitops_tests::emulator::RunOutcome::Failed));
    wait_for(
        || "nightly Degraded".to_owned(),
        || (daemon.metric(&series("nightly", "Degraded")) == Some(1.0)).then_some(()),
    );
    assert_eq!(daemon.metric(&series("nightly", "Healthy")), Some(0.0));
}

#[test]
fn a_new_revision_published_by_a_symlink_swap_is_applied_in_the_next_cycle() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "aaaaaaa",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );

    checkout.publish(
        "bbbbbbb",
        &Schedules::new(&[("nightly", "0 30 4 * * *", true)]),
    );
    let after = wait_for(
        || "the new cron to be rolled out".to_owned(),
        || {
            let versions = versions_of(&emulator, "nightly");
            versions
                .iter()
                .any(|(cron, enabled)| cron == "0 30 4 * * *" && *enabled)
                .then_some(versions)
        },
    );
    // The old version is kept (keep_history: 1) but disabled: never two enabled versions.
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        after.iter().filter(|(_, enabled)| *enabled).count(),
        1,
        "{after:?}"
    );
    wait_for(
        || "a cycle logged with the new revision".to_owned(),
        || daemon.log().contains("bbbbbbb").then_some(()),
    );
}

#[test]
fn a_plain_config_folder_edited_in_place_is_applied_in_the_next_cycle() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    // No git-sync here: the root is an ordinary folder whose files are rewritten where they are.
    let root = checkout.link();
    Schedules::new(&[("nightly", "0 0 2 * * *", true)]).write(&root);
    assert!(!root.is_symlink());
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );

    let runs = root.join("schedules/team-1/recurring_runs.yaml");
    let text = std::fs::read_to_string(&runs).unwrap();
    assert!(text.contains("cron: \"0 0 2 * * *\""), "{text}");
    std::fs::write(&runs, text.replace("0 0 2 * * *", "0 30 4 * * *")).unwrap();
    let mut after = wait_for(
        || format!("the edited cron to be rolled out; log:\n{}", daemon.log()),
        || {
            let versions = versions_of(&emulator, "nightly");
            versions
                .iter()
                .any(|(cron, enabled)| cron == "0 30 4 * * *" && *enabled)
                .then_some(versions)
        },
    );
    // Replaced like any other change: the old version is kept (keep_history: 1) but disabled.
    after.sort();
    assert_eq!(
        after,
        vec![
            ("0 0 2 * * *".to_owned(), false),
            ("0 30 4 * * *".to_owned(), true)
        ]
    );
}

#[test]
fn an_api_outage_makes_the_daemon_unready_until_the_api_is_back() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "ccccccc",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();

    // Every listing fails from now on: the daemon backs off, and after three intervals without a
    // success it is no longer ready.
    for path in ["/apis/v1beta1/experiments", "/apis/v1beta1/jobs"] {
        emulator.inject_fault(Fault {
            method: "GET".to_owned(),
            path: path.to_owned(),
            nth: 1,
            times: 0,
            status: 503,
            message: "injected outage".to_owned(),
            ..Fault::default()
        });
    }
    let (_, reason) = wait_for(
        || "/readyz to fail".to_owned(),
        || daemon.get("/readyz").filter(|(status, _)| *status == 503),
    );
    assert!(
        reason.starts_with("not ready: last successful reconcile"),
        "{reason}"
    );
    assert!(
        daemon
            .metric("kfp_gitops_reconcile_total{result=\"failure\"}")
            .unwrap()
            >= 1.0
    );
    assert_eq!(daemon.get("/healthz").map(|(status, _)| status), Some(200));

    emulator.clear_faults();
    daemon.wait_ready();
}

const ROLLOUT_CRON: &str = "0 0 2 * * *";

/// Eight recurring runs rolled out over slow API calls, with SIGTERM sent as soon as the first version was
/// created. The daemon (started with `args`) must exit 0; the latency is lifted again for the checks.
fn terminated_mid_rollout(revision: &str, args: &[&str]) -> (Emulator, Daemon, Vec<String>) {
    let emulator = multi_user();
    let checkout = Checkout::new();
    let names: Vec<String> = (1..=8).map(|n| format!("job-{n}")).collect();
    let jobs: Vec<(&str, &str, bool)> = names
        .iter()
        .map(|n| (n.as_str(), ROLLOUT_CRON, true))
        .collect();
    checkout.publish(revision, &Schedules::new(&jobs));
    // Slow API calls, so that the signal arrives while jobs are being rolled out.
    emulator.set_latency(Duration::from_millis(150));
    let mut daemon = Daemon::start(&emulator, &checkout, args);

    wait_for(
        || "the first version to be created".to_owned(),
        || (emulator.count("POST /apis/v1beta1/jobs") >= 1).then_some(()),
    );
    daemon.signal("TERM");
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
    emulator.set_latency(Duration::ZERO);
    (emulator, daemon, names)
}

/// How many of `names` were rolled out completely (their one version exists and is enabled), after checking
/// that every other one was left untouched: none is created-but-paused (half replaced).
fn completed_jobs(emulator: &Emulator, daemon: &Daemon, names: &[String]) -> usize {
    let complete = vec![(ROLLOUT_CRON.to_owned(), true)];
    let mut completed = 0;
    for name in names {
        let versions = versions_of(emulator, name);
        assert!(
            versions.is_empty() || versions == complete,
            "{name}: {versions:?}\nlog:\n{}",
            daemon.log()
        );
        completed += usize::from(versions == complete);
    }
    completed
}

#[test]
fn sigterm_in_the_middle_of_a_cycle_exits_cleanly_without_a_half_replaced_job() {
    let (emulator, daemon, names) = terminated_mid_rollout("ddddddd", &[]);
    // The job whose creation was seen before the signal was finished, not abandoned.
    assert!(
        completed_jobs(&emulator, &daemon, &names) >= 1,
        "no job was completed; log:\n{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("shutdown requested"),
        "{}",
        daemon.log()
    );
}

#[test]
fn sigterm_during_a_once_cycle_finishes_the_job_under_way_and_exits_0() {
    let (emulator, daemon, names) = terminated_mid_rollout("fffffff", &["--once"]);
    let completed = completed_jobs(&emulator, &daemon, &names);
    assert!(
        completed >= 1,
        "no job was completed; log:\n{}",
        daemon.log()
    );
    // The signal did cut the cycle short: otherwise this test would not show anything.
    assert!(
        completed < names.len(),
        "every job was rolled out before the signal arrived; log:\n{}",
        daemon.log()
    );
}

#[test]
fn once_runs_a_single_cycle_and_exits_with_its_result() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "eeeeeee",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    let output = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
        .args([
            "--api-url",
            &emulator.base_url(),
            "watch",
            "--once",
            "--log-format",
            "json",
        ])
        .arg("--root")
        .arg(checkout.link())
        .env_remove("RUST_LOG")
        .env_remove("KFP_NAMESPACE")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );
    // One JSON object per line, the cycle summary among them.
    let summary: Value = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "reconcile finished")
        .unwrap_or_else(|| panic!("no JSON summary line in:\n{log}"));
    assert_eq!(summary["fields"]["result"], "success");
    assert_eq!(summary["fields"]["revision"], "eeeeeee");

    // Against an API that is down, the single cycle fails and so does the command.
    drop(emulator);
    let output = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
        .args(["--api-url", "http://127.0.0.1:9", "watch", "--once"])
        .arg("--root")
        .arg(checkout.link())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_version_disabled_outside_git_is_counted_as_drift_and_enabled_again() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "fffffff",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    assert_eq!(daemon.metric("kfp_gitops_drift_total"), Some(0.0));

    // Someone pauses the recurring run in the KFP UI.
    let id = emulator.state()["jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = kfp_gitops_tests::emulator::client::send(
        emulator.addr(),
        "POST",
        &format!("/apis/v1beta1/jobs/{id}/disable"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), false)]
    );

    wait_for(
        || format!("the drift to be corrected; log:\n{}", daemon.log()),
        || {
            (versions_of(&emulator, "nightly") == vec![("0 0 2 * * *".to_owned(), true)])
                .then_some(())
        },
    );
    wait_for(
        || "kfp_gitops_drift_total to count it".to_owned(),
        || {
            daemon
                .metric("kfp_gitops_drift_total")
                .filter(|n| *n >= 1.0)
        },
    );
    assert!(
        daemon
            .log()
            .contains("drift: correcting a change made outside git")
    );
}

#[test]
fn without_api_url_flag_the_checkouts_project_file_names_the_api() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    let mut schedules = Schedules::new(&[("nightly", "0 0 2 * * *", true)]);
    schedules.api_url = Some(emulator.base_url());
    checkout.publish("1234567", &schedules);
    let output = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
        .args(["watch", "--once"])
        .arg("--root")
        .arg(checkout.link())
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );
}

#[test]
fn the_daemon_keeps_its_start_up_api_url_and_warns_when_the_project_file_names_another() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    let mut schedules = Schedules::new(&[("nightly", "0 0 2 * * *", true)]);
    schedules.api_url = Some(emulator.base_url());
    checkout.publish("a1a1a1a", &schedules);
    let daemon = Daemon::start_with_project_api_url(&checkout);
    daemon.wait_ready();
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );

    // A revision that moves the API elsewhere (nothing answers there) and changes the job.
    schedules.api_url = Some("http://kfp-elsewhere.invalid:8888".to_owned());
    schedules.jobs[0].1 = "0 30 4 * * *".to_owned();
    checkout.publish("b2b2b2b", &schedules);
    wait_for(
        || format!("the new cron to be rolled out; log:\n{}", daemon.log()),
        || {
            versions_of(&emulator, "nightly")
                .iter()
                .any(|(cron, enabled)| cron == "0 30 4 * * *" && *enabled)
                .then_some(())
        },
    );
    let successes = daemon
        .metric("kfp_gitops_reconcile_total{result=\"success\"}")
        .unwrap();
    wait_for(
        || "another cycle with the changed project file".to_owned(),
        || {
            daemon
                .metric("kfp_gitops_reconcile_total{result=\"success\"}")
                .filter(|n| *n > successes)
        },
    );
    let log = daemon.log();
    let warning = format!(
        "kfp-gitops.yaml now names another defaults.api_url; still using {} until the daemon restarts",
        emulator.base_url()
    );
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    assert!(!log.contains("kfp-elsewhere"), "{log}");
}

#[test]
fn a_failed_action_is_counted_and_the_next_cycle_completes_the_job() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "9999999",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    // The first enable fails (500 is not retried by the client): the job is left with its new
    // version created but paused.
    emulator.inject_fault(Fault {
        method: "POST".to_owned(),
        path: "/apis/v1beta1/jobs/*/enable".to_owned(),
        nth: 1,
        times: 1,
        status: 500,
        message: "injected".to_owned(),
        ..Fault::default()
    });
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 2 * * *".to_owned(), true)]
    );
    assert!(
        daemon
            .metric("kfp_gitops_action_failures_total{kind=\"enable\"}")
            .unwrap()
            >= 1.0
    );
    assert!(
        daemon
            .metric("kfp_gitops_reconcile_total{result=\"failure\"}")
            .unwrap()
            >= 1.0
    );
    assert!(
        daemon.log().contains("reconcile failed"),
        "{}",
        daemon.log()
    );
}

#[test]
fn an_absolute_config_folder_outside_the_checkout_is_refused_at_start_up_and_inside_it_works() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "fffffff",
        &Schedules::new(&[("nightly", "0 0 3 * * *", true)]),
    );
    let config = checkout.link().join("schedules/team-1");
    let unrelated = tempfile::tempdir().unwrap();
    let watch_once = |root: Option<&Path>| {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
        command
            .args([
                "--api-url",
                &emulator.base_url(),
                "-n",
                "team-1",
                "watch",
                "--once",
            ])
            .arg("--config")
            .arg(&config)
            .current_dir(unrelated.path())
            .env_remove("RUST_LOG")
            .env_remove("KFP_NAMESPACE")
            .env_remove("KFP_GITOPS_ROOT")
            .env("NO_COLOR", "1");
        if let Some(root) = root {
            command.arg("--root").arg(root);
        }
        command.output().unwrap()
    };

    // The default root is the current folder, which does not hold the config: refused before any cycle.
    let output = watch_once(None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let unrelated_root = std::path::absolute(unrelated.path()).unwrap();
    assert!(
        stderr.contains(&format!(
            "error: --config {} is outside the checkout {}",
            config.display(),
            unrelated_root.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: every file is read from the checkout"),
        "{stderr}"
    );
    assert_eq!(emulator.total_requests(), 0, "nothing was asked of KFP");

    // With the checkout as --root, the same absolute folder is read below the cycle's revision.
    let output = watch_once(Some(&checkout.link()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        versions_of(&emulator, "nightly"),
        vec![("0 0 3 * * *".to_owned(), true)]
    );
}

#[test]
fn every_action_is_logged_and_a_deleted_newest_version_is_named_as_the_drift() {
    let emulator = multi_user();
    let checkout = Checkout::new();
    checkout.publish(
        "1111111",
        &Schedules::new(&[("nightly", "0 0 2 * * *", true)]),
    );
    let daemon = Daemon::start(&emulator, &checkout, &[]);
    daemon.wait_ready();
    checkout.publish(
        "2222222",
        &Schedules::new(&[("nightly", "0 0 3 * * *", true)]),
    );
    wait_for(
        || format!("the new version; log:\n{}", daemon.log()),
        || {
            (versions_of(&emulator, "nightly")
                == vec![
                    ("0 0 2 * * *".to_owned(), false),
                    ("0 0 3 * * *".to_owned(), true),
                ])
            .then_some(())
        },
    );
    // The audit trail: each action with the recurring run, the version and its id.
    let log = daemon.log();
    for action in ["create", "disable", "enable"] {
        assert!(
            log.lines().any(|line| line.contains("applied")
                && line.contains(&format!("action=\"{action}\""))
                && line.contains("recurring_run=\"nightly\"")
                && line.contains("target=\"GIT::nightly__")),
            "no `applied` line for {action}:\n{log}"
        );
    }

    // Someone deletes the newest version in the KFP UI: the older one left is not what git says.
    let (newest, _) = versions(&emulator)
        .into_iter()
        .rfind(|(_, (cron, _))| cron == "0 0 3 * * *")
        .unwrap();
    let id = emulator.state()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"] == newest.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = kfp_gitops_tests::emulator::client::send(
        emulator.addr(),
        "DELETE",
        &format!("/apis/v1beta1/jobs/{id}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(response.status, 200);
    let reason = format!("its newest version {newest} was deleted outside git");
    wait_for(
        || format!("the drift log line; log:\n{}", daemon.log()),
        || daemon.log().contains(&reason).then_some(()),
    );
    wait_for(
        || format!("a new version; log:\n{}", daemon.log()),
        || {
            versions_of(&emulator, "nightly")
                .contains(&("0 0 3 * * *".to_owned(), true))
                .then_some(())
        },
    );
}

#[test]
fn fires_that_produced_no_run_make_a_recurring_run_missed_in_the_metrics() {
    let emulator = multi_user();
    let start = "2027-01-11T00:00:00Z";
    emulator.set_clock(start.parse().unwrap());
    let checkout = Checkout::new();
    checkout.publish(
        "9999999",
        &Schedules::new(&[
            ("hourly", "0 0 * * * *", true),
            ("lost", "0 30 * * * *", true),
        ]),
    );
    // A first daemon creates the versions at the emulator's clock and exits.
    let mut first = Daemon::spawn_with_clock(
        &["--api-url", &emulator.base_url()],
        &checkout,
        &["--once"],
        Some(start),
    );
    assert!(first.wait_exit().success(), "{}", first.log());
    let lost = emulator.state()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"].as_str().unwrap().starts_with("GIT::lost__"))
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .unwrap();
    // The controller loses `lost`: six hours pass, `hourly` fires six times, `lost` never.
    emulator.skip_fires(&lost, true);
    assert_eq!(
        emulator.advance_clock_firing(Duration::from_secs(6 * 3600)),
        6
    );

    // The daemon looks three hours back (`--window 3h`, as `status` takes it).
    let daemon = Daemon::spawn_with_clock(
        &["--api-url", &emulator.base_url()],
        &checkout,
        &["--window", "3h"],
        Some("2027-01-11T06:00:00Z"),
    );
    daemon.wait_ready();
    let health = |job: &str, health: &str| {
        format!(
            "kfp_gitops_recurring_run_health{{namespace=\"team-1\",recurring_run=\"{job}\",health=\"{health}\"}}"
        )
    };
    let missed = |job: &str| {
        format!("kfp_gitops_missed_fires{{namespace=\"team-1\",recurring_run=\"{job}\"}}")
    };
    wait_for(
        || {
            format!(
                "lost Missed; metrics:\n{:?}\nlog:\n{}",
                daemon.get("/metrics"),
                daemon.log()
            )
        },
        || (daemon.metric(&health("lost", "Missed")) == Some(1.0)).then_some(()),
    );
    // 03:30, 04:30 and 05:30: the window's three fires, every one without a run.
    assert_eq!(daemon.metric(&missed("lost")), Some(3.0));
    assert_eq!(daemon.metric(&missed("hourly")), Some(0.0));
    assert_eq!(daemon.metric(&health("hourly", "Missed")), Some(0.0));
    assert!(
        daemon
            .log()
            .contains("fires of the live version produced no run"),
        "{}",
        daemon.log()
    );
}
