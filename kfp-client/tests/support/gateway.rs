//! A fake oauth2-proxy + Dex gateway in front of a fake KFP API, as a wiremock responder (CONTRACT §8.2).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kfp_client::{AuthConfig, DexAuthType, DexConfig, Secret};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, Request, ResponseTemplate};

use super::Wire;

pub const USER: &str = "user@example.com";
pub const PASSWORD: &str = "correct horse+battery&staple";

/// How the fake gateway behaves.
#[derive(Debug, Default)]
pub struct Gateway {
    /// oauth2-proxy with `enableSignInPage: true`: a 403 sign-in page instead of a redirect.
    pub sign_in_page: bool,
    /// Dex's `skipApprovalScreen: false`.
    pub approval_screen: bool,
    /// The only connector Dex accepts in `/dex/auth/<connector>`.
    pub connector: &'static str,
    /// Sessions the API accepts.
    pub valid_sessions: Vec<String>,
    /// Sessions handed out by the callback are rejected right away (a broken login).
    pub reject_new_sessions: bool,
    /// Completed logins (credentials accepted).
    pub logins: u32,
    /// Credential posts.
    pub login_posts: u32,
    /// Requests that reached the API with a valid session.
    pub api_calls: u32,
}

pub fn cookies(request: &Request) -> BTreeMap<String, String> {
    request
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn redirect(to: &str) -> ResponseTemplate {
    ResponseTemplate::new(302).insert_header("Location", to)
}

fn page(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(format!("<html>{text}</html>"), "text/html")
}

fn respond(state: &Mutex<Gateway>, request: &Request) -> ResponseTemplate {
    let mut gw = state.lock().unwrap();
    let path = request.url.path();
    let query = request.url.query().unwrap_or("");
    let method = request.method.as_str();
    let jar = cookies(request);
    let session_ok = jar
        .get("_oauth2_proxy")
        .is_some_and(|s| gw.valid_sessions.contains(s));
    let unauthenticated = |gw: &Gateway| {
        if gw.sign_in_page {
            ResponseTemplate::new(403).set_body_raw("<html>Sign in with Dex</html>", "text/html")
        } else {
            redirect("/dex/auth?client_id=kubeflow-oidc&redirect_uri=%2Foauth2%2Fcallback&state=S1")
                .append_header("Set-Cookie", "_oauth2_proxy_csrf=csrf-1; Path=/; HttpOnly")
        }
    };
    match (method, path) {
        (_, p) if p.starts_with("/pipeline/apis/") => {
            if session_ok {
                gw.api_calls += 1;
                ResponseTemplate::new(200)
                    .set_body_json(json!({"experiments": [{"id": "e", "name": "e"}]}))
            } else {
                unauthenticated(&gw)
            }
        }
        ("GET", "/pipeline") => {
            if session_ok {
                page("KFP UI")
            } else {
                unauthenticated(&gw)
            }
        }
        ("GET", "/oauth2/start") => {
            assert_eq!(
                query, "rd=%2Fpipeline",
                "the sign-in page's path goes to rd"
            );
            redirect("/dex/auth?client_id=kubeflow-oidc&state=S1")
                .append_header("Set-Cookie", "_oauth2_proxy_csrf=csrf-1; Path=/; HttpOnly")
        }
        ("GET", "/dex/auth") => page("choose a connector"),
        ("GET", p) if p.starts_with("/dex/auth/") && !p.ends_with("/login") => {
            let connector = p.trim_start_matches("/dex/auth/");
            if connector != gw.connector {
                return ResponseTemplate::new(404).set_body_string("unknown connector");
            }
            assert!(
                query.contains("state=S1"),
                "the query is kept when choosing the connector"
            );
            redirect(&format!("/dex/auth/{connector}/login?back=&state=req-1"))
                .append_header("Set-Cookie", "dex_request=req-1; Path=/")
        }
        ("GET", p) if p.ends_with("/login") => page("<form>login</form>"),
        ("POST", p) if p.ends_with("/login") => {
            gw.login_posts += 1;
            assert_eq!(
                jar.get("dex_request").map(String::as_str),
                Some("req-1"),
                "cookie of an earlier hop"
            );
            assert_eq!(query, "back=&state=req-1");
            let fields = form(request);
            if fields.get("login").map(String::as_str) != Some(USER)
                || fields.get("password").map(String::as_str) != Some(PASSWORD)
            {
                return page("Invalid Email Address and password");
            }
            if gw.approval_screen {
                redirect("/dex/approval?req=req-1")
            } else {
                redirect("/oauth2/callback?code=c-1&state=S1")
            }
        }
        ("GET", "/dex/approval") => page("<form>approve</form>"),
        ("POST", "/dex/approval") => {
            assert_eq!(
                form(request).get("approval").map(String::as_str),
                Some("approve")
            );
            assert_eq!(query, "req=req-1");
            redirect("/oauth2/callback?code=c-1&state=S1")
        }
        ("GET", "/oauth2/callback") => {
            assert_eq!(
                jar.get("_oauth2_proxy_csrf").map(String::as_str),
                Some("csrf-1")
            );
            gw.logins += 1;
            let session = format!("session-{}", gw.logins);
            if !gw.reject_new_sessions {
                gw.valid_sessions.push(session.clone());
            }
            redirect("/pipeline")
                .append_header(
                    "Set-Cookie",
                    format!("_oauth2_proxy={session}; Path=/; HttpOnly").as_str(),
                )
                .append_header("Set-Cookie", "_oauth2_proxy_1=second-part; Path=/")
                .append_header("Set-Cookie", "_oauth2_proxy_csrf=; Path=/; Max-Age=0")
        }
        _ => ResponseTemplate::new(404).set_body_string(format!("no route {method} {path}")),
    }
}

pub fn gateway(wire: &Wire, gateway: Gateway) -> Arc<Mutex<Gateway>> {
    let state = Arc::new(Mutex::new(gateway));
    let shared = state.clone();
    wire.mount(Mock::given(any()).respond_with(move |request: &Request| respond(&shared, request)));
    state
}

pub fn dex(password: &str, auth_type: DexAuthType) -> AuthConfig {
    AuthConfig::Dex(DexConfig {
        username: USER.into(),
        password: Secret::new(password),
        auth_type,
    })
}

pub fn default_gateway() -> Gateway {
    Gateway {
        approval_screen: true,
        connector: "local",
        ..Gateway::default()
    }
}
