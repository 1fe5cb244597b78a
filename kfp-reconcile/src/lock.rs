//! One reconcile per namespace at a time, across processes and machines (CI, a laptop, the daemon).
//!
//! The KFP v1 API has no lock, but it has one thing that is unique per namespace and created atomically:
//! an experiment name. A process holds a namespace's lock while an experiment named [`LOCK_EXPERIMENT`]
//! exists that it created; a second process's create is refused (409) and it waits. The experiment's
//! description records who holds it and until when (`kfp-gitops lock held by HOST:PID/TOKEN until
//! RFC3339`), so a crashed holder blocks others only until that time: an expired lock is deleted **by
//! its id** and taken anew, which is safe when several waiters see it expire at once (only one delete
//! finds it; every other create is refused again).
//!
//! Limits, honestly: the expiry cannot be extended (KFP v1 cannot update an experiment), so a reconcile
//! that runs longer than the lease may overlap with the next one; leases are sized generously and the
//! holder checks before each apply that its lock still exists. The lock protects kfp-gitops against
//! itself; the KFP UI and other tools ignore it. The lock experiment is visible in the KFP UI while held.

use std::time::Duration;

use jiff::Timestamp;
use kfp_client::KfpApi;
use kfp_client::models::{Experiment, ResourceReference};

use crate::observe::LOCK_EXPERIMENT;
use kfp_client::CancelToken;

/// How a lock is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// How long a lock is valid after it was taken (a crashed holder blocks others this long at most).
    pub lease: Duration,
    /// How long to wait for a lock held by someone else before giving up.
    pub timeout: Duration,
    /// Time between two attempts while waiting.
    pub poll: Duration,
    /// Who takes it, as others see it (`host:pid/token`).
    pub holder: String,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(2),
            holder: default_holder(),
        }
    }
}

/// `host:pid/token`: enough to find the process, unique per process run.
pub fn default_holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|host| !host.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|text| text.trim().to_owned())
        })
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    let token = Timestamp::now().as_nanosecond() % 1_000_000_000;
    format!("{host}:{}/{token:09}", std::process::id())
}

/// Who holds a namespace's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The lock experiment's id.
    pub id: String,
    /// Who took it (`host:pid/token`), or the raw description when it cannot be read.
    pub holder: String,
    /// When it expires, when readable.
    pub expires: Option<Timestamp>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expires {
            Some(expires) => write!(f, "{} (until {expires})", self.holder),
            None => write!(f, "{}", self.holder),
        }
    }
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else held it for longer than the timeout.
    #[error(
        "namespace {namespace:?} is being reconciled by {holder}; gave up waiting after {}s",
        waited.as_secs()
    )]
    Held {
        /// The namespace.
        namespace: String,
        /// Who holds it.
        holder: LockHolder,
        /// How long this process waited.
        waited: Duration,
    },
    /// The wait was cancelled.
    #[error("stopped waiting for the lock of namespace {namespace:?}")]
    Cancelled {
        /// The namespace.
        namespace: String,
    },
    /// The lock held until now is gone (expired and taken by another process, or deleted by hand).
    #[error("the lock of namespace {namespace:?} was lost (it expired, or was deleted by hand)")]
    Lost {
        /// The namespace.
        namespace: String,
    },
    /// The KFP API failed.
    #[error("cannot take or release the lock of namespace {namespace:?}")]
    Api {
        /// The namespace.
        namespace: String,
        /// Why.
        #[source]
        source: Box<kfp_client::Error>,
    },
}

impl LockError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Held { .. } => Some(
                "another kfp-gitops apply or watch is working on this namespace; wait for it (raise --lock-timeout), \
                 or, if that process is gone, delete the experiment `kfp-gitops-lock` of the namespace",
            ),
            Self::Lost { .. } => Some("run `kfp-gitops apply` again: it plans afresh"),
            _ => None,
        }
    }
}

/// A namespace's lock, held until [`NamespaceLock::release`].
#[derive(Debug)]
pub struct NamespaceLock {
    namespace: String,
    id: String,
}

impl NamespaceLock {
    /// Takes the lock of `namespace`, waiting while someone else holds it (calling `waiting` once per
    /// holder seen), until `options.timeout` or `cancel`.
    pub fn acquire(
        api: &dyn KfpApi,
        namespace: &str,
        options: &LockOptions,
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&LockHolder),
    ) -> Result<Self, LockError> {
        let started = std::time::Instant::now();
        let api_error = |source: kfp_client::Error| LockError::Api {
            namespace: namespace.to_owned(),
            source: Box::new(source),
        };
        let mut last_seen: Option<String> = None;
        loop {
            let now = Timestamp::now();
            let expires = now
                .checked_add(jiff::SignedDuration::try_from(options.lease).unwrap_or_default())
                .unwrap_or(now);
            match api.create_experiment(&lock_body(namespace, &options.holder, expires)) {
                Ok(created) => {
                    return Ok(Self {
                        namespace: namespace.to_owned(),
                        id: created.id,
                    });
                }
                Err(err) if err.is_conflict() || err.is_ambiguous() => {}
                Err(err) => return Err(api_error(err)),
            }
            let Some(holder) = find_lock(api, namespace).map_err(api_error)? else {
                // Released between our create and our look-up: try again at once.
                continue;
            };
            if holder.holder == options.holder {
                // Our own create, whose answer was lost.
                return Ok(Self {
                    namespace: namespace.to_owned(),
                    id: holder.id,
                });
            }
            if holder.expires.is_some_and(|expires| expires <= now) {
                // Expired: delete exactly that lock (by id), then compete for a new one.
                match api.delete_experiment(&holder.id) {
                    Ok(()) => continue,
                    Err(err) if err.is_not_found() => continue,
                    Err(err) => return Err(api_error(err)),
                }
            }
            if last_seen.as_deref() != Some(holder.id.as_str()) {
                waiting(&holder);
                last_seen = Some(holder.id.clone());
            }
            let waited = started.elapsed();
            if waited >= options.timeout {
                return Err(LockError::Held {
                    namespace: namespace.to_owned(),
                    holder,
                    waited,
                });
            }
            let pause = options.poll.min(options.timeout - waited);
            if cancel.wait(pause) {
                return Err(LockError::Cancelled {
                    namespace: namespace.to_owned(),
                });
            }
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Fails when the lock no longer exists (it expired and was taken, or was deleted by hand).
    pub fn check(&self, api: &dyn KfpApi) -> Result<(), LockError> {
        match api.get_experiment(&self.id) {
            Ok(_) => Ok(()),
            Err(err) if err.is_not_found() => Err(LockError::Lost {
                namespace: self.namespace.clone(),
            }),
            Err(source) => Err(LockError::Api {
                namespace: self.namespace.clone(),
                source: Box::new(source),
            }),
        }
    }

    /// Gives the lock up (a lock already gone counts as released).
    pub fn release(self, api: &dyn KfpApi) -> Result<(), LockError> {
        match api.delete_experiment(&self.id) {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() => Ok(()),
            Err(source) => Err(LockError::Api {
                namespace: self.namespace,
                source: Box::new(source),
            }),
        }
    }
}

fn lock_body(namespace: &str, holder: &str, expires: Timestamp) -> Experiment {
    Experiment {
        name: LOCK_EXPERIMENT.to_owned(),
        description: format!("kfp-gitops lock held by {holder} until {expires}"),
        resource_references: if namespace.is_empty() {
            Vec::new()
        } else {
            vec![ResourceReference::namespace_owner(namespace)]
        },
        ..Experiment::default()
    }
}

/// Reads a lock's description back.
fn parse_description(id: &str, description: &str) -> LockHolder {
    let parsed = description
        .strip_prefix("kfp-gitops lock held by ")
        .and_then(|rest| rest.rsplit_once(" until "))
        .and_then(|(holder, until)| Some((holder, until.parse::<Timestamp>().ok()?)));
    match parsed {
        Some((holder, expires)) => LockHolder {
            id: id.to_owned(),
            holder: holder.to_owned(),
            expires: Some(expires),
        },
        None => LockHolder {
            id: id.to_owned(),
            holder: description.to_owned(),
            expires: None,
        },
    }
}

/// The lock experiment of `namespace`, if there is one.
fn find_lock(api: &dyn KfpApi, namespace: &str) -> Result<Option<LockHolder>, kfp_client::Error> {
    Ok(
        crate::observe::experiment_named(api, namespace, LOCK_EXPERIMENT)?
            .map(|experiment| parse_description(&experiment.id, &experiment.description)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_description_reads_back_its_holder_and_expiry() {
        let expires: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
        let body = lock_body("team-1", "ci-runner:42/000000007", expires);
        let holder = parse_description("e-1", &body.description);
        assert_eq!(
            holder,
            LockHolder {
                id: "e-1".to_owned(),
                holder: "ci-runner:42/000000007".to_owned(),
                expires: Some(expires),
            }
        );
        assert_eq!(
            holder.to_string(),
            "ci-runner:42/000000007 (until 2026-12-06T10:00:00Z)"
        );
        // Written by hand or by something else: shown as it is, never expired.
        let odd = parse_description("e-2", "do not touch");
        assert_eq!(odd.holder, "do not touch");
        assert_eq!(odd.expires, None);
    }
}
