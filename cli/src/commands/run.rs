//! `kfp-gitops run`: run a rendered pipeline once, in an experiment, and optionally watch it finish.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use kfp_client::models::{
    Experiment, Parameter, PipelineSpec, ResourceReference, Run, is_terminal_status,
};
use kfp_client::{HttpKfpClient, KfpApi, find_experiment_by_name};
use kfp_config::ParamsError;
use kfp_config::{PipelineInput, Workflow};
use serde_json::json;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::kfp_args::{KfpArgs, parse_duration};
use crate::output::Context;

/// Run a rendered pipeline (workflow.yaml + params/) once in an experiment.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The folder holds workflow.yaml (an Argo Workflow compiled by the KFP v1 SDK) and optionally params/, one
file per pipeline parameter (file name = parameter name, content = value, byte for byte). --param k=v
overrides a value. Parameters are checked against the pipeline's declared inputs before anything is sent.
The run is named MANUAL::{name}__{YYYY-MM-DDTHH-MM-SSZ} (UTC).

Examples:
  kfp-gitops run --pipeline-folder RENDERED_PIPELINE --experiment tests -n team-1 --name my-pipeline
  kfp-gitops run --pipeline-folder RENDERED_PIPELINE --experiment tests -n team-1 --param lr=0.1 --watch")]
pub struct RunArgs {
    /// Folder with workflow.yaml and optionally params/
    #[arg(long, value_name = "DIR", default_value = "RENDERED_PIPELINE")]
    pub pipeline_folder: PathBuf,

    /// Experiment (by name) to run in
    #[arg(long, short = 'e', value_name = "NAME", alias = "experiment-name")]
    pub experiment: String,

    /// Create the experiment when it does not exist
    #[arg(long)]
    pub create_experiment: bool,

    /// Name of the run, before the `MANUAL::` prefix and timestamp [default: the pipeline's name]
    #[arg(long, value_name = "NAME", alias = "run-name")]
    pub name: Option<String>,

    /// Description of the run
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// A parameter value, overriding params/ (repeatable)
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,

    /// Kubernetes service account of the run [default: the server's default runner]
    #[arg(long, value_name = "SA")]
    pub service_account: Option<String>,

    /// Wait until the run finishes, showing its status changes; exit 0 only if it succeeded
    #[arg(long)]
    pub watch: bool,

    /// With --watch: give up waiting after this long, e.g. `30m` (the run keeps going)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    pub timeout: Option<Duration>,

    /// With --watch: time between status checks
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_interval: Duration,

    #[command(flatten)]
    pub kfp: KfpArgs,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// The pipeline to run: its workflow and the parameter values to send, in declaration order.
#[derive(Debug)]
pub struct Prepared {
    pub workflow: Workflow,
    pub parameters: Vec<(String, String)>,
}

/// Reads `params/`: one file per parameter, the content byte for byte (hidden files are ignored).
pub fn read_params_dir(dir: &Path) -> Result<BTreeMap<String, String>, Failure> {
    let files = kfp_config::param_files(dir).map_err(|err| match err {
        ParamsError::List { source, .. } => {
            Failure::io(&format!("reading {}", dir.display()), &source)
        }
        other => Failure::new(other.to_string()),
    })?;
    let mut params = BTreeMap::new();
    for file in files {
        let path = file.path;
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path)
            .map_err(|err| Failure::io(&format!("reading {}", path.display()), &err))?;
        let value = String::from_utf8(bytes).map_err(|_| {
            Failure::new(format!("{} is not UTF-8 text", path.display()))
                .hint("KFP parameter values are strings: store text in params/ files")
        })?;
        params.insert(file.name, value);
    }
    Ok(params)
}

/// Checks `values` against the pipeline's inputs: every value must belong to an input, every required input
/// needs a value. Returns the values in input order.
pub fn check_parameters(
    inputs: &[PipelineInput],
    values: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, Failure> {
    let names: Vec<&str> = values.keys().map(String::as_str).collect();
    let matched = kfp_config::match_inputs(inputs, &names);
    let unknown = matched.unknown;
    let missing: Vec<&str> = matched
        .missing
        .iter()
        .map(|input| input.name.as_str())
        .collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(inputs
            .iter()
            .filter_map(|input| {
                values
                    .get(&input.name)
                    .map(|v| (input.name.clone(), v.clone()))
            })
            .collect());
    }
    let mut failure = Failure::new("the parameters do not match the pipeline's inputs");
    if !missing.is_empty() {
        failure = failure.detail(format!(
            "missing required parameter(s): {}",
            missing.join(", ")
        ));
    }
    if !unknown.is_empty() {
        failure = failure.detail(format!("unknown parameter(s): {}", unknown.join(", ")));
    }
    let declared: Vec<String> = inputs
        .iter()
        .map(|input| {
            if input.is_required() {
                format!("{} (required)", input.name)
            } else {
                input.name.clone()
            }
        })
        .collect();
    let declared = if declared.is_empty() {
        "the pipeline declares no inputs".to_owned()
    } else {
        format!("the pipeline's inputs: {}", declared.join(", "))
    };
    Err(failure.hint(format!(
        "{declared}; give values with params/NAME files or --param NAME=VALUE"
    )))
}

/// Reads and checks everything local, before any API call.
pub fn prepare(folder: &Path, overrides: &[(String, String)]) -> Result<Prepared, Failure> {
    let workflow_path = folder.join(kfp_config::WORKFLOW_FILE);
    let text = std::fs::read_to_string(&workflow_path).map_err(|err| {
        let failure = Failure::io(&format!("reading {}", workflow_path.display()), &err);
        if err.kind() == std::io::ErrorKind::NotFound {
            failure.hint(
                "--pipeline-folder must be a rendered pipeline folder (see `kfp-gitops render`)",
            )
        } else {
            failure
        }
    })?;
    let invalid = |err: &kfp_config::WorkflowError| {
        Failure::from_error(
            format!(
                "{} is not a pipeline KFP v1 can run",
                workflow_path.display()
            ),
            err,
        )
    };
    let workflow = Workflow::parse_yaml(&text).map_err(|err| invalid(&err))?;
    workflow.validate().map_err(|err| invalid(&err))?;
    let inputs = workflow.inputs().map_err(|err| invalid(&err))?;
    let mut values = read_params_dir(&folder.join(kfp_config::PARAMS_DIR))?;
    for (name, value) in overrides {
        values.insert(name.clone(), value.clone());
    }
    let parameters = check_parameters(&inputs, &values)?;
    Ok(Prepared {
        workflow,
        parameters,
    })
}

/// The KFP UI page of a run.
pub fn run_url(api_url: &str, run_id: &str) -> String {
    format!("{api_url}/#/runs/details/{run_id}")
}

fn find_or_create_experiment(
    client: &HttpKfpClient,
    namespace: Option<&str>,
    name: &str,
    create: bool,
) -> Result<Experiment, Failure> {
    if let Some(experiment) = find_experiment_by_name(client, namespace, name)? {
        return Ok(experiment);
    }
    let place = namespace.map_or_else(String::new, |ns| format!(" in namespace {ns}"));
    if !create {
        return Err(
            Failure::new(format!("experiment {name:?} does not exist{place}")).hint(
                "create it with --create-experiment, or declare it in experiments.yaml and apply",
            ),
        );
    }
    let experiment = Experiment {
        name: name.to_owned(),
        resource_references: namespace
            .map(|ns| vec![ResourceReference::namespace_owner(ns)])
            .unwrap_or_default(),
        ..Experiment::default()
    };
    // Refused locally what KFP 2.x would answer with a 500 (KFP2-V1BETA1.md §5 P0-6).
    kfp_client::precheck::check_experiment(&experiment)?;
    let created = client.create_experiment(&experiment)?;
    tracing::info!(experiment = %name, id = %created.id, "created the experiment");
    Ok(created)
}

pub fn run(args: &RunArgs, ctx: &Context) -> Result<Status, Failure> {
    let prepared = prepare(&args.pipeline_folder, &args.params)?;
    let name = args
        .name
        .clone()
        .or_else(|| prepared.workflow.pipeline_name())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Failure::new("the pipeline has no name").hint("give the run a name with --name")
        })?;
    let namespace = ctx.global.single_namespace()?;
    let client = args.kfp.client(&ctx.global)?;
    let experiment =
        find_or_create_experiment(&client, namespace, &args.experiment, args.create_experiment)?;

    let run = Run {
        name: kfp_config::manual_run_name(&name, jiff::Timestamp::now()),
        description: args.description.clone().unwrap_or_default(),
        pipeline_spec: PipelineSpec {
            workflow_manifest: prepared.workflow.to_manifest_json(),
            parameters: prepared
                .parameters
                .iter()
                .map(|(name, value)| Parameter::new(name, value))
                .collect(),
            ..PipelineSpec::default()
        },
        resource_references: vec![ResourceReference::experiment_owner(&experiment.id)],
        service_account: args.service_account.clone().unwrap_or_default(),
        ..Run::default()
    };
    let created = create_run_once(&client, &run, &experiment)?;
    let url = run_url(client.api_url(), &created.id);
    if ctx.format == OutputFormat::Text {
        println!("created run {} ({})", created.name, created.id);
        println!("  experiment: {} ({})", experiment.name, experiment.id);
        println!("  {url}");
    }
    if !args.watch {
        if ctx.format == OutputFormat::Json {
            println!("{}", run_json(&created, &experiment, &url));
        }
        return Ok(Status::Ok);
    }
    let finished = watch_run(&client, &created, args.timeout, args.poll_interval, ctx)?;
    if ctx.format == OutputFormat::Json {
        println!("{}", run_json(&finished, &experiment, &url));
    }
    finished_status(&finished, &url)
}

/// Exit 0 when the watched run succeeded, else a failure naming its status and error.
pub fn finished_status(finished: &Run, url: &str) -> Result<Status, Failure> {
    if finished.status == "Succeeded" {
        Ok(Status::Ok)
    } else {
        let mut failure = Failure::new(format!(
            "run {} ended with status {}",
            finished.name, finished.status
        ));
        if !finished.error.is_empty() {
            failure = failure.detail(finished.error.clone());
        }
        Err(failure.hint(format!("see the run's logs at {url}")))
    }
}

/// Creates the run once (a lost answer is looked up by name, never created twice).
fn create_run_once(
    client: &HttpKfpClient,
    run: &Run,
    experiment: &Experiment,
) -> Result<Run, Failure> {
    Ok(kfp_reconcile::create_run_once(client, run, &experiment.id)?)
}

fn run_json(run: &Run, experiment: &Experiment, url: &str) -> serde_json::Value {
    json!({
        "run_id": run.id,
        "run_name": run.name,
        "experiment_id": experiment.id,
        "experiment": experiment.name,
        "status": run.status,
        "url": url,
    })
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C while watching stops the watch (the run keeps going); a second Ctrl-C exits at once.
fn handle_interrupts() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
        if let Err(err) = installed {
            tracing::debug!("cannot handle Ctrl-C: {err}");
        }
    });
}

/// Sleeps for `duration`; false when interrupted meanwhile.
fn sleep_unless_interrupted(duration: Duration) -> bool {
    let until = Instant::now() + duration;
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Polls the run every `poll_interval` until it finishes, printing its status changes; gives up after
/// `timeout` or at Ctrl-C (the run keeps going).
pub fn watch_run(
    client: &HttpKfpClient,
    created: &Run,
    timeout: Option<Duration>,
    poll_interval: Duration,
    ctx: &Context,
) -> Result<Run, Failure> {
    handle_interrupts();
    let url = run_url(client.api_url(), &created.id);
    let started = Instant::now();
    let mut last_status: Option<String> = None;
    loop {
        let run = client.get_run(&created.id)?.run;
        let status = if run.status.is_empty() {
            "Pending"
        } else {
            run.status.as_str()
        };
        if last_status.as_deref() != Some(status) {
            if ctx.format == OutputFormat::Text {
                println!("status: {status}");
            } else {
                tracing::info!(run = %created.id, status, "run status changed");
            }
            last_status = Some(status.to_owned());
        }
        if is_terminal_status(&run.status) {
            return Ok(run);
        }
        let pause = match timeout {
            Some(timeout) => {
                let elapsed = started.elapsed();
                if elapsed >= timeout {
                    return Err(Failure::new(format!(
                        "run {} did not finish within {} (last status: {status})",
                        created.name,
                        humanize(timeout)
                    ))
                    .hint(format!("the run keeps going; follow it at {url}")));
                }
                poll_interval.min(timeout - elapsed)
            }
            None => poll_interval,
        };
        if !sleep_unless_interrupted(pause) {
            return Err(
                Failure::new(format!("stopped watching run {}", created.name))
                    .hint(format!("the run keeps going; follow it at {url}"))
                    .interrupted(),
            );
        }
    }
}

fn humanize(duration: Duration) -> String {
    match jiff::SignedDuration::try_from(duration) {
        Ok(signed) => format!("{signed:#}"),
        Err(_) => format!("{duration:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, default: Option<&str>) -> PipelineInput {
        PipelineInput {
            name: name.into(),
            optional: false,
            default: default.map(str::to_owned),
            r#type: Some("String".into()),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_returned_in_input_order_and_defaults_are_left_to_the_server() {
        let inputs = [
            input("b", None),
            input("a", Some("1")),
            input("c", Some("x")),
        ];
        let checked = check_parameters(&inputs, &values(&[("a", "2"), ("b", "q")])).unwrap();
        assert_eq!(
            checked,
            [
                ("b".to_owned(), "q".to_owned()),
                ("a".to_owned(), "2".to_owned())
            ]
        );
    }

    #[test]
    fn missing_required_and_unknown_parameters_are_named() {
        let inputs = [input("needed", None), input("opt", Some("1"))];
        let failure = check_parameters(&inputs, &values(&[("typo", "1")])).unwrap_err();
        assert_eq!(
            failure.message,
            "the parameters do not match the pipeline's inputs"
        );
        assert_eq!(
            failure.details,
            [
                "missing required parameter(s): needed",
                "unknown parameter(s): typo"
            ]
        );
        assert!(failure.hint.unwrap().contains("needed (required), opt"));
    }

    #[test]
    fn params_files_are_read_byte_for_byte_and_hidden_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("msg"), "line 1\nline 2\n").unwrap();
        std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
        let params = read_params_dir(dir.path()).unwrap();
        assert_eq!(params, values(&[("msg", "line 1\nline 2\n")]));
        assert!(
            read_params_dir(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn param_flags_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_param("a=b=c").unwrap(),
            ("a".to_owned(), "b=c".to_owned())
        );
        assert_eq!(parse_param("a=").unwrap(), ("a".to_owned(), String::new()));
        assert!(parse_param("novalue").is_err());
        assert!(parse_param("=x").is_err());
    }

    #[test]
    fn the_ui_link_points_at_the_run_details() {
        assert_eq!(
            run_url("https://kf.example.com/pipeline", "r-1"),
            "https://kf.example.com/pipeline/#/runs/details/r-1"
        );
    }
}
