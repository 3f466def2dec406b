//! The HS256 JWT the widget API wants, signed here with the key `getoxsrf`
//! hands out, and the rule for reusing it.

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const ISSUER: &str = "https://business.gemini.google";
pub const AUDIENCE: &str = "https://biz-discoveryengine.googleapis.com";
/// What every known client puts between `iat` and `exp`.
pub const LIFETIME_SECONDS: u64 = 300;
/// Reuse a token for less than its lifetime, so it never expires in flight.
pub const REUSE_SECONDS: u64 = 270;

/// base64url that accepts the key with or without `=` padding.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The signing key of `getoxsrf`: `keyId` and the decoded `xsrfToken`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub key_id: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKey;

impl SigningKey {
    pub fn from_xsrf_token(xsrf_token: &str, key_id: &str) -> Result<Self, InvalidKey> {
        let secret = LENIENT_URL_SAFE
            .decode(xsrf_token.trim())
            .map_err(|_| InvalidKey)?;
        if secret.is_empty() || key_id.is_empty() {
            return Err(InvalidKey);
        }
        Ok(SigningKey {
            key_id: key_id.to_string(),
            secret,
        })
    }
}

/// A signed token for `csesidx`, valid from `now` for [`LIFETIME_SECONDS`].
///
/// Header and claims are written in the key order all known clients use;
/// whether the server cares is UNCONFIRMED, so this keeps it.
pub fn sign(key: &SigningKey, csesidx: &str, now: u64) -> String {
    let header = format!(
        r#"{{"alg":"HS256","typ":"JWT","kid":{}}}"#,
        json_string(&key.key_id)
    );
    let claims = format!(
        r#"{{"iss":{},"aud":{},"sub":{},"iat":{now},"exp":{},"nbf":{now}}}"#,
        json_string(ISSUER),
        json_string(AUDIENCE),
        json_string(&format!("csesidx/{csesidx}")),
        now + LIFETIME_SECONDS,
    );
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A token kept in the plugin's state between requests.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedJwt {
    pub token: String,
    /// The account it was signed for, so a changed secret never reuses it.
    pub csesidx: String,
    pub issued_at: u64,
}

impl std::fmt::Debug for CachedJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedJwt")
            .field("csesidx", &self.csesidx)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

impl CachedJwt {
    pub fn usable(&self, csesidx: &str, now: u64) -> bool {
        self.csesidx == csesidx && now >= self.issued_at && now < self.issued_at + REUSE_SECONDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of `docs/protocols/gemini-business.md`, "Signing key
    /// and JWT" (computed independently of this code).
    const VECTOR_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImtpZC1zeW50aGV0aWMtMDEifQ.eyJpc3MiOiJodHRwczovL2J1c2luZXNzLmdlbWluaS5nb29nbGUiLCJhdWQiOiJodHRwczovL2Jpei1kaXNjb3ZlcnllbmdpbmUuZ29vZ2xlYXBpcy5jb20iLCJzdWIiOiJjc2VzaWR4LzEyMzQ1Njc4OTAiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMCwibmJmIjoxNzAwMDAwMDAwfQ.C9MUSyZ415W16lbZU5dmzuRtO9iSK9HwqyNmPGi75J4";

    #[test]
    fn the_protocol_test_vector_is_reproduced() {
        let key = SigningKey::from_xsrf_token(
            "c3ludGhldGljLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM",
            "kid-synthetic-01",
        )
        .unwrap();
        assert_eq!(sign(&key, "1234567890", 1_700_000_000), VECTOR_JWT);
    }

    #[test]
    fn a_padded_key_decodes_the_same() {
        let unpadded =
            SigningKey::from_xsrf_token("c3ludGhldGljLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM", "k")
                .unwrap();
        let padded =
            SigningKey::from_xsrf_token("c3ludGhldGljLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmM=", "k")
                .unwrap();
        assert_eq!(unpadded, padded);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(SigningKey::from_xsrf_token("", "k"), Err(InvalidKey));
        assert_eq!(SigningKey::from_xsrf_token("***", "k"), Err(InvalidKey));
        assert_eq!(SigningKey::from_xsrf_token("c2VjcmV0", ""), Err(InvalidKey));
    }

    #[test]
    fn a_cached_token_is_reused_for_less_than_its_lifetime() {
        let cached = CachedJwt {
            token: "t".into(),
            csesidx: "1".into(),
            issued_at: 1000,
        };
        assert!(cached.usable("1", 1000));
        assert!(cached.usable("1", 1000 + REUSE_SECONDS - 1));
        assert!(!cached.usable("1", 1000 + REUSE_SECONDS));
        assert!(!cached.usable("2", 1001));
        // A clock that went backwards does not trust it either.
        assert!(!cached.usable("1", 999));
        const { assert!(REUSE_SECONDS < LIFETIME_SECONDS) };
    }
}
