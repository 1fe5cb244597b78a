//! Problems found in configuration files, each pointing at its place.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// One problem: where (file, JSON pointer, line and column) and what, with a tip where one helps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The JSON pointer of the offending value (`/recurring_runs/0/job/trigger/cron`); `""` is the whole
    /// file.
    pub pointer: String,
    /// 1-based line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tip: Option<String>,
}

impl Problem {
    /// The location as `file:line:column` (or less, when unknown).
    pub fn location(&self) -> String {
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", self.file.display()),
            (Some(line), None) => format!("{}:{line}", self.file.display()),
            _ => self.file.display().to_string(),
        }
    }

    /// The cargo-style rendering: `error: message`, ` --> file:line:col (pointer)`, ` = tip: ...`.
    pub fn render(&self) -> String {
        let mut text = format!("error: {}\n  --> {}", self.message, self.location());
        if !self.pointer.is_empty() {
            text.push_str(&format!(" at {}", self.pointer));
        }
        if let Some(tip) = &self.tip {
            text.push_str(&format!("\n   = tip: {tip}"));
        }
        text
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location())?;
        if !self.pointer.is_empty() {
            write!(f, " ({})", self.pointer)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found while loading a namespace's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct ConfigErrors {
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "{count} configuration problem{}",
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n{problem}")?;
        }
        Ok(())
    }
}

/// The `s` of a noun after `count` in messages: `1 file`, `2 files`.
pub fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
