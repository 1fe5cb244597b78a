//! The process-wide registry of secret values the process knows, so that printing can mask them wherever they
//! turn up (a gateway that echoes request headers, a server message quoting a URL, a tool's error output).

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::redact::REDACTED;

/// Values shorter than this are not registered: masking them would garble ordinary words in every message.
/// Such short secrets are still kept out of messages by everything else (URLs lose their user info, the
/// `Secret` type never formats its value, children do not inherit them).
pub const MIN_SECRET_CHARS: usize = 6;

/// How many values the registry keeps; the oldest registration goes first (a rotated token file adds one
/// value per rotation). Registering a known value again makes it the newest.
const CAPACITY: usize = 256;

static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn known() -> MutexGuard<'static, Vec<String>> {
    KNOWN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds a secret value (a token, a password, a credential of a URL) to the registry, so that [`mask`] and
/// [`crate::secrets::redact_text`] hide it from then on. Surrounding whitespace is ignored; values shorter than
/// [`MIN_SECRET_CHARS`] are not registered.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let mut known = known();
    if let Some(at) = known.iter().position(|k| k == value) {
        let again = known.remove(at);
        known.push(again);
        return;
    }
    known.push(value.to_owned());
    if known.len() > CAPACITY {
        known.remove(0);
    }
}

/// The forms in which a value may appear in printed text: as is, and escaped inside a JSON string.
fn forms(value: &str) -> impl Iterator<Item = String> {
    let escaped = serde_escape(value);
    std::iter::once(value.to_owned()).chain((escaped != value).then_some(escaped))
}

/// JSON string escaping (what a JSON log line does to a value), without the quotes.
fn serde_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` with every registered secret value replaced by `***` (longer values first, so that a secret that
/// contains another is masked whole).
pub fn mask(text: &str) -> Cow<'_, str> {
    let mut present: Vec<String> = known()
        .iter()
        .flat_map(|k| forms(k))
        .filter(|value| text.contains(value.as_str()))
        .collect();
    if present.is_empty() {
        return Cow::Borrowed(text);
    }
    present.sort_by_key(|value| std::cmp::Reverse(value.len()));
    let mut out = text.to_owned();
    for value in present {
        out = out.replace(value.as_str(), REDACTED);
    }
    Cow::Owned(out)
}

/// Whether `text` holds a registered secret value.
pub fn contains_secret(text: &str) -> bool {
    known()
        .iter()
        .flat_map(|k| forms(k))
        .any(|value| text.contains(value.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_in_plain_and_json_escaped_text() {
        register("  reg-test-s3cr3t-value\n");
        register("reg\"quoted\\pw");
        register("short");
        let text = "token reg-test-s3cr3t-value and {\"pw\":\"reg\\\"quoted\\\\pw\"} and short";
        assert_eq!(mask(text), "token *** and {\"pw\":\"***\"} and short");
        assert!(contains_secret("x reg-test-s3cr3t-value y"));
        assert!(!contains_secret("nothing here"));
        assert!(matches!(mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_containing_another_is_masked_whole() {
        register("reg-inner-abc");
        register("reg-inner-abc-outer");
        assert_eq!(mask("a reg-inner-abc-outer b"), "a *** b");
    }
}
