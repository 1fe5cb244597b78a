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
pub mod names;
mod rollout;
mod zone;

pub use names::namespace_name;

/// A place in a file: JSON pointer, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// JSON pointer.
    pub pointer: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl At {
    fn of(node: &Node, pointer: &str) -> Self {
        Self {
            pointer: pointer.to_owned(),
            line: node.line,
            column: node.column,
        }
    }
}

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

struct Checker<'a> {
    file: &'a Path,
    problems: &'a mut Vec<Problem>,
    /// The zones of recurring runs' schedules (none for experiments).
    zones: Option<&'a ScheduleZones>,
}

/// A mapping's entries (last value of a key wins, `null` counts as absent).
struct Fields<'n> {
    node: &'n Node,
    pointer: String,
    entries: HashMap<&'n str, &'n Node>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .get(key)
            .copied()
            .filter(|node| !node.is_null())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn child(&self, key: &str) -> String {
        child_pointer(&self.pointer, key)
    }
}

fn child_pointer(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn index_pointer(pointer: &str, index: usize) -> String {
    format!("{pointer}/{index}")
}

const SOURCE_FORMS: &str = "a pipeline_source is one of: `{github_owner, github_repo, git_reference, file_path}`, \
     `{git_url, git_reference, file_path}`, `{path}` or `{rendered_pipeline}`";

impl Checker<'_> {
    fn problem(
        &mut self,
        line: Option<usize>,
        column: Option<usize>,
        pointer: &str,
        message: String,
        tip: Option<String>,
    ) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            pointer: pointer.to_owned(),
            line,
            column,
            message,
            tip,
        });
    }

    fn at(&mut self, node: &Node, pointer: &str, message: impl Into<String>, tip: Option<String>) {
        self.problem(
            Some(node.line),
            Some(node.column),
            pointer,
            message.into(),
            tip,
        );
    }

    fn wrong_type(&mut self, node: &Node, pointer: &str, expected: &str) {
        let tip = match (&node.value, expected) {
            (NodeValue::String(text), "a boolean") => Some(format!(
                "write `true` or `false` without quotes (found the string `{text}`)"
            )),
            (NodeValue::Number(_) | NodeValue::Bool(_), "a string") => {
                Some("quote the value to make it a string".to_owned())
            }
            _ => None,
        };
        self.at(
            node,
            pointer,
            format!("expected {expected}, found {}", node.type_name()),
            tip,
        );
    }

    /// Checks that `node` is a mapping whose keys are strings among `allowed`, reporting unknown and
    /// duplicate keys.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        pointer: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, pointer, "a mapping");
            return None;
        };
        let mut fields = HashMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                let text = key.key_string().unwrap_or_default();
                self.at(
                    key,
                    &child_pointer(pointer, &text),
                    format!("keys must be strings, found {}", key.type_name()),
                    None,
                );
                continue;
            };
            let key_pointer = child_pointer(pointer, name);
            if !allowed.contains(&name) {
                let tip = suggestion(name, allowed)
                    .map(|known| format!("did you mean `{known}`?"))
                    .or_else(|| {
                        Some(format!(
                            "allowed keys here: {}",
                            allowed
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    });
                self.at(key, &key_pointer, format!("unknown key `{name}`"), tip);
                continue;
            }
            if fields.insert(name, value).is_some() {
                self.at(key, &key_pointer, format!("duplicate key `{name}`"), Some("each key may appear once; the later value would silently replace the earlier one".to_owned()));
            }
        }
        Some(Fields {
            node,
            pointer: pointer.to_owned(),
            entries: fields,
        })
    }

    fn missing(&mut self, fields: &Fields<'_>, key: &str, tip: Option<String>) {
        let pointer = fields.child(key);
        self.at(
            fields.node,
            &pointer,
            format!("missing required key `{key}`"),
            tip,
        );
    }

    fn required<'n>(&mut self, fields: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.missing(fields, key, None);
        }
        node
    }

    fn string(&mut self, node: &Node, pointer: &str, non_empty: bool) -> Option<String> {
        match node.as_str() {
            Some(text) if non_empty && text.trim().is_empty() => {
                self.at(node, pointer, "must not be empty", None);
                None
            }
            Some(text) => Some(text.to_owned()),
            None => {
                self.wrong_type(node, pointer, "a string");
                None
            }
        }
    }

    fn required_string(&mut self, fields: &Fields<'_>, key: &str) -> Option<String> {
        let node = self.required(fields, key)?;
        self.string(node, &fields.child(key), true)
    }

    fn optional_string(&mut self, fields: &Fields<'_>, key: &str) -> Result<Option<String>, ()> {
        match fields.get(key) {
            None => Ok(None),
            Some(node) => self
                .string(node, &fields.child(key), false)
                .map(Some)
                .ok_or(()),
        }
    }

    fn boolean(&mut self, fields: &Fields<'_>, key: &str) -> Option<bool> {
        let node = self.required(fields, key)?;
        match node.value {
            NodeValue::Bool(value) => Some(value),
            _ => {
                self.wrong_type(node, &fields.child(key), "a boolean");
                None
            }
        }
    }

    fn integer(&mut self, node: &Node, pointer: &str) -> Option<i64> {
        match &node.value {
            NodeValue::Number(number) if number.is_i64() => number.as_i64(),
            NodeValue::Number(number) if number.is_u64() => {
                self.at(node, pointer, format!("{number} is too large"), None);
                None
            }
            _ => {
                self.wrong_type(node, pointer, "an integer");
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n Node, pointer: &str) -> Option<&'n [Node]> {
        match node.as_seq() {
            Some(items) => Some(items),
            None => {
                self.wrong_type(node, pointer, "a list");
                None
            }
        }
    }

    fn timestamp<'n>(
        &mut self,
        fields: &Fields<'n>,
        key: &str,
    ) -> Result<Option<(Timestamp, &'n Node)>, ()> {
        let Some(node) = fields.get(key) else {
            return Ok(None);
        };
        let pointer = fields.child(key);
        let Some(text) = node.as_str() else {
            self.wrong_type(node, &pointer, "a timestamp");
            return Err(());
        };
        match parse_timestamp(text) {
            Ok(timestamp) => Ok(Some((timestamp, node))),
            Err(reason) => {
                self.at(
                    node,
                    &pointer,
                    format!("invalid timestamp `{text}`: {reason}"),
                    Some("use a YAML timestamp such as `2024-01-31`, `2024-01-31 08:00:00` or `2024-01-31T08:00:00Z` (no zone means UTC)".to_owned()),
                );
                Err(())
            }
        }
    }
}

/// The closest allowed key within a small edit distance, for "did you mean" tips.
pub(crate) fn suggestion<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let normalized = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    allowed
        .iter()
        .map(|known| (*known, edit_distance(&normalized(name), &normalized(known))))
        .filter(|(known, distance)| *distance <= 2.max(known.len() / 4))
        .min_by_key(|(_, distance)| *distance)
        .map(|(known, _)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Parses a YAML 1.1 timestamp (`2001-12-14`, `2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43.10 -5`)
/// or an RFC 3339 string; without a zone the time is UTC, a date alone is midnight UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let number = |s: &str, what: &str| s.parse::<i64>().map_err(|_| format!("bad {what} `{s}`"));
    // Date: YYYY-M?M-D?D.
    let date_end = text.find(['T', 't', ' ', '\t']).unwrap_or(text.len());
    let date_parts: Vec<&str> = text[..date_end].split('-').collect();
    if date_parts.len() != 3
        || date_parts[0].len() != 4
        || !date_parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("expected a date `YYYY-MM-DD`".to_owned());
    }
    let (year, month, day) = (
        number(date_parts[0], "year")?,
        number(date_parts[1], "month")?,
        number(date_parts[2], "day")?,
    );
    let date = jiff::civil::Date::new(
        i16::try_from(year).map_err(|_| "bad year".to_owned())?,
        i8::try_from(month).map_err(|_| "bad month".to_owned())?,
        i8::try_from(day).map_err(|_| "bad day".to_owned())?,
    )
    .map_err(|err| format!("no such date ({err})"))?;
    let rest = text[date_end..].trim_start_matches(['T', 't', ' ', '\t']);
    if date_end == text.len() {
        return date
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|err| err.to_string());
    }
    if bytes.get(date_end) == Some(&b' ') && rest.is_empty() {
        return Err("expected a time after the date".to_owned());
    }
    // Time: H?H:MM:SS(.fraction)? then an optional zone.
    let time_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    let (time_text, zone_text) = (&rest[..time_end], rest[time_end..].trim_start());
    let (clock, fraction) = time_text.split_once('.').unwrap_or((time_text, ""));
    let clock_parts: Vec<&str> = clock.split(':').collect();
    if clock_parts.len() != 3
        || clock_parts[0].is_empty()
        || clock_parts[0].len() > 2
        || clock_parts[1].len() != 2
        || clock_parts[2].len() != 2
    {
        return Err("expected a time `HH:MM:SS`".to_owned());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return Err("bad fraction of a second".to_owned());
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<i32>()
            .map_err(|_| "bad fraction".to_owned())?
    };
    let time = jiff::civil::Time::new(
        i8::try_from(number(clock_parts[0], "hour")?).map_err(|_| "bad hour".to_owned())?,
        i8::try_from(number(clock_parts[1], "minute")?).map_err(|_| "bad minute".to_owned())?,
        i8::try_from(number(clock_parts[2], "second")?).map_err(|_| "bad second".to_owned())?,
        nanos,
    )
    .map_err(|err| format!("no such time ({err})"))?;
    let offset_seconds: i32 = match zone_text {
        "" | "Z" | "z" => 0,
        zone => {
            let (sign, digits) = match zone.as_bytes()[0] {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return Err(format!("bad time zone `{zone}`")),
            };
            let (hours, minutes) = match digits.split_once(':') {
                Some((h, m)) => (h, m),
                None if digits.len() == 4 => (&digits[..2], &digits[2..]),
                None => (digits, "0"),
            };
            let valid =
                |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
            if !valid(hours) || !valid(minutes) {
                return Err(format!("bad time zone `{zone}`"));
            }
            let (hours, minutes): (i32, i32) =
                (hours.parse().unwrap_or(99), minutes.parse().unwrap_or(99));
            if hours > 23 || minutes > 59 {
                return Err(format!("bad time zone `{zone}`"));
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).map_err(|err| err.to_string())?;
    offset
        .to_timestamp(date.to_datetime(time))
        .map_err(|err| err.to_string())
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

fn parse_root(checker: &mut Checker<'_>, text: &str, top_key: &str) -> Option<Node> {
    if yaml::is_blank(text) {
        checker.problem(
            None,
            None,
            "",
            "the file is empty".to_owned(),
            Some(format!("declare at least `{top_key}: []`")),
        );
        return None;
    }
    match yaml::parse_node(text) {
        Ok(node) => Some(node),
        Err(err) => {
            checker.problem(
                err.line.map(|l| l as usize),
                err.column.map(|c| c as usize),
                "",
                format!("invalid YAML: {}", err.message),
                None,
            );
            None
        }
    }
}

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
const RUN_KEYS: &[&str] = &[
    "pipeline_source",
    "pipeline_parameters",
    "keep_history",
    "rollout",
    "job",
];

fn check_run(
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

fn check_source(checker: &mut Checker<'_>, node: &Node, pointer: &str) -> Option<PipelineSource> {
    let before = checker.problems.len();
    let fields = checker.mapping(node, pointer, crate::model::SOURCE_KEYS)?;
    if checker.problems.len() > before {
        let last = checker
            .problems
            .last_mut()
            .filter(|p| p.message.starts_with("unknown key"));
        if let Some(problem) = last
            && problem
                .tip
                .as_deref()
                .is_none_or(|tip| tip.starts_with("allowed"))
        {
            problem.tip = Some(SOURCE_FORMS.to_owned());
        }
    }
    let conflict = |checker: &mut Checker<'_>, kind: &str, allowed: &[&str]| {
        let mut ok = true;
        for key in crate::model::SOURCE_KEYS {
            if !allowed.contains(key)
                && let Some(extra) = fields.get(key)
            {
                checker.at(
                    extra,
                    &fields.child(key),
                    format!("`{key}` cannot be combined with `{kind}`"),
                    Some(SOURCE_FORMS.to_owned()),
                );
                ok = false;
            }
        }
        ok
    };
    if fields.has("rendered_pipeline") {
        let ok = conflict(checker, "rendered_pipeline", &["rendered_pipeline"]);
        let dir = checker.required_string(&fields, "rendered_pipeline");
        return if ok {
            dir.map(|dir| {
                PipelineSource::Rendered(RenderedSource {
                    rendered_pipeline: dir.into(),
                })
            })
        } else {
            None
        };
    }
    if fields.has("path") {
        let ok = conflict(checker, "path", &["path"]);
        let path = checker.required_string(&fields, "path");
        return if ok {
            path.map(|path| PipelineSource::Path(PathSource { path: path.into() }))
        } else {
            None
        };
    }
    if fields.has("git_url") {
        let ok = conflict(
            checker,
            "git_url",
            &["git_url", "git_reference", "file_path"],
        );
        let git_url = checker.required_string(&fields, "git_url");
        let git_reference = checker.required_string(&fields, "git_reference");
        let file_path = checker.required_string(&fields, "file_path");
        return match (ok, git_url, git_reference, file_path) {
            (true, Some(git_url), Some(git_reference), Some(file_path)) => {
                Some(PipelineSource::Git(GitSource {
                    git_url,
                    git_reference,
                    file_path,
                }))
            }
            _ => None,
        };
    }
    let github_owner = checker.required_string(&fields, "github_owner");
    let github_repo = checker.required_string(&fields, "github_repo");
    let git_reference = checker.required_string(&fields, "git_reference");
    let file_path = checker.required_string(&fields, "file_path");
    Some(PipelineSource::GitHub(GitHubSource {
        github_owner: github_owner?,
        github_repo: github_repo?,
        git_reference: git_reference?,
        file_path: file_path?,
    }))
}

fn check_parameter(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    names: &mut HashMap<String, String>,
) -> Option<PipelineParameter> {
    let before = checker.problems.len();
    let fields = checker.mapping(node, pointer, &["name", "value", "valueFrom"])?;
    let name = checker.required_string(&fields, "name");
    if let Some(name) = &name {
        if let Some(first) = names.get(name) {
            let name_node = fields.get("name").unwrap_or(node);
            checker.at(
                name_node,
                &fields.child("name"),
                format!("parameter `{name}` is set twice (first at {first})"),
                Some("parameter names must be unique within a recurring run".to_owned()),
            );
        } else {
            names.insert(name.clone(), fields.child("name"));
        }
    }
    const XOR_TIP: &str = "set either `value` or `valueFrom` (they are mutually exclusive)";
    let parameter = match (fields.get("value"), fields.get("valueFrom")) {
        (Some(_), Some(value_from)) => {
            checker.at(
                value_from,
                &fields.child("valueFrom"),
                "a parameter has both `value` and `valueFrom`",
                Some(XOR_TIP.to_owned()),
            );
            None
        }
        (None, None) => {
            checker.at(
                node,
                pointer,
                format!(
                    "parameter `{}` has neither `value` nor `valueFrom`",
                    name.as_deref().unwrap_or("?")
                ),
                Some(XOR_TIP.to_owned()),
            );
            None
        }
        (Some(value), None) if value.as_map().is_some() || value.as_seq().is_some() => {
            checker.at(value, &fields.child("value"), format!("a parameter value must be a string, number or boolean, found {}", value.type_name()), Some("KFP passes every parameter as a string; to pass JSON, quote it (`value: '{\"a\": 1}'`) or write it as a block scalar (`value: |`)".to_owned()));
            None
        }
        (Some(value), None) => {
            let value_pointer = fields.child("value");
            match value.to_json() {
                Ok(json) => name.clone().map(|name| PipelineParameter::Value {
                    name,
                    value: ParameterValue(json),
                }),
                Err(err) => {
                    checker.at(value, &value_pointer, err.message, None);
                    None
                }
            }
        }
        (None, Some(value_from)) => {
            check_value_from(checker, value_from, &fields.child("valueFrom")).and_then(
                |value_from| {
                    name.clone()
                        .map(|name| PipelineParameter::ValueFrom { name, value_from })
                },
            )
        }
    };
    (checker.problems.len() == before)
        .then_some(parameter)
        .flatten()
}

fn check_value_from(checker: &mut Checker<'_>, node: &Node, pointer: &str) -> Option<ValueFrom> {
    let before = checker.problems.len();
    let fields = checker.mapping(
        node,
        pointer,
        &[
            "file_path",
            "github_owner",
            "github_repo",
            "git_reference",
            "git_url",
            "path",
        ],
    )?;
    let mut value_from = ValueFrom::default();
    let take = |checker: &mut Checker<'_>, key: &str| -> Option<String> {
        fields
            .get(key)
            .and_then(|node| checker.string(node, &fields.child(key), true))
    };
    value_from.file_path = take(checker, "file_path");
    value_from.github_owner = take(checker, "github_owner");
    value_from.github_repo = take(checker, "github_repo");
    value_from.git_reference = take(checker, "git_reference");
    value_from.git_url = take(checker, "git_url");
    value_from.path = take(checker, "path").map(PathBuf::from);
    if fields.has("path") {
        for key in [
            "file_path",
            "github_owner",
            "github_repo",
            "git_reference",
            "git_url",
        ] {
            if let Some(extra) = fields.get(key) {
                checker.at(extra, &fields.child(key), format!("`{key}` cannot be combined with `path`"), Some("`path` is a local file; `file_path` (with optional repository keys) is a file in a repository".to_owned()));
            }
        }
    } else if !fields.has("file_path") {
        checker.at(
            node,
            &fields.child("file_path"),
            "missing required key `file_path` (or `path` for a local file)",
            None,
        );
    }
    if fields.has("git_url") {
        for key in ["github_owner", "github_repo"] {
            if let Some(extra) = fields.get(key) {
                checker.at(
                    extra,
                    &fields.child(key),
                    format!("`{key}` cannot be combined with `git_url`"),
                    None,
                );
            }
        }
    }
    (checker.problems.len() == before).then_some(value_from)
}

fn check_job(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    experiments: Option<&HashSet<String>>,
    experiments_file: &Path,
    job_names: &mut names::SeenNames,
) -> Option<Job> {
    let before = checker.problems.len();
    let fields = checker.mapping(
        node,
        pointer,
        &[
            "enabled",
            "name",
            "description",
            "experiment",
            "max_concurrency",
            "service_account",
            "trigger",
            "adopt",
        ],
    )?;
    let enabled = checker.boolean(&fields, "enabled");
    let name = checker.required_string(&fields, "name");
    if let Some(name) = &name {
        let name_node = fields.get("name").unwrap_or(node);
        names::job_name(checker, name_node, &fields.child("name"), name, job_names);
    }
    let description = checker
        .optional_string(&fields, "description")
        .ok()
        .flatten();
    let experiment = checker.required_string(&fields, "experiment");
    if let (Some(experiment), Some(declared)) = (&experiment, experiments)
        && !declared.contains(experiment)
    {
        let node = fields.get("experiment").unwrap_or(node);
        checker.at(
            node,
            &fields.child("experiment"),
            format!(
                "experiment `{experiment}` is not declared in {}",
                experiments_file.display()
            ),
            Some(format!(
                "add `- name: \"{experiment}\"` to the `experiments` list of {}",
                experiments_file.display()
            )),
        );
    }
    let max_concurrency = checker
        .required(&fields, "max_concurrency")
        .and_then(|node| {
            let max_pointer = fields.child("max_concurrency");
            let value = checker.integer(node, &max_pointer)?;
            match u8::try_from(value) {
                Ok(value @ 1..=10) => Some(value),
                _ => {
                    checker.at(
                        node,
                        &max_pointer,
                        format!("max_concurrency must be between 1 and 10, found {value}"),
                        Some("KFP allows 1 to 10 concurrent runs of a recurring run".to_owned()),
                    );
                    None
                }
            }
        });
    let service_account = checker
        .optional_string(&fields, "service_account")
        .ok()
        .flatten();
    let trigger = checker
        .required(&fields, "trigger")
        .and_then(|node| check_trigger(checker, node, &fields.child("trigger")));
    let adopt = checker.optional_string(&fields, "adopt").ok().flatten();
    if let Some(adopted) = &adopt {
        let adopt_node = fields.get("adopt").unwrap_or(node);
        if adopted.is_empty() {
            checker.at(
                adopt_node,
                &fields.child("adopt"),
                "`adopt` is empty".to_owned(),
                Some("name the recurring run to take over, or leave `adopt` out".to_owned()),
            );
        } else if adopted.starts_with("GIT::") {
            checker.at(
                adopt_node,
                &fields.child("adopt"),
                format!("`adopt` names `{adopted}`, a version kfp-gitops already manages"),
                Some("only recurring runs without the `GIT::` prefix are adopted".to_owned()),
            );
        }
    }
    let job = Job {
        enabled: enabled?,
        name: name?,
        description,
        experiment: experiment?,
        max_concurrency: max_concurrency?,
        service_account,
        trigger: trigger?,
        adopt,
    };
    (checker.problems.len() == before).then_some(job)
}

fn check_trigger(checker: &mut Checker<'_>, node: &Node, pointer: &str) -> Option<Trigger> {
    let before = checker.problems.len();
    let fields = checker.mapping(
        node,
        pointer,
        &[
            "catchup",
            "start_date",
            "end_date",
            "cron",
            "interval_seconds",
            "timezone",
        ],
    )?;
    let catchup = checker.boolean(&fields, "catchup");
    let start = checker.timestamp(&fields, "start_date");
    let end = checker.timestamp(&fields, "end_date");
    if let (Ok(Some((start, _))), Ok(Some((end, end_node)))) = (&start, &end)
        && start > end
    {
        checker.at(
            end_node,
            &fields.child("end_date"),
            format!("end_date {end} is before start_date {start}"),
            Some("the job would never run; swap the dates or remove one".to_owned()),
        );
    }
    const XOR_TIP: &str = "set either `cron` or `interval_seconds` (they are mutually exclusive)";
    let cron = match fields.get("cron") {
        None => None,
        Some(node) => {
            let cron_pointer = fields.child("cron");
            checker.string(node, &cron_pointer, true).and_then(|expr| {
                match cron::validate_cron(&expr) {
                    Ok(()) => Some(expr),
                    Err(err) => {
                        let tip = err.tip();
                        checker.at(node, &cron_pointer, err.to_string(), tip);
                        None
                    }
                }
            })
        }
    };
    let interval = match fields.get("interval_seconds") {
        None => None,
        Some(node) => {
            let interval_pointer = fields.child("interval_seconds");
            match checker.integer(node, &interval_pointer) {
                Some(value) if value >= 1 => u64::try_from(value).ok(),
                Some(value) => {
                    checker.at(
                        node,
                        &interval_pointer,
                        format!("interval_seconds must be at least 1, found {value}"),
                        None,
                    );
                    None
                }
                None => None,
            }
        }
    };
    match (fields.get("cron"), fields.get("interval_seconds")) {
        (Some(_), Some(interval_node)) => {
            checker.at(
                interval_node,
                &fields.child("interval_seconds"),
                "a trigger has both `cron` and `interval_seconds`",
                Some(XOR_TIP.to_owned()),
            );
        }
        (None, None) => {
            checker.at(
                node,
                pointer,
                "a trigger needs `cron` or `interval_seconds`",
                Some(XOR_TIP.to_owned()),
            );
        }
        _ => {}
    }
    let timezone = match checker.zones {
        Some(zones) => zone::check_timezone(checker, &fields, cron.as_deref(), zones),
        None => Ok(None),
    };
    let trigger = Trigger {
        catchup: catchup?,
        start_date: start.ok()?.map(|(t, _)| t),
        end_date: end.ok()?.map(|(t, _)| t),
        cron,
        interval_seconds: interval,
        timezone: timezone.ok()?,
    };
    (checker.problems.len() == before).then_some(trigger)
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
