//! `Retry-After` header values (RFC 9110 §10.2.3), as upstreams send them.

/// Milliseconds to wait from a `Retry-After` value: delta-seconds (`7`, and
/// the fractional `1.5` some upstreams send), or an HTTP-date (`Sun, 06 Nov
/// 1994 08:49:37 GMT`) counted from `now_unix_secs`. `None` when unreadable.
pub fn retry_after_ms(value: &str, now_unix_secs: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).ceil() as u64);
    }
    let at = http_date(value)?;
    Some(at.saturating_sub(now_unix_secs).saturating_mul(1000))
}

/// [`retry_after_ms`] counted from the wall clock the host gives the plugin
/// (natively, the system's).
pub fn retry_after_ms_now(value: &str) -> Option<u64> {
    #[cfg(target_arch = "wasm32")]
    let now = crate::bindings::wasi::clocks::wall_clock::now().seconds;
    #[cfg(not(target_arch = "wasm32"))]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    retry_after_ms(value, now)
}

/// The Unix seconds of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(value: &str) -> Option<u64> {
    let (_, rest) = value.split_once(", ")?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = fields[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms[..] else { return None };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::datetime::days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::retry_after_ms;

    #[test]
    fn delta_seconds_whole_and_fractional() {
        assert_eq!(retry_after_ms("7", 0), Some(7000));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        assert_eq!(retry_after_ms("1.5", 0), Some(1500));
        assert_eq!(retry_after_ms("0.0004", 0), Some(1));
    }

    #[test]
    fn http_dates_count_from_now() {
        // 1994-11-06T08:49:37Z is 784111777.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(retry_after_ms(date, 784_111_777 - 30), Some(30_000));
        assert_eq!(retry_after_ms(date, 784_111_777 + 5), Some(0), "past: now");
        assert_eq!(
            retry_after_ms("Thu, 01 Jan 1970 00:00:10 GMT", 0),
            Some(10_000)
        );
        assert_eq!(
            retry_after_ms("Tue, 29 Feb 2028 12:00:00 GMT", 1_835_438_400 - 1),
            Some(1000)
        );
    }

    #[test]
    fn nonsense_is_none() {
        for value in [
            "",
            "soon",
            "-3",
            "NaN",
            "inf",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after_ms(value, 0), None, "{value:?}");
        }
        assert_eq!(retry_after_ms("Sun, 32 Nov 1994 08:49:37 GMT", 0), None);
        assert_eq!(retry_after_ms("Sun, 06 Nov 1994 08:49 GMT", 0), None);
    }
}
