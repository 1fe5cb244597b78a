//! The one wrapper around `serde-saphyr` (and its parser, `granit-parser`): every YAML document the
//! project reads goes through here.
//!
//! Untyped trees are built from the parser's events with the scalar resolution of PyYAML's `safe_load`
//! (YAML 1.1), because the KFP v1 SDK sends `json.dumps(yaml.safe_load(file))` as a pipeline's manifest:
//! our manifest of the same file must mean the same thing. PyYAML writes strings that its own resolver
//! would read as something else in quotes, but writes plain what YAML 1.2 would turn into numbers
//! (`1e3`, `0o17`, `1.8.22`); reading those as PyYAML does keeps them strings. Only PyYAML's boolean
//! spellings are booleans (`n`, `y` stay strings; `yes`/`on` are `true` as in PyYAML), and `0755` is
//! octal and `1_000` is a thousand, as in PyYAML. Every node carries its line and column, so
//! configuration checks can point at the exact place of a problem, and duplicate keys are kept in the
//! tree so that each of them can be reported.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter as _, Options};

mod builder;
mod scalar;

pub use builder::parse_node;

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
        let message = one_line(&message);
        let location = err.location().filter(|location| location.line() > 0);
        Self {
            message,
            line: location.map(|location| location.line()),
            column: location.map(|location| location.column()),
        }
    }

    fn from_scan(err: &ScanError) -> Self {
        Self {
            message: one_line(&err.info()),
            line: Some(err.marker().line() as u64),
            column: Some(err.marker().col() as u64 + 1),
        }
    }

    fn at(message: impl Into<String>, line: usize, column: usize) -> Self {
        Self {
            message: message.into(),
            line: Some(line as u64),
            column: Some(column as u64),
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

/// Control characters from the input (which messages may quote) are escaped, so a message stays on one
/// line and cannot drive a terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn options() -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.legacy_octal_numbers = false;
    options.with_snippet = false;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options
}

/// True when `text` holds no YAML content at all (only whitespace, comments or document markers).
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// Parses one YAML document into `T` through serde, rejecting duplicate keys; YAML 1.1 boolean
/// spellings other than `true`/`false` are not booleans, and numbers with leading zeros or underscores
/// are not numbers.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|err| YamlError::from_saphyr(&err))
}

/// Parses one YAML document into an untyped, order-preserving JSON tree, with the meaning PyYAML's
/// `safe_load` followed by `json.dumps` gives it (mapping keys become strings as `json.dumps` writes
/// them).
///
/// Errors: invalid YAML, more than one document, an empty document, a duplicate key, a non-finite float
/// (not representable in JSON) or a mapping used as a key.
pub fn to_json_value(text: &str) -> Result<Value, YamlError> {
    parse_node(text)?.into_json()
}

/// One node of a parsed YAML document with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The resolved value.
    pub value: NodeValue,
    /// 1-based line where the node starts.
    pub line: usize,
    /// 1-based column where the node starts.
    pub column: usize,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `~`, `null`, an empty value.
    Null,
    /// `true`/`false` (and PyYAML's `yes`/`no`/`on`/`off` spellings).
    Bool(bool),
    /// An integer or float.
    Number(Number),
    /// A string: quoted, a block scalar, or a plain scalar that resolves to nothing else. Plain YAML
    /// timestamps stay strings (PyYAML would make them dates, which JSON cannot hold).
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, entries in file order; duplicate keys are kept (see [`Node::duplicate_keys`]).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The mapping entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// True for `null`, `~` and empty values.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// The value of the last entry whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, value)| value)
    }

    /// A short description of the node's type, for messages ("a string", "a list", ...).
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(number) if number.is_f64() => "a float",
            NodeValue::Number(_) => "an integer",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The mapping key as `json.dumps` writes it (`1` → `"1"`, `true` → `"true"`, `~` → `"null"`); `None`
    /// for sequences and mappings.
    pub fn key_string(&self) -> Option<String> {
        match &self.value {
            NodeValue::Null => Some("null".to_owned()),
            NodeValue::Bool(value) => Some(value.to_string()),
            NodeValue::Number(number) => Some(python_number_key(number)),
            NodeValue::String(text) => Some(text.clone()),
            NodeValue::Seq(_) | NodeValue::Map(_) => None,
        }
    }

    /// For every mapping in the tree, the keys that repeat an earlier key of the same mapping: (key,
    /// the repeated key node). Depth-first, in file order.
    pub fn duplicate_keys(&self) -> Vec<(String, &Node)> {
        let mut found = Vec::new();
        self.collect_duplicates(&mut found);
        found
    }

    fn collect_duplicates<'a>(&'a self, found: &mut Vec<(String, &'a Node)>) {
        match &self.value {
            NodeValue::Map(entries) => {
                let mut seen = std::collections::HashSet::new();
                for (key, value) in entries {
                    if let Some(text) = key.key_string()
                        && !seen.insert(text.clone())
                    {
                        found.push((text, key));
                    }
                    key.collect_duplicates(found);
                    value.collect_duplicates(found);
                }
            }
            NodeValue::Seq(items) => items.iter().for_each(|item| item.collect_duplicates(found)),
            _ => {}
        }
    }

    /// The JSON tree: errors on duplicate keys, on mappings and lists used as keys.
    pub fn to_json(&self) -> Result<Value, YamlError> {
        Ok(match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(value) => Value::Bool(*value),
            NodeValue::Number(number) => Value::Number(number.clone()),
            NodeValue::String(text) => Value::String(text.clone()),
            NodeValue::Seq(items) => {
                Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?)
            }
            NodeValue::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    let Some(text) = key.key_string() else {
                        return Err(YamlError::at(
                            format!("{} cannot be used as a mapping key", key.type_name()),
                            key.line,
                            key.column,
                        ));
                    };
                    if map.contains_key(&text) {
                        return Err(YamlError::at(
                            format!("duplicate mapping key `{text}`"),
                            key.line,
                            key.column,
                        ));
                    }
                    map.insert(text, value.to_json()?);
                }
                Value::Object(map)
            }
        })
    }

    /// Like [`Node::to_json`], consuming the tree instead of copying it.
    pub fn into_json(self) -> Result<Value, YamlError> {
        Ok(match self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(value) => Value::Bool(value),
            NodeValue::Number(number) => Value::Number(number),
            NodeValue::String(text) => Value::String(text),
            NodeValue::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .map(Node::into_json)
                    .collect::<Result<_, _>>()?,
            ),
            NodeValue::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, value) in entries {
                    let (line, column) = (key.line, key.column);
                    let text = match key.value {
                        NodeValue::String(text) => text,
                        _ => match key.key_string() {
                            Some(text) => text,
                            None => {
                                return Err(YamlError::at(
                                    format!("{} cannot be used as a mapping key", key.type_name()),
                                    line,
                                    column,
                                ));
                            }
                        },
                    };
                    match map.entry(text) {
                        serde_json::map::Entry::Occupied(entry) => {
                            return Err(YamlError::at(
                                format!("duplicate mapping key `{}`", entry.key()),
                                line,
                                column,
                            ));
                        }
                        serde_json::map::Entry::Vacant(entry) => {
                            entry.insert(value.into_json()?);
                        }
                    }
                }
                Value::Object(map)
            }
        })
    }
}

/// Python's `str()` of a number, as `json.dumps` uses for keys: floats always show a fraction or exponent.
fn python_number_key(number: &Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 1e16 => {
            format!("{float:.1}")
        }
        _ => number.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_pyyaml_boolean_spellings_are_booleans() {
        let value = to_json_value("a: n\nb: yes\nc: off\nd: true\ne: False\nf: y\n").unwrap();
        assert_eq!(
            value,
            json!({"a": "n", "b": true, "c": false, "d": true, "e": false, "f": "y"})
        );
    }

    #[test]
    fn numbers_resolve_as_pyyaml_does() {
        let value = to_json_value(
            "a: 0755\nb: 1_000\nc: 10\nd: 1.5\ne: 1.8.22\nf: 1e3\ng: 1.0e+3\nh: 0o17\ni: 0x1F\nj: 1:30\nk: +.5\nl: .5\nm: 1.\nn: 09\no: -0\np: 0b101\nq: 3.10\n",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"a": 493, "b": 1000, "c": 10, "d": 1.5, "e": "1.8.22", "f": "1e3", "g": 1000.0, "h": "0o17",
                   "i": 31, "j": 90, "k": "+.5", "l": 0.5, "m": 1.0, "n": "09", "o": 0, "p": 5, "q": 3.1})
        );
    }

    #[test]
    fn quoted_and_block_scalars_and_timestamps_stay_strings() {
        let value =
            to_json_value("t: '2023-07-30T19:31:36.462884'\nd: 2024-01-01\nq: \"10\"\nb: |\n  x\n")
                .unwrap();
        assert_eq!(
            value,
            json!({"t": "2023-07-30T19:31:36.462884", "d": "2024-01-01", "q": "10", "b": "x\n"})
        );
    }

    #[test]
    fn core_tags_force_a_type() {
        let value =
            to_json_value("a: !!str 10\nb: !!int '10'\nc: !!float 1\nd: !!bool 'yes'\n").unwrap();
        assert_eq!(value, json!({"a": "10", "b": 10, "c": 1.0, "d": true}));
    }

    #[test]
    fn key_order_is_kept_and_keys_become_strings_as_json_dumps_writes_them() {
        let value = to_json_value("z: 1\na: 2\n1: x\n2.0: y\ntrue: z\n~: n\n").unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "1", "2.0", "true", "null"]);
    }

    #[test]
    fn anchors_aliases_and_merge_keys_are_applied() {
        let value =
            to_json_value("base: &b {x: 1, y: 2}\nuse: *b\nmerged:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(
            value,
            json!({"base": {"x": 1, "y": 2}, "use": {"x": 1, "y": 2}, "merged": {"x": 1, "y": 3}})
        );
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_position() {
        let err = to_json_value("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate mapping key `a`");
        assert_eq!((err.line, err.column), (Some(3), Some(1)));
    }

    #[test]
    fn every_duplicate_key_is_listed_by_the_node_tree() {
        let node = parse_node("a: 1\na: 2\nm:\n  k: 1\n  k: 2\n").unwrap();
        let duplicates: Vec<(String, usize)> = node
            .duplicate_keys()
            .into_iter()
            .map(|(key, node)| (key, node.line))
            .collect();
        assert_eq!(duplicates, vec![("a".to_owned(), 2), ("k".to_owned(), 5)]);
    }

    #[test]
    fn nodes_know_their_line_and_column() {
        let node = parse_node("a:\n  b: [1, hello]\n").unwrap();
        let b = node.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.line, b.column), (2, 6));
        let hello = &b.as_seq().unwrap()[1];
        assert_eq!(
            (hello.line, hello.column, hello.as_str()),
            (2, 10, Some("hello"))
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = to_json_value("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
        assert!(err.column.is_some(), "{err:?}");
    }

    #[test]
    fn empty_and_multiple_documents_are_errors() {
        assert_eq!(
            to_json_value("# only a comment\n\n").unwrap_err().message,
            "the document is empty"
        );
        assert!(to_json_value("").is_err());
        assert!(
            to_json_value("a: 1\n---\nb: 2\n")
                .unwrap_err()
                .message
                .contains("one YAML document")
        );
    }

    #[test]
    fn non_finite_floats_are_errors() {
        assert!(
            to_json_value("a: .inf\n")
                .unwrap_err()
                .message
                .contains("finite")
        );
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let prev = level - 1;
            text.push_str(&format!("a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(
            to_json_value(&text)
                .unwrap_err()
                .message
                .contains("more than")
        );
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
