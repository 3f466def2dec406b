//! Moments as operators and seed projects write them in account lists (an
//! account's `expires_at`, say): Unix seconds, or JavaScript's milliseconds,
//! or a civil date-time `YYYY-MM-DD HH:MM:SS` (a `T` instead of the space,
//! a fraction of a second, a `Z` or `±HH:MM` offset all optional).

/// Unix seconds of `text`; a civil date-time that names no offset is read at
/// `default_offset_seconds` east of UTC (a seed's local time). `None` when
/// `text` is none of the forms above.
pub fn unix_seconds(text: &str, default_offset_seconds: i64) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let number: i64 = text.parse().ok()?;
        // Twelve digits and more are milliseconds (JavaScript's Date.now()).
        return Some(if number >= 100_000_000_000 {
            number / 1000
        } else {
            number
        });
    }
    civil_seconds(text, default_offset_seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_seconds(text: &str, default_offset_seconds: i64) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || !matches!(bytes[10], b' ' | b'T' | b't') {
        return None;
    }
    let separators_ok =
        bytes[4] == b'-' && bytes[7] == b'-' && bytes[13] == b':' && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
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
    // A fraction of a second does not matter at this precision.
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "" => default_offset_seconds,
        _ => offset_seconds(rest)?,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// `Z` or `±HH:MM` as seconds east of UTC.
fn offset_seconds(text: &str) -> Option<i64> {
    if text.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match text.as_bytes().first()? {
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

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i64 = 8 * 3600;

    #[test]
    fn civil_times_with_and_without_an_offset() {
        // 2025-12-23 10:59:21 UTC+8 = 02:59:21 UTC.
        let utc = Some(1_766_458_761);
        assert_eq!(unix_seconds("2025-12-23 10:59:21", BEIJING), utc);
        assert_eq!(unix_seconds("2025-12-23T02:59:21Z", BEIJING), utc);
        assert_eq!(unix_seconds("2025-12-23T04:59:21+02:00", BEIJING), utc);
        assert_eq!(unix_seconds("2025-12-23 10:59:21.250", BEIJING), utc);
        assert_eq!(unix_seconds("2025-12-23 02:59:21", 0), utc);
    }

    #[test]
    fn unix_seconds_and_milliseconds() {
        assert_eq!(unix_seconds("1700000000", BEIJING), Some(1_700_000_000));
        assert_eq!(unix_seconds("1700000000123", BEIJING), Some(1_700_000_000));
    }

    #[test]
    fn the_epoch_and_leap_days() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z", 0), Some(0));
        assert_eq!(unix_seconds("2024-02-29T00:00:00Z", 0), Some(1_709_164_800));
        assert_eq!(unix_seconds("2024-03-01T00:00:00Z", 0), Some(1_709_251_200));
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn nonsense_is_none() {
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
            assert_eq!(unix_seconds(text, BEIJING), None, "{text:?}");
        }
    }
}
