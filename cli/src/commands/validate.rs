//! `kfp-gitops validate`: every check of the configs that needs no KFP access (the reference design's
//! `--dry-run` CI step): both files of each namespace, the pipelines and parameter files they point to,
//! and the parameters against each pipeline's inputs. Exit 0 when valid, 1 with every problem listed.

use std::path::{Path, PathBuf};

use clap::Args;
use kfp_config::Validation;
use kfp_config::plural;
use kfp_config::{ProjectLookup, TargetQuery, Unnamed};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::output::Context;
use crate::settings::github_token;

/// `kfp-gitops validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Config folder of one namespace (experiments.yaml and recurring_runs.yaml), as DIR or NS=DIR; repeat
    /// for several. The namespace defaults to --namespace (with one folder) or the folder's name. Without
    /// it: the namespaces of kfp-gitops.yaml, else the current folder.
    #[arg(long = "config", value_name = "[NS=]DIR")]
    pub configs: Vec<String>,

    /// Fetch nothing remote: GitHub and git sources are checked only from the cache (commit SHAs), and the
    /// checks that need them are listed as skipped
    #[arg(long)]
    pub offline: bool,

    /// The GitHub API (GitHub Enterprise: https://HOST/api/v3); the token comes from GITHUB_TOKEN
    #[arg(long, env = "GITHUB_API_URL", hide_env_values = true, value_name = "URL", default_value = kfp_config::DEFAULT_GITHUB_API_URL)]
    pub github_api_url: String,

    /// The cache of fetched pipelines [default: .cache/kfp-gitops in the repository root]
    #[arg(long, env = "KFP_GITOPS_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The project file [default: kfp-gitops.yaml in the current folder or a parent]
    #[arg(long, value_name = "FILE")]
    pub project: Option<PathBuf>,
}

fn targets(args: &ValidateArgs, ctx: &Context) -> Result<kfp_config::Targets, Failure> {
    if args.configs.is_empty() {
        // Validating the current folder works in one namespace.
        ctx.global.single_namespace()?;
    }
    let query = TargetQuery {
        project: match &args.project {
            Some(path) => ProjectLookup::File(path.clone()),
            None => ProjectLookup::Discover(PathBuf::from(".")),
        },
        unnamed: Unnamed::FolderName,
        current_folder: Some(
            std::env::current_dir()
                .map_err(|err| Failure::io("reading the current folder", &err))?,
        ),
        ..TargetQuery::new(args.configs.clone(), ctx.global.namespaces.clone())
    };
    Ok(kfp_config::resolve_targets(&query)?)
}

#[derive(Debug, Serialize)]
struct NamespaceReport<'a> {
    namespace: &'a str,
    config: &'a Path,
    valid: bool,
    experiments: Option<usize>,
    recurring_runs: Option<usize>,
    problems: &'a [kfp_config::Problem],
    skipped: &'a [String],
}

pub fn run(args: &ValidateArgs, ctx: &Context) -> Result<Status, Failure> {
    let kfp_config::Targets { targets, project } = targets(args, ctx)?;
    let load = kfp_config::LoadOptions {
        zones: crate::settings::schedule_zones(project.as_ref(), crate::settings::clock()?),
        offline: args.offline,
        cache_dir: args.cache_dir.clone(),
        github_api_url: args.github_api_url.clone(),
        github_token: github_token(),
        ..kfp_config::LoadOptions::default()
    };
    let validations: Vec<Validation> = kfp_reconcile::validate(&targets, &load)?;
    let problem_count: usize = validations.iter().map(|v| v.problems.len()).sum();
    let invalid = validations
        .iter()
        .filter(|v| !v.problems.is_empty())
        .count();
    if ctx.format == OutputFormat::Json {
        let reports: Vec<NamespaceReport<'_>> = validations
            .iter()
            .zip(&targets)
            .map(|(validation, target)| NamespaceReport {
                namespace: &validation.namespace,
                config: &target.config,
                valid: validation.problems.is_empty(),
                experiments: validation.desired.as_ref().map(|d| d.experiments.len()),
                recurring_runs: validation.desired.as_ref().map(|d| d.recurring_runs.len()),
                problems: &validation.problems,
                skipped: &validation.skipped,
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "valid": problem_count == 0, "namespaces": reports })
        );
    } else {
        let (red, yellow, bold, reset) = if ctx.color {
            ("\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        for validation in &validations {
            for problem in &validation.problems {
                let rendered = problem.render();
                let rendered = rendered.strip_prefix("error: ").unwrap_or(&rendered);
                eprintln!("{red}error{reset}{bold}: {rendered}{reset}\n");
            }
        }
        for (validation, target) in validations.iter().zip(&targets) {
            for skipped in &validation.skipped {
                eprintln!("{yellow}skipped{reset} (--offline): {skipped}");
            }
            if validation.problems.is_empty() {
                let summary = match &validation.desired {
                    Some(desired) => format!(
                        "{} experiment{}, {} recurring run{}",
                        desired.experiments.len(),
                        plural(desired.experiments.len()),
                        desired.recurring_runs.len(),
                        plural(desired.recurring_runs.len())
                    ),
                    None => format!(
                        "{} check{} skipped",
                        validation.skipped.len(),
                        plural(validation.skipped.len())
                    ),
                };
                println!(
                    "ok: namespace {} ({}): {summary}",
                    validation.namespace,
                    target.config.display()
                );
            }
        }
    }
    if problem_count > 0 {
        return Err(Failure::new(format!(
            "{problem_count} problem{} in {invalid} namespace{}",
            plural(problem_count),
            plural(invalid)
        ))
        .json_reported_if(ctx.format));
    }
    Ok(Status::Ok)
}
