//! Redaction of URLs and of free text.

use super::registry::mask;
use super::secret::Secret;

/// What a redacted part is replaced with.
pub const REDACTED: &str = "***";

/// Whether a query (or fragment) parameter of this name carries a credential: `token`, `access_token`,
/// `key`, `api_key`, `password`, `secret`, `client_secret`, `sig`, `signature`, `X-Amz-Credential`, `code`, ...
/// Case, `-` and `_` do not matter.
pub fn is_credential_parameter(name: &str) -> bool {
    const WHOLE: &[&str] = &[
        "key", "sig", "pwd", "pass", "code", "auth", "jwt", "session", "sid", "sas",
    ];
    const PARTS: &[&str] = &[
        "token",
        "secret",
        "password",
        "passwd",
        "signature",
        "credential",
        "apikey",
        "accesskey",
        "privatekey",
        "authorization",
    ];
    let name: String = percent_decode(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    WHOLE.contains(&name.as_str()) || PARTS.iter().any(|part| name.contains(part))
}

/// The URL with its user info replaced by `***` (up to the last `@` of the authority, so a user name that
/// holds an `@` goes too) and the values of credential-like parameters of its query and fragment replaced by
/// `***`. Text without `scheme://` (a path, `git@host:repo` of scp-like git remotes) is returned unchanged.
///
/// ```
/// use kfp_client::secrets::redact_url;
/// assert_eq!(redact_url("https://me@corp.com:tok@host/r.git"), "https://***@host/r.git");
/// assert_eq!(redact_url("https://host/x?ref=main&Access_Token=abc"), "https://host/x?ref=main&Access_Token=***");
/// assert_eq!(redact_url("git@github.com:o/r.git"), "git@github.com:o/r.git");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((head, authority, tail)) = split_authority(url) else {
        return url.to_owned();
    };
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    format!("{head}{host}{}", redact_tail(tail))
}

/// `scheme://`, the authority, and the rest (path, query, fragment) of a URL with a valid scheme.
fn split_authority(url: &str) -> Option<(&str, &str, &str)> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return None;
    }
    let (head, rest) = url.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    Some((head, authority, tail))
}

/// The path, query and fragment with the values of credential parameters replaced.
fn redact_tail(tail: &str) -> String {
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let mut out = match before_fragment.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_parameters(query)),
        None => before_fragment.to_owned(),
    };
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_parameters(fragment));
    }
    out
}

fn redact_parameters(parameters: &str) -> String {
    parameters
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_credential_parameter(name) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn is_url_end(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '"' | '\'' | '<' | '>' | '`' | '\\' | '{' | '}' | '|' | '^'
        )
}

/// Every `scheme://...` URL in `text` through [`redact_url`].
fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        let after = at + 3;
        let end = rest[after..]
            .find(is_url_end)
            .map_or(rest.len(), |i| after + i);
        if scheme_start == at {
            out.push_str(&rest[..after]);
            rest = &rest[after..];
        } else {
            out.push_str(&rest[..scheme_start]);
            out.push_str(&redact_url(&rest[scheme_start..end]));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

/// `Bearer <credential>` and `Basic <credential>` (an echoed `Authorization` header) with the credential
/// masked. Only a credential-looking word is masked (12 characters or more of the token alphabet, not only
/// letters), so that prose such as "a bearer token" stays.
fn redact_auth_schemes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = ["bearer", "basic"]
        .iter()
        .filter_map(|scheme| {
            lower[search..]
                .find(scheme)
                .map(|i| (search + i, scheme.len()))
        })
        .min()
    {
        let (at, len) = found;
        let after_scheme = at + len;
        let spaces = text[after_scheme..]
            .chars()
            .take_while(|c| *c == ' ')
            .count();
        let start = after_scheme + spaces;
        let token_len = text[start..]
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/' | '='))
            })
            .unwrap_or(text.len() - start);
        let token = &text[start..start + token_len];
        if spaces > 0 && token.len() >= 12 && !token.chars().all(|c| c.is_ascii_alphabetic()) {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = start + token_len;
        }
        search = (start + token_len).max(after_scheme);
    }
    out.push_str(&text[copied..]);
    out
}

/// Text as it may leave the process: URLs redacted ([`redact_url`]), echoed `Bearer`/`Basic` credentials
/// masked, and every registered secret value masked ([`crate::secrets::mask`]).
pub fn redact_text(text: &str) -> String {
    let text = redact_auth_schemes(&redact_urls_in(text));
    mask(&text).into_owned()
}

/// What a server said, for an error message: redacted ([`redact_text`]) and cut to at most `max_chars`
/// characters (trimmed, with a note of how much was left out).
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = redact_text(text.trim());
    let total = text.chars().count();
    if total <= max_chars {
        return text;
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!(
        "{}… ({} more characters)",
        cut.trim_end(),
        total - max_chars
    )
}

/// The credentials taken out of a URL's user info (percent-decoded), see [`split_url_credentials`]. Both parts
/// are registered as secrets: a user name may be a token (`https://TOKEN@host/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCredentials {
    /// The user name (may be a token).
    pub username: Secret,
    /// The password (empty when the URL gave none).
    pub password: Secret,
}

impl UrlCredentials {
    /// The value of an HTTP `Authorization` header that sends these credentials (`Basic base64(user:pass)`),
    /// itself registered as a secret.
    pub fn basic_authorization(&self) -> Secret {
        let pair = format!("{}:{}", self.username.expose(), self.password.expose());
        Secret::new(format!("Basic {}", base64(pair.as_bytes())))
    }
}

/// Takes the user info out of a `scheme://user:password@host/...` URL: the URL without it, and the
/// credentials (registered as secrets, in their written and decoded forms). A URL without user info, or text
/// that is no `scheme://` URL, comes back unchanged with `None`.
pub fn split_url_credentials(url: &str) -> (String, Option<UrlCredentials>) {
    let Some((head, authority, tail)) = split_authority(url) else {
        return (url.to_owned(), None);
    };
    let Some(at) = authority.rfind('@') else {
        return (url.to_owned(), None);
    };
    let userinfo = &authority[..at];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    super::register(user);
    super::register(password);
    let credentials = UrlCredentials {
        username: Secret::new(percent_decode(user)),
        password: Secret::new(percent_decode(password)),
    };
    (
        format!("{head}{}{tail}", &authority[at + 1..]),
        Some(credentials),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_goes_also_when_the_user_name_holds_an_at_sign() {
        assert_eq!(
            redact_url("https://user:tok@example.com/r.git"),
            "https://***@example.com/r.git"
        );
        assert_eq!(
            redact_url("https://me@corp.example:tok@git.example/r.git"),
            "https://***@git.example/r.git"
        );
        assert_eq!(redact_url("https://TOKEN@host"), "https://***@host");
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("file:///tmp/r.git"), "file:///tmp/r.git");
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn credential_parameters_lose_their_values_in_query_and_fragment() {
        assert_eq!(
            redact_url(
                "https://h/p?ref=main&TOKEN=a&api-key=b&X-Amz-Signature=c&sig=d&page=2#access_token=e&x=1"
            ),
            "https://h/p?ref=main&TOKEN=***&api-key=***&X-Amz-Signature=***&sig=***&page=2#access_token=***&x=1"
        );
        for name in [
            "token",
            "access_token",
            "key",
            "password",
            "secret",
            "sig",
            "signature",
            "Client_Secret",
        ] {
            assert!(is_credential_parameter(name), "{name}");
        }
        for name in ["ref", "page", "name", "filter", "monkey"] {
            assert!(!is_credential_parameter(name), "{name}");
        }
    }

    #[test]
    fn every_url_of_a_text_is_redacted() {
        let text = "fatal: unable to access 'https://u:p4ss@h.example/r.git/': 403; see http://x@y/?token=t1 (git+ssh://a:b@c/d)";
        assert_eq!(
            redact_text(text),
            "fatal: unable to access 'https://***@h.example/r.git/': 403; see http://***@y/?token=*** (git+ssh://***@c/d)"
        );
        assert_eq!(redact_text("no url: a :// b"), "no url: a :// b");
        assert_eq!(
            redact_text("ünïcode https://a:b@c"),
            "ünïcode https://***@c"
        );
    }

    #[test]
    fn echoed_authorization_headers_are_masked_but_prose_stays() {
        assert_eq!(
            redact_text(
                "Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc and basic dXNlcjpwYXNzd29yZA=="
            ),
            "Authorization: Bearer *** and basic ***"
        );
        let prose = "give a bearer token with KFP_TOKEN, or basic authentication";
        assert_eq!(redact_text(prose), prose);
    }

    #[test]
    fn an_excerpt_is_bounded_and_redacted() {
        assert_eq!(excerpt("  short  ", 10), "short");
        assert_eq!(
            excerpt("abcdefghij-klm", 10),
            "abcdefghij… (4 more characters)"
        );
        assert_eq!(excerpt("see https://a:b@c", 100), "see https://***@c");
    }

    #[test]
    fn credentials_are_split_off_decoded_and_registered() {
        let (url, credentials) =
            split_url_credentials("https://me%40corp:split-pa%24%24word@git.example/r.git");
        assert_eq!(url, "https://git.example/r.git");
        let credentials = credentials.unwrap();
        assert_eq!(credentials.username.expose(), "me@corp");
        assert_eq!(credentials.password.expose(), "split-pa$$word");
        assert_eq!(
            credentials.basic_authorization().expose(),
            format!("Basic {}", base64(b"me@corp:split-pa$$word"))
        );
        assert!(super::super::contains_secret("x split-pa%24%24word"));
        assert!(super::super::contains_secret("x split-pa$$word"));
        assert_eq!(
            split_url_credentials("https://h/r.git"),
            ("https://h/r.git".to_owned(), None)
        );
        assert_eq!(
            split_url_credentials("git@h:r.git"),
            ("git@h:r.git".to_owned(), None)
        );
    }

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:password"), "dXNlcjpwYXNzd29yZA==");
    }

    proptest::proptest! {
        #[test]
        fn no_password_of_a_url_survives_redaction(
            user in "[a-z@.]{0,12}",
            password in "[A-Za-z0-9]{6,20}",
            prefix in "[ a-z:']{0,10}",
        ) {
            let text = format!("{prefix}https://{user}:{password}@host.example/x ok");
            let redacted = redact_text(&text);
            proptest::prop_assert!(!redacted.contains(&format!(":{password}@")), "{}", redacted);
            proptest::prop_assert!(redacted.ends_with("https://***@host.example/x ok"), "{}", redacted);
        }
    }
}
