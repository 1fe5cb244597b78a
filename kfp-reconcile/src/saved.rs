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
    /// The plan was made against another KFP API than the one it is applied to.
    #[error("the saved plan {} was made against {planned}, not {given}", path.display())]
    OtherApi {
        /// The file.
        path: PathBuf,
        /// The API URL recorded in the plan.
        planned: String,
        /// The API URL it was to be applied to.
        given: String,
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
            Self::OtherApi { .. } => Some(
                "nothing was changed; apply it with the --api-url it was made with, or make a plan against this \
                 API with `kfp-gitops plan --out FILE`",
            ),
            Self::Stale { .. } => Some(
                "nothing was changed; run `kfp-gitops plan --out FILE` again, review it, and apply the new plan",
            ),
            _ => None,
        }
    }
}

/// Writes `plans`, made against the API at `api_url`, to `path` as a [`PlanFile`].
pub fn save_plans(path: &Path, plans: &[Plan], api_url: &str) -> Result<(), SavedPlanError> {
    let file = PlanFile::made_against(plans.to_vec(), api_url);
    let json = serde_json::to_string_pretty(&file).map_err(SavedPlanError::Serialize)?;
    std::fs::write(path, json + "\n").map_err(|source| SavedPlanError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the plans saved in `path`, refusing another format version.
pub fn read_plans(path: &Path) -> Result<PlanFile, SavedPlanError> {
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
    serde_json::from_value(value).map_err(|source| SavedPlanError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Refuses the saved plans of `file` (read from `path`) when they were made against another API than
/// `api_url` (both as the client normalizes them). A file that recorded no API URL is not refused.
pub fn check_api_url(file: &PlanFile, api_url: &str, path: &Path) -> Result<(), SavedPlanError> {
    match &file.api_url {
        Some(planned) if planned.trim_end_matches('/') != api_url.trim_end_matches('/') => {
            Err(SavedPlanError::OtherApi {
                path: path.to_path_buf(),
                planned: planned.clone(),
                given: api_url.to_owned(),
            })
        }
        _ => Ok(()),
    }
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
        save_plans(&path, &[], "http://kfp:8888").unwrap();
        assert_eq!(
            read_plans(&path).unwrap(),
            PlanFile::made_against(Vec::new(), "http://kfp:8888")
        );
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

    #[test]
    fn a_saved_plan_is_refused_against_another_api_and_a_plan_without_a_url_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        save_plans(&path, &[], "https://prod.example.com/pipeline").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"api_url\": \"https://prod.example.com/pipeline\""),
            "{text}"
        );
        let file = read_plans(&path).unwrap();
        check_api_url(&file, "https://prod.example.com/pipeline", &path).unwrap();
        let err = check_api_url(&file, "https://staging.example.com/pipeline", &path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the saved plan {} was made against https://prod.example.com/pipeline, not \
                 https://staging.example.com/pipeline",
                path.display()
            )
        );
        assert!(err.hint().unwrap().contains("--api-url"));
        std::fs::write(
            &path,
            format!("{{\"format_version\": {FORMAT_VERSION}, \"plans\": []}}"),
        )
        .unwrap();
        let old = read_plans(&path).unwrap();
        assert_eq!(old.api_url, None);
        check_api_url(&old, "https://anywhere.example.com", &path).unwrap();
    }
}
