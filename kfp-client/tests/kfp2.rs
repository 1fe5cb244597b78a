//! The client against KFP 2.x backends serving v1beta1 (KFP2-V1BETA1.md §5's P0/P1 items the client owns),
//! on a wiremock server answering as 2.x does.

mod support;

use kfp_client::models::{
    CronSchedule, Experiment, Job, Parameter, PeriodicSchedule, PipelineSpec, ResourceReference,
    Run, Trigger,
};
use kfp_client::{AuthConfig, DexAuthType, Error, KfpApi, ListOptions};
use serde_json::{Value, json};
use support::Wire;
use support::gateway::{PASSWORD, default_gateway, dex, gateway};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, ResponseTemplate};

const MANIFEST: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {"arguments": {"parameters": [{"name": "a"}]}}}"#;

#[test]
fn a_2x_job_is_read_by_reference_type_in_any_order_with_enabled_from_enabled() {
    let wire = Wire::start();
    // KFP2-V1BETA1.md §2.5: synthesised refs (NAMESPACE first, PIPELINE*, no names), STATUS_UNSPECIFIED,
    // no trigger, `enabled` omitted when false.
    let body = json!({
        "id": "j", "name": "GIT::x__2024-01-02T03-04-05Z",
        "pipeline_spec": {"workflow_manifest": MANIFEST},
        "resource_references": [
            {"key": {"type": "NAMESPACE", "id": "team"}, "relationship": "OWNER"},
            {"key": {"type": "PIPELINE_VERSION", "id": "v"}, "relationship": "CREATOR"},
            {"key": {"type": "EXPERIMENT", "id": "e1"}, "relationship": "OWNER"},
            {"key": {"type": "PIPELINE", "id": "p"}, "relationship": "CREATOR"}
        ],
        "max_concurrency": "1", "status": "ENABLED"
    });
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_json(body)));
    let job = wire.client().get_job("j").unwrap();
    assert_eq!(job.experiment_id(), Some("e1"));
    assert!(
        !job.enabled,
        "enablement comes from `enabled`, never from `status`"
    );
    assert_eq!(job.trigger, Trigger::default());
}

#[test]
fn errors_of_every_profile_are_keyed_on_the_status() {
    let bodies = [
        json!({"error": "x: Job j not found.", "code": 5, "message": "x: Job j not found.",
               "details": [{"@type": "type.googleapis.com/api.Error", "error_message": "Job j not found.", "error_details": "x"}]}),
        json!({"error": "x: Job j not found", "code": 5, "message": "x: Job j not found",
               "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 5, "message": "Job j not found"}]}),
        json!({"code": 5, "message": "x: Job j not found",
               "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 5, "message": "Job j not found"}]}),
    ];
    for body in bodies {
        let wire = Wire::start();
        wire.mount(
            Mock::given(any()).respond_with(ResponseTemplate::new(404).set_body_json(&body)),
        );
        let err = wire.client().get_job("j").unwrap_err();
        assert!(err.is_not_found(), "{body}");
        assert!(err.to_string().contains("Job j not found"), "{err}");
    }
}

#[test]
fn the_2_17_v1_refusal_is_a_typed_error_naming_the_namespace() {
    let wire = Wire::start();
    let body = json!({"code": 3, "message": "Failed to create a recurring run: Invalid input error: Namespace team is not allowed to run v1 pipelines. Please migrate to using KFP V2 pipelines.",
                      "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 3, "message": "Namespace team is not allowed to run v1 pipelines. Please migrate to using KFP V2 pipelines."}]});
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(400).set_body_json(body)));
    let err = wire.client().create_job(&Job::default()).unwrap_err();
    match &err {
        Error::V1PipelinesBlocked { namespace, .. } => assert_eq!(namespace, "team"),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("namespace \"team\""), "{err}");
    assert!(!err.is_ambiguous());
    assert_eq!(wire.requests().len(), 1, "a refusal is not retried");
}

#[test]
fn a_lost_identity_makes_a_token_file_client_read_its_token_again_401_and_1_8_5_s_500() {
    let answers = [
        (
            401,
            json!({"code": 16, "message": "Failed to check authorization. User identity is empty in the request header"}),
        ),
        (
            500,
            json!({"error": "Internal error: Unauthenticated: Request header error: there is no user identity header.", "code": 13,
                     "message": "Internal error: Unauthenticated: Request header error: there is no user identity header."}),
        ),
    ];
    for (status, body) in answers {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "old").unwrap();
        let wire = Wire::start();
        wire.mount(
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(status).set_body_json(&body))
                .up_to_n_times(1),
        );
        wire.mount(
            Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")),
        );
        let client = wire.client_with(AuthConfig::TokenFile(token.clone()));
        std::fs::write(&token, "new").unwrap();
        client.get_job("j").unwrap();
        assert_eq!(
            wire.requests().len(),
            2,
            "HTTP {status}: one renewal, then success"
        );
    }
}

#[test]
fn a_dex_session_logs_in_again_on_1_8_5_s_500_unauthenticated() {
    let wire = Wire::start();
    // KFP 1.8.5 behind the gateway lost the identity header once: HTTP 500 `Unauthenticated`.
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/experiments"))
            .respond_with(ResponseTemplate::new(500).set_body_json(json!({
                "error": "Internal error: Unauthenticated: Request header error: there is no user identity header.",
                "code": 13,
                "message": "Internal error: Unauthenticated: Request header error: there is no user identity header."
            })))
            .up_to_n_times(1)
            .with_priority(1),
    );
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    let page = client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        state.lock().unwrap().logins,
        2,
        "one login, then one new login"
    );
}

#[test]
fn a_500_that_is_not_about_identity_is_an_api_error_and_not_retried_for_a_create() {
    let wire = Wire::start();
    let body = json!({"code": 13, "message": "InternalServerError: Failed to create a recurring run with an invalid pipeline spec manifest: x",
                      "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 13, "message": "Internal Server Error"}]});
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(500).set_body_json(body)));
    let err = wire.client().create_job(&Job::default()).unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("invalid pipeline spec manifest"),
        "the top-level message, not the opaque detail: {err}"
    );
    assert_eq!(wire.requests().len(), 1);
}

/// The v1beta1 proto fields (backend/api/v1beta1/*.proto), by message: 2.14+ refuses any other key.
fn allowed(message: &str) -> &'static [&'static str] {
    match message {
        "job" => &[
            "id",
            "name",
            "description",
            "pipeline_spec",
            "resource_references",
            "service_account",
            "max_concurrency",
            "trigger",
            "mode",
            "created_at",
            "updated_at",
            "status",
            "error",
            "enabled",
            "no_catchup",
        ],
        "experiment" => &[
            "id",
            "name",
            "description",
            "created_at",
            "resource_references",
            "storage_state",
        ],
        "run" => &[
            "id",
            "name",
            "storage_state",
            "description",
            "pipeline_spec",
            "resource_references",
            "service_account",
            "created_at",
            "scheduled_at",
            "finished_at",
            "status",
            "error",
            "metrics",
        ],
        "pipeline_spec" => &[
            "pipeline_id",
            "pipeline_name",
            "workflow_manifest",
            "pipeline_manifest",
            "parameters",
            "runtime_config",
        ],
        "resource_references" => &["key", "name", "relationship"],
        "key" => &["type", "id"],
        "parameters" => &["name", "value"],
        "trigger" => &["cron_schedule", "periodic_schedule"],
        "cron_schedule" => &["start_time", "end_time", "cron"],
        "periodic_schedule" => &["start_time", "end_time", "interval_second"],
        _ => &[],
    }
}

fn unknown_keys(message: &str, value: &Value, out: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        if let Some(items) = value.as_array() {
            for item in items {
                unknown_keys(message, item, out);
            }
        }
        return;
    };
    for (key, item) in object {
        if allowed(message).contains(&key.as_str()) {
            if item.is_object() || item.is_array() {
                unknown_keys(key, item, out);
            }
        } else {
            out.push(format!("{message}.{key}"));
        }
    }
}

#[test]
fn only_v1beta1_proto_fields_are_sent() {
    let spec = PipelineSpec {
        workflow_manifest: MANIFEST.to_owned(),
        parameters: vec![Parameter::new("a", "1")],
        ..PipelineSpec::default()
    };
    let cron = Job {
        name: "j".to_owned(),
        description: "d".to_owned(),
        pipeline_spec: spec.clone(),
        resource_references: vec![ResourceReference::experiment_owner("e")],
        service_account: "sa".to_owned(),
        max_concurrency: 2,
        trigger: Trigger {
            cron_schedule: Some(CronSchedule {
                cron: "0 0 * * * *".to_owned(),
                ..CronSchedule::default()
            }),
            periodic_schedule: None,
        },
        enabled: true,
        no_catchup: true,
        ..Job::default()
    };
    let periodic = Job {
        trigger: Trigger {
            cron_schedule: None,
            periodic_schedule: Some(PeriodicSchedule {
                interval_second: 60,
                ..PeriodicSchedule::default()
            }),
        },
        ..cron.clone()
    };
    let experiment = Experiment {
        name: "e".to_owned(),
        description: "d".to_owned(),
        resource_references: vec![ResourceReference::namespace_owner("team")],
        ..Experiment::default()
    };
    let run = Run {
        name: "r".to_owned(),
        pipeline_spec: spec,
        resource_references: vec![ResourceReference::experiment_owner("e")],
        ..Run::default()
    };
    let mut unknown = Vec::new();
    unknown_keys("job", &serde_json::to_value(&cron).unwrap(), &mut unknown);
    unknown_keys(
        "job",
        &serde_json::to_value(&periodic).unwrap(),
        &mut unknown,
    );
    unknown_keys(
        "experiment",
        &serde_json::to_value(&experiment).unwrap(),
        &mut unknown,
    );
    unknown_keys("run", &serde_json::to_value(&run).unwrap(), &mut unknown);
    assert_eq!(unknown, Vec::<String>::new());
    // The check itself catches an extra key.
    let mut extra = serde_json::to_value(&cron).unwrap();
    extra["trigger"]["cron_schedule"]["timezone"] = json!("UTC");
    unknown_keys("job", &extra, &mut unknown);
    assert_eq!(unknown, ["cron_schedule.timezone"]);
}
