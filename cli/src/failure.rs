//! The one place that turns library errors into what the user sees and into an exit code.
//!
//! Exit codes: 0 success, 1 error, 2 "changes pending" (only with `--detailed-exitcode`).
//! Every library error type gets a `From` impl here, choosing the message, the causes and a hint, in the
//! style of cargo: `error: what went wrong`, indented `caused by:` lines, then `hint: what to do`.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use crate::args::OutputFormat;
use crate::output::Context;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing further to report (exit 0).
    Ok,
    /// Done, and changes are pending; exit 2 (only used with `--detailed-exitcode`).
    ChangesPending,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Ok => ExitCode::SUCCESS,
            Status::ChangesPending => ExitCode::from(2),
        }
    }
}

/// A failed command: what went wrong, why, and what to try.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Extra lines printed after the message (e.g. a list of validation problems), already formatted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(skip)]
    format: OutputFormat,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            details: Vec::new(),
            format: OutputFormat::Text,
        }
    }

    /// A failure of local I/O while doing `what`.
    pub fn io(what: &str, err: &dyn std::error::Error) -> Self {
        Self::from_error(format!("failed {what}"), err)
    }

    /// A failure described by `message`, with the source chain of `err` as causes.
    pub fn from_error(message: impl Into<String>, err: &dyn std::error::Error) -> Self {
        let mut failure = Self::new(message);
        let mut next: Option<&dyn std::error::Error> = Some(err);
        while let Some(cause) = next {
            failure.causes.push(cause.to_string());
            next = cause.source();
        }
        failure
    }

    #[allow(dead_code)] // used by the commands that talk to KFP and read configs
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[allow(dead_code)] // used by the commands that talk to KFP and read configs
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    pub fn with_output(mut self, format: OutputFormat) -> Self {
        self.format = format;
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::FAILURE
    }

    /// Prints the failure on stderr (and as JSON on stdout with `--output json`).
    pub fn report(&self, ctx: &Context) {
        if self.format == OutputFormat::Json {
            let json = serde_json::json!({ "error": self });
            println!("{json}");
        }
        eprint!("{}", self.render(ctx.color));
    }

    fn render(&self, color: bool) -> String {
        let (red, yellow, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = String::new();
        let _ = writeln!(out, "{red}error{reset}{bold}: {}{reset}", self.message);
        for detail in &self.details {
            let _ = writeln!(out, "  {detail}");
        }
        // The first cause often repeats the message verbatim; show only what adds information.
        for cause in self.causes.iter().filter(|cause| **cause != self.message) {
            let _ = writeln!(out, "  caused by: {cause}");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{yellow}hint{reset}: {hint}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer problem")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn renders_message_causes_and_hint_without_colour() {
        let err = Outer(std::io::Error::other("disk on fire"));
        let failure = Failure::from_error("could not save the plan", &err).hint("free some space");
        assert_eq!(
            failure.render(false),
            "error: could not save the plan\n  caused by: outer problem\n  caused by: disk on fire\nhint: free some space\n"
        );
    }

    #[test]
    fn exit_codes_follow_the_documented_contract() {
        assert_eq!(ExitCode::from(Status::Ok), ExitCode::SUCCESS);
        assert_eq!(ExitCode::from(Status::ChangesPending), ExitCode::from(2));
        assert_eq!(Failure::new("x").exit_code(), ExitCode::FAILURE);
    }
}
