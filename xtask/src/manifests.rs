//! `cargo xtask manifests`: offline checks of what the project ships besides the binary.
//!
//! * Every kustomization under `deploy/kubernetes/` (components excepted: they are built as part of
//!   the overlays using them) is rendered with `kubectl kustomize` and the result is validated with
//!   `kubernetes-validate --strict` against the Kubernetes schemas it ships. Both tools come from PyPI
//!   into the project venv (`tests/python/requirements.txt`), so no cluster and no network beyond the
//!   package registry is needed. The rendered files are kept in `target/manifests/` for inspection.
//! * The rendered objects are cross-checked where schemas cannot help: every mounted volume is
//!   declared, probes use declared ports, Services and ServiceMonitors select what they should, every
//!   referenced Secret/ConfigMap exists (or is optional), and the daemon's Deployment keeps the
//!   properties the product promises (one replica, `Recreate`, non-root, read-only root filesystem,
//!   resources, `/healthz` + `/readyz` probes, the projected KFP token, the git-sync v4 sidecar).
//! * Every GitHub workflow parses and references only the `inputs`, `secrets` and step ids it
//!   declares; the example workflows calling the reusable ones (in `examples/` and in the docs' YAML
//!   blocks) pass only declared inputs and secrets and grant the permissions the templates ask for;
//!   the GitLab CI example parses and its jobs are well-formed; the Dockerfile's final stage runs as a
//!   non-root user and only copies from stages it declares. Then the real linters ([`lint_tools`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{lint_tools, venv};

mod dockerfile;
mod kubernetes;
#[cfg(test)]
mod tests;
mod workflows;

pub use dockerfile::check_dockerfile;
pub use kubernetes::check_objects;
use workflows::yaml_blocks;
pub use workflows::{check_github_workflow, check_gitlab_ci, check_template_calls};

/// Kinds without a schema in `kubernetes-validate` that [`check_objects`] checks instead.
const CUSTOM_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule"];

/// Runs every check; the error lists every problem found.
pub fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();

    let python = venv::ensure(root)?;
    let bin = python
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", python.display()))?;
    let kubectl = bin.join("kubectl");
    let validator = bin.join("kubernetes-validate");

    let out_dir = root.join("target/manifests");
    fs::create_dir_all(&out_dir)
        .map_err(|err| format!("cannot create {}: {err}", out_dir.display()))?;
    let deploy = root.join("deploy/kubernetes");
    let kustomizations = kustomization_dirs(&deploy)?;
    if kustomizations.is_empty() {
        return Err(format!("no kustomization found under {}", deploy.display()));
    }
    let mut rendered_files = Vec::new();
    for dir in &kustomizations {
        let name = relative(root, dir);
        match kustomize(&kubectl, dir) {
            Ok(yaml) => {
                let file = out_dir.join(format!("{}.yaml", name.replace('/', "_")));
                fs::write(&file, &yaml)
                    .map_err(|err| format!("cannot write {}: {err}", file.display()))?;
                match serde_saphyr::from_multiple::<Value>(&yaml) {
                    Ok(objects) => {
                        let objects: Vec<Value> =
                            objects.into_iter().filter(|o| !o.is_null()).collect();
                        println!("    {name}: {} objects", objects.len());
                        problems.extend(
                            check_objects(&objects)
                                .into_iter()
                                .map(|p| format!("{name}: {p}")),
                        );
                    }
                    Err(err) => {
                        problems.push(format!("{name}: rendered YAML does not parse: {err}"));
                    }
                }
                rendered_files.push(file);
            }
            Err(err) => problems.push(format!("{name}: {err}")),
        }
    }
    if !rendered_files.is_empty() {
        problems.extend(schema_validate(&validator, &rendered_files));
    }

    let workflows = read_files(&root.join(".github/workflows"), &["yaml", "yml"])?;
    let mut templates = BTreeMap::new();
    for (path, text) in &workflows {
        let name = relative(root, path);
        problems.extend(
            check_github_workflow(text)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
        if let (Some(file), Ok(workflow)) = (
            path.file_name().and_then(|n| n.to_str()),
            serde_saphyr::from_str::<Value>(text),
        ) && workflow.pointer("/on/workflow_call").is_some()
        {
            templates.insert(file.to_owned(), workflow);
        }
    }
    // Workflows shipped as examples call the templates: they must pass only what the templates declare
    // and grant what they ask for.
    for (path, text) in yaml_files_below(&root.join("examples"))? {
        let name = relative(root, &path);
        problems.extend(
            check_template_calls(&text, &templates)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
    }
    for (path, text) in read_files(&root.join("docs"), &["md"])? {
        let name = relative(root, &path);
        for block in yaml_blocks(&text) {
            problems.extend(
                check_template_calls(&block, &templates)
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            );
        }
    }
    let gitlab = root.join("docs/ci/gitlab-ci.yml");
    let text = fs::read_to_string(&gitlab)
        .map_err(|err| format!("cannot read {}: {err}", gitlab.display()))?;
    problems.extend(
        check_gitlab_ci(&text)
            .into_iter()
            .map(|p| format!("docs/ci/gitlab-ci.yml: {p}")),
    );
    let dockerfile = root.join("Dockerfile");
    let text = fs::read_to_string(&dockerfile)
        .map_err(|err| format!("cannot read {}: {err}", dockerfile.display()))?;
    problems.extend(
        check_dockerfile(&text)
            .into_iter()
            .map(|p| format!("Dockerfile: {p}")),
    );
    problems.extend(lint_tools::run(root, &workflows)?);
    if problems.is_empty() {
        println!(
            "    {} kustomizations rendered and valid, workflows and Dockerfile consistent and lint-free",
            kustomizations.len()
        );
        Ok(())
    } else {
        Err(format!(
            "{} problem(s):\n  - {}",
            problems.len(),
            problems.join("\n  - ")
        ))
    }
}

pub(super) fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Folders under `dir` holding a `kustomization.yaml` that is not a `Component`, sorted.
fn kustomization_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current)
            .map_err(|err| format!("cannot list {}: {err}", current.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|err| format!("cannot list {}: {err}", current.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                let text = fs::read_to_string(&path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                let doc: Value = serde_saphyr::from_str(&text)
                    .map_err(|err| format!("{} does not parse: {err}", path.display()))?;
                if doc.get("kind").and_then(Value::as_str) != Some("Component") {
                    found.push(current.clone());
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

fn kustomize(kubectl: &Path, dir: &Path) -> Result<String, String> {
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|err| format!("cannot run {}: {err}", kubectl.display()))?;
    if !output.status.success() {
        return Err(format!(
            "kubectl kustomize failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| "kubectl kustomize printed non-UTF-8".to_owned())
}

/// `kubernetes-validate --strict`; a kind without a schema is a problem unless [`CUSTOM_KINDS`] has it.
fn schema_validate(validator: &Path, files: &[PathBuf]) -> Vec<String> {
    let output = match Command::new(validator)
        .args(["--strict", "--quiet"])
        .args(files)
        .output()
    {
        Ok(output) => output,
        Err(err) => return vec![format!("cannot run {}: {err}", validator.display())],
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut problems: Vec<String> = text
        .lines()
        .filter(|line| {
            line.starts_with("ERROR")
                || (line.contains("Couldn't find schema")
                    && !CUSTOM_KINDS
                        .iter()
                        .any(|kind| line.contains(&format!("kind {kind} "))))
        })
        .map(|line| format!("kubernetes-validate: {line}"))
        .collect();
    if !output.status.success() && problems.is_empty() {
        problems.push(format!(
            "kubernetes-validate exited with {}: {}",
            output.status,
            text.trim()
        ));
    }
    problems
}

pub(super) fn read_files(
    dir: &Path,
    extensions: &[&str],
) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files = Vec::new();
    let entries =
        fs::read_dir(dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|err| format!("cannot list {}: {err}", dir.display()))?
            .path();
        if path
            .extension()
            .is_some_and(|ext| extensions.iter().any(|e| ext == *e))
        {
            let text = fs::read_to_string(&path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            files.push((path, text));
        }
    }
    files.sort();
    Ok(files)
}

pub(super) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

pub(super) fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every YAML file below `dir` (none when `dir` does not exist).
pub(super) fn yaml_files_below(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files = Vec::new();
    if !dir.is_dir() {
        return Ok(files);
    }
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = fs::read_dir(&current)
            .map_err(|err| format!("cannot list {}: {err}", current.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|err| format!("cannot list {}: {err}", current.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                let text = fs::read_to_string(&path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                files.push((path, text));
            }
        }
    }
    files.sort();
    Ok(files)
}
