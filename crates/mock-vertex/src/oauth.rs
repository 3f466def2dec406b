//! The OAuth token endpoint's checks (`docs/protocols/vertex.md`,
//! "Service-account JWT" and "Token exchange"): the form, the grant type, and
//! the RS256 assertion, verified with the public half of the test key.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::Verifier as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::keys;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The only audience accepted, whatever URL the assertion was posted to.
pub const AUDIENCE: &str = "https://oauth2.googleapis.com/token";
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Longest `exp - iat` accepted.
pub const MAX_ASSERTION_LIFETIME: u64 = 3600;
/// Largest distance between `iat` and the mock's clock.
pub const MAX_CLOCK_SKEW: u64 = 300;

pub const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
pub const BAD_TIMEFRAME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// The claims of an accepted assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// A refused token request: the OAuth `error` and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

impl Refusal {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Refusal {
            error,
            description: description.into(),
        }
    }

    /// The JSON body Google sends with it.
    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

fn verifier() -> &'static VerifyingKey<Sha256> {
    static KEY: OnceLock<VerifyingKey<Sha256>> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = RsaPrivateKey::from_pkcs8_pem(keys::TEST_PRIVATE_KEY_PEM)
            .expect("the committed test key parses");
        VerifyingKey::new(key.to_public_key())
    })
}

/// Checks the form of a token request and returns the assertion.
pub fn assertion_of(form: &HashMap<String, String>) -> Result<&str, Refusal> {
    match form.get("grant_type").map(String::as_str) {
        Some(GRANT_TYPE) => {}
        Some(other) => {
            return Err(Refusal::new(
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            ));
        }
        None => {
            return Err(Refusal::new(
                "invalid_request",
                "Missing required parameter: grant_type",
            ));
        }
    }
    form.get("assertion")
        .map(String::as_str)
        .filter(|assertion| !assertion.is_empty())
        .ok_or_else(|| Refusal::new("invalid_request", "Missing required parameter: assertion"))
}

/// Verifies an assertion as Google's token endpoint would, at `now` (Unix s).
pub fn verify_assertion(jwt: &str, now: u64) -> Result<AssertionClaims, Refusal> {
    let malformed = || Refusal::new("invalid_grant", "Invalid JWT.");
    let mut segments = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed());
    };
    let decode = |segment: &str| BASE64URL.decode(segment).map_err(|_| malformed());
    let parsed_header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| malformed())?;
    let parsed_claims: AssertionClaims =
        serde_json::from_slice(&decode(claims)?).map_err(|_| malformed())?;

    let bad_signature = || Refusal::new("invalid_grant", BAD_SIGNATURE);
    if parsed_header.alg.as_deref() != Some("RS256")
        || parsed_header.kid.as_deref() != Some(keys::PRIVATE_KEY_ID)
    {
        return Err(bad_signature());
    }
    let signature =
        Signature::try_from(decode(signature)?.as_slice()).map_err(|_| bad_signature())?;
    verifier()
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| bad_signature())?;

    if parsed_claims.iss != keys::CLIENT_EMAIL {
        return Err(Refusal::new(
            "invalid_grant",
            "Invalid grant: account not found",
        ));
    }
    if parsed_claims.aud != AUDIENCE {
        return Err(Refusal::new(
            "invalid_grant",
            "Invalid JWT: Failed audience check.",
        ));
    }
    if !parsed_claims
        .scope
        .split_whitespace()
        .any(|scope| scope == CLOUD_PLATFORM_SCOPE)
    {
        return Err(Refusal::new(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let AssertionClaims { iat, exp, .. } = parsed_claims;
    if exp <= iat || exp - iat > MAX_ASSERTION_LIFETIME || iat.abs_diff(now) > MAX_CLOCK_SKEW {
        return Err(Refusal::new("invalid_grant", BAD_TIMEFRAME));
    }
    Ok(parsed_claims)
}

/// `application/x-www-form-urlencoded` fields.
pub fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (mock_kit::form_decode(name), mock_kit::form_decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding as _, Signer as _};

    fn sign(pem: &str, header: &Value, claims: &Value) -> String {
        let key = SigningKey::<Sha256>::new(RsaPrivateKey::from_pkcs8_pem(pem).unwrap());
        let signed = format!(
            "{}.{}",
            BASE64URL.encode(header.to_string()),
            BASE64URL.encode(claims.to_string())
        );
        let signature = key.sign(signed.as_bytes()).to_vec();
        format!("{signed}.{}", BASE64URL.encode(signature))
    }

    fn header() -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": keys::PRIVATE_KEY_ID})
    }

    fn claims(now: u64) -> Value {
        json!({"iss": keys::CLIENT_EMAIL, "scope": CLOUD_PLATFORM_SCOPE, "aud": AUDIENCE,
               "iat": now, "exp": now + 3600})
    }

    #[test]
    fn a_good_assertion_passes() {
        let jwt = sign(keys::TEST_PRIVATE_KEY_PEM, &header(), &claims(1000));
        assert_eq!(
            verify_assertion(&jwt, 1100).unwrap().iss,
            keys::CLIENT_EMAIL
        );
    }

    #[test]
    fn forged_or_tampered_assertions_fail_the_signature() {
        let forged = sign(keys::OTHER_PRIVATE_KEY_PEM, &header(), &claims(1000));
        assert_eq!(
            verify_assertion(&forged, 1000).unwrap_err().description,
            BAD_SIGNATURE
        );

        let good = sign(keys::TEST_PRIVATE_KEY_PEM, &header(), &claims(1000));
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut other_claims = claims(1000);
        other_claims["iss"] = "evil@x".into();
        parts[1] = BASE64URL.encode(other_claims.to_string());
        assert_eq!(
            verify_assertion(&parts.join("."), 1000)
                .unwrap_err()
                .description,
            BAD_SIGNATURE
        );

        let hs256 = sign(
            keys::TEST_PRIVATE_KEY_PEM,
            &json!({"alg": "HS256", "kid": keys::PRIVATE_KEY_ID}),
            &claims(1000),
        );
        assert_eq!(
            verify_assertion(&hs256, 1000).unwrap_err().description,
            BAD_SIGNATURE
        );
        let no_kid = sign(
            keys::TEST_PRIVATE_KEY_PEM,
            &json!({"alg": "RS256"}),
            &claims(1000),
        );
        assert_eq!(
            verify_assertion(&no_kid, 1000).unwrap_err().description,
            BAD_SIGNATURE
        );
        assert_eq!(
            verify_assertion("a.b", 1000).unwrap_err().description,
            "Invalid JWT."
        );
    }

    #[test]
    fn claims_are_checked() {
        let with = |change: &dyn Fn(&mut Value)| {
            let mut claims = claims(1000);
            change(&mut claims);
            verify_assertion(&sign(keys::TEST_PRIVATE_KEY_PEM, &header(), &claims), 1000)
                .unwrap_err()
        };
        assert_eq!(
            with(&|c| c["iss"] = "other@x".into()).description,
            "Invalid grant: account not found"
        );
        assert_eq!(
            with(&|c| c["aud"] = "http://127.0.0.1/token".into()).description,
            "Invalid JWT: Failed audience check."
        );
        assert_eq!(
            with(&|c| c["scope"] = "https://www.googleapis.com/auth/drive".into()).error,
            "invalid_scope"
        );
        assert_eq!(
            with(&|c| c["exp"] = (1000u64 + 3601).into()).description,
            BAD_TIMEFRAME
        );
        assert_eq!(
            with(&|c| {
                c["iat"] = 1301u64.into();
                c["exp"] = 1400u64.into();
            })
            .description,
            BAD_TIMEFRAME
        );
        assert_eq!(
            with(&|c| {
                c["iat"] = 600u64.into();
                c["exp"] = 900u64.into();
            })
            .description,
            BAD_TIMEFRAME
        );
    }

    #[test]
    fn forms() {
        let form = parse_form(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c",
        );
        assert_eq!(assertion_of(&form), Ok("a.b.c"));
        assert_eq!(
            assertion_of(&parse_form("grant_type=password&assertion=x"))
                .unwrap_err()
                .error,
            "unsupported_grant_type"
        );
        assert_eq!(
            assertion_of(&parse_form("assertion=x")).unwrap_err().error,
            "invalid_request"
        );
    }
}
