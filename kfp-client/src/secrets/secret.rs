//! A string that must never be shown: tokens, passwords.

use std::fmt;

/// A secret string (a bearer token or a password). Its `Debug` and `Display` print `<redacted>`; the value is
/// reachable only through [`Secret::expose`], which makes every place that uses it easy to find. Creating a
/// secret registers its value (see [`crate::secrets::register`]), so that text printed later masks it wherever it
/// turns up.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value and registers it as a known secret.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        super::register(&value);
        Self(value)
    }

    /// The secret value itself. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value_and_text_masks_it() {
        let secret = Secret::new("hunter2-secret-test");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.to_string(), "<redacted>");
        assert_eq!(secret.expose(), "hunter2-secret-test");
        assert_eq!(
            super::super::redact_text("the server said: hunter2-secret-test"),
            "the server said: ***"
        );
    }
}
