//! The account a request runs on, read from its secrets.
//!
//! Two ways in, so a seed user can move their Space secrets over unchanged:
//!
//! - one account per set of secrets: `secure-c-ses`, `host-c-oses`
//!   (optional), `csesidx`, `config-id`, `expires-at` (optional);
//! - the seed's `ACCOUNTS_CONFIG` JSON array as the secret `accounts-config`,
//!   with the setting `index` choosing the element. The host gives a request
//!   one account's secrets and cannot split JSON, so the operator declares one
//!   gateway account per element, all fed the same variable, each with its own
//!   `index`. An index past the array's end answers `unauthorized`, which
//!   makes the host skip that account.

use serde_json::Value;
use wasmgate_plugin_sdk::Platform;

use wasmgate_plugin_sdk::datetime::unix_seconds;

/// Secret and setting names, as `plugins.toml` spells them.
pub mod names {
    pub const SECURE_C_SES: &str = "secure-c-ses";
    pub const HOST_C_OSES: &str = "host-c-oses";
    pub const CSESIDX: &str = "csesidx";
    pub const CONFIG_ID: &str = "config-id";
    pub const EXPIRES_AT: &str = "expires-at";
    pub const ACCOUNTS_CONFIG: &str = "accounts-config";
    /// Setting: which element of `accounts-config` this account is.
    pub const INDEX: &str = "index";
}

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The `__Secure-C_SES` cookie.
    pub secure_c_ses: String,
    /// The `__Host-C_OSES` cookie, when known.
    pub host_c_oses: Option<String>,
    pub csesidx: String,
    pub config_id: String,
    /// When the account stops working, as written by the operator: the
    /// seed's `YYYY-MM-DD HH:MM:SS` in Beijing time (its helper script takes
    /// the cookie's expiry minus 12 hours), or the same with a `T` and an
    /// offset, or Unix seconds (the SDK's [`unix_seconds`] forms).
    pub expires_at: Option<String>,
}

/// Never prints the cookies.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("csesidx", &self.csesidx)
            .field("config_id", &self.config_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    MissingSecret(&'static str),
    /// `accounts-config` is not a JSON array of objects (line, column).
    InvalidAccountsConfig(String),
    InvalidIndex,
    NoAccountAtIndex {
        index: usize,
        count: usize,
    },
    MissingField {
        index: usize,
        field: &'static str,
    },
    /// The element says `"disabled": true`.
    Disabled {
        index: usize,
    },
    /// `expires_at` is none of the forms it may take.
    InvalidExpiry,
    Expired {
        at: String,
    },
}

impl AccountError {
    /// Whether the account can never work as configured (as opposed to
    /// refused credentials). Both make the host skip the account.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, AccountError::Disabled { .. })
    }
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountError::MissingSecret(name) => write!(
                f,
                "the account has no `{name}` secret (nor an `{}` secret)",
                names::ACCOUNTS_CONFIG
            ),
            AccountError::InvalidAccountsConfig(why) => {
                write!(f, "ACCOUNTS_CONFIG is not a JSON array of accounts: {why}")
            }
            AccountError::InvalidIndex => write!(
                f,
                "the `{}` setting is not a non-negative integer",
                names::INDEX
            ),
            AccountError::NoAccountAtIndex { index, count } => write!(
                f,
                "no account at index {index} in ACCOUNTS_CONFIG (it holds {count})"
            ),
            AccountError::MissingField { index, field } => {
                write!(f, "account {index} of ACCOUNTS_CONFIG has no `{field}`")
            }
            AccountError::Disabled { index } => {
                write!(f, "account {index} of ACCOUNTS_CONFIG is disabled")
            }
            AccountError::InvalidExpiry => f.write_str(
                "expires_at is neither `YYYY-MM-DD HH:MM:SS` (UTC+8), an RFC 3339 time nor Unix seconds",
            ),
            AccountError::Expired { at } => write!(f, "account expired at {at}"),
        }
    }
}

/// Reads the account from its secrets and settings.
pub fn load_account(host: &impl Platform) -> Result<Account, AccountError> {
    let secret = |name: &str| host.secret(name);
    if let Some(config) = secret(names::ACCOUNTS_CONFIG) {
        let index = match host.setting(names::INDEX) {
            None => 0,
            Some(text) => text
                .trim()
                .parse::<usize>()
                .map_err(|_| AccountError::InvalidIndex)?,
        };
        return from_accounts_config(&config, index);
    }
    let required = |name: &'static str| secret(name).ok_or(AccountError::MissingSecret(name));
    Ok(Account {
        secure_c_ses: required(names::SECURE_C_SES)?,
        host_c_oses: secret(names::HOST_C_OSES),
        csesidx: required(names::CSESIDX)?,
        config_id: required(names::CONFIG_ID)?,
        expires_at: secret(names::EXPIRES_AT).or_else(|| host.setting(names::EXPIRES_AT)),
    })
}

/// Element `index` of the seed's `ACCOUNTS_CONFIG`: objects with
/// `secure_c_ses`, `csesidx`, `config_id` and optional `host_c_oses`,
/// `expires_at`, `disabled` (other fields such as `id` or `proxy` are ignored).
pub fn from_accounts_config(json: &str, index: usize) -> Result<Account, AccountError> {
    // serde's messages can quote the input, which holds cookies: report the
    // position only.
    let accounts: Vec<Value> = serde_json::from_str(json).map_err(|err| {
        AccountError::InvalidAccountsConfig(format!("line {}, column {}", err.line(), err.column()))
    })?;
    let count = accounts.len();
    let entry = accounts
        .get(index)
        .ok_or(AccountError::NoAccountAtIndex { index, count })?;
    if !entry.is_object() {
        return Err(AccountError::InvalidAccountsConfig(format!(
            "element {index} is not an object"
        )));
    }
    if entry.get("disabled").and_then(Value::as_bool) == Some(true) {
        return Err(AccountError::Disabled { index });
    }
    let field = |name: &str| -> Option<String> {
        match entry.get(name)? {
            Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            // The seed's JSON sometimes carries csesidx as a number.
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    };
    let required =
        |name: &'static str| field(name).ok_or(AccountError::MissingField { index, field: name });
    Ok(Account {
        secure_c_ses: required("secure_c_ses")?,
        host_c_oses: field("host_c_oses"),
        csesidx: required("csesidx")?,
        config_id: required("config_id")?,
        expires_at: field("expires_at"),
    })
}

/// The offset the seed assumes when an `expires_at` carries none (UTC+8).
pub const SEED_OFFSET_SECONDS: i64 = 8 * 3600;

/// Refuses an account past its `expires_at`, before any network call.
pub fn check_not_expired(account: &Account, now_unix: u64) -> Result<(), AccountError> {
    let Some(at) = &account.expires_at else {
        return Ok(());
    };
    let expires = unix_seconds(at, SEED_OFFSET_SECONDS).ok_or(AccountError::InvalidExpiry)?;
    if i64::try_from(now_unix).unwrap_or(i64::MAX) >= expires {
        return Err(AccountError::Expired { at: at.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_plugin_sdk::native::NativeHost;

    const SEED_CONFIG: &str = r#"[
        {"id":"account_1","secure_c_ses":"ses-one","csesidx":"111","config_id":"cfg-1","host_c_oses":null,"expires_at":"2099-01-01 00:00:00"},
        {"secure_c_ses":"ses-two","csesidx":222,"config_id":"cfg-2","host_c_oses":"oses-two","proxy":""},
        {"secure_c_ses":"ses-three","csesidx":"333","config_id":"cfg-3","disabled":true}
    ]"#;

    #[test]
    fn one_account_per_set_of_secrets() {
        let host = NativeHost::default()
            .with_secret("secure-c-ses", "ses")
            .with_secret("csesidx", "42")
            .with_secret("config-id", "cfg")
            .with_setting("expires-at", "2099-01-01 00:00:00");
        let account = load_account(&host).unwrap();
        assert_eq!(account.secure_c_ses, "ses");
        assert_eq!(account.host_c_oses, None);
        assert_eq!(account.csesidx, "42");
        assert_eq!(account.expires_at.as_deref(), Some("2099-01-01 00:00:00"));
    }

    #[test]
    fn a_missing_secret_is_named() {
        let host = NativeHost::default().with_secret("secure-c-ses", "ses");
        let err = load_account(&host).unwrap_err();
        assert_eq!(err, AccountError::MissingSecret("csesidx"));
    }

    #[test]
    fn accounts_config_elements_are_chosen_by_index() {
        let host = NativeHost::default().with_secret("accounts-config", SEED_CONFIG);
        let first = load_account(&host).unwrap();
        assert_eq!(first.csesidx, "111");
        assert_eq!(first.host_c_oses, None);
        host.set_setting("index", "1");
        let second = load_account(&host).unwrap();
        assert_eq!(second.csesidx, "222");
        assert_eq!(second.host_c_oses.as_deref(), Some("oses-two"));
        assert_eq!(second.config_id, "cfg-2");
    }

    #[test]
    fn an_index_past_the_end_says_so() {
        let host = NativeHost::default()
            .with_secret("accounts-config", SEED_CONFIG)
            .with_setting("index", "3");
        let err = load_account(&host).unwrap_err();
        assert_eq!(err, AccountError::NoAccountAtIndex { index: 3, count: 3 });
        assert_eq!(
            err.to_string(),
            "no account at index 3 in ACCOUNTS_CONFIG (it holds 3)"
        );
    }

    #[test]
    fn a_disabled_element_is_forbidden() {
        let err = from_accounts_config(SEED_CONFIG, 2).unwrap_err();
        assert!(err.is_forbidden());
    }

    #[test]
    fn broken_json_is_reported_without_its_content() {
        let err = from_accounts_config(r#"[{"secure_c_ses": "top-secret""#, 0).unwrap_err();
        assert!(matches!(err, AccountError::InvalidAccountsConfig(_)));
        assert!(!err.to_string().contains("top-secret"));
        let err = from_accounts_config(r#"{"secure_c_ses": "top-secret"}"#, 0).unwrap_err();
        assert!(!err.to_string().contains("top-secret"));
    }

    #[test]
    fn an_expired_account_is_refused() {
        let mut account = from_accounts_config(SEED_CONFIG, 0).unwrap();
        assert_eq!(check_not_expired(&account, 1_700_000_000), Ok(()));
        account.expires_at = Some("2023-11-14 00:00:00".into());
        assert_eq!(
            check_not_expired(&account, 1_700_000_000)
                .unwrap_err()
                .to_string(),
            "account expired at 2023-11-14 00:00:00"
        );
        // Without an offset, the seed's Beijing time: 1_700_000_000 is
        // 2023-11-14T22:13:20Z, 06:13:20 the next day in UTC+8.
        account.expires_at = Some("2023-11-15 06:13:20".into());
        assert_eq!(check_not_expired(&account, 1_699_999_999), Ok(()));
        assert!(check_not_expired(&account, 1_700_000_000).is_err());
        account.expires_at = Some("2023-11-14T22:13:21Z".into());
        assert_eq!(check_not_expired(&account, 1_700_000_000), Ok(()));
        account.expires_at = Some("soon".into());
        assert!(matches!(
            check_not_expired(&account, 1_700_000_000),
            Err(AccountError::InvalidExpiry)
        ));
    }

    #[test]
    fn debug_hides_the_cookies() {
        let account = from_accounts_config(SEED_CONFIG, 1).unwrap();
        let shown = format!("{account:?}");
        assert!(!shown.contains("ses-two") && !shown.contains("oses-two"));
    }
}
