//! Go's `time.ParseDuration`, which `@every` uses.

/// Go's `time.ParseDuration`, in nanoseconds: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with the units `ns`,
/// `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`, or `0`.
pub fn parse_go_duration(text: &str) -> Result<i128, String> {
    let invalid = || format!("`{text}` is not a Go duration (such as `90s`, `1h30m`, `1.5h`)");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration `{text}`")),
            other => return Err(format!("unknown unit `{other}` in duration `{text}`")),
        };
        let value: f64 = if number.starts_with('.') {
            format!("0{number}")
        } else {
            number.to_owned()
        }
        .trim_end_matches('.')
        .parse()
        .map_err(|_| invalid())?;
        total += value * scale;
    }
    // Go's durations are int64 nanoseconds (about 292 years).
    if total > 9.2e18 {
        return Err(format!("duration `{text}` is out of range"));
    }
    #[allow(clippy::cast_possible_truncation)]
    let nanos = total.round() as i128;
    Ok(if negative { -nanos } else { nanos })
}
