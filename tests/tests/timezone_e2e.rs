//! Schedules written in a time zone, end to end: the real binary against the KFP API emulator, with the
//! plan's clock set through the test-only `KFP_GITOPS_NOW`. A Berlin 07:00 weekday schedule is 06:00 UTC
//! in winter and 05:00 UTC after the change of 2027-03-28; `plan` shows the replacement and `apply`
//! leaves one enabled version with the new hour.

use std::path::Path;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

const NAMESPACE: &str = "team-1";
const WINTER: &str = "2027-01-15T12:00:00Z";
const BEFORE_CHANGE: &str = "2027-03-25T12:00:00Z";
const AFTER_CHANGE: &str = "2027-03-29T00:00:00Z";

const WORKFLOW: &str = kfp_gitops_tests::fixtures::ECHO_WORKFLOW;

fn config(cron: &str, timezone: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("experiments.yaml"),
        "experiments:\n  - name: reports\n    description: reports\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
    std::fs::write(
        dir.path().join("recurring_runs.yaml"),
        format!(
            r#"recurring_runs:
  - pipeline_source:
      path: workflow.yaml
    job:
      enabled: true
      name: morning
      description: The morning report
      experiment: reports
      max_concurrency: 1
      trigger:
        catchup: false
        cron: "{cron}"
        timezone: {timezone}
"#
        ),
    )
    .unwrap();
    dir
}

fn kfp_gitops(emulator: &Emulator, dir: &Path, now: &str) -> Command {
    let mut command = Command::cargo_bin("kfp-gitops").unwrap();
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("KFP_GITOPS_NOW", now)
        .current_dir(dir)
        .args(["--api-url", &emulator.base_url(), "--namespace", NAMESPACE]);
    command
}

fn run(emulator: &Emulator, dir: &Path, now: &str, command: &str) -> (Option<i32>, String) {
    let mut cmd = kfp_gitops(emulator, dir, now);
    cmd.arg(command);
    if command == "plan" {
        cmd.arg("--detailed-exitcode");
    }
    let output = cmd.arg("--config").arg(dir).output().unwrap();
    (
        output.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The versions of `morning`: (name, enabled, cron, description), by name.
fn versions(emulator: &Emulator) -> Vec<(String, bool, String, String)> {
    let response = emulator
        .request(
            "GET",
            &format!(
                "/apis/v1beta1/jobs?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"
            ),
            None,
        )
        .unwrap();
    let body: Value = response.json();
    let mut versions: Vec<_> = body["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap_or_default().to_owned(),
                job["enabled"].as_bool().unwrap_or(false),
                job["trigger"]["cron_schedule"]["cron"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                job["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .filter(|(name, ..)| name.starts_with("GIT::morning__"))
        .collect();
    versions.sort();
    versions
}

#[test]
fn a_berlin_schedule_is_translated_and_replaced_when_the_offset_changes() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = config("0 0 7 * * MON-FRI", "Europe/Berlin");

    let (code, out) = run(&emulator, dir.path(), WINTER, "apply");
    assert_eq!(code, Some(0), "{out}");
    let winter = versions(&emulator);
    assert_eq!(winter.len(), 1, "{winter:?}");
    let (_, enabled, cron, description) = &winter[0];
    assert!(*enabled);
    assert_eq!(cron, "0 0 6 * * MON-FRI", "UTC hour 6 in winter");
    assert_eq!(
        description,
        "The morning report\n\nkfp-gitops schedule: 0 0 7 * * MON-FRI in Europe/Berlin"
    );

    // Nothing changes while the offset holds; the change of 2027-03-28 is announced in the week before.
    let (code, out) = run(&emulator, dir.path(), WINTER, "plan");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&emulator, dir.path(), BEFORE_CHANGE, "plan");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("the UTC offset of Europe/Berlin changes on 2027-03-28"),
        "{out}"
    );

    // Past the change: the translation differs, the version is replaced.
    let (code, out) = run(&emulator, dir.path(), AFTER_CHANGE, "plan");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "~ recurring run \"morning\": replace (UTC offset of Europe/Berlin changes on 2027-03-28)"
        ),
        "{out}"
    );
    assert!(
        out.contains("trigger.cron: \"0 0 6 * * MON-FRI\" -> \"0 0 5 * * MON-FRI\""),
        "{out}"
    );
    // Next fires in local time and UTC: Monday 2027-03-29 07:00 in Berlin is 05:00 UTC.
    assert!(
        out.contains("2027-03-29T07:00:00+02:00 (2027-03-29T05:00:00Z)"),
        "{out}"
    );

    let (code, out) = run(&emulator, dir.path(), AFTER_CHANGE, "apply");
    assert_eq!(code, Some(0), "{out}");
    let summer = versions(&emulator);
    let enabled: Vec<_> = summer.iter().filter(|(_, enabled, ..)| *enabled).collect();
    assert_eq!(enabled.len(), 1, "{summer:?}");
    assert_eq!(enabled[0].2, "0 0 5 * * MON-FRI", "UTC hour 5 in summer");
    let (code, out) = run(&emulator, dir.path(), AFTER_CHANGE, "plan");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn validate_refuses_a_local_time_that_the_change_skips() {
    let dir = config("0 30 2 * * *", "Europe/Berlin");
    let output = Command::cargo_bin("kfp-gitops")
        .unwrap()
        .env("NO_COLOR", "1")
        .env("KFP_GITOPS_NOW", WINTER)
        .current_dir(dir.path())
        .args(["validate", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    let out = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_ne!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("recurring_runs.yaml:13:"), "{out}");
    assert!(
        out.contains("/recurring_runs/0/job/trigger/timezone"),
        "{out}"
    );
    assert!(
        out.contains(
            "fires at 2027-03-28 02:30:00 in Europe/Berlin, a time that does not exist there"
        ),
        "{out}"
    );
    assert!(out.contains("choose a time outside the hour"), "{out}");

    let unknown = config("0 0 7 * * *", "Europe/Berlim");
    let output = Command::cargo_bin("kfp-gitops")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(unknown.path())
        .args(["validate", "--config"])
        .arg(unknown.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(out.contains("unknown time zone `Europe/Berlim`"), "{out}");
}

/// The `scheduled_at` of every run created by a job, in Berlin time.
fn fires_in_berlin(emulator: &Emulator) -> Vec<String> {
    let berlin = kfp_config::zone("Europe/Berlin").unwrap();
    let state = emulator.state();
    let mut fires: Vec<String> = state["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| {
            run["references"].as_array().unwrap().iter().any(|r| {
                r["key_type"] == "JOB"
                    && r["relationship"] == "CREATOR"
                    && r["name"].as_str().unwrap().starts_with("GIT::morning__")
            })
        })
        .map(|run| {
            let at = jiff::Timestamp::from_second(run["scheduled_at"].as_i64().unwrap()).unwrap();
            berlin
                .to_datetime(at)
                .strftime("%a %Y-%m-%d %H:%M")
                .to_string()
        })
        .collect();
    fires.sort();
    fires
}

#[test]
fn simulated_fires_land_at_seven_in_berlin_on_both_sides_of_the_change() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = config("0 0 7 * * MON-FRI", "Europe/Berlin");
    let monday = "2027-03-22T00:00:00Z";
    emulator.set_clock(monday.parse().unwrap());
    let (code, out) = run(&emulator, dir.path(), monday, "apply");
    assert_eq!(code, Some(0), "{out}");
    let week = std::time::Duration::from_secs(7 * 86_400);
    assert_eq!(emulator.advance_clock_firing(week), 5);

    // The following Monday, past the change: apply replaces the version, which then fires at 05:00 UTC.
    let (code, out) = run(&emulator, dir.path(), "2027-03-29T00:00:00Z", "apply");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(emulator.advance_clock_firing(week), 5);
    assert_eq!(
        fires_in_berlin(&emulator),
        [
            "Fri 2027-03-26 07:00",
            "Fri 2027-04-02 07:00",
            "Mon 2027-03-22 07:00",
            "Mon 2027-03-29 07:00",
            "Thu 2027-03-25 07:00",
            "Thu 2027-04-01 07:00",
            "Tue 2027-03-23 07:00",
            "Tue 2027-03-30 07:00",
            "Wed 2027-03-24 07:00",
            "Wed 2027-03-31 07:00",
        ]
    );

    // A controller that skips the job's fires makes no runs.
    let enabled = versions(&emulator)
        .into_iter()
        .find(|(_, enabled, ..)| *enabled)
        .unwrap();
    let state = emulator.state();
    let id = state["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"] == enabled.0.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    emulator.skip_fires(&id, true);
    assert_eq!(emulator.advance_clock_firing(week), 0);
    emulator.skip_fires(&id, false);
    assert_eq!(emulator.advance_clock_firing(week), 5);
}

#[test]
fn status_shows_local_fire_times_and_warns_of_a_change_nothing_reconciles_in_time() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let dir = config("0 0 7 * * MON-FRI", "Europe/Berlin");
    let (code, out) = run(&emulator, dir.path(), WINTER, "apply");
    assert_eq!(code, Some(0), "{out}");

    let (code, out) = run(&emulator, dir.path(), BEFORE_CHANGE, "status");
    assert_eq!(code, Some(0), "{out}");
    // Friday 2027-03-26 07:00 in Berlin is 06:00 UTC.
    assert!(
        out.contains("next: 2027-03-26T07:00:00+01:00 (2027-03-26 06:00:00Z)"),
        "{out}"
    );
    assert!(out.contains("time zone: Europe/Berlin"), "{out}");
    assert!(
        out.contains("warning: recurring run \"morning\": the UTC offset of Europe/Berlin changes on 2027-03-28"),
        "{out}"
    );

    // Declared: something reconciles every hour, so the replacement lands before Monday's fire.
    std::fs::write(dir.path().join("kfp-gitops.yaml"), "reconciled_every: 1h\n").unwrap();
    for command in ["status", "plan"] {
        let (code, out) = run(&emulator, dir.path(), BEFORE_CHANGE, command);
        assert_eq!(code, Some(0), "{out}");
        assert!(!out.contains("changes on 2027-03-28"), "{command}: {out}");
    }
    // Every four days is not enough.
    std::fs::write(
        dir.path().join("kfp-gitops.yaml"),
        "reconciled_every: 96h\n",
    )
    .unwrap();
    let (_, out) = run(&emulator, dir.path(), BEFORE_CHANGE, "plan");
    assert!(out.contains("changes on 2027-03-28"), "{out}");
}
