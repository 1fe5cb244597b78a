//! The optional project file `kfp-gitops.yaml` at the repository root: render targets, namespace targets
//! and defaults. Flags and environment variables override it; without it everything works from flags.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::yaml::{self, YamlError};

mod targets;

pub use targets::{
    ProjectLookup, Target, TargetError, TargetQuery, Targets, Unnamed, configs_in_checkout,
    find_project, project_file_in, resolve_targets,
};

/// The project file's name.
pub const PROJECT_FILE_NAME: &str = "kfp-gitops.yaml";

/// The experiments file of a namespace folder.
pub const EXPERIMENTS_FILE: &str = "experiments.yaml";
/// The recurring runs file of a namespace folder.
pub const RECURRING_RUNS_FILE: &str = "recurring_runs.yaml";

/// The default output folder of a render target.
pub const RENDERED_PIPELINE: &str = "RENDERED_PIPELINE";

/// `kfp-gitops.yaml`: what `render` renders and which namespaces `validate`/`plan`/`apply` handle. Paths
/// are relative to the folder of this file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "kfp-gitops project file (kfp-gitops.yaml)")]
pub struct ProjectFile {
    /// Pipelines to render with `kfp-gitops render`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub render_targets: Vec<RenderTarget>,
    /// Namespaces (KFP profiles) and the config folder holding each one's `experiments.yaml` and
    /// `recurring_runs.yaml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceTarget>,
    /// Defaults for flags that were not given.
    #[serde(default, skip_serializing_if = "ProjectDefaults::is_empty")]
    pub defaults: ProjectDefaults,
    /// The IANA time zone the cluster's KFP scheduler evaluates cron schedules in: its
    /// `CRON_SCHEDULE_TIMEZONE` [default: `UTC`]. Schedules with a `timezone` are translated to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_timezone: Option<String>,
    /// How often something reconciles these namespaces on its own, e.g. `1h`: a CI job on a schedule
    /// running `apply`, or the `watch` daemon's `--interval`. With it, `plan` and `status` warn about a
    /// coming change of a zone's UTC offset only when no reconcile is sure to replace the affected
    /// versions before they fire; without it, they always warn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_every: Option<String>,
}

/// One pipeline to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderTarget {
    /// A unique name, used to select targets on the command line.
    pub name: String,
    /// The folder the command runs in.
    pub workdir: PathBuf,
    /// The command (argv); `{output}` is replaced by the temporary output folder, which is also exported
    /// as `KFP_GITOPS_OUTPUT`.
    pub command: Vec<String>,
    /// The committed output folder, relative to `workdir`.
    #[serde(default = "default_output")]
    pub output: PathBuf,
}

fn default_output() -> PathBuf {
    PathBuf::from(RENDERED_PIPELINE)
}

/// One namespace and its config folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceTarget {
    /// The KFP namespace (profile).
    pub namespace: String,
    /// The folder with `experiments.yaml` and `recurring_runs.yaml`.
    pub config: PathBuf,
    /// What to do with recurring runs of this namespace that are no longer in its config (`--prune`
    /// overrides it) [default: `defaults.prune`, else `off`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneMode>,
}

/// What to do with recurring runs no longer in the config (managed versions of jobs the config no
/// longer declares).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PruneMode {
    /// Report them only (`off`; an enabled one is reported as out of sync).
    #[default]
    #[serde(rename = "off", alias = "none")]
    None,
    /// Disable their enabled versions.
    Disable,
    /// Disable their enabled versions, then delete every version.
    Delete,
}

/// Defaults for command-line options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectDefaults {
    /// The KFP API URL (`--api-url`, `KFP_API_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// The service account runs use when a recurring run names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_runner_sa: Option<String>,
    /// What to do with recurring runs no longer in a namespace's config, for namespaces that set no
    /// `prune` of their own (`--prune` overrides both) [default: `off`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneMode>,
    /// The IANA time zone of cron schedules that name none, such as `Europe/Berlin` [default: the
    /// scheduler's zone, so that crons are not translated].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// How a new version takes over the schedule, for recurring runs that set no `rollout` of their
    /// own (`apply --rollout` overrides both) [default: `strategy: swap`].
    #[serde(
        default,
        skip_serializing_if = "crate::model::RolloutDefaults::is_empty"
    )]
    pub rollout: crate::model::RolloutDefaults,
}

impl ProjectDefaults {
    fn is_empty(&self) -> bool {
        self.api_url.is_none()
            && self.default_runner_sa.is_none()
            && self.prune.is_none()
            && self.timezone.is_none()
            && self.rollout.is_empty()
    }
}

/// A project file that could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is invalid or does not match the schema.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why, with line and column.
        #[source]
        source: YamlError,
    },
    /// The content breaks a rule (duplicate names, empty command, ...).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A project file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The file's path.
    pub path: PathBuf,
    /// The folder the file's relative paths start from.
    pub root: PathBuf,
    /// Its content.
    pub file: ProjectFile,
}

impl Project {
    /// Reads and checks the project file at `path`.
    pub fn load(path: &Path) -> Result<Self, ProjectError> {
        let read_error = |source| ProjectError::Read {
            path: path.to_path_buf(),
            source,
        };
        // Never opened unless it is a regular file: a FIFO would block forever.
        let metadata = std::fs::metadata(path).map_err(read_error)?;
        if !metadata.is_file() {
            return Err(read_error(std::io::Error::other(format!(
                "it is {}, not a regular file",
                crate::check::files::kind_of(&metadata.file_type())
            ))));
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let file = ProjectFile::parse(&text).map_err(|err| match err {
            ProjectFileError::Yaml(source) => ProjectError::Parse {
                path: path.to_path_buf(),
                source,
            },
            ProjectFileError::Invalid(message) => ProjectError::Invalid {
                path: path.to_path_buf(),
                message,
            },
        })?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            root,
            file,
        })
    }

    /// A path from the file, resolved against the file's folder.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }

    /// The namespace target for `namespace`.
    pub fn namespace(&self, namespace: &str) -> Option<&NamespaceTarget> {
        self.file
            .namespaces
            .iter()
            .find(|target| target.namespace == namespace)
    }
}

/// Why project file text is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectFileError {
    /// Invalid YAML or a schema mismatch.
    #[error(transparent)]
    Yaml(YamlError),
    /// A rule is broken.
    #[error("{0}")]
    Invalid(String),
}

impl ProjectFile {
    /// Parses and checks project file text.
    pub fn parse(text: &str) -> Result<Self, ProjectFileError> {
        if yaml::is_blank(text) {
            return Ok(Self::default());
        }
        let file: Self = yaml::from_str(text).map_err(ProjectFileError::Yaml)?;
        file.check().map_err(ProjectFileError::Invalid)?;
        Ok(file)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for (index, target) in self.render_targets.iter().enumerate() {
            if target.name.trim().is_empty() {
                return Err(format!("render_targets[{index}].name must not be empty"));
            }
            if !names.insert(target.name.as_str()) {
                return Err(format!("render target `{}` is declared twice", target.name));
            }
            if target.command.is_empty() {
                return Err(format!(
                    "render target `{}` has an empty command",
                    target.name
                ));
            }
            if target.output.is_absolute() || target.output.as_os_str().is_empty() {
                return Err(format!(
                    "render target `{}`: output must be a relative folder",
                    target.name
                ));
            }
        }
        for (field, name) in [
            ("scheduler_timezone", &self.scheduler_timezone),
            ("defaults.timezone", &self.defaults.timezone),
        ] {
            if let Some(name) = name
                && let Err(err) = crate::cron::timezone::zone(name)
            {
                return Err(format!(
                    "{field}: {err}; {}",
                    err.hint().unwrap_or_default()
                ));
            }
        }
        if let Some(timeout) = &self.defaults.rollout.timeout
            && let Err(err) = crate::rollout::timeout_seconds(timeout)
        {
            return Err(format!(
                "defaults.rollout.timeout: {err}; write a Go duration such as `2h` or `45m`"
            ));
        }
        if let Some(text) = &self.reconciled_every {
            parse_reconciled_every(text).map_err(|why| format!("reconciled_every: {why}"))?;
        }
        let mut namespaces = std::collections::HashSet::new();
        for (index, target) in self.namespaces.iter().enumerate() {
            if target.namespace.trim().is_empty() {
                return Err(format!("namespaces[{index}].namespace must not be empty"));
            }
            if let Err(why) = crate::check::namespace_name(&target.namespace) {
                return Err(format!("namespaces[{index}].namespace: {why}"));
            }
            if !namespaces.insert(target.namespace.as_str()) {
                return Err(format!(
                    "namespace `{}` is declared twice",
                    target.namespace
                ));
            }
        }
        Ok(())
    }

    /// `reconciled_every` as a duration (`None` when absent or invalid: parsing refuses the
    /// latter).
    pub fn reconciled_every(&self) -> Option<std::time::Duration> {
        parse_reconciled_every(self.reconciled_every.as_deref()?).ok()
    }

    /// Looks for `kfp-gitops.yaml` in `start_dir` and its ancestors; the nearest one wins.
    pub fn discover(start_dir: &Path) -> Result<Option<Project>, ProjectError> {
        let start = if start_dir.is_absolute() {
            start_dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| ProjectError::Read {
                    path: start_dir.to_path_buf(),
                    source,
                })?
                .join(start_dir)
        };
        for dir in start.ancestors() {
            let candidate = dir.join(PROJECT_FILE_NAME);
            if candidate.is_file() {
                return Project::load(&candidate).map(Some);
            }
        }
        Ok(None)
    }
}

/// A positive Go duration such as `1h`, `30m` or `1h30m` (as `rollout.timeout` is written).
fn parse_reconciled_every(text: &str) -> Result<std::time::Duration, String> {
    let nanos = crate::cron::parse_go_duration(text.trim())?;
    u64::try_from(nanos)
        .ok()
        .filter(|nanos| *nanos > 0)
        .map(std::time::Duration::from_nanos)
        .ok_or_else(|| format!("`{text}` must be longer than zero"))
}

/// The repository root for a config folder (see [`crate::LoadOptions::repo_root`]): the nearest ancestor with `.git` or a project file.
pub fn find_repo_root(config_dir: &Path) -> PathBuf {
    let absolute = if config_dir.is_absolute() {
        config_dir.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(config_dir)
    };
    absolute
        .ancestors()
        .find(|dir| dir.join(".git").exists() || dir.join(PROJECT_FILE_NAME).is_file())
        .map_or(absolute.clone(), Path::to_path_buf)
}

impl crate::cron::ScheduleZones {
    /// The zones a project file declares, at `at`.
    pub fn from_project(file: Option<&ProjectFile>, at: jiff::Timestamp) -> Self {
        Self {
            default_timezone: file.and_then(|file| file.defaults.timezone.clone()),
            scheduler_timezone: file
                .and_then(|file| file.scheduler_timezone.clone())
                .unwrap_or_else(|| crate::cron::DEFAULT_SCHEDULER_TIMEZONE.to_owned()),
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_project_file_parses_with_defaults() {
        let file = ProjectFile::parse(
            "render_targets:\n  - name: a\n    workdir: pipelines/a\n    command: [python, p.py, '{output}']\nnamespaces:\n  - {namespace: team-1, config: schedules/team-1}\ndefaults:\n  api_url: http://kfp\n",
        )
        .unwrap();
        assert_eq!(
            file.render_targets[0].output,
            PathBuf::from(RENDERED_PIPELINE)
        );
        assert_eq!(
            file.render_targets[0].command,
            ["python", "p.py", "{output}"]
        );
        assert_eq!(file.namespaces[0].config, PathBuf::from("schedules/team-1"));
        assert_eq!(file.defaults.api_url.as_deref(), Some("http://kfp"));
        assert_eq!(file.defaults.default_runner_sa, None);
    }

    #[test]
    fn reconciled_every_is_a_positive_duration() {
        let file = ProjectFile::parse("reconciled_every: 1h\n").unwrap();
        assert_eq!(
            file.reconciled_every(),
            Some(std::time::Duration::from_secs(3600))
        );
        for (text, why) in [
            ("hourly", "is not a Go duration"),
            ("0s", "must be longer than zero"),
            ("-5m", "must be longer than zero"),
        ] {
            let err = ProjectFile::parse(&format!("reconciled_every: {text}\n")).unwrap_err();
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn an_empty_project_file_is_an_empty_project() {
        assert_eq!(
            ProjectFile::parse("# nothing yet\n").unwrap(),
            ProjectFile::default()
        );
    }

    #[test]
    fn unknown_keys_and_broken_rules_are_errors() {
        let err = ProjectFile::parse("render_target: []\n").unwrap_err();
        assert!(
            matches!(&err, ProjectFileError::Yaml(e) if e.line == Some(1)),
            "{err:?}"
        );
        let err = ProjectFile::parse(
            "render_targets:\n  - {name: a, workdir: x, command: [c]}\n  - {name: a, workdir: y, command: [c]}\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProjectFileError::Invalid("render target `a` is declared twice".into())
        );
        let err = ProjectFile::parse("render_targets:\n  - {name: a, workdir: x, command: []}\n")
            .unwrap_err();
        assert_eq!(
            err,
            ProjectFileError::Invalid("render target `a` has an empty command".into())
        );
        let err = ProjectFile::parse(
            "namespaces:\n  - {namespace: n, config: a}\n  - {namespace: n, config: b}\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            ProjectFileError::Invalid("namespace `n` is declared twice".into())
        );
    }

    #[test]
    fn discovery_finds_the_nearest_project_file_upwards() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_FILE_NAME),
            "namespaces:\n  - {namespace: n, config: c}\n",
        )
        .unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let project = ProjectFile::discover(&nested).unwrap().unwrap();
        assert_eq!(project.root, dir.path());
        assert_eq!(project.resolve(Path::new("c")), dir.path().join("c"));
        assert_eq!(project.namespace("n").unwrap().config, PathBuf::from("c"));
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(ProjectFile::discover(elsewhere.path()).unwrap().is_none());
    }

    #[test]
    fn the_repository_project_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kfp-gitops.yaml");
        let project = Project::load(&path).unwrap();
        assert!(!project.file.render_targets.is_empty());
    }
}
