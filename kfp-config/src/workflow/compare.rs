//! Semantic comparison of two workflow trees (what differs, where) and the normalized copy that digests and
//! comparisons work on, without the keys that change on every compilation.

use super::*;

/// How [`compare`] decides that two trees are equal.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Mapping keys ignored at any depth (default: [`VOLATILE_KEYS`]).
    pub ignore_keys: Vec<String>,
    /// Two numbers, at least one of them a float, are equal when they differ by at most this much (times
    /// the larger magnitude when that exceeds 1, since JSON parsers may round the last bit differently).
    pub float_tolerance: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            ignore_keys: VOLATILE_KEYS.iter().map(|key| (*key).to_owned()).collect(),
            float_tolerance: 1e-9,
        }
    }
}

/// What kind of difference [`compare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// Present only in the right tree.
    Added,
    /// Present only in the left tree.
    Removed,
    /// Present in both with different values.
    Changed,
}

/// One difference between two trees.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// JSON pointer (RFC 6901) of the differing node; `""` is the root.
    pub pointer: String,
    /// Added, removed or changed.
    pub kind: DifferenceKind,
    /// The left value (absent for [`DifferenceKind::Added`]).
    pub left: Option<Value>,
    /// The right value (absent for [`DifferenceKind::Removed`]).
    pub right: Option<Value>,
}

/// Compares two trees semantically and lists every difference in document order: maps are compared
/// regardless of key order, lists element by element, numbers within the float tolerance, and the
/// ignored keys are skipped at any depth.
pub fn compare(a: &Value, b: &Value, options: &CompareOptions) -> Vec<Difference> {
    let mut differences = Vec::new();
    let mut pointer = String::new();
    compare_at(a, b, options, &mut pointer, &mut differences);
    differences
}

pub(super) fn compare_at(
    a: &Value,
    b: &Value,
    options: &CompareOptions,
    pointer: &mut String,
    out: &mut Vec<Difference>,
) {
    let changed = |pointer: &str, out: &mut Vec<Difference>| {
        out.push(Difference {
            pointer: pointer.to_owned(),
            kind: DifferenceKind::Changed,
            left: Some(a.clone()),
            right: Some(b.clone()),
        });
    };
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => {
            let ignored = |key: &str| options.ignore_keys.iter().any(|ignored| ignored == key);
            for (key, left_value) in left {
                if ignored(key) {
                    continue;
                }
                let length = pointer.len();
                push_token(pointer, key);
                match right.get(key) {
                    Some(right_value) => compare_at(left_value, right_value, options, pointer, out),
                    None => out.push(Difference {
                        pointer: pointer.clone(),
                        kind: DifferenceKind::Removed,
                        left: Some(left_value.clone()),
                        right: None,
                    }),
                }
                pointer.truncate(length);
            }
            for (key, right_value) in right {
                if ignored(key) || left.contains_key(key) {
                    continue;
                }
                let length = pointer.len();
                push_token(pointer, key);
                out.push(Difference {
                    pointer: pointer.clone(),
                    kind: DifferenceKind::Added,
                    left: None,
                    right: Some(right_value.clone()),
                });
                pointer.truncate(length);
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            for index in 0..left.len().max(right.len()) {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                match (left.get(index), right.get(index)) {
                    (Some(l), Some(r)) => compare_at(l, r, options, pointer, out),
                    (Some(l), None) => out.push(Difference {
                        pointer: pointer.clone(),
                        kind: DifferenceKind::Removed,
                        left: Some(l.clone()),
                        right: None,
                    }),
                    (None, Some(r)) => out.push(Difference {
                        pointer: pointer.clone(),
                        kind: DifferenceKind::Added,
                        left: None,
                        right: Some(r.clone()),
                    }),
                    (None, None) => {}
                }
                pointer.truncate(length);
            }
        }
        (Value::Number(left), Value::Number(right)) => {
            let equal = if left.is_f64() || right.is_f64() {
                match (left.as_f64(), right.as_f64()) {
                    // Relative for large magnitudes: parsers may differ in the last bit of a float.
                    (Some(l), Some(r)) => {
                        (l - r).abs() <= options.float_tolerance * l.abs().max(r.abs()).max(1.0)
                    }
                    _ => false,
                }
            } else {
                left == right
            };
            if !equal {
                changed(pointer, out);
            }
        }
        _ => {
            if a != b {
                changed(pointer, out);
            }
        }
    }
}

pub(super) fn push_token(pointer: &mut String, key: &str) {
    pointer.push('/');
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// The canonical form used for digests: [`VOLATILE_KEYS`] removed at any depth, mapping keys sorted, and
/// floats that hold a whole number written as integers (so `1.0` and `1` digest alike).
pub fn normalize(value: &Value) -> Value {
    normalize_with(value, VOLATILE_KEYS)
}

/// [`normalize`] with `ignore_keys` removed at any depth in place of [`VOLATILE_KEYS`] (for a comparison
/// with its own [`CompareOptions::ignore_keys`]).
pub fn normalize_with<K: AsRef<str>>(value: &Value, ignore_keys: &[K]) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(key, _)| {
                    !ignore_keys
                        .iter()
                        .any(|ignored| ignored.as_ref() == key.as_str())
                })
                .collect();
            entries.sort_by_key(|(key, _)| *key);
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), normalize_with(value, ignore_keys)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| normalize_with(item, ignore_keys))
                .collect(),
        ),
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 9.0e15 => {
                // The guard keeps the value within the range where f64 -> i64 is exact.
                #[allow(clippy::cast_possible_truncation)]
                Value::from(float as i64)
            }
            _ => value.clone(),
        },
        other => other.clone(),
    }
}
