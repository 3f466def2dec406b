//! What an account configures: which secret it holds (that picks the kind of
//! account), and the settings that place its requests.

use wasmgate_plugin_sdk::{Platform, ProviderError};

use crate::credentials::{self, ServiceAccount};
use crate::endpoints::{Endpoint, Scope, default_origin};
use crate::token::DEFAULT_TOKEN_URL;

/// The whole service-account key file (JSON).
pub const CREDENTIALS_SECRET: &str = "credentials-json";
/// An express-mode API key.
pub const EXPRESS_KEY_SECRET: &str = "express-api-key";

/// Project of the request path; defaults to the key file's `project_id`.
pub const PROJECT_SETTING: &str = "project";
/// `global` (the default), a region (`us-central1`), or a multi-region.
pub const LOCATION_SETTING: &str = "location";
/// Replaces the whole origin the location implies (a proxy, a test upstream).
pub const BASE_URL_SETTING: &str = "base-url";
/// Replaces the key file's `token_uri` and `{base-url}/token`.
pub const TOKEN_URL_SETTING: &str = "token-url";
/// `v1beta1` (what google-genai sends) or `v1`.
pub const API_VERSION_SETTING: &str = "api-version";
/// A threshold for every harm category when a request sends no `safetySettings`.
pub const SAFETY_THRESHOLD_SETTING: &str = "safety-threshold";

pub const DEFAULT_LOCATION: &str = "global";
pub const DEFAULT_API_VERSION: &str = "v1beta1";

/// How the account proves who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A bearer token obtained from `token_url` with a signed assertion.
    ServiceAccount {
        account: ServiceAccount,
        token_url: String,
    },
    /// The key, sent in `x-goog-api-key`.
    Express { key: String },
}

/// One account's resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    pub auth: Auth,
    pub endpoint: Endpoint,
    pub safety_threshold: Option<String>,
}

/// Reads the account from its secrets and settings (blank values count as
/// unset). With both secrets, the service account is used.
pub fn resolve(platform: &impl Platform) -> Result<AccountConfig, ProviderError> {
    let present = |value: Option<String>| {
        value
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    };
    let setting = |name: &str| present(platform.setting(name));
    let secret = |name: &str| platform.secret(name);
    let api_version = setting(API_VERSION_SETTING).unwrap_or_else(|| DEFAULT_API_VERSION.into());
    if !is_token(&api_version, |c| c.is_ascii_alphanumeric()) {
        return Err(invalid_setting(
            API_VERSION_SETTING,
            "is not an API version such as v1",
        ));
    }
    let base_url = setting(BASE_URL_SETTING).map(|url| url.trim_end_matches('/').to_string());
    let safety_threshold = setting(SAFETY_THRESHOLD_SETTING);

    if let Some(text) = present(secret(CREDENTIALS_SECRET)) {
        let account = credentials::parse(&text).map_err(|err| {
            ProviderError::Unauthorized(format!("the {CREDENTIALS_SECRET} secret {err}"))
        })?;
        let location = setting(LOCATION_SETTING).unwrap_or_else(|| DEFAULT_LOCATION.into());
        if !is_token(&location, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        }) {
            return Err(invalid_setting(
                LOCATION_SETTING,
                "is not a location such as us-central1",
            ));
        }
        let project = setting(PROJECT_SETTING)
            .or_else(|| account.project_id.clone())
            .ok_or_else(|| {
                invalid_setting(
                    PROJECT_SETTING,
                    "is unset and the key file has no project_id",
                )
            })?;
        // `base-url` routes every request, the token exchange too (issue
        // #15): it beats the key file's `token_uri`; `token-url` beats both.
        let token_url = setting(TOKEN_URL_SETTING)
            .or_else(|| base_url.as_ref().map(|base| format!("{base}/token")))
            .or_else(|| account.token_uri.clone())
            .unwrap_or_else(|| DEFAULT_TOKEN_URL.into());
        let origin = base_url.unwrap_or_else(|| default_origin(&location));
        return Ok(AccountConfig {
            auth: Auth::ServiceAccount { account, token_url },
            endpoint: Endpoint {
                origin,
                api_version,
                scope: Scope::Project { project, location },
            },
            safety_threshold,
        });
    }
    if let Some(key) = present(secret(EXPRESS_KEY_SECRET)) {
        return Ok(AccountConfig {
            auth: Auth::Express { key },
            endpoint: Endpoint {
                // Express mode has no regional endpoints.
                origin: base_url.unwrap_or_else(|| default_origin(DEFAULT_LOCATION)),
                api_version,
                scope: Scope::Express,
            },
            safety_threshold,
        });
    }
    Err(ProviderError::Unauthorized(format!(
        "the account has neither a `{CREDENTIALS_SECRET}` nor an `{EXPRESS_KEY_SECRET}` secret"
    )))
}

fn is_token(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.len() <= 64 && text.chars().all(allowed)
}

/// A setting the account cannot work with: the operator's to fix.
fn invalid_setting(name: &str, why: &str) -> ProviderError {
    ProviderError::Internal(format!("the account's `{name}` setting {why}"))
}

#[cfg(test)]
mod tests {
    use wasmgate_plugin_sdk::native::NativeHost;

    use super::*;

    const KEY_FILE: &str = r#"{"type":"service_account","project_id":"file-proj","private_key_id":"kid",
        "private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "client_email":"svc@file-proj.iam.gserviceaccount.com",
        "token_uri":"https://oauth2.googleapis.com/token"}"#;

    /// The configuration of an account with these secrets and settings.
    fn resolved(
        secrets: &[(&str, &str)],
        settings: &[(&str, &str)],
    ) -> Result<AccountConfig, ProviderError> {
        let account = NativeHost::default();
        for (name, value) in secrets {
            account.set_secret(name, value);
        }
        for (name, value) in settings {
            account.set_setting(name, value);
        }
        resolve(&account)
    }

    #[test]
    fn a_key_file_alone_uses_its_project_and_the_global_host() {
        let config = resolved(&[(CREDENTIALS_SECRET, KEY_FILE)], &[]).unwrap();
        let Auth::ServiceAccount { account, token_url } = &config.auth else {
            panic!("{config:?}")
        };
        assert_eq!(
            account.client_email,
            "svc@file-proj.iam.gserviceaccount.com"
        );
        assert_eq!(token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(
            config.endpoint,
            Endpoint {
                origin: "https://aiplatform.googleapis.com".into(),
                api_version: "v1beta1".into(),
                scope: Scope::Project {
                    project: "file-proj".into(),
                    location: "global".into()
                },
            }
        );
        assert_eq!(config.safety_threshold, None);
    }

    #[test]
    fn settings_override_project_location_origin_and_token_url() {
        let config = resolved(
            &[(CREDENTIALS_SECRET, KEY_FILE)],
            &[
                (PROJECT_SETTING, "other-proj"),
                (LOCATION_SETTING, "europe-west4"),
                (TOKEN_URL_SETTING, "http://127.0.0.1:9/token"),
                (API_VERSION_SETTING, "v1"),
                (SAFETY_THRESHOLD_SETTING, "OFF"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.endpoint.origin,
            "https://europe-west4-aiplatform.googleapis.com"
        );
        assert_eq!(config.endpoint.api_version, "v1");
        assert_eq!(
            config.endpoint.scope,
            Scope::Project {
                project: "other-proj".into(),
                location: "europe-west4".into()
            }
        );
        assert!(
            matches!(&config.auth, Auth::ServiceAccount { token_url, .. } if token_url == "http://127.0.0.1:9/token")
        );
        assert_eq!(config.safety_threshold.as_deref(), Some("OFF"));

        let proxied = resolved(
            &[(CREDENTIALS_SECRET, KEY_FILE)],
            &[
                (BASE_URL_SETTING, "http://127.0.0.1:9/"),
                (LOCATION_SETTING, "us-central1"),
            ],
        )
        .unwrap();
        assert_eq!(proxied.endpoint.origin, "http://127.0.0.1:9");
        assert!(
            matches!(&proxied.auth, Auth::ServiceAccount { token_url, .. } if token_url == "http://127.0.0.1:9/token"),
            "base-url alone routes the token exchange too"
        );
        assert!(
            matches!(&proxied.endpoint.scope, Scope::Project { location, .. } if location == "us-central1")
        );
    }

    #[test]
    fn an_express_key_has_no_project() {
        let config = resolved(
            &[(EXPRESS_KEY_SECRET, " AQ.express ")],
            &[(LOCATION_SETTING, "us-central1")],
        )
        .unwrap();
        assert_eq!(
            config.auth,
            Auth::Express {
                key: "AQ.express".into()
            }
        );
        assert_eq!(config.endpoint.origin, "https://aiplatform.googleapis.com");
        assert_eq!(config.endpoint.scope, Scope::Express);
    }

    #[test]
    fn with_both_secrets_the_service_account_wins() {
        let config = resolved(
            &[(CREDENTIALS_SECRET, KEY_FILE), (EXPRESS_KEY_SECRET, "k")],
            &[],
        )
        .unwrap();
        assert!(matches!(config.auth, Auth::ServiceAccount { .. }));
    }

    #[test]
    fn unusable_accounts_are_typed_errors() {
        assert!(matches!(
            resolved(&[(CREDENTIALS_SECRET, "  ")], &[]),
            Err(ProviderError::Unauthorized(_))
        ));
        let Err(ProviderError::Unauthorized(message)) =
            resolved(&[(CREDENTIALS_SECRET, "{\"private_key\":\"s3cret\"}")], &[])
        else {
            panic!()
        };
        assert_eq!(
            message,
            "the credentials-json secret has no \"client_email\" string"
        );

        let no_project = r#"{"client_email":"a@b","private_key":"k"}"#;
        assert!(matches!(
            resolved(&[(CREDENTIALS_SECRET, no_project)], &[]),
            Err(ProviderError::Internal(m)) if m.contains("`project`")
        ));
        assert!(
            resolved(
                &[(CREDENTIALS_SECRET, no_project)],
                &[(PROJECT_SETTING, "p")]
            )
            .is_ok()
        );
        for location in ["us-central1.evil.com", "US", "a/b"] {
            assert!(
                matches!(
                    resolved(
                        &[(CREDENTIALS_SECRET, KEY_FILE)],
                        &[(LOCATION_SETTING, location)]
                    ),
                    Err(ProviderError::Internal(_))
                ),
                "{location}"
            );
        }
        assert!(matches!(
            resolved(
                &[(EXPRESS_KEY_SECRET, "k")],
                &[(API_VERSION_SETTING, "v1/../x")]
            ),
            Err(ProviderError::Internal(_))
        ));
    }
}
