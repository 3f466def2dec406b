//! Request bodies and response fields of the widget API
//! (`biz-discoveryengine.googleapis.com/v1alpha/locations/global/…`).
//!
//! Every body shares the envelope `{"configId", "additionalParams":
//! {"token": "-"}, "<method>Request": {…}}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wasmgate_plugin_sdk::http::encode_component;

use crate::models::ModelSpec;

pub const DEFAULT_API_ORIGIN: &str = "https://biz-discoveryengine.googleapis.com";
/// The browser app the widget API expects requests from.
pub const APP_ORIGIN: &str = "https://business.gemini.google";

const METHODS_PATH: &str = "/v1alpha/locations/global";

/// Endpoint URL of a widget method such as `widgetCreateSession`.
pub fn method_url(api_origin: &str, method: &str) -> String {
    format!("{api_origin}{METHODS_PATH}/{method}")
}

fn envelope(config_id: &str, request_key: &str, request: Value) -> Value {
    let mut body = json!({
        "configId": config_id,
        "additionalParams": {"token": "-"},
    });
    body[request_key] = request;
    body
}

pub fn create_session(config_id: &str) -> Value {
    envelope(
        config_id,
        "createSessionRequest",
        json!({"session": {"name": "", "displayName": ""}}),
    )
}

pub fn add_context_file(
    config_id: &str,
    session: &str,
    file_name: &str,
    mime_type: &str,
    data: &[u8],
) -> Value {
    envelope(
        config_id,
        "addContextFileRequest",
        json!({
            "name": session,
            "fileName": file_name,
            "mimeType": mime_type,
            "fileContents": STANDARD.encode(data),
        }),
    )
}

/// Locale fields of an ask; the values matter little to the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    pub language_code: String,
    pub time_zone: String,
}

impl Default for Locale {
    fn default() -> Self {
        Locale {
            language_code: "en-US".into(),
            time_zone: "Etc/GMT".into(),
        }
    }
}

pub fn stream_assist(
    config_id: &str,
    session: &str,
    query: &str,
    file_ids: &[String],
    model: &ModelSpec,
    locale: &Locale,
) -> Value {
    let mut request = json!({
        "session": session,
        "query": {"parts": [{"text": query}]},
        "filter": "",
        "fileIds": file_ids,
        "answerGenerationMode": "NORMAL",
        "toolsSpec": model.tools.spec(),
        "languageCode": locale.language_code,
        "userMetadata": {"timeZone": locale.time_zone},
        "assistSkippingMode": "REQUEST_ASSIST",
    });
    // "auto" omits the field and lets the server choose.
    if let Some(model_id) = model.upstream_id {
        request["assistGenerationConfig"] = json!({"modelId": model_id});
    }
    envelope(config_id, "streamAssistRequest", request)
}

pub fn list_generated_files(config_id: &str, session: &str) -> Value {
    envelope(
        config_id,
        "listSessionFileMetadataRequest",
        json!({"name": session, "filter": "file_origin_type = AI_GENERATED"}),
    )
}

/// `session.name` of a `widgetCreateSession` answer.
pub fn session_name(body: &Value) -> Option<String> {
    non_empty(&body["session"]["name"])
}

/// `addContextFileResponse.fileId` of a `widgetAddContextFile` answer.
pub fn uploaded_file_id(body: &Value) -> Option<String> {
    non_empty(&body["addContextFileResponse"]["fileId"])
}

/// `(fileId, full session path)` pairs of a `widgetListSessionFileMetadata`
/// answer.
pub fn generated_file_sessions(body: &Value) -> Vec<(String, String)> {
    let Some(entries) = body["listSessionFileMetadataResponse"]["fileMetadata"].as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| Some((non_empty(&entry["fileId"])?, non_empty(&entry["session"])?)))
        .collect()
}

fn non_empty(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// Where a generated file's bytes are.
///
/// UNCONFIRMED which form is canonical: the seed uses
/// `/v1alpha/<session>:downloadFile`, XxxXTeam `/download/v1alpha/…` with the
/// full session path. This uses the seed's.
pub fn download_url(api_origin: &str, session: &str, file_id: &str) -> String {
    let session = session.trim_matches('/');
    format!(
        "{api_origin}/v1alpha/{session}:downloadFile?fileId={}&alt=media",
        encode_component(file_id)
    )
}

/// `scheme://authority` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    Some(&url[..end])
}

/// Whether `url` is on `origin` (compared case-insensitively).
pub fn same_origin(url: &str, origin: &str) -> bool {
    origin_of(url).is_some_and(|o| o.eq_ignore_ascii_case(origin.trim_end_matches('/')))
}

/// A redirect's `Location` against the URL it answered: absolute, or a path
/// on the same origin.
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("https://") || location.starts_with("http://") {
        return Some(location.to_string());
    }
    // `//host/…` would leave the origin; only same-origin paths are taken.
    if !location.starts_with('/') || location.starts_with("//") {
        return None;
    }
    Some(format!("{}{location}", origin_of(base)?))
}

/// `upload_<unix>_<6 hex>.<ext>`, the name the seed gives uploads.
pub fn upload_file_name(now: u64, salt: u32, mime_type: &str) -> String {
    format!(
        "upload_{now}_{:06x}.{}",
        salt & 0xff_ffff,
        extension(mime_type)
    )
}

fn extension(mime_type: &str) -> &'static str {
    let essence = mime_type.split(';').next().unwrap_or("").trim();
    match essence.to_ascii_lowercase().as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/markdown" => "md",
        "text/csv" => "csv",
        "text/html" => "html",
        "application/json" => "json",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" => "wav",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::find;

    #[test]
    fn the_ask_body_has_the_documented_shape() {
        let body = stream_assist(
            "cfg",
            "collections/default_collection/engines/agentspace-engine/sessions/1",
            "Summarise",
            &["file-1".to_string()],
            find("gemini-2.5-pro").unwrap(),
            &Locale::default(),
        );
        assert_eq!(body["configId"], "cfg");
        assert_eq!(body["additionalParams"], json!({"token": "-"}));
        let request = &body["streamAssistRequest"];
        assert_eq!(request["query"], json!({"parts": [{"text": "Summarise"}]}));
        assert_eq!(request["fileIds"], json!(["file-1"]));
        assert_eq!(
            request["assistGenerationConfig"],
            json!({"modelId": "gemini-2.5-pro"})
        );
        assert_eq!(
            request["toolsSpec"]["toolRegistry"],
            "default_tool_registry"
        );
    }

    #[test]
    fn auto_and_imagen_omit_the_model() {
        for id in ["gemini-auto", "gemini-imagen"] {
            let body = stream_assist("c", "s", "q", &[], find(id).unwrap(), &Locale::default());
            assert!(
                body["streamAssistRequest"]
                    .get("assistGenerationConfig")
                    .is_none()
            );
        }
    }

    #[test]
    fn uploads_carry_standard_base64() {
        let body = add_context_file("c", "s", "upload_1_000001.png", "image/png", &[0xfb, 0xff]);
        assert_eq!(body["addContextFileRequest"]["fileContents"], "+/8=");
        assert_eq!(
            upload_file_name(17, 0x1abcdef, "image/jpeg"),
            "upload_17_abcdef.jpg"
        );
        assert_eq!(
            upload_file_name(17, 1, "application/x-foo"),
            "upload_17_000001.bin"
        );
    }

    #[test]
    fn redirects_resolve_and_origins_compare() {
        let base = "https://biz.example.com/v1alpha/x:downloadFile?fileId=1";
        assert_eq!(
            resolve(base, "/files/1").as_deref(),
            Some("https://biz.example.com/files/1")
        );
        assert_eq!(
            resolve(base, "https://cdn.example.net/a").as_deref(),
            Some("https://cdn.example.net/a")
        );
        assert_eq!(resolve(base, "//cdn.example.net/a"), None);
        assert_eq!(resolve(base, "relative"), None);
        assert!(same_origin(base, "https://BIZ.example.com/"));
        assert!(!same_origin(base, "https://biz.example.com:8443"));
        assert!(!same_origin(
            "https://biz.example.com.evil.net/",
            "https://biz.example.com"
        ));
    }

    #[test]
    fn answers_are_read() {
        assert_eq!(
            session_name(&json!({"session": {"name": "collections/x/sessions/7"}})),
            Some("collections/x/sessions/7".into())
        );
        assert_eq!(session_name(&json!({"session": {}})), None);
        assert_eq!(
            uploaded_file_id(&json!({"addContextFileResponse": {"fileId": "f1"}})),
            Some("f1".into())
        );
        let listed = json!({"listSessionFileMetadataResponse": {"fileMetadata": [
            {"fileId": "f1", "session": "projects/0/locations/global/collections/c/sessions/7", "mimeType": "image/png"},
            {"fileId": "f2"}
        ]}});
        assert_eq!(
            generated_file_sessions(&listed),
            vec![(
                "f1".into(),
                "projects/0/locations/global/collections/c/sessions/7".into()
            )]
        );
        assert_eq!(
            download_url("http://h", "/collections/c/sessions/7", "f 1"),
            "http://h/v1alpha/collections/c/sessions/7:downloadFile?fileId=f%201&alt=media"
        );
    }
}
