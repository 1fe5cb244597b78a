//! Saved plans: `plan --out FILE` writes the plans with a fingerprint of what KFP looked like, and
//! `apply FILE` reads them back and refuses them when KFP changed since (the stale check lives here,
//! next to planning, so every embedder refuses a stale plan the same way).

use std::path::{Path, PathBuf};

use kfp_client::KfpApi;

use crate::model::{FORMAT_VERSION, Plan, PlanFile};
use crate::observe::{ObserveError, observe_many};

/// A saved plan that cannot be written, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The plan could not be turned into JSON.
    #[error("cannot serialize the plan")]
    Serialize(#[source] serde_json::Error),
    /// The file could not be written.
    #[error("failed writing the plan to {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be read.
    #[error("failed reading the plan {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{} is not a saved plan", path.display())]
    NotAPlan {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written by another plan format.
    #[error(
        "{} has plan format version {}, this kfp-gitops reads version {FORMAT_VERSION}",
        path.display(),
        found.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
    )]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version it has, if any.
        found: Option<u64>,
    },
    /// The file is JSON of the right version but not a plan.
    #[error("{} is not a valid saved plan", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// KFP changed since the plan was made.
    #[error(
        "the saved plan {} is stale: KFP changed since it was made in namespace(s) {}",
        path.display(),
        namespaces.join(", ")
    )]
    Stale {
        /// The file.
        path: PathBuf,
        /// The namespaces that changed.
        namespaces: Vec<String>,
    },
    /// A namespace of the plan could not be listed to check it.
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

impl SavedPlanError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::FormatVersion { .. } => {
                Some("make the plan again with this version of kfp-gitops")
            }
            Self::Stale { .. } => Some(
                "nothing was changed; run `kfp-gitops plan --out FILE` again, review it, and apply the new plan",
            ),
            _ => None,
        }
    }
}

/// Writes `plans` to `path` as a [`PlanFile`].
pub fn save_plans(path: &Path, plans: &[Plan]) -> Result<(), SavedPlanError> {
    let file = PlanFile::new(plans.to_vec());
    let json = serde_json::to_string_pretty(&file).map_err(SavedPlanError::Serialize)?;
    std::fs::write(path, json + "\n").map_err(|source| SavedPlanError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the plans saved in `path`, refusing another format version.
pub fn read_plans(path: &Path) -> Result<Vec<Plan>, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| SavedPlanError::NotAPlan {
            path: path.to_path_buf(),
            source,
        })?;
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if found != Some(u64::from(FORMAT_VERSION)) {
        return Err(SavedPlanError::FormatVersion {
            path: path.to_path_buf(),
            found,
        });
    }
    let file: PlanFile =
        serde_json::from_value(value).map_err(|source| SavedPlanError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(file.plans)
}

/// Refuses saved `plans` (read from `path`) when any of their namespaces changed since they were made.
pub fn check_fresh(plans: &[Plan], api: &dyn KfpApi, path: &Path) -> Result<(), SavedPlanError> {
    let namespaces: Vec<String> = plans.iter().map(|plan| plan.namespace.clone()).collect();
    let mut stale = Vec::new();
    for (plan, observed) in plans.iter().zip(observe_many(api, &namespaces)) {
        if observed?.fingerprint() != plan.fingerprint {
            stale.push(plan.namespace.clone());
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    Err(SavedPlanError::Stale {
        path: path.to_path_buf(),
        namespaces: stale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_plan_reads_back_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        save_plans(&path, &[]).unwrap();
        assert_eq!(read_plans(&path).unwrap(), Vec::<Plan>::new());
        std::fs::write(&path, "{\"format_version\": 0, \"plans\": []}").unwrap();
        let err = read_plans(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} has plan format version 0, this kfp-gitops reads version {FORMAT_VERSION}",
                path.display()
            )
        );
        assert!(err.hint().is_some());
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(
            read_plans(&path).unwrap_err(),
            SavedPlanError::NotAPlan { .. }
        ));
    }
}
