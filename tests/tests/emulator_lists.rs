//! List calls: page sizes and tokens, `sort_by`, and `filter` with the server's second URL-decode.

use std::time::Duration;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, client};
use serde_json::{Value, json};

const API: &str = "/apis/v1beta1";

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

/// Percent-encodes like Python's `urllib.parse.quote_plus` (what the SDK's `urlencode` does).
fn quote_plus(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An emulator with experiments named `names`, created one emulated second apart.
fn with_experiments(names: &[&str]) -> Emulator {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    for name in names {
        emulator.advance_clock(Duration::from_secs(1));
        let (status, _) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(json!({"name": name, "description": format!("about {name}")})),
        );
        assert_eq!(status, 200);
    }
    emulator
}

fn names(body: &Value) -> Vec<String> {
    body["experiments"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn pages_follow_the_token_until_it_is_absent() {
    let emulator = with_experiments(&["a", "b", "c", "d", "e"]);
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let (status, body) = call(
            &emulator,
            "GET",
            &format!(
                "{API}/experiments?page_size=2&sort_by=created_at%20desc&page_token={}",
                quote_plus(&token)
            ),
            None,
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["total_size"],
            json!(6),
            "total_size counts every match"
        );
        pages += 1;
        seen.extend(names(&body));
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(next) => token = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["e", "d", "c", "b", "a", "Default"]);
}

#[test]
fn page_size_defaults_to_20_is_capped_at_200_and_rejects_negatives() {
    let names: Vec<String> = (0..230).map(|i| format!("exp-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    for name in &refs {
        call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(json!({"name": name})),
        );
    }
    let cases = [
        ("", 20),
        ("page_size=0", 20),
        ("page_size=5", 5),
        ("page_size=1000", 200),
    ];
    for (query, expected) in cases {
        let (status, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?{query}"),
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(
            body["experiments"].as_array().unwrap().len(),
            expected,
            "{query}"
        );
        assert_eq!(body["total_size"], json!(231));
    }
    let (status, body) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?page_size=-1"),
        None,
    );
    assert_eq!(
        (status, error_message(&body).as_str()),
        (400, "The page size should be greater than 0. Got \"-1\"")
    );
    let (status, body) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?page_size=ten"),
        None,
    );
    assert_eq!(status, 400);
    assert!(
        body.get("details").is_none(),
        "a bad query value is a gateway error: {body}"
    );
}

#[test]
fn a_page_token_must_agree_with_a_sort_or_filter_given_alongside() {
    let emulator = with_experiments(&["a", "b", "c"]);
    let (_, first) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?page_size=1&sort_by=name"),
        None,
    );
    let token = quote_plus(first["next_page_token"].as_str().unwrap());
    let mismatch = "page token does not match the supplied sort by and/or filtering criteria. Either specify the same criteria or leave the latter empty if page token is specified.";
    let cases = [
        (format!("page_token={token}"), 200, ""),
        (format!("page_token={token}&sort_by=name"), 200, ""),
        (format!("page_token={token}&sort_by=NAME%20asc"), 200, ""),
        (
            format!("page_token={token}&sort_by=name%20desc"),
            400,
            mismatch,
        ),
        (
            format!("page_token={token}&sort_by=created_at"),
            400,
            mismatch,
        ),
        (
            format!(
                "page_token={token}&sort_by=name&filter={}",
                quote_plus(r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"b"}]}"#)
            ),
            400,
            mismatch,
        ),
        (
            "page_token=not-base64!".to_owned(),
            400,
            "Invalid package token.",
        ),
    ];
    for (query, status, message) in cases {
        let (got, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?page_size=1&{query}"),
            None,
        );
        assert_eq!(
            (got, error_message(&body).as_str()),
            (status, message),
            "{query}"
        );
        if status == 200 {
            assert_eq!(names(&body), ["b"], "the token carries the sort: {query}");
        }
    }
}

#[test]
fn sort_by_accepts_the_documented_keys_only() {
    let emulator = with_experiments(&["b", "C", "a"]);
    let cases: Vec<(&str, u16, Vec<&str>, &str)> = vec![
        ("", 200, vec!["Default", "b", "C", "a"], ""),
        ("name", 200, vec!["a", "b", "C", "Default"], ""),
        ("name%20desc", 200, vec!["Default", "C", "b", "a"], ""),
        ("created_at%20DESC", 200, vec!["a", "C", "b", "Default"], ""),
        ("description", 200, vec!["a", "b", "C", "Default"], ""),
        (
            "updated_at",
            400,
            vec![],
            "Invalid sorting field: \"updated_at\" on listable type Experiment",
        ),
        (
            "name%20up",
            400,
            vec![],
            "Received invalid sort by format \"name up\". Supported format: \"field_name\", \"field_name desc\", or \"field_name asc\"",
        ),
        (
            "name%20asc%20x",
            400,
            vec![],
            "Received invalid sort by format \"name asc x\". Supported format: \"field_name\", \"field_name desc\", or \"field_name asc\"",
        ),
    ];
    for (sort, status, expected, message) in cases {
        let (got, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?sort_by={sort}"),
            None,
        );
        assert_eq!(
            (got, error_message(&body).as_str()),
            (status, message),
            "{sort}"
        );
        if status == 200 {
            assert_eq!(names(&body), expected, "{sort}");
        }
    }
}

#[test]
fn filters_support_every_operator_on_the_documented_keys() {
    let emulator = with_experiments(&["alpha", "beta", "gamma"]);
    let (_, all) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?sort_by=created_at"),
        None,
    );
    let beta_created = all["experiments"][2]["created_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"beta"}]}"#.to_owned(), vec!["beta"]),
        (r#"{"predicates":[{"key":"name","op":1,"stringValue":"BETA"}]}"#.to_owned(), vec!["beta"]),
        (r#"{"predicates":[{"key":"name","op":"NOT_EQUALS","string_value":"beta"}]}"#.to_owned(), vec!["Default", "alpha", "gamma"]),
        (r#"{"predicates":[{"key":"name","op":"IN","string_values":{"values":["alpha","gamma"]}}]}"#.to_owned(), vec!["alpha", "gamma"]),
        (r#"{"predicates":[{"key":"name","op":"IS_SUBSTRING","string_value":"MM"}]}"#.to_owned(), vec!["gamma"]),
        (r#"{"predicates":[{"key":"name","op":"IS_SUBSTRING","string_value":"a_p"}]}"#.to_owned(), vec!["alpha"]),
        (format!(r#"{{"predicates":[{{"key":"created_at","op":"GREATER_THAN","timestamp_value":"{beta_created}"}}]}}"#), vec!["gamma"]),
        (format!(r#"{{"predicates":[{{"key":"created_at","op":"GREATER_THAN_EQUALS","timestamp_value":"{beta_created}"}}]}}"#), vec!["beta", "gamma"]),
        (format!(r#"{{"predicates":[{{"key":"created_at","op":"LESS_THAN","timestamp_value":"{beta_created}"}}]}}"#), vec!["Default", "alpha"]),
        (format!(r#"{{"predicates":[{{"key":"created_at","op":"LESS_THAN_EQUALS","timestamp_value":"{beta_created}"}}]}}"#), vec!["Default", "alpha", "beta"]),
        (
            r#"{"predicates":[{"key":"storage_state","op":"NOT_EQUALS","string_value":"STORAGESTATE_ARCHIVED"},{"key":"description","op":"EQUALS","string_value":"about alpha"}]}"#.to_owned(),
            vec!["alpha"],
        ),
        (r#"{"predicates":[]}"#.to_owned(), vec!["Default", "alpha", "beta", "gamma"]),
    ];
    for (filter, expected) in cases {
        let (status, body) = call(
            &emulator,
            "GET",
            &format!(
                "{API}/experiments?sort_by=created_at&filter={}",
                quote_plus(&filter)
            ),
            None,
        );
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(names(&body), expected, "{filter}");
    }
}

#[test]
fn bad_filters_are_rejected_with_the_servers_messages() {
    let emulator = with_experiments(&[]);
    let cases = [
        (
            r#"{"predicates":[{"key":"owner","op":"EQUALS","string_value":"x"}]}"#,
            "no support for filtering on unrecognized field \"owner\"",
        ),
        (
            r#"{"predicates":[{"key":"name","op":"EQUALS"}]}"#,
            "no value set for predicate on key \"name\"",
        ),
        (
            r#"{"predicates":[{"key":"name","op":"IN","string_value":"x"}]}"#,
            "cannot use IN operator with scalar type *api.Predicate_StringValue",
        ),
        (
            r#"{"predicates":[{"key":"name","op":"EQUALS","string_values":{"values":["x"]}}]}"#,
            "cannot use scalar operator EQUALS on array type *api.Predicate_StringValues",
        ),
        (
            r#"{"predicates":[{"key":"name","op":"IS_SUBSTRING","int_value":3}]}"#,
            "cannot use non string value type *api.Predicate_IntValue with operator IS_SUBSTRING",
        ),
        (
            r#"{"predicates":[{"key":"name","op":"UNKNOWN","string_value":"x"}]}"#,
            "invalid predicate operation: UNKNOWN",
        ),
    ];
    for (filter, message) in cases {
        let (status, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?filter={}", quote_plus(filter)),
            None,
        );
        assert_eq!(
            (status, error_message(&body).as_str()),
            (400, message),
            "{filter}"
        );
    }
    let parse_errors = [
        r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"x","extra":1}]}"#,
        r#"{"predicates":[{"key":"name","op":"SOMETIMES","string_value":"x"}]}"#,
        r#"{"predicate":[]}"#,
        r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"100%"}]}"#,
        "not json",
    ];
    for filter in parse_errors {
        let (status, body) = call(
            &emulator,
            "GET",
            &format!("{API}/experiments?filter={}", quote_plus(filter)),
            None,
        );
        assert_eq!(status, 400, "{filter}");
        assert!(
            error_message(&body).starts_with("failed to parse valid filter from"),
            "{filter}: {body}"
        );
    }
}

#[test]
fn the_filter_is_url_decoded_a_second_time_like_go_query_unescape() {
    let emulator = with_experiments(&["a b  &c", "a+b %20&c"]);
    // What the SDK sends for string_value "a+b %20&c" (encoded once): the server's second unescape turns
    // it into "a b  &c".
    let sdk = r#"{"predicates": [{"key": "name", "op": "EQUALS", "string_value": "a+b %20&c"}]}"#;
    let (status, body) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?filter={}", quote_plus(sdk)),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["a b  &c"]);
    // A lossless client encodes twice.
    let twice = quote_plus(&quote_plus(sdk));
    let (status, body) = call(
        &emulator,
        "GET",
        &format!("{API}/experiments?filter={twice}"),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["a+b %20&c"]);
}

#[test]
fn job_lists_are_scoped_by_namespace_or_experiment_and_sortable_by_created_at() {
    let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
    let mut experiments = Vec::new();
    for (name, ns) in [("e1", "team-1"), ("e2", "team-2")] {
        let (_, body) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(
                json!({"name": name, "resource_references": [{"key": {"type": "NAMESPACE", "id": ns}, "relationship": "OWNER"}]}),
            ),
        );
        experiments.push(body["id"].as_str().unwrap().to_owned());
    }
    let manifest = r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","spec":{}}"#;
    let mut created = Vec::new();
    for (index, experiment) in [&experiments[0], &experiments[0], &experiments[1]]
        .into_iter()
        .enumerate()
    {
        emulator.advance_clock(Duration::from_secs(5));
        let (status, job) = call(
            &emulator,
            "POST",
            &format!("{API}/jobs"),
            Some(
                json!({"name": format!("job-{index}"), "pipeline_spec": {"workflow_manifest": manifest},
                        "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment}, "relationship": "OWNER"}],
                        "max_concurrency": 1, "trigger": {"periodic_schedule": {"interval_second": 60}}}),
            ),
        );
        assert_eq!(status, 200, "{job}");
        created.push(job["id"].as_str().unwrap().to_owned());
    }
    let job_names = |body: &Value| -> Vec<String> {
        body["jobs"].as_array().map_or_else(Vec::new, |jobs| {
            jobs.iter()
                .map(|j| j["name"].as_str().unwrap().to_owned())
                .collect()
        })
    };
    let job_key_message = format!(
        "Invalid resource references for ListJobs. Got type:JOB id:\"{}\" ",
        created[0]
    );
    let cases: Vec<(String, u16, Vec<&str>, &str)> = vec![
        ("sort_by=created_at%20desc&resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1".to_owned(), 200, vec!["job-1", "job-0"], ""),
        (format!("resource_reference_key.type=EXPERIMENT&resource_reference_key.id={}", experiments[1]), 200, vec!["job-2"], ""),
        ("".to_owned(), 400, vec![], "ListJobs must filter by resource reference in multi-user mode."),
        ("resource_reference_key.type=NAMESPACE&resource_reference_key.id=".to_owned(), 400, vec![], "Invalid resource references for ListJobs. Namespace is empty."),
        ("resource_reference_key.type=EXPERIMENT&resource_reference_key.id=".to_owned(), 400, vec![], "Invalid resource references for job. Experiment ID is empty."),
        ("resource_reference_key.type=EXPERIMENT&resource_reference_key.id=nope".to_owned(), 404, vec![], "Experiment nope not found."),
        (format!("resource_reference_key.type=JOB&resource_reference_key.id={}", created[0]), 400, vec![], &job_key_message),
        ("resource_reference_key.type=PIPELINE_VERSION&resource_reference_key.id=a%22b%0A".to_owned(), 400, vec![], "Invalid resource references for ListJobs. Got type:PIPELINE_VERSION id:\"a\\\"b\\n\" "),
        ("resource_reference_key.type=PIPELINE&resource_reference_key.id=p".to_owned(), 400, vec![], "Unsupported resource type: PIPELINE"),
        ("resourceReferenceKey.type=NAMESPACE&resourceReferenceKey.id=team-2".to_owned(), 200, vec!["job-2"], ""),
        (
            format!("resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1&filter={}", quote_plus(r#"{"predicates":[{"key":"name","op":"EQUALS","string_value":"job-0"}]}"#)),
            200,
            vec!["job-0"],
            "",
        ),
    ];
    for (query, status, expected, message) in cases {
        let (got, body) = call(&emulator, "GET", &format!("{API}/jobs?{query}"), None);
        assert_eq!(
            (got, error_message(&body).as_str()),
            (status, message),
            "{query}"
        );
        if status == 200 {
            assert_eq!(job_names(&body), expected, "{query}");
        }
    }
    let (_, body) = call(
        &emulator,
        "GET",
        &format!(
            "{API}/jobs?resource_reference_key.type=EXPERIMENT&resource_reference_key.id=nope"
        ),
        None,
    );
    assert_eq!(
        body["message"],
        json!(
            "Failed to get namespace for job's experiment.: Failed to get namespace from experiment ID.: ResourceNotFoundError: Experiment nope not found."
        )
    );
}

#[test]
fn single_user_jobs_live_in_the_pod_namespace() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let manifest = r#"{"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","spec":{}}"#;
    call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(
            json!({"name": "j", "pipeline_spec": {"workflow_manifest": manifest}, "max_concurrency": 1}),
        ),
    );
    let count = |query: &str| {
        call(&emulator, "GET", &format!("{API}/jobs?{query}"), None).1["total_size"].clone()
    };
    assert_eq!(count(""), json!(1));
    assert_eq!(
        count("resource_reference_key.type=NAMESPACE&resource_reference_key.id=kubeflow"),
        json!(1)
    );
    assert_eq!(
        count("resource_reference_key.type=NAMESPACE&resource_reference_key.id="),
        Value::Null,
        "an empty list is {{}}"
    );
}
