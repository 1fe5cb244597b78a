//! Runs (their life cycle and the rules of terminate/retry/archive) and pipelines (multipart upload with
//! the upload handler's own error format, templates, use by jobs).

use std::time::Duration;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, RunOutcome, client};
use serde_json::{Value, json};

const API: &str = "/apis/v1beta1";
const MANIFEST: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-"}, "spec": {"arguments": {"parameters": [{"name": "msg", "value": "hi"}]}}}"#;
const PIPELINE_YAML: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: hello-\n  annotations:\n    z.example/b: '2'\n    a.example/a: '1'\nspec:\n  entrypoint: hello\n  arguments:\n    parameters:\n    - {name: msg, value: hi}\n    - {name: n}\n  templates:\n  - name: hello\n    container: {image: 'alpine:3.18'}\n";

fn call(emulator: &Emulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (headers, bytes): (&[(&str, &str)], Vec<u8>) = match body {
        Some(body) => (
            &[("Content-Type", "application/json")],
            body.to_string().into_bytes(),
        ),
        None => (&[], Vec::new()),
    };
    let response = client::send(emulator.addr(), method, path, headers, &bytes).expect("answered");
    (response.status, response.json())
}

fn error_message(body: &Value) -> String {
    body["details"][0]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn slow_runs() -> Emulator {
    Emulator::start(EmulatorConfig::single_user().with_run_duration(Duration::from_secs(3600)))
        .unwrap()
}

fn create_run(emulator: &Emulator) -> String {
    let (status, body) = call(
        emulator,
        "POST",
        &format!("{API}/runs"),
        Some(
            json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST, "parameters": [{"name": "msg", "value": "x"}]}}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    body["run"]["id"].as_str().unwrap().to_owned()
}

fn run_status(emulator: &Emulator, id: &str) -> (String, String) {
    let (_, body) = call(emulator, "GET", &format!("{API}/runs/{id}"), None);
    (
        body["run"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["run"]["finished_at"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[test]
fn a_created_run_has_no_status_yet_and_the_zero_finish_time() {
    let emulator = slow_runs();
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/runs"),
        Some(json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST}})),
    );
    assert_eq!(status, 200);
    let run = &body["run"];
    assert!(run.get("status").is_none());
    assert!(
        run.get("storage_state").is_none(),
        "AVAILABLE is enum 0 for runs and is omitted"
    );
    assert_eq!(run["finished_at"], json!("1970-01-01T00:00:00Z"));
    assert_eq!(run["resource_references"][0]["name"], json!("Default"));
    assert_eq!(run["pipeline_spec"]["workflow_manifest"], json!(MANIFEST));
    assert!(body["pipeline_runtime"]["workflow_manifest"].is_string());
}

#[test]
fn runs_move_from_pending_to_running_to_succeeded_with_time() {
    let emulator = slow_runs();
    let id = create_run(&emulator);
    assert_eq!(run_status(&emulator, &id).0, "Pending");
    emulator.advance_clock(Duration::from_secs(1200));
    assert_eq!(
        run_status(&emulator, &id),
        ("Running".to_owned(), "1970-01-01T00:00:00Z".to_owned())
    );
    emulator.advance_clock(Duration::from_secs(2400));
    let (status, finished) = run_status(&emulator, &id);
    assert_eq!(status, "Succeeded");
    assert_ne!(finished, "1970-01-01T00:00:00Z");
}

#[test]
fn finish_fails_a_run_and_retry_and_terminate_follow_the_servers_rules() {
    let emulator = slow_runs();
    let id = create_run(&emulator);
    let (status, _) = call(
        &emulator,
        "POST",
        &format!("/_emulator/runs/{id}/finish"),
        Some(json!({"status": "Failed"})),
    );
    assert_eq!(status, 200);
    assert_eq!(run_status(&emulator, &id).0, "Failed");
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/runs/{id}/terminate"),
        None,
    );
    assert_eq!(
        (status, error_message(&body)),
        (400, format!("Failed to terminate run {id}. Row not found."))
    );
    assert_eq!(
        call(&emulator, "POST", &format!("{API}/runs/{id}/retry"), None),
        (200, json!({}))
    );
    assert_eq!(run_status(&emulator, &id).0, "Pending");
    assert_eq!(
        call(
            &emulator,
            "POST",
            &format!("{API}/runs/{id}/terminate"),
            None
        ),
        (200, json!({}))
    );
    assert_eq!(run_status(&emulator, &id).0, "Terminating");
    emulator.advance_clock(Duration::from_secs(900));
    assert_eq!(run_status(&emulator, &id).0, "Failed");

    assert!(emulator.finish_run(&id, RunOutcome::Succeeded));
    let (status, body) = call(&emulator, "POST", &format!("{API}/runs/{id}/retry"), None);
    assert_eq!(
        (status, error_message(&body).as_str()),
        (409, "Workflow must be Failed/Error to retry")
    );
    assert_eq!(body["code"], json!(10));
    assert!(!emulator.finish_run("nope", RunOutcome::Failed));
}

#[test]
fn run_archive_delete_and_missing_ids() {
    let emulator = slow_runs();
    let id = create_run(&emulator);
    assert_eq!(
        call(&emulator, "POST", &format!("{API}/runs/{id}:archive"), None).0,
        200
    );
    let (_, body) = call(&emulator, "GET", &format!("{API}/runs/{id}"), None);
    assert_eq!(body["run"]["storage_state"], json!("STORAGESTATE_ARCHIVED"));
    let filter = "%7B%22predicates%22%3A%5B%7B%22key%22%3A%22storage_state%22%2C%22op%22%3A%22EQUALS%22%2C%22string_value%22%3A%22STORAGESTATE_ARCHIVED%22%7D%5D%7D";
    let (_, listed) = call(
        &emulator,
        "GET",
        &format!("{API}/runs?filter={filter}"),
        None,
    );
    assert_eq!(listed["total_size"], json!(1));
    assert_eq!(
        call(
            &emulator,
            "POST",
            &format!("{API}/runs/{id}:unarchive"),
            None
        )
        .0,
        200
    );
    assert_eq!(
        call(&emulator, "DELETE", &format!("{API}/runs/{id}"), None),
        (200, json!({}))
    );
    for (method, path) in [
        ("GET", format!("/runs/{id}")),
        ("DELETE", format!("/runs/{id}")),
        ("POST", format!("/runs/{id}:archive")),
        ("POST", format!("/runs/{id}/terminate")),
        ("POST", format!("/runs/{id}/retry")),
    ] {
        let (status, body) = call(&emulator, method, &format!("{API}{path}"), None);
        assert_eq!(
            (status, error_message(&body)),
            (404, format!("Run {id} not found.")),
            "{method} {path}"
        );
    }
}

#[test]
fn run_create_validation() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let cases = [
        (
            json!({"pipeline_spec": {"workflow_manifest": MANIFEST}}),
            400,
            "The run name is empty. Please specify a valid name.",
        ),
        (
            json!({"name": "r"}),
            400,
            "Please specify a pipeline by providing a (workflow manifest or pipeline manifest) or (pipeline id or/and pipeline version).",
        ),
        (
            json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST}}),
            400,
            "Run has no experiment.",
        ),
    ];
    for (body, status, message) in cases {
        let (got, answer) = call(
            &emulator,
            "POST",
            &format!("{API}/runs"),
            Some(body.clone()),
        );
        assert_eq!(
            (got, error_message(&answer).as_str()),
            (status, message),
            "{body}"
        );
    }
    let (status, body) = call(&emulator, "GET", &format!("{API}/runs"), None);
    assert_eq!(
        (status, error_message(&body).as_str()),
        (
            400,
            "ListRuns must filter by resource reference in multi-user mode."
        )
    );
}

#[test]
fn multi_user_run_lists_need_a_namespace_or_an_existing_experiment() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let (_, experiment) = call(
        &emulator,
        "POST",
        &format!("{API}/experiments"),
        Some(
            json!({"name": "e", "resource_references": [{"key": {"type": "NAMESPACE", "id": "team-1"}, "relationship": "OWNER"}]}),
        ),
    );
    let experiment = experiment["id"].as_str().unwrap().to_owned();
    let (status, run) = call(
        &emulator,
        "POST",
        &format!("{API}/runs"),
        Some(
            json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST},
                    "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment}, "relationship": "OWNER"}]}),
        ),
    );
    assert_eq!(status, 200, "{run}");
    let key = |key_type: &str, id: &str| {
        format!("resource_reference_key.type={key_type}&resource_reference_key.id={id}")
    };
    let cases: Vec<(String, u16, &str)> = vec![
        (key("NAMESPACE", "team-1"), 200, ""),
        (key("EXPERIMENT", &experiment), 200, ""),
        (
            String::new(),
            400,
            "ListRuns must filter by resource reference in multi-user mode.",
        ),
        (
            key("NAMESPACE", ""),
            400,
            "Invalid resource references for ListRuns. Namespace is empty.",
        ),
        (
            key("EXPERIMENT", ""),
            400,
            "Invalid resource references for run. Experiment ID is empty.",
        ),
        (
            key("JOB", "j-1"),
            400,
            "Invalid resource references for ListRuns. Got type:JOB id:\"j-1\" ",
        ),
        (
            key("PIPELINE_VERSION", ""),
            400,
            "Invalid resource references for ListRuns. Got type:PIPELINE_VERSION ",
        ),
        (
            key("PIPELINE", "p"),
            400,
            "Unsupported resource type: PIPELINE",
        ),
        (key("EXPERIMENT", "nope"), 404, "Experiment nope not found."),
    ];
    for (query, status, message) in cases {
        let (got, body) = call(&emulator, "GET", &format!("{API}/runs?{query}"), None);
        assert_eq!(
            (got, error_message(&body).as_str()),
            (status, message),
            "{query}"
        );
        if status == 200 {
            assert_eq!(body["runs"][0]["name"], json!("r"), "{query}");
        }
    }
    let (_, body) = call(
        &emulator,
        "GET",
        &format!("{API}/runs?{}", key("EXPERIMENT", "nope")),
        None,
    );
    assert_eq!(
        body["message"],
        json!(
            "Run's experiment has no namespace.: Failed to get namespace from experiment ID.: ResourceNotFoundError: Experiment nope not found."
        )
    );
}

fn multipart(boundary: &str, filename: &str, content: &str) -> Vec<u8> {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n--{boundary}--\r\n"
    )
    .into_bytes()
}

fn upload(emulator: &Emulator, query: &str, filename: &str, content: &str) -> client::RawResponse {
    let boundary = "dd44ea092a4d31d1421521199e135d09";
    client::send(
        emulator.addr(),
        "POST",
        &format!("/pipeline{API}/pipelines/upload{query}"),
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        &multipart(boundary, filename, content),
    )
    .unwrap()
}

#[test]
fn uploading_a_pipeline_stores_the_template_like_go_json_marshal() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let response = upload(
        &emulator,
        "?name=my+pipe&description=d+e",
        "pipeline.yaml",
        PIPELINE_YAML,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let pipeline = response.json();
    let id = pipeline["id"].as_str().unwrap();
    assert_eq!(pipeline["name"], json!("my pipe"));
    assert_eq!(pipeline["description"], json!("d e"));
    assert_eq!(
        pipeline["parameters"],
        json!([{"name": "msg", "value": "hi"}, {"name": "n"}])
    );
    assert_eq!(
        pipeline["default_version"]["id"],
        json!(id),
        "the default version shares the pipeline's id"
    );
    assert_eq!(pipeline["default_version"]["name"], json!("my pipe"));
    assert_eq!(
        pipeline["default_version"]["resource_references"],
        json!([{"key": {"type": "PIPELINE", "id": id}, "relationship": "OWNER"}])
    );
    let (status, template) = call(
        &emulator,
        "GET",
        &format!("{API}/pipelines/{id}/templates"),
        None,
    );
    assert_eq!(status, 200);
    let text = template["template"].as_str().unwrap();
    assert!(
        text.starts_with(r#"{"kind":"Workflow","apiVersion":"argoproj.io/v1alpha1","metadata":{"generateName":"hello-","creationTimestamp":null,"annotations":{"a.example/a":"1","z.example/b":"2"}}"#),
        "{text}"
    );
    assert!(
        text.ends_with(r#""status":{"startedAt":null,"finishedAt":null}}"#),
        "{text}"
    );
    assert_eq!(
        call(&emulator, "GET", &format!("{API}/pipelines/{id}"), None).1,
        pipeline
    );

    // A job from the pipeline id gets the stored template and a PIPELINE_VERSION/CREATOR ref.
    let (status, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(
            json!({"name": "periodic", "pipeline_spec": {"pipeline_id": id, "parameters": []},
                    "max_concurrency": 1, "trigger": {"periodic_schedule": {"interval_second": 3600}}, "enabled": true}),
        ),
    );
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["pipeline_spec"]["pipeline_name"], json!("my pipe"));
    assert_eq!(job["pipeline_spec"]["workflow_manifest"], json!(text));
    assert_eq!(
        job["resource_references"][0],
        json!({"key": {"type": "PIPELINE_VERSION", "id": id}, "name": "my pipe", "relationship": "CREATOR"})
    );
    assert_eq!(job["resource_references"][1]["name"], json!("Default"));

    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(json!({"name": "x", "pipeline_spec": {"pipeline_id": "nope"}, "max_concurrency": 1})),
    );
    assert_eq!(
        (status, error_message(&body).as_str()),
        (404, "Pipeline nope not found.")
    );

    assert_eq!(
        call(&emulator, "DELETE", &format!("{API}/pipelines/{id}"), None),
        (200, json!({}))
    );
    let (status, body) = call(&emulator, "GET", &format!("{API}/pipelines/{id}"), None);
    assert_eq!(
        (status, error_message(&body)),
        (404, format!("Pipeline {id} not found."))
    );
}

#[test]
fn upload_errors_use_the_upload_handlers_own_format() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    assert_eq!(
        upload(&emulator, "", "pipeline.yaml", PIPELINE_YAML).status,
        200
    );
    let duplicate = upload(&emulator, "", "pipeline.yaml", PIPELINE_YAML);
    assert_eq!(duplicate.status, 500);
    assert_eq!(
        duplicate.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let message = "Error creating pipeline: Already exist error: Failed to create a new pipeline. The name pipeline.yaml already exist. Please specify a new name.";
    assert_eq!(
        duplicate.json(),
        json!({"error_message": message, "error_details": message})
    );

    let cases = [
        (
            "notes.txt",
            "hello",
            400,
            "Error read pipeline file.: Invalid input error: Unexpected pipeline file format. Support .zip, .tar.gz or YAML.",
        ),
        (
            "p.yaml",
            "apiVersion: v1\nkind: Pod\n",
            400,
            "Error creating pipeline: Invalid input error: Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: v1",
        ),
    ];
    for (filename, content, status, message) in cases {
        let response = upload(&emulator, "?name=other", filename, content);
        assert_eq!(
            (response.status, response.json()["error_message"].clone()),
            (status, json!(message)),
            "{filename}"
        );
    }
    let no_file = client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/pipelines/upload"),
        &[("Content-Type", "multipart/form-data; boundary=b")],
        b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n",
    )
    .unwrap();
    assert_eq!(no_file.status, 400);
    assert_eq!(
        no_file.json()["error_message"],
        json!("Failed to read pipeline from file: http: no such file")
    );
}

#[test]
fn pipelines_list_with_filters_and_versions_can_be_added() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let first = upload(&emulator, "?name=alpha", "p.yaml", PIPELINE_YAML).json();
    upload(&emulator, "?name=beta", "p.yaml", PIPELINE_YAML);
    let filter = "%7B%22predicates%22%3A+%5B%7B%22op%22%3A+1%2C+%22key%22%3A+%22name%22%2C+%22stringValue%22%3A+%22beta%22%7D%5D%7D";
    let (status, body) = call(
        &emulator,
        "GET",
        &format!("{API}/pipelines?filter={filter}"),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(body["total_size"], json!(1));
    assert_eq!(body["pipelines"][0]["name"], json!("beta"));
    let (status, body) = call(
        &emulator,
        "GET",
        &format!(
            "{API}/pipelines?resource_reference_key.type=EXPERIMENT&resource_reference_key.id=x"
        ),
        None,
    );
    assert_eq!(status, 400, "{body}");

    let id = first["id"].as_str().unwrap();
    let boundary = "xyz";
    let response = client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/pipelines/upload_version?name=v2&pipelineid={id}"),
        &[("Content-Type", "multipart/form-data; boundary=xyz")],
        &multipart(boundary, "p.yaml", PIPELINE_YAML),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    let version = response.json();
    assert_eq!(version["name"], json!("v2"));
    let (_, listed) = call(
        &emulator,
        "GET",
        &format!("{API}/pipeline_versions?resource_key.type=PIPELINE&resource_key.id={id}"),
        None,
    );
    assert_eq!(listed["total_size"], json!(2));
    let (status, body) = call(&emulator, "GET", &format!("{API}/pipeline_versions"), None);
    assert_eq!(
        (status, error_message(&body).as_str()),
        (400, "ResourceKey must be set in the input")
    );
    let (_, pipeline) = call(&emulator, "GET", &format!("{API}/pipelines/{id}"), None);
    assert_eq!(
        pipeline["default_version"]["id"], version["id"],
        "the newest version becomes the default"
    );
}

fn upload_bytes(emulator: &Emulator, filename: &str, content: &[u8]) -> client::RawResponse {
    let mut body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--b--\r\n");
    client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/pipelines/upload?name={}", filename.replace('.', "-")),
        &[("Content-Type", "multipart/form-data; boundary=b")],
        &body,
    )
    .unwrap()
}

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut tar = Vec::new();
    for (name, content) in files {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(content.as_bytes());
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0; 1024]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&tar).unwrap();
    encoder.finish().unwrap()
}

fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, content) in files {
        let mut crc = flate2::Crc::new();
        crc.update(content.as_bytes());
        let offset = out.len() as u32;
        let size = content.len() as u32;
        out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(content.as_bytes());
        central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&crc.sum().to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

#[test]
fn packages_are_unpacked_preferring_pipeline_yaml_else_the_first_yaml_file() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let other = PIPELINE_YAML.replace("hello-", "other-");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a.tar.gz",
            tar_gz(&[("README.md", "x"), ("pipeline.yaml", PIPELINE_YAML)]),
            200,
            "hello-",
        ),
        (
            "b.tgz",
            tar_gz(&[("first.yaml", &other), ("second.yaml", PIPELINE_YAML)]),
            200,
            "other-",
        ),
        (
            "c.zip",
            zip(&[("notes.txt", "x"), ("pipeline.yaml", PIPELINE_YAML)]),
            200,
            "hello-",
        ),
        ("d.zip", zip(&[("first.yml", &other)]), 200, "other-"),
        (
            "e.tar.gz",
            tar_gz(&[("README.md", "x")]),
            400,
            "Error read pipeline file.: Invalid input error: Error extracting pipeline from the tarball file. Expecting a pipeline.yaml file inside the tarball file. Got: README.md",
        ),
        (
            "f.zip",
            zip(&[("README.md", "x")]),
            400,
            "Error read pipeline file.: Invalid input error: Error extracting pipeline from the zip file. Expecting a pipeline.yaml file inside the zip file. Got: README.md",
        ),
    ];
    for (filename, content, status, expected) in cases {
        let response = upload_bytes(&emulator, filename, &content);
        assert_eq!(response.status, status, "{filename}: {}", response.text());
        if status == 200 {
            let id = response.json()["id"].as_str().unwrap().to_owned();
            let (_, template) = call(
                &emulator,
                "GET",
                &format!("{API}/pipelines/{id}/templates"),
                None,
            );
            assert!(
                template["template"].as_str().unwrap().contains(expected),
                "{filename}"
            );
        } else {
            assert_eq!(
                response.json()["error_message"],
                json!(expected),
                "{filename}"
            );
        }
    }
    let mut corrupt = tar_gz(&[("pipeline.yaml", PIPELINE_YAML)]);
    corrupt.truncate(corrupt.len() / 2);
    let response = upload_bytes(&emulator, "g.tar.gz", &corrupt);
    assert_eq!(response.status, 400);
    assert!(
        response.json()["error_message"]
            .as_str()
            .unwrap()
            .starts_with("Error read pipeline file.: Invalid input error: Error extracting pipeline from the tarball file. Not a valid tarball file.")
    );
}

#[test]
fn triggering_a_job_creates_a_run_owned_by_its_experiment_and_created_by_the_job() {
    let emulator = slow_runs();
    let (_, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(
            json!({"name": "nightly", "pipeline_spec": {"workflow_manifest": MANIFEST, "parameters": [{"name": "msg", "value": "x"}]},
                    "max_concurrency": 1, "trigger": {"cron_schedule": {"cron": "@daily"}}}),
        ),
    );
    let job_id = job["id"].as_str().unwrap();
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("/_emulator/jobs/{job_id}/trigger"),
        None,
    );
    assert_eq!(status, 200);
    let run_id = body["run_id"].as_str().unwrap();
    assert!(emulator.trigger_job(job_id).is_some());
    assert!(emulator.trigger_job("nope").is_none());
    let (_, run) = call(&emulator, "GET", &format!("{API}/runs/{run_id}"), None);
    assert_eq!(
        run["run"]["pipeline_spec"]["parameters"],
        json!([{"name": "msg", "value": "x"}])
    );
    let refs = &run["run"]["resource_references"];
    assert_eq!(refs[0]["name"], json!("Default"));
    assert_eq!(
        refs[1],
        json!({"key": {"type": "JOB", "id": job_id}, "name": "nightly", "relationship": "CREATOR"})
    );
    let (_, listed) = call(
        &emulator,
        "GET",
        &format!("{API}/runs?resource_reference_key.type=JOB&resource_reference_key.id={job_id}"),
        None,
    );
    assert_eq!(listed["total_size"], json!(2));
}
