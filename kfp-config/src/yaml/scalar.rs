//! Scalar resolution as PyYAML's `safe_load` does it (YAML 1.1): null, booleans, integers (octal, binary,
//! hex, sexagesimal, underscores) and floats.

use super::*;

pub(super) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    line: usize,
    column: usize,
) -> Result<NodeValue, YamlError> {
    let core_tag = tag.and_then(Tag::core_suffix);
    if let Some(suffix) = core_tag {
        let invalid = || YamlError::at(format!("`{text}` is not a valid !!{suffix}"), line, column);
        return match suffix {
            "str" => Ok(NodeValue::String(text.to_owned())),
            "null" => Ok(NodeValue::Null),
            "bool" => resolve_bool(text).map(NodeValue::Bool).ok_or_else(invalid),
            "int" => resolve_int(text).ok_or_else(invalid),
            "float" => match resolve_float(text).or_else(|| resolve_int(text).map(to_float)) {
                Some(value) => finite(value, text, line, column),
                None => Err(invalid()),
            },
            _ => Ok(NodeValue::String(text.to_owned())),
        };
    }
    if style != ScalarStyle::Plain || tag.is_some() {
        return Ok(NodeValue::String(text.to_owned()));
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(NodeValue::Null);
    }
    if let Some(value) = resolve_bool(text) {
        return Ok(NodeValue::Bool(value));
    }
    if let Some(value) = resolve_int(text) {
        return Ok(value);
    }
    if let Some(value) = resolve_float(text) {
        return finite(value, text, line, column);
    }
    Ok(NodeValue::String(text.to_owned()))
}

pub(super) fn to_float(value: NodeValue) -> NodeValue {
    match value {
        NodeValue::Number(number) => number
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(NodeValue::Number(number), NodeValue::Number),
        other => other,
    }
}

pub(super) fn finite(
    value: NodeValue,
    text: &str,
    line: usize,
    column: usize,
) -> Result<NodeValue, YamlError> {
    match value {
        NodeValue::Null => Err(YamlError::at(
            format!(
                "`{text}` is not a finite number, which JSON cannot represent; quote it to keep it as a string"
            ),
            line,
            column,
        )),
        other => Ok(other),
    }
}

pub(super) fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

pub(super) fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// PyYAML's int resolver: `0b…`, `0…` octal, decimal, `0x…`, and base-60 `1:30`; underscores allowed.
pub(super) fn resolve_int(text: &str) -> Option<NodeValue> {
    let (negative, body) = split_sign(text);
    let all = |s: &str, f: fn(u8) -> bool| !s.is_empty() && s.bytes().all(|b| b == b'_' || f(b));
    let (radix, digits_text) = if let Some(rest) = body.strip_prefix("0b") {
        if !all(rest, |b| b == b'0' || b == b'1') {
            return None;
        }
        (2, rest)
    } else if let Some(rest) = body.strip_prefix("0x") {
        if !all(rest, |b| b.is_ascii_hexdigit()) {
            return None;
        }
        (16, rest)
    } else if body == "0" {
        (10, body)
    } else if let Some(rest) = body.strip_prefix('0') {
        if !all(rest, |b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        (8, rest)
    } else if body.starts_with(|c: char| ('1'..='9').contains(&c))
        && all(body, |b| b.is_ascii_digit())
    {
        (10, body)
    } else if body.starts_with(|c: char| ('1'..='9').contains(&c)) && body.contains(':') {
        let mut parts = body.split(':');
        let first = parts.next()?;
        if !all(first, |b| b.is_ascii_digit()) {
            return None;
        }
        let mut total: i128 = first.replace('_', "").parse().ok()?;
        for part in parts {
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i128 = part.parse().ok()?;
            if value > 59 || (part.len() == 2 && part.as_bytes()[0] > b'5') {
                return None;
            }
            total = total.checked_mul(60)?.checked_add(value)?;
        }
        return Some(int_value(if negative { -total } else { total }));
    } else {
        return None;
    };
    let digits = digits_text.replace('_', "");
    if digits.is_empty() {
        return Some(int_value(0));
    }
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    Some(int_value(if negative { -magnitude } else { magnitude }))
}

pub(super) fn int_value(value: i128) -> NodeValue {
    if let Ok(value) = i64::try_from(value) {
        NodeValue::Number(value.into())
    } else if let Ok(value) = u64::try_from(value) {
        NodeValue::Number(value.into())
    } else {
        // Beyond 64 bits JSON numbers lose precision anyway; keep the magnitude.
        #[allow(clippy::cast_precision_loss)]
        Number::from_f64(value as f64).map_or(NodeValue::Null, NodeValue::Number)
    }
}

/// PyYAML's float resolver; `Null` stands for a non-finite value (`.inf`, `.nan`).
pub(super) fn resolve_float(text: &str) -> Option<NodeValue> {
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some(NodeValue::Null);
    }
    let (negative, body) = split_sign(text);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(NodeValue::Null);
    }
    let is_digits = |s: &str| s.bytes().all(|b| b == b'_' || b.is_ascii_digit());
    let value: f64 = if let Some(dot) = body.find('.') {
        let (whole, rest) = (&body[..dot], &body[dot + 1..]);
        if whole.contains(':') {
            // Base 60: `190:20:30.15`.
            if !whole.starts_with(|c: char| c.is_ascii_digit()) || !is_digits(rest) {
                return None;
            }
            let mut parts = whole.split(':');
            let first = parts.next()?;
            if first.is_empty() || !is_digits(first) {
                return None;
            }
            let mut total: f64 = first.replace('_', "").parse().ok()?;
            for part in parts {
                if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let value: f64 = part.parse().ok()?;
                if value > 59.0 {
                    return None;
                }
                total = total * 60.0 + value;
            }
            let fraction: f64 = format!("0.{}", rest.replace('_', "")).parse().ok()?;
            total + fraction
        } else {
            if whole.is_empty() {
                // `.5` is a float, `+.5` is not (PyYAML's regex has no sign on that branch).
                if body.len() != text.len() || !rest.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
            } else if !whole.starts_with(|c: char| c.is_ascii_digit()) || !is_digits(whole) {
                return None;
            }
            let (fraction, exponent) = match rest.find(['e', 'E']) {
                Some(index) => (&rest[..index], Some(&rest[index + 1..])),
                None => (rest, None),
            };
            if !is_digits(fraction) {
                return None;
            }
            if let Some(exponent) = exponent {
                let digits = exponent.strip_prefix(['+', '-'])?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            format!(
                "{whole}.{fraction}{}",
                exponent.map(|e| format!("e{e}")).unwrap_or_default()
            )
            .replace('_', "")
            .parse()
            .ok()?
        }
    } else {
        return None;
    };
    let value = if negative { -value } else { value };
    Some(Number::from_f64(value).map_or(NodeValue::Null, NodeValue::Number))
}
