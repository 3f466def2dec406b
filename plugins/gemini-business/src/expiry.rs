//! The optional `expires_at` of an account, as Unix seconds.
//!
//! The seed writes it as `YYYY-MM-DD HH:MM:SS` in Beijing time (its helper
//! script takes the cookie's expiry minus 12 hours). We also accept the same
//! with a `T`, an explicit `Z`/`±HH:MM` offset, and plain Unix seconds, so an
//! operator can write it either way.

/// The offset the seed assumes when a time carries none (UTC+8).
pub const SEED_OFFSET_SECONDS: i64 = 8 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidExpiry;

impl std::fmt::Display for InvalidExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "expires_at is neither `YYYY-MM-DD HH:MM:SS` (UTC+8), an RFC 3339 time nor Unix seconds",
        )
    }
}

/// Parses `text` into Unix seconds.
pub fn parse_expiry(text: &str) -> Result<i64, InvalidExpiry> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = text.parse().map_err(|_| InvalidExpiry)?;
        // Thirteen digits are milliseconds (JavaScript's Date.now()).
        return Ok(if number >= 100_000_000_000 {
            number / 1000
        } else {
            number
        });
    }
    parse_civil(text).ok_or(InvalidExpiry)
}

fn parse_civil(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || !matches!(bytes[10], b' ' | b'T' | b't') {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let separators_ok =
        bytes[4] == b'-' && bytes[7] == b'-' && bytes[13] == b':' && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    // Fractional seconds do not matter at this precision.
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = parse_offset(rest)?;
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The offset east of UTC in seconds; none written means the seed's UTC+8.
fn parse_offset(text: &str) -> Option<i64> {
    match text {
        "" => Some(SEED_OFFSET_SECONDS),
        "Z" | "z" => Some(0),
        _ => {
            let sign = match text.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = text[1..].split_once(':')?;
            if hours.len() != 2 || minutes.len() != 2 {
                return None;
            }
            let hours: i64 = hours.parse().ok()?;
            let minutes: i64 = minutes.parse().ok()?;
            (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_format_is_beijing_time() {
        // 2025-12-23 10:59:21 UTC+8 = 02:59:21 UTC.
        assert_eq!(parse_expiry("2025-12-23 10:59:21"), Ok(1_766_458_761));
        assert_eq!(parse_expiry("2025-12-23T02:59:21Z"), Ok(1_766_458_761));
        assert_eq!(parse_expiry("2025-12-23T04:59:21+02:00"), Ok(1_766_458_761));
        assert_eq!(parse_expiry("2025-12-23 10:59:21.250"), Ok(1_766_458_761));
    }

    #[test]
    fn unix_seconds_and_milliseconds_are_accepted() {
        assert_eq!(parse_expiry("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_expiry("1700000000123"), Ok(1_700_000_000));
    }

    #[test]
    fn the_epoch_and_leap_days_are_right() {
        assert_eq!(parse_expiry("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_expiry("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        assert_eq!(parse_expiry("2024-03-01T00:00:00Z"), Ok(1_709_251_200));
    }

    #[test]
    fn nonsense_is_refused() {
        for text in [
            "",
            "tomorrow",
            "2025-13-01 00:00:00",
            "2025-12-23 25:00:00",
            "2025/12/23 10:59:21",
            "2025-12-23 10:59:21 UTC",
            "2025-12-23 10:59:21+8",
            "2025-12-23 10:59:21.",
        ] {
            assert_eq!(parse_expiry(text), Err(InvalidExpiry), "{text:?}");
        }
    }
}
