//! Google's duration strings: `"47s"`, `"45.837906927s"` (protobuf `Duration`
//! in JSON), and in messages Go-style forms such as `"1m2.5s"` or `"512ms"`.

/// Milliseconds in a duration string, rounded up, or `None` if it is not one.
pub fn parse_millis(text: &str) -> Option<u64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return None,
        };
        nanos = nanos.checked_add(scaled(number, unit_nanos)?)?;
        rest = after;
    }
    u64::try_from(nanos.div_ceil(1_000_000)).ok()
}

/// `number` (decimal, e.g. `45.837906927`) times `unit`, exactly.
fn scaled(number: &str, unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(unit)?;
    let mut place = unit;
    for digit in fraction.chars() {
        let digit = u128::from(digit.to_digit(10)?);
        place /= 10;
        if place == 0 {
            // Below a nanosecond: round the remainder up.
            if digit > 0 {
                total += 1;
                break;
            }
            continue;
        }
        total += digit * place;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_durations() {
        assert_eq!(parse_millis("47s"), Some(47_000));
        assert_eq!(parse_millis("2.5s"), Some(2_500));
        assert_eq!(parse_millis("45.837906927s"), Some(45_838));
        assert_eq!(parse_millis("0.000000001s"), Some(1));
        assert_eq!(parse_millis("0s"), Some(0));
    }

    #[test]
    fn go_style_durations() {
        assert_eq!(parse_millis("47.43s"), Some(47_430));
        assert_eq!(parse_millis("1m2.5s"), Some(62_500));
        assert_eq!(parse_millis("1h"), Some(3_600_000));
        assert_eq!(parse_millis("512.2ms"), Some(513));
    }

    #[test]
    fn nonsense_is_refused() {
        for text in ["", "s", "12", "1.2.3s", "12 s", "abc", "5d"] {
            assert_eq!(parse_millis(text), None, "{text:?}");
        }
    }
}
