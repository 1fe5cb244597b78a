//! Authentication: KFP 1.8.5's identity rules with bearer tokens, and the Dex + oauth2-proxy login in front
//! of `/pipeline`, walked hop by hop like kfp-client's login does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kfp_gitops_tests::emulator::{AuthMode, DexConfig, Emulator, EmulatorConfig, client};
use serde_json::json;

const API: &str = "/apis/v1beta1";

fn tokens() -> AuthMode {
    AuthMode::Token(BTreeSet::from(["tok123".to_owned()]))
}

#[test]
fn multi_user_token_mode_answers_a_missing_identity_with_500_like_kfp_1_8_5() {
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_auth(tokens())).unwrap();
    let list = format!(
        "{API}/experiments?resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1"
    );
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![], 500),
        (vec![("authorization", "Bearer wrong")], 500),
        (vec![("authorization", "bearer tok123")], 500),
        (vec![("authorization", "Bearer tok123")], 200),
        (vec![("kubeflow-userid", "user@example.com")], 200),
        (
            vec![
                ("kubeflow-userid", "a@example.com"),
                ("kubeflow-userid", "b@example.com"),
            ],
            500,
        ),
    ];
    for (headers, status) in cases {
        let response = client::send(emulator.addr(), "GET", &list, &headers, b"").unwrap();
        assert_eq!(response.status, status, "{headers:?}: {}", response.text());
        if status == 500 {
            let body = response.json();
            assert_eq!(body["code"], json!(13));
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("Internal error: Unauthenticated: "),
                "{body}"
            );
            assert!(body.get("details").is_none());
        }
    }
    // Validation runs before the authorization check.
    let response = client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/experiments"),
        &[],
        b"{}",
    )
    .unwrap();
    assert_eq!(response.status, 400);
    // Healthz is not authorized.
    assert_eq!(
        client::send(emulator.addr(), "GET", &format!("{API}/healthz"), &[], b"")
            .unwrap()
            .status,
        200
    );
}

#[test]
fn single_user_token_mode_lets_only_known_tokens_through() {
    let emulator = Emulator::start(EmulatorConfig::single_user().with_auth(tokens())).unwrap();
    let path = format!("{API}/experiments");
    let denied = client::send(emulator.addr(), "GET", &path, &[], b"").unwrap();
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (401, "Unauthorized\n")
    );
    let allowed = client::send(
        emulator.addr(),
        "GET",
        &path,
        &[("Authorization", "Bearer tok123")],
        b"",
    )
    .unwrap();
    assert_eq!(allowed.status, 200);
}

/// A cookie jar and hop-by-hop requests (redirects are followed by the test, not hidden).
struct Browser<'a> {
    emulator: &'a Emulator,
    jar: BTreeMap<String, String>,
}

impl Browser<'_> {
    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> client::RawResponse {
        let target = url.strip_prefix(&self.emulator.base_url()).unwrap_or(url);
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("Cookie", &cookie));
        }
        let response = client::send(self.emulator.addr(), method, target, &all, body).unwrap();
        for set in response.header_all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    fn location(response: &client::RawResponse) -> String {
        response.header("location").expect("a redirect").to_owned()
    }
}

fn dex(config: DexConfig) -> Emulator {
    Emulator::start(EmulatorConfig::multi_user().with_auth(AuthMode::Dex(config))).unwrap()
}

fn dex_config(approval_screen: bool, connector_picker: bool) -> DexConfig {
    DexConfig {
        username: "user@example.com".to_owned(),
        password: "secret-pass".to_owned(),
        approval_screen,
        connector_picker,
        ..DexConfig::default()
    }
}

/// Walks the login; returns the browser holding the session.
fn login(emulator: &Emulator, approval: bool, picker: bool) -> Browser<'_> {
    let mut browser = Browser {
        emulator,
        jar: BTreeMap::new(),
    };
    let start = browser.send("GET", "/pipeline", &[], b"");
    assert_eq!(start.status, 302);
    let auth = Browser::location(&start);
    assert!(
        auth.starts_with(&format!("{}/dex/auth?", emulator.base_url())),
        "{auth}"
    );
    assert!(browser.jar.contains_key("_deploykf_token_csrf"));

    let mut response = browser.send("GET", &auth, &[], b"");
    let connector = if picker {
        assert_eq!(response.status, 200, "the connector picker");
        assert!(response.text().contains("/dex/auth/local?"));
        // kfp-client's rule: a final path ending in /auth gets /local appended, query kept.
        auth.replacen("/dex/auth?", "/dex/auth/local?", 1)
    } else {
        assert_eq!(response.status, 302);
        Browser::location(&response)
    };
    response = browser.send("GET", &connector, &[], b"");
    assert_eq!(response.status, 302);
    let login_url = Browser::location(&response);
    assert!(
        login_url.contains("/dex/auth/local/login?back=&state="),
        "{login_url}"
    );
    let form = browser.send("GET", &login_url, &[], b"");
    assert_eq!(form.status, 200);
    assert!(form.text().contains("name=\"password\""));

    let wrong = browser.send(
        "POST",
        &login_url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"login=user%40example.com&password=nope",
    );
    assert_eq!(
        wrong.status, 200,
        "invalid credentials re-render the form without a redirect"
    );
    assert!(wrong.text().contains("Invalid Email Address and password"));

    let mut response = browser.send(
        "POST",
        &login_url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"login=user%40example.com&password=secret-pass",
    );
    assert_eq!(response.status, 303);
    if approval {
        let approval_url = Browser::location(&response);
        assert!(
            approval_url.contains("/dex/approval?req="),
            "{approval_url}"
        );
        assert_eq!(browser.send("GET", &approval_url, &[], b"").status, 200);
        response = browser.send(
            "POST",
            &approval_url,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"approval=approve",
        );
        assert_eq!(response.status, 303);
    }
    let callback = Browser::location(&response);
    assert!(callback.contains("/oauth2/callback?code="), "{callback}");
    let back = browser.send("GET", &callback, &[], b"");
    assert_eq!(back.status, 302);
    assert_eq!(
        Browser::location(&back),
        format!("{}/pipeline", emulator.base_url())
    );
    assert!(
        browser.jar.contains_key("_deploykf_token"),
        "session cookie set: {:?}",
        browser.jar.keys()
    );
    assert_eq!(browser.send("GET", "/pipeline", &[], b"").status, 200);
    browser
}

#[test]
fn dex_login_without_approval_screen_yields_a_session_cookie_for_the_api() {
    let emulator = dex(dex_config(false, false));
    let mut browser = login(&emulator, false, false);
    let health = browser.send(
        "GET",
        &format!("/pipeline{API}/healthz"),
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(
        (health.status, health.json()["multi_user"].clone()),
        (200, json!(true))
    );
    let list = browser.send(
        "GET",
        &format!("/pipeline{API}/experiments?resource_reference_key.type=NAMESPACE&resource_reference_key.id=team-1"),
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(list.status, 200, "{}", list.text());
}

#[test]
fn dex_login_through_the_connector_picker_and_the_approval_screen() {
    let emulator = dex(dex_config(true, true));
    let mut browser = login(&emulator, true, true);
    assert_eq!(
        browser
            .send("GET", &format!("/pipeline{API}/healthz"), &[], b"")
            .status,
        200
    );
}

#[test]
fn without_a_live_session_api_calls_are_redirected_or_refused() {
    let emulator = dex(DexConfig {
        session_ttl: Duration::from_secs(3600),
        ..dex_config(false, false)
    });
    let mut browser = login(&emulator, false, false);
    let path = format!("/pipeline{API}/healthz");
    assert_eq!(browser.send("GET", &path, &[], b"").status, 200);

    emulator.advance_clock(Duration::from_secs(3601));
    let expired = browser.send("GET", &path, &[], b"");
    assert_eq!(
        expired.status, 302,
        "an expired session is sent to login again"
    );
    assert!(Browser::location(&expired).contains("/dex/auth?"));
    let ajax = browser.send("GET", &path, &[("Accept", "application/json")], b"");
    assert_eq!(ajax.status, 401);

    let mut again = login(&emulator, false, false);
    assert_eq!(again.send("GET", &path, &[], b"").status, 200);
    emulator.expire_sessions();
    assert_eq!(again.send("GET", &path, &[], b"").status, 302);
}

#[test]
fn the_callback_needs_the_csrf_cookie_and_a_fresh_code() {
    let emulator = dex(dex_config(false, false));
    let mut browser = Browser {
        emulator: &emulator,
        jar: BTreeMap::new(),
    };
    let start = browser.send("GET", "/pipeline", &[], b"");
    let mut response = browser.send("GET", &Browser::location(&start), &[], b"");
    response = browser.send("GET", &Browser::location(&response), &[], b"");
    let login_url = Browser::location(&response);
    let done = browser.send(
        "POST",
        &login_url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"login=USER%40example.com&password=secret-pass",
    );
    let callback = Browser::location(&done);
    browser.jar.remove("_deploykf_token_csrf");
    assert_eq!(browser.send("GET", &callback, &[], b"").status, 403);
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let config = EmulatorConfig::multi_user().with_auth(AuthMode::Dex(dex_config(false, false)));
    let debug = format!("{config:?}");
    assert!(!debug.contains("secret-pass"), "{debug}");
    let debug = format!("{:?}", tokens());
    assert!(!debug.contains("tok123"), "{debug}");
}

#[test]
fn multi_user_uploads_into_a_namespace_need_the_userid_header_even_with_a_token() {
    let emulator = Emulator::start(EmulatorConfig::multi_user().with_auth(tokens())).unwrap();
    let body = b"--b\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"p.yaml\"\r\n\r\napiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec: {}\n\r\n--b--\r\n";
    let upload = |query: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("Content-Type", "multipart/form-data; boundary=b")];
        all.extend_from_slice(headers);
        client::send(
            emulator.addr(),
            "POST",
            &format!("{API}/pipelines/upload{query}"),
            &all,
            body,
        )
        .unwrap()
        .status
    };
    assert_eq!(
        upload("?name=shared", &[("Authorization", "Bearer tok123")]),
        200,
        "shared pipelines skip the check"
    );
    assert_eq!(
        upload(
            "?name=a&namespace=team-1",
            &[("Authorization", "Bearer tok123")]
        ),
        400
    );
    assert_eq!(
        upload(
            "?name=b&namespace=team-1",
            &[("kubeflow-userid", "user@example.com")]
        ),
        200
    );
}

#[test]
fn with_the_sign_in_page_the_login_starts_from_a_403_through_oauth2_start() {
    let emulator = dex(DexConfig {
        sign_in_page: true,
        ..dex_config(false, false)
    });
    let mut browser = Browser {
        emulator: &emulator,
        jar: BTreeMap::new(),
    };
    let page = browser.send("GET", "/pipeline", &[], b"");
    assert_eq!(page.status, 403);
    assert!(
        page.text().contains("/oauth2/start?rd=%2Fpipeline"),
        "{}",
        page.text()
    );
    let start = browser.send("GET", "/oauth2/start?rd=/pipeline", &[], b"");
    assert_eq!(start.status, 302);
    let mut response = browser.send("GET", &Browser::location(&start), &[], b"");
    response = browser.send("GET", &Browser::location(&response), &[], b"");
    let login_url = Browser::location(&response);
    let done = browser.send(
        "POST",
        &login_url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"login=user%40example.com&password=secret-pass",
    );
    let back = browser.send("GET", &Browser::location(&done), &[], b"");
    assert_eq!(
        Browser::location(&back),
        format!("{}/pipeline", emulator.base_url())
    );
    assert_eq!(browser.send("GET", "/pipeline", &[], b"").status, 200);
}
