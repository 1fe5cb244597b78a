//! One cycle of the `watch` daemon over every target: each namespace reconciled on its own thread
//! (namespaces are independent: one slow or failing namespace holds up no other), then the health of
//! its recurring runs read for the metrics; and what the daemon remembers from one cycle to the next.
//!
//! The daemon's loop (interval, backoff, signals) stays with the program that runs it; everything a
//! cycle decides is here, so a library user gets the same behaviour as `kfp-gitops watch`.

use jiff::Timestamp;
use kfp_client::KfpApi;
use kfp_config::Target;

use crate::drift::{Converged, FailedVerifications};
use crate::lock::LockHolder;
use crate::missed::MissedFireOptions;
use crate::session::{NamespaceReconcile, Session, SessionError};
use crate::status::{JobHealth, StatusError, namespace_health};
use kfp_client::CancelToken;

/// What the daemon remembers between cycles.
#[derive(Debug, Default)]
pub struct DaemonMemory {
    /// What each recurring run last converged to, to tell drift from config changes.
    pub converged: Converged,
    /// Configs whose verification failed, left alone until they change.
    pub failed_verifications: FailedVerifications,
}

impl DaemonMemory {
    /// Takes in what one namespace's reconcile converged to and which verifications failed.
    pub fn remember(&mut self, result: &NamespaceReconcile) {
        for (job, converged) in &result.converged {
            let key = (result.namespace.clone(), job.clone());
            self.failed_verifications.remove(&key);
            self.converged.insert(key, converged.clone());
        }
        for (job, fingerprint) in &result.failed_verifications {
            self.failed_verifications
                .insert((result.namespace.clone(), job.clone()), *fingerprint);
        }
    }
}

/// How a cycle runs.
#[derive(Debug, Clone, Default)]
pub struct CycleOptions {
    /// The cycle's clock.
    pub now: Timestamp,
    /// Verify again configs whose verification failed before (`--retry-failed`).
    pub retry_failed: bool,
    /// How the health's missed fires are looked for.
    pub missed: MissedFireOptions,
}

/// One namespace's part of a cycle.
#[derive(Debug)]
pub struct NamespaceCycle {
    /// What was planned, found drifted and done.
    pub reconcile: NamespaceReconcile,
    /// The health of its recurring runs after the reconcile; `None` when the namespace could not be
    /// planned.
    pub health: Option<Result<Vec<JobHealth>, StatusError>>,
}

/// Reconciles every target of `session` in parallel (see [`Session::reconcile_namespace`]), then reads the
/// health of each reconciled namespace's recurring runs through `api`. `waiting` is told when a namespace's
/// lock is held by someone else. The results are in the order of `targets`.
pub fn reconcile_cycle(
    session: &Session<'_>,
    api: &dyn KfpApi,
    targets: &[Target],
    memory: &DaemonMemory,
    options: &CycleOptions,
    cancel: &CancelToken,
    waiting: &(dyn Fn(&str, &LockHolder) + Sync),
) -> Vec<NamespaceCycle> {
    let no_failures = FailedVerifications::new();
    let failed_verifications = if options.retry_failed {
        &no_failures
    } else {
        &memory.failed_verifications
    };
    std::thread::scope(|threads| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| {
                let failed_verifications = &failed_verifications;
                threads.spawn(move || {
                    let reconcile = session.reconcile_namespace(
                        target,
                        &memory.converged,
                        failed_verifications,
                        options.now,
                        cancel,
                        &mut |namespace, holder| waiting(namespace, holder),
                    );
                    let health = (reconcile.error.is_none() && reconcile.managed_jobs.is_some())
                        .then(|| {
                            namespace_health(
                                api,
                                &reconcile.namespace,
                                &reconcile.declared,
                                options.now,
                                &options.missed,
                            )
                        });
                    NamespaceCycle { reconcile, health }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(handle, target)| {
                handle.join().unwrap_or_else(|_| NamespaceCycle {
                    reconcile: NamespaceReconcile {
                        namespace: target.namespace.clone(),
                        error: Some(SessionError::Panicked("reconciling the namespace")),
                        ..NamespaceReconcile::default()
                    },
                    health: None,
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::ConvergedJob;

    #[test]
    fn a_run_that_converges_is_remembered_and_its_failed_verification_forgotten() {
        let mut memory = DaemonMemory::default();
        let failed = NamespaceReconcile {
            namespace: "team-1".into(),
            failed_verifications: vec![("nightly".into(), 7)],
            ..NamespaceReconcile::default()
        };
        memory.remember(&failed);
        let key = ("team-1".to_owned(), "nightly".to_owned());
        assert_eq!(memory.failed_verifications.get(&key), Some(&7));
        let converged = NamespaceReconcile {
            namespace: "team-1".into(),
            converged: vec![(
                "nightly".into(),
                ConvergedJob {
                    fingerprint: 8,
                    version: Some("GIT::nightly__2027-01-01T00-00-00Z".into()),
                },
            )],
            ..NamespaceReconcile::default()
        };
        memory.remember(&converged);
        assert!(memory.failed_verifications.is_empty());
        assert_eq!(memory.converged[&key].fingerprint, 8);
    }
}
