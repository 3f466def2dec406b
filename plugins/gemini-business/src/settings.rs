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
        let seconds = |name: &str, default: u64| {
            setting(name)
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(default)
        };
        let defaults = Cooldowns::default();
        let locale = Locale::default();
        Settings {
            api_origin: origin(names::BASE_URL, DEFAULT_API_ORIGIN),
            auth_origin: origin(names::AUTH_URL, DEFAULT_AUTH_ORIGIN),
            locale: Locale {
                language_code: setting(names::LANGUAGE_CODE).unwrap_or(locale.language_code),
                time_zone: setting(names::TIME_ZONE).unwrap_or(locale.time_zone),
            },
            cooldowns: Cooldowns {
                text_seconds: seconds(names::TEXT_COOLDOWN, defaults.text_seconds),
                images_seconds: seconds(names::IMAGE_COOLDOWN, defaults.images_seconds),
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
    fn both_origins_and_cooldowns_can_be_overridden() {
        let settings = Settings::read(|name| match name {
            "base-url" | "auth-url" => Some("http://127.0.0.1:9/".into()),
            "image-cooldown-seconds" => Some("60".into()),
            "text-cooldown-seconds" => Some("soon".into()),
            _ => None,
        });
        assert_eq!(settings.api_origin, "http://127.0.0.1:9");
        assert_eq!(settings.auth_origin, "http://127.0.0.1:9");
        assert_eq!(settings.cooldowns.images_seconds, 60);
        assert_eq!(settings.cooldowns.text_seconds, 7200);
    }
}
