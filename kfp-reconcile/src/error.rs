//! Turning an error and its chain of causes into one line, for reports and logs that keep one line per
//! event (an apply step's outcome, a daemon log record).

/// The error and its causes on one line, each cause added only when it says something new.
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("listing jobs of team-1 failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_are_joined_and_repeats_left_out() {
        let err = Outer(std::io::Error::other("connection refused"));
        assert_eq!(
            describe(&err),
            "listing jobs of team-1 failed: connection refused"
        );
        let repeated = Outer(std::io::Error::other("listing jobs of team-1 failed"));
        assert_eq!(describe(&repeated), "listing jobs of team-1 failed");
    }
}
