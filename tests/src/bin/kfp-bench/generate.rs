//! Generated inputs: Argo workflows of a chosen size, namespace config folders, render projects and emulator
//! state files. Everything is deterministic (a fixed pseudo-random sequence), so runs are comparable.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use kfp_client::models::{
    CronSchedule, Experiment, Job, Parameter, PipelineSpec, ResourceReference, Trigger,
};
use kfp_client::{ClientConfig, HttpKfpClient, KfpApi};
use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
use serde_json::{Map, Value, json};

/// The namespace every scenario works in.
pub const NAMESPACE: &str = "bench";

/// The service account the planner uses for runs that name none.
const RUNNER_SA: &str = "default-editor";

/// A small xorshift generator: deterministic filler text without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "data", "frame", "model", "train", "batch", "score", "feature", "loader", "metric",
            "window", "sample", "vector", "result", "output", "config", "bucket", "record",
            "schema", "tensor", "cache",
        ];
        WORDS[self.below(WORDS.len() as u64) as usize]
    }
}

/// An Argo Workflow as the KFP v1 compiler writes it, whose compact JSON is about `target_bytes` long.
/// `variant` makes pipelines differ; `compile_time` only changes a volatile annotation.
pub fn workflow(name: &str, target_bytes: usize, variant: u64, compile_time: &str) -> Value {
    let mut rng = Rng::new(variant + 1);
    let spec = json!({
        "description": format!("{name}: a generated benchmark pipeline"),
        "inputs": [
            {"name": "message", "type": "String"},
            {"default": "3", "name": "count", "optional": true, "type": "Integer"},
        ],
        "name": name,
    });
    let mut workflow = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": format!("{name}-"),
            "annotations": {
                "pipelines.kubeflow.org/kfp_sdk_version": "1.8.22",
                "pipelines.kubeflow.org/pipeline_compilation_time": compile_time,
                "pipelines.kubeflow.org/pipeline_spec": spec.to_string(),
            },
            "labels": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22"},
        },
        "spec": {
            "entrypoint": name,
            "templates": [],
            "arguments": {"parameters": [{"name": "message"}, {"name": "count", "value": "3"}]},
            "serviceAccountName": "pipeline-runner",
        },
    });
    let mut templates = Vec::new();
    let mut tasks = Vec::new();
    let mut size = workflow.to_string().len() + 200;
    let mut index = 0usize;
    while size < target_bytes {
        let step = format!("step-{index}");
        let template = step_template(&step, &mut rng, variant);
        let task = if index == 0 {
            json!({"name": step, "template": step, "arguments": {"parameters": [
                {"name": "message", "value": "{{inputs.parameters.message}}"}]}})
        } else {
            json!({"name": step, "template": step, "dependencies": [format!("step-{}", index - 1)],
                "arguments": {"parameters": [{"name": "message", "value": "{{inputs.parameters.message}}"}]}})
        };
        size += template.to_string().len() + task.to_string().len() + 2;
        templates.push(template);
        tasks.push(task);
        index += 1;
    }
    templates.push(json!({
        "name": name,
        "inputs": {"parameters": [{"name": "message"}, {"name": "count"}]},
        "dag": {"tasks": tasks},
    }));
    workflow["spec"]["templates"] = Value::Array(templates);
    workflow
}

/// One container step with a script, its component spec annotation and resources (floats included).
fn step_template(step: &str, rng: &mut Rng, variant: u64) -> Value {
    let mut script = String::from("import argparse\nimport json\n\n");
    for line in 0..(20 + rng.below(20)) {
        let _ = writeln!(
            script,
            "{}_{line} = load_{}(\"{}/{}\", limit={})  # {} {}",
            rng.word(),
            rng.word(),
            rng.word(),
            rng.word(),
            rng.below(10_000),
            rng.word(),
            variant
        );
    }
    let component_spec = json!({
        "description": format!("{step} of a generated pipeline"),
        "implementation": {"container": {"args": ["--message", {"inputValue": "message"}],
            "command": ["python", "-c", script], "image": "python:3.10"}},
        "inputs": [{"name": "message", "type": "String"}],
        "name": step,
    });
    json!({
        "name": step,
        "container": {
            "args": ["--message", "{{inputs.parameters.message}}", "--index", step],
            "command": ["python", "-c", script],
            "image": "python:3.10",
            "resources": {"limits": {"cpu": 0.5 + (rng.below(4) as f64) * 0.25, "memory": "512Mi"}},
        },
        "inputs": {"parameters": [{"name": "message"}]},
        "outputs": {"parameters": [{"name": format!("{step}-out"),
            "valueFrom": {"path": "/tmp/outputs/out/data"}}]},
        "metadata": {
            "annotations": {
                "pipelines.kubeflow.org/task_display_name": format!("Step {step}"),
                "pipelines.kubeflow.org/component_spec": component_spec.to_string(),
            },
            "labels": {
                "pipelines.kubeflow.org/kfp_sdk_version": "1.8.22",
                "pipelines.kubeflow.org/pipeline-sdk-type": "kfp",
                "pipelines.kubeflow.org/enable_caching": "true",
            },
        },
        "retryStrategy": {"limit": 2},
    })
}

/// Block-style YAML of a JSON tree: every string double-quoted (JSON escapes are YAML escapes), so the text
/// reads back as exactly the same tree.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(value.to_string().len() * 2);
    match value {
        Value::Object(map) if !map.is_empty() => yaml_map(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => yaml_list(items, 0, &mut out),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Object(m) if !m.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty())
}

fn yaml_map(map: &Map<String, Value>, indent: usize, out: &mut String) {
    for (key, value) in map {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        yaml_child(value, indent, out);
    }
}

fn yaml_list(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push('-');
        yaml_child(item, indent, out);
    }
}

fn yaml_child(value: &Value, indent: usize, out: &mut String) {
    if is_block(value) {
        out.push('\n');
        match value {
            Value::Object(map) => yaml_map(map, indent + 2, out),
            Value::Array(items) => yaml_list(items, indent + 2, out),
            _ => {}
        }
    } else {
        out.push(' ');
        out.push_str(&yaml_scalar(value));
        out.push('\n');
    }
}

/// A namespace's generated config and what KFP should hold for it.
#[derive(Debug, Clone)]
pub struct NamespaceSpec {
    /// Recurring runs.
    pub runs: usize,
    /// Versions per recurring run in KFP (the newest enabled).
    pub versions: usize,
    /// Approximate manifest size in bytes.
    pub manifest_bytes: usize,
    /// When true the newest version differs from the config (a parameter), so apply replaces every job.
    pub stale: bool,
}

impl NamespaceSpec {
    /// Experiments: one per ten recurring runs.
    pub fn experiments(&self) -> usize {
        self.runs.div_ceil(10).max(1)
    }

    /// Distinct pipelines: one per ten recurring runs (runs of a pipeline differ in parameters).
    pub fn pipelines(&self) -> usize {
        self.runs.div_ceil(10).max(1)
    }

    /// Jobs (all versions) in KFP.
    pub fn jobs(&self) -> usize {
        self.runs * self.versions
    }
}

/// A generated config folder.
#[derive(Debug, Clone)]
pub struct GeneratedConfig {
    /// The folder with `experiments.yaml` and `recurring_runs.yaml`.
    pub dir: PathBuf,
    /// Experiment names.
    pub experiments: Vec<String>,
    /// Job names.
    pub jobs: Vec<String>,
    /// Compact JSON manifest of each distinct pipeline.
    pub manifests: Vec<String>,
}

fn job_name(index: usize) -> String {
    format!("job-{index:04}")
}

fn experiment_name(index: usize) -> String {
    format!("exp-{index:03}")
}

fn parameters(run: usize) -> Vec<(String, String)> {
    vec![
        ("message".to_owned(), format!("hello from run {run}")),
        ("count".to_owned(), ((run % 7) + 1).to_string()),
    ]
}

fn cron(run: usize) -> String {
    format!("0 {} {} * * *", run % 60, run % 24)
}

/// Writes `dir/experiments.yaml`, `dir/recurring_runs.yaml` and `dir/pipelines/pNNN/workflow.yaml`.
pub fn config(dir: &Path, spec: &NamespaceSpec) -> io::Result<GeneratedConfig> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let experiments: Vec<String> = (0..spec.experiments()).map(experiment_name).collect();
    let mut text = String::from("experiments:\n");
    for name in &experiments {
        let _ = writeln!(
            text,
            "  - name: \"{name}\"\n    description: \"{name} (generated)\""
        );
    }
    fs::write(dir.join("experiments.yaml"), text)?;

    let mut manifests = Vec::new();
    for pipeline in 0..spec.pipelines() {
        let name = format!("bench-pipeline-{pipeline}");
        let tree = workflow(
            &name,
            spec.manifest_bytes,
            pipeline as u64,
            "2026-01-01T00:00:00.000000",
        );
        let folder = dir.join("pipelines").join(format!("p{pipeline:03}"));
        fs::create_dir_all(&folder)?;
        fs::write(folder.join("workflow.yaml"), to_yaml(&tree))?;
        manifests.push(tree.to_string());
    }

    let mut jobs = Vec::new();
    let mut text = String::from("recurring_runs:\n");
    for run in 0..spec.runs {
        let name = job_name(run);
        let _ = write!(
            text,
            "  - pipeline_source:\n      path: \"pipelines/p{:03}/workflow.yaml\"\n    pipeline_parameters:\n",
            run % spec.pipelines()
        );
        for (key, value) in parameters(run) {
            let _ = writeln!(text, "      - name: \"{key}\"\n        value: \"{value}\"");
        }
        let _ = write!(
            text,
            "    keep_history: 5\n    job:\n      enabled: true\n      name: \"{name}\"\n      description: \"{name} (generated)\"\n      experiment: \"{}\"\n      max_concurrency: 1\n      trigger:\n        catchup: false\n        cron: \"{}\"\n",
            experiment_name(run % spec.experiments()),
            cron(run)
        );
        jobs.push(name);
    }
    fs::write(dir.join("recurring_runs.yaml"), text)?;
    Ok(GeneratedConfig {
        dir: dir.to_path_buf(),
        experiments,
        jobs,
        manifests,
    })
}

fn uuid(kind: u64, index: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{index:012x}")
}

/// The stored form of one experiment and one job, taken from a live emulator so that the generated state
/// matches what the API itself stores.
struct Templates {
    default_experiment: Value,
    default_experiment_id: String,
    experiment: Value,
    job: Value,
}

fn templates() -> Result<Templates, String> {
    let emulator = Emulator::start(EmulatorConfig::multi_user())
        .map_err(|err| format!("cannot start an emulator: {err}"))?;
    let client = HttpKfpClient::new(ClientConfig::new(emulator.base_url()))
        .map_err(|err| format!("cannot build a client: {err}"))?;
    let experiment = client
        .create_experiment(&Experiment {
            name: "template".to_owned(),
            description: "template".to_owned(),
            resource_references: vec![ResourceReference::namespace_owner(NAMESPACE)],
            ..Experiment::default()
        })
        .map_err(|err| format!("creating the template experiment: {err}"))?;
    let manifest = workflow("template", 1000, 0, "2026-01-01T00:00:00").to_string();
    client
        .create_job(&Job {
            name: "template".to_owned(),
            description: "template".to_owned(),
            pipeline_spec: PipelineSpec {
                workflow_manifest: manifest,
                parameters: vec![Parameter::new("message", "x")],
                ..PipelineSpec::default()
            },
            resource_references: vec![ResourceReference::experiment_owner(experiment.id.clone())],
            service_account: RUNNER_SA.to_owned(),
            max_concurrency: 1,
            trigger: Trigger {
                cron_schedule: Some(CronSchedule {
                    cron: "0 0 0 * * *".to_owned(),
                    ..CronSchedule::default()
                }),
                periodic_schedule: None,
            },
            enabled: true,
            no_catchup: true,
            ..Job::default()
        })
        .map_err(|err| format!("creating the template job: {err}"))?;
    let state = emulator.state();
    let find = |list: &str, name: &str| -> Result<Value, String> {
        state[list]
            .as_array()
            .and_then(|items| items.iter().find(|item| item["name"] == name))
            .cloned()
            .ok_or_else(|| format!("the emulator state has no {list} entry named {name:?}"))
    };
    Ok(Templates {
        default_experiment: find("experiments", "Default")?,
        default_experiment_id: state["default_experiment_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        experiment: find("experiments", "template")?,
        job: find("jobs", "template")?,
    })
}

/// `GIT::{job}__{timestamp}` for version `v` (0 = oldest), and its creation time in unix seconds.
fn version_name(job: &str, version: usize) -> (String, i64) {
    // 2026-01-01T00:00:00Z, one hour per version.
    let created = 1_767_225_600 + (version as i64) * 3600;
    let name = format!("GIT::{job}__2026-01-01T{:02}-00-00Z", version % 24);
    (name, created)
}

/// Writes an emulator state file holding `config`'s experiments and `spec.versions` versions of each job.
/// The newest version matches the config unless `spec.stale`; older ones carry an older parameter value and
/// are disabled.
pub fn state_file(
    path: &Path,
    spec: &NamespaceSpec,
    config: &GeneratedConfig,
) -> Result<(), String> {
    let templates = templates()?;
    let write = || -> io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
        out.write_all(b"{\"experiments\":[")?;
        serde_json::to_writer(&mut out, &templates.default_experiment)?;
        let mut experiment_ids = Vec::new();
        for (index, name) in config.experiments.iter().enumerate() {
            let mut experiment = templates.experiment.clone();
            let id = uuid(1, index as u64);
            experiment["id"] = json!(id);
            experiment["name"] = json!(name);
            experiment["description"] = json!(format!("{name} (generated)"));
            experiment["namespace"] = json!(NAMESPACE);
            experiment["created_at"] = json!(1_767_225_600 - 86_400);
            out.write_all(b",")?;
            serde_json::to_writer(&mut out, &experiment)?;
            experiment_ids.push(id);
        }
        out.write_all(b"],\"jobs\":[")?;
        let mut first = true;
        for (run, job_name) in config.jobs.iter().enumerate() {
            let experiment = run % config.experiments.len();
            for version in 0..spec.versions {
                let newest = version + 1 == spec.versions;
                let (name, created) = version_name(job_name, version);
                let mut job = templates.job.clone();
                job["id"] = json!(uuid(2, (run * 100 + version) as u64));
                job["name"] = json!(name);
                job["description"] = json!(format!("{job_name} (generated)"));
                job["spec"]["workflow_manifest"] =
                    json!(config.manifests[run % config.manifests.len()]);
                let parameters: Vec<Value> = parameters(run)
                    .into_iter()
                    .map(|(key, value)| {
                        let value = if newest && !spec.stale {
                            value
                        } else {
                            format!("{value} (v{version})")
                        };
                        json!({"name": key, "value": value})
                    })
                    .collect();
                job["spec"]["parameters"] = Value::Array(parameters);
                if let Some(references) = job["references"].as_array_mut() {
                    for reference in references {
                        if reference["key_type"] == "EXPERIMENT" {
                            reference["key_id"] = json!(experiment_ids[experiment]);
                            reference["name"] = json!(config.experiments[experiment]);
                        }
                    }
                }
                job["service_account"] = json!(RUNNER_SA);
                job["max_concurrency"] = json!(1);
                job["cron"] = json!(cron(run));
                job["created_at"] = json!(created);
                job["updated_at"] = json!(created);
                job["enabled"] = json!(newest);
                job["no_catchup"] = json!(true);
                job["namespace"] = json!(NAMESPACE);
                job["experiment_id"] = json!(experiment_ids[experiment]);
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &job)?;
            }
        }
        out.write_all(b"],\"runs\":[],\"pipelines\":[],\"default_experiment_id\":")?;
        serde_json::to_writer(&mut out, &templates.default_experiment_id)?;
        out.write_all(b"}")?;
        out.flush()
    };
    write().map_err(|err| format!("writing {}: {err}", path.display()))
}

/// A render project of `targets` targets whose command copies `src/` into the output; the committed
/// `RENDERED_PIPELINE/` equals the render except for the compile time (a volatile annotation).
pub fn render_project(dir: &Path, targets: usize, manifest_bytes: usize) -> io::Result<PathBuf> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let mut project = String::from("render_targets:\n");
    for target in 0..targets {
        let name = format!("t{target:03}");
        let workdir = dir.join(&name);
        for (folder, time) in [
            ("src", "2026-02-02T00:00:00.000000"),
            ("RENDERED_PIPELINE", "2026-01-01T00:00:00.000000"),
        ] {
            let params = workdir.join(folder).join("params");
            fs::create_dir_all(&params)?;
            let tree = workflow(
                &format!("render-{target}"),
                manifest_bytes,
                target as u64,
                time,
            );
            fs::write(workdir.join(folder).join("workflow.yaml"), to_yaml(&tree))?;
            fs::write(
                params.join("message"),
                format!("hello from target {target}"),
            )?;
        }
        let _ = write!(
            project,
            "  - name: \"{name}\"\n    workdir: \"{name}\"\n    command: [\"cp\", \"-R\", \"src/.\", \"{{output}}\"]\n"
        );
    }
    let file = dir.join("kfp-gitops.yaml");
    fs::write(&file, project)?;
    Ok(file)
}
