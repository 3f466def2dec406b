//! The RS256-signed JWT a service account exchanges for an access token
//! (`docs/protocols/vertex.md`, "Service-account JWT").
//!
//! `base64url(header) . base64url(claims) . base64url(signature)`, unpadded,
//! the signature being RSASSA-PKCS1-v1_5 with SHA-256 over the first two
//! segments. Signing this way needs no randomness, so the plugin does not
//! depend on a random-number source.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde::Serialize;
use sha2::Sha256;

use crate::credentials::ServiceAccount;

/// The scope Vertex needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The audience google-auth always uses, whatever the file's `token_uri`.
pub const AUDIENCE: &str = "https://oauth2.googleapis.com/token";
/// `exp - iat`: Google accepts at most one hour.
pub const LIFETIME_SECS: u64 = 3600;

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// A private key ready to sign.
pub struct RsaSigner(SigningKey<Sha256>);

/// The PEM is not an RSA private key this plugin can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError;

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "its private_key is not an RSA private key in PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`)",
        )
    }
}

impl RsaSigner {
    /// Reads a PKCS#8 PEM (what Google's key files hold), or PKCS#1.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError)?;
        Ok(RsaSigner(SigningKey::<Sha256>::new(key)))
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).to_vec()
    }
}

/// The signed assertion for `account`, issued at `now` (Unix seconds).
pub fn assertion(account: &ServiceAccount, signer: &RsaSigner, now: u64) -> String {
    let header = Header {
        alg: "RS256",
        typ: "JWT",
        kid: account.private_key_id.as_deref(),
    };
    let claims = Claims {
        iss: &account.client_email,
        scope: SCOPE,
        aud: AUDIENCE,
        iat: now,
        exp: now + LIFETIME_SECS,
    };
    let mut token = format!("{}.{}", segment(&header), segment(&claims));
    let signature = signer.sign(token.as_bytes());
    token.push('.');
    token.push_str(&BASE64URL.encode(signature));
    token
}

fn segment(value: &impl Serialize) -> String {
    // Serializing these plain structs cannot fail.
    let json = serde_json::to_vec(value).unwrap_or_default();
    BASE64URL.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier as _;
    use serde_json::{Value, json};

    fn account(kid: Option<&str>) -> ServiceAccount {
        ServiceAccount {
            client_email: mock_vertex::keys::CLIENT_EMAIL.into(),
            private_key_pem: mock_vertex::keys::TEST_PRIVATE_KEY_PEM.into(),
            private_key_id: kid.map(str::to_string),
            project_id: Some(mock_vertex::keys::PROJECT_ID.into()),
            token_uri: None,
        }
    }

    fn decode(segment: &str) -> Value {
        serde_json::from_slice(&BASE64URL.decode(segment).unwrap()).unwrap()
    }

    #[test]
    fn header_claims_and_signature() {
        let account = account(Some("key-1"));
        let signer = RsaSigner::from_pem(&account.private_key_pem).unwrap();
        let jwt = assertion(&account, &signer, 1_767_225_600);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!jwt.contains('='), "unpadded");
        assert_eq!(
            decode(parts[0]),
            json!({"alg": "RS256", "typ": "JWT", "kid": "key-1"})
        );
        assert_eq!(
            decode(parts[1]),
            json!({
                "iss": mock_vertex::keys::CLIENT_EMAIL,
                "scope": "https://www.googleapis.com/auth/cloud-platform",
                "aud": "https://oauth2.googleapis.com/token",
                "iat": 1_767_225_600u64,
                "exp": 1_767_229_200u64,
            })
        );

        // The signature verifies with the public half over the first two segments.
        let key = RsaPrivateKey::from_pkcs8_pem(&account.private_key_pem).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(key.to_public_key());
        let signature =
            Signature::try_from(BASE64URL.decode(parts[2]).unwrap().as_slice()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        assert!(verifier.verify(b"something else", &signature).is_err());
    }

    #[test]
    fn signing_is_deterministic_and_kid_optional() {
        let account = account(None);
        let signer = RsaSigner::from_pem(&account.private_key_pem).unwrap();
        let first = assertion(&account, &signer, 100);
        assert_eq!(first, assertion(&account, &signer, 100));
        let header = decode(first.split('.').next().unwrap());
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
    }

    #[test]
    fn the_mock_token_endpoint_accepts_it() {
        let account = account(Some(mock_vertex::keys::PRIVATE_KEY_ID));
        let signer = RsaSigner::from_pem(&account.private_key_pem).unwrap();
        let now = mock_vertex::unix_now();
        let claims = mock_vertex::oauth::verify_assertion(&assertion(&account, &signer, now), now);
        assert_eq!(
            claims.map(|c| c.iss),
            Ok(mock_vertex::keys::CLIENT_EMAIL.to_string())
        );
    }

    #[test]
    fn pkcs1_keys_are_read_too_and_garbage_is_refused() {
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let key = RsaPrivateKey::from_pkcs8_pem(mock_vertex::keys::TEST_PRIVATE_KEY_PEM).unwrap();
        let pkcs1 = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(RsaSigner::from_pem(&pkcs1).is_ok());
        assert!(
            RsaSigner::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        assert!(RsaSigner::from_pem("").is_err());
    }
}
