//! The fields of the v1beta1 proto messages, for 2.14+'s unknown-field check.

use super::*;

/// The fields of a v1beta1 proto message, for 2.14+'s unknown-field check: `(proto name, sub-message)`.
pub(crate) struct Message(&'static [(&'static str, Option<&'static Message>)]);

pub(super) static KEY_MSG: Message = Message(&[("type", None), ("id", None)]);
pub(super) static REF_MSG: Message = Message(&[
    ("key", Some(&KEY_MSG)),
    ("name", None),
    ("relationship", None),
]);
pub(super) static PARAMETER_MSG: Message = Message(&[("name", None), ("value", None)]);
pub(super) static RUNTIME_CONFIG_MSG: Message =
    Message(&[("parameters", None), ("pipeline_root", None)]);
pub(super) static SPEC_MSG: Message = Message(&[
    ("pipeline_id", None),
    ("pipeline_name", None),
    ("workflow_manifest", None),
    ("pipeline_manifest", None),
    ("parameters", Some(&PARAMETER_MSG)),
    ("runtime_config", Some(&RUNTIME_CONFIG_MSG)),
]);
pub(super) static CRON_MSG: Message =
    Message(&[("start_time", None), ("end_time", None), ("cron", None)]);
pub(super) static PERIODIC_MSG: Message = Message(&[
    ("start_time", None),
    ("end_time", None),
    ("interval_second", None),
]);
pub(super) static TRIGGER_MSG: Message = Message(&[
    ("cron_schedule", Some(&CRON_MSG)),
    ("periodic_schedule", Some(&PERIODIC_MSG)),
]);
/// `api.Job`.
pub(crate) static JOB_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("description", None),
    ("pipeline_spec", Some(&SPEC_MSG)),
    ("resource_references", Some(&REF_MSG)),
    ("service_account", None),
    ("max_concurrency", None),
    ("trigger", Some(&TRIGGER_MSG)),
    ("mode", None),
    ("created_at", None),
    ("updated_at", None),
    ("status", None),
    ("error", None),
    ("enabled", None),
    ("no_catchup", None),
]);
/// `api.Experiment`.
pub(crate) static EXPERIMENT_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("description", None),
    ("created_at", None),
    ("resource_references", Some(&REF_MSG)),
    ("storage_state", None),
]);
/// `api.Run`.
pub(crate) static RUN_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("storage_state", None),
    ("description", None),
    ("pipeline_spec", Some(&SPEC_MSG)),
    ("resource_references", Some(&REF_MSG)),
    ("service_account", None),
    ("created_at", None),
    ("scheduled_at", None),
    ("finished_at", None),
    ("status", None),
    ("error", None),
    ("metrics", None),
]);

/// The first field of `value` (recursively) that `schema` does not know, by proto or JSON name.
pub(super) fn unknown_field(value: &Value, schema: &Message) -> Option<String> {
    let object = value.as_object()?;
    for (name, item) in object {
        let Some((_, sub)) = schema
            .0
            .iter()
            .find(|(proto, _)| *proto == name || wire::camel(proto) == *name)
        else {
            return Some(name.clone());
        };
        if let Some(sub) = sub {
            let items: Vec<&Value> = match item {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if let Some(found) = items.into_iter().find_map(|i| unknown_field(i, sub)) {
                return Some(found);
            }
        }
    }
    None
}
