//! The session's one cookie jar.
//!
//! A small jar of our own rather than the HTTP library's: cookie values are session secrets, and general-purpose
//! jars log them at debug level. Like the KFP SDK (CONTRACT §8.2 step 6), every cookie the jar holds for a host
//! is sent to that host; paths and the `Secure` flag are not considered, so that a login through plain-HTTP test
//! gateways works too.

use std::sync::Mutex;

use jiff::Timestamp;

#[derive(Clone)]
struct Cookie {
    /// Lower-case host the cookie belongs to (the request's host, or the `Domain` attribute).
    domain: String,
    /// Whether subdomains of `domain` get it too (a `Domain` attribute was given).
    include_subdomains: bool,
    name: String,
    value: String,
}

impl Cookie {
    fn matches(&self, host: &str) -> bool {
        host == self.domain
            || (self.include_subdomains
                && host.len() > self.domain.len()
                && host.ends_with(&self.domain)
                && host.as_bytes()[host.len() - self.domain.len() - 1] == b'.')
    }
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

    /// Stores the `Set-Cookie` header values of a response from `host`; expired cookies are removed.
    pub(crate) fn store<'a>(&self, host: &str, set_cookies: impl IntoIterator<Item = &'a str>) {
        let host = host.to_ascii_lowercase();
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
                    _ => {}
                }
            }
            cookies.retain(|c| !(c.name == name && c.domain == domain));
            if !expired {
                cookies.push(Cookie {
                    domain,
                    include_subdomains,
                    name,
                    value,
                });
            }
        }
    }

    /// The `Cookie` header for a request to `host`: every cookie for it, `k1=v1; k2=v2`.
    pub(crate) fn header_for(&self, host: &str) -> Option<String> {
        let host = host.to_ascii_lowercase();
        let cookies = self.lock();
        let pairs: Vec<String> = cookies
            .iter()
            .filter(|c| c.matches(&host))
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

    #[test]
    fn cookies_are_replaced_by_name_and_removed_when_expired() {
        let jar = CookieJar::default();
        jar.store(
            "kf.example.com",
            ["a=1; Path=/", "b=2; HttpOnly", "csrf=x; Path=/"],
        );
        jar.store(
            "kf.example.com",
            [
                "a=3",
                "csrf=; Max-Age=0",
                "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            ],
        );
        assert_eq!(jar.header_for("KF.example.com").as_deref(), Some("a=3"));
        jar.clear();
        assert_eq!(jar.header_for("kf.example.com"), None);
    }

    #[test]
    fn cookies_go_only_to_their_host_or_its_subdomains_when_a_domain_is_given() {
        let jar = CookieJar::default();
        jar.store(
            "auth.example.com",
            [
                "dex=1",
                "wide=2; Domain=.example.com",
                "evil=3; Domain=other.org",
            ],
        );
        assert_eq!(
            jar.header_for("auth.example.com").as_deref(),
            Some("dex=1; wide=2; evil=3")
        );
        assert_eq!(jar.header_for("kf.example.com").as_deref(), Some("wide=2"));
        assert_eq!(jar.header_for("other.org"), None);
        assert_eq!(jar.header_for("badexample.com"), None);
    }

    #[test]
    fn debug_shows_names_but_never_values() {
        let jar = CookieJar::default();
        jar.store("h", ["_oauth2_proxy=s3cr3t"]);
        let shown = format!("{jar:?}");
        assert!(shown.contains("_oauth2_proxy@h"));
        assert!(!shown.contains("s3cr3t"));
    }
}
