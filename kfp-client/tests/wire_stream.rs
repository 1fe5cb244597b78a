//! The streamed jobs listing (`list_jobs_each`, `for_each_job`): each job is decoded as the answer arrives, with
//! the same reading of the wire and the same errors as `list_jobs`; the client never retries a failure part-way,
//! `for_each_job` reads such a page again from its start.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kfp_client::models::Job;
use kfp_client::{
    ClientConfig, Error, HttpKfpClient, JobsEvent, KfpApi, ListOptions, PAGE_RETRIES, PageInfo,
    RetryPolicy, TransportKind, for_each_job,
};
use serde_json::json;
use support::{Wire, query};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

const JOBS: &str = "/pipeline/apis/v1beta1/jobs";

fn streamed(client: &dyn KfpApi, options: &ListOptions) -> (Result<PageInfo, Error>, Vec<Job>) {
    let mut jobs = Vec::new();
    let result = client.list_jobs_each(options, &mut |job| jobs.push(job));
    (result, jobs)
}

/// Three pages of jobs; int64 fields are strings on the first page and numbers on the others, and every level
/// carries a field the client does not know.
fn job_page(request: &Request) -> ResponseTemplate {
    let token = query(request)
        .into_iter()
        .find(|(k, _)| k == "page_token")
        .map(|(_, v)| v);
    let (names, next, int64) = match token.as_deref() {
        None => (vec!["j1", "j2"], "p2", json!("3")),
        Some("p2") => (vec!["j3", "j4"], "p3", json!(4)),
        Some("p3") => (vec!["j5"], "", json!(5)),
        Some(other) => panic!("unexpected token {other}"),
    };
    let jobs: Vec<_> = names
        .iter()
        .map(|name| {
            json!({
                "id": format!("id-{name}"),
                "name": name,
                "max_concurrency": int64,
                "trigger": {"periodic_schedule": {"interval_second": int64}},
                "pipeline_spec": {"workflow_manifest": "{\"kind\":\"Workflow\"}", "future_spec_field": [1]},
                "a_field_of_a_newer_server": {"nested": [null, true]},
            })
        })
        .collect();
    let mut body = json!({"jobs": jobs, "total_size": 5, "next_page_token": next, "unknown": "x"});
    if next.is_empty() {
        body.as_object_mut().unwrap().remove("next_page_token");
    }
    ResponseTemplate::new(200).set_body_json(body)
}

#[test]
fn every_page_is_decoded_job_by_job_as_list_jobs_decodes_it() {
    let wire = Wire::start();
    wire.mount(Mock::given(path(JOBS)).respond_with(job_page));
    let client = wire.client();
    let options = ListOptions::namespace("team-1").with_sort_by("name desc");

    let mut seen = Vec::new();
    for_each_job(&client, &options, |event| {
        if let JobsEvent::Job(job) = event {
            seen.push(job);
        }
    })
    .unwrap();
    let names: Vec<_> = seen.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, ["j1", "j2", "j3", "j4", "j5"]);
    let int64s: Vec<_> = seen
        .iter()
        .map(|job| {
            let periodic = job.trigger.periodic_schedule.as_ref().unwrap();
            (job.max_concurrency, periodic.interval_second)
        })
        .collect();
    assert_eq!(int64s, [(3, 3), (3, 3), (4, 4), (4, 4), (5, 5)]);

    let requests = wire.requests();
    assert_eq!(requests.len(), 3, "one request per page");
    for (i, request) in requests.iter().enumerate() {
        let q = query(request);
        let has = |key: &str| q.iter().any(|(k, _)| k == key);
        assert!(q.contains(&("page_size".into(), "200".into())), "page {i}");
        assert_eq!(has("sort_by"), i == 0, "page {i}");
    }

    let buffered = client
        .list_jobs(&options.clone().with_page_token("p2"))
        .unwrap();
    let (info, jobs) = streamed(&client, &options.with_page_token("p2"));
    assert_eq!(
        info.unwrap(),
        PageInfo {
            next_page_token: "p3".to_owned(),
            total_size: 5
        }
    );
    assert_eq!(jobs, buffered.items);
}

#[test]
fn absent_and_null_fields_read_as_an_empty_last_page() {
    for body in [
        "{}",
        r#"{"jobs": null, "total_size": null, "next_page_token": null}"#,
        "",
        "  \n",
    ] {
        let wire = Wire::start();
        wire.mount(
            Mock::given(path(JOBS))
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json")),
        );
        let (info, jobs) = streamed(&wire.client(), &ListOptions::default());
        assert_eq!(info.unwrap(), PageInfo::default(), "{body:?}");
        assert!(jobs.is_empty(), "{body:?}");
    }
}

#[test]
fn an_error_answer_is_the_error_list_jobs_returns() {
    let error_body = json!({
        "error": "Failed to list jobs: Invalid input error: bad token",
        "code": 3,
        "message": "Failed to list jobs: Invalid input error: bad token",
        "details": [{"@type": "type.googleapis.com/api.Error", "error_message": "bad token",
                     "error_details": "Failed to list jobs: Invalid input error: bad token"}],
    });
    let answers = [
        ResponseTemplate::new(400).set_body_json(error_body),
        ResponseTemplate::new(404).set_body_string("404 page not found"),
        ResponseTemplate::new(200).set_body_raw("<html>Sign in</html>", "text/html"),
        ResponseTemplate::new(403).set_body_string("RBAC: access denied"),
        ResponseTemplate::new(200).set_body_raw("[1, 2]", "application/json"),
        ResponseTemplate::new(200).set_body_raw("not json at all", "text/plain"),
    ];
    for answer in answers {
        let wire = Wire::start();
        wire.mount(Mock::given(path(JOBS)).respond_with(answer));
        let client = wire.client();
        let expected = client.list_jobs(&ListOptions::default()).unwrap_err();
        let (result, jobs) = streamed(&client, &ListOptions::default());
        let err = result.unwrap_err();
        assert_eq!(err.to_string(), expected.to_string());
        assert_eq!(err.status(), expected.status());
        assert_eq!(err.is_auth(), expected.is_auth(), "{err}");
        assert!(jobs.is_empty());
    }
}

#[test]
fn a_transient_failure_before_the_body_is_retried() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503).set_body_string("upstream reset"))
            .up_to_n_times(2)
            .with_priority(1),
    );
    wire.mount(
        Mock::given(path(JOBS))
            .and(query_param("page_size", "200"))
            .respond_with(job_page)
            .with_priority(2),
    );
    let (info, jobs) = streamed(&wire.client(), &ListOptions::default().with_page_size(200));
    assert_eq!(info.unwrap().next_page_token, "p2");
    assert_eq!(jobs.len(), 2);
    assert_eq!(wire.requests().len(), 3);
}

#[test]
fn a_body_that_ends_mid_listing_is_a_decode_error_after_the_jobs_it_held() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path(JOBS)).respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"jobs": [{"id": "a", "name": "first"}, {"id": "b", "name": "sec"#,
            "application/json",
        )),
    );
    let (result, jobs) = streamed(&wire.client(), &ListOptions::default());
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { message, .. } if message.contains("ended after 1 job")),
        "{err:?}"
    );
    assert_eq!(
        jobs.iter().map(|job| job.name.as_str()).collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(wire.requests().len(), 1, "not retried");
}

#[test]
fn a_job_that_is_not_a_job_fails_the_page() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(path(JOBS)).respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "jobs": [{"id": "a"}, {"id": "b", "max_concurrency": "many"}],
        }))),
    );
    let (result, jobs) = streamed(&wire.client(), &ListOptions::default());
    let err = result.unwrap_err();
    assert!(
        matches!(&err, Error::Decode { message, .. } if message.contains("\"many\" is not an int64")),
        "{err:?}"
    );
    assert_eq!(jobs.len(), 1);
    assert_eq!(wire.requests().len(), 1);
}

/// A server that answers every connection with the head of a 200 and part of its body, then hangs up.
fn cut_off_server(partial_body: &'static str) -> (String, Arc<AtomicUsize>) {
    flaky_server(partial_body, usize::MAX, "")
}

/// A server that answers its first `cuts` connections as [`cut_off_server`] does, and the others with `full`.
fn flaky_server(
    partial_body: &'static str,
    cuts: usize,
    full: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let connection = counter.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let answer = if connection < cuts {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{partial_body}",
                    partial_body.len() + 10_000
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{full}",
                    full.len()
                )
            };
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
        }
    });
    (url, connections)
}

#[test]
fn a_connection_lost_mid_body_is_a_transport_error_and_not_retried() {
    let (url, connections) = cut_off_server(
        r#"{"jobs": [{"id": "a", "name": "first"}, {"id": "b", "name": "second"}, {"id": "c", "#,
    );
    let mut config = ClientConfig::new(url);
    config.proxy_from_env = false;
    config.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    };
    let client = HttpKfpClient::new(config).unwrap();
    let (result, jobs) = streamed(&client, &ListOptions::default());
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport { kind: TransportKind::Interrupted, message, .. }
                if message.starts_with("the answer broke off after 2 jobs")
        ),
        "{err:?}"
    );
    assert_eq!(jobs.len(), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");

    // The same cut before any streaming (the buffered call) is retried, as before.
    let expected = client.list_jobs(&ListOptions::default()).unwrap_err();
    assert!(matches!(expected, Error::Transport { .. }), "{expected:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 1 + 4);
}

/// What `for_each_job` handed over, as short strings: `page`, `retry` and job ids.
fn walk(client: &dyn KfpApi) -> (Result<(), Error>, Vec<String>) {
    let mut events = Vec::new();
    let result = for_each_job(client, &ListOptions::default(), |event| {
        events.push(match event {
            JobsEvent::Page { retry: false } => "page".to_owned(),
            JobsEvent::Page { retry: true } => "retry".to_owned(),
            JobsEvent::Job(job) => job.id,
        });
    });
    (result, events)
}

fn no_client_retries(url: String) -> HttpKfpClient {
    let mut config = ClientConfig::new(url);
    config.proxy_from_env = false;
    config.retry = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(5),
    };
    HttpKfpClient::new(config).unwrap()
}

#[test]
fn a_page_that_broke_off_is_read_again_from_its_start_after_a_retry_event() {
    let (url, connections) = flaky_server(
        r#"{"jobs": [{"id": "a"}, {"id": "b"}, {"id": "c", "#,
        1,
        r#"{"jobs": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}"#,
    );
    let (result, events) = walk(&no_client_retries(url));
    result.unwrap();
    assert_eq!(events, ["page", "a", "b", "retry", "a", "b", "c"]);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[test]
fn a_page_that_keeps_breaking_off_fails_after_the_page_retries() {
    let (url, connections) = cut_off_server(r#"{"jobs": [{"id": "a"}, {"id": "b", "#);
    let (result, events) = walk(&no_client_retries(url));
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport {
                kind: TransportKind::Interrupted,
                ..
            }
        ),
        "{err:?}"
    );
    let attempts = 1 + PAGE_RETRIES as usize;
    assert_eq!(connections.load(Ordering::SeqCst), attempts);
    assert_eq!(
        events.iter().filter(|event| *event == "retry").count(),
        attempts - 1
    );
}
