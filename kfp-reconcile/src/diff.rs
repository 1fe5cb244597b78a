//! Unified diffs of workflows for the human plan.
//!
//! The observed state keeps digests, not manifests, so showing *what* changed in a workflow takes one extra
//! request per replaced job whose workflow differs (`GET /jobs/{id}` of its latest version) — made only when a
//! plan is displayed, never for an up-to-date namespace.

use kfp_client::KfpApi;
use kfp_config::{Workflow, normalize};
use similar::TextDiff;

use crate::model::{Action, JobChange, Plan};

/// A unified diff (3 lines of context) of two workflows in their normalized form (volatile annotations
/// removed, keys sorted), rendered as YAML; empty when they are equal.
pub fn workflow_diff(old: &Workflow, new: &Workflow, old_label: &str, new_label: &str) -> String {
    let old_text = render(old);
    let new_text = render(new);
    if old_text == new_text {
        return String::new();
    }
    TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

fn render(workflow: &Workflow) -> String {
    let normalized = normalize(workflow.value());
    serde_saphyr::to_string(&normalized)
        .or_else(|_| serde_json::to_string_pretty(&normalized))
        .unwrap_or_default()
}

/// Fills [`JobPlan::workflow_diff`](crate::JobPlan::workflow_diff) of every replaced job whose workflow changed,
/// fetching the latest version's manifest. A job whose old manifest cannot be fetched or read gets a one-line
/// note instead of a diff; the plan stays usable either way.
pub fn attach_workflow_diffs(plan: &mut Plan, api: &dyn KfpApi) {
    for job in &mut plan.jobs {
        if job.change != JobChange::Replace
            || !job.diffs.iter().any(|diff| diff.field == "workflow")
        {
            continue;
        }
        let Some(latest) = job.versions.first() else {
            continue;
        };
        let Some(new_manifest) = job.actions.iter().find_map(|action| match action {
            Action::CreateVersion { version } => Some(version.workflow_manifest.as_str()),
            _ => None,
        }) else {
            continue;
        };
        let diff =
            api.get_job(&latest.id)
                .map_err(|err| {
                    format!(
                        "(the workflow of {} could not be fetched: {err})",
                        latest.name
                    )
                })
                .and_then(|old| {
                    let old = Workflow::parse_json(&old.pipeline_spec.workflow_manifest).map_err(
                        |err| format!("(the workflow of {} cannot be read: {err})", latest.name),
                    )?;
                    let new = Workflow::parse_json(new_manifest)
                        .map_err(|err| format!("(the new workflow cannot be read: {err})"))?;
                    Ok(workflow_diff(&old, &new, &latest.name, "config"))
                });
        job.workflow_diff = Some(diff.unwrap_or_else(|note| note));
    }
}
