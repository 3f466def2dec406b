//! batchexecute: the web app's generic RPC envelope, and the calls the
//! plugin makes through it: `otAQ7b` (account status and model list),
//! `ESY5D` (the activity heartbeat the web app sends before generating) and
//! `hNvQHb` (read a chat back after an interrupted answer).

use serde_json::{Value, json};
use wasmgate_plugin_sdk::http::encode_component;

use crate::framing::FrameParser;
use crate::generate_request;
use crate::json_path::{at, str_at};
use crate::models::{self, Discovered, Listed};
use crate::page::PageValues;

pub const BATCH_PATH: &str = "/_/BardChatUi/data/batchexecute";
pub const USER_STATUS: &str = "otAQ7b";
pub const SETTINGS: &str = "ESY5D";
/// The URL of a generated image's original (full-size) rendition.
pub const FULL_SIZE_IMAGE: &str = "c8o8Fe";
/// Read a conversation's turns (to recover an interrupted answer).
pub const READ_CHAT: &str = "hNvQHb";
/// The heartbeat's payload: read one setting.
pub const ACTIVITY_PAYLOAD: &str = r#"[[["bard_activity_enabled"]]]"#;
/// `otAQ7b` `[14]` of a signed-out (guest) session.
pub const UNAUTHENTICATED: i64 = 1016;
/// The model header batchexecute calls carry (no model is selected).
pub const BATCH_MODEL_HEADER: &str = "[1,null,null,null,null,null,null,null,[4]]";

/// The query string of a call: the RPC and its page, then what every call
/// to the app carries (StreamGenerate's query).
pub fn query(rpcid: &str, page: &PageValues, request_counter: u32) -> String {
    format!(
        "rpcids={}&source-path=%2Fapp&{}",
        encode_component(rpcid),
        generate_request::query(page, request_counter)
    )
}

/// The form body of one call: `at` (empty for a guest page) and `f.req`.
pub fn form_body(access_token: Option<&str>, rpcid: &str, payload: &str) -> String {
    let f_req = json!([[[rpcid, payload, null, "generic"]]]).to_string();
    format!(
        "at={}&f.req={}",
        encode_component(access_token.unwrap_or_default()),
        encode_component(&f_req)
    )
}

/// The `c8o8Fe` payload for one generated image of a reply.
pub fn full_size_payload(image_id: &str, cid: &str, rid: &str, rcid: &str) -> String {
    json!([
        [
            [null, null, null, [null, null, null, null, null, ""]],
            [image_id, 0],
            null,
            [19, ""],
            null,
            null,
            null,
            null,
            null,
            ""
        ],
        [rid, rcid, cid, null, ""],
        1,
        0,
        1
    ])
    .to_string()
}

/// The decoded payload the answer carries for `rpcid`, if any.
pub fn payload(body: &[u8], rpcid: &str) -> Option<Value> {
    let mut parser = FrameParser::new();
    let mut frames = parser.push(body).ok()?;
    frames.extend(parser.finish().unwrap_or_default());
    frames
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter(|part| str_at(part, &[0]) == Some("wrb.fr") && str_at(part, &[1]) == Some(rpcid))
        .find_map(|part| str_at(part, &[2]).and_then(|text| serde_json::from_str(text).ok()))
}

/// What `otAQ7b` says about the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatus {
    /// `[14]`; absent means available.
    pub code: Option<i64>,
    pub discovered: Discovered,
}

impl UserStatus {
    pub fn signed_out(&self) -> bool {
        self.code == Some(UNAUTHENTICATED)
    }
}

/// Reads the `otAQ7b` payload: `[14]` status, `[15]` models
/// (`[id, display name, description, …]`, the model number at `[17]` in
/// newer answers or `[9]`), `[16]` tier flags, `[17]` capability flags.
pub fn user_status(payload: &Value) -> UserStatus {
    let flags = |index: usize| -> Vec<i64> {
        at(payload, &[index])
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default()
    };
    let models = at(payload, &[15])
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|entry| {
                    let id = str_at(entry, &[0])?;
                    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    let number = [17, 9]
                        .iter()
                        .find_map(|&i| at(entry, &[i]).and_then(Value::as_u64))
                        .and_then(|n| u32::try_from(n).ok());
                    Some(Listed {
                        id: id.to_ascii_lowercase(),
                        display: str_at(entry, &[1]).unwrap_or_default().to_string(),
                        number,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    UserStatus {
        code: at(payload, &[14]).and_then(Value::as_i64),
        discovered: Discovered {
            models,
            capacity: models::capacity(&flags(16), &flags(17)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(json: &str) -> Vec<u8> {
        let units = json.encode_utf16().count() + 2;
        format!(")]}}'\n\n{units}\n{json}\n").into_bytes()
    }

    #[test]
    fn the_status_payload_is_found_and_read() {
        let mut status = vec![Value::Null; 18];
        status[14] = json!(1000);
        status[15] = json!([
            [
                "fbb127bbb056c959",
                "Fast",
                "quick",
                null,
                null,
                null,
                null,
                null,
                null,
                1
            ],
            ["cf41b0e0dd7d53e5", "Flash-Lite", "lighter"],
            ["not hex", "Broken"]
        ]);
        status[17] = json!([115]);
        let part = json!([[
            "wrb.fr",
            "otAQ7b",
            Value::Array(status).to_string(),
            null,
            null,
            null,
            "generic"
        ]]);
        let body = framed(&part.to_string());
        let payload = payload(&body, USER_STATUS).unwrap();
        let status = user_status(&payload);
        assert!(!status.signed_out());
        assert_eq!(status.discovered.capacity, 4);
        assert_eq!(status.discovered.models.len(), 2);
        assert_eq!(status.discovered.models[0].number, Some(1));
        // No number: known by its id.
        assert_eq!(status.discovered.models[1].name(), "gemini-3-flash-lite");
        assert_eq!(super::payload(&body, SETTINGS), None);
    }

    #[test]
    fn a_guest_is_signed_out() {
        let status = user_status(&json!([
            null, null, null, null, null, null, null, null, null, null, null, null, null, null,
            1016
        ]));
        assert!(status.signed_out());
        assert!(status.discovered.models.is_empty());
    }

    #[test]
    fn the_form_and_query() {
        let body = form_body(None, USER_STATUS, "[]");
        assert!(body.starts_with("at=&f.req="));
        let page = PageValues::default();
        assert_eq!(
            query(SETTINGS, &page, 7),
            "rpcids=ESY5D&source-path=%2Fapp&hl=en&_reqid=7&rt=c"
        );
    }
}
