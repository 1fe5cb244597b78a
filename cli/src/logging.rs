//! Diagnostic logging on stderr through `tracing`. `RUST_LOG` wins over `--log-level` and `-v`, except that
//! warnings about weakened security (`--skip-tls-verify`) are shown at every level. Every line is redacted
//! before it is written (see [`RedactingStderr`]).

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::args::{GlobalArgs, LogFormat, LogLevel};

/// Starts logging; `default_level` applies when `--log-level` is not given (daemons log more).
pub fn init(global: &GlobalArgs, default_level: LogLevel) {
    let level = global.log_level.unwrap_or(default_level);
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(effective_level(level, global.verbose)),
    };
    // The HTTP library dumps raw request bytes (bearer tokens, session cookies) at TRACE: never show those.
    // Warnings about weakened security are shown whatever the level.
    let mut filter = filter;
    for directive in [
        format!("{}=off", kfp_client::WIRE_DUMP_LOG_TARGET),
        format!("{}=warn", kfp_client::SECURITY_WARNING_LOG_TARGET),
    ] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr)
        .with_ansi(false)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Makes the writer of each log line: stderr, through [`kfp_client::secrets::redact_text`].
#[derive(Debug, Clone, Copy)]
struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactedLine<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine::new(std::io::stderr())
    }
}

/// Collects one formatted log line and writes it redacted (URLs without credentials, known secrets masked)
/// when dropped, in one write.
#[derive(Debug)]
struct RedactedLine<W: Write> {
    buffer: Vec<u8>,
    out: W,
}

impl<W: Write> RedactedLine<W> {
    fn new(out: W) -> Self {
        Self {
            buffer: Vec::new(),
            out,
        }
    }
}

impl<W: Write> Write for RedactedLine<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactedLine<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let _ = self
            .out
            .write_all(kfp_client::secrets::redact_text(&text).as_bytes());
        let _ = self.out.flush();
    }
}

/// `-v` raises the level above `--log-level`, one step per repetition.
fn effective_level(base: LogLevel, verbose: u8) -> &'static str {
    let levels = ["error", "warn", "info", "debug", "trace"];
    let index = base as usize + usize::from(verbose);
    levels[index.min(levels.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_flags_raise_the_level_and_saturate_at_trace() {
        assert_eq!(effective_level(LogLevel::Warn, 0), "warn");
        assert_eq!(effective_level(LogLevel::Warn, 1), "info");
        assert_eq!(effective_level(LogLevel::Warn, 2), "debug");
        assert_eq!(effective_level(LogLevel::Warn, 9), "trace");
        assert_eq!(effective_level(LogLevel::Error, 0), "error");
    }

    #[test]
    fn a_log_line_is_written_redacted_in_one_piece() {
        let _ = kfp_client::secrets::Secret::new("logging-test-t0ken");
        let mut out = Vec::new();
        {
            let mut line = RedactedLine::new(&mut out);
            write!(line, "fetching https://u:pw@h/r.git ").unwrap();
            writeln!(line, "with logging-test-t0ken").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "fetching https://***@h/r.git with ***\n"
        );
    }
}
