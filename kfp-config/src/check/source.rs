//! The rules of a recurring run's pipeline source and parameters.

use super::*;

pub(super) const SOURCE_FORMS: &str = "a pipeline_source is one of: `{github_owner, github_repo, git_reference, file_path}`, \
     `{git_url, git_reference, file_path}`, `{path}` or `{rendered_pipeline}`";

pub(super) fn check_source(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
) -> Option<PipelineSource> {
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

pub(super) fn check_parameter(
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

pub(super) fn check_value_from(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
) -> Option<ValueFrom> {
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
