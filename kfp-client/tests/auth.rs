//! Authentication: bearer tokens (fixed and from a rotating file) and the Dex login behind oauth2-proxy,
//! end to end against a wiremock gateway that behaves like oauth2-proxy + Dex (CONTRACT §8.2).

mod support;

use kfp_client::{AuthConfig, DexAuthType, Error, KfpApi, ListOptions, Secret};
use support::Wire;
use support::gateway::{Gateway, PASSWORD, cookies, default_gateway, dex, gateway};
use wiremock::matchers::any;
use wiremock::{Mock, ResponseTemplate};

#[test]
fn dex_login_follows_the_redirect_chain_approves_and_sends_the_session_cookies() {
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    let page = client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    let gw = state.lock().unwrap();
    assert_eq!(gw.logins, 1, "one login serves every call");
    assert_eq!(gw.api_calls, 2);
    drop(gw);

    let requests = wire.requests();
    let steps: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        steps,
        [
            "GET /pipeline",
            "GET /dex/auth",
            "GET /dex/auth/local",
            "GET /dex/auth/local/login",
            "POST /dex/auth/local/login",
            "GET /dex/approval",
            "POST /dex/approval",
            "GET /oauth2/callback",
            "GET /pipeline",
            "GET /pipeline/apis/v1beta1/experiments",
            "GET /pipeline/apis/v1beta1/experiments",
        ]
    );
    for api_call in requests
        .iter()
        .filter(|r| r.url.path().starts_with("/pipeline/apis"))
    {
        let jar = cookies(api_call);
        assert_eq!(
            jar.get("_oauth2_proxy").map(String::as_str),
            Some("session-1")
        );
        assert_eq!(
            jar.get("_oauth2_proxy_1").map(String::as_str),
            Some("second-part")
        );
        assert!(
            !jar.contains_key("_oauth2_proxy_csrf"),
            "an expired cookie is dropped"
        );
        assert!(api_call.headers.get("kubeflow-userid").is_none());
        assert!(api_call.headers.get("authorization").is_none());
    }
}

/// The pairs of a `Cookie` header in the form the SDK's `cookies=` sends: `k1=v1; k2=v2`, nothing else.
fn strict_cookie_pairs(header: &str) -> Vec<(String, String)> {
    header
        .split("; ")
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("{pair:?} in {header:?} is not name=value"));
            assert!(
                !name.is_empty() && !pair.contains([' ', ';', '\t']),
                "{pair:?} in {header:?}"
            );
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn the_session_cookies_go_out_in_one_cookie_header_shaped_like_the_sdks() {
    let sdk = support::sdk_requests("kfp-sdk-1.8.22-requests.jsonl");
    let recorded = support::sdk_request(&sdk, "GET", "/pipeline/apis/v1beta1/jobs/job-1");
    assert_eq!(
        strict_cookie_pairs(&recorded.headers["Cookie"]),
        [("_deploykf_token", "abc123"), ("other", "x")].map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    let wire = Wire::start();
    gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    client.get_job("job-1").unwrap();
    let api_call = wire
        .requests()
        .into_iter()
        .find(|r| r.url.path().starts_with("/pipeline/apis"))
        .unwrap();
    let headers: Vec<&str> = api_call
        .headers
        .get_all("cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        headers.len(),
        1,
        "one Cookie header, as the SDK sends: {headers:?}"
    );
    // Every cookie of the jar, in the order the login set them; the expired CSRF cookie is gone.
    assert_eq!(
        strict_cookie_pairs(headers[0]),
        [
            ("dex_request", "req-1"),
            ("_oauth2_proxy", "session-1"),
            ("_oauth2_proxy_1", "second-part"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn dex_login_through_a_sign_in_page_with_the_ldap_connector_and_no_approval() {
    let wire = Wire::start();
    let state = gateway(
        &wire,
        Gateway {
            sign_in_page: true,
            connector: "ldap",
            ..Gateway::default()
        },
    );
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Ldap));
    client.login().unwrap();
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    assert_eq!(state.lock().unwrap().logins, 1);
    let steps: Vec<String> = wire
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        &steps[..5],
        [
            "GET /pipeline",
            "GET /oauth2/start",
            "GET /dex/auth",
            "GET /dex/auth/ldap",
            "GET /dex/auth/ldap/login"
        ]
    );
}

#[test]
fn a_wrong_password_is_a_clear_login_error_and_no_api_call_is_made() {
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex("wrong", DexAuthType::Local));
    let err = client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap_err();
    match &err {
        Error::Login { url, reason } => {
            assert!(url.ends_with("/dex/auth/local/login"), "{url}");
            assert!(!url.contains("state="), "{url}");
            assert_eq!(
                reason,
                "Dex did not accept the username or password of user@example.com (connector `local`)"
            );
        }
        other => panic!("{other:?}"),
    }
    let gw = state.lock().unwrap();
    assert_eq!(gw.login_posts, 1, "a rejected login is not repeated");
    assert_eq!(gw.api_calls, 0);
    assert!(
        !wire
            .requests()
            .iter()
            .any(|r| r.url.path().starts_with("/pipeline/apis")),
        "no API call without a session"
    );
}

#[test]
fn an_expired_session_triggers_exactly_one_new_login() {
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    state.lock().unwrap().valid_sessions.clear();
    // A create is safe to repeat after the login: the gateway's redirect means KFP never saw it.
    client
        .create_experiment(&kfp_client::models::Experiment {
            name: "e".into(),
            ..Default::default()
        })
        .unwrap();
    let gw = state.lock().unwrap();
    assert_eq!(gw.logins, 2);
    assert_eq!(gw.api_calls, 2);
    let last = wire.requests().into_iter().last().unwrap();
    assert_eq!(
        cookies(&last).get("_oauth2_proxy").map(String::as_str),
        Some("session-2")
    );
}

#[test]
fn a_session_rejected_right_after_a_new_login_is_not_authenticated_after_one_retry() {
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    {
        let mut gw = state.lock().unwrap();
        gw.valid_sessions.clear();
        gw.reject_new_sessions = true;
    }
    let err = client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap_err();
    assert!(matches!(err, Error::NotAuthenticated { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("--dex-auth-type"));
    assert_eq!(
        state.lock().unwrap().logins,
        2,
        "exactly one re-login, no loop"
    );
}

#[test]
fn an_api_url_that_answers_200_without_a_login_needs_no_session() {
    let wire = Wire::start();
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")));
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    client.healthz().unwrap();
    client.healthz().unwrap();
    let paths: Vec<_> = wire
        .requests()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/pipeline",
            "/pipeline/apis/v1beta1/healthz",
            "/pipeline/apis/v1beta1/healthz"
        ]
    );
}

#[test]
fn an_api_url_that_answers_404_or_500_without_a_login_is_a_wrong_api_url() {
    for status in [404, 500] {
        let wire = Wire::start();
        wire.mount(
            Mock::given(any()).respond_with(
                ResponseTemplate::new(status).set_body_string(format!("HTTP {status}")),
            ),
        );
        let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
        let err = client.healthz().unwrap_err();
        match &err {
            Error::LoginStart { url, status: seen } => {
                assert_eq!(url, &wire.api_url());
                assert_eq!(*seen, status);
            }
            other => panic!("{other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains(&format!("{} answered HTTP {status}", wire.api_url())),
            "{message}"
        );
        assert!(message.contains("check --api-url"), "{message}");
        let paths: Vec<_> = wire
            .requests()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        assert_eq!(paths, ["/pipeline"], "no API call after the failed login");
    }
}

#[test]
fn a_bearer_token_is_sent_as_the_sdk_sends_it() {
    let sdk = support::sdk_requests("kfp-sdk-1.8.22-token-requests.jsonl");
    let wire = Wire::start();
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")));
    let client = wire.client_with(AuthConfig::Token(Secret::new("exist456")));
    client.get_job("j").unwrap();
    let recorded = support::sdk_request(&sdk, "GET", "/apis/v1beta1/jobs/j");
    assert_eq!(
        wire.requests()[0].headers.get("authorization").unwrap(),
        recorded.headers["authorization"].as_str()
    );
    assert!(wire.requests()[0].headers.get("kubeflow-userid").is_none());
}

#[test]
fn a_rotated_token_file_is_picked_up_on_the_next_call() {
    let dir = tempfile::tempdir().unwrap();
    let token_path = dir.path().join("token");
    std::fs::write(&token_path, "first-token\n").unwrap();
    let wire = Wire::start();
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")));
    let client = wire.client_with(AuthConfig::TokenFile(token_path.clone()));
    client.healthz().unwrap();
    // The kubelet swaps the file atomically; a rename does the same here.
    let next = dir.path().join("token.new");
    std::fs::write(&next, "second-token").unwrap();
    std::fs::rename(&next, &token_path).unwrap();
    client.healthz().unwrap();
    let seen: Vec<_> = wire
        .requests()
        .iter()
        .map(|r| {
            r.headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(seen, ["Bearer first-token", "Bearer second-token"]);
}

#[test]
fn a_missing_token_file_is_an_error_naming_the_file_and_nothing_is_sent() {
    let wire = Wire::start();
    let path = std::path::PathBuf::from("/nonexistent/kfp/token");
    let client = wire.client_with(AuthConfig::TokenFile(path));
    let err = client.healthz().unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the KFP token file /nonexistent/kfp/token"
    );
    assert!(wire.requests().is_empty());
}

#[test]
fn a_rejected_token_is_not_authenticated_with_a_token_hint_and_not_retried() {
    let wire = Wire::start();
    wire.mount(
        Mock::given(any())
            .respond_with(ResponseTemplate::new(401).set_body_string("Jwt is expired")),
    );
    let client = wire.client_with(AuthConfig::Token(Secret::new("old")));
    let err = client.healthz().unwrap_err();
    match &err {
        Error::NotAuthenticated { reason, .. } => {
            assert_eq!(reason, "the server answered HTTP 401: Jwt is expired");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.hint()
            .unwrap()
            .contains("audience `pipelines.kubeflow.org`")
    );
    assert_eq!(wire.requests().len(), 1);
}

#[test]
fn concurrent_calls_that_meet_an_expired_session_share_one_new_login() {
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let client = wire.client_with(dex(PASSWORD, DexAuthType::Local));
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    state.lock().unwrap().valid_sessions.clear();
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                client
                    .list_experiments(&ListOptions::namespace("ns"))
                    .unwrap()
            });
        }
    });
    let gw = state.lock().unwrap();
    assert_eq!(gw.logins, 2, "one login at start, one after the expiry");
    assert_eq!(gw.api_calls, 7);
}
