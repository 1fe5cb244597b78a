//! robfig/cron v1.2.0 `cron.Parse`, as the KFP 1.8.5 API server uses it to validate `cron_schedule.cron`:
//! 5 or 6 fields (`sec min hour dom month [dow]`), `* ? , - /`, month and weekday names, and the
//! descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly @every <Go duration>`.
//! Only validation is needed; the error texts are robfig's.

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const SECONDS: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// Validates `spec` like robfig/cron v1.2.0 `cron.Parse`; the error is robfig's message.
pub fn parse(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("Empty spec string".to_owned());
    }
    if spec.starts_with('@') {
        return parse_descriptor(spec);
    }
    // strings.Fields splits on any Unicode white space.
    let fields: Vec<&str> = spec
        .split(char::is_whitespace)
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() < 5 || fields.len() > 6 {
        return Err(format!(
            "Expected 5 to 6 fields, found {}: {spec}",
            fields.len()
        ));
    }
    let bounds = [&SECONDS, &MINUTES, &HOURS, &DOM, &MONTHS, &DOW];
    for (index, bound) in bounds.iter().enumerate() {
        let field = fields.get(index).copied().unwrap_or("*");
        get_field(field, bound)?;
    }
    Ok(())
}

fn get_field(field: &str, bounds: &Bounds) -> Result<(), String> {
    for expr in field.split(',').filter(|e| !e.is_empty()) {
        get_range(expr, bounds)?;
    }
    Ok(())
}

fn get_range(expr: &str, bounds: &Bounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        start = bounds.min;
        end = bounds.max;
    } else {
        start = parse_int_or_name(low_and_high[0], bounds.names)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds.names)?,
            _ => return Err(format!("Too many hyphens: {expr}")),
        };
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = must_parse_int(range_and_step[1])?;
            if single {
                end = bounds.max;
            }
            step
        }
        _ => return Err(format!("Too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!(
            "Beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "End of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "Beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("Step of range should be a positive number: {expr}"));
    }
    Ok(())
}

fn parse_int_or_name(expr: &str, names: &[(&str, u64)]) -> Result<u64, String> {
    let lower = expr.to_lowercase();
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == lower) {
        return Ok(*value);
    }
    must_parse_int(expr)
}

/// `strconv.Atoi` plus robfig's negative check.
fn must_parse_int(expr: &str) -> Result<u64, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "Failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": invalid syntax"
        ));
    }
    let num: i64 = expr.parse().map_err(|_| {
        format!(
            "Failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": value out of range"
        )
    })?;
    if num < 0 {
        return Err(format!("Negative number ({num}) not allowed: {expr}"));
    }
    Ok(num as u64)
}

fn parse_descriptor(spec: &str) -> Result<(), String> {
    match spec {
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => {
            Ok(())
        }
        _ => match spec.strip_prefix("@every ") {
            Some(duration) => parse_go_duration(duration)
                .map(|_| ())
                .map_err(|err| format!("Failed to parse duration {spec}: {err}")),
            None => Err(format!("Unrecognized descriptor: {spec}")),
        },
    }
}

/// Go `time.ParseDuration`, returning nanoseconds.
pub fn parse_go_duration(text: &str) -> Result<i128, String> {
    let quoted = format!("{text:?}");
    let invalid = || format!("time: invalid duration {quoted}");
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
        } else if int_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: i128 = match unit {
            "" => return Err(format!("time: missing unit in duration {quoted}")),
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(format!("time: unknown unit {other:?} in duration {quoted}")),
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let digits = frac_part.len().min(30) as u32;
            let frac: i128 = frac_part[..digits as usize]
                .parse()
                .map_err(|_| invalid())?;
            value += frac * scale / 10i128.pow(digits);
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i128::from(i64::MAX) {
            return Err(invalid());
        }
    }
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_robfig_v1_accepts() {
        for spec in [
            "0 0 * * * *",
            "0 0 9 ? * 2-6",
            "*/5 * * * *",
            "0 30 8 1,15 JAN-mar",
            "0 0 0 * * sun",
            "5/10 * * * * *",
            "@hourly",
            "@every 1h30m",
            "@every 1.5s",
            "@every 0",
            "0 0 12 * * MON-FRI",
        ] {
            assert_eq!(parse(spec), Ok(()), "{spec}");
        }
    }

    #[test]
    fn rejects_with_robfig_messages() {
        let cases = [
            ("", "Empty spec string"),
            ("* * * *", "Expected 5 to 6 fields, found 4: * * * *"),
            (
                "0 0 0 * * * *",
                "Expected 5 to 6 fields, found 7: 0 0 0 * * * *",
            ),
            ("60 * * * *", "End of range (60) above maximum (59): 60"),
            ("* * * 0 *", "Beginning of range (0) below minimum (1): 0"),
            (
                "* * 5-2 * *",
                "Beginning of range (5) beyond end of range (2): 5-2",
            ),
            (
                "*/0 * * * *",
                "Step of range should be a positive number: */0",
            ),
            (
                "x * * * *",
                "Failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            ("1-2-3 * * * *", "Too many hyphens: 1-2-3"),
            ("@daily ", "Unrecognized descriptor: @daily "),
            (
                "@every 5",
                "Failed to parse duration @every 5: time: missing unit in duration \"5\"",
            ),
            (
                "@every 1d",
                "Failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\"",
            ),
        ];
        for (spec, message) in cases {
            assert_eq!(parse(spec), Err(message.to_owned()), "{spec:?}");
        }
    }
}
