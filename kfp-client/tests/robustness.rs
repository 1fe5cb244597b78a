//! Timeouts and retries: idempotent calls are retried on transient failures; a create never is when it may
//! have been applied.

mod support;

use std::time::Duration;

use kfp_client::models::{Experiment, Job};
use kfp_client::{
    ClientConfig, Error, HttpKfpClient, KfpApi, RetryPolicy, Timeouts, TransportKind,
};
use support::Wire;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn unavailable() -> ResponseTemplate {
    ResponseTemplate::new(503)
        .set_body_string("upstream connect error or disconnect/reset before headers")
}

#[test]
fn an_idempotent_call_is_retried_after_a_503_and_then_succeeds() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/j-1/enable"))
            .respond_with(unavailable())
            .up_to_n_times(2)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/jobs/j-1/enable"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .with_priority(2),
    );
    wire.client().enable_job("j-1").unwrap();
    assert_eq!(wire.requests().len(), 3);
}

#[test]
fn retries_stop_after_the_configured_attempts_with_the_last_error() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway")),
    );
    let err = wire.client().get_job("j").unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(wire.requests().len(), 4, "max_attempts = 4");
}

#[test]
fn a_create_answered_with_a_429_is_not_retried_and_is_ambiguous() {
    // A proxy or gateway may answer 429 after the API server behind it created the object: only the
    // caller, by looking the object up, can tell whether creating again would make a duplicate.
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).set_body_string("slow down"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"e-1","name":"x"}"#))
            .with_priority(2),
    );
    let err = wire
        .client()
        .create_experiment(&Experiment {
            name: "x".into(),
            ..Experiment::default()
        })
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.is_ambiguous());
    assert_eq!(wire.requests().len(), 1);
}

#[test]
fn a_429_is_retried_for_an_idempotent_call() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).set_body_string("slow down"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"j","name":"x"}"#))
            .with_priority(2),
    );
    assert_eq!(wire.client().get_job("j").unwrap().id, "j");
    assert_eq!(wire.requests().len(), 2);
}

#[test]
fn a_create_answered_with_a_503_is_not_retried_and_is_ambiguous() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("POST")).respond_with(unavailable()));
    let err = wire.client().create_job(&Job::default()).unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_ambiguous(), "a proxy may have forwarded it");
    assert_eq!(wire.requests().len(), 1);
}

#[test]
fn a_create_that_timed_out_is_not_retried_and_is_ambiguous() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("POST")).respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"id":"j-1"}"#)
                .set_delay(Duration::from_secs(3)),
        ),
    );
    let mut config = wire.config();
    config.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_millis(200),
    };
    let client = HttpKfpClient::new(config).unwrap();
    let err = client.create_job(&Job::default()).unwrap_err();
    match &err {
        Error::Transport {
            kind, method, path, ..
        } => {
            assert_eq!(*kind, TransportKind::Timeout);
            assert_eq!(method, "POST");
            assert_eq!(path, "/apis/v1beta1/jobs");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_ambiguous());
    assert_eq!(wire.requests().len(), 1, "the create was sent exactly once");
}

#[test]
fn a_read_that_timed_out_is_retried() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string("{}")
                    .set_delay(Duration::from_secs(3)),
            )
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"j"}"#))
            .with_priority(2),
    );
    let mut config = wire.config();
    config.timeouts.request = Duration::from_millis(200);
    let job = HttpKfpClient::new(config).unwrap().get_job("j").unwrap();
    assert_eq!(job.id, "j");
    assert_eq!(wire.requests().len(), 2);
}

#[test]
fn a_refused_connection_is_a_connect_error_that_was_certainly_not_applied() {
    // Bind a port, then free it, so that nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}"));
    config.proxy_from_env = false;
    config.retry = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    };
    let err = HttpKfpClient::new(config)
        .unwrap()
        .create_job(&Job::default())
        .unwrap_err();
    match &err {
        Error::Transport { kind, .. } => assert_eq!(*kind, TransportKind::Connect),
        other => panic!("{other:?}"),
    }
    assert!(!err.is_ambiguous());
}

#[test]
fn an_unreadable_ca_certificate_is_a_configuration_error() {
    let mut config = ClientConfig::new("https://kfp.example.com/pipeline");
    config.tls.ca_cert = Some("/nonexistent/ca.pem".into());
    let err = HttpKfpClient::new(config).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"));

    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let mut config = ClientConfig::new("https://kfp.example.com/pipeline");
    config.tls.ca_cert = Some(not_pem);
    let err = HttpKfpClient::new(config).unwrap_err();
    assert!(err.to_string().contains("holds no certificate"), "{err}");
}

#[test]
fn an_api_url_with_a_username_or_password_is_rejected_without_repeating_them() {
    for url in [
        "https://alice:s3cret-pw@kfp.example.com/pipeline",
        "https://alice@kfp.example.com/pipeline/",
        "https://:s3cret-pw@kfp.example.com/pipeline/apis/v1beta1",
    ] {
        let err = HttpKfpClient::new(ClientConfig::new(url)).unwrap_err();
        match &err {
            Error::CredentialsInApiUrl { url } => {
                assert_eq!(url, "https://kfp.example.com/pipeline");
            }
            other => panic!("{url}: {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("DEX_USERNAME and DEX_PASSWORD") && message.contains("token"),
            "says what to do instead: {message}"
        );
        let debug = format!("{err:?}");
        for shown in [&message, &debug] {
            assert!(
                !shown.contains("s3cret-pw") && !shown.contains("alice"),
                "{shown}"
            );
        }
    }
    // Nor when the rest of the URL is broken.
    let err = HttpKfpClient::new(ClientConfig::new(
        "https://alice:s3cret-pw@kfp.example.com:port/pipeline",
    ))
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("\"https://kfp.example.com:port/pipeline\""),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("s3cret-pw"), "{err:?}");
    // Nor without a scheme (`alice:s3cret-pw@host` parses as scheme `alice`), nor in a query.
    for (url, shown) in [
        (
            "alice:s3cret-pw@kfp.example.com/pipeline",
            "\"kfp.example.com/pipeline\"",
        ),
        (
            "https://kfp.example.com/pipeline?access_token=s3cret-pw",
            "\"https://kfp.example.com/pipeline\"",
        ),
    ] {
        let err = HttpKfpClient::new(ClientConfig::new(url)).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{url}: {err:?}");
        assert!(err.to_string().contains(shown), "{err}");
        assert!(!format!("{err} {err:?}").contains("s3cret-pw"), "{err:?}");
    }
}

#[test]
fn a_retried_delete_that_finds_the_object_gone_has_succeeded() {
    let wire = Wire::start();
    // The first attempt is applied but answered by a failing gateway; the retry finds nothing to delete.
    wire.mount(
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(504).set_body_string("upstream request timeout"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(Mock::given(method("DELETE")).respond_with(
        ResponseTemplate::new(404).set_body_string(
            r#"{"error":"Job j-1 not found.","code":5,"message":"Job j-1 not found."}"#,
        ),
    ));
    wire.client().delete_job("j-1").unwrap();
    assert_eq!(wire.requests().len(), 2);
}

/// KFP 1.8.5's answer to terminating a run that no longer runs (CONTRACT §5).
fn not_running(id: &str) -> ResponseTemplate {
    let said = format!("Failed to terminate run {id}. Row not found.");
    let chain = format!("Failed to terminate a run.: Invalid input error: {said}");
    ResponseTemplate::new(400).set_body_json(serde_json::json!({
        "error": chain, "code": 3, "message": chain,
        "details": [{"@type": "type.googleapis.com/api.Error", "error_message": said, "error_details": chain}]
    }))
}

#[test]
fn a_retried_terminate_that_finds_the_run_no_longer_running_has_succeeded() {
    let wire = Wire::start();
    // The first attempt terminates the run but is answered by a failing gateway; the retry finds it stopped.
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/runs/r-1/terminate"))
            .respond_with(ResponseTemplate::new(504).set_body_string("upstream request timeout"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(path("/pipeline/apis/v1beta1/runs/r-1/terminate"))
            .respond_with(not_running("r-1"))
            .with_priority(2),
    );
    wire.client().terminate_run("r-1").unwrap();
    assert_eq!(wire.requests().len(), 2);
}

#[test]
fn a_first_terminate_of_a_finished_run_is_still_an_error() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("POST")).respond_with(not_running("r-1")));
    let err = wire.client().terminate_run("r-1").unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.to_string(),
        "POST /apis/v1beta1/runs/r-1/terminate failed with HTTP 400: Failed to terminate run r-1. Row not found."
    );
    assert_eq!(wire.requests().len(), 1);
}

#[test]
fn a_retried_terminate_of_a_missing_run_is_not_found() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(504).set_body_string("upstream request timeout"))
            .up_to_n_times(1)
            .with_priority(1),
    );
    wire.mount(Mock::given(method("POST")).respond_with(
        ResponseTemplate::new(404).set_body_string(
            r#"{"error":"Run r-1 not found.","code":5,"message":"Run r-1 not found."}"#,
        ),
    ));
    let err = wire.client().terminate_run("r-1").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[test]
fn a_first_delete_of_a_missing_object_is_still_not_found() {
    let wire = Wire::start();
    wire.mount(Mock::given(method("DELETE")).respond_with(
        ResponseTemplate::new(404).set_body_string(
            r#"{"error":"Job j-1 not found.","code":5,"message":"Job j-1 not found."}"#,
        ),
    ));
    let err = wire.client().delete_job("j-1").unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "DELETE /apis/v1beta1/jobs/j-1 failed with HTTP 404: Job j-1 not found."
    );
}
