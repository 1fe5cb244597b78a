//! How a new version of a recurring run takes over its schedule: `rollout:` of a recurring run, the
//! project-wide `defaults.rollout` of `kfp-gitops.yaml`, and their resolution (a command-line strategy
//! overrides both).
//!
//! * `swap` (the default): the new version is created paused, the old one disabled, the new one enabled.
//! * `verify`: between creating the new version paused and the swap, one run of exactly that version
//!   must succeed within `timeout`; otherwise the old version stays enabled and untouched.

use serde::Serialize;

use crate::model::{Rollout, RolloutDefaults, RolloutStrategy};

/// The verification timeout when none is configured: two hours.
pub const DEFAULT_VERIFY_TIMEOUT_SECONDS: u64 = 2 * 60 * 60;

impl RolloutDefaults {
    /// The defaults with the timeout in seconds (an invalid timeout is refused when the project file
    /// is read, see [`timeout_seconds`]).
    pub fn resolved(&self) -> DesiredRollout {
        DesiredRollout {
            strategy: self.strategy,
            timeout_seconds: self
                .timeout
                .as_deref()
                .and_then(|text| timeout_seconds(text).ok()),
            keep_failed: self.keep_failed,
            parameters: Vec::new(),
        }
    }
}

/// What a recurring run's config (or the project's defaults) says about its rollout; `None` = not
/// set there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DesiredRollout {
    /// The strategy.
    pub strategy: Option<RolloutStrategy>,
    /// The verification timeout in seconds.
    pub timeout_seconds: Option<u64>,
    /// Whether a version that failed its verification is kept paused.
    pub keep_failed: Option<bool>,
    /// Parameter values of the verification run only, as KFP receives them, by name.
    pub parameters: Vec<(String, String)>,
}

/// The rollout of one recurring run, everything decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRollout {
    /// The strategy.
    pub strategy: RolloutStrategy,
    /// The verification timeout in seconds.
    pub timeout_seconds: u64,
    /// Whether a version that failed its verification is kept paused.
    pub keep_failed: bool,
    /// Parameter values of the verification run only.
    pub parameters: Vec<(String, String)>,
}

/// The desired rollout of a checked `rollout:` (its timeout valid, its values plain).
pub fn desired(rollout: Option<&Rollout>) -> DesiredRollout {
    let Some(rollout) = rollout else {
        return DesiredRollout::default();
    };
    DesiredRollout {
        strategy: rollout.strategy,
        timeout_seconds: rollout
            .timeout
            .as_deref()
            .and_then(|text| timeout_seconds(text).ok()),
        keep_failed: rollout.keep_failed,
        parameters: rollout
            .parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.as_kfp_string()))
            .collect(),
    }
}

/// Resolves a run's rollout: the command line's strategy (`force`) over the run's own settings over
/// the project's `defaults`, then the built-in defaults (`swap`, `2h`, not kept).
pub fn resolve(
    run: &DesiredRollout,
    defaults: &DesiredRollout,
    force: Option<RolloutStrategy>,
) -> ResolvedRollout {
    ResolvedRollout {
        strategy: force
            .or(run.strategy)
            .or(defaults.strategy)
            .unwrap_or_default(),
        timeout_seconds: run
            .timeout_seconds
            .or(defaults.timeout_seconds)
            .unwrap_or(DEFAULT_VERIFY_TIMEOUT_SECONDS),
        keep_failed: run.keep_failed.or(defaults.keep_failed).unwrap_or(false),
        parameters: run.parameters.clone(),
    }
}

/// A verification timeout (a Go duration) in whole seconds: at least one second.
pub fn timeout_seconds(text: &str) -> Result<u64, String> {
    let nanos = crate::cron::parse_go_duration(text)?;
    let seconds = nanos / 1_000_000_000;
    if seconds < 1 {
        return Err(format!("the timeout `{text}` is shorter than one second"));
    }
    u64::try_from(seconds).map_err(|_| format!("the timeout `{text}` is too long"))
}

/// A number of seconds as a short duration: `2h`, `1h30m`, `45m`, `90s`.
pub fn format_seconds(seconds: u64) -> String {
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if rest > 0 || text.is_empty() {
        text.push_str(&format!("{rest}s"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_beats_the_run_which_beats_the_project_defaults() {
        let run = DesiredRollout {
            strategy: Some(RolloutStrategy::Verify),
            timeout_seconds: Some(60),
            ..DesiredRollout::default()
        };
        let defaults = DesiredRollout {
            strategy: Some(RolloutStrategy::Swap),
            timeout_seconds: Some(600),
            keep_failed: Some(true),
            parameters: Vec::new(),
        };
        let resolved = resolve(&run, &defaults, None);
        assert_eq!(resolved.strategy, RolloutStrategy::Verify);
        assert_eq!(resolved.timeout_seconds, 60);
        assert!(resolved.keep_failed);
        let forced = resolve(&run, &defaults, Some(RolloutStrategy::Swap));
        assert_eq!(forced.strategy, RolloutStrategy::Swap);
        let nothing = resolve(&DesiredRollout::default(), &DesiredRollout::default(), None);
        assert_eq!(nothing.strategy, RolloutStrategy::Swap);
        assert_eq!(nothing.timeout_seconds, DEFAULT_VERIFY_TIMEOUT_SECONDS);
        assert!(!nothing.keep_failed);
    }

    #[test]
    fn timeouts_are_go_durations_of_at_least_a_second() {
        assert_eq!(timeout_seconds("2h"), Ok(7200));
        assert_eq!(timeout_seconds("1h30m"), Ok(5400));
        assert_eq!(timeout_seconds("1.5s"), Ok(1));
        assert!(timeout_seconds("500ms").is_err());
        assert!(timeout_seconds("2 hours").is_err());
    }

    #[test]
    fn durations_print_short() {
        assert_eq!(format_seconds(7200), "2h");
        assert_eq!(format_seconds(5400), "1h30m");
        assert_eq!(format_seconds(45 * 60), "45m");
        assert_eq!(format_seconds(90), "1m30s");
        assert_eq!(format_seconds(3), "3s");
    }
}
