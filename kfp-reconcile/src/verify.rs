//! Verifying a paused version before it takes over the schedule ([`crate::model::Action::Verify`]):
//! one run of exactly that version (its workflow, parameters, service account, in its experiment, with
//! a JOB reference to it), named `VERIFY::{job}__{timestamp}`, and its outcome.
//!
//! The run is found again by name and JOB reference, so an apply that was interrupted (a signal, a crash)
//! continues with the run it started instead of starting a second one: a run still in progress is waited
//! for, a succeeded one lets the swap go on, a failed one is reported (a new one is started only with
//! [`VerifyOptions::retry_failed`]). The timeout counts from the run's creation, so it does not restart
//! either.
//!
//! Waiting polls the run every [`VerifyOptions::poll_interval`] and ends early when the apply's
//! [`CancelToken`] is cancelled; with [`VerifyOptions::wait`] off (the `watch` daemon) the run is looked
//! at once and a run in progress leaves the step [`Outcome::Pending`]: a later apply continues.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kfp_client::models::{Filter, Job, Predicate, Run};
use kfp_client::{KfpApi, ListOptions, list_all};
use kfp_config::format_seconds;

use crate::error::describe;
use crate::model::{Verification, VersionRef};
use crate::observe::scope;
use crate::report::{Outcome, StepReport};
use crate::trigger::{run_job_id, start_run_of_version};
use kfp_client::CancelToken;
use kfp_config::{
    MANAGED_PREFIX, VERIFY_PREFIX, is_verify_run_of, parse_version_name, verify_run_name,
};

/// The step that starts a verification run (its target is the run's name, its id the run's id).
pub const START_VERIFICATION: &str = "start_verification";

/// The step that deletes a version whose verification failed.
pub const DISCARD: &str = "discard";

/// The step of the verification itself (`Done`: the run succeeded; `Failed`: it failed or timed
/// out; `Pending`: not decided yet).
pub const VERIFY: &str = "verify";

/// What a verification reports while it goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyProgress {
    /// The namespace.
    pub namespace: String,
    /// The recurring run.
    pub job: String,
    /// The version being verified.
    pub version: String,
    /// The verification run's name.
    pub run_name: String,
    /// Its KFP id.
    pub run_id: String,
    /// Its state as KFP reports it (empty before the first report).
    pub state: String,
    /// Whether this apply started the run (else it found it).
    pub started: bool,
    /// Seconds since the run was created.
    pub elapsed_seconds: u64,
    /// Whether the state changed since the last report of this run (else it is a poll).
    pub changed: bool,
}

/// A receiver of [`VerifyProgress`].
type Report = dyn Fn(&VerifyProgress) + Send + Sync;

/// Receives [`VerifyProgress`] (from several threads at once).
#[derive(Clone, Default)]
pub struct ProgressSink(Option<Arc<Report>>);

impl ProgressSink {
    /// A sink calling `report`.
    pub fn new(report: impl Fn(&VerifyProgress) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }

    fn send(&self, progress: &VerifyProgress) {
        if let Some(report) = &self.0 {
            report(progress);
        }
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(set)"
        } else {
            "ProgressSink(none)"
        })
    }
}

impl PartialEq for ProgressSink {
    /// Sinks do not change what is done: any two are equal.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ProgressSink {}

/// How verifications are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How often a verification run is looked at while waiting.
    pub poll_interval: Duration,
    /// Wait for the run to end (`apply`); off, a run in progress leaves the step pending (`watch`).
    pub wait: bool,
    /// Start a new verification run where the last one of the version failed, instead of reporting
    /// that failure again.
    pub retry_failed: bool,
    /// Where progress goes.
    pub progress: ProgressSink,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(10),
            wait: true,
            retry_failed: false,
            progress: ProgressSink::default(),
        }
    }
}

/// What a verification did: its steps and whether the version failed for good (it is then discarded,
/// unless kept).
pub(crate) struct Verified {
    pub steps: Vec<StepReport>,
    pub failed_for_good: bool,
}

/// The context of one verification.
pub(crate) struct Verify<'a> {
    pub namespace: &'a str,
    pub job: &'a str,
    pub api: &'a dyn KfpApi,
    pub options: &'a VerifyOptions,
    pub cancel: &'a CancelToken,
}

impl Verify<'_> {
    /// Verifies the version `id` (`version` names it).
    pub(crate) fn run(&self, version: &VersionRef, id: &str, how: &Verification) -> Verified {
        let mut steps = Vec::new();
        let step = |target: &str, id: Option<String>, outcome| StepReport {
            action: VERIFY.to_owned(),
            target: target.to_owned(),
            id,
            outcome,
        };
        let pending = |target: &str, id: Option<String>, message: String| Verified {
            steps: vec![step(target, id, Outcome::Pending { message })],
            failed_for_good: false,
        };
        let version_job = match self.api.get_job(id) {
            Ok(job) => job,
            Err(err) => {
                return pending(
                    &version.name,
                    None,
                    format!("cannot read version {}: {}", version.name, describe(&err)),
                );
            }
        };
        let found = match self.latest_run(&version_job) {
            Ok(found) => found,
            Err(err) => {
                return pending(
                    &version.name,
                    None,
                    format!(
                        "cannot look for the verification run of {}: {}",
                        version.name,
                        describe(&err)
                    ),
                );
            }
        };
        let reuse = found.filter(|run| {
            !(self.options.retry_failed && run.is_finished() && run.status != "Succeeded")
        });
        let (run, started) = match reuse {
            Some(run) => (run, false),
            None => match self.start(version_job, how) {
                Ok(run) => {
                    steps.push(StepReport {
                        action: START_VERIFICATION.to_owned(),
                        target: run.name.clone(),
                        id: Some(run.id.clone()),
                        outcome: Outcome::Done,
                    });
                    (run, true)
                }
                Err(message) => {
                    return Verified {
                        steps: vec![StepReport {
                            action: START_VERIFICATION.to_owned(),
                            target: verify_run_name(self.job, Timestamp::now()),
                            id: None,
                            outcome: Outcome::Failed { message },
                        }],
                        failed_for_good: false,
                    };
                }
            },
        };
        let (outcome, failed_for_good) = self.wait(&version.name, run, started, how);
        steps.push(outcome);
        Verified {
            steps,
            failed_for_good,
        }
    }

    /// The newest verification run of `version` (by JOB reference and name), if any.
    fn latest_run(&self, version: &Job) -> Result<Option<Run>, kfp_client::Error> {
        let Some(experiment) = version.experiment_id() else {
            return Ok(None);
        };
        let prefix = format!("{VERIFY_PREFIX}{}__", self.job);
        let options = ListOptions::experiment(experiment)
            .with_filter(Filter::single(Predicate::is_substring("name", prefix)))
            .with_page_size(kfp_client::MAX_PAGE_SIZE);
        let mut runs: Vec<Run> = list_all(&options, |page| self.api.list_runs(page))?
            .into_iter()
            .filter(|run| {
                is_verify_run_of(&run.name, self.job)
                    && run_job_id(run) == Some(version.id.as_str())
            })
            .collect();
        runs.sort_by(|a, b| (b.created_at, &b.name).cmp(&(a.created_at, &a.name)));
        Ok(runs.into_iter().next())
    }

    /// A version of the job newer than `version`, if there is one; `Err` (why) when the jobs could
    /// not be listed: the swap then waits for the next apply rather than risk two enabled versions.
    fn newer_version(&self, version: &str) -> Result<Option<String>, String> {
        let Some(ours) = parse_version_name(version).map(|parsed| parsed.timestamp) else {
            return Ok(None);
        };
        let prefix = format!("{MANAGED_PREFIX}{}__", self.job);
        let options = ListOptions::scoped(&scope(self.namespace))
            .with_filter(Filter::single(Predicate::is_substring("name", prefix)))
            .with_page_size(kfp_client::MAX_PAGE_SIZE);
        let jobs =
            list_all(&options, |page| self.api.list_jobs(page)).map_err(|err| describe(&err))?;
        Ok(jobs
            .into_iter()
            .filter_map(|job| {
                let parsed = parse_version_name(&job.name)?;
                (parsed.job == self.job && parsed.timestamp > ours).then_some(job.name)
            })
            .max())
    }

    fn start(&self, version: Job, how: &Verification) -> Result<Run, String> {
        let name = verify_run_name(self.job, Timestamp::now());
        let description = format!(
            "Verifies recurring run version {} before it takes over the schedule (kfp-gitops)",
            version.name
        );
        let overrides: Vec<(String, String)> = how
            .parameters
            .iter()
            .map(|parameter| (parameter.name.clone(), parameter.value.clone()))
            .collect();
        start_run_of_version(self.api, self.job, version, &name, &description, &overrides)
            .map(|started| started.run)
            .map_err(|err| {
                let hint = err
                    .hint()
                    .map(|hint| format!(" ({hint})"))
                    .unwrap_or_default();
                format!("{}{hint}", describe(&err))
            })
    }

    /// Follows `run` until it ends, times out, or (when not waiting, or cancelled) for now.
    fn wait(
        &self,
        version: &str,
        mut run: Run,
        started: bool,
        how: &Verification,
    ) -> (StepReport, bool) {
        let created = run.created_at.unwrap_or_else(Timestamp::now);
        let mut last_state: Option<String> = None;
        let mut read_errors = 0;
        loop {
            let elapsed =
                u64::try_from(Timestamp::now().duration_since(created).as_secs()).unwrap_or(0);
            let changed = last_state.as_deref() != Some(run.status.as_str());
            self.options.progress.send(&VerifyProgress {
                namespace: self.namespace.to_owned(),
                job: self.job.to_owned(),
                version: version.to_owned(),
                run_name: run.name.clone(),
                run_id: run.id.clone(),
                state: run.status.clone(),
                started,
                elapsed_seconds: elapsed,
                changed,
            });
            last_state = Some(run.status.clone());
            let report = |outcome| StepReport {
                action: VERIFY.to_owned(),
                target: run.name.clone(),
                id: Some(run.id.clone()),
                outcome,
            };
            if run.is_finished() {
                if run.status == "Succeeded" {
                    // After a long wait another apply (the lock's lease is shorter than a long
                    // verification) may have rolled out a newer version: this one must not be enabled
                    // next to it.
                    let message = match self.newer_version(version) {
                        Ok(None) => return (report(Outcome::Done), false),
                        Ok(Some(newer)) => format!(
                            "verification run {} (id {}) succeeded, but version {newer} was made meanwhile; {version} stays paused",
                            run.name, run.id
                        ),
                        Err(why) => format!(
                            "verification run {} (id {}) succeeded, but whether a newer version was made meanwhile cannot be \
                             checked ({why}); {version} stays paused and the next apply continues with this run",
                            run.name, run.id
                        ),
                    };
                    return (report(Outcome::Pending { message }), false);
                }
                let error = if run.error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.error)
                };
                let message = format!(
                    "verification run {} (id {}) of version {version} ended {}{error}; the old version stays enabled",
                    run.name, run.id, run.status
                );
                return (report(Outcome::Failed { message }), true);
            }
            if elapsed >= how.timeout_seconds {
                let terminated = match self.api.terminate_run(&run.id) {
                    Ok(()) => "it was terminated".to_owned(),
                    Err(err) => format!("terminating it failed: {}", describe(&err)),
                };
                let message = format!(
                    "verification run {} (id {}) of version {version} did not finish within {} ({terminated}); the old version stays enabled",
                    run.name,
                    run.id,
                    format_seconds(how.timeout_seconds)
                );
                return (report(Outcome::Failed { message }), true);
            }
            if !self.options.wait {
                let message = format!(
                    "verification run {} (id {}) is {}; the swap waits for it",
                    run.name,
                    run.id,
                    if run.status.is_empty() {
                        "starting"
                    } else {
                        run.status.as_str()
                    }
                );
                return (report(Outcome::Pending { message }), false);
            }
            if self.cancel.wait(self.options.poll_interval) {
                let message = format!(
                    "interrupted while waiting for verification run {} (id {}); the old version stays enabled, the next apply continues with this run",
                    run.name, run.id
                );
                return (report(Outcome::Pending { message }), false);
            }
            match self.api.get_run(&run.id) {
                Ok(detail) => {
                    run = detail.run;
                    read_errors = 0;
                }
                Err(err) => {
                    read_errors += 1;
                    if read_errors >= READ_ATTEMPTS {
                        let message = format!(
                            "cannot read verification run {} (id {}): {}; the old version stays enabled, the next apply continues with this run",
                            run.name,
                            run.id,
                            describe(&err)
                        );
                        return (report(Outcome::Pending { message }), false);
                    }
                }
            }
        }
    }
}

/// How many reads of a verification run in a row may fail before the wait gives up (the run is not
/// judged: the next apply continues with it).
const READ_ATTEMPTS: u32 = 5;
