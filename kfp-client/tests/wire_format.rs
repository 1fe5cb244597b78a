//! Reading what the server emits (int64 as strings, omitted defaults, RFC 3339, both healthz shapes), error
//! bodies, filter encoding and paging.

mod support;

use kfp_client::models::{
    Experiment, Filter, Healthz, Job, Predicate, PredicateValue, RunStorageState, StorageState,
};
use kfp_client::{Error, KfpApi, ListOptions, ListScope};
use serde_json::json;
use support::{Wire, query, server_side_filter};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, Request, ResponseTemplate};

const JOB_1_8_5: &str = r#"{"id":"6f1c","name":"GIT::job__2024-01-02T03-04-05Z",
 "pipeline_spec":{"workflow_manifest":"{\"apiVersion\": \"argoproj.io/v1alpha1\"}",
                  "parameters":[{"name":"msg","value":"hello world"},{"name":"empty"}]},
 "resource_references":[{"key":{"type":"EXPERIMENT","id":"0a1b"},"name":"my-exp","relationship":"OWNER"}],
 "service_account":"default-editor","max_concurrency":"3",
 "trigger":{"cron_schedule":{"start_time":"2024-01-02T03:04:05Z","cron":"0 0 * * * *"}},
 "created_at":"2024-05-01T10:00:00Z","updated_at":"2024-05-01T10:00:00.123456789Z","status":"NO_STATUS",
 "no_catchup":true,"mode":"ENABLED","some_future_field":{"x":1}}"#;

#[test]
fn a_job_as_the_server_emits_it_is_read_with_int64_strings_omitted_defaults_and_rfc3339_times() {
    let job: Job = serde_json::from_str(JOB_1_8_5).unwrap();
    assert_eq!(job.max_concurrency, 3);
    assert!(!job.enabled, "an omitted `enabled` is false");
    assert!(job.no_catchup);
    assert_eq!(
        job.pipeline_spec.parameters[1].value, "",
        "an omitted value is empty"
    );
    assert_eq!(job.experiment_id(), Some("0a1b"));
    let cron = job.trigger.cron_schedule.unwrap();
    assert_eq!(cron.start_time.unwrap().as_second(), 1_704_164_645);
    assert_eq!(cron.end_time, None);
    assert_eq!(
        job.updated_at.unwrap().subsec_nanosecond(),
        123_456_789,
        "fractional seconds are kept"
    );
    assert_eq!(job.created_at.unwrap().to_string(), "2024-05-01T10:00:00Z");
}

#[test]
fn int64_fields_accept_numbers_and_strings_and_times_accept_any_offset() {
    let job: Job = serde_json::from_value(json!({
        "max_concurrency": 7,
        "trigger": {"periodic_schedule": {"interval_second": "3600", "start_time": "2024-01-02T05:04:05+02:00"}}
    }))
    .unwrap();
    assert_eq!(job.max_concurrency, 7);
    let periodic = job.trigger.periodic_schedule.unwrap();
    assert_eq!(periodic.interval_second, 3600);
    assert_eq!(
        periodic.start_time.unwrap().to_string(),
        "2024-01-02T03:04:05Z"
    );
    assert!(serde_json::from_value::<Job>(json!({"max_concurrency": "three"})).is_err());
}

#[test]
fn an_empty_object_and_nulls_give_defaults() {
    let job: Job = serde_json::from_str("{}").unwrap();
    assert_eq!(job, Job::default());
    let job: Job = serde_json::from_value(
        json!({"name": null, "resource_references": null, "created_at": null}),
    )
    .unwrap();
    assert_eq!(job, Job::default());
}

#[test]
fn enums_are_read_by_name_or_number_and_unknown_values_do_not_fail() {
    let experiment: Experiment = serde_json::from_value(json!({
        "storage_state": 2,
        "resource_references": [{"key": {"type": 5, "id": "ns"}, "relationship": "OWNER"}]
    }))
    .unwrap();
    assert_eq!(experiment.storage_state, StorageState::Archived);
    assert_eq!(experiment.namespace(), Some("ns"));
    let experiment: Experiment =
        serde_json::from_value(json!({"storage_state": "STORAGESTATE_FROM_THE_FUTURE"})).unwrap();
    assert_eq!(experiment.storage_state, StorageState::Unspecified);
    // Runs number their storage states differently and omit AVAILABLE.
    let run: kfp_client::models::Run = serde_json::from_value(json!({"storage_state": 1})).unwrap();
    assert_eq!(run.storage_state, RunStorageState::Archived);
    let run: kfp_client::models::Run = serde_json::from_value(json!({})).unwrap();
    assert_eq!(run.storage_state, RunStorageState::Available);
}

#[test]
fn healthz_is_read_in_the_api_server_and_the_ui_proxy_shapes() {
    let direct: Healthz =
        serde_json::from_str(r#"{"commit_sha":"abc", "tag_name":"1.8.5", "multi_user":true}"#)
            .unwrap();
    assert_eq!(direct.is_multi_user(), Some(true));
    assert!(direct.api_server_ready());
    assert_eq!(direct.server_version(), Some("1.8.5"));
    let proxied: Healthz = serde_json::from_value(json!({
        "buildDate": "x", "frontendCommitHash": "f", "frontendTagName": "1.8.5", "apiServerReady": false,
        "apiServerCommitHash": "", "apiServerTagName": ""
    }))
    .unwrap();
    assert!(!proxied.api_server_ready());
    assert_eq!(proxied.is_multi_user(), None);
}

#[test]
fn healthz_without_content_type_is_parsed() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/healthz")).respond_with(
            ResponseTemplate::new(200).set_body_bytes(
                &br#"{"commit_sha":"c", "tag_name":"1.8.5", "multi_user":false}"#[..],
            ),
        ),
    );
    assert_eq!(
        wire.client().healthz().unwrap().is_multi_user(),
        Some(false)
    );
}

#[test]
fn a_filter_is_written_as_protobuf_json() {
    let filter = Filter::name_equals("my-exp").and(Predicate {
        op: kfp_client::models::PredicateOp::GreaterThan,
        key: "created_at".into(),
        value: PredicateValue::Timestamp("2024-01-01T00:00:00Z".parse().unwrap()),
    });
    assert_eq!(
        filter.to_json(),
        r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"my-exp"},{"key":"created_at","op":"GREATER_THAN","timestamp_value":"2024-01-01T00:00:00Z"}]}"#
    );
    let long = Filter::single(Predicate {
        op: kfp_client::models::PredicateOp::In,
        key: "id".into(),
        value: PredicateValue::Longs(vec![1, 2]),
    });
    assert_eq!(
        long.to_json(),
        r#"{"predicates":[{"key":"id","op":"IN","long_values":{"values":[1,2]}}]}"#
    );
}

#[test]
fn filter_values_with_plus_percent_ampersand_and_spaces_survive_the_double_decoding() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_body_string("{}")),
    );
    let client = wire.client();
    let tricky = [
        "a+b %20&c",
        "100% sure",
        "x=y&z",
        "  lead and trail  ",
        "ünïcödé + ☃",
        "%zz",
    ];
    for value in tricky {
        client
            .list_runs(
                &ListOptions::namespace("ns")
                    .with_filter(Filter::single(Predicate::is_substring("name", value))),
            )
            .unwrap();
    }
    let requests = wire.requests();
    for (request, value) in requests.iter().zip(tricky) {
        let json = server_side_filter(request).unwrap();
        let filter: Filter = serde_json::from_str(&json).unwrap();
        assert_eq!(
            filter.predicates[0].value,
            PredicateValue::String(value.into()),
            "{json}"
        );
    }
}

fn experiment_page(request: &Request) -> ResponseTemplate {
    let token = query(request)
        .into_iter()
        .find(|(k, _)| k == "page_token")
        .map(|(_, v)| v);
    let (names, next) = match token.as_deref() {
        None => (vec!["e1", "e2"], Some("t2")),
        Some("t2") => (vec!["e3", "e4"], Some("t3")),
        Some("t3") => (vec!["e5"], None),
        Some(other) => panic!("unexpected token {other}"),
    };
    let mut body = json!({
        "experiments": names.iter().map(|n| json!({"id": n, "name": n})).collect::<Vec<_>>(),
        "total_size": 5
    });
    if let Some(next) = next {
        body["next_page_token"] = json!(next);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

#[test]
fn list_all_walks_every_page_and_sends_sort_and_filter_only_on_the_first() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/experiments"))
            .respond_with(experiment_page)
            .expect(3),
    );
    let client = wire.client();
    let options = ListOptions::namespace("team-1")
        .with_sort_by("name")
        .with_filter(Filter::single(Predicate::not_equals(
            "storage_state",
            "STORAGESTATE_ARCHIVED",
        )));
    let all = kfp_client::list_all(&options, |o| client.list_experiments(o)).unwrap();
    let names: Vec<_> = all.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["e1", "e2", "e3", "e4", "e5"]);
    wire.verify();
    let requests = wire.requests();
    for (i, request) in requests.iter().enumerate() {
        let q = query(request);
        let has = |key: &str| q.iter().any(|(k, _)| k == key);
        assert!(q.contains(&("page_size".into(), "200".into())), "page {i}");
        assert!(
            q.contains(&("resource_reference_key.id".into(), "team-1".into())),
            "page {i}"
        );
        assert_eq!(has("sort_by"), i == 0, "page {i}");
        assert_eq!(has("filter"), i == 0, "page {i}");
        assert_eq!(has("page_token"), i > 0, "page {i}");
    }
}

#[test]
fn list_all_jobs_in_an_experiment_uses_the_experiment_key() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs"))
            .and(query_param("resource_reference_key.type", "EXPERIMENT"))
            .and(query_param("resource_reference_key.id", "e-1"))
            .and(query_param_is_missing("page_token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"jobs": [{"id": "j", "max_concurrency": "2"}], "total_size": 1}),
            ))
            .expect(1),
    );
    let jobs =
        kfp_client::list_all_jobs(&wire.client(), &ListScope::Experiment("e-1".into())).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].max_concurrency, 2);
    wire.verify();
}

#[test]
fn a_server_repeating_a_page_token_is_an_error_not_an_endless_loop() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET")).respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"jobs": [{"id": "j"}], "next_page_token": "same"})),
        ),
    );
    let err =
        kfp_client::list_all_jobs(&wire.client(), &ListScope::Namespace("ns".into())).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "GET /apis/v1beta1/jobs: unexpected response body: the server returned the same next_page_token twice"
    );
    assert_eq!(wire.requests().len(), 2);
}

#[test]
fn an_error_body_becomes_a_typed_error_with_the_servers_message() {
    let wire = Wire::start();
    let chain = "Validate create job request failed.: Invalid input error: The max concurrency of the job is out of range. Support 1-10. Received 0.";
    wire.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(400).set_body_json(json!({
        "error": chain, "code": 3, "message": chain,
        "details": [{"@type": "type.googleapis.com/api.Error",
                     "error_message": "The max concurrency of the job is out of range. Support 1-10. Received 0.",
                     "error_details": chain}]
    }))));
    let err = wire.client().create_job(&Job::default()).unwrap_err();
    match &err {
        Error::Api {
            status,
            method,
            path,
            message,
            details,
            code,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(method, "POST");
            assert_eq!(path, "/apis/v1beta1/jobs");
            assert_eq!(
                message,
                "The max concurrency of the job is out of range. Support 1-10. Received 0."
            );
            assert_eq!(details.as_deref(), Some(chain));
            assert_eq!(*code, Some(3));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_ambiguous());
    assert_eq!(
        err.to_string(),
        "POST /apis/v1beta1/jobs failed with HTTP 400: The max concurrency of the job is out of range. Support 1-10. Received 0."
    );
    assert_eq!(wire.requests().len(), 1, "a 400 is not retried");
}

#[test]
fn a_plain_text_404_keeps_the_text() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET")).respond_with(
            ResponseTemplate::new(404)
                .set_body_raw("404 page not found\n", "text/plain; charset=utf-8"),
        ),
    );
    let err = wire.client().get_experiment("nope").unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        "GET /apis/v1beta1/experiments/nope failed with HTTP 404: 404 page not found"
    );
}

#[test]
fn upload_errors_in_their_own_shape_are_understood() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(500).set_body_raw(
        r#"{"error_message":"Failed to create a pipeline: duplicate","error_details":"stack..."}"#,
        "text/plain; charset=utf-8",
    )));
    let err = wire
        .client()
        .upload_pipeline("p", None, "p.yaml", b"x")
        .unwrap_err();
    match err {
        Error::Api {
            status: 500,
            message,
            details,
            ..
        } => {
            assert_eq!(message, "Failed to create a pipeline: duplicate");
            assert_eq!(details.as_deref(), Some("stack..."));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(wire.requests().len(), 1, "a create is not retried on a 500");
}

#[test]
fn a_redirect_is_not_followed_and_means_not_authenticated() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/experiments/e")).respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", "/dex/auth?client_id=x&state=secret-state"),
        ),
    );
    let err = wire.client().get_experiment("e").unwrap_err();
    match &err {
        Error::NotAuthenticated { reason, hint, .. } => {
            assert!(reason.contains("redirect to /dex/auth"), "{reason}");
            assert!(
                !reason.contains("secret-state"),
                "the OAuth state stays out of messages"
            );
            assert!(hint.contains("DEX_USERNAME"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        wire.requests().len(),
        1,
        "the redirect target was not requested"
    );
}

#[test]
fn an_html_page_where_json_was_expected_means_not_authenticated() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("GET")).respond_with(
        ResponseTemplate::new(200).set_body_raw("<!DOCTYPE html><html>Sign in</html>", "text/html"),
    ));
    let err = wire.client().healthz().unwrap_err();
    assert!(matches!(err, Error::NotAuthenticated { .. }), "{err:?}");
    assert!(err.is_auth());
}

#[test]
fn a_json_403_is_a_permission_error_and_an_html_403_a_login_page() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/a")).respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"error": "denied", "code": 7, "message": "PermissionDenied: user x is not allowed"}),
        )),
    );
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/b")).respond_with(
            ResponseTemplate::new(403).set_body_raw("<html>sign in</html>", "text/html"),
        ),
    );
    let client = wire.client();
    let denied = client.get_job("a").unwrap_err();
    assert_eq!(denied.status(), Some(403));
    assert!(
        denied
            .to_string()
            .contains("PermissionDenied: user x is not allowed")
    );
    assert!(matches!(
        client.get_job("b").unwrap_err(),
        Error::NotAuthenticated { .. }
    ));
}

#[test]
fn a_403_or_200_that_is_not_json_means_not_authenticated() {
    let wire = Wire::start();
    // Istio's AuthorizationPolicy denial, in front of KFP (CONTRACT §6).
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/denied")).respond_with(
            ResponseTemplate::new(403).set_body_raw("RBAC: access denied", "text/plain"),
        ),
    );
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/empty"))
            .respond_with(ResponseTemplate::new(403)),
    );
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/text"))
            .respond_with(ResponseTemplate::new(200).set_body_raw("Please sign in", "text/plain")),
    );
    let client = wire.client();
    for (id, said) in [
        (
            "denied",
            "HTTP 403 with text instead of JSON: RBAC: access denied",
        ),
        ("empty", "HTTP 403 without a body"),
        ("text", "HTTP 200 with text instead of JSON: Please sign in"),
    ] {
        let err = client.get_job(id).unwrap_err();
        match &err {
            Error::NotAuthenticated { reason, hint, .. } => {
                assert!(reason.contains(said), "{id}: {reason}");
                assert!(hint.contains("DEX_USERNAME"), "{hint}");
            }
            other => panic!("{id}: {other:?}"),
        }
        assert!(err.is_auth());
    }
    assert_eq!(wire.requests().len(), 3, "none of them is retried");
}

#[test]
fn an_empty_200_is_still_an_empty_answer() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)));
    wire.client().enable_job("j-1").unwrap();
}

#[test]
fn a_2xx_body_that_is_not_the_expected_json_is_a_decode_error() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET")).respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"max_concurrency": "lots"}"#, "application/json"),
        ),
    );
    let err = wire.client().get_job("j").unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[test]
fn an_html_error_page_is_not_pasted_into_the_message() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("GET")).respond_with(
        ResponseTemplate::new(404).set_body_raw("<html><body>nginx 404</body></html>", "text/html"),
    ));
    let err = wire.client().get_run("r").unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /apis/v1beta1/runs/r failed with HTTP 404: an HTML page instead of a KFP API answer (is the API URL right?)"
    );
}
