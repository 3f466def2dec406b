//! The StreamGenerate request: the double-encoded `f.req` form, its query and
//! its headers.
//!
//! `f.req` is `[null, "<inner JSON>"]`: the inner request list is serialised,
//! and that string is embedded in the outer array, which is serialised again.

use serde_json::{Value, json};
use wasmgate_plugin_sdk::http::encode_component;

use crate::models::Model;
use crate::page::PageValues;

/// Where the page sends its requests from; the upstream checks it.
pub const ORIGIN: &str = "https://gemini.google.com";
pub const REFERER: &str = "https://gemini.google.com/";
pub const GENERATE_PATH: &str =
    "/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=utf-8";
/// The newest reference client impersonates Chrome; older ones sent its UA.
pub const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36";

/// A file already uploaded, as the prompt references it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The opaque identifier the upload endpoint answered.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Generate<'a> {
    pub prompt: &'a str,
    pub files: &'a [UploadedFile],
    pub language: &'a str,
    /// Upper-case UUID, also sent in header `x-goog-ext-525005358-jspb`.
    pub request_id: &'a str,
    /// A temporary chat is not saved to the account's history.
    pub temporary: bool,
    /// The model number (`None`: the server's default model).
    pub model_number: Option<u32>,
    /// 1 normal, 2 extended thinking.
    pub thinking: u8,
}

/// Slots of the inner request list: 81 in browser captures since mid-2026
/// (69 before; the service answers that shape with in-band 1052).
const INNER_SLOTS: usize = 81;

/// The inner request list for a new conversation. The slot layout is the
/// reverse-engineered part most likely to change: it lives here only.
pub fn inner_request(request: &Generate) -> Value {
    let files = (!request.files.is_empty()).then(|| {
        request
            .files
            .iter()
            .map(|file| json!([[file.id], file.name]))
            .collect::<Vec<_>>()
    });
    let mut slots = vec![Value::Null; INNER_SLOTS];
    slots[0] = json!([request.prompt, 0, null, files, null, null, 0]);
    slots[1] = json!([request.language]);
    // A new conversation: no cid/rid/rcid, no context token.
    slots[2] = json!(["", "", "", null, null, null, null, null, null, ""]);
    slots[6] = json!([1]);
    slots[7] = json!(1); // streaming
    slots[10] = json!(1);
    slots[11] = json!(0);
    slots[17] = json!([[0]]);
    slots[18] = json!(0);
    slots[27] = json!(1);
    slots[30] = json!([4]);
    slots[41] = json!([1]);
    if request.temporary {
        slots[45] = json!(1);
    }
    slots[53] = json!(0);
    slots[59] = json!(request.request_id);
    slots[61] = json!([]);
    slots[68] = json!(1);
    slots[79] = json!(request.model_number);
    slots[80] = json!(request.thinking);
    Value::Array(slots)
}

/// The `f.req` form value.
pub fn f_req(inner: &Value) -> String {
    json!([null, inner.to_string()]).to_string()
}

/// The form body: `at=<token>&f.req=<json>`; `at` is empty (as the web app
/// sends it) when the page did not carry one.
pub fn form_body(access_token: Option<&str>, f_req: &str) -> String {
    let mut body = String::from("at=");
    body.push_str(&encode_component(access_token.unwrap_or_default()));
    body.push('&');
    body.push_str("f.req=");
    body.push_str(&encode_component(f_req));
    body
}

/// The query string: `bl` and `f.sid` only when the page gave them.
pub fn query(page: &PageValues, request_counter: u32) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(bl) = &page.build_label {
        pairs.push(("bl", bl.clone()));
    }
    if let Some(sid) = &page.session_id {
        pairs.push(("f.sid", sid.clone()));
    }
    pairs.push(("hl", page.language().to_string()));
    pairs.push(("_reqid", request_counter.to_string()));
    pairs.push(("rt", "c".to_string()));
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The headers besides cookies. `client_id` is the account's client
/// session UUID (the model header's last element).
pub fn headers(model: &Model, request_id: &str, client_id: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("content-type", FORM_CONTENT_TYPE.to_string()),
        ("origin", ORIGIN.to_string()),
        ("referer", REFERER.to_string()),
        ("x-same-domain", "1".to_string()),
        ("user-agent", USER_AGENT.to_string()),
        ("x-goog-ext-525005358-jspb", format!("[\"{request_id}\",1]")),
    ];
    if let Some(model_header) = model.header(client_id) {
        headers.push(("x-goog-ext-525001261-jspb", model_header));
        headers.push(("x-goog-ext-73010989-jspb", "[0]".to_string()));
        headers.push(("x-goog-ext-73010990-jspb", "[0,0,0]".to_string()));
    }
    headers
}

/// Formats 16 random bytes as an upper-case UUID v4.
pub fn uuid_v4(random: [u8; 16]) -> String {
    let mut bytes = random;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::resolve;

    fn decode_component(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn form_field(body: &str, name: &str) -> Option<String> {
        body.split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(decode_component)
    }

    #[test]
    fn f_req_is_double_encoded_and_round_trips() {
        let files = [UploadedFile {
            id: "/contrib_service/ttl_1d/abc".into(),
            name: "image_1.png".into(),
        }];
        let request = Generate {
            prompt: "Héllo \"there\" & 👋",
            files: &files,
            language: "en",
            request_id: "9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D",
            temporary: true,
            model_number: Some(3),
            thinking: 2,
        };
        let body = form_body(Some("tok:1"), &f_req(&inner_request(&request)));
        assert_eq!(form_field(&body, "at").as_deref(), Some("tok:1"));
        let outer: Value = serde_json::from_str(&form_field(&body, "f.req").unwrap()).unwrap();
        assert_eq!(outer[0], Value::Null);
        let inner: Value = serde_json::from_str(outer[1].as_str().unwrap()).unwrap();
        assert_eq!(inner.as_array().unwrap().len(), INNER_SLOTS);
        assert_eq!(inner[0][0], "Héllo \"there\" & 👋");
        assert_eq!(
            inner[0][3],
            json!([[["/contrib_service/ttl_1d/abc"], "image_1.png"]])
        );
        assert_eq!(inner[1], json!(["en"]));
        assert_eq!(inner[2][0], "");
        assert_eq!(inner[7], 1);
        assert_eq!(inner[45], 1);
        assert_eq!(inner[59], "9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D");
        assert_eq!(inner[68], 1);
        assert_eq!(inner[79], 3);
        assert_eq!(inner[80], 2);
    }

    #[test]
    fn no_files_and_no_token() {
        let request = Generate {
            prompt: "hi",
            files: &[],
            language: "en",
            request_id: "X",
            temporary: false,
            model_number: None,
            thinking: 1,
        };
        let inner = inner_request(&request);
        assert_eq!(inner[0][3], Value::Null);
        assert_eq!(inner[45], Value::Null);
        assert!(form_body(None, "[]").starts_with("at=&f.req="));
    }

    #[test]
    fn query_leaves_out_unknown_values() {
        let mut page = PageValues {
            build_label: Some("boq_x_1.0".into()),
            session_id: Some("-46".into()),
            ..PageValues::default()
        };
        assert_eq!(
            query(&page, 12345),
            "bl=boq_x_1.0&f.sid=-46&hl=en&_reqid=12345&rt=c"
        );
        page.build_label = None;
        page.session_id = None;
        assert_eq!(query(&page, 1), "hl=en&_reqid=1&rt=c");
    }

    #[test]
    fn headers_carry_the_model_and_the_request_id() {
        let id = uuid_v4([0xAB; 16]);
        assert_eq!(id, "ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB");
        let headers = headers(&resolve("gemini-3-flash", None, None).unwrap(), &id, &id);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("x-goog-ext-525005358-jspb"),
            Some("[\"ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB\",1]")
        );
        assert!(
            get("x-goog-ext-525001261-jspb")
                .unwrap()
                .contains("fbb127bbb056c959")
        );
        assert_eq!(get("x-goog-ext-73010990-jspb"), Some("[0,0,0]"));
        let default = super::headers(&resolve("unspecified", None, None).unwrap(), &id, &id);
        assert!(
            default
                .iter()
                .all(|(k, _)| *k != "x-goog-ext-525001261-jspb")
        );
    }
}
