//! Durations on the command line: `500ms`, `30s`, `5m`, `2h`, `1h30m`; a bare number is
//! seconds.

use std::time::Duration;

/// Reads a duration such as `1h30m`, `90s`, `250ms` or `10` (seconds); clap calls it for
/// `--timeout`, `--interval` and `--for`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a duration is required, e.g. 30s, 5m, 1h30m or 500ms".into());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration: expected a number at {rest:?}"
            ));
        }
        let (number, tail) = rest.split_at(digits);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration: {number} is too large"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3_600)),
            "" => {
                return Err(format!(
                    "{text:?} is not a duration: a unit must follow {number}"
                ));
            }
            other => {
                return Err(format!(
                    "{text:?} is not a duration: unknown unit {other:?} (use ms, s, m or h)"
                ));
            }
        };
        total = total.saturating_add(part);
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_add_up() {
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1m500ms"), Ok(Duration::from_millis(60_500)));
    }

    #[test]
    fn a_bare_number_is_seconds() {
        assert_eq!(parse(" 10 "), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        for bad in [
            "",
            "s",
            "10x",
            "1.5s",
            "-3s",
            "5m x",
            "99999999999999999999s",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("3d").unwrap_err().contains("unknown unit \"d\""));
    }
}
