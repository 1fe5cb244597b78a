//! A generic reader of YAML nodes for the checks: typed fields with their JSON pointer, line and column,
//! every problem collected rather than the first returned, "did you mean" suggestions, YAML 1.1 timestamps.

use super::*;

/// A place in a file: JSON pointer, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// JSON pointer.
    pub pointer: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl At {
    pub(super) fn of(node: &Node, pointer: &str) -> Self {
        Self {
            pointer: pointer.to_owned(),
            line: node.line,
            column: node.column,
        }
    }
}

pub(super) struct Checker<'a> {
    pub(super) file: &'a Path,
    pub(super) problems: &'a mut Vec<Problem>,
    /// The zones of recurring runs' schedules (none for experiments).
    pub(super) zones: Option<&'a ScheduleZones>,
}

/// A mapping's entries (last value of a key wins, `null` counts as absent).
pub(super) struct Fields<'n> {
    pub(super) node: &'n Node,
    pub(super) pointer: String,
    pub(super) entries: HashMap<&'n str, &'n Node>,
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .get(key)
            .copied()
            .filter(|node| !node.is_null())
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(super) fn child(&self, key: &str) -> String {
        child_pointer(&self.pointer, key)
    }
}

pub(super) fn child_pointer(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

pub(super) fn index_pointer(pointer: &str, index: usize) -> String {
    format!("{pointer}/{index}")
}

impl Checker<'_> {
    pub(super) fn problem(
        &mut self,
        line: Option<usize>,
        column: Option<usize>,
        pointer: &str,
        message: String,
        tip: Option<String>,
    ) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            pointer: pointer.to_owned(),
            line,
            column,
            message,
            tip,
        });
    }

    pub(super) fn at(
        &mut self,
        node: &Node,
        pointer: &str,
        message: impl Into<String>,
        tip: Option<String>,
    ) {
        self.problem(
            Some(node.line),
            Some(node.column),
            pointer,
            message.into(),
            tip,
        );
    }

    pub(super) fn wrong_type(&mut self, node: &Node, pointer: &str, expected: &str) {
        let tip = match (&node.value, expected) {
            (NodeValue::String(text), "a boolean") => Some(format!(
                "write `true` or `false` without quotes (found the string `{text}`)"
            )),
            (NodeValue::Number(_) | NodeValue::Bool(_), "a string") => {
                Some("quote the value to make it a string".to_owned())
            }
            _ => None,
        };
        self.at(
            node,
            pointer,
            format!("expected {expected}, found {}", node.type_name()),
            tip,
        );
    }

    /// Checks that `node` is a mapping whose keys are strings among `allowed`, reporting unknown and
    /// duplicate keys.
    pub(super) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        pointer: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, pointer, "a mapping");
            return None;
        };
        let mut fields = HashMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else {
                let text = key.key_string().unwrap_or_default();
                self.at(
                    key,
                    &child_pointer(pointer, &text),
                    format!("keys must be strings, found {}", key.type_name()),
                    None,
                );
                continue;
            };
            let key_pointer = child_pointer(pointer, name);
            if !allowed.contains(&name) {
                let tip = suggestion(name, allowed)
                    .map(|known| format!("did you mean `{known}`?"))
                    .or_else(|| {
                        Some(format!(
                            "allowed keys here: {}",
                            allowed
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    });
                self.at(key, &key_pointer, format!("unknown key `{name}`"), tip);
                continue;
            }
            if fields.insert(name, value).is_some() {
                self.at(key, &key_pointer, format!("duplicate key `{name}`"), Some("each key may appear once; the later value would silently replace the earlier one".to_owned()));
            }
        }
        Some(Fields {
            node,
            pointer: pointer.to_owned(),
            entries: fields,
        })
    }

    pub(super) fn missing(&mut self, fields: &Fields<'_>, key: &str, tip: Option<String>) {
        let pointer = fields.child(key);
        self.at(
            fields.node,
            &pointer,
            format!("missing required key `{key}`"),
            tip,
        );
    }

    pub(super) fn required<'n>(&mut self, fields: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.missing(fields, key, None);
        }
        node
    }

    pub(super) fn string(&mut self, node: &Node, pointer: &str, non_empty: bool) -> Option<String> {
        match node.as_str() {
            Some(text) if non_empty && text.trim().is_empty() => {
                self.at(node, pointer, "must not be empty", None);
                None
            }
            Some(text) => Some(text.to_owned()),
            None => {
                self.wrong_type(node, pointer, "a string");
                None
            }
        }
    }

    pub(super) fn required_string(&mut self, fields: &Fields<'_>, key: &str) -> Option<String> {
        let node = self.required(fields, key)?;
        self.string(node, &fields.child(key), true)
    }

    pub(super) fn optional_string(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
    ) -> Result<Option<String>, ()> {
        match fields.get(key) {
            None => Ok(None),
            Some(node) => self
                .string(node, &fields.child(key), false)
                .map(Some)
                .ok_or(()),
        }
    }

    pub(super) fn boolean(&mut self, fields: &Fields<'_>, key: &str) -> Option<bool> {
        let node = self.required(fields, key)?;
        match node.value {
            NodeValue::Bool(value) => Some(value),
            _ => {
                self.wrong_type(node, &fields.child(key), "a boolean");
                None
            }
        }
    }

    pub(super) fn integer(&mut self, node: &Node, pointer: &str) -> Option<i64> {
        match &node.value {
            NodeValue::Number(number) if number.is_i64() => number.as_i64(),
            NodeValue::Number(number) if number.is_u64() => {
                self.at(node, pointer, format!("{number} is too large"), None);
                None
            }
            _ => {
                self.wrong_type(node, pointer, "an integer");
                None
            }
        }
    }

    pub(super) fn list<'n>(&mut self, node: &'n Node, pointer: &str) -> Option<&'n [Node]> {
        match node.as_seq() {
            Some(items) => Some(items),
            None => {
                self.wrong_type(node, pointer, "a list");
                None
            }
        }
    }

    pub(super) fn timestamp<'n>(
        &mut self,
        fields: &Fields<'n>,
        key: &str,
    ) -> Result<Option<(Timestamp, &'n Node)>, ()> {
        let Some(node) = fields.get(key) else {
            return Ok(None);
        };
        let pointer = fields.child(key);
        let Some(text) = node.as_str() else {
            self.wrong_type(node, &pointer, "a timestamp");
            return Err(());
        };
        match parse_timestamp(text) {
            Ok(timestamp) => Ok(Some((timestamp, node))),
            Err(reason) => {
                self.at(
                    node,
                    &pointer,
                    format!("invalid timestamp `{text}`: {reason}"),
                    Some("use a YAML timestamp such as `2024-01-31`, `2024-01-31 08:00:00` or `2024-01-31T08:00:00Z` (no zone means UTC)".to_owned()),
                );
                Err(())
            }
        }
    }
}

/// The closest allowed key within a small edit distance, for "did you mean" tips.
pub(crate) fn suggestion<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let normalized = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    allowed
        .iter()
        .map(|known| (*known, edit_distance(&normalized(name), &normalized(known))))
        .filter(|(known, distance)| *distance <= 2.max(known.len() / 4))
        .min_by_key(|(_, distance)| *distance)
        .map(|(known, _)| known)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Parses a YAML 1.1 timestamp (`2001-12-14`, `2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43.10 -5`)
/// or an RFC 3339 string; without a zone the time is UTC, a date alone is midnight UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let number = |s: &str, what: &str| s.parse::<i64>().map_err(|_| format!("bad {what} `{s}`"));
    // Date: YYYY-M?M-D?D.
    let date_end = text.find(['T', 't', ' ', '\t']).unwrap_or(text.len());
    let date_parts: Vec<&str> = text[..date_end].split('-').collect();
    if date_parts.len() != 3
        || date_parts[0].len() != 4
        || !date_parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("expected a date `YYYY-MM-DD`".to_owned());
    }
    let (year, month, day) = (
        number(date_parts[0], "year")?,
        number(date_parts[1], "month")?,
        number(date_parts[2], "day")?,
    );
    let date = jiff::civil::Date::new(
        i16::try_from(year).map_err(|_| "bad year".to_owned())?,
        i8::try_from(month).map_err(|_| "bad month".to_owned())?,
        i8::try_from(day).map_err(|_| "bad day".to_owned())?,
    )
    .map_err(|err| format!("no such date ({err})"))?;
    let rest = text[date_end..].trim_start_matches(['T', 't', ' ', '\t']);
    if date_end == text.len() {
        return date
            .to_datetime(jiff::civil::Time::midnight())
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|err| err.to_string());
    }
    if bytes.get(date_end) == Some(&b' ') && rest.is_empty() {
        return Err("expected a time after the date".to_owned());
    }
    // Time: H?H:MM:SS(.fraction)? then an optional zone.
    let time_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(rest.len());
    let (time_text, zone_text) = (&rest[..time_end], rest[time_end..].trim_start());
    let (clock, fraction) = time_text.split_once('.').unwrap_or((time_text, ""));
    let clock_parts: Vec<&str> = clock.split(':').collect();
    if clock_parts.len() != 3
        || clock_parts[0].is_empty()
        || clock_parts[0].len() > 2
        || clock_parts[1].len() != 2
        || clock_parts[2].len() != 2
    {
        return Err("expected a time `HH:MM:SS`".to_owned());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return Err("bad fraction of a second".to_owned());
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse::<i32>()
            .map_err(|_| "bad fraction".to_owned())?
    };
    let time = jiff::civil::Time::new(
        i8::try_from(number(clock_parts[0], "hour")?).map_err(|_| "bad hour".to_owned())?,
        i8::try_from(number(clock_parts[1], "minute")?).map_err(|_| "bad minute".to_owned())?,
        i8::try_from(number(clock_parts[2], "second")?).map_err(|_| "bad second".to_owned())?,
        nanos,
    )
    .map_err(|err| format!("no such time ({err})"))?;
    let offset_seconds: i32 = match zone_text {
        "" | "Z" | "z" => 0,
        zone => {
            let (sign, digits) = match zone.as_bytes()[0] {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return Err(format!("bad time zone `{zone}`")),
            };
            let (hours, minutes) = match digits.split_once(':') {
                Some((h, m)) => (h, m),
                None if digits.len() == 4 => (&digits[..2], &digits[2..]),
                None => (digits, "0"),
            };
            let valid =
                |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
            if !valid(hours) || !valid(minutes) {
                return Err(format!("bad time zone `{zone}`"));
            }
            let (hours, minutes): (i32, i32) =
                (hours.parse().unwrap_or(99), minutes.parse().unwrap_or(99));
            if hours > 23 || minutes > 59 {
                return Err(format!("bad time zone `{zone}`"));
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).map_err(|err| err.to_string())?;
    offset
        .to_timestamp(date.to_datetime(time))
        .map_err(|err| err.to_string())
}

pub(super) fn parse_root(checker: &mut Checker<'_>, text: &str, top_key: &str) -> Option<Node> {
    if yaml::is_blank(text) {
        checker.problem(
            None,
            None,
            "",
            "the file is empty".to_owned(),
            Some(format!("declare at least `{top_key}: []`")),
        );
        return None;
    }
    match yaml::parse_node(text) {
        Ok(node) => Some(node),
        Err(err) => {
            checker.problem(
                err.line.map(|l| l as usize),
                err.column.map(|c| c as usize),
                "",
                format!("invalid YAML: {}", err.message),
                None,
            );
            None
        }
    }
}
