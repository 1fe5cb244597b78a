//! The rules of `recurring_runs.yaml`: the list, each entry and its keys.

use super::rollout;
use super::*;

/// Checks `recurring_runs.yaml`. `experiments` are the declared experiment names (`None` when
/// `experiments.yaml` is unreadable, which skips that cross-check). Returns the runs whose pipeline source
/// has no problem (their sources are checked next), or `None` when the file could not be read as a list
/// at all.
pub(crate) fn check_recurring_runs(
    file: &Path,
    text: &str,
    experiments: Option<&HashSet<String>>,
    experiments_file: &Path,
    zones: &ScheduleZones,
    problems: &mut Vec<Problem>,
) -> Option<Vec<CheckedRun>> {
    let mut checker = Checker {
        file,
        problems,
        zones: Some(zones),
    };
    let root = parse_root(&mut checker, text, "recurring_runs")?;
    let fields = checker.mapping(&root, "", &["recurring_runs"])?;
    let node = checker.required(&fields, "recurring_runs")?;
    let items = checker.list(node, "/recurring_runs")?;
    let mut runs = Vec::new();
    let mut job_names = names::SeenNames::default();
    for (index, item) in items.iter().enumerate() {
        let pointer = index_pointer("/recurring_runs", index);
        if let Some(run) = check_run(
            &mut checker,
            item,
            &pointer,
            experiments,
            experiments_file,
            &mut job_names,
        ) {
            runs.push(run);
        }
    }
    Some(runs)
}

/// The keys of a recurring run entry.
pub(super) const RUN_KEYS: &[&str] = &[
    "pipeline_source",
    "pipeline_parameters",
    "keep_history",
    "rollout",
    "job",
];

pub(super) fn check_run(
    checker: &mut Checker<'_>,
    item: &Node,
    pointer: &str,
    experiments: Option<&HashSet<String>>,
    experiments_file: &Path,
    job_names: &mut names::SeenNames,
) -> Option<CheckedRun> {
    let before = checker.problems.len();
    let fields = checker.mapping(item, pointer, RUN_KEYS)?;
    // The parameters are not compared with the pipeline's inputs when it is unclear which list is meant:
    // `pipeline_parameters` twice, or absent next to an unknown key that may be it misspelled.
    let keys: Vec<Option<&str>> = item
        .as_map()
        .into_iter()
        .flatten()
        .map(|(key, _)| key.as_str())
        .collect();
    let unknown_keys = keys
        .iter()
        .filter(|key| **key == Some("pipeline_parameters"))
        .count()
        > 1
        || (!fields.has("pipeline_parameters")
            && keys.iter().any(|key| {
                key.is_none_or(|key| {
                    !RUN_KEYS.contains(&key)
                        && suggestion(key, RUN_KEYS)
                            .is_none_or(|near| near == "pipeline_parameters")
                })
            }));
    let before_source = checker.problems.len();
    let source = checker
        .required(&fields, "pipeline_source")
        .and_then(|node| check_source(checker, node, &fields.child("pipeline_source")))
        // A source with any problem (an unknown key may be a misspelled one) is not fetched.
        .filter(|_| checker.problems.len() == before_source);
    let mut parameters = Some(Vec::new());
    let mut parameters_at = Vec::new();
    if let Some(node) = fields.get("pipeline_parameters") {
        let list_pointer = fields.child("pipeline_parameters");
        match checker.list(node, &list_pointer) {
            Some(items) => {
                let mut names: HashMap<String, String> = HashMap::new();
                for (index, item) in items.iter().enumerate() {
                    let item_pointer = index_pointer(&list_pointer, index);
                    parameters_at.push(At::of(item, &item_pointer));
                    match check_parameter(checker, item, &item_pointer, &mut names) {
                        Some(parameter) => {
                            if let Some(list) = &mut parameters {
                                list.push(parameter);
                            }
                        }
                        None => parameters = None,
                    }
                }
            }
            None => parameters = None,
        }
    }
    let keep_history = match fields.get("keep_history") {
        None => Some(DEFAULT_KEEP_HISTORY),
        Some(node) => {
            let keep_pointer = fields.child("keep_history");
            match checker.integer(node, &keep_pointer) {
                Some(value) if value < -1 => {
                    checker.at(node, &keep_pointer, format!("keep_history must be -1 or more, found {value}"), Some("`-1` keeps every version, `0` keeps only the latest, `N` keeps the latest and N older versions".to_owned()));
                    None
                }
                other => other,
            }
        }
    };
    let rollout = rollout::check_rollout(checker, &fields, parameters.as_deref());
    let mut repository_file_without_repository = false;
    if let (Some(PipelineSource::Path(_) | PipelineSource::Rendered(_)), Some(list), Some(items)) = (
        &source,
        &parameters,
        fields.get("pipeline_parameters").and_then(Node::as_seq),
    ) {
        for (index, parameter) in list.iter().enumerate() {
            if let PipelineParameter::ValueFrom { value_from, .. } = parameter
                && value_from.path.is_none()
                && value_from.git_url.is_none()
                && !(value_from.github_owner.is_some()
                    && value_from.github_repo.is_some()
                    && value_from.git_reference.is_some())
                && let Some(item) = items.get(index)
            {
                let value_pointer =
                    format!("{}/{index}/valueFrom", fields.child("pipeline_parameters"));
                let node = item.get("valueFrom").unwrap_or(item);
                checker.at(node, &value_pointer, "`file_path` names a file in a repository, but the pipeline source is local and no repository is given", Some("use `path` for a local file, or give `github_owner`, `github_repo` and `git_reference` (or `git_url` and `git_reference`)".to_owned()));
                repository_file_without_repository = true;
            }
        }
    }
    if unknown_keys || repository_file_without_repository {
        parameters = None;
    }
    let job = checker.required(&fields, "job").and_then(|node| {
        check_job(
            checker,
            node,
            &fields.child("job"),
            experiments,
            experiments_file,
            job_names,
        )
    });
    let label = match job.as_ref().map(|job| job.name.as_str()).or_else(|| {
        item.get("job")
            .and_then(|job| job.get("name"))
            .and_then(Node::as_str)
    }) {
        Some(name) => format!("recurring run `{name}`"),
        None => format!("recurring run at {pointer}"),
    };
    let pipeline_source = source?;
    let run = match (
        checker.problems.len() == before,
        &parameters,
        keep_history,
        job,
    ) {
        (true, Some(list), Some(keep_history), Some(job)) => Some(RecurringRun {
            pipeline_source: pipeline_source.clone(),
            pipeline_parameters: list.clone(),
            keep_history,
            rollout: rollout.ok().flatten(),
            job,
        }),
        _ => None,
    };
    Some(CheckedRun {
        run,
        pipeline_source,
        pipeline_parameters: parameters,
        label,
        at: At::of(item, pointer),
        source_at: At::of(
            fields.get("pipeline_source")?,
            &fields.child("pipeline_source"),
        ),
        parameters_at,
    })
}
