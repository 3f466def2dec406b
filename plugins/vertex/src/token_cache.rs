//! The access token kept in the host's `state` between requests, so one
//! token serves every request of the account until shortly before it expires
//! by the host's clock.

use sha2::{Digest as _, Sha256};
use wasmgate_plugin_sdk::Platform;

use crate::credentials::ServiceAccount;
use crate::token::AccessToken;

/// The state key of a token: the store is per account already, but an
/// operator may swap the key file or the token endpoint under the same id.
pub fn key(account: &ServiceAccount, token_url: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        account.client_email.as_str(),
        account.private_key_id.as_deref().unwrap_or(""),
        token_url,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("access-token:{hex}")
}

/// The cached token, if one is still fresh now.
pub fn load(platform: &impl Platform, key: &str) -> Option<AccessToken> {
    let text = platform.state_get(key)?;
    match serde_json::from_str::<AccessToken>(&text) {
        Ok(token) if token.is_fresh(platform.now_secs()) => Some(token),
        // Stale (the host's TTL is coarse) or unreadable: forget it.
        _ => {
            platform.state_delete(key);
            None
        }
    }
}

/// Keeps `token` until it should be replaced.
pub fn save(platform: &impl Platform, key: &str, token: &AccessToken) {
    let ttl = token.seconds_left(platform.now_secs());
    if ttl == 0 {
        return;
    }
    if let Ok(text) = serde_json::to_string(token) {
        platform.state_set(key, &text, Some(u32::try_from(ttl).unwrap_or(u32::MAX)));
    }
}

/// Drops the cached token (Vertex refused it).
pub fn forget(platform: &impl Platform, key: &str) {
    platform.state_delete(key);
}

#[cfg(test)]
mod tests {
    use wasmgate_plugin_sdk::native::NativeHost;

    use super::*;

    fn account(email: &str, kid: &str) -> ServiceAccount {
        ServiceAccount {
            client_email: email.into(),
            private_key_pem: String::new(),
            private_key_id: Some(kid.into()),
            project_id: None,
            token_uri: None,
        }
    }

    /// A host whose wall clock reads `now` Unix seconds.
    fn host_at(now: u64) -> NativeHost {
        let host = NativeHost::default();
        host.set_now_ms(now * 1000);
        host
    }

    #[test]
    fn keys_differ_by_identity_and_endpoint_and_stay_short() {
        let a = key(&account("a@p", "k1"), "https://oauth2.googleapis.com/token");
        assert!(a.starts_with("access-token:"));
        assert_eq!(a.len(), "access-token:".len() + 24);
        assert_eq!(
            a,
            key(&account("a@p", "k1"), "https://oauth2.googleapis.com/token")
        );
        assert_ne!(
            a,
            key(&account("a@p", "k2"), "https://oauth2.googleapis.com/token")
        );
        assert_ne!(
            a,
            key(&account("b@p", "k1"), "https://oauth2.googleapis.com/token")
        );
        assert_ne!(a, key(&account("a@p", "k1"), "http://127.0.0.1:9/token"));
    }

    #[test]
    fn a_token_is_reused_until_its_refresh_time() {
        let host = host_at(1000);
        let token = AccessToken {
            access_token: "mock-1".into(),
            refresh_at: 1000 + 3359,
        };
        save(&host, "k", &token);
        assert_eq!(host.state_ttl("k"), Some(3359), "TTL = seconds left");
        host.advance_secs(1);
        assert_eq!(load(&host, "k"), Some(token.clone()));
        host.set_now_ms((1000 + 3358) * 1000);
        assert_eq!(load(&host, "k"), Some(token));
        // The host's TTL rounds; the plugin checks the time itself too.
        host.advance_secs(1);
        assert_eq!(load(&host, "k"), None);
        assert!(host.state().is_empty(), "a stale entry is dropped");
    }

    #[test]
    fn spent_tokens_are_not_kept_and_garbage_is_dropped() {
        let host = host_at(50);
        let spent = AccessToken {
            access_token: "t".into(),
            refresh_at: 50,
        };
        save(&host, "k", &spent);
        assert!(host.state().is_empty());

        host.state_set("k", "not json", None);
        assert_eq!(load(&host, "k"), None);
        assert!(host.state().is_empty());

        let fresh = AccessToken {
            access_token: "t".into(),
            refresh_at: 100,
        };
        save(&host, "k", &fresh);
        assert_eq!(load(&host, "k"), Some(fresh));
        forget(&host, "k");
        assert_eq!(load(&host, "k"), None);
    }
}
