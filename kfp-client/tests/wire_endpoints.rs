//! Method, path, query and body of every endpoint, checked against the contract and, where the official
//! kfp 1.8.22 SDK made the same call, against its recorded requests (`tests/fixtures/*.jsonl`).

mod support;

use kfp_client::models::{
    CronSchedule, Experiment, Filter, Job, Parameter, PeriodicSchedule, PipelineSpec, Predicate,
    Relationship, ResourceKey, ResourceReference, ResourceType, Run, Trigger,
};
use kfp_client::{KfpApi, ListOptions};
use serde_json::{Value, json};
use support::{
    SdkRequest, Wire, path_and_query, query, sdk_query, sdk_request, sdk_requests,
    server_side_filter,
};
use wiremock::matchers::any;
use wiremock::{Mock, Request, ResponseTemplate};

fn answer_everything(wire: &Wire) {
    wire.mount(Mock::given(any()).respond_with(|request: &Request| {
        let path = request.url.path();
        let body = if path.ends_with("/runs") && request.method.as_str() == "POST" {
            json!({"run": {"id": "run-1", "name": "r"}})
        } else {
            json!({})
        };
        ResponseTemplate::new(200).set_body_json(body)
    }));
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn body_json(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// Query keys whose empty value the server cannot tell from an absent one: plain proto3 strings of the list
/// request (CONTRACT §4: "the first page is requested with an empty or absent token"; an empty `sort_by` is
/// the default order). An empty `resource_reference_key.id` is not among them: it makes the key present.
const EMPTY_MEANS_ABSENT: [&str; 2] = ["page_token", "sort_by"];

/// A query as the server reads it: decoded once, order-insensitive, empty values that mean "absent" dropped,
/// and without `filter`, whose JSON is compared as a [`Filter`] where it matters.
fn as_server_reads(query: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut query: Vec<_> = query
        .into_iter()
        .filter(|(k, v)| !(v.is_empty() && EMPTY_MEANS_ABSENT.contains(&k.as_str())))
        .filter(|(k, _)| k != "filter")
        .collect();
    query.sort();
    query
}

/// The path from `/apis/v1beta1` on: the SDK's host was the gateway's `/pipeline` or the API server itself.
fn api_path(path: &str) -> &str {
    let path = path.split('?').next().unwrap();
    let start = path
        .find("/apis/v1beta1/")
        .unwrap_or_else(|| panic!("{path} is not an API path"));
    &path[start..]
}

/// Method, path, query (as the server reads it) and JSON body of our request equal the SDK's.
fn assert_same_request(ours: &Request, theirs: &SdkRequest) {
    let what = format!("{} {}", theirs.method, theirs.path);
    assert_eq!(ours.method.as_str(), theirs.method, "{what}");
    assert_eq!(api_path(ours.url.path()), api_path(&theirs.path), "{what}");
    assert_eq!(
        as_server_reads(query(ours)),
        as_server_reads(sdk_query(theirs)),
        "{what}"
    );
    if theirs.body.is_empty() {
        assert!(ours.body.is_empty(), "{what}: we sent a body");
    } else {
        let sdk_body: Value = serde_json::from_str(&theirs.body).unwrap();
        assert_eq!(body_json(ours), sdk_body, "{what}");
    }
}

#[test]
fn every_endpoint_uses_the_method_and_path_of_the_contract() {
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    client.healthz().unwrap();
    client.get_experiment("e-1").unwrap();
    client.delete_experiment("e-1").unwrap();
    client.archive_experiment("e-1").unwrap();
    client.unarchive_experiment("e-1").unwrap();
    client.get_job("j-1").unwrap();
    client.delete_job("j-1").unwrap();
    client.enable_job("j-1").unwrap();
    client.disable_job("j-1").unwrap();
    client.get_run("r-1").unwrap();
    client.terminate_run("r-1").unwrap();
    client.archive_run("r-1").unwrap();
    client.unarchive_run("r-1").unwrap();
    client.delete_run("r-1").unwrap();
    client.get_pipeline("p-1").unwrap();
    client.delete_pipeline("p-1").unwrap();
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    client.list_jobs(&ListOptions::namespace("ns")).unwrap();
    client.list_runs(&ListOptions::experiment("e-1")).unwrap();
    client.list_pipelines(&ListOptions::default()).unwrap();

    let seen: Vec<String> = wire
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, path_and_query(r)))
        .collect();
    let base = "/pipeline/apis/v1beta1";
    let expected: Vec<String> = [
        "GET /healthz",
        "GET /experiments/e-1",
        "DELETE /experiments/e-1",
        "POST /experiments/e-1:archive",
        "POST /experiments/e-1:unarchive",
        "GET /jobs/j-1",
        "DELETE /jobs/j-1",
        "POST /jobs/j-1/enable",
        "POST /jobs/j-1/disable",
        "GET /runs/r-1",
        "POST /runs/r-1/terminate",
        "POST /runs/r-1:archive",
        "POST /runs/r-1:unarchive",
        "DELETE /runs/r-1",
        "GET /pipelines/p-1",
        "DELETE /pipelines/p-1",
        "GET /experiments?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ns",
        "GET /jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ns",
        "GET /runs?resource_reference_key.type=EXPERIMENT&resource_reference_key.id=e-1",
        "GET /pipelines",
    ]
    .iter()
    .map(|line| {
        let (method, rest) = line.split_once(' ').unwrap();
        format!("{method} {base}{rest}")
    })
    .collect();
    assert_eq!(seen, expected);
}

#[test]
fn state_changing_posts_send_no_body_and_every_call_asks_for_json_without_a_userid_header() {
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    client.enable_job("j-1").unwrap();
    client.unarchive_experiment("e-1").unwrap();
    client.get_job("j-1").unwrap();
    for request in wire.requests() {
        assert!(request.body.is_empty(), "{}", request.url);
        assert_eq!(request.headers.get("accept").unwrap(), "application/json");
        assert!(request.headers.get("kubeflow-userid").is_none());
        assert!(request.headers.get("authorization").is_none());
        assert!(request.headers.get("cookie").is_none());
    }
}

#[test]
fn calls_by_id_send_the_requests_the_sdk_sends() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    client.healthz().unwrap();
    client.unarchive_experiment("exp-1").unwrap();
    client.archive_experiment("exp-1").unwrap();
    client.enable_job("job-1").unwrap();
    client.disable_job("job-1").unwrap();
    client.delete_job("job-1").unwrap();
    client.get_job("job-1").unwrap();
    let base = "/pipeline/apis/v1beta1";
    let recorded = [
        ("GET", "/healthz"),
        ("POST", "/experiments/exp-1:unarchive"),
        ("POST", "/experiments/exp-1:archive"),
        ("POST", "/jobs/job-1/enable"),
        ("POST", "/jobs/job-1/disable"),
        ("DELETE", "/jobs/job-1"),
        ("GET", "/jobs/job-1"),
    ]
    .map(|(method, path)| sdk_request(&sdk, method, &format!("{base}{path}")));
    let requests = wire.requests();
    assert_eq!(requests.len(), recorded.len());
    for (ours, theirs) in requests.iter().zip(recorded) {
        assert_same_request(ours, theirs);
    }
}

#[test]
fn bodiless_posts_declare_an_empty_body_like_the_sdk() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk_request(&sdk, "POST", "/pipeline/apis/v1beta1/jobs/job-1/enable");
    assert_eq!(recorded.headers["Content-Length"], "0");
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    client.enable_job("job-1").unwrap();
    client.disable_job("job-1").unwrap();
    client.archive_experiment("exp-1").unwrap();
    client.unarchive_experiment("exp-1").unwrap();
    client.terminate_run("r-1").unwrap();
    client.archive_run("r-1").unwrap();
    client.unarchive_run("r-1").unwrap();
    for request in wire.requests() {
        // Some front ends (Google's load balancers among them) refuse a POST without a length with 411.
        assert_eq!(
            request
                .headers
                .get("content-length")
                .map(|v| v.to_str().unwrap()),
            Some("0"),
            "{}",
            request.url
        );
        assert!(request.headers.get("transfer-encoding").is_none());
    }
}

#[test]
fn token_client_calls_send_the_requests_the_sdk_sends_to_the_api_server() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-token-requests.jsonl");
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    client.healthz().unwrap();
    client
        .list_experiments(&ListOptions::namespace("").with_page_size(10))
        .unwrap();
    client.get_job("j").unwrap();
    let recorded = [
        sdk_request(&sdk, "GET", "/apis/v1beta1/healthz"),
        sdk_request(&sdk, "GET", "/apis/v1beta1/experiments"),
        sdk_request(&sdk, "GET", "/apis/v1beta1/jobs/j"),
    ];
    let requests = wire.requests();
    assert_eq!(requests.len(), recorded.len());
    for (ours, theirs) in requests.iter().zip(recorded) {
        assert_same_request(ours, theirs);
    }
}

#[test]
fn create_experiment_sends_exactly_the_sdk_body() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk_request(&sdk, "POST", "/pipeline/apis/v1beta1/experiments");
    let wire = Wire::start();
    answer_everything(&wire);
    wire.client()
        .create_experiment(&Experiment {
            name: "nomatch-new".into(),
            description: "desc".into(),
            resource_references: vec![ResourceReference::namespace_owner("team-1")],
            ..Experiment::default()
        })
        .unwrap();
    let request = &wire.requests()[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/pipeline/apis/v1beta1/experiments");
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    let sdk_body: Value = serde_json::from_str(&recorded.body).unwrap();
    assert_eq!(body_json(request), sdk_body);
}

fn sdk_workflow_manifest(body: &Value) -> String {
    body["pipeline_spec"]["workflow_manifest"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn create_job_with_a_cron_trigger_sends_the_sdk_body() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk
        .iter()
        .find(|r| {
            r.method == "POST" && r.path.ends_with("/jobs") && r.body.contains("cron_schedule")
        })
        .unwrap();
    let mut sdk_body: Value = serde_json::from_str(&recorded.body).unwrap();
    let wire = Wire::start();
    answer_everything(&wire);
    let job = Job {
        name: "GIT::job__2024-01-02T03-04-05Z".into(),
        pipeline_spec: PipelineSpec {
            workflow_manifest: sdk_workflow_manifest(&sdk_body),
            parameters: vec![
                Parameter::new("msg", "hello world"),
                Parameter::new("n", "5"),
                Parameter::new("lst", "[1, 2]"),
            ],
            ..PipelineSpec::default()
        },
        resource_references: vec![ResourceReference::experiment_owner("exp-1")],
        service_account: "default-editor".into(),
        max_concurrency: 3,
        trigger: Trigger {
            cron_schedule: Some(CronSchedule {
                start_time: Some("2024-01-02T03:04:05Z".parse().unwrap()),
                end_time: None,
                cron: "0 0 * * * *".into(),
            }),
            periodic_schedule: None,
        },
        enabled: false,
        no_catchup: true,
        ..Job::default()
    };
    wire.client().create_job(&job).unwrap();
    let request = &wire.requests()[0];
    assert_eq!(request.url.path(), "/pipeline/apis/v1beta1/jobs");
    // The SDK passes the caller's time string through; we always write UTC with `Z`, which the server parses
    // to the same instant.
    sdk_body["trigger"]["cron_schedule"]["start_time"] = json!("2024-01-02T03:04:05Z");
    assert_eq!(body_json(request), sdk_body);
    // The workflow manifest string travels byte for byte.
    assert_eq!(
        body_json(request)["pipeline_spec"]["workflow_manifest"],
        sdk_body["pipeline_spec"]["workflow_manifest"]
    );
}

#[test]
fn create_job_with_a_periodic_trigger_and_pipeline_id_means_what_the_sdk_body_means() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk
        .iter()
        .find(|r| {
            r.method == "POST" && r.path.ends_with("/jobs") && r.body.contains("periodic_schedule")
        })
        .unwrap();
    let wire = Wire::start();
    answer_everything(&wire);
    let job = Job {
        name: "periodic".into(),
        pipeline_spec: PipelineSpec {
            pipeline_id: "pid-1".into(),
            ..PipelineSpec::default()
        },
        resource_references: vec![
            ResourceReference::experiment_owner("exp-1"),
            ResourceReference {
                key: ResourceKey::new(ResourceType::PipelineVersion, "ver-1"),
                name: String::new(),
                relationship: Relationship::Creator,
            },
        ],
        max_concurrency: 1,
        trigger: Trigger {
            cron_schedule: None,
            periodic_schedule: Some(PeriodicSchedule {
                start_time: None,
                end_time: None,
                interval_second: 3600,
            }),
        },
        enabled: true,
        ..Job::default()
    };
    wire.client().create_job(&job).unwrap();
    let ours: Job = serde_json::from_slice(&wire.requests()[0].body).unwrap();
    let theirs: Job = serde_json::from_str(&recorded.body).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours, job);
    // As JSON, the one difference is `no_catchup: false`, which the SDK leaves out when not given: a proto3
    // bool, so false and absent are the same to the server (which itself omits false, CONTRACT §1).
    let mut sent = body_json(&wire.requests()[0]);
    assert_eq!(
        sent.as_object_mut().unwrap().remove("no_catchup"),
        Some(json!(false))
    );
    let sdk_body: Value = serde_json::from_str(&recorded.body).unwrap();
    assert_eq!(sent, sdk_body);
    // int64 goes out as a JSON number, like the SDK sends it.
    let body = body_json(&wire.requests()[0]);
    assert_eq!(
        body["trigger"]["periodic_schedule"]["interval_second"],
        json!(3600)
    );
    assert_eq!(body["max_concurrency"], json!(1));
}

#[test]
fn create_run_sends_the_run_and_returns_the_run_detail() {
    let wire = Wire::start();
    answer_everything(&wire);
    let run = Run {
        name: "MANUAL::hello__2024-01-02T03-04-05Z".into(),
        pipeline_spec: PipelineSpec {
            workflow_manifest: "{\"kind\":\"Workflow\"}".into(),
            parameters: vec![Parameter::new("msg", "hi")],
            ..PipelineSpec::default()
        },
        resource_references: vec![ResourceReference::experiment_owner("exp-1")],
        ..Run::default()
    };
    let detail = wire.client().create_run(&run).unwrap();
    assert_eq!(detail.run.id, "run-1");
    let request = &wire.requests()[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/pipeline/apis/v1beta1/runs");
    assert_eq!(
        body_json(request),
        json!({
            "name": "MANUAL::hello__2024-01-02T03-04-05Z",
            "pipeline_spec": {"workflow_manifest": "{\"kind\":\"Workflow\"}", "parameters": [{"name": "msg", "value": "hi"}]},
            "resource_references": [{"key": {"type": "EXPERIMENT", "id": "exp-1"}, "relationship": "OWNER"}]
        })
    );
}

#[test]
fn list_calls_send_the_same_parameters_as_the_sdk() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let wire = Wire::start();
    answer_everything(&wire);
    let client = wire.client();
    let ns_sorted = ListOptions::namespace("team-1")
        .with_page_size(100)
        .with_sort_by("created_at desc");
    client.list_experiments(&ns_sorted).unwrap();
    client.list_jobs(&ns_sorted).unwrap();
    client
        .list_jobs(&ListOptions::experiment("exp-1").with_page_size(10))
        .unwrap();
    let requests = wire.requests();

    let sdk_exp = sdk
        .iter()
        .find(|r| r.path.contains("/experiments?page_token="))
        .unwrap();
    let sdk_jobs_ns = sdk
        .iter()
        .find(|r| r.path.contains("/jobs?") && r.path.contains("NAMESPACE"))
        .unwrap();
    let sdk_jobs_exp = sdk
        .iter()
        .find(|r| r.path.contains("/jobs?") && r.path.contains("type=EXPERIMENT"))
        .unwrap();
    assert_eq!(requests.len(), 3);
    for (ours, theirs) in requests.iter().zip([sdk_exp, sdk_jobs_ns, sdk_jobs_exp]) {
        assert_same_request(ours, theirs);
    }
}

#[test]
fn run_listing_with_a_substring_filter_sends_the_sdk_request_and_keeps_the_value_intact() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk.iter().find(|r| r.path.contains("/runs?")).unwrap();
    // The JSON the SDK's caller passed: the gateway's query decoding undoes the SDK's one `urlencode`.
    let (_, passed) = sdk_query(recorded)
        .into_iter()
        .find(|(k, _)| k == "filter")
        .unwrap();
    let wanted: Filter = serde_json::from_str(&passed).unwrap();
    assert_eq!(
        wanted,
        Filter::single(Predicate::is_substring("name", "a+b %20&c"))
    );
    let wire = Wire::start();
    answer_everything(&wire);
    wire.client()
        .list_runs(
            &ListOptions::namespace("team-1")
                .with_page_size(10)
                .with_filter(wanted.clone()),
        )
        .unwrap();
    let request = &wire.requests()[0];
    assert_same_request(request, recorded);
    let ours: Filter = serde_json::from_str(&server_side_filter(request).unwrap()).unwrap();
    assert_eq!(ours, wanted);
    // The SDK's single encoding loses `+` and `%20` to the server's second decoding (CONTRACT §4, §9); the
    // double encoding above is why our filter bytes differ from the SDK's on purpose.
    let sdk_read: Filter =
        serde_json::from_str(&support::go_query_unescape(&passed).unwrap()).unwrap();
    assert_eq!(
        sdk_read,
        Filter::single(Predicate::is_substring("name", "a b  &c"))
    );
}

#[test]
fn experiment_lookup_by_name_filters_like_the_sdk() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk
        .iter()
        .find(|r| r.path.contains("experiments?filter="))
        .unwrap();
    let wire = Wire::start();
    answer_everything(&wire);
    let found =
        kfp_client::find_experiment_by_name(&wire.client(), Some("team-1"), "nomatch-new").unwrap();
    assert!(found.is_none());
    let request = &wire.requests()[0];
    let ours: Filter = serde_json::from_str(&server_side_filter(request).unwrap()).unwrap();
    // The SDK's filter, read the way the server reads it (decoded twice).
    let (_, sdk_value) = sdk_query(recorded)
        .into_iter()
        .find(|(k, _)| k == "filter")
        .unwrap();
    let theirs: Filter =
        serde_json::from_str(&support::go_query_unescape(&sdk_value).unwrap()).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours, Filter::name_equals("nomatch-new"));
    let scope: Vec<_> = query(request)
        .into_iter()
        .filter(|(k, _)| k.starts_with("resource_reference_key"))
        .collect();
    assert_eq!(
        scope,
        pairs(&[
            ("resource_reference_key.type", "NAMESPACE"),
            ("resource_reference_key.id", "team-1")
        ])
    );
}

#[test]
fn single_user_experiment_listing_sends_an_empty_namespace_key_like_the_sdk() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-token-requests.jsonl");
    let recorded = sdk_request(&sdk, "GET", "/apis/v1beta1/experiments");
    let wire = Wire::start();
    answer_everything(&wire);
    kfp_client::list_all_experiments(&wire.client(), None).unwrap();
    let ours = query(&wire.requests()[0]);
    let theirs: Vec<_> = sdk_query(recorded)
        .into_iter()
        .filter(|(k, _)| k.starts_with("resource_reference_key"))
        .collect();
    assert_eq!(
        ours.into_iter()
            .filter(|(k, _)| k.starts_with("resource_reference_key"))
            .collect::<Vec<_>>(),
        theirs
    );
}

#[test]
fn upload_sends_one_multipart_uploadfile_part_like_the_sdk() {
    let sdk = sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = sdk_request(&sdk, "POST", "/pipeline/apis/v1beta1/pipelines/upload");
    let wire = Wire::start();
    answer_everything(&wire);
    let content = b"apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n";
    wire.client()
        .upload_pipeline("my pipe", Some("d e"), "pipeline.yaml", content)
        .unwrap();
    let request = &wire.requests()[0];
    assert_eq!(
        request.url.path(),
        "/pipeline/apis/v1beta1/pipelines/upload"
    );
    // The server decodes `name` once more after the query decoding; both arrive as the SDK's.
    let ours = query(request);
    let theirs = sdk_query(recorded);
    let name = |q: &[(String, String)]| {
        support::go_query_unescape(&q.iter().find(|(k, _)| k == "name").unwrap().1).unwrap()
    };
    assert_eq!(name(&ours), name(&theirs));
    assert_eq!(name(&ours), "my pipe");
    let description = |q: &[(String, String)]| {
        support::go_query_unescape(&q.iter().find(|(k, _)| k == "description").unwrap().1).unwrap()
    };
    assert_eq!(description(&ours), description(&theirs));
    assert_eq!(description(&ours), "d e");

    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let body = String::from_utf8(request.body.clone()).unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"pipeline.yaml\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{}\r\n--{boundary}--\r\n",
        String::from_utf8_lossy(content)
    );
    assert_eq!(body, expected);
    assert!(
        recorded
            .body
            .contains("name=\"uploadfile\"; filename=\"pipeline.yaml\"")
    );
    assert!(
        recorded
            .body
            .contains("Content-Type: application/octet-stream")
    );
}

#[test]
fn filters_in_list_options_reach_the_server_intact() {
    let wire = Wire::start();
    answer_everything(&wire);
    let filter = Filter::single(Predicate::in_strings("name", ["a", "b"]));
    wire.client()
        .list_runs(&ListOptions::namespace("ns").with_filter(filter.clone()))
        .unwrap();
    let seen: Filter =
        serde_json::from_str(&server_side_filter(&wire.requests()[0]).unwrap()).unwrap();
    assert_eq!(seen, filter);
}

#[test]
fn upload_name_and_description_with_plus_percent_and_ampersand_survive_the_second_decoding() {
    let wire = Wire::start();
    answer_everything(&wire);
    wire.client()
        .upload_pipeline("a+b 100%", Some("x&y %41"), "p.yaml", b"kind: Workflow\n")
        .unwrap();
    let q = query(&wire.requests()[0]);
    let server_reads = |key: &str| {
        support::go_query_unescape(&q.iter().find(|(k, _)| k == key).unwrap().1).unwrap()
    };
    assert_eq!(server_reads("name"), "a+b 100%");
    assert_eq!(server_reads("description"), "x&y %41");
}
