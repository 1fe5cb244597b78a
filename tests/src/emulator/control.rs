//! The control API under `/_emulator/` (not counted): request counts, reset, latency, faults, run outcomes,
//! the emulated clock, Dex sessions and the state dump.

use std::time::Duration;

use serde_json::{Value, json};

use super::config::{Fault, RunOutcome};
use super::core::{Core, FaultSlot, lock};
use super::http::{Request, Response};
use super::state::{AVAILABLE, Reference, Run, new_uuid};

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
pub(crate) fn trigger_job(core: &Core, id: &str) -> Option<String> {
    trigger_job_at(core, id, core.now_ms())
}

/// [`trigger_job`] for a fire scheduled at `now_ms`.
pub(crate) fn trigger_job_at(core: &Core, id: &str, now_ms: i64) -> Option<String> {
    let mut state = core.state();
    let job = state.jobs.iter().find(|j| j.id == id)?.clone();
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
