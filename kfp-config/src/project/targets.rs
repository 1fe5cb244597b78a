//! Which namespaces a command works on, from which config folders, inside which repository root.
//!
//! Every command that reads configs (`validate`, `plan`, `apply`, `watch`, and embedders) resolves its
//! targets here, from the same inputs: `--config [NS=]DIR` entries, `--namespace` values and the project
//! file. The repository root that local `path:` sources must stay inside follows one rule: the checkout
//! when one is given (the `watch` daemon's `--root`), else the nearest ancestor of the config folder
//! with `.git` or `kfp-gitops.yaml` (see [`crate::project::find_repo_root`]).

use std::path::{Component, Path, PathBuf};

use super::{PROJECT_FILE_NAME, Project, ProjectError, ProjectFile, PruneMode};
use crate::problem::plural;

/// One namespace to work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The KFP namespace (Kubeflow profile).
    pub namespace: String,
    /// Its config folder (`experiments.yaml`, `recurring_runs.yaml`).
    pub config: PathBuf,
    /// The folder local sources of this config must stay inside.
    pub repo_root: PathBuf,
    /// What to do with its recurring runs that are no longer in the config, when the project file or a
    /// flag says (`None`: the session's default).
    pub prune: Option<PruneMode>,
}

/// Where the project file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectLookup {
    /// The nearest `kfp-gitops.yaml` in this folder or a parent, if any.
    Discover(PathBuf),
    /// This file, which must exist.
    File(PathBuf),
    /// This file when it exists.
    Optional(PathBuf),
}

/// What a folder given without a namespace is named after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unnamed {
    /// Nothing: every folder needs `NS=` or a `--namespace` (planning and applying touch a real
    /// namespace, so it is never guessed).
    #[default]
    Refuse,
    /// The folder's name (validating only reads files).
    FolderName,
}

/// The inputs of target resolution, as a command line gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetQuery {
    /// `--config` entries: `DIR` or `NS=DIR`.
    pub configs: Vec<String>,
    /// `--namespace` values: the n-th pairs with the n-th `DIR` written without `NS=`; with no `--config`
    /// they select among the project file's namespaces.
    pub namespaces: Vec<String>,
    /// Where the project file is.
    pub project: ProjectLookup,
    /// The checkout everything is read from (the `watch` daemon's resolved `--root`): relative config
    /// folders are below it and it is the repository root of every target. `None`: config folders are
    /// as given, each with its own repository root.
    pub checkout: Option<PathBuf>,
    /// How a folder without a namespace is named.
    pub unnamed: Unnamed,
    /// With neither `--config` nor a project file listing namespaces, the current folder is the one
    /// config folder when it holds a config file (`validate` run inside a config folder).
    pub current_folder: Option<PathBuf>,
}

impl TargetQuery {
    /// `--config`/`--namespace` pairs, with the project file discovered from the current folder.
    pub fn new(configs: Vec<String>, namespaces: Vec<String>) -> Self {
        Self {
            configs,
            namespaces,
            project: ProjectLookup::Discover(PathBuf::from(".")),
            checkout: None,
            unnamed: Unnamed::Refuse,
            current_folder: None,
        }
    }
}

/// The resolved targets and the project file they came with, if any (its defaults apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The namespaces, in the order given.
    pub targets: Vec<Target>,
    /// The project file, when one was found (also when `--config` named the folders).
    pub project: Option<Project>,
}

/// Why the targets could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Neither `--config` nor a project file with namespaces.
    #[error("no config folders to {purpose}")]
    NothingToDo {
        /// `reconcile` or `validate`.
        purpose: &'static str,
    },
    /// More or fewer `--namespace` values than folders without `NS=`.
    #[error(
        "{bare} --config folder{} without NS= but {given} --namespace value{}",
        plural(*bare),
        plural(*given)
    )]
    Mismatch {
        /// Folders without `NS=`.
        bare: usize,
        /// `--namespace` values.
        given: usize,
    },
    /// A folder got no namespace.
    #[error("no namespace for --config {dir}")]
    NoNamespace {
        /// The folder as given.
        dir: String,
    },
    /// One namespace named twice.
    #[error("namespace {0:?} is given more than once")]
    Duplicate(String),
    /// `--namespace` names a namespace the project file does not list.
    #[error("namespace {namespace:?} is not listed in the `namespaces` of {}", project.display())]
    NotInProject {
        /// The namespace.
        namespace: String,
        /// The project file.
        project: PathBuf,
    },
    /// The project file lists no namespaces.
    #[error("{} lists no namespaces to reconcile", project.display())]
    EmptyProject {
        /// The project file.
        project: PathBuf,
    },
    /// A config folder lies outside the checkout all files are read from.
    #[error("--config {} is outside the checkout {}", config.display(), checkout.display())]
    OutsideCheckout {
        /// The config folder.
        config: PathBuf,
        /// The checkout.
        checkout: PathBuf,
    },
    /// The project file could not be used.
    #[error("cannot use the project file")]
    Project(#[source] ProjectError),
    /// The current folder could not be read.
    #[error("failed reading the current folder")]
    CurrentDir(#[source] std::io::Error),
}

impl TargetError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NothingToDo { purpose: "validate" } => Some(
                "pass --config DIR (repeatable), list `namespaces` in kfp-gitops.yaml, or run it in a folder with recurring_runs.yaml"
                    .to_owned(),
            ),
            Self::NothingToDo { .. } => Some(
                "pass --config DIR --namespace NS (or --config NS=DIR, repeated), or list `namespaces` in kfp-gitops.yaml"
                    .to_owned(),
            ),
            Self::Mismatch { .. } => Some(
                "give one --namespace per --config DIR, in the same order, or write each as --config NS=DIR"
                    .to_owned(),
            ),
            Self::NoNamespace { .. } => Some(
                "pass --namespace NS (or set KFP_NAMESPACE), one per --config DIR in the same order, or write --config NS=DIR"
                    .to_owned(),
            ),
            Self::NotInProject { .. } => {
                Some("list it there, or pass --config DIR with it".to_owned())
            }
            Self::EmptyProject { .. } => Some(
                "add `namespaces: [{namespace: NS, config: DIR}]` to it, or pass --config".to_owned(),
            ),
            Self::OutsideCheckout { config, checkout } => Some(format!(
                "every file is read from the checkout (--root {}); pass --root with the checkout that holds {}, \
                 or --config as a folder relative to the checkout",
                checkout.display(),
                config.display()
            )),
            Self::Duplicate(_) | Self::Project(_) | Self::CurrentDir(_) => None,
        }
    }
}

/// Resolves the targets of one command run.
pub fn resolve_targets(query: &TargetQuery) -> Result<Targets, TargetError> {
    let project = find_project(&query.project)?;
    if !query.configs.is_empty() {
        let targets = pair_configs(query, project.as_ref())?;
        return Ok(Targets { targets, project });
    }
    let purpose = if query.unnamed == Unnamed::FolderName {
        "validate"
    } else {
        "reconcile"
    };
    let listed = project
        .as_ref()
        .filter(|project| query.current_folder.is_none() || !project.file.namespaces.is_empty());
    if let Some(listed) = listed {
        let targets = project_targets(listed, query)?;
        return Ok(Targets { targets, project });
    }
    if let Some(folder) = &query.current_folder
        && (folder.join(crate::project::RECURRING_RUNS_FILE).exists()
            || folder.join(crate::project::EXPERIMENTS_FILE).exists())
    {
        let namespace = match query.namespaces.first() {
            Some(namespace) if !namespace.is_empty() => namespace.clone(),
            _ => folder_name(folder),
        };
        let config = PathBuf::from(".");
        let repo_root = repo_root_of(query, &config);
        return Ok(Targets {
            targets: vec![Target {
                namespace,
                config,
                repo_root,
                prune: project_prune(project.as_ref(), None),
            }],
            project,
        });
    }
    Err(TargetError::NothingToDo { purpose })
}

/// Config entries given as absolute paths below `checkout`, made relative to it; an entry outside it is
/// refused. The `watch` daemon checks its `--config` entries with this once, at start-up.
pub fn configs_in_checkout(
    configs: &[String],
    checkout: &Path,
) -> Result<Vec<String>, TargetError> {
    let as_written = std::path::absolute(checkout).unwrap_or_else(|_| checkout.to_path_buf());
    let resolved = checkout.canonicalize().ok();
    configs
        .iter()
        .map(|entry| {
            let (named, dir) = split_entry(entry);
            let path = Path::new(dir);
            if !path.is_absolute() {
                if path
                    .components()
                    .any(|component| component == Component::ParentDir)
                {
                    return Err(TargetError::OutsideCheckout {
                        config: path.to_path_buf(),
                        checkout: as_written.clone(),
                    });
                }
                return Ok(entry.clone());
            }
            let relative = path
                .strip_prefix(&as_written)
                .ok()
                .or_else(|| path.strip_prefix(resolved.as_ref()?).ok())
                .ok_or_else(|| TargetError::OutsideCheckout {
                    config: path.to_path_buf(),
                    checkout: as_written.clone(),
                })?;
            let relative = if relative.as_os_str().is_empty() {
                ".".to_owned()
            } else {
                relative.display().to_string()
            };
            Ok(match named {
                Some(namespace) => format!("{namespace}={relative}"),
                None => relative,
            })
        })
        .collect()
}

/// The project file `lookup` finds, if any.
pub fn find_project(lookup: &ProjectLookup) -> Result<Option<Project>, TargetError> {
    match lookup {
        ProjectLookup::File(path) => Project::load(path).map(Some),
        ProjectLookup::Optional(path) if path.is_file() => Project::load(path).map(Some),
        ProjectLookup::Optional(_) => Ok(None),
        ProjectLookup::Discover(start) => {
            let start = std::path::absolute(start).map_err(TargetError::CurrentDir)?;
            ProjectFile::discover(&start)
        }
    }
    .map_err(TargetError::Project)
}

/// `NS=DIR` → (`Some(NS)`, `DIR`); anything else is a folder without a namespace.
fn split_entry(entry: &str) -> (Option<&str>, &str) {
    match entry.split_once('=') {
        Some((namespace, dir)) if !namespace.is_empty() && !namespace.contains('/') => {
            (Some(namespace), dir)
        }
        _ => (None, entry),
    }
}

/// Pairs `--config` folders with their namespaces. `NS=DIR` names its own; every other folder takes the
/// next `--namespace` value, in order; a folder left without one is named after itself or refused.
fn pair_configs(
    query: &TargetQuery,
    project: Option<&Project>,
) -> Result<Vec<Target>, TargetError> {
    let entries: Vec<(Option<&str>, &str)> = query
        .configs
        .iter()
        .map(|entry| split_entry(entry))
        .collect();
    let bare = entries.iter().filter(|(named, _)| named.is_none()).count();
    let namespaces = &query.namespaces;
    if bare > 0 && !namespaces.is_empty() && namespaces.len() != bare {
        return Err(TargetError::Mismatch {
            bare,
            given: namespaces.len(),
        });
    }
    let mut given = namespaces.iter();
    let mut targets: Vec<Target> = Vec::new();
    for (named, dir) in entries {
        let config = match &query.checkout {
            Some(checkout) => checkout.join(dir),
            None => PathBuf::from(dir),
        };
        let namespace = match named {
            Some(namespace) => namespace.to_owned(),
            None => match (given.next(), query.unnamed) {
                (Some(namespace), _) => namespace.clone(),
                (None, Unnamed::FolderName) => folder_name(&config),
                (None, Unnamed::Refuse) => {
                    return Err(TargetError::NoNamespace {
                        dir: dir.to_owned(),
                    });
                }
            },
        };
        if targets.iter().any(|target| target.namespace == namespace) {
            return Err(TargetError::Duplicate(namespace));
        }
        let repo_root = repo_root_of(query, &config);
        let prune = project_prune(project, Some(&namespace));
        targets.push(Target {
            namespace,
            config,
            repo_root,
            prune,
        });
    }
    Ok(targets)
}

/// The project file's namespaces that `--namespace` names (all of them when it names none).
fn project_targets(project: &Project, query: &TargetQuery) -> Result<Vec<Target>, TargetError> {
    let mut targets: Vec<Target> = project
        .file
        .namespaces
        .iter()
        .map(|target| {
            let config = project.resolve(&target.config);
            Target {
                namespace: target.namespace.clone(),
                repo_root: repo_root_of(query, &config),
                config,
                prune: target.prune.or(project.file.defaults.prune),
            }
        })
        .collect();
    if let Some(missing) = query
        .namespaces
        .iter()
        .find(|namespace| !targets.iter().any(|target| &target.namespace == *namespace))
    {
        return Err(TargetError::NotInProject {
            namespace: missing.clone(),
            project: project.path.clone(),
        });
    }
    if !query.namespaces.is_empty() {
        targets.retain(|target| query.namespaces.contains(&target.namespace));
    }
    if targets.is_empty() {
        return Err(TargetError::EmptyProject {
            project: project.path.clone(),
        });
    }
    Ok(targets)
}

/// The project file's prune policy for `namespace` (its own, else the default).
fn project_prune(project: Option<&Project>, namespace: Option<&str>) -> Option<PruneMode> {
    let project = project?;
    namespace
        .and_then(|namespace| project.namespace(namespace)?.prune)
        .or(project.file.defaults.prune)
}

fn repo_root_of(query: &TargetQuery, config: &Path) -> PathBuf {
    match &query.checkout {
        Some(checkout) => checkout.clone(),
        None => crate::project::find_repo_root(config),
    }
}

/// The last named component of `dir` made absolute (`.` in `/srv/team-1` is `team-1`).
fn folder_name(dir: &Path) -> String {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .components()
        .rfind(|c| matches!(c, Component::Normal(_)))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The project file name below a checkout.
pub fn project_file_in(checkout: &Path) -> PathBuf {
    checkout.join(PROJECT_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(configs: &[&str], namespaces: &[&str]) -> TargetQuery {
        let mut query = TargetQuery::new(
            configs.iter().map(|s| (*s).to_owned()).collect(),
            namespaces.iter().map(|s| (*s).to_owned()).collect(),
        );
        // Nothing of the test machine's folders may leak in.
        query.project = ProjectLookup::Optional(PathBuf::from("/nonexistent/kfp-gitops.yaml"));
        query
    }

    fn pairs(targets: &[Target]) -> Vec<(&str, &Path)> {
        targets
            .iter()
            .map(|t| (t.namespace.as_str(), t.config.as_path()))
            .collect()
    }

    #[test]
    fn one_config_folder_takes_the_namespace_flag() {
        let resolved = resolve_targets(&query(&["schedules/team-1"], &["team-1"])).unwrap();
        assert_eq!(
            pairs(&resolved.targets),
            [("team-1", Path::new("schedules/team-1"))]
        );
    }

    #[test]
    fn several_config_folders_name_their_namespaces() {
        let resolved = resolve_targets(&query(&["a=cfg/a", "b=cfg/b"], &[])).unwrap();
        assert_eq!(
            pairs(&resolved.targets),
            [("a", Path::new("cfg/a")), ("b", Path::new("cfg/b"))]
        );
    }

    #[test]
    fn repeated_config_and_namespace_flags_pair_up_in_order_and_named_folders_take_none() {
        let resolved = resolve_targets(&query(
            &["team-x=cfg/x", "cfg/a", "cfg/b"],
            &["team-a", "team-b"],
        ))
        .unwrap();
        assert_eq!(
            pairs(&resolved.targets),
            [
                ("team-x", Path::new("cfg/x")),
                ("team-a", Path::new("cfg/a")),
                ("team-b", Path::new("cfg/b"))
            ]
        );
    }

    #[test]
    fn a_folder_without_a_namespace_is_refused_for_reconciling_and_named_after_itself_for_validating()
     {
        let err = resolve_targets(&query(&["a=cfg/a", "cfg/b"], &[])).unwrap_err();
        assert_eq!(err.to_string(), "no namespace for --config cfg/b");
        assert!(err.hint().unwrap().contains("--config NS=DIR"));
        let mut validating = query(&["a=cfg/a", "cfg/b"], &[]);
        validating.unnamed = Unnamed::FolderName;
        let resolved = resolve_targets(&validating).unwrap();
        assert_eq!(resolved.targets[1].namespace, "b");
    }

    #[test]
    fn mismatched_counts_and_duplicates_are_errors() {
        let err = resolve_targets(&query(&["cfg/a", "cfg/b", "cfg/c"], &["a", "b"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "3 --config folders without NS= but 2 --namespace values"
        );
        let err = resolve_targets(&query(&["a=x", "a=y"], &[])).unwrap_err();
        assert_eq!(err.to_string(), "namespace \"a\" is given more than once");
    }

    #[test]
    fn the_checkout_is_the_root_of_every_target_and_holds_relative_folders() {
        let mut in_checkout = query(&["team-1=schedules/team-1"], &[]);
        in_checkout.checkout = Some(PathBuf::from("/git/worktrees/abc"));
        let resolved = resolve_targets(&in_checkout).unwrap();
        assert_eq!(
            resolved.targets[0].config,
            Path::new("/git/worktrees/abc/schedules/team-1")
        );
        assert_eq!(
            resolved.targets[0].repo_root,
            Path::new("/git/worktrees/abc")
        );
    }

    #[test]
    fn absolute_config_folders_below_the_checkout_become_relative_and_others_are_refused() {
        let checkout = tempfile::tempdir().unwrap();
        let root = checkout.path();
        let inside = format!("team-1={}", root.join("schedules/team-1").display());
        assert_eq!(
            configs_in_checkout(&[inside, "team-2".to_owned()], root).unwrap(),
            ["team-1=schedules/team-1", "team-2"]
        );
        let err = configs_in_checkout(&["/srv/elsewhere/team-1".to_owned()], root).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "--config /srv/elsewhere/team-1 is outside the checkout {}",
                root.display()
            )
        );
        assert!(err.hint().unwrap().contains("--root"));
        let err = configs_in_checkout(&["../team-1".to_owned()], root).unwrap_err();
        assert!(matches!(err, TargetError::OutsideCheckout { .. }), "{err}");
    }

    #[test]
    fn the_project_file_lists_the_namespaces_and_namespace_flags_select_among_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(PROJECT_FILE_NAME);
        std::fs::write(
            &file,
            "namespaces:\n  - {namespace: a, config: cfg/a}\n  - {namespace: b, config: cfg/b}\n",
        )
        .unwrap();
        let mut all = query(&[], &[]);
        all.project = ProjectLookup::File(file.clone());
        let resolved = resolve_targets(&all).unwrap();
        assert_eq!(resolved.targets.len(), 2);
        assert_eq!(resolved.targets[1].config, dir.path().join("cfg/b"));
        let mut one = all.clone();
        one.namespaces = vec!["b".to_owned()];
        assert_eq!(resolve_targets(&one).unwrap().targets[0].namespace, "b");
        one.namespaces = vec!["c".to_owned()];
        let err = resolve_targets(&one).unwrap_err();
        assert!(matches!(err, TargetError::NotInProject { .. }), "{err}");
    }

    #[test]
    fn without_configs_or_project_there_is_nothing_to_do() {
        let err = resolve_targets(&query(&[], &[])).unwrap_err();
        assert_eq!(err.to_string(), "no config folders to reconcile");
        let mut validating = query(&[], &[]);
        validating.unnamed = Unnamed::FolderName;
        validating.current_folder = Some(PathBuf::from("/nonexistent/team-1"));
        let err = resolve_targets(&validating).unwrap_err();
        assert_eq!(err.to_string(), "no config folders to validate");
    }
}
