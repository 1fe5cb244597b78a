//! Checks a create request before it is sent, so that what KFP 2.x would answer with an HTTP 500 (which
//! looks transient and which a retry loop would hammer) fails here with a clear [`Error::Refused`]
//! (KFP2-V1BETA1.md §5 P0-6; §2.3 "Empty `name`", "Name length"; §2.6 "Empty `name`", "Bad apiVersion/kind",
//! "Neither source", "`max_concurrency`", cron, interval, "Params not in manifest"; §2.8 "Empty name").
//!
//! Pure, and the same on every server version: everything it refuses, KFP 1.8.5 refuses too (with a 400).

use serde_json::Value;

use crate::error::Error;
use crate::models::{Experiment, Job, PipelineSpec, Run};

/// KFP 2.15+'s limit on experiment names, in bytes.
pub const MAX_EXPERIMENT_NAME_BYTES: usize = 128;

const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";

fn refused(what: String, reason: impl Into<String>) -> Error {
    Error::Refused {
        what,
        reason: reason.into(),
    }
}

/// A `CreateExperiment` body: a non-empty name of at most 128 bytes.
pub fn check_experiment(experiment: &Experiment) -> Result<(), Error> {
    let what = format!("experiment {:?}", experiment.name);
    if experiment.name.is_empty() {
        return Err(refused(what, "the name is empty"));
    }
    if experiment.name.len() > MAX_EXPERIMENT_NAME_BYTES {
        return Err(refused(
            what,
            format!(
                "the name is {} bytes long; KFP 2.15 and later accept at most {MAX_EXPERIMENT_NAME_BYTES}",
                experiment.name.len()
            ),
        ));
    }
    Ok(())
}

/// A `CreateJob` body: a name, one pipeline source (a JSON Argo Workflow, or a pipeline id — never both),
/// `max_concurrency` in 1..=10, a cron of 5 or 6 fields or an interval of at least a second, and only
/// parameters the manifest declares.
pub fn check_job(job: &Job) -> Result<(), Error> {
    let what = format!("recurring run {:?}", job.name);
    if job.name.is_empty() {
        return Err(refused(what, "the name is empty"));
    }
    check_spec(&job.pipeline_spec).map_err(|reason| refused(what.clone(), reason))?;
    if !(1..=10).contains(&job.max_concurrency) {
        return Err(refused(
            what,
            format!(
                "max_concurrency must be between 1 and 10, found {}",
                job.max_concurrency
            ),
        ));
    }
    if let Some(cron) = &job.trigger.cron_schedule {
        let fields = cron.cron.split_whitespace().count();
        if !cron.cron.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(refused(
                what,
                format!(
                    "the cron expression {:?} has {fields} fields; KFP accepts 5 or 6",
                    cron.cron
                ),
            ));
        }
    }
    if let Some(periodic) = &job.trigger.periodic_schedule
        && periodic.interval_second < 1
    {
        return Err(refused(
            what,
            format!(
                "the interval must be at least 1 second, found {}",
                periodic.interval_second
            ),
        ));
    }
    Ok(())
}

/// A `CreateRun` body: a name and a valid pipeline source.
pub fn check_run(run: &Run) -> Result<(), Error> {
    let what = format!("run {:?}", run.name);
    if run.name.is_empty() {
        return Err(refused(what, "the name is empty"));
    }
    check_spec(&run.pipeline_spec).map_err(|reason| refused(what, reason))
}

fn check_spec(spec: &PipelineSpec) -> Result<(), String> {
    let manifest = &spec.workflow_manifest;
    match (manifest.is_empty(), spec.pipeline_id.is_empty()) {
        (true, true) => return Err("there is no workflow manifest and no pipeline id".to_owned()),
        (false, false) => {
            return Err(
                "both a workflow manifest and a pipeline id are set (KFP 2.x would silently run the \
                 pipeline)"
                    .to_owned(),
            );
        }
        (true, false) => return Ok(()),
        (false, true) => {}
    }
    let workflow: Value = serde_json::from_str(manifest)
        .map_err(|err| format!("the workflow manifest is not JSON: {err}"))?;
    let field = |name: &str| workflow.get(name).and_then(Value::as_str).unwrap_or("");
    if field("apiVersion") != ARGO_API_VERSION {
        return Err(format!(
            "the workflow's apiVersion must be {ARGO_API_VERSION}, found {:?}",
            field("apiVersion")
        ));
    }
    if field("kind") != "Workflow" {
        return Err(format!(
            "the manifest's kind must be Workflow, found {:?}",
            field("kind")
        ));
    }
    let declared: Vec<&str> = workflow
        .pointer("/spec/arguments/parameters")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = spec
        .parameters
        .iter()
        .find(|p| !declared.contains(&p.name.as_str()))
    {
        return Err(format!(
            "parameter {:?} is not declared by the workflow (spec.arguments.parameters)",
            unknown.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{CronSchedule, Parameter, PeriodicSchedule, Trigger};

    const MANIFEST: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {"arguments": {"parameters": [{"name": "a"}]}}}"#;

    fn job() -> Job {
        Job {
            name: "GIT::j__2024-01-02T03-04-05Z".to_owned(),
            pipeline_spec: PipelineSpec {
                workflow_manifest: MANIFEST.to_owned(),
                parameters: vec![Parameter::new("a", "1")],
                ..PipelineSpec::default()
            },
            max_concurrency: 1,
            trigger: Trigger {
                cron_schedule: Some(CronSchedule {
                    cron: "0 0 * * * *".to_owned(),
                    ..CronSchedule::default()
                }),
                periodic_schedule: None,
            },
            ..Job::default()
        }
    }

    fn reason(result: Result<(), Error>) -> String {
        match result {
            Err(Error::Refused { reason, .. }) => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_valid_job_passes_and_each_broken_field_is_named() {
        check_job(&job()).unwrap();
        type Breaks = fn(&mut Job);
        let cases: Vec<(Breaks, &str)> = vec![
            (|j| j.name.clear(), "name is empty"),
            (
                |j| j.pipeline_spec.workflow_manifest.clear(),
                "no workflow manifest",
            ),
            (|j| j.pipeline_spec.pipeline_id = "p".to_owned(), "both"),
            (
                |j| j.pipeline_spec.workflow_manifest = "kind: Workflow".to_owned(),
                "not JSON",
            ),
            (
                |j| {
                    j.pipeline_spec.workflow_manifest =
                        r#"{"apiVersion": "v1", "kind": "Workflow"}"#.to_owned();
                },
                "apiVersion",
            ),
            (
                |j| {
                    j.pipeline_spec.workflow_manifest =
                        r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Pod"}"#.to_owned();
                },
                "kind must be Workflow",
            ),
            (|j| j.max_concurrency = 11, "max_concurrency"),
            (
                |j| j.pipeline_spec.parameters.push(Parameter::new("b", "")),
                "\"b\" is not declared",
            ),
            (
                |j| j.trigger.cron_schedule.as_mut().unwrap().cron = "* * *".to_owned(),
                "3 fields",
            ),
            (
                |j| {
                    j.trigger = Trigger {
                        cron_schedule: None,
                        periodic_schedule: Some(PeriodicSchedule::default()),
                    };
                },
                "at least 1 second",
            ),
        ];
        for (breaks, expected) in cases {
            let mut broken = job();
            breaks(&mut broken);
            let reason = reason(check_job(&broken));
            assert!(
                reason.contains(expected),
                "{reason} should mention {expected}"
            );
        }
        let mut descriptor = job();
        descriptor.trigger.cron_schedule.as_mut().unwrap().cron = "@every 1h".to_owned();
        check_job(&descriptor).unwrap();
    }

    #[test]
    fn experiment_names_are_non_empty_and_at_most_128_bytes() {
        let named = |name: String| Experiment {
            name,
            ..Experiment::default()
        };
        check_experiment(&named("x".repeat(128))).unwrap();
        assert!(reason(check_experiment(&named("é".repeat(65)))).contains("130 bytes"));
        assert!(reason(check_experiment(&named(String::new()))).contains("empty"));
    }

    #[test]
    fn runs_need_a_name_and_a_source() {
        let run = Run {
            name: "r".to_owned(),
            pipeline_spec: PipelineSpec {
                workflow_manifest: MANIFEST.to_owned(),
                ..PipelineSpec::default()
            },
            ..Run::default()
        };
        check_run(&run).unwrap();
        let nameless = Run {
            name: String::new(),
            ..run
        };
        assert!(reason(check_run(&nameless)).contains("empty"));
    }
}
