//! Filters of list calls: predicates and their JSON form, as the server parses it.

use super::*;

/// The value of a filter [`Predicate`] (a protobuf oneof).
#[derive(Debug, Clone, PartialEq)]
pub enum PredicateValue {
    /// `int_value` (int32).
    Int(i32),
    /// `long_value` (int64).
    Long(i64),
    /// `string_value`.
    String(String),
    /// `timestamp_value`.
    Timestamp(Timestamp),
    /// `int_values.values`.
    Ints(Vec<i32>),
    /// `long_values.values`.
    Longs(Vec<i64>),
    /// `string_values.values`.
    Strings(Vec<String>),
}

impl Default for PredicateValue {
    fn default() -> Self {
        Self::String(String::new())
    }
}

/// One condition of a [`Filter`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawPredicate", into = "RawPredicate")]
pub struct Predicate {
    /// The operator.
    pub op: PredicateOp,
    /// The API field name (`name`, `created_at`, `storage_state`, ...).
    pub key: String,
    /// The operand.
    pub value: PredicateValue,
}

impl Predicate {
    /// `key = value` on a string field.
    pub fn equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::Equals,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key <> value` on a string field.
    pub fn not_equals(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::NotEquals,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key LIKE '%value%'`.
    pub fn is_substring(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            op: PredicateOp::IsSubstring,
            key: key.into(),
            value: PredicateValue::String(value.into()),
        }
    }

    /// `key IN (values...)` on a string field.
    pub fn in_strings(
        key: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            op: PredicateOp::In,
            key: key.into(),
            value: PredicateValue::Strings(values.into_iter().map(Into::into).collect()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Values<T> {
    values: Vec<T>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct LongValues {
    #[serde(with = "int64_vec")]
    values: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct RawPredicate {
    #[serde(deserialize_with = "null_as_default")]
    key: String,
    #[serde(deserialize_with = "null_as_default")]
    op: PredicateOp,
    #[serde(skip_serializing_if = "Option::is_none", alias = "intValue")]
    int_value: Option<i32>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        alias = "longValue",
        deserialize_with = "opt_int64",
        serialize_with = "ser_opt_int64_as_string"
    )]
    long_value: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "stringValue")]
    string_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "timestampValue")]
    timestamp_value: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "intValues")]
    int_values: Option<Values<i32>>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "longValues")]
    long_values: Option<LongValues>,
    #[serde(skip_serializing_if = "Option::is_none", alias = "stringValues")]
    string_values: Option<Values<String>>,
}

fn opt_int64<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Item(#[serde(with = "int64")] i64);
    Ok(Option::<Item>::deserialize(deserializer)?.map(|Item(v)| v))
}

// serde's `serialize_with` hands the field by reference.
#[allow(clippy::ref_option)]
fn ser_opt_int64_as_string<S: serde::Serializer>(
    value: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.serialize_str(&v.to_string()),
        None => serializer.serialize_none(),
    }
}

impl From<RawPredicate> for Predicate {
    fn from(raw: RawPredicate) -> Self {
        let value = if let Some(v) = raw.string_value {
            PredicateValue::String(v)
        } else if let Some(v) = raw.int_value {
            PredicateValue::Int(v)
        } else if let Some(v) = raw.long_value {
            PredicateValue::Long(v)
        } else if let Some(v) = raw.timestamp_value {
            PredicateValue::Timestamp(v)
        } else if let Some(v) = raw.int_values {
            PredicateValue::Ints(v.values)
        } else if let Some(v) = raw.long_values {
            PredicateValue::Longs(v.values)
        } else if let Some(v) = raw.string_values {
            PredicateValue::Strings(v.values)
        } else {
            PredicateValue::default()
        };
        Self {
            op: raw.op,
            key: raw.key,
            value,
        }
    }
}

impl From<Predicate> for RawPredicate {
    fn from(predicate: Predicate) -> Self {
        let mut raw = RawPredicate {
            key: predicate.key,
            op: predicate.op,
            ..RawPredicate::default()
        };
        match predicate.value {
            PredicateValue::Int(v) => raw.int_value = Some(v),
            PredicateValue::Long(v) => raw.long_value = Some(v),
            PredicateValue::String(v) => raw.string_value = Some(v),
            PredicateValue::Timestamp(v) => raw.timestamp_value = Some(v),
            PredicateValue::Ints(values) => raw.int_values = Some(Values { values }),
            PredicateValue::Longs(values) => raw.long_values = Some(LongValues { values }),
            PredicateValue::Strings(values) => raw.string_values = Some(Values { values }),
        }
        raw
    }
}

/// A list filter: every predicate must hold (AND). Sent as the protobuf JSON in the `filter` query parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// The conditions.
    #[serde(deserialize_with = "null_as_default")]
    pub predicates: Vec<Predicate>,
}

impl Filter {
    /// A filter of one predicate.
    pub fn single(predicate: Predicate) -> Self {
        Self {
            predicates: vec![predicate],
        }
    }

    /// `name = value`.
    pub fn name_equals(name: impl Into<String>) -> Self {
        Self::single(Predicate::equals("name", name))
    }

    /// Adds a predicate.
    #[must_use]
    pub fn and(mut self, predicate: Predicate) -> Self {
        self.predicates.push(predicate);
        self
    }

    /// The compact JSON text the server parses.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
