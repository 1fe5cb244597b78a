//! The emulator's transport, experiments, jobs and control API, as tables of request → expected answer.

use std::time::Duration;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, Fault, client};
use serde_json::{Value, json};

const API: &str = "/apis/v1beta1";

/// The manifest the SDK sends (json.dumps of the compiled YAML: `", "` and `": "` separators).
const MANIFEST: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-", "annotations": {"pipelines.kubeflow.org/kfp_sdk_version": "1.8.22"}}, "spec": {"entrypoint": "hello", "arguments": {"parameters": [{"name": "msg", "value": "hi"}, {"name": "n", "value": "1"}]}, "serviceAccountName": "pipeline-runner", "templates": [{"name": "hello", "container": {"image": "alpine:3.18"}}]}}"#;

fn single() -> Emulator {
    Emulator::start(EmulatorConfig::single_user()).expect("emulator starts")
}

fn multi() -> Emulator {
    Emulator::start(EmulatorConfig::multi_user()).expect("emulator starts")
}

fn call(emulator: &Emulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (headers, bytes): (&[(&str, &str)], Vec<u8>) = match body {
        Some(body) => (
            &[("Content-Type", "application/json")],
            body.to_string().into_bytes(),
        ),
        None => (&[], Vec::new()),
    };
    let response =
        client::send(emulator.addr(), method, path, headers, &bytes).expect("request answered");
    (response.status, response.json())
}

fn job_body(experiment_id: Option<&str>) -> Value {
    let refs = experiment_id.map_or_else(Vec::new, |id| {
        vec![json!({"key": {"type": "EXPERIMENT", "id": id}, "relationship": "OWNER"})]
    });
    json!({
        "name": "GIT::job__2024-01-02T03-04-05Z",
        "pipeline_spec": {"workflow_manifest": MANIFEST, "parameters": [{"name": "msg", "value": "hello world"}, {"name": "n", "value": ""}]},
        "resource_references": refs,
        "max_concurrency": 3,
        "trigger": {"cron_schedule": {"start_time": "2024-01-02T04:04:05.5+01:00", "cron": "0 0 * * * *"}},
        "enabled": false,
        "no_catchup": true
    })
}

fn error_message(body: &Value) -> String {
    body["details"][0]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn create_experiment(emulator: &Emulator, name: &str, namespace: Option<&str>) -> String {
    let refs = namespace.map_or_else(Vec::new, |ns| {
        vec![json!({"key": {"type": "NAMESPACE", "id": ns}, "relationship": "OWNER"})]
    });
    let (status, body) = call(
        emulator,
        "POST",
        &format!("{API}/experiments"),
        Some(json!({"name": name, "resource_references": refs})),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[test]
fn healthz_answers_in_the_api_server_shape_directly_and_the_ui_shape_through_pipeline() {
    let emulator = multi();
    let direct = emulator
        .request("GET", &format!("{API}/healthz"), None)
        .unwrap();
    assert_eq!(direct.status, 200);
    assert_eq!(
        direct.text(),
        r#"{"commit_sha":"unknown", "tag_name":"1.8.5", "multi_user":true}"#
    );
    let ui = emulator
        .request("GET", &format!("/pipeline{API}/healthz"), None)
        .unwrap();
    assert_eq!(ui.json()["multi_user"], json!(true));
    assert_eq!(ui.json()["apiServerReady"], json!(true));
    // Hand-written handler: any method.
    assert_eq!(
        emulator
            .request("POST", &format!("{API}/healthz"), None)
            .unwrap()
            .status,
        200
    );
}

#[test]
fn unknown_routes_answer_plain_text_404_and_wrong_methods_405() {
    let emulator = single();
    let cases = [
        ("GET", "/apis/v1beta1/nothing", 404, "Not Found\n"),
        ("GET", "/apis/v1beta1/jobs/", 404, "Not Found\n"),
        ("PUT", "/apis/v1beta1/jobs", 405, "Method Not Allowed\n"),
        (
            "GET",
            "/apis/v1beta1/jobs/x/enable",
            405,
            "Method Not Allowed\n",
        ),
        (
            "POST",
            "/apis/v1beta1/experiments/x:explode",
            404,
            "Not Found\n",
        ),
        ("GET", "/pipeline/apis/v1beta1/nothing", 404, "Not Found\n"),
        ("GET", "/elsewhere", 404, "404 page not found\n"),
    ];
    for (method, path, status, text) in cases {
        let response = emulator.request(method, path, None).unwrap();
        assert_eq!(
            (response.status, response.text().as_str()),
            (status, text),
            "{method} {path}"
        );
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
    let page = emulator.request("GET", "/pipeline", None).unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[test]
fn a_fresh_server_has_the_default_experiment() {
    let emulator = single();
    let (status, body) = call(
        &emulator,
        "GET",
        &format!(
            "{API}/experiments?page_token=&page_size=10&sort_by=&resource_reference_key.type=NAMESPACE&resource_reference_key.id="
        ),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(body["total_size"], json!(1));
    let default = &body["experiments"][0];
    assert_eq!(default["name"], json!("Default"));
    assert_eq!(
        default["description"],
        json!("All runs created without specifying an experiment will be grouped here.")
    );
    assert_eq!(default["storage_state"], json!("STORAGESTATE_AVAILABLE"));
    assert!(default.get("resource_references").is_none());
    assert!(body.get("next_page_token").is_none());
}

#[test]
fn experiment_create_validation_follows_the_mode() {
    let ns_ref = json!([{"key": {"type": "NAMESPACE", "id": "team-1"}, "relationship": "OWNER"}]);
    let single_cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({}),
            400,
            "Experiment name is empty. Please specify a valid experiment name.",
        ),
        (
            json!({"name": "a", "resource_references": ns_ref}),
            400,
            "In single-user mode, CreateExperimentRequest shouldn't contain resource references.",
        ),
        (json!({"name": "a", "resource_references": []}), 200, ""),
        (
            json!({"name": "a"}),
            409,
            "Failed to create a new experiment. The name a already exists. Please specify a new name.",
        ),
        (
            json!({"name": "A"}),
            409,
            "Failed to create a new experiment. The name A already exists. Please specify a new name.",
        ),
    ];
    let emulator = single();
    for (body, status, message) in single_cases {
        let (got_status, got) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(body.clone()),
        );
        assert_eq!(
            (got_status, error_message(&got).as_str()),
            (status, message),
            "{body}"
        );
    }

    let emulator = multi();
    let multi_cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"name": "a"}),
            400,
            "Invalid resource references for experiment. Expect one namespace type with owner relationship. Got: []",
        ),
        (
            json!({"name": "a", "resource_references": [{"key": {"type": "NAMESPACE", "id": ""}, "relationship": "OWNER"}]}),
            400,
            "Invalid resource references for experiment. Expect one namespace type with owner relationship. Got: [key:<type:NAMESPACE id:\"\" > relationship:OWNER ]",
        ),
        (
            json!({"name": "a", "resource_references": ns_ref.clone()}),
            200,
            "",
        ),
        (
            json!({"name": "a", "resource_references": ns_ref.clone()}),
            409,
            "Failed to create a new experiment. The name a already exists. Please specify a new name.",
        ),
        (
            json!({"name": "a", "resource_references": [{"key": {"type": 5, "id": "team-2"}, "relationship": 1}]}),
            200,
            "",
        ),
    ];
    for (body, status, message) in multi_cases {
        let (got_status, got) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(body.clone()),
        );
        assert_eq!(
            (got_status, error_message(&got).as_str()),
            (status, message),
            "{body}"
        );
        if status == 200 {
            assert_eq!(
                got["resource_references"][0]["key"]["type"],
                json!("NAMESPACE")
            );
            assert!(got["resource_references"][0].get("name").is_none());
        }
    }
}

#[test]
fn experiment_lists_are_scoped_by_mode() {
    let emulator = multi();
    create_experiment(&emulator, "e1", Some("team-1"));
    create_experiment(&emulator, "e2", Some("team-2"));
    let cases = [
        (
            "",
            400,
            "Invalid resource references for experiment. ListExperiment requires filtering by namespace.",
        ),
        (
            "resource_reference_key.type=NAMESPACE&resource_reference_key.id=",
            400,
            "Invalid resource references for experiment. Namespace is empty.",
        ),
        (
            "resource_reference_key.type=EXPERIMENT&resource_reference_key.id=x",
            400,
            "Invalid resource references for experiment. ListExperiment requires filtering by namespace.",
        ),
        (
            "resource_reference_key.type=PIPELINE&resource_reference_key.id=x",
            400,
            "Unsupported resource type: PIPELINE",
        ),
        (
            "resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1",
            200,
            "",
        ),
    ];
    for (query, status, message) in cases {
        let (got_status, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?{query}"),
            None,
        );
        assert_eq!(
            (got_status, error_message(&body).as_str()),
            (status, message),
            "{query}"
        );
        if status == 200 {
            assert_eq!(body["total_size"], json!(1));
            assert_eq!(body["experiments"][0]["name"], json!("e1"));
        }
    }

    let emulator = single();
    let (status, body) = call(
        &emulator,
        "GET",
        &format!(
            "{API}/experiments?resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1"
        ),
        None,
    );
    assert_eq!(
        (status, error_message(&body).as_str()),
        (
            400,
            "In single-user mode, ListExperiment cannot filter by namespace."
        )
    );
}

#[test]
fn experiment_get_delete_archive_and_their_missing_id_answers() {
    let emulator = single();
    let cases = [
        (
            "GET",
            "/experiments/nope",
            404,
            "Experiment nope not found.",
        ),
        (
            "DELETE",
            "/experiments/nope",
            404,
            "Experiment nope not found.",
        ),
        // Single-user archive/unarchive of a missing id touch no rows and succeed.
        ("POST", "/experiments/nope:archive", 200, ""),
        ("POST", "/experiments/nope:unarchive", 200, ""),
    ];
    for (method, path, status, message) in cases {
        let (got, body) = call(&emulator, method, &format!("{API}{path}"), None);
        assert_eq!(
            (got, error_message(&body).as_str()),
            (status, message),
            "{method} {path}"
        );
    }
    let emulator = multi();
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/experiments/nope:unarchive"),
        None,
    );
    assert_eq!(
        (status, error_message(&body).as_str()),
        (404, "Experiment nope not found.")
    );
}

/// A run in `experiment` and the run's `storage_state` as served (`None`: AVAILABLE, enum 0, not emitted).
fn create_run_in(emulator: &Emulator, experiment: &str) -> String {
    let (status, body) = call(
        emulator,
        "POST",
        &format!("{API}/runs"),
        Some(json!({
            "name": "r",
            "pipeline_spec": {"workflow_manifest": MANIFEST},
            "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment}, "relationship": "OWNER"}]
        })),
    );
    assert_eq!(status, 200, "{body}");
    body["run"]["id"].as_str().unwrap().to_owned()
}

fn run_storage_state(emulator: &Emulator, id: &str) -> Option<String> {
    let (status, body) = call(emulator, "GET", &format!("{API}/runs/{id}"), None);
    assert_eq!(status, 200, "{body}");
    body["run"]
        .get("storage_state")
        .map(|s| s.as_str().unwrap().to_owned())
}

#[test]
fn archiving_an_experiment_archives_its_runs_and_disables_its_jobs_and_unarchiving_restores_neither()
 {
    let emulator = single();
    let experiment = create_experiment(&emulator, "e", None);
    let other = create_experiment(&emulator, "other", None);
    let mut body = job_body(Some(&experiment));
    body["enabled"] = json!(true);
    let (_, job) = call(&emulator, "POST", &format!("{API}/jobs"), Some(body));
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["enabled"], json!(true));
    let run = create_run_in(&emulator, &experiment);
    let other_run = create_run_in(&emulator, &other);
    assert_eq!(run_storage_state(&emulator, &run), None);
    emulator.advance_clock(Duration::from_secs(60));
    assert_eq!(
        call(
            &emulator,
            "POST",
            &format!("{API}/experiments/{experiment}:archive"),
            None
        )
        .0,
        200
    );
    let (_, archived) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments/{experiment}"),
        None,
    );
    assert_eq!(archived["storage_state"], json!("STORAGESTATE_ARCHIVED"));
    assert_eq!(
        run_storage_state(&emulator, &run).as_deref(),
        Some("STORAGESTATE_ARCHIVED")
    );
    assert_eq!(
        run_storage_state(&emulator, &other_run),
        None,
        "runs of other experiments stay available"
    );
    let (_, job_after) = call(&emulator, "GET", &format!("{API}/jobs/{id}"), None);
    assert!(job_after.get("enabled").is_none(), "{job_after}");
    assert_ne!(job_after["updated_at"], job["updated_at"]);
    assert_eq!(
        call(
            &emulator,
            "POST",
            &format!("{API}/experiments/{experiment}:unarchive"),
            None
        )
        .0,
        200
    );
    let (_, unarchived) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments/{experiment}"),
        None,
    );
    assert_eq!(unarchived["storage_state"], json!("STORAGESTATE_AVAILABLE"));
    // CONTRACT §5: unarchive only flips the experiment; its runs stay archived, its jobs stay disabled.
    assert_eq!(
        run_storage_state(&emulator, &run).as_deref(),
        Some("STORAGESTATE_ARCHIVED")
    );
    let (_, job_unarchived) = call(&emulator, "GET", &format!("{API}/jobs/{id}"), None);
    assert!(job_unarchived.get("enabled").is_none());
}

#[test]
fn a_created_job_echoes_the_request_like_jsonpb() {
    let emulator = multi();
    let experiment = create_experiment(&emulator, "exp", Some("team-1"));
    let (status, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job_body(Some(&experiment))),
    );
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        job["pipeline_spec"]["workflow_manifest"],
        json!(MANIFEST),
        "byte-exact manifest"
    );
    assert_eq!(
        job["pipeline_spec"]["parameters"],
        json!([{"name": "msg", "value": "hello world"}, {"name": "n"}])
    );
    assert_eq!(
        job["resource_references"],
        json!([{"key": {"type": "EXPERIMENT", "id": experiment}, "name": "exp", "relationship": "OWNER"}])
    );
    assert_eq!(job["max_concurrency"], json!("3"));
    assert_eq!(job["service_account"], json!("default-editor"));
    assert_eq!(
        job["trigger"],
        json!({"cron_schedule": {"start_time": "2024-01-02T03:04:05Z", "cron": "0 0 * * * *"}})
    );
    assert_eq!(job["status"], json!("NO_STATUS"));
    assert_eq!(job["no_catchup"], json!(true));
    assert!(job.get("enabled").is_none(), "enabled:false is omitted");
    assert_eq!(job["created_at"], job["updated_at"]);
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));
    let (_, fetched) = call(
        &emulator,
        "GET",
        &format!("{API}/jobs/{}", job["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(fetched, job);
}

#[test]
fn job_create_validation_runs_in_the_servers_order() {
    let emulator = single();
    let prefix = "Validate create job request failed.: Invalid input error: ";
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = job_body(None);
        edit(&mut body);
        body
    };
    let cases: Vec<(Value, u16, String)> = vec![
        (
            with(&|b| b["pipeline_spec"]["pipeline_manifest"] = json!("{}")),
            400,
            "Please don't specify both workflow manifest and pipeline manifest.".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"]["pipeline_id"] = json!("p")),
            400,
            "Please don't specify a pipeline version or pipeline ID when you specify a workflow manifest or pipeline manifest.".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"] = json!({})),
            400,
            "Please specify a pipeline by providing a (workflow manifest or pipeline manifest) or (pipeline id or/and pipeline version).".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"]["workflow_manifest"] = json!("apiVersion: argoproj.io/v1alpha1")),
            400,
            "Invalid argo workflow format. Workflow: apiVersion: argoproj.io/v1alpha1".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"]["workflow_manifest"] = json!(r#"{"apiVersion": "v1", "kind": "Workflow"}"#)),
            400,
            "Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: v1".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"]["runtime_config"] = json!({"parameters": {}})),
            400,
            "Please don't specify both parameters and runtime config.".to_owned(),
        ),
        (
            with(&|b| b["max_concurrency"] = json!(11)),
            400,
            "The max concurrency of the job is out of range. Support 1-10. Received 11.".to_owned(),
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("max_concurrency");
            }),
            400,
            "The max concurrency of the job is out of range. Support 1-10. Received 0.".to_owned(),
        ),
        (
            with(&|b| b["trigger"] = json!({"cron_schedule": {"cron": "0 0 0 * * * *"}})),
            400,
            "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: Expected 5 to 6 fields, found 7: 0 0 0 * * * *".to_owned(),
        ),
        (
            with(&|b| b["trigger"] = json!({"cron_schedule": {"cron": ""}})),
            400,
            "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: Empty spec string".to_owned(),
        ),
        (
            with(&|b| b["trigger"] = json!({"periodic_schedule": {"interval_second": "0"}})),
            400,
            "Found invalid period schedule interval 0. Set at interval to least 1 second.".to_owned(),
        ),
        (
            with(&|b| b["pipeline_spec"]["parameters"] = json!([{"name": "other", "value": "1"}])),
            400,
            "Unrecognized input parameter: other".to_owned(),
        ),
        (
            with(&|b| b["resource_references"] = json!([{"key": {"type": "EXPERIMENT", "id": "nope"}, "relationship": "OWNER"}])),
            500,
            "Internal error".to_owned(),
        ),
        (
            with(&|b| b["resource_references"] = json!([{"key": {"type": "PIPELINE", "id": "p"}, "relationship": "OWNER"}])),
            400,
            "Unsupported resource type: PIPELINE".to_owned(),
        ),
        (with(&|b| b["trigger"] = json!({"periodic_schedule": {"interval_second": 3600}})), 200, String::new()),
        (with(&|b| b["trigger"] = json!({"cronSchedule": {"cron": "@every 90s"}})), 200, String::new()),
        (with(&|b| b["maxConcurrency"] = json!("10")), 200, String::new()),
        (with(&|b| { b.as_object_mut().unwrap().remove("trigger"); }), 200, String::new()),
    ];
    for (body, status, message) in cases {
        let (got_status, got) = call(
            &emulator,
            "POST",
            &format!("{API}/jobs"),
            Some(body.clone()),
        );
        assert_eq!(
            (got_status, error_message(&got)),
            (status, message.clone()),
            "{body}"
        );
        if status == 400 && got["message"].as_str().unwrap().starts_with("Validate") {
            let chain = got["message"].as_str().unwrap();
            assert!(chain.starts_with(&format!("{prefix}{message}")), "{chain}");
            assert_eq!(got["code"], json!(3));
        }
    }
}

#[test]
fn multi_user_jobs_need_an_existing_experiment_with_a_namespace() {
    let emulator = multi();
    let experiment = create_experiment(&emulator, "e", Some("team-1"));
    let cases: Vec<(Option<&str>, u16, &str)> = vec![
        (None, 400, "Job has no experiment."),
        (Some("nope"), 404, "Experiment nope not found."),
        (Some(&experiment), 200, ""),
    ];
    for (experiment_id, status, message) in cases {
        let (got_status, got) = call(
            &emulator,
            "POST",
            &format!("{API}/jobs"),
            Some(job_body(experiment_id)),
        );
        assert_eq!(
            (got_status, error_message(&got).as_str()),
            (status, message),
            "{experiment_id:?}"
        );
    }
}

#[test]
fn single_user_jobs_without_an_experiment_land_in_default_and_run_as_pipeline_runner() {
    let emulator = single();
    let (status, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job_body(None)),
    );
    assert_eq!(status, 200);
    assert_eq!(job["resource_references"][0]["name"], json!("Default"));
    assert_eq!(job["service_account"], json!("pipeline-runner"));
}

/// CONTRACT §3.3: a job runs as the requested service account; without one, as the manifest's
/// `spec.serviceAccountName`, unless that is empty or `pipeline-runner`, which mean the server default
/// (`pipeline-runner` standalone, `default-editor` multi-user).
#[test]
fn a_job_runs_as_the_requested_then_the_manifests_then_the_default_service_account() {
    let with_manifest_sa = |manifest_sa: Option<&str>| {
        let mut workflow: Value = serde_json::from_str(MANIFEST).unwrap();
        match manifest_sa {
            Some(name) => workflow["spec"]["serviceAccountName"] = json!(name),
            None => {
                workflow["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("serviceAccountName");
            }
        }
        workflow.to_string()
    };
    // (multi-user, requested, manifest's serviceAccountName (None: absent), expected)
    let cases: [(bool, Option<&str>, Option<&str>, &str); 10] = [
        (false, None, Some("pipeline-runner"), "pipeline-runner"),
        (false, None, None, "pipeline-runner"),
        (false, None, Some("etl-runner"), "etl-runner"),
        (false, Some("my-sa"), Some("etl-runner"), "my-sa"),
        (true, None, Some("pipeline-runner"), "default-editor"),
        (true, None, Some(""), "default-editor"),
        (true, None, None, "default-editor"),
        (true, None, Some("etl-runner"), "etl-runner"),
        (true, Some(""), Some("etl-runner"), "etl-runner"),
        (true, Some("my-sa"), Some("etl-runner"), "my-sa"),
    ];
    let single = single();
    let multi = multi();
    let experiment = create_experiment(&multi, "e", Some("team-1"));
    for (multi_user, requested, manifest_sa, expected) in cases {
        let (emulator, experiment) = if multi_user {
            (&multi, Some(experiment.as_str()))
        } else {
            (&single, None)
        };
        let mut body = job_body(experiment);
        body["pipeline_spec"]["workflow_manifest"] = json!(with_manifest_sa(manifest_sa));
        if let Some(requested) = requested {
            body["service_account"] = json!(requested);
        }
        let (status, job) = call(emulator, "POST", &format!("{API}/jobs"), Some(body));
        assert_eq!(status, 200, "{job}");
        assert_eq!(
            job["service_account"],
            json!(expected),
            "multi-user {multi_user}, requested {requested:?}, manifest {manifest_sa:?}"
        );
    }
}

#[test]
fn enable_and_disable_are_idempotent_and_only_a_change_bumps_updated_at() {
    let emulator = single();
    let (_, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job_body(None)),
    );
    let id = job["id"].as_str().unwrap();
    let get = || call(&emulator, "GET", &format!("{API}/jobs/{id}"), None).1;
    emulator.advance_clock(Duration::from_secs(10));
    assert_eq!(
        call(&emulator, "POST", &format!("{API}/jobs/{id}/disable"), None),
        (200, json!({}))
    );
    assert_eq!(
        get()["updated_at"],
        job["updated_at"],
        "disabling a disabled job changes nothing"
    );
    assert_eq!(
        call(&emulator, "POST", &format!("{API}/jobs/{id}/enable"), None),
        (200, json!({}))
    );
    let enabled = get();
    assert_eq!(enabled["enabled"], json!(true));
    assert_ne!(enabled["updated_at"], job["updated_at"]);
    emulator.advance_clock(Duration::from_secs(10));
    call(&emulator, "POST", &format!("{API}/jobs/{id}/enable"), None);
    assert_eq!(get()["updated_at"], enabled["updated_at"]);
    assert_eq!(
        call(&emulator, "DELETE", &format!("{API}/jobs/{id}"), None),
        (200, json!({}))
    );
    for (method, path) in [
        ("GET", format!("/jobs/{id}")),
        ("DELETE", format!("/jobs/{id}")),
        ("POST", format!("/jobs/{id}/enable")),
        ("POST", format!("/jobs/{id}/disable")),
    ] {
        let (status, body) = call(&emulator, method, &format!("{API}{path}"), None);
        assert_eq!(
            (status, error_message(&body)),
            (404, format!("Job {id} not found.")),
            "{method} {path}"
        );
    }
}

#[test]
fn request_bodies_accept_camel_case_strings_for_int64_and_enum_numbers_and_ignore_unknown_fields() {
    let emulator = single();
    let body = json!({
        "name": "camel",
        "pipelineSpec": {"workflowManifest": MANIFEST},
        "resourceReferences": [],
        "maxConcurrency": "2",
        "trigger": {"periodicSchedule": {"intervalSecond": "60", "startTime": null}},
        "mode": "ENABLED",
        "somethingNew": {"x": 1},
        "enabled": true,
        "description": null
    });
    let (status, job) = call(&emulator, "POST", &format!("{API}/jobs"), Some(body));
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["max_concurrency"], json!("2"));
    assert_eq!(
        job["trigger"],
        json!({"periodic_schedule": {"interval_second": "60"}})
    );
    assert_eq!(job["enabled"], json!(true));
    assert!(job.get("mode").is_none());

    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(json!({"max_concurrency": {"x": 1}})),
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], json!(3));
    assert!(
        body.get("details").is_none(),
        "gateway errors carry no details"
    );
    let raw = client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/jobs"),
        &[],
        b"{not json",
    )
    .unwrap();
    assert_eq!(raw.status, 400);
}

#[test]
fn request_counts_name_route_patterns_without_the_pipeline_prefix() {
    let emulator = single();
    let (_, job) = call(
        &emulator,
        "POST",
        &format!("/pipeline{API}/jobs"),
        Some(job_body(None)),
    );
    let id = job["id"].as_str().unwrap();
    call(&emulator, "POST", &format!("{API}/jobs/{id}/enable"), None);
    call(
        &emulator,
        "POST",
        &format!("/pipeline{API}/jobs/{id}/enable"),
        None,
    );
    call(&emulator, "GET", "/_emulator/state", None);
    let counts = emulator.request_counts();
    assert_eq!(counts.get("POST /apis/v1beta1/jobs"), Some(&1));
    assert_eq!(counts.get("POST /apis/v1beta1/jobs/{id}/enable"), Some(&2));
    assert_eq!(
        emulator.total_requests(),
        3,
        "control routes are not counted"
    );
    let (_, over_http) = call(&emulator, "GET", "/_emulator/requests", None);
    assert_eq!(over_http["total"], json!(3));
    assert_eq!(
        over_http["counts"]["POST /apis/v1beta1/jobs/{id}/enable"],
        json!(2)
    );
    emulator.reset_counts();
    assert_eq!(emulator.total_requests(), 0);
}

#[test]
fn faults_fail_the_nth_matching_request_or_drop_the_connection() {
    let emulator = single();
    let (_, job) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job_body(None)),
    );
    let id = job["id"].as_str().unwrap().to_owned();
    let enable = format!("{API}/jobs/{id}/enable");
    let (status, _) = call(
        &emulator,
        "POST",
        "/_emulator/faults",
        Some(
            json!({"method": "POST", "path": "/apis/v1beta1/jobs/*/enable", "nth": 2, "status": 503, "message": "injected"}),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(call(&emulator, "POST", &enable, None).0, 200);
    let (status, body) = call(&emulator, "POST", &format!("/pipeline{enable}"), None);
    assert_eq!((status, body["message"].clone()), (503, json!("injected")));
    assert_eq!(
        call(&emulator, "POST", &enable, None).0,
        200,
        "only the nth request fails"
    );

    emulator.inject_fault(Fault::drop_connection(
        "POST",
        "/apis/v1beta1/jobs/*/disable",
    ));
    let dropped = emulator.request("POST", &format!("{API}/jobs/{id}/disable"), None);
    assert_eq!(
        dropped.unwrap_err().kind(),
        std::io::ErrorKind::UnexpectedEof
    );
    let (_, still) = call(&emulator, "GET", &format!("{API}/jobs/{id}"), None);
    assert_eq!(
        still["enabled"],
        json!(true),
        "a plain drop does not apply the request"
    );

    emulator
        .inject_fault(Fault::drop_connection("POST", "/apis/v1beta1/jobs/*/disable").after_apply());
    assert!(
        emulator
            .request("POST", &format!("{API}/jobs/{id}/disable"), None)
            .is_err()
    );
    let (_, after) = call(&emulator, "GET", &format!("{API}/jobs/{id}"), None);
    assert!(
        after.get("enabled").is_none(),
        "after_apply performs the action before dropping"
    );

    emulator.inject_fault(Fault::status("DELETE", "/apis/v1beta1/jobs/*", 500).after_apply());
    assert_eq!(
        call(&emulator, "DELETE", &format!("{API}/jobs/{id}"), None).0,
        500
    );
    assert_eq!(
        call(&emulator, "GET", &format!("{API}/jobs/{id}"), None).0,
        404
    );

    assert_eq!(call(&emulator, "DELETE", "/_emulator/faults", None).0, 200);
    call(&emulator, "POST", "/_emulator/reset", None);
    assert_eq!(emulator.total_requests(), 0);
    assert_eq!(emulator.state()["jobs"], json!([]));
}

#[test]
fn latency_is_adjustable_over_the_control_api() {
    let emulator = single();
    assert_eq!(
        call(
            &emulator,
            "POST",
            "/_emulator/latency",
            Some(json!({"ms": 1}))
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &emulator,
            "POST",
            "/_emulator/latency",
            Some(json!({"ms": -1}))
        )
        .0,
        400
    );
    assert_eq!(
        call(&emulator, "GET", &format!("{API}/healthz"), None).0,
        200
    );
}

#[test]
fn many_concurrent_clients_each_get_their_own_answers() {
    let emulator = single();
    std::thread::scope(|scope| {
        for worker in 0..16 {
            let emulator = &emulator;
            scope.spawn(move || {
                for i in 0..10 {
                    let name = format!("exp-{worker}-{i}");
                    let (status, body) = call(
                        emulator,
                        "POST",
                        &format!("{API}/experiments"),
                        Some(json!({"name": name})),
                    );
                    assert_eq!(status, 200);
                    assert_eq!(body["name"], json!(name));
                }
            });
        }
    });
    let (_, body) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?page_size=1"),
        None,
    );
    assert_eq!(body["total_size"], json!(161));
    assert_eq!(emulator.count("POST /apis/v1beta1/experiments"), 160);
}

#[test]
fn a_trigger_is_a_oneof_and_cannot_hold_both_schedules() {
    let emulator = single();
    let mut body = job_body(None);
    body["trigger"] = json!({"cron_schedule": {"cron": "0 0 * * * *"}, "periodic_schedule": {"interval_second": 60}});
    let (status, answer) = call(&emulator, "POST", &format!("{API}/jobs"), Some(body));
    assert_eq!((status, answer["code"].clone()), (400, json!(3)));
    assert!(
        answer.get("details").is_none(),
        "a decoding error comes from the gateway: {answer}"
    );
}

#[test]
fn every_resource_route_counts_under_an_id_pattern() {
    let emulator = single();
    for (method, path) in [
        ("GET", "/runs/x"),
        ("DELETE", "/runs/x"),
        ("POST", "/runs/x:archive"),
        ("POST", "/runs/x/retry"),
        ("GET", "/pipelines/x/templates"),
        ("GET", "/pipeline_versions/x"),
        ("GET", "/experiments/x"),
    ] {
        call(&emulator, method, &format!("{API}{path}"), None);
    }
    let counts = emulator.request_counts();
    let keys: Vec<&str> = counts.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "DELETE /apis/v1beta1/runs/{id}",
            "GET /apis/v1beta1/experiments/{id}",
            "GET /apis/v1beta1/pipeline_versions/{id}",
            "GET /apis/v1beta1/pipelines/{id}/templates",
            "GET /apis/v1beta1/runs/{id}",
            "POST /apis/v1beta1/runs/{id}/retry",
            "POST /apis/v1beta1/runs/{id}:archive",
        ]
    );
}

#[test]
fn a_fault_pattern_star_also_matches_the_id_of_a_custom_verb() {
    let emulator = single();
    emulator.inject_fault(Fault::status(
        "POST",
        "/apis/v1beta1/experiments/*:archive",
        503,
    ));
    let (status, _) = call(
        &emulator,
        "POST",
        &format!("{API}/experiments/some-id:unarchive"),
        None,
    );
    assert_eq!(status, 200, "another verb does not match");
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/experiments/some-id:archive"),
        None,
    );
    assert_eq!((status, body["code"].clone()), (503, json!(14)));
}
