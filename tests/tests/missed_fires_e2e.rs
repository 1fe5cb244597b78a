//! `kfp-gitops status` reports a schedule that did not fire: the real binary against the emulator, whose
//! ScheduledWorkflow controller fires jobs on its simulated clock and can be told to skip a job's fires
//! (a controller that lost it). The command's clock is set through the test-only `KFP_GITOPS_NOW`.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const NAMESPACE: &str = "team-1";
/// A Monday; the emulator's clock is moved here before anything is applied.
const START: &str = "2027-01-11T00:00:00Z";
const SIX_HOURS_LATER: &str = "2027-01-11T06:00:00Z";
const SEVEN_HOURS_LATER: &str = "2027-01-11T07:00:00Z";

const WORKFLOW: &str = kfp_gitops_tests::fixtures::ECHO_WORKFLOW;

/// `hourly` fires on the hour, `lost` at half past.
fn config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("experiments.yaml"),
        "experiments:\n  - name: reports\n    description: reports\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
    let mut runs = String::from("recurring_runs:\n");
    for (name, cron) in [("hourly", "0 0 * * * *"), ("lost", "0 30 * * * *")] {
        runs.push_str(&format!(
            "  - pipeline_source:\n      path: workflow.yaml\n    job:\n      enabled: true\n      \
             name: {name}\n      experiment: reports\n      max_concurrency: 10\n      trigger:\n        \
             catchup: false\n        cron: \"{cron}\"\n"
        ));
    }
    std::fs::write(dir.path().join("recurring_runs.yaml"), runs).unwrap();
    dir
}

fn kfp_gitops(emulator: &Emulator, dir: &Path, now: &str, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::cargo_bin("kfp-gitops")
        .unwrap()
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("KFP_GITOPS_NOW", now)
        .current_dir(dir)
        .args(["--api-url", &emulator.base_url(), "--namespace", NAMESPACE])
        .args(args)
        .arg("--config")
        .arg(dir)
        .output()
        .unwrap();
    (
        output.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn job_id(emulator: &Emulator, prefix: &str) -> String {
    emulator.state()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"].as_str().unwrap().starts_with(prefix))
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .unwrap()
}

/// The status of `name` in `status -o json`.
fn json_status(document: &Value, name: &str) -> Value {
    document["namespaces"][0]["recurring_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {document}"))
}

/// A started emulator with both schedules applied at [`START`] and `lost` skipped by the controller for
/// six hours.
fn six_hours_with_a_lost_schedule() -> (Emulator, tempfile::TempDir) {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = config();
    emulator.set_clock(START.parse().unwrap());
    let (code, out) = kfp_gitops(&emulator, dir.path(), START, &["apply"]);
    assert_eq!(code, Some(0), "{out}");
    emulator.skip_fires(&job_id(&emulator, "GIT::lost__"), true);
    assert_eq!(
        emulator.advance_clock_firing(Duration::from_secs(6 * 3600)),
        6
    );
    (emulator, dir)
}

#[test]
fn a_schedule_whose_fires_produced_no_run_is_missed_with_the_expected_times() {
    let (emulator, dir) = six_hours_with_a_lost_schedule();

    let (code, out) = kfp_gitops(&emulator, dir.path(), SIX_HOURS_LATER, &["status"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("  lost  Missed  Synced"), "{out}");
    for hour in 0..6 {
        assert!(
            out.contains(&format!(
                "    missed: the fire at 2027-01-11 0{hour}:30:00Z produced no run"
            )),
            "{out}"
        );
    }
    assert!(!out.contains("  hourly  Missed"), "{out}");
    assert_eq!(out.matches("missed: ").count(), 6, "{out}");

    let (code, out) = kfp_gitops(
        &emulator,
        dir.path(),
        SIX_HOURS_LATER,
        &["status", "--output", "json"],
    );
    assert_eq!(code, Some(0), "{out}");
    let document: Value = serde_json::from_str(out.trim()).unwrap();
    let lost = json_status(&document, "lost");
    assert_eq!(lost["health"], "Missed");
    assert_eq!(
        lost["sync"]["state"], "Synced",
        "health beside sync, not in it"
    );
    assert_eq!(
        lost["missed_fires"],
        serde_json::json!([
            "2027-01-11T00:30:00Z",
            "2027-01-11T01:30:00Z",
            "2027-01-11T02:30:00Z",
            "2027-01-11T03:30:00Z",
            "2027-01-11T04:30:00Z",
            "2027-01-11T05:30:00Z"
        ])
    );
    let hourly = json_status(&document, "hourly");
    assert_ne!(hourly["health"], "Missed");
    assert!(hourly.get("missed_fires").is_none(), "{hourly}");
}

#[test]
fn fires_within_the_grace_period_or_outside_the_window_are_not_missed() {
    let (emulator, dir) = six_hours_with_a_lost_schedule();
    // The controller recovers: the next fire at 06:30 makes its run.
    emulator.skip_fires(&job_id(&emulator, "GIT::lost__"), false);
    assert_eq!(emulator.advance_clock_firing(Duration::from_secs(3600)), 2);

    let status = |args: &[&str]| {
        let mut all = vec!["status", "--output", "json"];
        all.extend_from_slice(args);
        let (code, out) = kfp_gitops(&emulator, dir.path(), SEVEN_HOURS_LATER, &all);
        assert_eq!(code, Some(0), "{out}");
        json_status(&serde_json::from_str(out.trim()).unwrap(), "lost")
    };
    // The default 48 hours still hold the six lost fires.
    assert_eq!(status(&[])["missed_fires"].as_array().unwrap().len(), 6);
    // The last 45 minutes hold only 06:30, which ran.
    let recent = status(&["--window", "45m"]);
    assert_ne!(recent["health"], "Missed", "{recent}");
    assert!(recent.get("missed_fires").is_none(), "{recent}");
    // A grace period of 7 hours judges none of the fires yet.
    assert!(status(&["--grace", "7h"]).get("missed_fires").is_none());
}
