//! The one way a test picks a mock's scenario.
//!
//! A test talking to a mock directly sets the header `x-mock-scenario:
//! <name>`. A test going through the gateway cannot set the upstream's
//! headers (the plugin builds the request), so it writes `#scenario=<name>`
//! in the prompt, which reaches the upstream in the body. The header wins.
//! Names are `[A-Za-z0-9_:-]` (`429`, `cut-clean`, `http:500`). Each mock
//! documents its names and what it does when none is asked for (some also
//! read the model name; gemini-business and gemini-web also read their
//! older `[mock:<name>]` markers).

use axum::http::HeaderMap;

pub const SCENARIO_HEADER: &str = "x-mock-scenario";
pub const SCENARIO_MARK: &str = "#scenario=";

/// The scenario a request asks for, by header or by mark in its body.
pub fn requested_scenario(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let header = headers
        .get(SCENARIO_HEADER)
        .and_then(|value| value.to_str().ok());
    scenario_of(header, body)
}

/// [`requested_scenario`] for a mock that keeps the header's value itself.
pub fn scenario_of(header: Option<&str>, body: &[u8]) -> Option<String> {
    match header.filter(|name| !name.is_empty()) {
        Some(name) => Some(name.to_string()),
        None => marked(body),
    }
}

/// `#scenario=<name>` anywhere in `body`.
fn marked(body: &[u8]) -> Option<String> {
    let mark = SCENARIO_MARK.as_bytes();
    let at = body.windows(mark.len()).position(|w| w == mark)?;
    let name: String = body[at + mark.len()..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'))
        .map(|&b| b as char)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_mark() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            requested_scenario(&headers, b"{\"content\":\"hi #scenario=cut-clean please\"}"),
            Some("cut-clean".into())
        );
        headers.insert(SCENARIO_HEADER, "hold".parse().unwrap());
        assert_eq!(
            requested_scenario(&headers, b"#scenario=cut"),
            Some("hold".into())
        );
        assert_eq!(
            requested_scenario(&HeaderMap::new(), b"\"hi #scenario=http:500\""),
            Some("http:500".into())
        );
        assert_eq!(requested_scenario(&HeaderMap::new(), b"#scenario="), None);
        assert_eq!(requested_scenario(&HeaderMap::new(), b"no mark"), None);
    }
}
