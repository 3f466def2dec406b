//! The values scraped from the `/app` page: the access token and the session
//! parameters every RPC carries.
//!
//! Each is found as `"KEY":` optional whitespace `"VALUE"` anywhere in the
//! HTML (UNCONFIRMED which script wrapper holds them; only the keys matter).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageValues {
    /// `SNlM0e`: anti-CSRF token, form field `at`.
    pub access_token: Option<String>,
    /// `cfb2h`: server build label, query `bl`.
    pub build_label: Option<String>,
    /// `FdrFJe`: front-end session id, query `f.sid`.
    pub session_id: Option<String>,
    /// `TuX5cc`: UI language, query `hl`.
    pub language: Option<String>,
    /// `qKIAYe`: the upload endpoint's `Push-ID`.
    pub push_id: Option<String>,
}

pub const DEFAULT_LANGUAGE: &str = "en";
pub const DEFAULT_PUSH_ID: &str = "feeds/mcudyrk2a4khkz";

impl PageValues {
    /// The values in a page, or `None` when it holds none of them: the sign
    /// that the cookies were not accepted.
    pub fn extract(html: &str) -> Option<PageValues> {
        let values = PageValues {
            access_token: find_value(html, "SNlM0e"),
            build_label: find_value(html, "cfb2h"),
            session_id: find_value(html, "FdrFJe"),
            language: find_value(html, "TuX5cc"),
            push_id: find_value(html, "qKIAYe"),
        };
        (values != PageValues::default()).then_some(values)
    }

    pub fn language(&self) -> &str {
        self.language.as_deref().unwrap_or(DEFAULT_LANGUAGE)
    }

    pub fn push_id(&self) -> &str {
        self.push_id.as_deref().unwrap_or(DEFAULT_PUSH_ID)
    }
}

/// The JSON string value following the first `"key":` in the page.
fn find_value(html: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\":");
    let mut search_from = 0;
    while let Some(found) = html[search_from..].find(&needle) {
        let after = search_from + found + needle.len();
        let rest = html[after..].trim_start();
        if let Some(value) = rest.strip_prefix('"').and_then(json_string_body)
            && let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{value}\""))
        {
            return Some(decoded).filter(|v| !v.is_empty());
        }
        search_from = after;
    }
    None
}

/// The body of a JSON string (after its opening quote), up to the closing one.
fn json_string_body(text: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(&text[..i]),
            '\n' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<html><script>window.WIZ_global_data = {"SNlM0e":"AFxxSYNTHETIC-at-token:1700000000000",
"cfb2h":"boq_assistant-bard-web-server_20260401.07_p0","FdrFJe":"-4611686018427387904",
"TuX5cc":"en","qKIAYe":"feeds/mcudyrk2a4khkz"};</script></html>"#;

    #[test]
    fn all_five_values_are_found() {
        let values = PageValues::extract(PAGE).unwrap();
        assert_eq!(
            values.access_token.as_deref(),
            Some("AFxxSYNTHETIC-at-token:1700000000000")
        );
        assert_eq!(
            values.build_label.as_deref(),
            Some("boq_assistant-bard-web-server_20260401.07_p0")
        );
        assert_eq!(values.session_id.as_deref(), Some("-4611686018427387904"));
        assert_eq!(values.language(), "en");
        assert_eq!(values.push_id(), "feeds/mcudyrk2a4khkz");
    }

    #[test]
    fn escapes_and_whitespace_are_handled() {
        let page = r#"x "SNlM0e": "a\u003db\"c" y "TuX5cc" : "fr""#;
        let values = PageValues::extract(page).unwrap();
        assert_eq!(values.access_token.as_deref(), Some("a=b\"c"));
        // `"TuX5cc" :` is not the pattern (space before the colon).
        assert_eq!(values.language, None);
        assert_eq!(values.language(), DEFAULT_LANGUAGE);
    }

    #[test]
    fn a_page_without_values_is_none() {
        assert_eq!(PageValues::extract("<html>Sign in</html>"), None);
        assert_eq!(PageValues::extract(r#""SNlM0e":null"#), None);
    }

    #[test]
    fn a_non_string_occurrence_is_skipped() {
        let page = r#""SNlM0e":1,"SNlM0e":"tok""#;
        assert_eq!(
            PageValues::extract(page).unwrap().access_token.as_deref(),
            Some("tok")
        );
    }
}
