//! Unsigned test JWTs, shaped like chat.qwen.ai's (`id` and `exp` claims).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A JWT for account `id` expiring at `exp` (Unix seconds). The signature is
/// a placeholder: the mock checks only the claims.
pub fn test_jwt(id: &str, exp: u64) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(json!({"id": id, "exp": exp}).to_string()),
        URL_SAFE_NO_PAD.encode("mock-signature")
    )
}

/// The claims of a JWT, if it is one.
pub fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Lower-case hex SHA-256, as chat.qwen.ai's sign-in wants the password.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
