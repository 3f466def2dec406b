//! The account's Google cookie jar, as kept in the plugin's state.
//!
//! It starts from the account's secrets (`__Secure-1PSID`, optional
//! `__Secure-1PSIDTS`) and takes every cookie Google sets on the page and the
//! rotation endpoint, so the newest `__Secure-1PSIDTS` survives between
//! requests. The saved jar remembers fingerprints of the secrets it grew from:
//! when the operator pastes new cookies, the jar starts over from them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const PSID: &str = "__Secure-1PSID";
pub const PSIDTS: &str = "__Secure-1PSIDTS";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieJar {
    /// Fingerprints of the secrets this jar started from.
    psid_fingerprint: String,
    seed_fingerprint: String,
    cookies: BTreeMap<String, String>,
    /// Unix seconds of the last rotation (or of the jar's creation).
    pub rotated_at: u64,
}

impl CookieJar {
    /// A jar from the account's secrets.
    pub fn from_secrets(psid: &str, psidts: Option<&str>, now: u64) -> Self {
        let mut cookies = BTreeMap::new();
        cookies.insert(PSID.to_string(), psid.to_string());
        if let Some(psidts) = psidts {
            cookies.insert(PSIDTS.to_string(), psidts.to_string());
        }
        CookieJar {
            psid_fingerprint: fingerprint(psid),
            seed_fingerprint: fingerprint(psidts.unwrap_or_default()),
            cookies,
            rotated_at: now,
        }
    }

    /// The saved jar if it grew from these same secrets, else a fresh one.
    pub fn restore(saved: Option<&str>, psid: &str, psidts: Option<&str>, now: u64) -> Self {
        let saved: Option<CookieJar> = saved.and_then(|text| serde_json::from_str(text).ok());
        match saved {
            Some(mut jar)
                if jar.psid_fingerprint == fingerprint(psid)
                    && jar.seed_fingerprint == fingerprint(psidts.unwrap_or_default()) =>
            {
                // A `__Secure-1PSID` Google rotated was saved; else the secret's.
                jar.cookies
                    .entry(PSID.to_string())
                    .or_insert_with(|| psid.to_string());
                jar
            }
            _ => Self::from_secrets(psid, psidts, now),
        }
    }

    /// The jar for the state store. The long-lived `__Secure-1PSID` stays in
    /// the secrets and is put back on restore, unless Google replaced it: the
    /// replacement is kept (the secret's value may be dead by then).
    pub fn to_json(&self) -> String {
        let mut saved = self.clone();
        if saved
            .cookies
            .get(PSID)
            .is_none_or(|psid| fingerprint(psid) == self.psid_fingerprint)
        {
            saved.cookies.remove(PSID);
        }
        serde_json::to_string(&saved).unwrap_or_default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Applies `Set-Cookie` headers; returns true if anything changed.
    pub fn apply<'a>(&mut self, set_cookies: impl IntoIterator<Item = &'a str>) -> bool {
        let mut changed = false;
        for header in set_cookies {
            let Some(cookie) = SetCookie::parse(header) else {
                continue;
            };
            if cookie.name == PSID && cookie.removes {
                continue; // never drop the account's own session cookie
            }
            changed |= if cookie.removes {
                self.cookies.remove(&cookie.name).is_some()
            } else {
                self.cookies
                    .insert(cookie.name, cookie.value.clone())
                    .as_ref()
                    != Some(&cookie.value)
            };
        }
        changed
    }

    /// The `Cookie` header with every cookie of the jar, session cookies first.
    pub fn header(&self) -> String {
        let session = [PSID, PSIDTS];
        let first = session
            .iter()
            .filter_map(|name| self.cookies.get(*name).map(|value| (*name, value)));
        let rest = self
            .cookies
            .iter()
            .filter(|(name, _)| !session.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value));
        first
            .chain(rest)
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Only the two session cookies (for image hosts).
    pub fn session_header(&self) -> String {
        [PSID, PSIDTS]
            .iter()
            .filter_map(|name| Some(format!("{name}={}", self.cookies.get(*name)?)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A cookie value as pasted by an operator: trimmed, and without a leading
/// `name=` if they copied the pair.
pub fn pasted_value(pasted: &str, name: &str) -> String {
    let value = pasted.trim();
    let value = value
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('='))
        .unwrap_or(value);
    value.trim().trim_end_matches(';').to_string()
}

/// One `Set-Cookie` header: name, value, and whether it deletes the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub removes: bool,
}

impl SetCookie {
    pub fn parse(header: &str) -> Option<SetCookie> {
        let mut attributes = header.split(';');
        let (name, value) = attributes.next()?.split_once('=')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let value = value.trim().trim_matches('"').to_string();
        let expired = attributes.any(|attribute| {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let key = key.trim().to_ascii_lowercase();
            (key == "max-age" && val.trim().parse::<i64>().is_ok_and(|age| age <= 0))
                || (key == "expires" && val.contains("1970"))
        });
        Some(SetCookie {
            name: name.to_string(),
            removes: expired || value.is_empty(),
            value,
        })
    }
}

/// A short non-reversible tag of a secret (FNV-1a), to notice when it changes.
fn fingerprint(secret: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in secret.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_values_are_tidied() {
        assert_eq!(pasted_value(" abc.def \n", PSID), "abc.def");
        assert_eq!(pasted_value("__Secure-1PSID=abc;", PSID), "abc");
        assert_eq!(pasted_value("__Secure-1PSIDTS=sidts-x", PSIDTS), "sidts-x");
        // The 1PSIDTS pair is not mistaken for a 1PSID value.
        assert_eq!(
            pasted_value("__Secure-1PSIDTS=x", PSID),
            "__Secure-1PSIDTS=x"
        );
    }

    #[test]
    fn set_cookie_headers_parse() {
        let cookie = SetCookie::parse(
            "__Secure-1PSIDTS=sidts-NEW; Domain=.google.com; Path=/; Secure; HttpOnly; Expires=Fri, 01 Jan 2027 00:00:00 GMT",
        )
        .unwrap();
        assert_eq!(cookie.name, PSIDTS);
        assert_eq!(cookie.value, "sidts-NEW");
        assert!(!cookie.removes);
        assert!(SetCookie::parse("NID=; Max-Age=0").unwrap().removes);
        assert!(SetCookie::parse("X=1; Max-Age=0").unwrap().removes);
        assert!(
            SetCookie::parse("X=1; expires=Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .removes
        );
        assert_eq!(SetCookie::parse("garbage"), None);
    }

    #[test]
    fn the_jar_takes_new_cookies_and_keeps_the_session_first() {
        let mut jar = CookieJar::from_secrets("psid-1", Some("ts-1"), 100);
        assert_eq!(jar.header(), "__Secure-1PSID=psid-1; __Secure-1PSIDTS=ts-1");
        assert!(jar.apply([
            "__Secure-1PSIDTS=ts-2; Path=/",
            "__Secure-1PSIDCC=cc; Path=/",
            "AEC=x; Path=/"
        ]));
        assert_eq!(
            jar.header(),
            "__Secure-1PSID=psid-1; __Secure-1PSIDTS=ts-2; AEC=x; __Secure-1PSIDCC=cc"
        );
        assert_eq!(
            jar.session_header(),
            "__Secure-1PSID=psid-1; __Secure-1PSIDTS=ts-2"
        );
        assert!(!jar.apply(["__Secure-1PSIDTS=ts-2"]));
        assert!(!jar.apply(["__Secure-1PSID=; Max-Age=0"]));
        assert_eq!(jar.get(PSID), Some("psid-1"));
    }

    #[test]
    fn a_saved_jar_is_kept_until_the_secrets_change() {
        let mut jar = CookieJar::from_secrets("psid-1", Some("ts-1"), 100);
        jar.apply(["__Secure-1PSIDTS=ts-rotated"]);
        let saved = jar.to_json();
        assert!(
            !saved.contains("psid-1"),
            "the session cookie stays in the secrets"
        );

        let restored = CookieJar::restore(Some(&saved), "psid-1", Some("ts-1"), 200);
        assert_eq!(restored.get(PSIDTS), Some("ts-rotated"));
        assert_eq!(restored.rotated_at, 100);

        let pasted = CookieJar::restore(Some(&saved), "psid-1", Some("ts-pasted"), 200);
        assert_eq!(pasted.get(PSIDTS), Some("ts-pasted"));
        assert_eq!(pasted.rotated_at, 200);

        let other = CookieJar::restore(Some(&saved), "psid-2", Some("ts-1"), 200);
        assert_eq!(other.get(PSID), Some("psid-2"));
        let broken = CookieJar::restore(Some("{"), "psid-1", None, 300);
        assert_eq!(broken.get(PSIDTS), None);
    }
}
