//! `rollout:` of a recurring run: `strategy` (`swap`/`verify`), `timeout` (a Go duration of at least a
//! second), `keep_failed` (a boolean) and `parameters` (values for the verification run only, each one
//! of the run's `pipeline_parameters`).

use std::collections::BTreeMap;

use crate::model::{ParameterValue, PipelineParameter};
use crate::model::{Rollout, RolloutStrategy};
use crate::rollout::timeout_seconds;
use crate::yaml::{Node, NodeValue};

use super::{Checker, Fields, child_pointer};

const ROLLOUT_KEYS: &[&str] = &["strategy", "timeout", "keep_failed", "parameters"];

/// Checks `rollout` (when written). `Err` when a problem was reported. `parameters` are the run's
/// parameters when they could be read (the overrides are then checked against their names).
pub(super) fn check_rollout(
    checker: &mut Checker<'_>,
    fields: &Fields<'_>,
    parameters: Option<&[PipelineParameter]>,
) -> Result<Option<Rollout>, ()> {
    let Some(node) = fields.get("rollout") else {
        return Ok(None);
    };
    let pointer = fields.child("rollout");
    let before = checker.problems.len();
    let rollout_fields = checker.mapping(node, &pointer, ROLLOUT_KEYS).ok_or(())?;
    let mut rollout = Rollout::default();
    if let Some(node) = rollout_fields.get("strategy") {
        let at = rollout_fields.child("strategy");
        match node.as_str() {
            Some("swap") => rollout.strategy = Some(RolloutStrategy::Swap),
            Some("verify") => rollout.strategy = Some(RolloutStrategy::Verify),
            _ => checker.at(
                node,
                &at,
                "strategy must be `swap` or `verify`",
                Some(
                    "`swap` replaces the version at once; `verify` runs the new version once first"
                        .to_owned(),
                ),
            ),
        }
    }
    if let Some(node) = rollout_fields.get("timeout") {
        let at = rollout_fields.child("timeout");
        if let Some(text) = checker.string(node, &at, true) {
            match timeout_seconds(&text) {
                Ok(_) => rollout.timeout = Some(text),
                Err(message) => checker.at(
                    node,
                    &at,
                    message,
                    Some("write a Go duration such as `2h`, `45m` or `1h30m`".to_owned()),
                ),
            }
        }
    }
    if let Some(node) = rollout_fields.get("keep_failed") {
        match node.value {
            NodeValue::Bool(value) => rollout.keep_failed = Some(value),
            _ => checker.wrong_type(node, &rollout_fields.child("keep_failed"), "a boolean"),
        }
    }
    if let Some(node) = rollout_fields.get("parameters") {
        rollout.parameters = check_overrides(
            checker,
            node,
            &rollout_fields.child("parameters"),
            parameters,
        );
    }
    if checker.problems.len() == before {
        Ok(Some(rollout))
    } else {
        Err(())
    }
}

fn check_overrides(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    parameters: Option<&[PipelineParameter]>,
) -> BTreeMap<String, ParameterValue> {
    let mut overrides = BTreeMap::new();
    let Some(entries) = node.as_map() else {
        checker.wrong_type(node, pointer, "a mapping");
        return overrides;
    };
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            checker.at(key, pointer, "parameter names must be strings", None);
            continue;
        };
        let at = child_pointer(pointer, name);
        if let Some(parameters) = parameters
            && !parameters.iter().any(|parameter| parameter.name() == name)
        {
            checker.at(
                key,
                &at,
                format!("`{name}` is not one of this recurring run's pipeline_parameters"),
                Some(
                    "the verification run may only change the values of the parameters the schedule passes"
                        .to_owned(),
                ),
            );
            continue;
        }
        if value.as_map().is_some() || value.as_seq().is_some() || value.is_null() {
            checker.at(
                value,
                &at,
                format!(
                    "a parameter value must be a string, number or boolean, found {}",
                    value.type_name()
                ),
                None,
            );
            continue;
        }
        match value.to_json() {
            Ok(json) => {
                overrides.insert(name.to_owned(), ParameterValue(json));
            }
            Err(err) => checker.at(value, &at, err.message, None),
        }
    }
    overrides
}
