//! Verified rollouts through `apply`, end to end: the real binary against the KFP API emulator
//! (multi-user). A new version is created paused, one `VERIFY::` run of it proves it (the test decides its
//! outcome with the emulator's finish control), and only then does it take over the schedule.
//!
//! Waits are bounded polls for a condition (never assertions on how long something took).

mod rollout_support;

use std::process::{Command, Stdio};
use std::sync::Arc;

use kfp_gitops_tests::emulator::{ALL_PROFILES, Fault, RunOutcome};
use rollout_support::*;

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
    // The lock outlasts the verification's timeout (1h) on top of the usual 30-minute lease, so that
    // no other apply takes the namespace while this one waits.
    let lease = lock_expiry(&emulator).duration_since(jiff::Timestamp::now());
    assert!(
        lease > jiff::SignedDuration::from_mins(85),
        "the lock expires in {lease:#}"
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

#[test]
fn a_success_whose_check_for_a_newer_version_fails_leaves_the_swap_to_the_next_apply() {
    let emulator = Arc::new(start());
    let (project, old) = replaced(&emulator, VERIFY);
    // The run succeeds, and from then on the jobs cannot be listed: whether another apply made a newer
    // version meanwhile cannot be checked.
    let faulty = emulator.clone();
    let finisher = Finisher::start(&emulator, move |_| {
        faulty.inject_fault(Fault {
            method: "GET".into(),
            path: "/apis/v1beta1/jobs".into(),
            times: 0,
            status: 503,
            ..Fault::default()
        });
        Some(RunOutcome::Succeeded)
    });
    let applied = apply(&emulator, &project, &[]);
    drop(finisher);
    emulator.clear_faults();
    assert!(!applied.status.success(), "{}", text(&applied));
    assert!(
        text(&applied).contains("cannot be checked"),
        "{}",
        text(&applied)
    );
    let left = versions(&emulator, "nightly");
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], old, "the old version is still the enabled one");
    assert!(!left[1].2, "the new version stays paused: {left:?}");

    // The next apply finds the succeeded run and swaps, without a second run.
    let again = apply(&emulator, &project, &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(verify_runs(&emulator, "nightly").len(), 1, "no second run");
    let now = versions(&emulator, "nightly");
    assert!(!now[0].2 && now[1].2, "swapped: {now:?}");
}
