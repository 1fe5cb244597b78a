//! Who is calling: KFP 1.8.5's authenticators (a `kubeflow-userid` header, else a bearer token) and, in Dex
//! mode, the login front an oauth2-proxy + Dex pair puts before `/pipeline` (CONTRACT §7, §8.2).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use super::config::DexConfig;
use super::core::{Core, lock};
use super::http::{Request, Response};
use super::state::new_uuid;
use super::wire::{self, query_escape};
use crate::emulator::config::AuthMode;

/// The caller as the API server's authenticators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// An authenticated user (with access to every namespace).
    User(String),
    /// No usable identity; the text is the authenticators' aggregated error.
    Missing(String),
}

const NO_HEADER: &str = "Unauthenticated: Request header error: there is no user identity header.";

/// `auth.GetUserIdentity`: the userid header (exactly once), else a bearer token.
pub fn identity(core: &Core, request: &Request, via_ui: bool) -> Identity {
    let headers = request.header_all("kubeflow-userid");
    match headers.len() {
        1 => return Identity::User(headers[0].to_owned()),
        0 => {}
        n => {
            return Identity::Missing(format!(
                "Unauthenticated: Request header error: unexpected number of 'kubeflow-userid' headers. Expect 1 got {n}"
            ));
        }
    }
    match &core.config.auth {
        AuthMode::None => Identity::User("anonymous@example.com".to_owned()),
        AuthMode::Token(tokens) => match bearer(request) {
            Some(token) if tokens.contains(token) => {
                Identity::User("system:serviceaccount:kubeflow:pipeline-runner".to_owned())
            }
            Some(_) => Identity::Missing(format!(
                "{NO_HEADER}: Unauthenticated: Authentication failure: the token review did not authenticate the token"
            )),
            None => Identity::Missing(format!(
                "{NO_HEADER}: Unauthenticated: Request header error: there is no Bearer token found in the Authorization header"
            )),
        },
        AuthMode::Dex(dex) => {
            if via_ui && let Some(email) = session_user(core, dex, request) {
                return Identity::User(email);
            }
            Identity::User("anonymous@example.com".to_owned())
        }
    }
}

fn bearer(request: &Request) -> Option<&str> {
    request.header("authorization")?.strip_prefix("Bearer ")
}

/// Single-user token mode: the gateway lets only known tokens through.
pub fn has_valid_token(tokens: &BTreeSet<String>, request: &Request) -> bool {
    bearer(request).is_some_and(|token| tokens.contains(token))
}

/// Login sessions and pending Dex auth requests.
#[derive(Debug, Default)]
pub struct Sessions {
    /// session cookie value → (email, expiry unix ms)
    sessions: HashMap<String, (String, i64)>,
    /// Dex auth request id → (oauth2-proxy state, logged-in email once the password was accepted)
    auth_requests: HashMap<String, (String, Option<String>)>,
    /// authorization code → (state, email)
    codes: HashMap<String, (String, String)>,
    /// oauth2-proxy state → the URL to return to
    states: HashMap<String, String>,
}

impl Sessions {
    /// Expires every session now (for tests of re-login).
    pub fn expire_all(&mut self) {
        self.sessions.clear();
    }
}

fn cookies(request: &Request) -> Vec<(String, String)> {
    request
        .header_all("cookie")
        .iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|c| {
            c.trim()
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn session_user(core: &Core, dex: &DexConfig, request: &Request) -> Option<String> {
    let now = core.now_ms();
    let sessions = lock(&core.sessions);
    cookies(request)
        .iter()
        .filter(|(name, _)| *name == dex.cookie_name)
        .find_map(|(_, value)| {
            sessions
                .sessions
                .get(value)
                .filter(|(_, expiry)| *expiry > now)
                .map(|(email, _)| email.clone())
        })
}

/// Guards `/pipeline`: without a live session, API calls that want JSON get 401 (oauth2-proxy's answer to
/// AJAX), everything else a 302 into the login flow.
pub fn require_session(
    core: &Core,
    dex: &DexConfig,
    request: &Request,
    path: &str,
) -> Result<(), Response> {
    if session_user(core, dex, request).is_some() {
        return Ok(());
    }
    let wants_json = request
        .header("accept")
        .is_some_and(|a| a.trim() == "application/json");
    if path.starts_with("/pipeline/apis/") && wants_json {
        return Err(Response::text(401, "Unauthorized"));
    }
    let target = if request.query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", request.query)
    };
    if dex.sign_in_page {
        let start = format!("/oauth2/start?rd={}", query_escape(&target));
        return Err(Response::new(
            403,
            "text/html; charset=utf-8",
            format!(
                "<!DOCTYPE html><html><head><title>Sign In</title></head><body>\
                 <form method=\"GET\" action=\"/oauth2/start\"><input type=\"hidden\" name=\"rd\" value=\"{target}\"/>\
                 <a href=\"{start}\">Sign in with Dex</a><button type=\"submit\">Sign in</button></form></body></html>"
            ),
        ));
    }
    let state = new_uuid();
    lock(&core.sessions).states.insert(state.clone(), target);
    let base = origin(request);
    let location = format!(
        "{base}/dex/auth?client_id=kubeflow-oidc-authservice&redirect_uri={}&response_type=code&scope={}&state={state}",
        query_escape(&format!("{base}/oauth2/callback")),
        query_escape("openid email groups profile offline_access"),
    );
    Err(Response::new(
        302,
        "text/html; charset=utf-8",
        format!("<a href=\"{location}\">Found</a>.\n"),
    )
    .with_header("Location", &location)
    .with_header(
        "Set-Cookie",
        &format!(
            "{}_csrf={state}; Path=/; HttpOnly; SameSite=Lax",
            dex.cookie_name
        ),
    ))
}

/// `http://<Host>`: redirects are absolute, as oauth2-proxy and Dex send them.
fn origin(request: &Request) -> String {
    format!("http://{}", request.header("host").unwrap_or("127.0.0.1"))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    wire::parse_query(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    wire::parse_query(&String::from_utf8_lossy(body))
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

fn html(title: &str, body: &str) -> Response {
    Response::new(
        200,
        "text/html; charset=utf-8",
        format!(
            "<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>"
        ),
    )
}

fn redirect(status: u16, location: &str) -> Response {
    Response::new(
        status,
        "text/html; charset=utf-8",
        format!("<a href=\"{location}\">See Other</a>.\n"),
    )
    .with_header("Location", location)
}

fn login_page(auth_request: &str, error: bool) -> Response {
    let message = if error {
        "<div id=\"login-error\">Invalid Email Address and password.</div>"
    } else {
        ""
    };
    html(
        "Log in to dex",
        &format!(
            "<h2>Log in to Your Account</h2>{message}<form method=\"post\" action=\"/dex/auth/local/login?back=&amp;state={auth_request}\">\
             <input name=\"login\" type=\"text\"/><input name=\"password\" type=\"password\"/>\
             <button type=\"submit\">Login</button></form>"
        ),
    )
}

/// Serves `/dex/...` and `/oauth2/...`; `None` for other paths.
pub fn dex_endpoints(
    core: &Core,
    dex: &DexConfig,
    request: &Request,
    path: &str,
) -> Option<Response> {
    let query = request.query.as_str();
    let reply = match (request.method.as_str(), path) {
        ("GET", "/dex/auth") => {
            if dex.connector_picker {
                html(
                    "Log in to dex",
                    &format!(
                        "<h2>Log in with</h2><a href=\"/dex/auth/local?{query}\">Log in with Email</a>\
                         <a href=\"/dex/auth/ldap?{query}\">Log in with LDAP</a>"
                    ),
                )
            } else {
                redirect(302, &format!("{}/dex/auth/local?{query}", origin(request)))
            }
        }
        ("GET", "/dex/auth/local" | "/dex/auth/ldap") => {
            let state = query_param(query, "state").unwrap_or_default();
            let auth_request = new_uuid().replace('-', "");
            lock(&core.sessions)
                .auth_requests
                .insert(auth_request.clone(), (state, None));
            redirect(
                302,
                &format!("{}{path}/login?back=&state={auth_request}", origin(request)),
            )
        }
        ("GET", "/dex/auth/local/login" | "/dex/auth/ldap/login") => {
            let auth_request = query_param(query, "state").unwrap_or_default();
            if !lock(&core.sessions)
                .auth_requests
                .contains_key(&auth_request)
            {
                return Some(
                    html("Bad Request", "Invalid request: unknown auth request").with_status(400),
                );
            }
            login_page(&auth_request, false)
        }
        ("POST", "/dex/auth/local/login" | "/dex/auth/ldap/login") => {
            let auth_request = query_param(query, "state").unwrap_or_default();
            let fields = form(&request.body);
            let mut sessions = lock(&core.sessions);
            let Some(entry) = sessions.auth_requests.get_mut(&auth_request) else {
                return Some(
                    html("Bad Request", "Invalid request: unknown auth request").with_status(400),
                );
            };
            let ok = fields
                .get("login")
                .is_some_and(|l| l.eq_ignore_ascii_case(&dex.username))
                && fields.get("password") == Some(&dex.password);
            if !ok {
                return Some(login_page(&auth_request, true));
            }
            entry.1 = Some(dex.username.to_lowercase());
            if dex.approval_screen {
                redirect(
                    303,
                    &format!("{}/dex/approval?req={auth_request}", origin(request)),
                )
            } else {
                let (state, email) = (entry.0.clone(), dex.username.to_lowercase());
                sessions.auth_requests.remove(&auth_request);
                issue_code(&mut sessions, &origin(request), state, email)
            }
        }
        ("GET", "/dex/approval") => {
            let auth_request = query_param(query, "req").unwrap_or_default();
            html(
                "Grant Access",
                &format!(
                    "<form method=\"post\"><input type=\"hidden\" name=\"req\" value=\"{auth_request}\"/>\
                     <button type=\"submit\" name=\"approval\" value=\"approve\">Grant Access</button></form>"
                ),
            )
        }
        ("POST", "/dex/approval") => {
            let fields = form(&request.body);
            let auth_request = fields
                .get("req")
                .cloned()
                .or_else(|| query_param(query, "req"))
                .unwrap_or_default();
            let mut sessions = lock(&core.sessions);
            let Some((state, Some(email))) = sessions.auth_requests.remove(&auth_request) else {
                return Some(
                    html("Bad Request", "Invalid request: unknown auth request").with_status(400),
                );
            };
            if fields.get("approval").map(String::as_str) != Some("approve") {
                return Some(html("Access denied", "Access denied.").with_status(403));
            }
            issue_code(&mut sessions, &origin(request), state, email)
        }
        ("GET", "/oauth2/callback") => {
            let code = query_param(query, "code").unwrap_or_default();
            let state = query_param(query, "state").unwrap_or_default();
            let csrf_name = format!("{}_csrf", dex.cookie_name);
            let csrf_ok = cookies(request)
                .iter()
                .any(|(k, v)| *k == csrf_name && *v == state);
            let mut sessions = lock(&core.sessions);
            let valid = sessions.codes.remove(&code).filter(|(s, _)| *s == state);
            let (Some((_, email)), true) = (valid, csrf_ok) else {
                return Some(Response::text(
                    403,
                    "Forbidden: invalid authorization code or CSRF cookie",
                ));
            };
            let target = sessions
                .states
                .remove(&state)
                .unwrap_or_else(|| "/pipeline".to_owned());
            let session = new_uuid().replace('-', "");
            let ttl = i64::try_from(dex.session_ttl.as_millis()).unwrap_or(i64::MAX);
            let expiry = core.now_ms().saturating_add(ttl);
            sessions.sessions.insert(session.clone(), (email, expiry));
            let max_age = dex.session_ttl.max(Duration::from_secs(1)).as_secs();
            redirect(302, &format!("{}{target}", origin(request)))
                .with_header(
                    "Set-Cookie",
                    &format!(
                        "{}={session}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
                        dex.cookie_name
                    ),
                )
                .with_header("Set-Cookie", &format!("{csrf_name}=; Path=/; Max-Age=0"))
        }
        ("GET", "/oauth2/start") => {
            let base = origin(request);
            let target = query_param(query, "rd").unwrap_or_else(|| "/pipeline".to_owned());
            let state = new_uuid();
            lock(&core.sessions).states.insert(state.clone(), target);
            redirect(
                302,
                &format!(
                    "{base}/dex/auth?client_id=kubeflow-oidc-authservice&redirect_uri={}&response_type=code&state={state}",
                    query_escape(&format!("{base}/oauth2/callback")),
                ),
            )
            .with_header("Set-Cookie", &format!("{}_csrf={state}; Path=/; HttpOnly; SameSite=Lax", dex.cookie_name))
        }
        _ if path.starts_with("/dex/") || path.starts_with("/oauth2/") => {
            Response::text(404, "404 page not found")
        }
        _ => return None,
    };
    Some(reply)
}

fn issue_code(sessions: &mut Sessions, origin: &str, state: String, email: String) -> Response {
    let code = new_uuid().replace('-', "");
    let location = format!(
        "{origin}/oauth2/callback?code={code}&state={}",
        query_escape(&state)
    );
    sessions.codes.insert(code, (state, email));
    redirect(303, &location)
}

impl Response {
    /// Replaces the status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}
