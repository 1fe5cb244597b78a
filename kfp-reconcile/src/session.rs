//! The reconcile session: everything one command run (or one `watch` cycle) does between "these are the
//! targets" and "this is what happened" — loading the desired state of every namespace with shared
//! fetchers, observing KFP, planning, applying (cancellable, bounded concurrency) and the daemon's
//! per-namespace reconcile with its drift decision. The CLI and embedders call these functions; they
//! only choose the options and render the results.
//!
//! See the crate documentation for an example.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use kfp_client::KfpApi;
use kfp_config::SharedFetchers;
use kfp_config::Target;
use kfp_config::{DesiredNamespace, LoadOptions, Problem, Validation};

use crate::apply::{ApplyOptions, apply_many_until, apply_until};
use crate::drift::{
    ConfigFingerprint, Converged, ConvergedJob, FailedVerifications, config_fingerprint,
    drift_reasons, is_drift, verification_fingerprint,
};
use crate::lock::{LockError, LockHolder, LockOptions, NamespaceLock};
use crate::model::{Action, JobPlan, Leftover, Plan, Warning};
use crate::observe::ObservedNamespace;
use crate::observe::{ObserveError, observe, observe_many};
use crate::planner::{PlanOptions, plan};
use crate::report::ApplyReport;
use kfp_client::CancelToken;
use kfp_config::parse_version_name;

/// How a session loads, plans and applies.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How config folders are loaded (sources, cache, token). Per target, the namespace and the
    /// repository root come from the [`Target`]; when `fetchers` is `None`, each call shares one set
    /// of fetchers among its namespaces.
    pub load: LoadOptions,
    /// How desired and observed state are compared.
    pub plan: PlanOptions,
    /// How plans are applied.
    pub apply: ApplyOptions,
    /// How namespaces are locked while they are reconciled; `None`: not at all (only for a KFP that
    /// nothing else reconciles).
    pub lock: Option<LockOptions>,
}

impl Default for SessionOptions {
    /// Default loading, planning and applying, with namespace locks.
    fn default() -> Self {
        Self {
            load: LoadOptions::default(),
            plan: PlanOptions::default(),
            apply: ApplyOptions::default(),
            lock: Some(LockOptions::default()),
        }
    }
}

/// A configuration problem of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceProblem {
    /// The namespace.
    pub namespace: String,
    /// The problem.
    pub problem: Problem,
}

/// Why a session step failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The configs have problems (every problem of every namespace is listed).
    #[error(
        "{} configuration problem{}; nothing was planned",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    )]
    Config {
        /// Every problem found.
        problems: Vec<NamespaceProblem>,
    },
    /// A namespace could not be listed.
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// A namespace's lock could not be taken or was lost.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A worker thread stopped unexpectedly.
    #[error("{0} stopped unexpectedly")]
    Panicked(&'static str),
}

impl SessionError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Config { .. } => Some("`kfp-gitops validate` checks configs without KFP access"),
            _ => None,
        }
    }
}

/// The load options of one target: its namespace and repository root, the shared fetchers.
fn target_load_options(
    base: &LoadOptions,
    target: &Target,
    fetchers: &SharedFetchers,
) -> LoadOptions {
    LoadOptions {
        namespace: Some(target.namespace.clone()),
        repo_root: Some(target.repo_root.clone()),
        fetchers: Some(base.fetchers.clone().unwrap_or_else(|| fetchers.clone())),
        ..base.clone()
    }
}

/// Runs `work` on every target's config folder, one thread each, with one set of fetchers shared by
/// all (unless `load` brings its own); `None` for a thread that panicked.
fn per_target<T: Send>(
    targets: &[Target],
    load: &LoadOptions,
    work: fn(&std::path::Path, &LoadOptions) -> T,
) -> Vec<Option<T>> {
    let fetchers = SharedFetchers::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let options = target_load_options(load, target, &fetchers);
                scope.spawn(move || work(&target.config, &options))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().ok())
            .collect()
    })
}

/// Checks every target's config folder (in parallel, sharing fetchers), with no KFP access: every
/// problem and every check skipped offline, per namespace, in the order of `targets`.
pub fn validate(targets: &[Target], load: &LoadOptions) -> Result<Vec<Validation>, SessionError> {
    let results = per_target(targets, load, kfp_config::validate_namespace);
    results
        .into_iter()
        .zip(targets)
        .map(|(validation, target)| {
            let mut validation =
                validation.ok_or(SessionError::Panicked("validating a config folder"))?;
            validation.namespace.clone_from(&target.namespace);
            Ok(validation)
        })
        .collect()
}

/// Loads every target's desired state (in parallel, sharing fetchers); the problems of all folders are
/// reported together.
pub fn load_desired(
    targets: &[Target],
    load: &LoadOptions,
) -> Result<Vec<DesiredNamespace>, SessionError> {
    let results = per_target(targets, load, kfp_config::load_namespace);
    let mut desired = Vec::new();
    let mut problems = Vec::new();
    for (result, target) in results.into_iter().zip(targets) {
        match result.ok_or(SessionError::Panicked("loading a config folder"))? {
            Ok(mut namespace) => {
                namespace.namespace.clone_from(&target.namespace);
                desired.push(namespace);
            }
            Err(errors) => {
                problems.extend(errors.problems.into_iter().map(|problem| NamespaceProblem {
                    namespace: target.namespace.clone(),
                    problem,
                }));
            }
        }
    }
    if problems.is_empty() {
        Ok(desired)
    } else {
        Err(SessionError::Config { problems })
    }
}

/// A recurring run changed outside git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    /// The recurring run.
    pub job: String,
    /// What differs, in words.
    pub reasons: Vec<String>,
}

/// One namespace's reconcile in a `watch` cycle: what was planned, found drifted and done.
#[derive(Debug, Default)]
pub struct NamespaceReconcile {
    /// The namespace.
    pub namespace: String,
    /// Recurring runs declared in git (unknown when the config failed to load).
    pub managed_jobs: Option<u64>,
    /// Their names, in config order.
    pub declared: Vec<String>,
    /// The plan's warnings.
    pub warnings: Vec<Warning>,
    /// Recurring runs no longer in the config that were left in KFP (an enabled one still fires).
    pub leftovers: Vec<Leftover>,
    /// Jobs changed outside git.
    pub drift: Vec<DriftReport>,
    /// What was applied, when planning got that far.
    pub report: Option<ApplyReport>,
    /// Jobs that converged, with what they converged to.
    pub converged: Vec<(String, ConvergedJob)>,
    /// Jobs whose verification failed in this reconcile, with their verification fingerprint (to
    /// remember, so that the unchanged config is not verified again every cycle).
    pub failed_verifications: Vec<(String, ConfigFingerprint)>,
    /// Jobs left alone because the verification of their unchanged config failed before.
    pub held: Vec<String>,
    /// Why the namespace could not be planned at all.
    pub error: Option<SessionError>,
}

impl NamespaceReconcile {
    /// Whether a cancellation left jobs for the next run.
    pub fn is_interrupted(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(ApplyReport::is_interrupted)
    }
}

/// Plans and applies against one KFP API.
pub struct Session<'a> {
    api: &'a dyn KfpApi,
    options: SessionOptions,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The locks of the namespaces a session reconciles, held until [`Session::unlock`].
#[derive(Debug, Default)]
pub struct Locks {
    held: Vec<NamespaceLock>,
}

impl<'a> Session<'a> {
    /// A session on `api`.
    pub fn new(api: &'a dyn KfpApi, options: SessionOptions) -> Self {
        Self { api, options }
    }

    /// Takes the lock of every namespace (in name order, so that two processes locking overlapping
    /// sets cannot wait for each other), waiting while another process holds one; `waiting` is told
    /// who it waits for. On failure, the locks already taken are given back. Without lock options,
    /// nothing is locked.
    pub fn lock(
        &self,
        namespaces: &[String],
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&str, &LockHolder),
    ) -> Result<Locks, SessionError> {
        self.lock_while_verifying(namespaces, Duration::ZERO, cancel, waiting)
    }

    /// [`Session::lock`] for an apply that may wait up to `verifying` for verification runs while it
    /// holds the locks (see [`Session::verification_budget`]): the lease is longer by that much, so that
    /// the locks cannot expire under verifications that keep to their timeouts.
    pub fn lock_while_verifying(
        &self,
        namespaces: &[String],
        verifying: Duration,
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&str, &LockHolder),
    ) -> Result<Locks, SessionError> {
        let mut locks = Locks::default();
        let Some(options) = &self.options.lock else {
            return Ok(locks);
        };
        let options = &LockOptions {
            lease: options.lease.saturating_add(verifying),
            ..options.clone()
        };
        let mut sorted: Vec<&String> = namespaces.iter().collect();
        sorted.sort();
        sorted.dedup();
        for namespace in sorted {
            let taken =
                NamespaceLock::acquire(self.api, namespace, options, cancel, &mut |holder| {
                    waiting(namespace, holder);
                });
            match taken {
                Ok(lock) => locks.held.push(lock),
                Err(err) => {
                    // Best effort: the error that stopped us is the one to report.
                    let _ = self.unlock(locks);
                    return Err(err.into());
                }
            }
        }
        Ok(locks)
    }

    /// Fails when a lock was lost since it was taken (it expired and another process took it).
    pub fn check_locks(&self, locks: &Locks) -> Result<(), SessionError> {
        for lock in &locks.held {
            lock.check(self.api)?;
        }
        Ok(())
    }

    /// Gives every lock back; the first failure is reported after trying all.
    pub fn unlock(&self, locks: Locks) -> Result<(), SessionError> {
        let mut first = None;
        for lock in locks.held {
            if let Err(err) = lock.release(self.api) {
                first.get_or_insert(err);
            }
        }
        first.map_or(Ok(()), |err| Err(err.into()))
    }

    /// How long an apply of `desired` could wait for verification runs at most: every recurring run
    /// whose rollout verifies may be replaced (see [`Session::verification_budget`]).
    pub fn verification_budget_of(&self, desired: &[DesiredNamespace]) -> Duration {
        let timeouts = desired.iter().map(|namespace| {
            namespace
                .recurring_runs
                .iter()
                .map(|run| self.options.plan.rollout.resolve(run))
                .filter(|rollout| rollout.strategy == kfp_config::RolloutStrategy::Verify)
                .map(|rollout| rollout.timeout_seconds)
                .collect::<Vec<_>>()
        });
        verification_budget(timeouts, self.options.apply.concurrency)
    }

    /// How long applying `plans` could wait for their verification runs at most. Namespaces are applied
    /// in parallel; within one, `concurrency` workers each wait for one verification at a time, so `n`
    /// verifications take up to `ceil(n / concurrency)` times the longest timeout.
    pub fn verification_budget(&self, plans: &[Plan]) -> Duration {
        let timeouts = plans.iter().map(|plan| {
            plan.jobs
                .iter()
                .flat_map(|job| &job.actions)
                .filter_map(|action| match action {
                    crate::model::Action::Verify { verification, .. } => {
                        Some(verification.timeout_seconds)
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        });
        verification_budget(timeouts, self.options.apply.concurrency)
    }

    /// The session's options.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Loads every target, observes every namespace (in parallel) and plans each, at `now`.
    pub fn plan(&self, targets: &[Target], now: Timestamp) -> Result<Vec<Plan>, SessionError> {
        let desired = self.load(targets, now)?;
        self.plan_loaded(targets, &desired, now)
    }

    /// Loads every target's desired state with the session's options (no KFP access), zoned crons
    /// checked at `now`: what [`Session::plan_loaded`] plans, after a lock is taken.
    pub fn load(
        &self,
        targets: &[Target],
        now: Timestamp,
    ) -> Result<Vec<DesiredNamespace>, SessionError> {
        let mut load = self.options.load.clone();
        load.zones.at = now;
        load_desired(targets, &load)
    }

    /// Observes the namespaces of `targets` (in parallel) and plans each from its loaded `desired`
    /// state (in the order of `targets`), at `now`.
    pub fn plan_loaded(
        &self,
        targets: &[Target],
        desired: &[DesiredNamespace],
        now: Timestamp,
    ) -> Result<Vec<Plan>, SessionError> {
        let namespaces: Vec<String> = targets.iter().map(|t| t.namespace.clone()).collect();
        desired
            .iter()
            .zip(targets)
            .zip(observe_many(self.api, &namespaces))
            .map(|((desired, target), observed)| {
                Ok(plan(desired, &observed?, now, &self.plan_options(target)))
            })
            .collect()
    }

    /// The planning options of one target: the session's, with the target's prune policy.
    pub fn plan_options(&self, target: &Target) -> PlanOptions {
        PlanOptions {
            prune: target.prune.unwrap_or(self.options.plan.prune),
            ..self.options.plan.clone()
        }
    }

    /// Fills the workflow diffs of replaced jobs, for display (fetches the running versions' manifests).
    pub fn attach_workflow_diffs(&self, plans: &mut [Plan]) {
        for plan in plans {
            crate::diff::attach_workflow_diffs(plan, self.api);
        }
    }

    /// Refuses saved `plans` read from `path` when KFP changed since they were made.
    pub fn check_fresh(
        &self,
        plans: &[Plan],
        path: &std::path::Path,
    ) -> Result<(), crate::saved::SavedPlanError> {
        crate::saved::check_fresh(plans, self.api, path)
    }

    /// Applies the plans that have changes (namespaces in parallel), starting no new job once `cancel`
    /// is cancelled. Reports follow the order of the plans with changes.
    pub fn apply(&self, plans: &[Plan], cancel: &CancelToken) -> Vec<ApplyReport> {
        let pending: Vec<Plan> = plans
            .iter()
            .filter(|plan| !plan.is_empty())
            .cloned()
            .collect();
        apply_many_until(&pending, self.api, &self.options.apply, cancel)
    }

    /// One namespace of a `watch` cycle: load, observe, plan at `now`, tell drift from config changes
    /// (`converged` holds what each job last converged to), apply, and say which jobs converged. A job
    /// whose verification failed for the config it has now (`failed`) is left alone.
    pub fn reconcile_namespace(
        &self,
        target: &Target,
        converged: &Converged,
        failed_verifications: &FailedVerifications,
        now: Timestamp,
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&str, &LockHolder),
    ) -> NamespaceReconcile {
        let failed = |error| NamespaceReconcile {
            namespace: target.namespace.clone(),
            error: Some(error),
            ..NamespaceReconcile::default()
        };
        // A config that does not load is refused before anything is asked of KFP, the lock included.
        let desired = match self.load(std::slice::from_ref(target), now) {
            Ok(mut desired) => desired.remove(0),
            Err(error) => return failed(error),
        };
        let locks = match self.lock(std::slice::from_ref(&target.namespace), cancel, waiting) {
            Ok(locks) => locks,
            Err(error) => {
                let mut outcome = failed(error);
                outcome.managed_jobs = Some(desired.recurring_runs.len() as u64);
                return outcome;
            }
        };
        let mut outcome = self.reconcile_locked(
            target,
            &desired,
            converged,
            failed_verifications,
            now,
            cancel,
        );
        if let Err(error) = self.unlock(locks) {
            outcome.error.get_or_insert(error);
        }
        outcome
    }

    fn reconcile_locked(
        &self,
        target: &Target,
        desired: &DesiredNamespace,
        converged: &Converged,
        failed: &FailedVerifications,
        now: Timestamp,
        cancel: &CancelToken,
    ) -> NamespaceReconcile {
        let mut outcome = NamespaceReconcile {
            namespace: target.namespace.clone(),
            ..NamespaceReconcile::default()
        };
        outcome.managed_jobs = Some(desired.recurring_runs.len() as u64);
        outcome.declared = desired
            .recurring_runs
            .iter()
            .map(|run| run.name.clone())
            .collect();
        let observed = match observe(self.api, &target.namespace) {
            Ok(observed) => observed,
            Err(error) => {
                outcome.error = Some(error.into());
                return outcome;
            }
        };
        let mut plan = plan(desired, &observed, now, &self.plan_options(target));
        outcome.warnings = std::mem::take(&mut plan.warnings);
        outcome.leftovers = std::mem::take(&mut plan.leftovers);

        let fingerprints: BTreeMap<&str, ConfigFingerprint> = desired
            .recurring_runs
            .iter()
            .map(|run| (run.name.as_str(), config_fingerprint(run)))
            .collect();
        let verifications: BTreeMap<&str, ConfigFingerprint> = desired
            .recurring_runs
            .iter()
            .map(|run| (run.name.as_str(), verification_fingerprint(run)))
            .collect();
        // A verification that failed for this very config is not tried again every cycle.
        plan.jobs.retain(|job| {
            let remembered = failed.get(&(target.namespace.clone(), job.name.clone()));
            let hold = crate::rollout::verification(job).is_some()
                && remembered.is_some()
                && remembered == verifications.get(job.name.as_str());
            if hold {
                outcome.held.push(job.name.clone());
            }
            !hold
        });
        for job in &plan.jobs {
            let previous = converged.get(&(target.namespace.clone(), job.name.clone()));
            let fingerprint = previous.map(|previous| &previous.fingerprint);
            if is_drift(job, fingerprint, fingerprints.get(job.name.as_str())) {
                outcome.drift.push(DriftReport {
                    job: job.name.clone(),
                    reasons: drift_reasons(job, previous),
                });
            }
        }
        let report = apply_until(&plan, self.api, &self.options.apply, cancel);
        outcome.failed_verifications = report
            .jobs
            .iter()
            .filter(|job| {
                job.steps.iter().any(|step| {
                    step.action == crate::verify::VERIFY
                        && matches!(step.outcome, crate::report::Outcome::Failed { .. })
                })
            })
            .filter_map(|job| {
                let fingerprint = verifications.get(job.name.as_str())?;
                Some((job.name.clone(), *fingerprint))
            })
            .collect();
        let newest = newest_versions(&observed);
        // A job converged when it needed no action, or when every action it needed succeeded.
        outcome.converged = fingerprints
            .iter()
            // A job left alone after a failed verification has not converged to its config.
            .filter(|(name, _)| !outcome.held.iter().any(|held| held == **name))
            .filter_map(|(name, fingerprint)| {
                let planned = plan.jobs.iter().find(|job| job.name == **name);
                let version = match planned {
                    None => newest.get(*name).cloned(),
                    Some(job) => {
                        let done = report.jobs.iter().any(|reported| {
                            reported.name == **name
                                && reported.steps.iter().all(|s| s.outcome.is_success())
                        });
                        if !done {
                            return None;
                        }
                        created_version(job).or_else(|| newest.get(*name).cloned())
                    }
                };
                let converged = ConvergedJob {
                    fingerprint: *fingerprint,
                    version,
                };
                Some(((*name).to_owned(), converged))
            })
            .collect();
        outcome.report = Some(report);
        outcome
    }
}

/// The name of the newest managed version of each job.
fn newest_versions(observed: &ObservedNamespace) -> BTreeMap<String, String> {
    let mut newest: BTreeMap<String, (Timestamp, String)> = BTreeMap::new();
    for job in &observed.jobs {
        if let Some(version) = parse_version_name(&job.name) {
            let entry = newest
                .entry(version.job)
                .or_insert((version.timestamp, job.name.clone()));
            if version.timestamp > entry.0 {
                *entry = (version.timestamp, job.name.clone());
            }
        }
    }
    newest
        .into_iter()
        .map(|(job, (_, name))| (job, name))
        .collect()
}

/// The version a job's plan creates, if any.
fn created_version(job: &JobPlan) -> Option<String> {
    job.actions.iter().find_map(|action| match action {
        Action::CreateVersion { version } => Some(version.name.clone()),
        _ => None,
    })
}

/// The longest of the namespaces' waits for verification runs (each namespace given as the timeouts
/// of its verifications, in seconds), each `ceil(n / concurrency) × longest timeout`.
fn verification_budget(namespaces: impl Iterator<Item = Vec<u64>>, concurrency: usize) -> Duration {
    let workers = concurrency.max(1) as u64;
    let seconds = namespaces
        .map(|timeouts| {
            let longest = timeouts.iter().copied().max().unwrap_or(0);
            (timeouts.len() as u64)
                .div_ceil(workers)
                .saturating_mul(longest)
        })
        .max()
        .unwrap_or(0);
    Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verification_budget_counts_the_rounds_of_each_namespaces_workers() {
        let budget = |namespaces: Vec<Vec<u64>>, concurrency| {
            verification_budget(namespaces.into_iter(), concurrency).as_secs()
        };
        assert_eq!(budget(vec![], 4), 0);
        assert_eq!(budget(vec![vec![]], 4), 0);
        assert_eq!(budget(vec![vec![3600, 7200]], 4), 7200, "one round");
        // Twenty verifications of two hours by four workers: five rounds.
        assert_eq!(budget(vec![vec![7200; 20]], 4), 5 * 7200);
        // Namespaces are applied in parallel: the longest one counts.
        assert_eq!(budget(vec![vec![7200; 5], vec![600; 40]], 4), 2 * 7200);
        assert_eq!(budget(vec![vec![60; 3]], 0), 3 * 60, "no workers means one");
    }
}
