//! Where requests go, and the names an account configures.

use wasmgate_plugin_sdk::http::encode_component;

/// The public origin; an account's `base-url` setting replaces it.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// The host the manifest asks to reach.
pub const PUBLIC_HOST: &str = "generativelanguage.googleapis.com";
/// The API version every path uses (the one google-genai and hajimi use).
const API_VERSION: &str = "v1beta";

/// The account's API key (`AIza…`, `AQ.…`: any non-empty value is sent).
pub const API_KEY_SECRET: &str = "api-key";
/// The header carrying the key; never the `?key=` query, which ends up in logs.
pub const API_KEY_HEADER: &str = "x-goog-api-key";
/// Optional threshold for every harm category (`OFF`, `BLOCK_NONE`, …).
pub const SAFETY_THRESHOLD_SETTING: &str = "safety-threshold";

/// Models asked for per page of `models.list` (the API's maximum).
pub const MODELS_PAGE_SIZE: u32 = 1000;

/// `:streamGenerateContent?alt=sse` for a streaming request, else `:generateContent`.
pub fn generate_url(base_url: &str, model: &str, stream: bool) -> String {
    let model = encode_component(model.strip_prefix("models/").unwrap_or(model));
    if stream {
        format!("{base_url}/{API_VERSION}/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{base_url}/{API_VERSION}/models/{model}:generateContent")
    }
}

/// One page of `GET /v1beta/models`.
pub fn models_url(base_url: &str, page_token: Option<&str>) -> String {
    let mut url = format!("{base_url}/{API_VERSION}/models?pageSize={MODELS_PAGE_SIZE}");
    if let Some(token) = page_token {
        url.push_str("&pageToken=");
        url.push_str(&encode_component(token));
    }
    url
}

/// `image-url` values Gemini reads itself: files uploaded with its Files API.
pub fn file_uri_prefixes(base_url: &str) -> Vec<String> {
    let mut prefixes = vec![format!("{DEFAULT_BASE_URL}/{API_VERSION}/files/")];
    if base_url != DEFAULT_BASE_URL {
        prefixes.push(format!("{base_url}/{API_VERSION}/files/"));
    }
    prefixes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_urls() {
        assert_eq!(
            generate_url(DEFAULT_BASE_URL, "gemini-2.5-flash", true),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            generate_url("http://127.0.0.1:9000", "models/gemini-2.5-pro", false),
            "http://127.0.0.1:9000/v1beta/models/gemini-2.5-pro:generateContent"
        );
        // A model name cannot escape its path segment.
        assert_eq!(
            generate_url("http://h", "../x?key=1", false),
            "http://h/v1beta/models/..%2Fx%3Fkey%3D1:generateContent"
        );
    }

    #[test]
    fn model_list_urls() {
        assert_eq!(
            models_url("http://h", None),
            "http://h/v1beta/models?pageSize=1000"
        );
        assert_eq!(
            models_url("http://h", Some("Cg5t+b2Nr/")),
            "http://h/v1beta/models?pageSize=1000&pageToken=Cg5t%2Bb2Nr%2F"
        );
    }
}
