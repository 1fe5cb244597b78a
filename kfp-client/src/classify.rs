//! From an HTTP error answer to a typed [`Error`], keyed on the status code and reading every body shape KFP
//! servers write (KFP2-V1BETA1.md §1 "Error body", §5 P0-4):
//!
//! * KFP 1.8.5 (grpc-gateway v1.16): `{error, code, message, details: [api.Error{error_message, error_details}]}`;
//! * KFP 2.0–2.5 (v1.16, the converter): `{error, code, message, details: [google.rpc.Status{code, message}]}`,
//!   where a 500's detail message is literally `Internal Server Error`;
//! * KFP 2.14+ (grpc-gateway v2): `{code, message, details}` without `error`;
//! * the upload handlers: `{error_message, error_details}`; gateways: text or HTML.
//!
//! Pure: no I/O. [`crate::HttpKfpClient`] calls `api_error` for every non-2xx answer it does not treat as
//! a login problem, and [`is_lost_identity`] to decide a re-login.

use crate::error::Error;
use crate::models::ErrorBody;

/// The typed error of a non-2xx answer. `looks_like_html` says whether the body is an HTML page.
pub(crate) fn api_error(
    method: &str,
    path: &str,
    status: u16,
    looks_like_html: bool,
    body: &[u8],
) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (message, details, code) = match parsed.filter(ErrorBody::is_recognized) {
        Some(body) => (
            body.user_message().to_owned(),
            body.internal_details().map(str::to_owned),
            body.code,
        ),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("HTTP {status} without a body")
            } else if looks_like_html {
                "an HTML page instead of a KFP API answer (is the API URL right?)".to_owned()
            } else {
                text.chars().take(500).collect()
            };
            (message, None, None)
        }
    };
    if status == 400
        && let Some(namespace) = v1_blocked_namespace(&message)
            .or_else(|| details.as_deref().and_then(v1_blocked_namespace))
    {
        return Error::V1PipelinesBlocked {
            method: method.to_owned(),
            path: path.to_owned(),
            namespace,
            message,
        };
    }
    Error::Api {
        status,
        method: method.to_owned(),
        path: path.to_owned(),
        message,
        details,
        code,
    }
}

/// The namespace of KFP 2.17's `BLOCK_V1_PIPELINES` refusal, `Namespace <ns> is not allowed to run v1
/// pipelines. Please migrate to using KFP V2 pipelines.` (KFP2-V1BETA1.md §2.6 last row, §4.1), wherever it
/// appears in `text`.
pub fn v1_blocked_namespace(text: &str) -> Option<String> {
    const TAIL: &str = " is not allowed to run v1 pipelines";
    let end = text.find(TAIL)?;
    let head = &text[..end];
    let start = head.rfind("Namespace ")? + "Namespace ".len();
    let namespace = &head[start..];
    (!namespace.contains(char::is_whitespace)).then(|| namespace.to_owned())
}

/// Whether an error says the server saw no (valid) identity, so that a new login may help: HTTP 401 (KFP 2.x:
/// `Failed to check authorization. User identity is empty…`), or KFP 1.8.5's HTTP 500 whose aggregated
/// message says `Unauthenticated` (KFP2-V1BETA1.md §1 "Missing/invalid identity", §5 P1-13).
pub fn is_lost_identity(error: &Error) -> bool {
    match error {
        Error::Api { status: 401, .. } => true,
        Error::Api {
            status: 500,
            message,
            details,
            ..
        } => {
            let says = |text: &str| {
                text.contains("Unauthenticated")
                    || text.contains("user identity")
                    || text.contains("User identity")
            };
            says(message) || details.as_deref().is_some_and(says)
        }
        _ => false,
    }
}

/// Whether a listing failed because the server refused its page token: HTTP 400 naming the token (1.8.5
/// `Invalid package token.`, 2.17 `Invalid page token`, any version `page token does not match…`). Tokens are
/// opaque and not portable across server restarts or versions, so the listing is worth starting over
/// (KFP2-V1BETA1.md §1 "Page size / tokens", §5 P1-15).
pub fn is_refused_page_token(error: &Error) -> bool {
    match error {
        Error::Api {
            status: 400,
            message,
            details,
            ..
        } => {
            let says = |text: &str| {
                let text = text.to_ascii_lowercase();
                text.contains("page token") || text.contains("package token")
            };
            says(message) || details.as_deref().is_some_and(says)
        }
        _ => false,
    }
}

/// Longest server message kept in an error (the rest is cut: a gateway may echo whole requests).
pub(crate) const MAX_MESSAGE_CHARS: usize = 500;

/// Longest internal error chain kept in an error.
pub(crate) const MAX_DETAILS_CHARS: usize = 2000;

pub(crate) fn looks_like_html(content_type: &str, body: &[u8]) -> bool {
    content_type.contains("text/html")
        || body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<')
}

pub(crate) fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// What a gateway answered in place of JSON, for the not-authenticated reason.
pub(crate) fn not_json_reason(status: u16, content_type: &str, body: &[u8]) -> String {
    if looks_like_html(content_type, body) {
        return if status == 403 {
            "the gateway answered HTTP 403 with a sign-in page".to_owned()
        } else {
            format!(
                "the gateway answered HTTP {status} with an HTML page instead of JSON (a login page)"
            )
        };
    }
    let text = crate::secrets::excerpt(&String::from_utf8_lossy(body), 200);
    if text.is_empty() {
        format!("the gateway answered HTTP {status} without a body instead of JSON")
    } else {
        format!("the gateway answered HTTP {status} with text instead of JSON: {text}")
    }
}

/// The typed error of a non-2xx answer, with what the server said cut to a bounded excerpt.
pub(crate) fn bounded_api_error(
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Error {
    // What the server said is cut to a bounded excerpt with every known secret masked.
    match api_error(
        method,
        path,
        status,
        looks_like_html(content_type, body),
        body,
    ) {
        Error::Api {
            status,
            method,
            path,
            message,
            details,
            code,
        } => Error::Api {
            status,
            method,
            path,
            message: crate::secrets::excerpt(&message, MAX_MESSAGE_CHARS),
            details: details.map(|details| crate::secrets::excerpt(&details, MAX_DETAILS_CHARS)),
            code,
        },
        Error::V1PipelinesBlocked {
            method,
            path,
            namespace,
            message,
        } => Error::V1PipelinesBlocked {
            method,
            path,
            namespace,
            message: crate::secrets::excerpt(&message, MAX_MESSAGE_CHARS),
        },
        other => other,
    }
}

/// What a complete answer means for the call that got it.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A 2xx answer with a JSON body (or none, which some proxies send for `{}`).
    Ok(Vec<u8>),
    /// A login problem, with the reason: the call may succeed after a (re-)login.
    Unauthenticated(String),
    /// Any other failure.
    Failed(Error),
}

/// The login problem of a 3xx answer: redirects are never followed, a redirect is a login page.
pub(crate) fn redirect_reason(status: u16, location: Option<&str>) -> Option<String> {
    if !(300..400).contains(&status) {
        return None;
    }
    let target = location.map_or_else(
        || "nowhere".to_owned(),
        |location| crate::secrets::redact_url(crate::transport::without_query(location)),
    );
    Some(format!(
        "the gateway answered HTTP {status} with a redirect to {target} (a login page)"
    ))
}

/// Judges a complete non-redirect answer by its status, content type and body. `renewable` says whether the
/// client can renew its identity (a Dex login, a token file), which makes a lost identity a login problem.
pub(crate) fn classify_answer(
    method: &str,
    path: &str,
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    renewable: bool,
) -> Answer {
    // KFP answers JSON, so a 200 or 403 with anything else is a gateway in front of it: a login page, or
    // Istio's `403 text/plain RBAC: access denied` (CONTRACT §6). An empty 200 is how some proxies pass `{}`
    // on; a JSON 403 is KFP's own permission error.
    if (200..300).contains(&status) {
        if body.iter().all(u8::is_ascii_whitespace) || is_json(&body) {
            return Answer::Ok(body);
        }
        return Answer::Unauthenticated(not_json_reason(status, content_type, &body));
    }
    if status == 403 && !is_json(&body) {
        return Answer::Unauthenticated(not_json_reason(status, content_type, &body));
    }
    if status == 401 {
        let said = match bounded_api_error(method, path, status, content_type, &body) {
            Error::Api { message, .. } if !message.starts_with("HTTP 401") => {
                format!(": {message}")
            }
            _ => String::new(),
        };
        return Answer::Unauthenticated(format!("the server answered HTTP 401{said}"));
    }
    let error = bounded_api_error(method, path, status, content_type, &body);
    // KFP 1.8.5 answers a lost identity with a 500 `Unauthenticated`: a new login (or a rotated token
    // file) may help, as with a 401 (KFP2-V1BETA1.md §1, §5 P1-13).
    if renewable && is_lost_identity(&error) {
        return Answer::Unauthenticated(format!("the server saw no user identity: {error}"));
    }
    Answer::Failed(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> Error {
        api_error("POST", "/apis/v1beta1/jobs", status, false, body.as_bytes())
    }

    fn message_of(error: &Error) -> (u16, String, Option<i32>) {
        match error {
            Error::Api {
                status,
                message,
                code,
                ..
            } => (*status, message.clone(), *code),
            other => panic!("not an API error: {other:?}"),
        }
    }

    #[test]
    fn every_body_shape_gives_the_status_and_the_most_useful_message() {
        let cases = [
            // 1.8.5: the api.Error external message.
            (
                404,
                r#"{"error":"Failed to get a job.: ResourceNotFoundError: Job x not found.","code":5,"message":"Failed to get a job.: ResourceNotFoundError: Job x not found.","details":[{"@type":"type.googleapis.com/api.Error","error_message":"Job x not found.","error_details":"..."}]}"#,
                "Job x not found.",
            ),
            // 2.0–2.5: the google.rpc.Status detail's message.
            (
                404,
                r#"{"error":"Failed to get a job.: ResourceNotFoundError: Job x not found","code":5,"message":"Failed to get a job.: ResourceNotFoundError: Job x not found","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":5,"message":"Job x not found"}]}"#,
                "Job x not found",
            ),
            // 2.14+: no `error` key.
            (
                404,
                r#"{"code":5,"message":"Failed to get a job.: ResourceNotFoundError: Job x not found","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":5,"message":"Job x not found"}]}"#,
                "Job x not found",
            ),
            // A 2.x 500: the detail says only "Internal Server Error", the top-level message says what.
            (
                500,
                r#"{"code":13,"message":"InternalServerError: Failed to create a recurring run with an invalid pipeline spec manifest: bad kind","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":13,"message":"Internal Server Error"}]}"#,
                "InternalServerError: Failed to create a recurring run with an invalid pipeline spec manifest: bad kind",
            ),
            // 2.14+ routing error.
            (404, r#"{"code":5,"message":"Not Found"}"#, "Not Found"),
            // Upload handlers.
            (
                500,
                r#"{"error_message":"duplicate","error_details":"x"}"#,
                "duplicate",
            ),
            // Plain text.
            (405, "Method Not Allowed\n", "Method Not Allowed"),
            (502, "", "HTTP 502 without a body"),
        ];
        for (status, body, expected) in cases {
            let (got_status, message, _) = message_of(&classify(status, body));
            assert_eq!(got_status, status);
            assert_eq!(message, expected, "{body}");
        }
        assert_eq!(
            message_of(&classify(404, r#"{"code":5,"message":"m"}"#)).2,
            Some(5)
        );
    }

    #[test]
    fn the_2_17_v1_refusal_is_typed_and_names_the_namespace() {
        let body = r#"{"code":3,"message":"Failed to create a recurring run: Invalid input error: Namespace team-a is not allowed to run v1 pipelines. Please migrate to using KFP V2 pipelines.","details":[{"@type":"type.googleapis.com/google.rpc.Status","code":3,"message":"Namespace team-a is not allowed to run v1 pipelines. Please migrate to using KFP V2 pipelines."}]}"#;
        match classify(400, body) {
            Error::V1PipelinesBlocked { namespace, .. } => assert_eq!(namespace, "team-a"),
            other => panic!("{other:?}"),
        }
        // Only a 400 is the refusal.
        assert!(matches!(classify(500, body), Error::Api { .. }));
        assert_eq!(v1_blocked_namespace("nothing here"), None);
    }

    #[test]
    fn a_refused_page_token_is_a_400_naming_the_token() {
        let v1 = classify(
            400,
            r#"{"error":"Failed to create list options: Invalid input error: Invalid package token.: illegal base64 data","code":3,"message":"x","details":[{"@type":"type.googleapis.com/api.Error","error_message":"Invalid package token.","error_details":"x"}]}"#,
        );
        let v2 = classify(400, r#"{"code":3,"message":"Invalid page token"}"#);
        assert!(is_refused_page_token(&v1));
        assert!(is_refused_page_token(&v2));
        assert!(!is_refused_page_token(&classify(
            400,
            r#"{"code":3,"message":"bad filter"}"#
        )));
        assert!(!is_refused_page_token(&classify(
            500,
            r#"{"code":13,"message":"Invalid page token"}"#
        )));
    }

    #[test]
    fn a_lost_identity_is_a_401_or_1_8_5_s_unauthenticated_500() {
        let v1 = classify(
            500,
            r#"{"error":"Internal error: Unauthenticated: Request header error: there is no user identity header.","code":13,"message":"Internal error: Unauthenticated: Request header error: there is no user identity header."}"#,
        );
        let v2 = classify(
            401,
            r#"{"code":16,"message":"Failed to check authorization. User identity is empty in the request header"}"#,
        );
        let other = classify(
            500,
            r#"{"code":13,"message":"Internal error: database down"}"#,
        );
        assert!(is_lost_identity(&v1));
        assert!(is_lost_identity(&v2));
        assert!(!is_lost_identity(&other));
    }

    #[test]
    fn html_detection_uses_content_type_or_a_leading_angle_bracket() {
        assert!(looks_like_html("text/html; charset=utf-8", b"{}"));
        assert!(looks_like_html("", b"  \n<!DOCTYPE html>"));
        assert!(!looks_like_html("application/json", b"{\"a\":1}"));
        assert!(!looks_like_html("", b""));
    }

    fn answer(status: u16, content_type: &str, body: &str, renewable: bool) -> Answer {
        classify_answer(
            "GET",
            "/apis/v1beta1/jobs",
            status,
            content_type,
            body.as_bytes().to_vec(),
            renewable,
        )
    }

    #[test]
    fn a_2xx_answer_is_ok_with_json_or_no_body_and_a_login_page_otherwise() {
        assert!(
            matches!(answer(200, "application/json", "{\"jobs\":[]}", false), Answer::Ok(body) if body == b"{\"jobs\":[]}")
        );
        assert!(matches!(answer(200, "", "  \n", false), Answer::Ok(_)));
        let Answer::Unauthenticated(reason) =
            answer(200, "text/html", "<html>sign in</html>", false)
        else {
            panic!("a 200 HTML page is a login page");
        };
        assert_eq!(
            reason,
            "the gateway answered HTTP 200 with an HTML page instead of JSON (a login page)"
        );
        let Answer::Unauthenticated(reason) = answer(200, "text/plain", "hello", false) else {
            panic!("a 200 text answer is not KFP's");
        };
        assert_eq!(
            reason,
            "the gateway answered HTTP 200 with text instead of JSON: hello"
        );
    }

    #[test]
    fn a_403_is_a_login_problem_unless_kfp_said_it_in_json() {
        let Answer::Unauthenticated(reason) =
            answer(403, "text/plain", "RBAC: access denied", false)
        else {
            panic!("Istio's 403 is a login problem");
        };
        assert_eq!(
            reason,
            "the gateway answered HTTP 403 with text instead of JSON: RBAC: access denied"
        );
        let Answer::Unauthenticated(reason) = answer(403, "text/html", "<html/>", false) else {
            panic!("a 403 sign-in page is a login problem");
        };
        assert_eq!(reason, "the gateway answered HTTP 403 with a sign-in page");
        let json = r#"{"error":"denied","code":7,"message":"User x is not allowed"}"#;
        assert!(matches!(
            answer(403, "application/json", json, true),
            Answer::Failed(Error::Api { status: 403, .. })
        ));
    }

    #[test]
    fn a_401_names_what_the_server_said() {
        let json = r#"{"code":16,"message":"token expired"}"#;
        let Answer::Unauthenticated(reason) = answer(401, "application/json", json, false) else {
            panic!("a 401 is a login problem");
        };
        assert_eq!(reason, "the server answered HTTP 401: token expired");
        let Answer::Unauthenticated(reason) = answer(401, "", "", false) else {
            panic!("a 401 is a login problem");
        };
        assert_eq!(reason, "the server answered HTTP 401");
    }

    #[test]
    fn a_lost_identity_is_a_login_problem_only_when_the_identity_can_be_renewed() {
        let json = r#"{"error":"Internal error: Unauthenticated: Request header error: there is no user identity header.","code":13,"message":"Internal error: Unauthenticated: Request header error: there is no user identity header."}"#;
        assert!(
            matches!(answer(500, "application/json", json, true), Answer::Unauthenticated(reason) if reason.starts_with("the server saw no user identity: "))
        );
        assert!(matches!(
            answer(500, "application/json", json, false),
            Answer::Failed(Error::Api { status: 500, .. })
        ));
        let other = r#"{"code":13,"message":"Internal error: database down"}"#;
        assert!(matches!(
            answer(500, "application/json", other, true),
            Answer::Failed(Error::Api { status: 500, .. })
        ));
    }

    #[test]
    fn a_redirect_is_a_login_page_shown_without_its_query() {
        assert_eq!(redirect_reason(200, None), None);
        assert_eq!(redirect_reason(404, Some("https://x/")), None);
        assert_eq!(
            redirect_reason(302, Some("https://dex.example/auth?state=s3cret")).as_deref(),
            Some(
                "the gateway answered HTTP 302 with a redirect to https://dex.example/auth (a login page)"
            )
        );
        assert_eq!(
            redirect_reason(307, None).as_deref(),
            Some("the gateway answered HTTP 307 with a redirect to nowhere (a login page)")
        );
    }
}
