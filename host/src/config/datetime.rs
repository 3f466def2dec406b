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
}
