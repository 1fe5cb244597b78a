//! Diagnostic logging on stderr through `tracing`. `RUST_LOG` wins over `--log-level` and `-v`.

use tracing_subscriber::EnvFilter;

use crate::args::{GlobalArgs, LogFormat, LogLevel};

/// Starts logging; `default_level` applies when `--log-level` is not given (daemons log more).
pub fn init(global: &GlobalArgs, default_level: LogLevel) {
    let level = global.log_level.unwrap_or(default_level);
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::new(directives),
        _ => EnvFilter::new(effective_level(level, global.verbose)),
    };
    // The HTTP library dumps raw request bytes (bearer tokens, session cookies) at TRACE: never show those.
    let filter = match format!("{}=off", kfp_client::WIRE_DUMP_LOG_TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
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
}
