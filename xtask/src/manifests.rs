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

fn relative(root: &Path, path: &Path) -> String {
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

fn read_files(dir: &Path, extensions: &[&str]) -> Result<Vec<(PathBuf, String)>, String> {
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

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Cross-checks of one rendered kustomization; returns the problems found.
pub fn check_objects(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let named = |kind: &str| -> BTreeSet<String> {
        objects
            .iter()
            .filter(|o| str_at(o, "/kind") == Some(kind))
            .filter_map(|o| str_at(o, "/metadata/name").map(str::to_owned))
            .collect()
    };
    let secrets = named("Secret");
    let config_maps = named("ConfigMap");
    let service_accounts = named("ServiceAccount");
    let deployments: Vec<&Value> = objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("Deployment"))
        .collect();
    let services: Vec<&Value> = objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("Service"))
        .collect();

    for deployment in &deployments {
        let name = str_at(deployment, "/metadata/name").unwrap_or("?");
        let what = format!("Deployment {name}");
        problems.extend(check_pod(
            &what,
            deployment
                .pointer("/spec/template/spec")
                .unwrap_or(&Value::Null),
            &secrets,
            &config_maps,
            &service_accounts,
        ));
        if deployment.pointer("/spec/replicas").and_then(Value::as_i64) != Some(1) {
            problems.push(format!(
                "{what}: must run exactly one replica (spec.replicas: 1)"
            ));
        }
        if str_at(deployment, "/spec/strategy/type") != Some("Recreate") {
            problems.push(format!(
                "{what}: must use the Recreate strategy (never two reconcilers at once)"
            ));
        }
        let selector = string_map(deployment.pointer("/spec/selector/matchLabels"));
        let labels = string_map(deployment.pointer("/spec/template/metadata/labels"));
        if !selects(&selector, &labels) {
            problems.push(format!(
                "{what}: spec.selector does not match the pod template's labels"
            ));
        }
    }

    for service in &services {
        let name = str_at(service, "/metadata/name").unwrap_or("?");
        let selector = string_map(service.pointer("/spec/selector"));
        let target = deployments.iter().find(|d| {
            selects(
                &selector,
                &string_map(d.pointer("/spec/template/metadata/labels")),
            )
        });
        let Some(target) = target else {
            problems.push(format!(
                "Service {name}: its selector matches no Deployment's pods"
            ));
            continue;
        };
        let pod_ports: BTreeSet<&str> = array_at(target, "/spec/template/spec/containers")
            .iter()
            .flat_map(|c| array_at(c, "/ports"))
            .filter_map(|p| str_at(p, "/name"))
            .collect();
        for port in array_at(service, "/spec/ports") {
            if let Some(target_port) = str_at(port, "/targetPort")
                && !pod_ports.contains(target_port)
            {
                problems.push(format!(
                    "Service {name}: targetPort `{target_port}` is not a named container port"
                ));
            }
        }
    }

    for monitor in objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("ServiceMonitor"))
    {
        let name = str_at(monitor, "/metadata/name").unwrap_or("?");
        if str_at(monitor, "/apiVersion") != Some("monitoring.coreos.com/v1") {
            problems.push(format!(
                "ServiceMonitor {name}: apiVersion must be monitoring.coreos.com/v1"
            ));
        }
        let selector = string_map(monitor.pointer("/spec/selector/matchLabels"));
        let selected: Vec<&&Value> = services
            .iter()
            .filter(|s| selects(&selector, &string_map(s.pointer("/metadata/labels"))))
            .collect();
        if selected.is_empty() {
            problems.push(format!(
                "ServiceMonitor {name}: its selector matches no Service"
            ));
        }
        let endpoints = array_at(monitor, "/spec/endpoints");
        if endpoints.is_empty() {
            problems.push(format!("ServiceMonitor {name}: no endpoints"));
        }
        for endpoint in endpoints {
            let port = str_at(endpoint, "/port").unwrap_or("");
            let known = selected.iter().any(|s| {
                array_at(s, "/spec/ports")
                    .iter()
                    .any(|p| str_at(p, "/name") == Some(port))
            });
            if !known {
                problems.push(format!(
                    "ServiceMonitor {name}: endpoint port `{port}` is not a port of the selected Service"
                ));
            }
        }
    }

    for rule_set in objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("PrometheusRule"))
    {
        let name = str_at(rule_set, "/metadata/name").unwrap_or("?");
        let groups = array_at(rule_set, "/spec/groups");
        if groups.is_empty() {
            problems.push(format!("PrometheusRule {name}: no groups"));
        }
        for group in groups {
            for rule in array_at(group, "/rules") {
                let has_name = str_at(rule, "/alert").or_else(|| str_at(rule, "/record"));
                if has_name.is_none() || str_at(rule, "/expr").is_none_or(str::is_empty) {
                    problems.push(format!(
                        "PrometheusRule {name}: every rule needs `alert` (or `record`) and `expr`"
                    ));
                }
            }
        }
    }

    if let Some(daemon) = deployments.iter().find(|d| {
        array_at(d, "/spec/template/spec/containers")
            .iter()
            .any(|c| str_at(c, "/name") == Some("kfp-gitops"))
    }) {
        problems.extend(check_daemon(daemon));
    } else if !deployments.is_empty() {
        problems.push("no Deployment has the `kfp-gitops` container".to_owned());
    }
    problems
}

/// References inside one pod spec: volumes, ports of probes, Secrets, ConfigMaps, ServiceAccount.
fn check_pod(
    what: &str,
    pod: &Value,
    secrets: &BTreeSet<String>,
    config_maps: &BTreeSet<String>,
    service_accounts: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let volumes: BTreeSet<&str> = array_at(pod, "/volumes")
        .iter()
        .filter_map(|v| str_at(v, "/name"))
        .collect();
    if let Some(account) = str_at(pod, "/serviceAccountName")
        && !service_accounts.contains(account)
    {
        problems.push(format!(
            "{what}: ServiceAccount `{account}` is not part of the manifests"
        ));
    }
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool) == Some(true);
    for volume in array_at(pod, "/volumes") {
        if let Some(secret) = str_at(volume, "/secret/secretName")
            && !secrets.contains(secret)
            && !volume.pointer("/secret").is_some_and(optional)
        {
            problems.push(format!(
                "{what}: volume uses Secret `{secret}`, which is not part of the manifests"
            ));
        }
    }
    let containers = array_at(pod, "/containers")
        .iter()
        .chain(array_at(pod, "/initContainers"));
    for container in containers {
        let cname = str_at(container, "/name").unwrap_or("?");
        let ports: BTreeSet<&str> = array_at(container, "/ports")
            .iter()
            .filter_map(|p| str_at(p, "/name"))
            .collect();
        for mount in array_at(container, "/volumeMounts") {
            let volume = str_at(mount, "/name").unwrap_or("");
            if !volumes.contains(volume) {
                problems.push(format!(
                    "{what}: container {cname} mounts the undeclared volume `{volume}`"
                ));
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(port) = str_at(container, &format!("/{probe}/httpGet/port"))
                && !ports.contains(port)
            {
                problems.push(format!(
                    "{what}: container {cname}: {probe} uses the undeclared port `{port}`"
                ));
            }
        }
        for env in array_at(container, "/env") {
            if let Some(reference) = env.pointer("/valueFrom/secretKeyRef") {
                let secret = str_at(reference, "/name").unwrap_or("");
                if !secrets.contains(secret) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads Secret `{secret}`, which is not part of the manifests"
                    ));
                }
            }
            if let Some(reference) = env.pointer("/valueFrom/configMapKeyRef") {
                let map = str_at(reference, "/name").unwrap_or("");
                if !config_maps.contains(map) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads ConfigMap `{map}`, which is not part of the manifests"
                    ));
                }
            }
        }
        for source in array_at(container, "/envFrom") {
            if let Some(reference) = source.pointer("/configMapRef") {
                let map = str_at(reference, "/name").unwrap_or("");
                if !config_maps.contains(map) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads ConfigMap `{map}`, which is not part of the manifests"
                    ));
                }
            }
            if let Some(reference) = source.pointer("/secretRef") {
                let secret = str_at(reference, "/name").unwrap_or("");
                if !secrets.contains(secret) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads Secret `{secret}`, which is not part of the manifests"
                    ));
                }
            }
        }
    }
    problems
}

/// What the product promises about the daemon's Deployment (issue: automatic reconciliation).
fn check_daemon(deployment: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let pod = deployment
        .pointer("/spec/template/spec")
        .unwrap_or(&Value::Null);
    if pod
        .pointer("/securityContext/runAsNonRoot")
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push("the daemon's pod must set securityContext.runAsNonRoot: true".to_owned());
    }
    let containers = array_at(pod, "/containers");
    for container in containers {
        let cname = str_at(container, "/name").unwrap_or("?");
        if container
            .pointer("/securityContext/readOnlyRootFilesystem")
            .and_then(Value::as_bool)
            != Some(true)
        {
            problems.push(format!(
                "container {cname} must have a read-only root filesystem"
            ));
        }
        if container
            .pointer("/securityContext/allowPrivilegeEscalation")
            .and_then(Value::as_bool)
            != Some(false)
        {
            problems.push(format!(
                "container {cname} must set allowPrivilegeEscalation: false"
            ));
        }
        if container.pointer("/resources/requests").is_none()
            || container.pointer("/resources/limits/memory").is_none()
        {
            problems.push(format!(
                "container {cname} must declare resource requests and a memory limit"
            ));
        }
    }
    problems.extend(check_istio_drain(deployment));
    let Some(daemon) = containers
        .iter()
        .find(|c| str_at(c, "/name") == Some("kfp-gitops"))
    else {
        return problems;
    };
    if str_at(daemon, "/livenessProbe/httpGet/path") != Some("/healthz") {
        problems.push("the kfp-gitops container's liveness probe must be GET /healthz".to_owned());
    }
    if str_at(daemon, "/readinessProbe/httpGet/path") != Some("/readyz") {
        problems.push("the kfp-gitops container's readiness probe must be GET /readyz".to_owned());
    }
    let token_volume = array_at(pod, "/volumes").iter().find(|v| {
        array_at(v, "/projected/sources").iter().any(|s| {
            str_at(s, "/serviceAccountToken/audience") == Some("pipelines.kubeflow.org")
                && str_at(s, "/serviceAccountToken/path") == Some("token")
        })
    });
    match token_volume.and_then(|v| str_at(v, "/name")) {
        None => problems.push(
            "no projected serviceAccountToken volume with audience pipelines.kubeflow.org and path token"
                .to_owned(),
        ),
        Some(volume) => {
            let mounted = array_at(daemon, "/volumeMounts").iter().any(|m| {
                str_at(m, "/name") == Some(volume)
                    && str_at(m, "/mountPath") == Some("/var/run/secrets/kubeflow/pipelines")
            });
            if !mounted {
                problems.push(format!(
                    "the token volume `{volume}` must be mounted at /var/run/secrets/kubeflow/pipelines"
                ));
            }
        }
    }
    let git_sync = containers.iter().find(|c| {
        str_at(c, "/image")
            .is_some_and(|image| image.starts_with("registry.k8s.io/git-sync/git-sync:v4."))
    });
    match git_sync {
        None => problems
            .push("no git-sync v4 sidecar (registry.k8s.io/git-sync/git-sync:v4.x)".to_owned()),
        Some(sidecar) => {
            let shared = array_at(sidecar, "/volumeMounts").iter().any(|m| {
                let name = str_at(m, "/name");
                array_at(daemon, "/volumeMounts")
                    .iter()
                    .any(|d| str_at(d, "/name") == name)
                    && array_at(pod, "/volumes")
                        .iter()
                        .any(|v| str_at(v, "/name") == name && v.get("emptyDir").is_some())
            });
            if !shared {
                problems.push("git-sync and kfp-gitops must share an emptyDir volume".to_owned());
            }
        }
    }
    problems
}

/// Names following `prefix` (e.g. `inputs.`) in a GitHub expression, where the prefix starts a
/// context reference (not the tail of another one, like `needs.x.outputs.`).
fn references<'a>(expression: &'a str, prefix: &str) -> Vec<&'a str> {
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
fn expressions(value: &Value, key: Option<&str>, out: &mut Vec<String>) {
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

/// Every YAML file below `dir` (none when `dir` does not exist).
fn yaml_files_below(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
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

/// Seconds of a Go-style duration as Istio writes them (`90s`, `2m`, `1m30s`).
fn duration_seconds(text: &str) -> Option<u64> {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total += number.parse::<u64>().ok()? * unit;
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(total)
}

/// A daemon pod configured for an Istio sidecar (`proxy.istio.io/config`) must keep the proxy up
/// while the daemon finishes its job after SIGTERM: Istio's default drain of 5 s would cut off the KFP
/// calls of the grace period. Either `terminationDrainDuration` covers
/// `terminationGracePeriodSeconds`, or the proxy waits for the connections to end
/// (`EXIT_ON_ZERO_ACTIVE_CONNECTIONS`).
fn check_istio_drain(deployment: &Value) -> Vec<String> {
    let Some(text) = str_at(
        deployment,
        "/spec/template/metadata/annotations/proxy.istio.io~1config",
    ) else {
        return Vec::new();
    };
    let Ok(config) = serde_saphyr::from_str::<Value>(text) else {
        return vec!["the proxy.istio.io/config annotation does not parse".to_owned()];
    };
    let grace = deployment
        .pointer("/spec/template/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    if str_at(&config, "/proxyMetadata/EXIT_ON_ZERO_ACTIVE_CONNECTIONS") == Some("true") {
        return Vec::new();
    }
    let drain = str_at(&config, "/terminationDrainDuration");
    match drain.map(duration_seconds) {
        Some(Some(seconds)) if seconds >= grace => Vec::new(),
        Some(None) => vec![format!(
            "terminationDrainDuration `{}` of proxy.istio.io/config is not a duration",
            drain.unwrap_or_default()
        )],
        _ => vec![format!(
            "the Istio proxy drains for {}, less than the {grace} s terminationGracePeriodSeconds the daemon may use to finish a job: set terminationDrainDuration (or EXIT_ON_ZERO_ACTIVE_CONNECTIONS) in proxy.istio.io/config",
            drain.unwrap_or("5s (the default)")
        )],
    }
}

/// The contents of the ```` ```yaml ```` fenced blocks of a Markdown text.
fn yaml_blocks(markdown: &str) -> Vec<String> {
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
fn permission_levels(value: &Value) -> BTreeMap<String, u8> {
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

/// Checks the Dockerfile: stages referenced by `COPY --from` exist, and the final stage drops root.
pub fn check_dockerfile(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut user_of_last_stage: Option<String> = None;
    let mut stage_count = 0;
    // Continuation lines are joined so each instruction is one line.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let instruction = words.next().unwrap_or("").to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match instruction.as_str() {
            "FROM" => {
                stage_count += 1;
                user_of_last_stage = None;
                if let Some(position) = args.iter().position(|w| w.eq_ignore_ascii_case("AS"))
                    && let Some(name) = args.get(position + 1)
                {
                    stages.push((*name).to_owned());
                }
            }
            "COPY" => {
                for arg in &args {
                    if let Some(from) = arg.strip_prefix("--from=")
                        && !stages.iter().any(|s| s == from)
                    {
                        problems.push(format!(
                            "COPY --from={from}: no earlier stage is named `{from}`"
                        ));
                    }
                }
            }
            "USER" => user_of_last_stage = args.first().map(|u| (*u).to_owned()),
            _ => {}
        }
    }
    if stage_count < 2 {
        problems.push(
            "must be a multi-stage build (a build stage and a small runtime stage)".to_owned(),
        );
    }
    match user_of_last_stage {
        None => {
            problems.push("the final stage has no USER: the image would run as root".to_owned());
        }
        Some(user) => {
            let name = user.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                problems.push(format!(
                    "the final stage runs as `{user}`: it must be a non-root user"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_file(path: &str) -> String {
        fs::read_to_string(crate::project_root().join(path)).unwrap()
    }

    #[test]
    fn the_projects_workflows_pass_the_workflow_checks() {
        let files = read_files(
            &crate::project_root().join(".github/workflows"),
            &["yaml", "yml"],
        )
        .unwrap();
        assert!(
            files.len() >= 4,
            "expected the CI workflow and three templates"
        );
        for (path, text) in files {
            assert_eq!(
                check_github_workflow(&text),
                Vec::<String>::new(),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn the_gitlab_example_and_the_dockerfile_pass_their_checks() {
        assert_eq!(
            check_gitlab_ci(&project_file("docs/ci/gitlab-ci.yml")),
            Vec::<String>::new()
        );
        assert_eq!(
            check_dockerfile(&project_file("Dockerfile")),
            Vec::<String>::new()
        );
    }

    const CALLABLE: &str = r#"
on:
  workflow_call:
    inputs:
      api-url:
        type: string
    secrets:
      KFP_TOKEN:
        required: false
jobs:
  plan:
    runs-on: ubuntu-24.04
    if: inputs.api-url != ''
    steps:
      - id: plan
        run: echo "${{ inputs.api-url }} ${{ secrets.KFP_TOKEN }} ${{ secrets.GITHUB_TOKEN }}"
      - if: steps.plan.outputs.reachable == 'true'
        run: echo ok
"#;

    #[test]
    fn a_workflow_using_only_what_it_declares_passes() {
        assert_eq!(check_github_workflow(CALLABLE), Vec::<String>::new());
    }

    #[test]
    fn an_undeclared_input_is_reported_also_inside_an_if_condition() {
        let text = CALLABLE.replace("if: inputs.api-url", "if: inputs.api_url");
        assert_eq!(
            check_github_workflow(&text),
            vec!["job `plan` uses `inputs.api_url`, which the workflow does not declare"]
        );
    }

    #[test]
    fn an_undeclared_secret_and_an_unknown_step_id_are_reported() {
        let text = CALLABLE
            .replace("secrets.KFP_TOKEN }}", "secrets.DEX_PASSWORD }}")
            .replace("steps.plan.outputs", "steps.planned.outputs");
        assert_eq!(
            check_github_workflow(&text),
            vec![
                "job `plan` uses `secrets.DEX_PASSWORD`, which the reusable workflow does not declare",
                "job `plan` uses `steps.planned`, but no step has that id",
            ]
        );
    }

    #[test]
    fn a_workflow_that_is_not_yaml_is_reported() {
        let problems = check_github_workflow("on: [push\njobs: {");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("does not parse as YAML"),
            "{problems:?}"
        );
    }

    #[test]
    fn callers_of_a_template_may_pass_only_what_it_declares_and_must_pass_what_it_requires() {
        let template: Value = serde_saphyr::from_str::<Value>(
            "on:\n  workflow_call:\n    inputs:\n      api-url: {type: string, required: true}\n      prune: {type: string}\n    secrets:\n      KFP_TOKEN: {}\n",
        )
        .unwrap();
        let templates = BTreeMap::from([("_apply-on-merge.yaml".to_owned(), template)]);
        let caller = "on: push\njobs:\n  apply:\n    uses: o/r/.github/workflows/_apply-on-merge.yaml@v1\n    with:\n      prune: delete\n      dry-run: true\n    secrets:\n      DEX_PASSWORD: x\n";
        assert_eq!(
            check_template_calls(caller, &templates),
            vec![
                "job `apply` passes input `dry-run`, which _apply-on-merge.yaml does not declare",
                "job `apply` does not pass the required input `api-url` of _apply-on-merge.yaml",
                "job `apply` passes secret `DEX_PASSWORD`, which _apply-on-merge.yaml does not declare",
            ]
        );
        let fine = "on: push\njobs:\n  apply:\n    uses: o/r/.github/workflows/_apply-on-merge.yaml@v1\n    with:\n      api-url: u\n    secrets: inherit\n";
        assert_eq!(check_template_calls(fine, &templates), Vec::<String>::new());
    }

    #[test]
    fn an_istio_proxy_must_outlast_the_daemons_grace_period() {
        let deployment = |config: &str| -> Value {
            serde_json::json!({"spec": {"template": {
                "metadata": {"annotations": {"proxy.istio.io/config": config}},
                "spec": {"terminationGracePeriodSeconds": 120},
            }}})
        };
        assert_eq!(
            check_istio_drain(&deployment(r#"{"holdApplicationUntilProxyStarts": true}"#)),
            vec![
                "the Istio proxy drains for 5s (the default), less than the 120 s terminationGracePeriodSeconds the daemon may use to finish a job: set terminationDrainDuration (or EXIT_ON_ZERO_ACTIVE_CONNECTIONS) in proxy.istio.io/config"
            ]
        );
        assert_eq!(
            check_istio_drain(&deployment(r#"{"terminationDrainDuration": "1m"}"#)).len(),
            1
        );
        assert_eq!(
            check_istio_drain(&deployment(r#"{"terminationDrainDuration": "2m"}"#)),
            Vec::<String>::new()
        );
        assert_eq!(
            check_istio_drain(&deployment(
                "proxyMetadata:\n  EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true'\n"
            )),
            Vec::<String>::new()
        );
        assert_eq!(
            check_istio_drain(&deployment(r#"{"terminationDrainDuration": "soon"}"#)),
            vec!["terminationDrainDuration `soon` of proxy.istio.io/config is not a duration"]
        );
        assert_eq!(duration_seconds("1m30s"), Some(90));
        // Without the annotation, no sidecar is configured here: nothing to check.
        assert_eq!(
            check_istio_drain(&serde_json::json!({"spec": {}})),
            Vec::<String>::new()
        );
    }

    #[test]
    fn yaml_blocks_of_markdown_are_found() {
        let markdown = "text\n```yaml\na: 1\n```\n```sh\nls\n```\n```yml\nb: 2\n```\n";
        assert_eq!(yaml_blocks(markdown), vec!["a: 1\n", "b: 2\n"]);
    }

    #[test]
    fn callers_of_a_template_must_grant_the_permissions_it_asks_for() {
        let template: Value = serde_saphyr::from_str::<Value>(
            "on:\n  workflow_call: {}\npermissions:\n  contents: read\n  pull-requests: write\njobs:\n  check:\n    runs-on: x\n    permissions:\n      checks: read\n",
        )
        .unwrap();
        let templates = BTreeMap::from([("_check-configs.yaml".to_owned(), template)]);
        let call = |permissions: &str| {
            format!(
                "on: pull_request\n{permissions}jobs:\n  check:\n    uses: o/r/.github/workflows/_check-configs.yaml@v1\n"
            )
        };
        assert_eq!(
            check_template_calls(&call(""), &templates),
            vec![
                "job `check` does not grant `checks: read`, which _check-configs.yaml asks for",
                "job `check` does not grant `pull-requests: write`, which _check-configs.yaml asks for",
            ]
        );
        assert_eq!(
            check_template_calls(
                &call("permissions:\n  contents: read\n  checks: write\n  pull-requests: read\n"),
                &templates
            ),
            vec![
                "job `check` does not grant `pull-requests: write`, which _check-configs.yaml asks for"
            ]
        );
        assert_eq!(
            check_template_calls(&call("permissions: write-all\n"), &templates),
            Vec::<String>::new()
        );
        let in_the_job = "on: pull_request\njobs:\n  check:\n    uses: o/r/.github/workflows/_check-configs.yaml@v1\n    permissions:\n      contents: read\n      checks: read\n      pull-requests: write\n";
        assert_eq!(
            check_template_calls(in_the_job, &templates),
            Vec::<String>::new()
        );
    }

    #[test]
    fn outputs_of_needed_jobs_are_not_mistaken_for_inputs() {
        assert_eq!(
            references("needs.build.outputs.inputs.x && inputs.y", "inputs."),
            vec!["y"]
        );
    }

    #[test]
    fn a_dockerfile_running_as_root_or_copying_from_an_unknown_stage_is_reported() {
        let text = "FROM rust AS build\nRUN cargo build\nFROM debian\nCOPY --from=builder /a /b\nUSER root\n";
        assert_eq!(
            check_dockerfile(text),
            vec![
                "COPY --from=builder: no earlier stage is named `builder`",
                "the final stage runs as `root`: it must be a non-root user",
            ]
        );
        let text = "FROM rust AS build\nFROM debian\nCOPY --from=build /a /b\n";
        assert_eq!(
            check_dockerfile(text),
            vec!["the final stage has no USER: the image would run as root"]
        );
    }

    #[test]
    fn a_gitlab_job_without_script_or_with_an_unknown_stage_is_reported() {
        let text = "stages: [check]\nvalidate:\n  stage: check\n  script: [kfp-gitops validate]\napply:\n  stage: deploy\n  image: x\n";
        assert_eq!(
            check_gitlab_ci(text),
            vec![
                "job `apply` has no `script`",
                "job `apply` uses the undeclared stage `deploy`",
            ]
        );
    }

    fn rendered_base() -> Vec<Value> {
        serde_saphyr::from_multiple(
            r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: kfp-gitops}
---
apiVersion: v1
kind: Service
metadata:
  name: kfp-gitops
  labels: {app: kfp-gitops}
spec:
  selector: {app: kfp-gitops}
  ports: [{name: http, port: 9090, targetPort: http}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: kfp-gitops}
spec:
  selector: {matchLabels: {app: kfp-gitops}}
  endpoints: [{port: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kfp-gitops}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: kfp-gitops}}
  template:
    metadata: {labels: {app: kfp-gitops}}
    spec:
      serviceAccountName: kfp-gitops
      securityContext: {runAsNonRoot: true}
      containers:
        - name: kfp-gitops
          image: kfp-gitops
          ports: [{name: http, containerPort: 9090}]
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          volumeMounts:
            - {name: git, mountPath: /git}
            - {name: kfp-token, mountPath: /var/run/secrets/kubeflow/pipelines}
        - name: git-sync
          image: registry.k8s.io/git-sync/git-sync:v4.4.2
          resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          env:
            - name: GITSYNC_PASSWORD
              valueFrom: {secretKeyRef: {name: creds, key: p, optional: true}}
          volumeMounts: [{name: git, mountPath: /git}]
      volumes:
        - {name: git, emptyDir: {}}
        - name: kfp-token
          projected:
            sources: [{serviceAccountToken: {path: token, audience: pipelines.kubeflow.org}}]
"#,
        )
        .unwrap()
    }

    #[test]
    fn a_consistent_deployment_with_service_and_monitor_passes() {
        assert_eq!(check_objects(&rendered_base()), Vec::<String>::new());
    }

    #[test]
    fn broken_references_and_lost_promises_are_reported() {
        let mut objects = rendered_base();
        let deployment = &mut objects[3];
        deployment["spec"]["strategy"]["type"] = "RollingUpdate".into();
        let pod = &mut deployment["spec"]["template"]["spec"];
        pod["containers"][0]["readinessProbe"]["httpGet"]["port"] = "metrics".into();
        pod["containers"][1]["volumeMounts"][0]["name"] = "checkout".into();
        pod["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]["audience"] =
            "kubernetes".into();
        objects[2]["spec"]["endpoints"][0]["port"] = "web".into();
        assert_eq!(
            check_objects(&objects),
            vec![
                "Deployment kfp-gitops: container kfp-gitops: readinessProbe uses the undeclared port `metrics`",
                "Deployment kfp-gitops: container git-sync mounts the undeclared volume `checkout`",
                "Deployment kfp-gitops: must use the Recreate strategy (never two reconcilers at once)",
                "ServiceMonitor kfp-gitops: endpoint port `web` is not a port of the selected Service",
                "no projected serviceAccountToken volume with audience pipelines.kubeflow.org and path token",
                "git-sync and kfp-gitops must share an emptyDir volume",
            ]
        );
    }
}
