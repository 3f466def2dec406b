//! The optional `expires_at` of an account, as Unix seconds.
//!
//! The seed writes it as `YYYY-MM-DD HH:MM:SS` in Beijing time (its helper
//! script takes the cookie's expiry minus 12 hours). The SDK's reader also
//! takes the same with a `T`, an explicit `Z`/`±HH:MM` offset, and plain Unix
//! seconds, so an operator can write it either way.

use wasmgate_plugin_sdk::datetime::unix_seconds;

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
    unix_seconds(text, SEED_OFFSET_SECONDS).ok_or(InvalidExpiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_format_is_beijing_time() {
        // 2025-12-23 10:59:21 UTC+8 = 02:59:21 UTC.
        assert_eq!(parse_expiry("2025-12-23 10:59:21"), Ok(1_766_458_761));
        assert_eq!(parse_expiry("2025-12-23T02:59:21Z"), Ok(1_766_458_761));
        assert_eq!(parse_expiry("1700000000"), Ok(1_700_000_000));
        assert_eq!(parse_expiry("tomorrow"), Err(InvalidExpiry));
    }
}
