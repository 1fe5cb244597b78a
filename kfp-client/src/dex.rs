//! The Dex static-credentials login behind oauth2-proxy or oidc-authservice (CONTRACT §8.2), done the way a
//! browser would: every redirect followed by hand with the client's one cookie jar, so that cookies set on
//! intermediate hops (CSRF, Dex request state) come back on the next ones.

use ureq::Agent;
use ureq::http::header::{LOCATION, SET_COOKIE};
use url::Url;

use crate::config::DexConfig;
use crate::cookies::CookieJar;
use crate::error::{Error, Result};
use crate::transport::{transport_error, without_query};

/// Redirects followed in one step before giving up.
const MAX_HOPS: usize = 20;
/// Largest login page read.
const MAX_PAGE_BYTES: u64 = 4 << 20;

/// What the login found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    /// The cookie jar holds a session.
    LoggedIn,
    /// The API URL answered without sending us to a login: no session needed.
    Unsecured,
}

struct Hop {
    url: Url,
    status: u16,
    redirected: bool,
}

fn login_error(url: &Url, reason: impl Into<String>) -> Error {
    Error::Login {
        url: crate::secrets::redact_url(without_query(url.as_str())),
        reason: crate::secrets::redact_text(&reason.into()),
    }
}

/// Sends `method` to `url` and follows redirects by hand (a 301/302/303 turns a POST into a GET).
fn follow(agent: &Agent, jar: &CookieJar, url: Url, form: Option<String>) -> Result<Hop> {
    let mut current = url;
    let mut form = form;
    let mut redirected = false;
    for _ in 0..MAX_HOPS {
        let cookie = jar.header_for(&current);
        let result = match &form {
            Some(body) => {
                let mut request = agent
                    .post(current.as_str())
                    .header("Content-Type", "application/x-www-form-urlencoded");
                if let Some(cookie) = &cookie {
                    request = request.header("Cookie", cookie.as_str());
                }
                request.send(body.as_bytes())
            }
            None => {
                let mut request = agent.get(current.as_str());
                if let Some(cookie) = &cookie {
                    request = request.header("Cookie", cookie.as_str());
                }
                request.call()
            }
        };
        let mut response = result.map_err(|err| {
            // No answer at all is a connection problem, not a login problem.
            let method = if form.is_some() { "POST" } else { "GET" };
            transport_error(method, without_query(current.as_str()), &err)
        })?;
        let status = response.status().as_u16();
        jar.store(
            &current,
            response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        tracing::debug!(url = %without_query(current.as_str()), status, "Dex login step");
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    login_error(&current, format!("HTTP {status} without a Location"))
                })?;
            let next = current
                .join(location)
                .map_err(|err| login_error(&current, format!("bad redirect target: {err}")))?;
            refuse_downgrade(&current, &next)?;
            if !matches!(status, 307 | 308) {
                form = None;
            }
            current = next;
            redirected = true;
            continue;
        }
        // Drain the page so that the connection can be reused; its content does not matter.
        let _ = response
            .body_mut()
            .with_config()
            .limit(MAX_PAGE_BYTES)
            .read_to_vec();
        return Ok(Hop {
            url: current,
            status,
            redirected,
        });
    }
    Err(login_error(&current, "too many redirects"))
}

/// A login that started on https stays on https: a redirect to plain http would carry the session and,
/// later, the password in clear.
fn refuse_downgrade(current: &Url, next: &Url) -> Result<()> {
    if current.scheme() == "https" && next.scheme() != "https" {
        return Err(login_error(
            current,
            format!(
                "refusing to follow a redirect from https to {}: the login would continue unencrypted and \
                 could send the password in clear; fix the external URL of the gateway or of Dex (it must be \
                 https)",
                crate::secrets::redact_url(without_query(next.as_str()))
            ),
        ));
    }
    Ok(())
}

fn is_login_path(path: &str) -> bool {
    // `/auth/<connector>/login`, e.g. `/dex/auth/local/login`.
    path.ends_with("/login") && path.contains("/auth/")
}

/// Logs in to Dex as `config.username`, leaving the session cookies in `jar`.
pub(crate) fn login(
    agent: &Agent,
    jar: &CookieJar,
    api_url: &str,
    config: &DexConfig,
) -> Result<LoginOutcome> {
    let start = Url::parse(api_url).map_err(|err| Error::Config(err.to_string()))?;

    // 1. The API URL sends an unauthenticated browser to the login.
    let mut hop = follow(agent, jar, start, None)?;
    if !hop.redirected {
        match hop.status {
            200 => {
                tracing::info!(
                    "{api_url} did not ask for a login; continuing without a Dex session"
                );
                return Ok(LoginOutcome::Unsecured);
            }
            403 => {}
            // A 404 or 500 here is no sign of an unsecured endpoint but of a wrong URL; taken as "unsecured"
            // it would only fail later, on the first API call, with a less telling message.
            status => {
                return Err(Error::LoginStart {
                    url: without_query(hop.url.as_str()).to_owned(),
                    status,
                });
            }
        }
    }
    if hop.status == 403 {
        // oauth2-proxy's sign-in page: start the flow explicitly.
        let mut start_url = hop.url.clone();
        let rd = hop.url.path().to_owned();
        start_url.set_path("/oauth2/start");
        start_url.set_query(None);
        start_url.query_pairs_mut().append_pair("rd", &rd);
        hop = follow(agent, jar, start_url, None)?;
    }
    if hop.status != 200 {
        return Err(login_error(
            &hop.url,
            format!("expected the Dex login page, got HTTP {}", hop.status),
        ));
    }

    // 2. The connector picker: choose local or ldap.
    let mut login_url = hop.url;
    if login_url.path().ends_with("/auth") {
        let path = format!("{}/{}", login_url.path(), config.auth_type);
        login_url.set_path(&path);
    }

    // 3. Reach the login form.
    if !is_login_path(login_url.path()) {
        let hop = follow(agent, jar, login_url, None)?;
        if hop.status != 200 {
            return Err(login_error(
                &hop.url,
                format!(
                    "expected the Dex login form of the `{}` connector, got HTTP {} (check --dex-auth-type)",
                    config.auth_type, hop.status
                ),
            ));
        }
        login_url = hop.url;
    }

    // 4. Post the credentials. Dex answers a wrong password by showing the form again, without a redirect.
    //    Never in clear when the API itself is https (the redirects above refuse that already).
    if api_url.starts_with("https:") && login_url.scheme() != "https" {
        return Err(login_error(
            &login_url,
            "refusing to send the password over plain http: the API URL is https",
        ));
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("login", &config.username)
        .append_pair("password", config.password.expose())
        .finish();
    let hop = follow(agent, jar, login_url.clone(), Some(form))?;
    if !hop.redirected {
        return Err(login_error(
            &login_url,
            format!(
                "Dex did not accept the username or password of {} (connector `{}`)",
                config.username, config.auth_type
            ),
        ));
    }
    if hop.status != 200 {
        return Err(login_error(
            &hop.url,
            format!("HTTP {} after posting the credentials", hop.status),
        ));
    }

    // 5. The approval screen of setups without `skipApprovalScreen`.
    if hop.url.path().ends_with("/approval") {
        let approval = follow(agent, jar, hop.url, Some("approval=approve".to_owned()))?;
        if approval.status != 200 {
            return Err(login_error(
                &approval.url,
                format!("HTTP {} after approving the login", approval.status),
            ));
        }
    }
    tracing::info!(user = %config.username, "logged in to Dex");
    Ok(LoginOutcome::LoggedIn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_redirect_from_https_to_plain_http_is_refused_with_a_clear_message() {
        let err = refuse_downgrade(
            &url("https://kf.example.com/dex/auth/local?state=s"),
            &url("http://kf.example.com/dex/auth/local/login?state=s"),
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with("login to https://kf.example.com/dex/auth/local failed: refusing to follow a redirect from https to http://kf.example.com/dex/auth/local/login"),
            "{shown}"
        );
        assert!(shown.contains("password in clear"), "{shown}");
        for (from, to) in [
            ("https://a/x", "https://b/y"),
            ("http://a/x", "http://a/y"),
            ("http://a/x", "https://a/y"),
        ] {
            assert!(
                refuse_downgrade(&url(from), &url(to)).is_ok(),
                "{from} -> {to}"
            );
        }
    }
}
