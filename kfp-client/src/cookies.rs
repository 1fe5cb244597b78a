//! The session's one cookie jar.
//!
//! A small jar of our own rather than the HTTP library's: cookie values are session secrets, and general-purpose
//! jars log them at debug level. It follows RFC 6265 for what matters to a client: a cookie goes to its host
//! (or, with a `Domain` attribute, to the subdomains of a domain the setting host belongs to), only to request
//! paths below its `Path` (by default the folder of the request that set it), and a `Secure` cookie only over
//! https. `HttpOnly` and `SameSite` concern browsers' scripts and cross-site requests, which a CLI has not.

use std::sync::Mutex;

use jiff::Timestamp;
use url::Url;

#[derive(Clone)]
struct Cookie {
    /// Lower-case host the cookie belongs to (the request's host, or the `Domain` attribute).
    domain: String,
    /// Whether subdomains of `domain` get it too (a `Domain` attribute was given).
    include_subdomains: bool,
    /// The paths it is sent to: this one and those below it.
    path: String,
    /// Sent over https only.
    secure: bool,
    name: String,
    value: String,
}

impl Cookie {
    fn matches(&self, host: &str, path: &str, https: bool) -> bool {
        let host_matches = host == self.domain
            || (self.include_subdomains
                && host.len() > self.domain.len()
                && host.ends_with(&self.domain)
                && host.as_bytes()[host.len() - self.domain.len() - 1] == b'.');
        host_matches && (https || !self.secure) && path_matches(&self.path, path)
    }
}

/// RFC 6265 §5.1.4: the cookie path is the request path, or a prefix of it that ends at a `/`.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4: the default path of a cookie is the folder of the request path.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(at) => request_path[..at].to_owned(),
    }
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

/// Cookies of one client, shared by the login and the API calls.
#[derive(Default)]
pub(crate) struct CookieJar {
    cookies: Mutex<Vec<Cookie>>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookies = self.lock();
        f.debug_list()
            .entries(
                cookies
                    .iter()
                    .map(|c| format!("{}@{}=<redacted>", c.name, c.domain)),
            )
            .finish()
    }
}

impl CookieJar {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Cookie>> {
        self.cookies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores the `Set-Cookie` header values of the response to a request to `url`; expired cookies are
    /// removed.
    pub(crate) fn store<'a>(&self, url: &Url, set_cookies: impl IntoIterator<Item = &'a str>) {
        let host = host_of(url);
        let https = url.scheme() == "https";
        let mut cookies = self.lock();
        for header in set_cookies {
            let mut parts = header.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let name = name.trim().to_owned();
            if name.is_empty() {
                continue;
            }
            let value = value.trim().trim_matches('"').to_owned();
            let mut domain = host.clone();
            let mut include_subdomains = false;
            let mut path = default_path(url.path());
            let mut secure = false;
            let mut expired = false;
            for attribute in parts {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.trim().to_ascii_lowercase().as_str() {
                    "max-age" => expired |= val.trim().parse::<i64>().is_ok_and(|age| age <= 0),
                    "expires" => {
                        expired |= jiff::fmt::rfc2822::parse(val.trim())
                            .is_ok_and(|when| when.timestamp() <= Timestamp::now());
                    }
                    "domain" => {
                        let wanted = val.trim().trim_start_matches('.').to_ascii_lowercase();
                        // A server may only widen a cookie to a domain it belongs to.
                        if !wanted.is_empty()
                            && (host == wanted || host.ends_with(&format!(".{wanted}")))
                        {
                            domain = wanted;
                            include_subdomains = true;
                        }
                    }
                    "path" if val.trim().starts_with('/') => path = val.trim().to_owned(),
                    "secure" => secure = true,
                    _ => {}
                }
            }
            // A plain-http answer may not set a secure cookie (RFC 6265bis §5.7).
            if secure && !https {
                continue;
            }
            cookies.retain(|c| !(c.name == name && c.domain == domain && c.path == path));
            if !expired {
                cookies.push(Cookie {
                    domain,
                    include_subdomains,
                    path,
                    secure,
                    name,
                    value,
                });
            }
        }
    }

    /// The `Cookie` header for a request to `url`: every cookie for its host, path and scheme,
    /// `k1=v1; k2=v2`.
    pub(crate) fn header_for(&self, url: &Url) -> Option<String> {
        let host = host_of(url);
        let https = url.scheme() == "https";
        let cookies = self.lock();
        let pairs: Vec<String> = cookies
            .iter()
            .filter(|c| c.matches(&host, url.path(), https))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Forgets every cookie (before a new login).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn cookies_are_replaced_by_name_and_removed_when_expired() {
        let jar = CookieJar::default();
        jar.store(
            &url("https://kf.example.com/"),
            ["a=1; Path=/", "b=2; HttpOnly", "csrf=x; Path=/"],
        );
        jar.store(
            &url("https://kf.example.com/"),
            [
                "a=3",
                "csrf=; Max-Age=0",
                "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            ],
        );
        assert_eq!(
            jar.header_for(&url("https://KF.example.com/x")).as_deref(),
            Some("a=3")
        );
        jar.clear();
        assert_eq!(jar.header_for(&url("https://kf.example.com/")), None);
    }

    #[test]
    fn cookies_go_only_to_their_host_or_its_subdomains_when_a_domain_is_given() {
        let jar = CookieJar::default();
        jar.store(
            &url("https://auth.example.com/"),
            [
                "dex=1",
                "wide=2; Domain=.example.com",
                "evil=3; Domain=other.org",
            ],
        );
        assert_eq!(
            jar.header_for(&url("https://auth.example.com/")).as_deref(),
            Some("dex=1; wide=2; evil=3")
        );
        assert_eq!(
            jar.header_for(&url("https://kf.example.com/")).as_deref(),
            Some("wide=2")
        );
        assert_eq!(jar.header_for(&url("https://other.org/")), None);
        assert_eq!(jar.header_for(&url("https://badexample.com/")), None);
    }

    #[test]
    fn debug_shows_names_but_never_values() {
        let jar = CookieJar::default();
        jar.store(&url("http://h/"), ["_oauth2_proxy=s3cr3t"]);
        let shown = format!("{jar:?}");
        assert!(shown.contains("_oauth2_proxy@h"));
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn secure_cookies_go_over_https_only_and_are_not_taken_from_plain_http() {
        let jar = CookieJar::default();
        jar.store(
            &url("https://kf.example.com/"),
            ["session=s; Secure", "plain=p"],
        );
        assert_eq!(
            jar.header_for(&url("https://kf.example.com/")).as_deref(),
            Some("session=s; plain=p")
        );
        assert_eq!(
            jar.header_for(&url("http://kf.example.com/")).as_deref(),
            Some("plain=p")
        );
        jar.clear();
        jar.store(&url("http://kf.example.com/"), ["session=s; Secure"]);
        assert_eq!(jar.header_for(&url("https://kf.example.com/")), None);
    }

    #[test]
    fn cookies_go_only_below_their_path() {
        let jar = CookieJar::default();
        jar.store(
            &url("https://kf.example.com/dex/auth/local/login?state=x"),
            ["default=d", "dex=x; Path=/dex", "root=r; Path=/"],
        );
        let header = |u: &str| jar.header_for(&url(u));
        assert_eq!(
            header("https://kf.example.com/dex/auth/local/login").as_deref(),
            Some("default=d; dex=x; root=r")
        );
        assert_eq!(
            header("https://kf.example.com/dex/approval").as_deref(),
            Some("dex=x; root=r")
        );
        assert_eq!(
            header("https://kf.example.com/dexter").as_deref(),
            Some("root=r")
        );
        assert_eq!(
            header("https://kf.example.com/pipeline").as_deref(),
            Some("root=r")
        );
    }
}
