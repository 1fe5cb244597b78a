//! Reading request JSON the way grpc-gateway v1.16 + jsonpb do, writing responses the way `JSONPb{OrigName}`
//! does, and the error bodies of the KFP API server (CONTRACT §1, §6).

use serde_json::{Map, Value, json};

use super::profile::Profile;

/// A gRPC status turned into an HTTP error by the gateway, or one of the hand-written handlers' errors.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// gRPC code (3 InvalidArgument, 5 NotFound, ...).
    pub code: i32,
    /// The internal error chain: the gRPC status message.
    pub message: String,
    /// The external message of `api.Error`; `None` for gateway-level errors, which carry no details.
    pub external: Option<String>,
}

impl ApiError {
    /// `util.NewInvalidInputError`: code 3, chain `Invalid input error: <text>`.
    pub fn invalid(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            code: 3,
            message: format!("Invalid input error: {text}"),
            external: Some(text),
        }
    }

    /// `util.NewInvalidInputErrorWithDetails(err, text)`: the cause only in the internal chain.
    pub fn invalid_with_details(text: impl Into<String>, cause: &str) -> Self {
        let text = text.into();
        Self {
            code: 3,
            message: format!("Invalid input error: {text}: {cause}"),
            external: Some(text),
        }
    }

    /// `util.NewResourceNotFoundError(kind, id)`: code 5, `<kind> <id> not found.`
    pub fn not_found(kind: &str, id: &str) -> Self {
        let text = format!("{kind} {id} not found.");
        Self {
            code: 5,
            message: format!("ResourceNotFoundError: {text}"),
            external: Some(text),
        }
    }

    /// `util.NewAlreadyExistError`: code 6.
    pub fn already_exists(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            code: 6,
            message: format!("Already exist error: {text}"),
            external: Some(text),
        }
    }

    /// `util.NewBadRequestError(err, text)`: code 10 (Aborted, HTTP 409).
    pub fn bad_request(cause: &str, text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            code: 10,
            message: format!("BadRequestError: {text}: {cause}"),
            external: Some(text),
        }
    }

    /// `util.NewInternalServerError(err, text)`: code 13, external message `Internal error`.
    pub fn internal(cause: &str, text: &str) -> Self {
        Self {
            code: 13,
            message: format!("InternalServerError: {text}: {cause}"),
            external: Some("Internal error".to_owned()),
        }
    }

    /// An error that is not a `util.UserError`: the interceptor turns it into `codes.Internal`,
    /// `Internal error: <err>`, without details.
    pub fn non_user(text: &str) -> Self {
        Self {
            code: 13,
            message: format!("Internal error: {text}"),
            external: None,
        }
    }

    /// A gateway-level error (bad JSON, bad query value): code 3, no details.
    pub fn gateway(text: impl Into<String>) -> Self {
        Self {
            code: 3,
            message: text.into(),
            external: None,
        }
    }

    /// `util.Wrap(err, prefix)`: prepends to the internal chain, keeps the external message.
    #[must_use]
    pub fn wrap(mut self, prefix: &str) -> Self {
        // Errors that are not `util.UserError`s (the identity aggregate) reach the client as the interceptor
        // printed them, `Internal error: <cause>`.
        if self.external.is_none() && self.code == 13 {
            return self;
        }
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// The HTTP status grpc-gateway v1.16 `HTTPStatusFromCode` maps the code to.
    pub fn http_status(&self) -> u16 {
        http_status_of_code(self.code)
    }

    /// The error body as `profile`'s gateway writes it (KFP2-V1BETA1.md §1 "Error body"):
    /// * 1.8.5: `{error, code, message, details: [api.Error{error_message, error_details}]}`;
    /// * 2.0–2.5 (gateway v1.16, `util.UserError.GRPCStatus` with a `google.rpc.Status` detail):
    ///   `{error, code, message, details: [{"@type": ".../google.rpc.Status", code, message: <external>}]}`,
    ///   where an internal error's external message is literally `Internal Server Error`;
    /// * 2.14+ (gateway v2, protojson): the same without the `error` key.
    ///
    /// 2.x also drops the period of `<kind> <id> not found.` (§1 "NotFound text").
    pub fn body_for(&self, profile: Profile) -> Value {
        if !profile.is_v2() {
            return self.body();
        }
        let unperiod = |text: &str| {
            if self.code == 5 {
                text.replace(" not found.", " not found")
            } else {
                text.to_owned()
            }
        };
        let message = unperiod(&self.message);
        let mut body = if profile.gateway_v2() {
            json!({"code": self.code, "message": message})
        } else {
            json!({"error": message, "code": self.code, "message": message})
        };
        if let Some(external) = &self.external {
            let external = if self.code == 13 {
                "Internal Server Error".to_owned()
            } else {
                unperiod(external)
            };
            body["details"] = json!([{
                "@type": "type.googleapis.com/google.rpc.Status",
                "code": self.code,
                "message": external,
            }]);
        }
        body
    }

    /// The HTTP status for `profile`: gateway v2 maps Canceled to 499 (§1 "gRPC→HTTP map").
    pub fn http_status_for(&self, profile: Profile) -> u16 {
        if self.code == 1 && profile.gateway_v2() {
            return 499;
        }
        self.http_status()
    }

    /// The `DefaultHTTPError` body.
    pub fn body(&self) -> Value {
        let mut body = json!({"error": self.message, "code": self.code, "message": self.message});
        if let Some(external) = &self.external {
            body["details"] = json!([{
                "@type": "type.googleapis.com/api.Error",
                "error_message": external,
                "error_details": self.message,
            }]);
        }
        body
    }
}

/// protojson's "unstable" output, which grpc-gateway v2 (KFP 2.14+) writes: a space after some separators
/// (KFP2-V1BETA1.md §1 row 1). The emulator puts one after every `,` and `:` between tokens (never inside a
/// string), so a client that compares response bytes instead of parsing them fails against it.
pub fn protojson_spacing(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() + compact.len() / 8);
    let mut in_string = false;
    let mut escaped = false;
    for c in compact.chars() {
        out.push(c);
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' || c == ':' {
            out.push(' ');
        }
    }
    out
}

/// grpc-gateway v1.16 `HTTPStatusFromCode`.
pub fn http_status_of_code(code: i32) -> u16 {
    match code {
        0 => 200,
        1 => 408,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// The gRPC code an HTTP status most naturally maps back to (for injected faults).
pub fn code_of_http_status(status: u16) -> i32 {
    match status {
        400 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        408 => 1,
        409 => 6,
        429 => 8,
        501 => 12,
        503 => 14,
        504 => 4,
        _ => 2,
    }
}

/// `snake_case` → `lowerCamelCase`, the JSON name protoc derives.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field of a request object by its proto name or its JSON name; `null` counts as absent.
pub fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(name)
        .filter(|v| !v.is_null())
        .or_else(|| map.get(&camel(name)).filter(|v| !v.is_null()))
}

fn type_error(name: &str, expected: &str, got: &Value) -> ApiError {
    let kind = match got {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    ApiError::gateway(format!(
        "json: cannot unmarshal {kind} into Go value of type {expected} (field \"{name}\")"
    ))
}

/// A string field ("" when absent).
pub fn string(object: &Value, name: &str) -> Result<String, ApiError> {
    match field(object, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_error(name, "string", other)),
    }
}

/// A bool field (false when absent).
pub fn boolean(object: &Value, name: &str) -> Result<bool, ApiError> {
    match field(object, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(type_error(name, "bool", other)),
    }
}

/// An int64 field given as a JSON number or a decimal string (0 when absent).
pub fn int64(object: &Value, name: &str) -> Result<i64, ApiError> {
    match field(object, name) {
        None => Ok(0),
        Some(value) => int64_value(value).ok_or_else(|| type_error(name, "int64", value)),
    }
}

/// An int64 from a JSON number (integral) or a string.
pub fn int64_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An enum field given by name or number; `names[i]` is `(name, number)`. Absent → 0.
pub fn enumeration(
    object: &Value,
    name: &str,
    type_name: &str,
    names: &[(&str, i32)],
) -> Result<i32, ApiError> {
    match field(object, name) {
        None => Ok(0),
        Some(value) => enum_value(value, type_name, names),
    }
}

/// An enum value given by name or number.
pub fn enum_value(value: &Value, type_name: &str, names: &[(&str, i32)]) -> Result<i32, ApiError> {
    match value {
        Value::String(s) => names
            .iter()
            .find(|(n, _)| n == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                ApiError::gateway(format!("unknown value \"{s}\" for enum {type_name}"))
            }),
        Value::Number(n) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| ApiError::gateway(format!("invalid value {n} for enum {type_name}"))),
        other => Err(type_error(type_name, type_name, other)),
    }
}

/// A Timestamp field (RFC 3339 with any offset), truncated to whole seconds.
pub fn timestamp(object: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::String(s)) => parse_timestamp(s).map(Some).ok_or_else(|| {
            ApiError::gateway(format!(
                "bad Timestamp: parsing time \"{s}\" as RFC 3339 failed"
            ))
        }),
        Some(other) => Err(type_error(name, "timestamp", other)),
    }
}

/// Parses an RFC 3339 time (`time.RFC3339Nano`) to unix seconds, rounding towards the past like Go's `Unix()`.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    // RFC 3339 requires the `T` and an explicit offset; jiff is more lenient, so check the shape first.
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !(bytes[10] == b'T' || bytes[10] == b't') {
        return None;
    }
    let last = *bytes.last()?;
    if !(last == b'Z' || last == b'z' || text[19..].contains(['+', '-'])) {
        return None;
    }
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_second)
}

/// A unix time as jsonpb prints it: UTC, `Z`, no fraction (KFP stores whole seconds).
pub fn format_timestamp(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_owned(),
    }
}

/// An array field (empty when absent).
pub fn array<'a>(object: &'a Value, name: &str) -> Result<&'a [Value], ApiError> {
    match field(object, name) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(type_error(name, "[]", other)),
    }
}

/// An object field, if present.
pub fn object<'a>(value: &'a Value, name: &str) -> Result<Option<&'a Value>, ApiError> {
    match field(value, name) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(other) => Err(type_error(name, "object", other)),
    }
}

/// Builds a JSON object omitting proto3 default values, like jsonpb without `EmitDefaults`.
#[derive(Debug, Default)]
pub struct Out(Map<String, Value>);

impl Out {
    /// An empty object.
    pub fn new() -> Self {
        Self(Map::new())
    }

    /// A string, omitted when empty.
    pub fn str(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.0
                .insert(key.to_owned(), Value::String(value.to_owned()));
        }
        self
    }

    /// An int64, emitted as a string, omitted when 0.
    pub fn i64(mut self, key: &str, value: i64) -> Self {
        if value != 0 {
            self.0
                .insert(key.to_owned(), Value::String(value.to_string()));
        }
        self
    }

    /// An int32, emitted as a number, omitted when 0.
    pub fn i32(mut self, key: &str, value: i64) -> Self {
        if value != 0 {
            self.0.insert(key.to_owned(), Value::from(value));
        }
        self
    }

    /// A bool, omitted when false.
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        if value {
            self.0.insert(key.to_owned(), Value::Bool(true));
        }
        self
    }

    /// A timestamp, when set.
    pub fn time(mut self, key: &str, value: Option<i64>) -> Self {
        if let Some(seconds) = value {
            self.0
                .insert(key.to_owned(), Value::String(format_timestamp(seconds)));
        }
        self
    }

    /// A repeated field, omitted when empty.
    pub fn list(mut self, key: &str, items: Vec<Value>) -> Self {
        if !items.is_empty() {
            self.0.insert(key.to_owned(), Value::Array(items));
        }
        self
    }

    /// A message field that is set (emitted even when empty).
    pub fn msg(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.to_owned(), value);
        self
    }

    /// The finished object.
    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// Go `url.QueryUnescape`: `+` → space, `%XX` → byte; a bad escape is an error.
pub fn query_unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                        out.push(b);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(bytes.len());
                        return Err(format!(
                            "invalid URL escape \"{}\"",
                            String::from_utf8_lossy(&bytes[i..end])
                        ));
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go `url.PathUnescape`-like decoding of a path (`+` stays `+`); bad escapes are kept verbatim.
pub fn path_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go `url.ParseQuery`: `&`-separated `key=value` pairs, each unescaped once. Keys keep their first value.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = query_unescape(key).map_err(ApiError::gateway)?;
        let value = query_unescape(value).map_err(ApiError::gateway)?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// Percent-encodes a query value (for Location headers we build).
pub fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_names_follow_protoc() {
        assert_eq!(camel("max_concurrency"), "maxConcurrency");
        assert_eq!(camel("interval_second"), "intervalSecond");
        assert_eq!(camel("id"), "id");
    }

    #[test]
    fn go_query_unescape_turns_plus_into_space_and_rejects_bad_escapes() {
        assert_eq!(query_unescape("a%2Bb+%20%26c").unwrap(), "a+b  &c");
        assert!(
            query_unescape("100%")
                .unwrap_err()
                .contains("invalid URL escape")
        );
        assert!(query_unescape("%zz").is_err());
    }

    #[test]
    fn timestamps_accept_offsets_and_print_utc_seconds() {
        let secs = parse_timestamp("2024-01-02T04:04:05.999+01:00").unwrap();
        assert_eq!(format_timestamp(secs), "2024-01-02T03:04:05Z");
        assert_eq!(parse_timestamp("2024-01-02"), None);
        assert_eq!(parse_timestamp("2024-01-02T03:04:05"), None);
    }

    #[test]
    fn protojson_spacing_never_touches_strings() {
        let compact = json!({"a": "x, y: \"z,\"", "b": [1, 2]}).to_string();
        let spaced = protojson_spacing(&compact);
        assert_eq!(spaced, r#"{"a": "x, y: \"z,\"", "b": [1, 2]}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&spaced).unwrap(),
            serde_json::from_str::<Value>(&compact).unwrap()
        );
    }

    #[test]
    fn kfp2_error_bodies_carry_a_status_detail_and_2_14_drops_the_error_key() {
        let err = ApiError::not_found("Job", "j1").wrap("Failed to get a job.");
        assert_eq!(
            err.body_for(Profile::V2_5),
            json!({"error": "Failed to get a job.: ResourceNotFoundError: Job j1 not found", "code": 5,
                   "message": "Failed to get a job.: ResourceNotFoundError: Job j1 not found",
                   "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 5,
                                "message": "Job j1 not found"}]})
        );
        let internal = ApiError::internal("boom", "Failed to create a recurring run");
        assert_eq!(
            internal.body_for(Profile::V2_14),
            json!({"code": 13, "message": "InternalServerError: Failed to create a recurring run: boom",
                   "details": [{"@type": "type.googleapis.com/google.rpc.Status", "code": 13,
                                "message": "Internal Server Error"}]})
        );
        assert_eq!(internal.body_for(Profile::V1_8_5), internal.body());
    }

    #[test]
    fn error_bodies_carry_the_chain_and_the_external_message() {
        let err = ApiError::invalid("boom").wrap("Validate create job request failed.");
        assert_eq!(err.http_status(), 400);
        assert_eq!(
            err.body(),
            json!({"error": "Validate create job request failed.: Invalid input error: boom", "code": 3,
                   "message": "Validate create job request failed.: Invalid input error: boom",
                   "details": [{"@type": "type.googleapis.com/api.Error", "error_message": "boom",
                                "error_details": "Validate create job request failed.: Invalid input error: boom"}]})
        );
    }
}
