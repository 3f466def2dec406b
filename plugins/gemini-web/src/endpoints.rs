//! The upstream's origins, each overridable by an account setting so a test
//! (or a relay) can stand in for all of them.
//!
//! `base-url` replaces every origin: `https://gemini.google.com` (page,
//! StreamGenerate, batchexecute) and, unless their own settings are set, the
//! rotation (`accounts.google.com`) and upload (`content-push.googleapis.com`)
//! endpoints, so one mirror, relay or test double stands in for all of them.
//! `rotate-url` and `upload-url` override those two. A setting that is only
//! an origin gets the documented path appended; one with a path is used as
//! it is.

use crate::generate_request::GENERATE_PATH;
use crate::rotation::ROTATE_PATH;

pub const APP_ORIGIN: &str = "https://gemini.google.com";
pub const ACCOUNTS_ORIGIN: &str = "https://accounts.google.com";
pub const UPLOAD_ORIGIN: &str = "https://content-push.googleapis.com";
pub const APP_PATH: &str = "/app";
pub const UPLOAD_PATH: &str = "/upload";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    app_origin: String,
    rotate: String,
    upload: String,
}

impl Endpoints {
    pub fn from_settings(
        base_url: Option<&str>,
        rotate_url: Option<&str>,
        upload_url: Option<&str>,
    ) -> Self {
        let app_origin = base_url
            .unwrap_or(APP_ORIGIN)
            .trim_end_matches('/')
            .to_string();
        let origin = |specific: Option<&str>, public: &'static str| match (specific, base_url) {
            (Some(url), _) => url.to_string(),
            (None, Some(_)) => app_origin.clone(),
            (None, None) => public.to_string(),
        };
        Endpoints {
            rotate: with_default_path(&origin(rotate_url, ACCOUNTS_ORIGIN), ROTATE_PATH),
            upload: with_default_path(&origin(upload_url, UPLOAD_ORIGIN), UPLOAD_PATH),
            app_origin,
        }
    }

    pub fn app(&self) -> String {
        format!("{}{APP_PATH}", self.app_origin)
    }

    pub fn generate(&self, query: &str) -> String {
        format!("{}{GENERATE_PATH}?{query}", self.app_origin)
    }

    pub fn batch(&self, query: &str) -> String {
        format!("{}{}?{query}", self.app_origin, crate::rpc::BATCH_PATH)
    }

    pub fn rotate(&self) -> &str {
        &self.rotate
    }

    pub fn upload(&self) -> &str {
        &self.upload
    }

    /// Resolves a redirect `Location` of the page.
    pub fn resolve(&self, location: &str) -> String {
        absolute(&self.app_origin, location)
    }

    /// Hosts (with port) of the configured origins: besides Google's own,
    /// the only ones the session cookies may be sent to.
    pub fn hosts(&self) -> Vec<String> {
        [self.app_origin.as_str(), &self.rotate, &self.upload]
            .iter()
            .filter_map(|url| host_of(url))
            .map(str::to_string)
            .collect()
    }
}

/// A redirect target made absolute against the URL that answered it (only
/// absolute URLs and absolute paths occur here).
pub fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let origin_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find(['/', '?']).map(|i| i + start))
        .unwrap_or(base.len());
    format!(
        "{}/{}",
        &base[..origin_end],
        location.trim_start_matches('/')
    )
}

fn with_default_path(url: &str, path: &str) -> String {
    let url = url.trim_end_matches('/');
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    if after_scheme.contains('/') {
        url.to_string()
    } else {
        format!("{url}{path}")
    }
}

/// The `host[:port]` of an http(s) URL, lower-cased.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_googles() {
        let endpoints = Endpoints::from_settings(None, None, None);
        assert_eq!(endpoints.app(), "https://gemini.google.com/app");
        assert_eq!(
            endpoints.rotate(),
            "https://accounts.google.com/RotateCookies"
        );
        assert_eq!(
            endpoints.upload(),
            "https://content-push.googleapis.com/upload"
        );
        assert!(endpoints.generate("rt=c").ends_with("/StreamGenerate?rt=c"));
    }

    #[test]
    fn one_mock_can_stand_in_for_all() {
        let mock = "http://127.0.0.1:4000/";
        let endpoints = Endpoints::from_settings(Some(mock), Some(mock), Some(mock));
        assert_eq!(endpoints.app(), "http://127.0.0.1:4000/app");
        assert_eq!(endpoints.rotate(), "http://127.0.0.1:4000/RotateCookies");
        assert_eq!(endpoints.upload(), "http://127.0.0.1:4000/upload");
        assert_eq!(endpoints.hosts(), ["127.0.0.1:4000"; 3]);
        let custom = Endpoints::from_settings(None, Some("http://r:1/rotate-here"), None);
        assert_eq!(custom.rotate(), "http://r:1/rotate-here");
        assert_eq!(
            custom.upload(),
            "https://content-push.googleapis.com/upload"
        );
    }

    #[test]
    fn base_url_alone_covers_every_origin() {
        let endpoints = Endpoints::from_settings(Some("http://mirror:8/"), None, None);
        assert_eq!(endpoints.rotate(), "http://mirror:8/RotateCookies");
        assert_eq!(endpoints.upload(), "http://mirror:8/upload");
        assert!(
            endpoints
                .batch("rt=c")
                .starts_with("http://mirror:8/_/BardChatUi/data/batchexecute?")
        );
        assert_eq!(endpoints.hosts(), ["mirror:8"; 3]);
        let overridden =
            Endpoints::from_settings(Some("http://mirror:8"), None, Some("http://up:9"));
        assert_eq!(overridden.upload(), "http://up:9/upload");
        assert_eq!(overridden.rotate(), "http://mirror:8/RotateCookies");
    }

    #[test]
    fn redirects_resolve() {
        let endpoints = Endpoints::from_settings(Some("http://m:1"), None, None);
        assert_eq!(endpoints.resolve("/app?hl=en"), "http://m:1/app?hl=en");
        assert_eq!(
            endpoints.resolve("https://accounts.google.com/ServiceLogin"),
            "https://accounts.google.com/ServiceLogin"
        );
        assert_eq!(
            host_of("https://lh3.googleusercontent.com/a=s1"),
            Some("lh3.googleusercontent.com")
        );
        assert_eq!(host_of("ftp://x"), None);
    }
}
