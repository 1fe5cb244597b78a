//! Verified rollouts in the `watch` daemon, end to end: verifications across cycles without blocking
//! them, failed configs remembered, and overlapping applies.
//!
//! Waits are bounded polls for a condition (never assertions on how long something took).

mod rollout_support;

use std::sync::Arc;

use kfp_gitops_tests::emulator::RunOutcome;
use rollout_support::*;
use serde_json::Value;

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
fn a_version_verified_while_another_apply_rolled_out_a_newer_one_stays_paused() {
    let emulator = Arc::new(start());
    let (project, _) = replaced(&emulator, VERIFY);
    let waiting = kfp_gitops(&emulator, &project)
        .args(["apply", "--verify-poll-interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_for(
        || "the verification run".to_owned(),
        || verify_runs(&emulator, "nightly").into_iter().next(),
    );
    // The waiting apply's lock lease runs out (a verification may take longer than it); another apply
    // rolls out a newer config meanwhile.
    free_lock(&emulator);
    project.set(1, "three", VERIFY, "");
    let newer = apply(&emulator, &project, &["--rollout", "swap"]);
    assert!(newer.status.success(), "{}", text(&newer));

    assert!(emulator.finish_run(run["id"].as_str().unwrap(), RunOutcome::Succeeded));
    let output = waiting.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("was made meanwhile"),
        "{}",
        text(&output)
    );
    let now = versions(&emulator, "nightly");
    assert_eq!(
        now.iter().filter(|(_, _, enabled)| *enabled).count(),
        1,
        "{now:?}"
    );
    assert!(now.last().unwrap().2, "the newest version runs: {now:?}");
}
