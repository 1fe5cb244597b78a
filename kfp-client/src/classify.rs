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
}
