//! Headers as a recorded request keeps them.

use axum::http::HeaderMap;

/// `(name, value)` pairs in arrival order: names lower-case (as HTTP/1
/// servers give them), values as text even when not UTF-8.
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect()
}

/// The first value of header `name` (any case) among recorded pairs.
pub fn find_header<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}
