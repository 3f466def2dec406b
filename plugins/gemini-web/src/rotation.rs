//! Keeping `__Secure-1PSIDTS` fresh through `RotateCookies`.
//!
//! The web client rotates every 600 s. A plugin has no background task, so a
//! request rotates first when the interval has passed since the last rotation;
//! the newest cookie goes back to the state store and serves the next requests.

use crate::cookies::{CookieJar, PSIDTS};

pub const ROTATE_PATH: &str = "/RotateCookies";
/// The body the web client posts. It is not valid JSON (leading zeros).
pub const ROTATE_BODY: &str = "[000,\"-0000000000000000000\"]";
pub const ROTATE_ORIGIN: &str = "https://accounts.google.com";
pub const DEFAULT_INTERVAL_SECS: u64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Every(u64),
    Off,
}

/// The `rotate-interval-secs` setting: seconds, or `off`.
pub fn parse_interval(setting: Option<&str>) -> Result<Interval, String> {
    match setting.map(str::trim) {
        None | Some("") => Ok(Interval::Every(DEFAULT_INTERVAL_SECS)),
        Some(text) if text.eq_ignore_ascii_case("off") => Ok(Interval::Off),
        Some(text) => text
            .parse::<u64>()
            .map(Interval::Every)
            .map_err(|_| format!("rotate-interval-secs must be seconds or `off`, not {text:?}")),
    }
}

pub fn is_due(jar: &CookieJar, now: u64, interval: Interval) -> bool {
    match interval {
        Interval::Off => false,
        Interval::Every(seconds) => now.saturating_sub(jar.rotated_at) >= seconds,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new `__Secure-1PSIDTS` is in the jar.
    Rotated,
    /// 2xx without a new `__Secure-1PSIDTS` (throttling, or a dying session).
    Unchanged,
    /// 401: the cookies are dead.
    Expired,
    /// Anything else; try again next interval.
    Failed(u16),
}

/// Applies a rotation answer to the jar.
pub fn apply<'a>(
    jar: &mut CookieJar,
    status: u16,
    set_cookies: impl IntoIterator<Item = &'a str>,
    now: u64,
) -> Outcome {
    if status == 401 {
        return Outcome::Expired;
    }
    // Whatever happens, wait a full interval before the next attempt: the
    // endpoint throttles callers that retry quickly.
    jar.rotated_at = now;
    if !(200..300).contains(&status) {
        return Outcome::Failed(status);
    }
    let before = jar.get(PSIDTS).map(str::to_string);
    jar.apply(set_cookies);
    if jar.get(PSIDTS).is_some() && jar.get(PSIDTS).map(str::to_string) != before {
        Outcome::Rotated
    } else {
        Outcome::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval(None), Ok(Interval::Every(600)));
        assert_eq!(parse_interval(Some("0")), Ok(Interval::Every(0)));
        assert_eq!(parse_interval(Some("OFF")), Ok(Interval::Off));
        assert!(parse_interval(Some("ten")).is_err());

        let jar = CookieJar::from_secrets("p", Some("t"), 1000);
        assert!(!is_due(&jar, 1599, Interval::Every(600)));
        assert!(is_due(&jar, 1600, Interval::Every(600)));
        assert!(is_due(&jar, 1000, Interval::Every(0)));
        assert!(!is_due(&jar, 99_999, Interval::Off));
    }

    #[test]
    fn outcomes() {
        let mut jar = CookieJar::from_secrets("p", Some("t"), 0);
        let headers = ["__Secure-1PSIDTS=t2; Path=/", "__Secure-1PSIDCC=cc"];
        assert_eq!(apply(&mut jar, 200, headers, 10), Outcome::Rotated);
        assert_eq!(jar.get(PSIDTS), Some("t2"));
        assert_eq!(jar.rotated_at, 10);
        assert_eq!(
            apply(&mut jar, 200, ["__Secure-1PSIDCC=cc2"], 20),
            Outcome::Unchanged
        );
        assert_eq!(apply(&mut jar, 429, [], 30), Outcome::Failed(429));
        assert_eq!(jar.rotated_at, 30);
        assert_eq!(apply(&mut jar, 401, [], 40), Outcome::Expired);
    }
}
