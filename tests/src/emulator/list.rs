//! List calls as `list/list.go` and `filter/filter.go` of KFP 1.8.5 implement them: page size (default 20,
//! max 200, negative rejected), opaque page tokens that carry sort and filter (the next page starts at the
//! token's row, inclusive), `sort_by` (`field [asc|desc]`, default `created_at` ascending, the id as tie
//! breaker) and the `api.Filter` JSON after the server's second Go-style `QueryUnescape`.
//!
//! Strings compare case-insensitively, as MySQL's default `_ci` collations make them do on a real server.

use std::cmp::Ordering;

use base64::Engine as _;
use serde_json::{Value, json};

use super::wire::{self, ApiError};

/// A sortable/filterable column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// A text column.
    Str(String),
    /// An integer column (times are unix seconds).
    Int(i64),
}

impl Column {
    fn to_json(&self) -> Value {
        match self {
            Column::Str(s) => json!(s),
            Column::Int(i) => json!(i),
        }
    }

    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Column::Str(s.clone())),
            Value::Number(n) => n.as_i64().map(Column::Int),
            _ => None,
        }
    }
}

fn compare(a: &Column, b: &Column) -> Ordering {
    match (a, b) {
        (Column::Int(x), Column::Int(y)) => x.cmp(y),
        (Column::Str(x), Column::Str(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Column::Int(x), Column::Str(y)) => x.to_string().cmp(y),
        (Column::Str(x), Column::Int(y)) => x.as_str().cmp(y.to_string().as_str()),
    }
}

/// A resource that can be listed.
pub trait Listable {
    /// The model name used in errors and tokens (`Job`, `Experiment`, ...).
    const MODEL: &'static str;
    /// The API keys accepted by `sort_by` and `filter`.
    const KEYS: &'static [&'static str];
    /// The value of an API key; `None` when the key is not one of [`Self::KEYS`].
    fn column(&self, key: &str) -> Option<Column>;
    /// The primary key (UUID).
    fn key(&self) -> &str;
}

/// The raw list parameters of a request.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// `page_token`.
    pub page_token: String,
    /// `page_size`.
    pub page_size: i64,
    /// `sort_by`.
    pub sort_by: String,
    /// `filter` (already URL-decoded once by the gateway).
    pub filter: String,
}

/// Validated list options.
#[derive(Debug, Clone)]
pub struct ListOptions {
    page_size: usize,
    sort_key: String,
    desc: bool,
    filter: Option<Value>,
    start: Option<(Column, String)>,
}

fn invalid_size(size: i64) -> ApiError {
    ApiError::invalid(format!(
        "The page size should be greater than 0. Got \"{size}\""
    ))
}

fn page_size(size: i64) -> Result<usize, ApiError> {
    match size {
        s if s < 0 => Err(invalid_size(s)),
        0 => Ok(20),
        s => Ok(s.min(200) as usize),
    }
}

/// `validatedListOptions`: from scratch, or from a token (then `sort_by`/`filter`, if given, must match it).
pub fn options<T: Listable>(params: &ListParams) -> Result<ListOptions, ApiError> {
    let fresh = || -> Result<ListOptions, ApiError> {
        let filter = parse_filter::<T>(&params.filter)?;
        let (sort_key, desc) = parse_sort::<T>(&params.sort_by)?;
        Ok(ListOptions {
            page_size: page_size(params.page_size)?,
            sort_key,
            desc,
            filter,
            start: None,
        })
    };
    if params.page_token.is_empty() {
        return fresh();
    }
    let from_token = decode_token::<T>(&params.page_token, params.page_size)?;
    if !params.sort_by.is_empty() || !params.filter.is_empty() {
        let supplied = fresh()?;
        if supplied.sort_key != from_token.sort_key
            || supplied.desc != from_token.desc
            || supplied.filter != from_token.filter
        {
            return Err(ApiError::invalid(
                "page token does not match the supplied sort by and/or filtering criteria. Either specify the same criteria or leave the latter empty if page token is specified.",
            ));
        }
    }
    Ok(from_token)
}

fn parse_sort<T: Listable>(sort_by: &str) -> Result<(String, bool), ApiError> {
    let lowered = sort_by.to_lowercase();
    let words: Vec<&str> = lowered.split_whitespace().collect();
    if words.len() > 2 || (words.len() == 2 && words[1] != "asc" && words[1] != "desc") {
        return Err(ApiError::invalid(format!(
            "Received invalid sort by format \"{sort_by}\". Supported format: \"field_name\", \"field_name desc\", or \"field_name asc\""
        )));
    }
    let desc = words.len() == 2 && words[1] == "desc";
    let key = match words.first() {
        None => "created_at".to_owned(),
        Some(word) if T::KEYS.contains(word) => (*word).to_owned(),
        Some(word) if T::MODEL == "Run" && word.starts_with("metric:") => (*word).to_owned(),
        Some(word) => {
            return Err(ApiError::invalid(format!(
                "Invalid sorting field: \"{word}\" on listable type {}",
                T::MODEL
            )));
        }
    };
    Ok((key, desc))
}

fn decode_token<T: Listable>(token: &str, size: i64) -> Result<ListOptions, ApiError> {
    let bad = |detail: &str| ApiError::invalid_with_details("Invalid package token.", detail);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|err| bad(&format!("illegal base64 data: {err}")))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|err| bad(&err.to_string()))?;
    let model = value.get("Model").and_then(Value::as_str).unwrap_or("");
    if model != T::MODEL {
        return Err(bad("the token belongs to another resource type"));
    }
    let sort_key = value
        .get("SortByFieldName")
        .and_then(Value::as_str)
        .unwrap_or("created_at")
        .to_owned();
    let sort_value = value
        .get("SortByFieldValue")
        .and_then(Column::from_json)
        .ok_or_else(|| bad("no sort value"))?;
    let key_value = value
        .get("KeyFieldValue")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no key value"))?;
    let filter = value.get("Filter").filter(|f| !f.is_null()).cloned();
    Ok(ListOptions {
        page_size: page_size(size)?,
        sort_key,
        desc: value
            .get("IsDesc")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        filter,
        start: Some((sort_value, key_value.to_owned())),
    })
}

fn encode_token<T: Listable>(options: &ListOptions, next: &T) -> String {
    let value = json!({
        "SortByFieldName": options.sort_key,
        "SortByFieldValue": sort_column(next, &options.sort_key).to_json(),
        "KeyFieldName": "UUID",
        "KeyFieldValue": next.key(),
        "IsDesc": options.desc,
        "Model": T::MODEL,
        "Filter": options.filter.clone().unwrap_or(Value::Null),
    });
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

fn sort_column<T: Listable>(item: &T, key: &str) -> Column {
    item.column(key).unwrap_or(Column::Int(0))
}

/// One page of `items` (already restricted to the request's scope): the page, the total count of matches and
/// the next page token ("" on the last page).
pub fn page<'a, T: Listable + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    options: &ListOptions,
) -> (Vec<&'a T>, usize, String) {
    let mut matching: Vec<&T> = items
        .into_iter()
        .filter(|item| {
            options
                .filter
                .as_ref()
                .is_none_or(|f| filter_matches(f, *item))
        })
        .collect();
    let total = matching.len();
    let order = |a: &&T, b: &&T| {
        let primary = compare(
            &sort_column(*a, &options.sort_key),
            &sort_column(*b, &options.sort_key),
        )
        .then_with(|| a.key().cmp(b.key()));
        if options.desc {
            primary.reverse()
        } else {
            primary
        }
    };
    matching.sort_by(order);
    if let Some((value, key)) = &options.start {
        matching.retain(|item| {
            let position = compare(&sort_column(*item, &options.sort_key), value)
                .then_with(|| item.key().cmp(key.as_str()));
            if options.desc {
                position != Ordering::Greater
            } else {
                position != Ordering::Less
            }
        });
    }
    let next = if matching.len() > options.page_size {
        let token = encode_token(options, matching[options.page_size]);
        matching.truncate(options.page_size);
        token
    } else {
        String::new()
    };
    (matching, total, next)
}

// ----- filter -----

const OPS: &[(&str, i32)] = &[
    ("UNKNOWN", 0),
    ("EQUALS", 1),
    ("NOT_EQUALS", 2),
    ("GREATER_THAN", 3),
    ("GREATER_THAN_EQUALS", 5),
    ("LESS_THAN", 6),
    ("LESS_THAN_EQUALS", 7),
    ("IN", 8),
    ("IS_SUBSTRING", 9),
];

const VALUE_KINDS: &[&str] = &[
    "int_value",
    "long_value",
    "string_value",
    "timestamp_value",
    "int_values",
    "long_values",
    "string_values",
];

/// `parseAPIFilter`: a second `QueryUnescape`, then strict `api.Filter` JSON, then `filter.New` checks. The
/// result is a canonical JSON form `{"predicates":[{"op":N,"key":K,"kind":V}]}` (kept in page tokens).
pub fn parse_filter<T: Listable>(raw: &str) -> Result<Option<Value>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let fail = |detail: String| {
        ApiError::invalid(format!(
            "failed to parse valid filter from \"{raw}\": {detail}"
        ))
    };
    let decoded = wire::query_unescape(raw).map_err(fail)?;
    let value: Value = serde_json::from_str(&decoded).map_err(|err| fail(err.to_string()))?;
    let Value::Object(top) = &value else {
        return Err(fail(
            "json: cannot unmarshal non-object into Go value of type api.Filter".to_owned(),
        ));
    };
    let mut predicates = Vec::new();
    for (name, item) in top {
        if name != "predicates" {
            return Err(fail(format!("unknown field \"{name}\" in api.Filter")));
        }
        if item.is_null() {
            continue;
        }
        let Value::Array(items) = item else {
            return Err(fail("predicates: expected an array".to_owned()));
        };
        for item in items {
            predicates.push(parse_predicate::<T>(item, &fail)?);
        }
    }
    Ok(Some(json!({ "predicates": predicates })))
}

fn parse_predicate<T: Listable>(
    item: &Value,
    fail: &dyn Fn(String) -> ApiError,
) -> Result<Value, ApiError> {
    let Value::Object(map) = item else {
        return Err(fail(
            "json: cannot unmarshal non-object into Go value of type api.Predicate".to_owned(),
        ));
    };
    let mut op = 0;
    let mut key = String::new();
    let mut kind: Option<(&str, Value)> = None;
    for (name, raw) in map {
        if raw.is_null() {
            continue;
        }
        let snake = VALUE_KINDS
            .iter()
            .find(|k| **k == name || wire::camel(k) == *name)
            .copied();
        match (name.as_str(), snake) {
            ("op", _) => {
                op = wire::enum_value(raw, "api.Predicate_Op", OPS).map_err(|e| fail(e.message))?;
            }
            ("key", _) => {
                key = raw
                    .as_str()
                    .ok_or_else(|| fail("key: expected a string".to_owned()))?
                    .to_owned();
            }
            (_, Some(kind_name)) => {
                if kind.is_some() {
                    return Err(fail(format!(
                        "field \"{name}\" would overwrite already parsed oneof \"value\""
                    )));
                }
                kind = Some((kind_name, parse_value(kind_name, raw).map_err(fail)?));
            }
            _ => return Err(fail(format!("unknown field \"{name}\" in api.Predicate"))),
        }
    }
    let type_name = |k: &str| match k {
        "int_value" => "*api.Predicate_IntValue",
        "long_value" => "*api.Predicate_LongValue",
        "string_value" => "*api.Predicate_StringValue",
        "timestamp_value" => "*api.Predicate_TimestampValue",
        "int_values" => "*api.Predicate_IntValues",
        "long_values" => "*api.Predicate_LongValues",
        _ => "*api.Predicate_StringValues",
    };
    let kind_name = kind.as_ref().map(|(k, _)| *k);
    let op_name = OPS
        .iter()
        .find(|(_, v)| *v == op)
        .map_or_else(|| op.to_string(), |(n, _)| (*n).to_owned());
    match op {
        8 => {
            if let Some(k) = kind_name.filter(|k| !k.ends_with('s')) {
                return Err(ApiError::invalid(format!(
                    "cannot use IN operator with scalar type {}",
                    type_name(k)
                )));
            }
        }
        1..=3 | 5..=7 => {
            if let Some(k) = kind_name.filter(|k| k.ends_with('s')) {
                return Err(ApiError::invalid(format!(
                    "cannot use scalar operator {op_name} on array type {}",
                    type_name(k)
                )));
            }
        }
        9 => {
            if kind_name != Some("string_value") {
                return Err(ApiError::invalid(format!(
                    "cannot use non string value type {} with operator {op_name}",
                    kind_name.map_or("<nil>", type_name)
                )));
            }
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "invalid predicate operation: {op_name}"
            )));
        }
    }
    let Some((kind_name, value)) = kind else {
        return Err(ApiError::invalid(format!(
            "no value set for predicate on key \"{key}\""
        )));
    };
    if !T::KEYS.contains(&key.as_str()) {
        return Err(ApiError::invalid(format!(
            "no support for filtering on unrecognized field \"{key}\""
        )));
    }
    Ok(json!({"op": op, "key": key, kind_name: value}))
}

fn parse_value(kind: &str, raw: &Value) -> Result<Value, String> {
    let int = |v: &Value| {
        wire::int64_value(v).ok_or_else(|| format!("{kind}: expected an integer, got {v}"))
    };
    let list = |v: &Value| -> Result<Vec<Value>, String> {
        let values = v
            .as_object()
            .and_then(|o| o.get("values"))
            .unwrap_or(&Value::Null);
        match values {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => Ok(items.clone()),
            other => Err(format!("{kind}.values: expected an array, got {other}")),
        }
    };
    match kind {
        "int_value" | "long_value" => Ok(json!(int(raw)?)),
        "string_value" => raw
            .as_str()
            .map(|s| json!(s))
            .ok_or_else(|| format!("{kind}: expected a string")),
        "timestamp_value" => raw
            .as_str()
            .and_then(wire::parse_timestamp)
            .map(|s| json!(s))
            .ok_or_else(|| format!("bad Timestamp: {raw}")),
        "int_values" | "long_values" => Ok(Value::Array(
            list(raw)?
                .iter()
                .map(int)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|i| json!(i))
                .collect(),
        )),
        _ => list(raw)?
            .into_iter()
            .map(|v| {
                if v.is_string() {
                    Ok(v)
                } else {
                    Err(format!("{kind}: expected strings"))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
    }
}

fn filter_matches<T: Listable>(filter: &Value, item: &T) -> bool {
    let predicates = filter
        .get("predicates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    predicates.iter().all(|p| predicate_matches(p, item))
}

fn predicate_matches<T: Listable>(predicate: &Value, item: &T) -> bool {
    let op = predicate.get("op").and_then(Value::as_i64).unwrap_or(0);
    let key = predicate.get("key").and_then(Value::as_str).unwrap_or("");
    let Some(column) = item.column(key) else {
        return false;
    };
    let Some((_, value)) = predicate.as_object().and_then(|m| {
        m.iter()
            .find(|(k, _)| k.as_str() != "op" && k.as_str() != "key")
    }) else {
        return false;
    };
    match op {
        8 => value.as_array().is_some_and(|values| {
            values
                .iter()
                .filter_map(Column::from_json)
                .any(|v| compare(&column, &v) == Ordering::Equal)
        }),
        9 => {
            let needle = value.as_str().unwrap_or("").to_lowercase();
            let haystack = match &column {
                Column::Str(s) => s.to_lowercase(),
                Column::Int(i) => i.to_string(),
            };
            like_substring(&haystack, &needle)
        }
        _ => {
            let Some(operand) = Column::from_json(value) else {
                return false;
            };
            let order = compare(&column, &operand);
            match op {
                1 => order == Ordering::Equal,
                2 => order != Ordering::Equal,
                3 => order == Ordering::Greater,
                5 => order != Ordering::Less,
                6 => order == Ordering::Less,
                7 => order != Ordering::Greater,
                _ => false,
            }
        }
    }
}

/// SQL `LIKE '%needle%'` with `%` and `_` left unescaped, as KFP builds it.
fn like_substring(haystack: &str, needle: &str) -> bool {
    let pattern: Vec<char> = format!("%{needle}%").chars().collect();
    let text: Vec<char> = haystack.chars().collect();
    like(&text, &pattern)
}

fn like(text: &[char], pattern: &[char]) -> bool {
    // Iterative wildcard match: `%` any run, `_` one character.
    let (mut t, mut p) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '%' {
        p += 1;
    }
    p == pattern.len()
}
