//! TOML dates as Unix time, for `expires-at`.

use toml::value::{Datetime, Offset};

/// Milliseconds since the Unix epoch of a TOML date or date-time. A bare date
/// is its midnight and a date-time without an offset is read as UTC; a bare
/// time (no date) is `None`.
pub fn unix_millis(datetime: &Datetime) -> Option<u64> {
    let date = datetime.date?;
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    let mut seconds = days * 86_400;
    let mut millis = 0;
    if let Some(time) = datetime.time {
        seconds += i64::from(time.hour) * 3600 + i64::from(time.minute) * 60;
        seconds += i64::from(time.second);
        millis = i64::from(time.nanosecond / 1_000_000);
    }
    if let Some(Offset::Custom { minutes }) = datetime.offset {
        seconds -= i64::from(minutes) * 60;
    }
    u64::try_from(seconds * 1000 + millis).ok()
}

/// `+08:00` / `-05:30` / `Z` as minutes east of UTC.
pub fn parse_offset(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 14 && minutes < 60).then_some(sign * (hours * 60 + minutes))
}

/// Milliseconds since the Unix epoch of an expiry as seeds write it in their
/// account lists: `YYYY-MM-DD HH:MM:SS` (read at `offset_minutes` east of
/// UTC unless it carries an offset), RFC 3339, or Unix seconds (thirteen
/// digits: milliseconds).
pub fn seed_time_millis(text: &str, offset_minutes: i32) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let number: u64 = text.parse().ok()?;
        return Some(if number >= 100_000_000_000 {
            number
        } else {
            number.checked_mul(1000)?
        });
    }
    let normalized = match text.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &text[..10], &text[11..]),
        _ => text.to_string(),
    };
    let mut datetime: Datetime = normalized.parse().ok()?;
    if datetime.time.is_some() && datetime.offset.is_none() {
        datetime.offset = Some(Offset::Custom {
            minutes: i16::try_from(offset_minutes).ok()?,
        });
    }
    unix_millis(&datetime)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(text: &str) -> Option<u64> {
        let datetime: Datetime = text.parse().unwrap();
        unix_millis(&datetime)
    }

    #[test]
    fn dates_and_date_times_become_unix_time() {
        assert_eq!(millis("1970-01-01"), Some(0));
        assert_eq!(millis("2000-03-01T00:00:00Z"), Some(951_868_800_000));
        assert_eq!(millis("2026-11-22T10:30:00.250Z"), Some(1_795_343_400_250));
        assert_eq!(
            millis("2026-11-22T12:30:00+02:00"),
            millis("2026-11-22T10:30:00Z")
        );
        assert_eq!(millis("10:30:00"), None, "a time alone is not a moment");
    }

    #[test]
    fn seed_times_read_as_the_seeds_wrote_them() {
        // 2026-01-01 08:00:00 in Beijing is midnight UTC.
        let midnight = 1_767_225_600_000;
        assert_eq!(seed_time_millis("2026-01-01 08:00:00", 480), Some(midnight));
        assert_eq!(
            seed_time_millis("2026-01-01T00:00:00Z", 480),
            Some(midnight)
        );
        assert_eq!(seed_time_millis("1767225600", 0), Some(midnight));
        assert_eq!(seed_time_millis("1767225600000", 0), Some(midnight));
        assert_eq!(seed_time_millis("soon", 0), None);
        assert_eq!(parse_offset("+08:00"), Some(480));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("8"), None);
    }
}
