//! The checks that turn the YAML of `experiments.yaml` and `recurring_runs.yaml` into the typed model,
//! reporting every problem at once with its JSON pointer, line and column.
//!
//! Serde stops at the first error, so the files are walked as position-carrying YAML trees instead.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::cron;
use crate::cron::timezone::ScheduleZones;
use crate::model::{
    DEFAULT_KEEP_HISTORY, Experiment, ExperimentsFile, GitHubSource, GitSource, Job,
    ParameterValue, PathSource, PipelineParameter, PipelineSource, RecurringRun, RenderedSource,
    Trigger, ValueFrom,
};
use crate::problem::Problem;
use crate::yaml::{self, Node, NodeValue};

pub(crate) mod files;
mod job;
pub(crate) mod names;
mod reader;
mod rollout;
mod runs;
mod source;
mod zone;

use job::check_job;
pub use names::{MAX_NAMESPACE_CHARS, NAMESPACE_HINT, namespace_name};
pub(crate) use reader::suggestion;
pub use reader::{At, parse_timestamp};
use reader::{Checker, Fields, child_pointer, index_pointer, parse_root};
pub(crate) use runs::check_recurring_runs;
use source::{check_parameter, check_source};

/// A recurring run entry whose pipeline source has no problem, with the places of its parts, for the
/// problems found later (sources, parameters). Its pipeline and parameters are checked even when other
/// parts of the entry have problems, so that every problem of the run is reported at once.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRun {
    /// The whole run, when the entry has no problem at all: only such a run can be desired.
    pub run: Option<RecurringRun>,
    /// `pipeline_source`.
    pub pipeline_source: PipelineSource,
    /// `pipeline_parameters` (empty when absent), unless one of them has a problem or the entry has an
    /// unknown key (which may be a misspelled `pipeline_parameters`).
    pub pipeline_parameters: Option<Vec<PipelineParameter>>,
    /// How problems name the run: ``recurring run `NAME` `` or, without a usable name, its place.
    pub label: String,
    /// The run's entry.
    pub at: At,
    /// `pipeline_source`.
    pub source_at: At,
    /// Each entry of `pipeline_parameters`.
    pub parameters_at: Vec<At>,
}

/// Checks `experiments.yaml`; `None` when the file could not be used at all.
/// A valid `experiments.yaml` and the place of each entry.
pub(crate) type CheckedExperiments = (ExperimentsFile, Vec<At>);

/// Also returns the experiment names found, when the list itself could be read (so that references to
/// experiments can be checked even when an entry is broken).
pub(crate) fn check_experiments(
    file: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
) -> (Option<CheckedExperiments>, Option<HashSet<String>>) {
    let mut names = None;
    let checked = check_experiment_list(file, text, problems, &mut names);
    (checked, names)
}

fn check_experiment_list(
    file: &Path,
    text: &str,
    problems: &mut Vec<Problem>,
    names: &mut Option<HashSet<String>>,
) -> Option<(ExperimentsFile, Vec<At>)> {
    let mut checker = Checker {
        file,
        problems,
        zones: None,
    };
    let root = parse_root(&mut checker, text, "experiments")?;
    let fields = checker.mapping(&root, "", &["experiments"])?;
    let node = checker.required(&fields, "experiments")?;
    let items = checker.list(node, "/experiments")?;
    let mut experiments = Vec::new();
    let mut places = Vec::new();
    let mut seen = names::SeenNames::default();
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let pointer = index_pointer("/experiments", index);
        let Some(fields) = checker.mapping(item, &pointer, &["name", "description"]) else {
            ok = false;
            continue;
        };
        let name = checker.required_string(&fields, "name");
        let description = checker.optional_string(&fields, "description");
        if let Some(name) = &name {
            let name_node = fields.get("name").unwrap_or(item);
            ok &= names::experiment_name(
                &mut checker,
                name_node,
                &fields.child("name"),
                name,
                &mut seen,
            );
        }
        match (name, description) {
            (Some(name), Ok(description)) => {
                experiments.push(Experiment { name, description });
                places.push(At::of(item, &pointer));
            }
            _ => ok = false,
        }
    }
    *names = Some(seen.into_names().collect());
    ok.then_some((ExperimentsFile { experiments }, places))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_timestamps_and_rfc3339_strings_parse_with_utc_as_the_default_zone() {
        let cases = [
            ("2024-01-31", "2024-01-31T00:00:00Z"),
            ("2024-1-5", "2024-01-05T00:00:00Z"),
            ("2024-01-31T08:00:00Z", "2024-01-31T08:00:00Z"),
            ("2024-01-31t08:00:00", "2024-01-31T08:00:00Z"),
            ("2024-01-31 08:00:00", "2024-01-31T08:00:00Z"),
            ("2001-12-14 21:59:43.10 -5", "2001-12-15T02:59:43.1Z"),
            ("2001-12-14t21:59:43.10-05:00", "2001-12-15T02:59:43.1Z"),
            ("2024-01-31T08:00:00+0130", "2024-01-31T06:30:00Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_timestamp(text).map(|t| t.to_string()),
                Ok(expected.to_owned()),
                "{text}"
            );
        }
        for bad in [
            "yesterday",
            "2024-02-30",
            "2024-01-31T25:00:00",
            "2024-01-31T08:00",
            "2024-01-31 x",
            "2024-01-31T08:00:00 CET",
            "24-01-01",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggestions_find_near_misses() {
        assert_eq!(
            suggestion("value_from", &["name", "value", "valueFrom"]),
            Some("valueFrom")
        );
        assert_eq!(
            suggestion("max_concurency", &["max_concurrency", "name"]),
            Some("max_concurrency")
        );
        assert_eq!(suggestion("colour", &["name", "value"]), None);
    }
}
