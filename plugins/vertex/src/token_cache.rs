//! The access token kept in the host's `state` between requests, so one
//! token serves every request of the account until shortly before it expires.

use sha2::{Digest as _, Sha256};

use crate::credentials::ServiceAccount;
use crate::token::AccessToken;

/// The host's key/value store (a trait so the policy runs natively in tests).
pub trait Store {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn delete(&self, key: &str);
}

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

/// The cached token, if one is still fresh at `now`.
pub fn load(store: &impl Store, key: &str, now: u64) -> Option<AccessToken> {
    let text = store.get(key)?;
    match serde_json::from_str::<AccessToken>(&text) {
        Ok(token) if token.is_fresh(now) => Some(token),
        // Stale (the host's TTL is coarse) or unreadable: forget it.
        _ => {
            store.delete(key);
            None
        }
    }
}

/// Keeps `token` until it should be replaced.
pub fn save(store: &impl Store, key: &str, token: &AccessToken, now: u64) {
    let ttl = token.seconds_left(now);
    if ttl == 0 {
        return;
    }
    if let Ok(text) = serde_json::to_string(token) {
        store.set(key, &text, Some(u32::try_from(ttl).unwrap_or(u32::MAX)));
    }
}

/// Drops the cached token (Vertex refused it).
pub fn forget(store: &impl Store, key: &str) {
    store.delete(key);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    /// A store that records the TTLs it was given.
    #[derive(Default)]
    struct MemoryStore(RefCell<HashMap<String, (String, Option<u32>)>>);

    impl Store for MemoryStore {
        fn get(&self, key: &str) -> Option<String> {
            self.0.borrow().get(key).map(|(value, _)| value.clone())
        }
        fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
            self.0
                .borrow_mut()
                .insert(key.into(), (value.into(), ttl_seconds));
        }
        fn delete(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
    }

    fn account(email: &str, kid: &str) -> ServiceAccount {
        ServiceAccount {
            client_email: email.into(),
            private_key_pem: String::new(),
            private_key_id: Some(kid.into()),
            project_id: None,
            token_uri: None,
        }
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
        let store = MemoryStore::default();
        let token = AccessToken {
            access_token: "mock-1".into(),
            refresh_at: 1000 + 3359,
        };
        save(&store, "k", &token, 1000);
        assert_eq!(store.0.borrow()["k"].1, Some(3359), "TTL = seconds left");
        assert_eq!(load(&store, "k", 1001), Some(token.clone()));
        assert_eq!(load(&store, "k", 1000 + 3358), Some(token));
        // The host's TTL rounds; the plugin checks the time itself too.
        assert_eq!(load(&store, "k", 1000 + 3359), None);
        assert!(store.0.borrow().is_empty(), "a stale entry is dropped");
    }

    #[test]
    fn spent_tokens_are_not_kept_and_garbage_is_dropped() {
        let store = MemoryStore::default();
        let spent = AccessToken {
            access_token: "t".into(),
            refresh_at: 50,
        };
        save(&store, "k", &spent, 50);
        assert!(store.0.borrow().is_empty());

        store.set("k", "not json", None);
        assert_eq!(load(&store, "k", 0), None);
        assert!(store.0.borrow().is_empty());

        save(
            &store,
            "k",
            &AccessToken {
                access_token: "t".into(),
                refresh_at: 100,
            },
            0,
        );
        forget(&store, "k");
        assert_eq!(load(&store, "k", 0), None);
    }
}
