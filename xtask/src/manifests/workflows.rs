//! Checks of the CI files: GitHub workflows (references, calls of the reusable templates and their
//! permissions, the YAML blocks of the docs) and the GitLab CI example.

use super::*;

/// Names following `prefix` (e.g. `inputs.`) in a GitHub expression, where the prefix starts a
/// context reference (not the tail of another one, like `needs.x.outputs.`).
pub(super) fn references<'a>(expression: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(offset) = expression[start..].find(prefix) {
        let at = start + offset;
        let before = expression[..at].chars().next_back();
        let name_start = at + prefix.len();
        let name_len = expression[name_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(expression.len() - name_start);
        let standalone =
            before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'));
        if standalone && name_len > 0 {
            found.push(&expression[name_start..name_start + name_len]);
        }
        start = name_start;
    }
    found
}

/// Every expression in a workflow value: `${{ … }}` spans in strings, and whole `if:` conditions.
pub(super) fn expressions(value: &Value, key: Option<&str>, out: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            let mut found = false;
            while let Some(open) = rest.find("${{") {
                let after = &rest[open + 3..];
                let close = after.find("}}").unwrap_or(after.len());
                out.push(after[..close].to_owned());
                found = true;
                rest = &after[close.min(after.len())..];
            }
            if !found && key == Some("if") {
                out.push(text.clone());
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, None, out)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| expressions(v, Some(k.as_str()), out)),
        _ => {}
    }
}

/// Checks one GitHub Actions workflow file; returns the problems found.
pub fn check_github_workflow(text: &str) -> Vec<String> {
    let workflow: Value = match serde_saphyr::from_str(text) {
        Ok(workflow) => workflow,
        Err(err) => return vec![format!("does not parse as YAML: {err}")],
    };
    let mut problems = Vec::new();
    let Some(triggers) = workflow.get("on") else {
        return vec!["has no `on:` triggers".to_owned()];
    };
    let Some(jobs) = workflow.get("jobs").and_then(Value::as_object) else {
        return vec!["has no `jobs:`".to_owned()];
    };
    let call = triggers.get("workflow_call");
    let mut inputs: BTreeSet<String> = BTreeSet::new();
    for trigger in ["workflow_call", "workflow_dispatch"] {
        if let Some(declared) = triggers
            .pointer(&format!("/{trigger}/inputs"))
            .and_then(Value::as_object)
        {
            for (name, spec) in declared {
                inputs.insert(name.clone());
                let kind = spec.get("type").and_then(Value::as_str);
                let valid: &[&str] = if trigger == "workflow_call" {
                    &["string", "boolean", "number"]
                } else {
                    &["string", "boolean", "number", "choice", "environment"]
                };
                if !kind.is_some_and(|k| valid.contains(&k)) {
                    problems.push(format!(
                        "input `{name}` needs a type ({})",
                        valid.join(", ")
                    ));
                }
            }
        }
    }
    let declared_secrets: Option<BTreeSet<String>> = call.map(|call| {
        call.get("secrets")
            .and_then(Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    });

    let mut top_level = Vec::new();
    for (key, value) in workflow.as_object().into_iter().flatten() {
        if key != "jobs" && key != "on" {
            expressions(value, Some(key), &mut top_level);
        }
    }
    let check_expression =
        |expression: &str, step_ids: &BTreeSet<String>, problems: &mut Vec<String>, job: &str| {
            for name in references(expression, "inputs.") {
                if !inputs.contains(name) {
                    problems.push(format!(
                        "{job}uses `inputs.{name}`, which the workflow does not declare"
                    ));
                }
            }
            if let Some(declared) = &declared_secrets {
                for name in references(expression, "secrets.") {
                    if name != "GITHUB_TOKEN" && !declared.contains(name) {
                        problems.push(format!(
                        "{job}uses `secrets.{name}`, which the reusable workflow does not declare"
                    ));
                    }
                }
            }
            for id in references(expression, "steps.") {
                if !step_ids.contains(id) {
                    problems.push(format!("{job}uses `steps.{id}`, but no step has that id"));
                }
            }
        };
    for expression in &top_level {
        check_expression(expression, &BTreeSet::new(), &mut problems, "");
    }

    for (job_name, job) in jobs {
        let prefix = format!("job `{job_name}` ");
        if job.get("runs-on").is_none() && job.get("uses").is_none() {
            problems.push(format!("{prefix}has neither `runs-on` nor `uses`"));
        }
        let steps = job.get("steps").and_then(Value::as_array);
        if job.get("uses").is_none() && steps.is_none_or(Vec::is_empty) {
            problems.push(format!("{prefix}has no steps"));
        }
        let mut step_ids = BTreeSet::new();
        for (index, step) in steps.into_iter().flatten().enumerate() {
            if step.get("uses").is_none() && step.get("run").is_none() {
                problems.push(format!(
                    "{prefix}step {} has neither `uses` nor `run`",
                    index + 1
                ));
            }
            if let Some(id) = step.get("id").and_then(Value::as_str)
                && !step_ids.insert(id.to_owned())
            {
                problems.push(format!("{prefix}has two steps with id `{id}`"));
            }
        }
        let mut found = Vec::new();
        expressions(job, None, &mut found);
        for expression in &found {
            check_expression(expression, &step_ids, &mut problems, &prefix);
        }
    }
    problems
}

/// The contents of the ```` ```yaml ```` fenced blocks of a Markdown text.
pub(super) fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == "```yaml" || trimmed == "```yml" => current = Some(String::new()),
            Some(_) if trimmed == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// A `permissions:` value as scope -> level (0 none, 1 read, 2 write). `read-all`/`write-all` grant
/// every scope, marked by the scope `*`.
pub(super) fn permission_levels(value: &Value) -> BTreeMap<String, u8> {
    let level = |text: &str| match text {
        "write" => 2,
        "read" => 1,
        _ => 0,
    };
    match value {
        Value::String(all) => match all.as_str() {
            "read-all" => BTreeMap::from([("*".to_owned(), 1)]),
            "write-all" => BTreeMap::from([("*".to_owned(), 2)]),
            _ => BTreeMap::new(),
        },
        Value::Object(scopes) => scopes
            .iter()
            .map(|(scope, l)| (scope.clone(), l.as_str().map_or(0, level)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Checks the jobs of a workflow that call this project's reusable workflows
/// (`uses: .../.github/workflows/<template>@ref`, each given as the whole template workflow): every
/// `with:` input and every secret passed must be declared by the template, and every required input
/// must be given. The caller must also grant every permission the template asks for (at its top level
/// or in a job): a called workflow cannot raise the caller's permissions, and GitHub refuses to start
/// a run whose template asks for more. A caller granting nothing gets the restricted default token
/// (`contents: read`). Files that are not workflows, or call no template, have nothing to check.
pub fn check_template_calls(text: &str, templates: &BTreeMap<String, Value>) -> Vec<String> {
    let Ok(workflow) = serde_saphyr::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (job_name, job) in workflow
        .get("jobs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(uses) = job.get("uses").and_then(Value::as_str) else {
            continue;
        };
        let Some(template_name) = uses
            .split_once(".github/workflows/")
            .map(|(_, rest)| rest.split('@').next().unwrap_or(rest))
        else {
            continue;
        };
        let Some(template_workflow) = templates.get(template_name) else {
            continue;
        };
        let template = template_workflow
            .pointer("/on/workflow_call")
            .unwrap_or(&Value::Null);
        let declared = |key: &str| -> BTreeMap<String, Value> {
            template
                .get(key)
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        };
        let inputs = declared("inputs");
        let secrets = declared("secrets");
        let given = |key: &str| -> BTreeSet<String> {
            job.get(key)
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let with = given("with");
        for name in &with {
            if !inputs.contains_key(name) {
                problems.push(format!(
                    "job `{job_name}` passes input `{name}`, which {template_name} does not declare"
                ));
            }
        }
        for (name, spec) in &inputs {
            if spec.get("required").and_then(Value::as_bool) == Some(true) && !with.contains(name) {
                problems.push(format!(
                    "job `{job_name}` does not pass the required input `{name}` of {template_name}"
                ));
            }
        }
        if job.get("secrets").and_then(Value::as_str) != Some("inherit") {
            for name in given("secrets") {
                if !secrets.contains_key(&name) {
                    problems.push(format!(
                        "job `{job_name}` passes secret `{name}`, which {template_name} does not declare"
                    ));
                }
            }
        }
        let mut needed = BTreeMap::new();
        let template_jobs = template_workflow
            .get("jobs")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|jobs| jobs.values());
        for asked in std::iter::once(template_workflow)
            .chain(template_jobs)
            .filter_map(|v| v.get("permissions"))
        {
            for (scope, level) in permission_levels(asked) {
                let entry = needed.entry(scope).or_insert(0);
                *entry = (*entry).max(level);
            }
        }
        let granted = job
            .get("permissions")
            .or_else(|| workflow.get("permissions"))
            .map_or_else(
                || BTreeMap::from([("contents".to_owned(), 1)]),
                permission_levels,
            );
        for (scope, level) in needed {
            let has = granted
                .get(&scope)
                .or_else(|| granted.get("*"))
                .copied()
                .unwrap_or(0);
            if has < level {
                let word = if level == 2 { "write" } else { "read" };
                problems.push(format!(
                    "job `{job_name}` does not grant `{scope}: {word}`, which {template_name} asks for"
                ));
            }
        }
    }
    problems
}

/// Checks the GitLab CI example: it parses, every job has a script (or extends/triggers), and every
/// job's stage is declared.
pub fn check_gitlab_ci(text: &str) -> Vec<String> {
    const RESERVED: &[&str] = &[
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
    ];
    let doc: Value = match serde_saphyr::from_str(text) {
        Ok(doc) => doc,
        Err(err) => return vec![format!("does not parse as YAML: {err}")],
    };
    let Some(map) = doc.as_object() else {
        return vec!["is not a mapping".to_owned()];
    };
    let stages: BTreeSet<&str> = map
        .get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut problems = Vec::new();
    let mut jobs = 0;
    for (name, job) in map {
        if RESERVED.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        jobs += 1;
        if ["script", "extends", "trigger"]
            .iter()
            .all(|k| job.get(*k).is_none())
        {
            problems.push(format!("job `{name}` has no `script`"));
        }
        if let Some(stage) = job.get("stage").and_then(Value::as_str)
            && !stages.contains(stage)
        {
            problems.push(format!("job `{name}` uses the undeclared stage `{stage}`"));
        }
    }
    if jobs == 0 {
        problems.push("defines no job".to_owned());
    }
    problems
}
