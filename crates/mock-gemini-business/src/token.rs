//! Issuing signing keys and checking the JWTs clients sign with them, as
//! the upstream does: three base64url segments, `alg = HS256`, a `kid` the
//! mock issued and has not revoked, a valid HMAC, exact `iss`/`aud`, `sub =
//! csesidx/<N>` of the key's account, `nbf ≤ now < exp`, `exp − iat ≤ 300`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

pub const ISSUER: &str = "https://business.gemini.google";
pub const AUDIENCE: &str = "https://biz-discoveryengine.googleapis.com";
pub const MAX_LIFETIME_SECONDS: i64 = 300;

/// A key handed out by `getoxsrf`.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    pub key_id: String,
    pub secret: Vec<u8>,
    /// Index of the account it was issued to.
    pub account: usize,
    pub csesidx: String,
    pub revoked: bool,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Missing,
    Malformed,
    UnknownKey,
    Revoked,
    BadSignature,
    /// A claim is wrong; names it.
    BadClaim(&'static str),
    NotYetValid,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub account: usize,
    pub key_id: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: String,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// The `kid` of a token, without checking anything else.
pub fn key_id_of(token: &str) -> Option<String> {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    serde_json::from_slice::<Header>(&header)
        .ok()
        .map(|h| h.kid)
}

/// Checks `token` against the issued keys at `now` (Unix seconds), allowing
/// `skew` seconds of clock difference on `nbf`.
pub fn verify<'k>(
    token: &str,
    keys: impl IntoIterator<Item = &'k IssuedKey>,
    now: i64,
    skew: i64,
) -> Result<Verified, Rejection> {
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = segments[..] else {
        return Err(Rejection::Malformed);
    };
    let decode = |segment: &str| {
        URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| Rejection::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| Rejection::Malformed)?;
    if header.alg != "HS256" {
        return Err(Rejection::BadClaim("alg"));
    }
    let key = keys
        .into_iter()
        .find(|key| key.key_id == header.kid)
        .ok_or(Rejection::UnknownKey)?;
    if key.revoked {
        return Err(Rejection::Revoked);
    }
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key.secret).map_err(|_| Rejection::BadSignature)?;
    mac.update(format!("{header_b64}.{claims_b64}").as_bytes());
    mac.verify_slice(&decode(signature_b64)?)
        .map_err(|_| Rejection::BadSignature)?;
    let claims: Claims =
        serde_json::from_slice(&decode(claims_b64)?).map_err(|_| Rejection::Malformed)?;
    if claims.iss != ISSUER {
        return Err(Rejection::BadClaim("iss"));
    }
    if claims.aud != AUDIENCE {
        return Err(Rejection::BadClaim("aud"));
    }
    if claims.sub != format!("csesidx/{}", key.csesidx) {
        return Err(Rejection::BadClaim("sub"));
    }
    if claims.exp - claims.iat > MAX_LIFETIME_SECONDS || claims.exp <= claims.iat {
        return Err(Rejection::BadClaim("exp"));
    }
    if claims.nbf > now + skew {
        return Err(Rejection::NotYetValid);
    }
    if now >= claims.exp {
        return Err(Rejection::Expired);
    }
    Ok(Verified {
        account: key.account,
        key_id: key.key_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of `docs/protocols/gemini-business.md`, "Signing key
    /// and JWT".
    const VECTOR: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImtpZC1zeW50aGV0aWMtMDEifQ.eyJpc3MiOiJodHRwczovL2J1c2luZXNzLmdlbWluaS5nb29nbGUiLCJhdWQiOiJodHRwczovL2Jpei1kaXNjb3ZlcnllbmdpbmUuZ29vZ2xlYXBpcy5jb20iLCJzdWIiOiJjc2VzaWR4LzEyMzQ1Njc4OTAiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMCwibmJmIjoxNzAwMDAwMDAwfQ.C9MUSyZ415W16lbZU5dmzuRtO9iSK9HwqyNmPGi75J4";

    fn key() -> IssuedKey {
        IssuedKey {
            key_id: "kid-synthetic-01".into(),
            secret: b"synthetic-test-key-0123456789abc".to_vec(),
            account: 3,
            csesidx: "1234567890".into(),
            revoked: false,
        }
    }

    #[test]
    fn the_vector_verifies_within_its_lifetime() {
        let keys = [key()];
        assert_eq!(
            verify(VECTOR, &keys, 1_700_000_100, 5),
            Ok(Verified {
                account: 3,
                key_id: "kid-synthetic-01".into()
            })
        );
        assert_eq!(key_id_of(VECTOR).as_deref(), Some("kid-synthetic-01"));
    }

    #[test]
    fn time_limits_are_enforced() {
        let keys = [key()];
        assert_eq!(
            verify(VECTOR, &keys, 1_700_000_300, 5),
            Err(Rejection::Expired)
        );
        assert_eq!(
            verify(VECTOR, &keys, 1_699_999_990, 5),
            Err(Rejection::NotYetValid)
        );
        assert!(verify(VECTOR, &keys, 1_699_999_996, 5).is_ok());
    }

    #[test]
    fn wrong_keys_signatures_and_subjects_are_refused() {
        let now = 1_700_000_100;
        assert_eq!(verify(VECTOR, &[], now, 5), Err(Rejection::UnknownKey));
        let mut revoked = key();
        revoked.revoked = true;
        assert_eq!(verify(VECTOR, &[revoked], now, 5), Err(Rejection::Revoked));
        let mut other_secret = key();
        other_secret.secret = b"another key".to_vec();
        assert_eq!(
            verify(VECTOR, &[other_secret], now, 5),
            Err(Rejection::BadSignature)
        );
        let mut other_account = key();
        other_account.csesidx = "999".into();
        assert_eq!(
            verify(VECTOR, &[other_account], now, 5),
            Err(Rejection::BadClaim("sub"))
        );
        assert_eq!(verify("a.b", &[key()], now, 5), Err(Rejection::Malformed));
    }
}
