//! The account's non-secret settings.

use crate::errors::Cooldowns;
use crate::oxsrf::DEFAULT_AUTH_ORIGIN;
use crate::wire::{DEFAULT_API_ORIGIN, Locale};

pub mod names {
    /// Origin of the widget API (`biz-discoveryengine.googleapis.com`).
    pub const BASE_URL: &str = "base-url";
    /// Origin of `getoxsrf` (`business.gemini.google`).
    pub const AUTH_URL: &str = "auth-url";
    pub const LANGUAGE_CODE: &str = "language-code";
    pub const TIME_ZONE: &str = "time-zone";
    pub const TEXT_COOLDOWN: &str = "text-cooldown-seconds";
    pub const IMAGE_COOLDOWN: &str = "image-cooldown-seconds";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub api_origin: String,
    pub auth_origin: String,
    pub locale: Locale,
    pub cooldowns: Cooldowns,
}

impl Settings {
    pub fn read(setting: impl Fn(&str) -> Option<String>) -> Self {
        let origin = |name: &str, default: &str| {
            setting(name)
                .unwrap_or_else(|| default.to_string())
                .trim()
                .trim_end_matches('/')
                .to_string()
        };
        let seconds = |name: &str| setting(name).and_then(|text| text.trim().parse().ok());
        let locale = Locale::default();
        let api_origin = origin(names::BASE_URL, DEFAULT_API_ORIGIN);
        // `base-url` alone routes every request, the sign-in too (issue #15);
        // `auth-url` stays as an override.
        let auth_default = match setting(names::BASE_URL) {
            Some(_) => api_origin.clone(),
            None => DEFAULT_AUTH_ORIGIN.to_string(),
        };
        Settings {
            api_origin,
            auth_origin: origin(names::AUTH_URL, &auth_default),
            locale: Locale {
                language_code: setting(names::LANGUAGE_CODE).unwrap_or(locale.language_code),
                time_zone: setting(names::TIME_ZONE).unwrap_or(locale.time_zone),
            },
            cooldowns: Cooldowns {
                text_seconds: seconds(names::TEXT_COOLDOWN),
                images_seconds: seconds(names::IMAGE_COOLDOWN),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_the_real_upstream() {
        let settings = Settings::read(|_| None);
        assert_eq!(
            settings.api_origin,
            "https://biz-discoveryengine.googleapis.com"
        );
        assert_eq!(settings.auth_origin, "https://business.gemini.google");
        assert_eq!(settings.cooldowns, Cooldowns::default());
    }

    #[test]
    fn base_url_alone_moves_the_sign_in_too() {
        let settings =
            Settings::read(|name| (name == "base-url").then(|| "http://127.0.0.1:9/".into()));
        assert_eq!(settings.api_origin, "http://127.0.0.1:9");
        assert_eq!(settings.auth_origin, "http://127.0.0.1:9");
        let split = Settings::read(|name| match name {
            "base-url" => Some("http://127.0.0.1:9".into()),
            "auth-url" => Some("http://127.0.0.1:8".into()),
            _ => None,
        });
        assert_eq!(split.auth_origin, "http://127.0.0.1:8");
    }

    #[test]
    fn both_origins_and_cooldowns_can_be_overridden() {
        let settings = Settings::read(|name| match name {
            "base-url" | "auth-url" => Some("http://127.0.0.1:9/".into()),
            "image-cooldown-seconds" => Some("60".into()),
            "text-cooldown-seconds" => Some("soon".into()),
            _ => None,
        });
        assert_eq!(settings.api_origin, "http://127.0.0.1:9");
        assert_eq!(settings.auth_origin, "http://127.0.0.1:9");
        assert_eq!(settings.cooldowns.images_seconds, Some(60));
        assert_eq!(settings.cooldowns.text_seconds, None, "unparsable: unset");
    }
}
