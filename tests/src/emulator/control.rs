//! The control API under `/_emulator/` (not counted): request counts, reset, latency, faults, run outcomes,
//! the emulated clock, Dex sessions and the state dump.

use std::time::Duration;

use serde_json::{Value, json};

use super::config::{Fault, ForeignJob, RunOutcome};
use super::core::{Core, FaultSlot, lock};
use super::http::{Request, Response};
use super::profile::Profile;
use super::state::{AVAILABLE, Job, Reference, Run, Spec, new_uuid};

fn ok() -> Response {
    Response::json(200, &json!({}))
}

fn bad(message: &str) -> Response {
    Response::json(400, &json!({"error": message}))
}

fn body(request: &Request) -> Result<Value, Response> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&request.body).map_err(|err| bad(&format!("invalid JSON body: {err}")))
}

/// Serves `/_emulator/<rest>`.
pub(crate) fn handle(core: &Core, request: &Request, rest: &str) -> Response {
    let result = match (request.method.as_str(), rest) {
        ("GET", "requests") => Ok(Response::json(200, &requests(core))),
        ("POST", "reset-counts") => {
            reset_counts(core);
            Ok(ok())
        }
        ("POST", "reset") => {
            reset(core);
            Ok(ok())
        }
        ("POST", "latency") => {
            body(request).and_then(|b| match b.get("ms").and_then(Value::as_u64) {
                Some(ms) => {
                    lock(&core.control).latency = Duration::from_millis(ms);
                    Ok(ok())
                }
                None => Err(bad("expected {\"ms\": <non-negative integer>}")),
            })
        }
        ("POST", "run-duration") => {
            body(request).and_then(|b| match b.get("ms").and_then(Value::as_u64) {
                Some(ms) => {
                    lock(&core.control).run_duration = Duration::from_millis(ms);
                    Ok(ok())
                }
                None => Err(bad("expected {\"ms\": <non-negative integer>}")),
            })
        }
        ("POST", "faults") => {
            body(request).and_then(|b| match serde_json::from_value::<Fault>(b) {
                Ok(fault) if !fault.path.is_empty() => {
                    inject_fault(core, fault);
                    Ok(ok())
                }
                Ok(_) => Err(bad("a fault needs a path")),
                Err(err) => Err(bad(&format!("invalid fault: {err}"))),
            })
        }
        ("GET", "faults") => {
            let faults: Vec<Value> = lock(&core.control)
                .faults
                .iter()
                .map(|slot| json!({"fault": slot.fault, "seen": slot.seen}))
                .collect();
            Ok(Response::json(200, &json!({ "faults": faults })))
        }
        ("DELETE", "faults") => {
            lock(&core.control).faults.clear();
            Ok(ok())
        }
        ("POST", "clock") => {
            body(request).and_then(|b| match b.get("advance_seconds").and_then(Value::as_i64) {
                Some(seconds) if b.get("fire").and_then(Value::as_bool) == Some(true) => {
                    let runs = super::fire::advance_firing(core, seconds);
                    Ok(Response::json(200, &json!({ "runs": runs })))
                }
                Some(seconds) => {
                    advance_clock(core, seconds);
                    Ok(ok())
                }
                None => Err(bad("expected {\"advance_seconds\": <integer>}")),
            })
        }
        ("POST", "sessions/expire") => {
            lock(&core.sessions).expire_all();
            Ok(ok())
        }
        ("GET", "state") => Ok(Response::json(200, &state(core))),
        ("POST", "profile") => body(request).and_then(|b| {
            match b
                .get("profile")
                .and_then(Value::as_str)
                .map(str::parse::<Profile>)
            {
                Some(Ok(profile)) => {
                    lock(&core.control).profile = profile;
                    Ok(ok())
                }
                Some(Err(err)) => Err(bad(&err)),
                None => Err(bad("expected {\"profile\": \"1.8.5\"|\"2.0\"|...}")),
            }
        }),
        ("POST", "jobs") => body(request).and_then(|b| {
            serde_json::from_value::<ForeignJob>(b)
                .map_err(|err| bad(&format!("invalid job: {err}")))
                .map(|job| Response::json(200, &json!({"id": insert_job(core, job)})))
        }),
        ("POST", path) if path.starts_with("jobs/") && path.ends_with("/error") => {
            let id = &path["jobs/".len()..path.len() - "/error".len()];
            body(request).and_then(|b| {
                let text = b.get("error").and_then(Value::as_str).unwrap_or_default();
                if set_job_error(core, id, text) {
                    Ok(ok())
                } else {
                    Err(Response::json(404, &json!({"error": "no such job"})))
                }
            })
        }
        ("POST", path) if path.starts_with("jobs/") && path.ends_with("/trigger") => {
            let id = &path["jobs/".len()..path.len() - "/trigger".len()];
            match trigger_job(core, id) {
                Some(run_id) => Ok(Response::json(200, &json!({ "run_id": run_id }))),
                None => Err(Response::json(
                    404,
                    &json!({"error": format!("no job {id}")}),
                )),
            }
        }
        ("POST" | "DELETE", path) if path.starts_with("jobs/") && path.ends_with("/skip-fires") => {
            let id = &path["jobs/".len()..path.len() - "/skip-fires".len()];
            super::fire::skip_fires(core, id, request.method == "POST");
            Ok(ok())
        }
        ("POST", path) if path.starts_with("runs/") && path.ends_with("/finish") => {
            let id = &path["runs/".len()..path.len() - "/finish".len()];
            body(request).and_then(|b| {
                let status = b
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("Succeeded");
                let Some(outcome) = RunOutcome::from_phase(status) else {
                    return Err(bad("status must be Succeeded, Failed, Error or Skipped"));
                };
                if finish_run(core, id, outcome) {
                    Ok(ok())
                } else {
                    Err(Response::json(
                        404,
                        &json!({"error": format!("no run {id}")}),
                    ))
                }
            })
        }
        _ => Err(Response::json(
            404,
            &json!({"error": format!("no control route {} /_emulator/{rest}", request.method)}),
        )),
    };
    result.unwrap_or_else(|response| response)
}

pub(crate) fn requests(core: &Core) -> Value {
    let control = lock(&core.control);
    json!({"total": control.total, "counts": control.counts})
}

pub(crate) fn reset_counts(core: &Core) {
    let mut control = lock(&core.control);
    control.total = 0;
    control.counts.clear();
}

pub(crate) fn reset(core: &Core) {
    {
        let mut control = lock(&core.control);
        control.total = 0;
        control.counts.clear();
        control.faults.clear();
        control.latency = core.config.latency;
        control.run_duration = core.config.run_duration;
        control.clock_offset_s = 0;
        control.skipped_fires.clear();
        control.profile = core.config.profile;
    }
    *lock(&core.sessions) = super::auth::Sessions::default();
    *lock(&core.state) = core.initial.clone();
}

pub(crate) fn inject_fault(core: &Core, fault: Fault) {
    lock(&core.control)
        .faults
        .push(FaultSlot { fault, seen: 0 });
}

pub(crate) fn advance_clock(core: &Core, seconds: i64) {
    lock(&core.control).clock_offset_s += seconds;
}

/// What the ScheduledWorkflow controller does when a job fires: a run with the job's spec, owned by its
/// experiment and created by the job. Returns the run id.
///
/// On 2.17 with v1 blocking, the controller refuses to submit the workflow of a v1 job in a blocked namespace
/// (KFP2-V1BETA1.md §4.2): no run, `None`, while the API still reports the job enabled.
pub(crate) fn trigger_job(core: &Core, id: &str) -> Option<String> {
    trigger_job_at(core, id, core.now_ms())
}

/// [`trigger_job`] for a fire scheduled at `now_ms`.
pub(crate) fn trigger_job_at(core: &Core, id: &str, now_ms: i64) -> Option<String> {
    let mut state = core.state();
    let job = state.jobs.iter().find(|j| j.id == id)?.clone();
    if !job.spec.workflow_manifest.is_empty() && super::api::v1_blocked(core, &job.namespace) {
        return None;
    }
    let mut references: Vec<Reference> = job
        .references
        .iter()
        .filter(|r| r.key_type == "EXPERIMENT" || r.key_type == "PIPELINE_VERSION")
        .cloned()
        .collect();
    references.push(Reference {
        key_type: "JOB".to_owned(),
        key_id: job.id.clone(),
        name: job.name.clone(),
        relationship: "CREATOR".to_owned(),
    });
    let sequence = state
        .runs
        .iter()
        .filter(|r| r.references.iter().any(|x| x.key_id == job.id))
        .count()
        + 1;
    let run = Run {
        id: new_uuid(),
        name: format!("{}-{sequence}-{}", job.name, now_ms / 1000),
        storage_state: AVAILABLE.to_owned(),
        spec: job.spec.clone(),
        references,
        service_account: job.service_account.clone(),
        created_at: now_ms / 1000,
        scheduled_at: now_ms / 1000,
        namespace: job.namespace.clone(),
        experiment_id: job.experiment_id.clone(),
        phase_started_ms: now_ms,
        ..Run::default()
    };
    let run_id = run.id.clone();
    state.runs.push(run);
    Some(run_id)
}

pub(crate) fn finish_run(core: &Core, id: &str, outcome: RunOutcome) -> bool {
    let now = core.now_ms() / 1000;
    let mut state = core.state();
    match state.runs.iter_mut().find(|r| r.id == id) {
        Some(run) => {
            run.status = outcome.phase().to_owned();
            run.finished_at = now;
            run.settled = true;
            true
        }
        None => false,
    }
}

pub(crate) fn state(core: &Core) -> Value {
    serde_json::to_value(&*core.state()).unwrap_or(Value::Null)
}

/// Inserts a job row as another client would have created it (the UI, the v2 SDK, the v2beta1 API), without
/// any validation: the fixture for KFP2-V1BETA1.md §2.5 "jobs created by others" (empty `workflow_manifest`,
/// a v2 `pipeline_manifest`, both empty) and §5 P0-2. Returns the id.
pub(crate) fn insert_job(core: &Core, job: ForeignJob) -> String {
    let now = core.now_ms() / 1000;
    let mut state = core.state();
    let namespace = if job.namespace.is_empty() {
        core.config.pod_namespace.clone()
    } else {
        job.namespace
    };
    let experiment_id = if job.experiment_id.is_empty() {
        state.default_experiment_id.clone()
    } else {
        job.experiment_id
    };
    let experiment_name = state
        .experiments
        .iter()
        .find(|e| e.id == experiment_id)
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let row = Job {
        id: new_uuid(),
        name: job.name,
        spec: Spec {
            workflow_manifest: job.workflow_manifest,
            pipeline_manifest: job.pipeline_manifest,
            ..Spec::default()
        },
        references: vec![Reference {
            key_type: "EXPERIMENT".to_owned(),
            key_id: experiment_id.clone(),
            name: experiment_name,
            relationship: "OWNER".to_owned(),
        }],
        service_account: "default-editor".to_owned(),
        max_concurrency: 1,
        cron: "0 0 * * * *".to_owned(),
        created_at: now,
        updated_at: now,
        status: "Enabled".to_owned(),
        error: job.error,
        enabled: job.enabled,
        namespace,
        experiment_id,
        ..Job::default()
    };
    let id = row.id.clone();
    state.jobs.push(row);
    id
}

/// Sets a job's `error` (what the persistence agent reports for a broken ScheduledWorkflow).
pub(crate) fn set_job_error(core: &Core, id: &str, text: &str) -> bool {
    let mut state = core.state();
    match state.jobs.iter_mut().find(|j| j.id == id) {
        Some(job) => {
            text.clone_into(&mut job.error);
            true
        }
        None => false,
    }
}
