//! `kfp-gitops plan`: what `apply` would change in KFP, per namespace — created, replaced, enabled, disabled
//! and deleted recurring-run versions, with the reasons, field-level diffs and workflow diffs.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use kfp_client::KfpApi;
use kfp_config::desired::DesiredNamespace;
use kfp_config::project::Project;
use kfp_config::{ConfigErrors, LoadOptions};
use kfp_reconcile::{Plan, PlanFile, PlanOptions, PruneMode};
use serde::Serialize;

use crate::args::{GlobalArgs, OutputFormat};
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;
use crate::plan_output::{Palette, render_plans};

/// Which namespaces to reconcile, from which config folders.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Configs")]
pub struct TargetArgs {
    /// Config folder of one namespace (with experiments.yaml and recurring_runs.yaml). With one folder, its
    /// namespace is --namespace; repeat as NS=DIR for several namespaces. Without it, the namespaces of
    /// kfp-gitops.yaml are used.
    #[arg(long = "config", value_name = "[NS=]DIR")]
    pub configs: Vec<String>,

    /// The project file [default: kfp-gitops.yaml in the current folder or a parent]
    #[arg(long, value_name = "FILE")]
    pub project: Option<PathBuf>,
}

/// Where remote pipeline sources come from and where they are cached (the same flags as `validate`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Pipeline sources")]
pub struct SourceArgs {
    /// The GitHub API (GitHub Enterprise: https://HOST/api/v3); the token comes from GITHUB_TOKEN
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true, value_name = "URL", default_value = kfp_config::sources::DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,

    /// The cache of fetched pipelines [default: .cache/kfp-gitops in the repository root]
    #[arg(long, env = "KFP_GITOPS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// How desired and observed state are compared and what is pruned.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Reconcile")]
pub struct ReconcileArgs {
    /// Service account of recurring runs that name none [default: the project file's, else default-editor]
    #[arg(long, env = "KFP_DEFAULT_RUNNER_SA", value_name = "SA")]
    pub default_runner_sa: Option<String>,

    /// What to do with versions of recurring runs that are no longer in the config
    #[arg(long, value_name = "MODE", default_value = "none")]
    pub prune: PruneArg,

    /// Allow --prune to remove every recurring run of a namespace whose config declares none
    #[arg(long)]
    pub allow_empty_prune: bool,
}

/// `--prune` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PruneArg {
    /// Report them only
    None,
    /// Disable their enabled versions
    Disable,
    /// Disable, then delete every version
    Delete,
}

impl From<PruneArg> for PruneMode {
    fn from(arg: PruneArg) -> Self {
        match arg {
            PruneArg::None => Self::None,
            PruneArg::Disable => Self::Disable,
            PruneArg::Delete => Self::Delete,
        }
    }
}

/// `kfp-gitops plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub targets: TargetArgs,

    #[command(flatten)]
    pub reconcile: ReconcileArgs,

    #[command(flatten)]
    pub sources: SourceArgs,

    /// Save the plan (with a fingerprint of what KFP looked like) to FILE, for `kfp-gitops apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 2 when there are changes to apply (0: none, 1: error)
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

/// One namespace to reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub config: PathBuf,
}

/// Settings that come from the project file when flags do not give them.
#[derive(Debug, Default, Clone)]
pub struct ProjectDefaults {
    pub default_runner_sa: Option<String>,
    pub api_url: Option<String>,
}

impl ProjectDefaults {
    fn of(project: Option<&Project>) -> Self {
        project.map_or_else(Self::default, |project| Self {
            default_runner_sa: project.file.defaults.default_runner_sa.clone(),
            api_url: project.file.defaults.api_url.clone(),
        })
    }

    /// The global options with the project's API URL when neither `--api-url` nor `KFP_API_URL` gave one.
    pub fn global(&self, global: &GlobalArgs) -> GlobalArgs {
        let mut global = global.clone();
        if global.api_url.is_none() {
            global.api_url.clone_from(&self.api_url);
        }
        global
    }
}

/// The namespaces to reconcile and the project defaults.
pub fn resolve_targets(
    args: &TargetArgs,
    ctx: &Context,
) -> Result<(Vec<Target>, ProjectDefaults), Failure> {
    if !args.configs.is_empty() {
        let targets = pair_configs(&args.configs, &ctx.global.namespaces, |_| None)?;
        let project = find_project(args)?;
        return Ok((targets, ProjectDefaults::of(project.as_ref())));
    }
    let Some(project) = find_project(args)? else {
        return Err(Failure::new("no config folders to reconcile").hint(
            "pass --config DIR --namespace NS (or --config NS=DIR, repeated), or list `namespaces` in kfp-gitops.yaml",
        ));
    };
    let mut targets: Vec<Target> = project
        .file
        .namespaces
        .iter()
        .map(|target| Target {
            namespace: target.namespace.clone(),
            config: project.resolve(&target.config),
        })
        .collect();
    select_namespaces(&mut targets, &ctx.global.namespaces, &project)?;
    if targets.is_empty() {
        return Err(Failure::new(format!(
            "{} lists no namespaces to reconcile",
            project.path.display()
        ))
        .hint("add `namespaces: [{namespace: NS, config: DIR}]` to it, or pass --config"));
    }
    Ok((targets, ProjectDefaults::of(Some(&project))))
}

/// Pairs `--config` folders with their namespaces. `NS=DIR` names its own; every other folder takes the next
/// `--namespace` value, in order (`--config a --namespace team-a --config b --namespace team-b`); a folder
/// left without one gets `unnamed(folder)`, or is an error when that gives none.
pub fn pair_configs(
    configs: &[String],
    namespaces: &[String],
    unnamed: impl Fn(&Path) -> Option<String>,
) -> Result<Vec<Target>, Failure> {
    let entries: Vec<(Option<&str>, &str)> = configs
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((namespace, dir)) if !namespace.is_empty() && !namespace.contains('/') => {
                (Some(namespace), dir)
            }
            _ => (None, entry.as_str()),
        })
        .collect();
    let bare = entries.iter().filter(|(named, _)| named.is_none()).count();
    if bare > 0 && !namespaces.is_empty() && namespaces.len() != bare {
        return Err(Failure::new(format!(
            "{bare} --config folder{} without NS= but {} --namespace value{}",
            plural(bare),
            namespaces.len(),
            plural(namespaces.len())
        ))
        .hint("give one --namespace per --config DIR, in the same order, or write each as --config NS=DIR"));
    }
    let mut given = namespaces.iter();
    let mut targets: Vec<Target> = Vec::new();
    for (named, dir) in entries {
        let config = PathBuf::from(dir);
        let namespace = match named {
            Some(namespace) => namespace.to_owned(),
            None => match given.next().cloned().or_else(|| unnamed(&config)) {
                Some(namespace) => namespace,
                None => {
                    return Err(Failure::new(format!("no namespace for --config {dir}")).hint(
                        "pass --namespace NS (or set KFP_NAMESPACE), one per --config DIR in the same order, or write --config NS=DIR",
                    ));
                }
            },
        };
        if targets.iter().any(|target| target.namespace == namespace) {
            return Err(Failure::new(format!(
                "namespace {namespace:?} is given more than once"
            )));
        }
        targets.push(Target { namespace, config });
    }
    Ok(targets)
}

/// Keeps the project file's namespaces that `--namespace` names (all of them when it names none).
pub fn select_namespaces(
    targets: &mut Vec<Target>,
    namespaces: &[String],
    project: &Project,
) -> Result<(), Failure> {
    if namespaces.is_empty() {
        return Ok(());
    }
    if let Some(missing) = namespaces
        .iter()
        .find(|namespace| !targets.iter().any(|target| &target.namespace == *namespace))
    {
        return Err(Failure::new(format!(
            "namespace {missing:?} is not listed in the `namespaces` of {}",
            project.path.display()
        ))
        .hint("list it there, or pass --config DIR with it"));
    }
    targets.retain(|target| namespaces.contains(&target.namespace));
    Ok(())
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The project file (explicit, or discovered upward from the current folder).
fn find_project(args: &TargetArgs) -> Result<Option<Project>, Failure> {
    let project_error = |err: kfp_config::project::ProjectError| {
        Failure::from_error("cannot use the project file", &err)
    };
    match &args.project {
        Some(path) => Project::load(path).map(Some).map_err(project_error),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|err| Failure::io("reading the current folder", &err))?;
            kfp_config::project::ProjectFile::discover(&cwd).map_err(project_error)
        }
    }
}

/// Loads every target's desired state (all problems of all folders are reported together).
fn load_desired(
    targets: &[Target],
    sources: &SourceArgs,
) -> Result<Vec<DesiredNamespace>, Failure> {
    let github_token = std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|token| !token.is_empty())
        .map(kfp_config::sources::Secret::new);
    // One run: a branch or file that several namespaces use is resolved or fetched once.
    let fetchers = kfp_config::sources::SharedFetchers::default();
    let results: Vec<Result<Result<DesiredNamespace, ConfigErrors>, Failure>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = targets
                .iter()
                .map(|target| {
                    let github_token = github_token.clone();
                    let fetchers = fetchers.clone();
                    scope.spawn(move || {
                        let options = LoadOptions {
                            namespace: Some(target.namespace.clone()),
                            github_token,
                            github_api_url: sources.github_api_url.clone(),
                            cache_dir: sources.cache_dir.clone(),
                            fetchers: Some(fetchers),
                            ..LoadOptions::default()
                        };
                        kfp_config::load_namespace(&target.config, &options)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .map_err(|_| Failure::new("loading a config folder panicked"))
                })
                .collect()
        });
    let mut desired = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (result, target) in results.into_iter().zip(targets) {
        match result? {
            Ok(mut namespace) => {
                namespace.namespace.clone_from(&target.namespace);
                desired.push(namespace);
            }
            Err(errors) => {
                problems.extend(
                    errors
                        .problems
                        .iter()
                        .map(|problem| format!("[{}] {}", target.namespace, problem.render())),
                );
            }
        }
    }
    if problems.is_empty() {
        return Ok(desired);
    }
    let mut failure = Failure::new(format!(
        "{} configuration problem{}; nothing was planned",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ))
    .hint("`kfp-gitops validate` checks configs without KFP access");
    failure.details = problems;
    Err(failure)
}

/// The options of the planner from flags and project defaults.
fn plan_options(args: &ReconcileArgs, defaults: &ProjectDefaults) -> PlanOptions {
    PlanOptions {
        default_runner_sa: args
            .default_runner_sa
            .clone()
            .or_else(|| defaults.default_runner_sa.clone())
            .unwrap_or_else(|| kfp_reconcile::DEFAULT_RUNNER_SA.to_owned()),
        prune: args.prune.into(),
        allow_empty_prune: args.allow_empty_prune,
    }
}

/// Loads the configs, observes every namespace (in parallel) and plans each.
pub fn make_plans(
    targets: &[Target],
    defaults: &ProjectDefaults,
    reconcile: &ReconcileArgs,
    sources: &SourceArgs,
    api: &dyn KfpApi,
) -> Result<Vec<Plan>, Failure> {
    let desired = load_desired(targets, sources)?;
    let options = plan_options(reconcile, defaults);
    let namespaces: Vec<String> = targets
        .iter()
        .map(|target| target.namespace.clone())
        .collect();
    let observed = kfp_reconcile::observe_many(api, &namespaces);
    let now = jiff::Timestamp::now();
    let mut plans = Vec::new();
    for (desired, observed) in desired.iter().zip(observed) {
        let observed = observed.map_err(Failure::from)?;
        plans.push(kfp_reconcile::plan(desired, &observed, now, &options));
    }
    Ok(plans)
}

/// The JSON document of `plan --output json` (`plan --out FILE` writes a [`PlanFile`] instead).
#[derive(Debug, Serialize)]
struct PlanDocument<'a> {
    format_version: u32,
    changes: bool,
    plans: &'a [Plan],
}

pub fn run(args: &PlanArgs, ctx: &Context) -> Result<Status, Failure> {
    let (targets, defaults) = resolve_targets(&args.targets, ctx)?;
    let client = args.kfp.client(&defaults.global(&ctx.global))?;
    let mut plans = make_plans(&targets, &defaults, &args.reconcile, &args.sources, &client)?;
    for plan in &mut plans {
        kfp_reconcile::diff::attach_workflow_diffs(plan, &client);
    }
    let changes = plans.iter().any(|plan| !plan.is_empty());
    if let Some(out) = &args.out {
        save_plan(out, &plans)?;
    }
    match ctx.format {
        OutputFormat::Json => {
            let document = PlanDocument {
                format_version: kfp_reconcile::FORMAT_VERSION,
                changes,
                plans: &plans,
            };
            let json = serde_json::to_string_pretty(&document)
                .map_err(|err| Failure::from_error("cannot serialize the plan", &err))?;
            println!("{json}");
        }
        OutputFormat::Text => {
            print!("{}", render_plans(&plans, Palette::new(ctx.color)));
            if let Some(out) = &args.out {
                println!(
                    "Saved the plan to {}; apply it with `kfp-gitops apply {}`.",
                    out.display(),
                    out.display()
                );
            }
        }
    }
    Ok(if changes && args.detailed_exitcode {
        Status::ChangesPending
    } else {
        Status::Ok
    })
}

fn save_plan(path: &Path, plans: &[Plan]) -> Result<(), Failure> {
    let file = PlanFile::new(plans.to_vec());
    let json = serde_json::to_string_pretty(&file)
        .map_err(|err| Failure::from_error("cannot serialize the plan", &err))?;
    std::fs::write(path, json + "\n")
        .map_err(|err| Failure::io(&format!("writing the plan to {}", path.display()), &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets_of(argv: &[&str]) -> Result<Vec<Target>, Failure> {
        use clap::Parser as _;
        let cli = crate::args::Cli::try_parse_from(argv).unwrap();
        let ctx = Context::from_global(&cli.global);
        let crate::args::Command::Plan(args) = cli.command else {
            panic!("not a plan command");
        };
        resolve_targets(&args.targets, &ctx).map(|(targets, _)| targets)
    }

    #[test]
    fn one_config_folder_takes_the_namespace_flag() {
        let targets = targets_of(&[
            "kfp-gitops",
            "-n",
            "team-1",
            "plan",
            "--config",
            "schedules/team-1",
        ])
        .unwrap();
        assert_eq!(
            targets,
            vec![Target {
                namespace: "team-1".into(),
                config: PathBuf::from("schedules/team-1"),
            }]
        );
    }

    #[test]
    fn several_config_folders_name_their_namespaces() {
        let targets = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "a=cfg/a",
            "--config",
            "b=cfg/b",
        ])
        .unwrap();
        let namespaces: Vec<&str> = targets.iter().map(|t| t.namespace.as_str()).collect();
        assert_eq!(namespaces, ["a", "b"]);
        assert_eq!(targets[1].config, PathBuf::from("cfg/b"));
    }

    #[test]
    fn a_config_folder_without_a_namespace_is_an_error_with_a_hint() {
        let failure = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "a=cfg/a",
            "--config",
            "cfg/b",
        ])
        .unwrap_err();
        assert_eq!(failure.message, "no namespace for --config cfg/b");
        assert!(
            failure
                .hint
                .as_deref()
                .is_some_and(|hint| hint.contains("--config NS=DIR")),
            "{failure:?}"
        );
        let failure =
            targets_of(&["kfp-gitops", "plan", "--config", "a=x", "--config", "a=y"]).unwrap_err();
        assert_eq!(failure.message, "namespace \"a\" is given more than once");
    }

    #[test]
    fn repeated_config_and_namespace_flags_pair_up_in_order() {
        let targets = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "cfg/a",
            "--namespace",
            "team-a",
            "--config",
            "cfg/b",
            "--namespace",
            "team-b",
        ])
        .unwrap();
        assert_eq!(
            targets,
            vec![
                Target {
                    namespace: "team-a".into(),
                    config: PathBuf::from("cfg/a"),
                },
                Target {
                    namespace: "team-b".into(),
                    config: PathBuf::from("cfg/b"),
                },
            ]
        );
    }

    #[test]
    fn named_folders_do_not_take_a_namespace_flag() {
        let targets = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "team-x=cfg/x",
            "--config",
            "cfg/a",
            "--namespace",
            "team-a",
        ])
        .unwrap();
        let pairs: Vec<(&str, &Path)> = targets
            .iter()
            .map(|t| (t.namespace.as_str(), t.config.as_path()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("team-x", Path::new("cfg/x")),
                ("team-a", Path::new("cfg/a"))
            ]
        );
    }

    #[test]
    fn more_folders_than_namespaces_is_an_error() {
        let failure = targets_of(&[
            "kfp-gitops",
            "plan",
            "--config",
            "cfg/a",
            "--config",
            "cfg/b",
            "--config",
            "cfg/c",
            "--namespace",
            "team-a",
            "--namespace",
            "team-b",
        ])
        .unwrap_err();
        assert_eq!(
            failure.message,
            "3 --config folders without NS= but 2 --namespace values"
        );
    }

    #[test]
    fn prune_flag_values_map_to_prune_modes() {
        assert_eq!(PruneMode::from(PruneArg::None), PruneMode::None);
        assert_eq!(PruneMode::from(PruneArg::Disable), PruneMode::Disable);
        assert_eq!(PruneMode::from(PruneArg::Delete), PruneMode::Delete);
    }

    #[test]
    fn the_runner_service_account_comes_from_the_flag_then_the_project_then_the_default() {
        let args = ReconcileArgs {
            default_runner_sa: None,
            prune: PruneArg::None,
            allow_empty_prune: false,
        };
        assert_eq!(
            plan_options(&args, &ProjectDefaults::default()).default_runner_sa,
            "default-editor"
        );
        let project = ProjectDefaults {
            default_runner_sa: Some("from-project".into()),
            api_url: None,
        };
        assert_eq!(
            plan_options(&args, &project).default_runner_sa,
            "from-project"
        );
        let flag = ReconcileArgs {
            default_runner_sa: Some("from-flag".into()),
            ..args
        };
        assert_eq!(plan_options(&flag, &project).default_runner_sa, "from-flag");
    }
}
