//! The one wrapper around `serde-saphyr`: every YAML document the project reads goes through here.
//!
//! The options are chosen so that an untyped tree means what the KFP v1 SDK (PyYAML, YAML 1.1) meant when
//! it wrote the file: only `true`/`false` spellings are booleans (so KFP's `{name: n}` stays the string
//! `n`), and numbers with leading zeros or underscores stay strings instead of turning into octal or
//! grouped numbers. Errors carry the line and column the parser reports.

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter as _, Options};

/// A YAML document that could not be parsed (or did not have the expected shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct YamlError {
    /// What went wrong, without the position.
    pub message: String,
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<u64>,
    /// 1-based column of the problem, when the parser knows it.
    pub column: Option<u64>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{} at line {line}, column {column}", self.message)
            }
            (Some(line), None) => write!(f, "{} at line {line}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl YamlError {
    fn from_saphyr(err: &serde_saphyr::Error) -> Self {
        let message: Cow<'_, str> = serde_saphyr::DefaultMessageFormatter.format_message(err);
        // The formatter's text may contain control characters from the input; keep messages on one line.
        let message = message.escape_debug().to_string();
        let location = err.location().filter(|location| location.line() > 0);
        Self {
            message,
            line: location.map(|location| location.line()),
            column: location.map(|location| location.column()),
        }
    }

    fn without_position(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

/// How duplicate mapping keys are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// A duplicate key is a parse error.
    Reject,
}

pub(crate) fn options(duplicates: Duplicates) -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.legacy_octal_numbers = false;
    options.with_snippet = false;
    options.duplicate_keys = match duplicates {
        Duplicates::Reject => DuplicateKeyPolicy::Error,
    };
    options
}

/// True when `text` holds no YAML content at all (only whitespace, comments or document markers).
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// Parses one YAML document into `T`, rejecting duplicate keys.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    from_str_with(text, Duplicates::Reject)
}

pub(crate) fn from_str_with<T: DeserializeOwned>(
    text: &str,
    duplicates: Duplicates,
) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options(duplicates))
        .map_err(|err| YamlError::from_saphyr(&err))
}

/// Parses one YAML document into an untyped, order-preserving JSON tree.
///
/// An empty document (nothing but whitespace and comments) is an error: no caller has a use for it and
/// the message is clearer here than a `null` failing a later check.
pub fn to_json_value(text: &str) -> Result<serde_json::Value, YamlError> {
    if is_blank(text) {
        return Err(YamlError::without_position("the document is empty"));
    }
    from_str::<serde_json::Value>(text)
}

/// Writes a value as a YAML document (for human-facing output such as diffs of normalized workflows).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|err| YamlError::without_position(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_true_and_false_spellings_are_booleans() {
        let value = to_json_value("a: n\nb: yes\nc: off\nd: true\ne: False\n").unwrap();
        assert_eq!(
            value,
            json!({"a": "n", "b": "yes", "c": "off", "d": true, "e": false})
        );
    }

    #[test]
    fn leading_zero_and_underscored_numbers_stay_strings() {
        let value = to_json_value("a: 0755\nb: 1_000\nc: 10\nd: 1.5\ne: 1.8.22\n").unwrap();
        assert_eq!(
            value,
            json!({"a": "0755", "b": "1_000", "c": 10, "d": 1.5, "e": "1.8.22"})
        );
    }

    #[test]
    fn quoted_timestamps_stay_strings() {
        let value = to_json_value("t: '2023-07-30T19:31:36.462884'\n").unwrap();
        assert_eq!(value, json!({"t": "2023-07-30T19:31:36.462884"}));
    }

    #[test]
    fn key_order_is_kept() {
        let value = to_json_value("z: 1\na: 2\nm: 3\n").unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_position() {
        let err = to_json_value("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(err.message.contains("duplicate"), "{err}");
        assert_eq!(err.line, Some(3));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = to_json_value("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
        assert!(err.column.is_some(), "{err:?}");
    }

    #[test]
    fn empty_documents_are_errors() {
        assert_eq!(
            to_json_value("# only a comment\n\n").unwrap_err().message,
            "the document is empty"
        );
        assert!(to_json_value("").is_err());
    }

    #[test]
    fn typed_parsing_reports_the_position_of_a_wrong_type() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            n: u32,
        }
        let err = from_str::<S>("n: hello\n").unwrap_err();
        assert_eq!(err.line, Some(1));
    }
}
