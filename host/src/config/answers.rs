//! `[answers]`: how answers are shaped for the clients that read them.
//!
//! ```toml
//! [answers]                       # every plugin; the values shown are the defaults
//! heartbeat-secs = 0              # SSE comment every N s while a stream waits (0 = off)
//! reasoning = "reasoning-content" # or "think" (inline <think>…</think>) or "drop"
//! images = "base64"               # or "url": stored, served at <public-base-url>/media/<id>
//! fetch-urls = true               # http(s) image/file URLs in requests are fetched by the host
//! fetch-max-bytes = 20971520
//! fetch-timeout-secs = 20
//! fetch-trusted-hosts = []        # hosts fetched even at private addresses (tests, a LAN)
//! media-retention-secs = 86400    # stored images: age limit (top level only)
//! media-max-bytes = 536870912     # stored images: total size limit (top level only)
//!
//! [plugins.gemini-web.answers]    # one plugin's own values, over [answers]
//! images = "url"
//!
//! [models]
//! "think-*" = { plugin = "gemini", model = "*", answers = { reasoning = "think" } }
//! ```
//! A route's `answers` win over its plugin's, which win over `[answers]`.

use std::time::Duration;

use serde::Deserialize;

use super::file::{ConfigFile, Invalid};
use super::hosts::HostPattern;
use super::routes::RouteSpec;

/// One layer of answer options; unset fields fall through to the next layer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnswersSection {
    /// Seconds between SSE comment lines while a stream has nothing to send.
    pub heartbeat_secs: Option<f64>,
    pub reasoning: Option<ReasoningMode>,
    pub images: Option<ImageMode>,
    /// Whether http(s) URLs in image and file parts are fetched by the host.
    pub fetch_urls: Option<bool>,
    pub fetch_max_bytes: Option<u64>,
    pub fetch_timeout_secs: Option<f64>,
    /// Hosts (`http://127.0.0.1:8080`, `files.lan`) fetched even when they are
    /// at private or loopback addresses: an explicit operator exception.
    pub fetch_trusted_hosts: Option<Vec<String>>,
    /// Stored images older than this are deleted (top-level `[answers]` only).
    pub media_retention_secs: Option<f64>,
    /// Oldest stored images are deleted past this total (top-level only).
    pub media_max_bytes: Option<u64>,
}

/// Where a model's reasoning goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasoningMode {
    /// The `reasoning_content` field (DeepSeek's shape, most clients show it).
    #[default]
    ReasoningContent,
    /// Inline in the content as `<think>…</think>` (Gemi2Api's `ENABLE_THINKING`).
    Think,
    /// Not sent.
    Drop,
}

/// How generated images reach the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageMode {
    /// A Markdown `data:` URL in the content.
    #[default]
    Base64,
    /// Stored in the data directory, a Markdown link to `/media/<id>`.
    Url,
}

/// The answer options of one request, all layers applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerPolicy {
    pub heartbeat: Option<Duration>,
    pub reasoning: ReasoningMode,
    pub images: ImageMode,
    pub fetch: FetchPolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchPolicy {
    pub enabled: bool,
    pub max_bytes: u64,
    pub timeout: Duration,
    pub trusted_hosts: Vec<HostPattern>,
}

pub const DEFAULT_FETCH_MAX_BYTES: u64 = 20 * 1024 * 1024;
pub const DEFAULT_FETCH_TIMEOUT_SECS: f64 = 20.0;
pub const DEFAULT_MEDIA_RETENTION_SECS: f64 = 24.0 * 3600.0;
pub const DEFAULT_MEDIA_MAX_BYTES: u64 = 512 * 1024 * 1024;

impl AnswersSection {
    /// Checks one layer; `top` says whether it is the top-level `[answers]`.
    pub fn validate(&self, top: bool) -> Result<(), String> {
        for (what, secs) in [
            ("heartbeat-secs", self.heartbeat_secs),
            ("fetch-timeout-secs", self.fetch_timeout_secs),
            ("media-retention-secs", self.media_retention_secs),
        ] {
            if let Some(secs) = secs
                && !(secs >= 0.0 && secs.is_finite())
            {
                return Err(format!("{what} must be zero or a positive number"));
            }
        }
        if self.heartbeat_secs.is_some_and(|s| s > 0.0 && s < 0.05) {
            return Err("heartbeat-secs must be 0 (off) or at least 0.05".into());
        }
        if self.fetch_timeout_secs == Some(0.0) {
            return Err("fetch-timeout-secs must be more than 0".into());
        }
        if self.fetch_max_bytes == Some(0) {
            return Err("fetch-max-bytes must be at least 1".into());
        }
        for host in self.fetch_trusted_hosts.iter().flatten() {
            HostPattern::parse(host).map_err(|err| format!("fetch-trusted-hosts: {err}"))?;
        }
        if !top && (self.media_retention_secs.is_some() || self.media_max_bytes.is_some()) {
            return Err(
                "media-retention-secs and media-max-bytes apply to the one image store: set them in the top-level [answers]".into(),
            );
        }
        Ok(())
    }

    /// The options of a request: `layers` from the most specific (the route)
    /// to the least (`[answers]`); the first that sets a field wins.
    pub fn resolve<'a>(layers: impl IntoIterator<Item = &'a AnswersSection>) -> AnswerPolicy {
        let layers: Vec<&AnswersSection> = layers.into_iter().collect();
        macro_rules! pick {
            ($field:ident) => {
                layers.iter().find_map(|layer| layer.$field.clone())
            };
        }
        AnswerPolicy {
            heartbeat: pick!(heartbeat_secs)
                .filter(|secs| *secs > 0.0)
                .map(Duration::from_secs_f64),
            reasoning: pick!(reasoning).unwrap_or_default(),
            images: pick!(images).unwrap_or_default(),
            fetch: FetchPolicy {
                enabled: pick!(fetch_urls).unwrap_or(true),
                max_bytes: pick!(fetch_max_bytes).unwrap_or(DEFAULT_FETCH_MAX_BYTES),
                timeout: Duration::from_secs_f64(
                    pick!(fetch_timeout_secs).unwrap_or(DEFAULT_FETCH_TIMEOUT_SECS),
                ),
                // Validated at load.
                trusted_hosts: pick!(fetch_trusted_hosts)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|host| HostPattern::parse(host).ok())
                    .collect(),
            },
        }
    }

    /// The image store's limits: (age, total bytes).
    pub fn media_limits(&self) -> (Duration, u64) {
        (
            Duration::from_secs_f64(
                self.media_retention_secs
                    .unwrap_or(DEFAULT_MEDIA_RETENTION_SECS),
            ),
            self.media_max_bytes.unwrap_or(DEFAULT_MEDIA_MAX_BYTES),
        )
    }
}

/// A route's own `answers`, if it has any (read here rather than by the
/// route's untagged parse, so a mistake in it gets its own message).
pub(super) fn of_route(spec: &RouteSpec) -> Option<AnswersSection> {
    parse_route(spec).and_then(Result::ok)
}

fn parse_route(spec: &RouteSpec) -> Option<Result<AnswersSection, String>> {
    match spec {
        RouteSpec::Detailed(detail) => detail.answers.as_ref().map(|value| {
            AnswersSection::deserialize(value.clone()).map_err(|err| err.message().to_string())
        }),
        _ => None,
    }
}

/// Every `answers` layer of the file, the server's public base URL and
/// every plugin's proxy.
pub(super) fn validate_file(file: &ConfigFile) -> Result<(), Invalid> {
    file.answers
        .validate(true)
        .map_err(|message| (None, format!("[answers] {message}")))?;
    for (name, plugin) in &file.plugins {
        plugin
            .answers
            .validate(false)
            .map_err(|message| (None, format!("[plugins.{name}.answers] {message}")))?;
        if let Some(proxy) = &plugin.proxy
            && let super::proxy::ProxySetting::Url(url) = proxy.get_ref()
        {
            super::proxy::ProxyUrl::parse(url).map_err(|message| {
                (
                    Some(proxy.span()),
                    format!("[plugins.{name}] proxy: {message}"),
                )
            })?;
        }
    }
    for (model, spec) in &file.models {
        if let Some(answers) = parse_route(spec.get_ref()) {
            answers.and_then(|a| a.validate(false)).map_err(|message| {
                (
                    Some(spec.span()),
                    format!("[models] {:?} answers: {message}", model.get_ref()),
                )
            })?;
        }
    }
    if let Some(base) = &file.server.public_base_url {
        let url = base.get_ref();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(['?', '#'])
        {
            return Err((
                Some(base.span()),
                format!(
                    "public-base-url = {url:?} is not an http(s) URL such as https://me-gateway.hf.space"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::path::Path;

    #[test]
    fn a_route_wins_over_its_plugin_which_wins_over_the_top() {
        let config = Config::parse(
            Path::new("t.toml"),
            r#"
            [answers]
            heartbeat-secs = 15
            reasoning = "drop"
            images = "url"
            [plugins.gemini.answers]
            reasoning = "think"
            heartbeat-secs = 0
            [models]
            "a" = { plugin = "gemini", answers = { images = "base64" } }
            "#,
        )
        .unwrap();
        let (route, _) = config.routes.resolve("a").unwrap();
        let policy = AnswersSection::resolve([
            route.answers.as_ref().unwrap(),
            &config.file.plugins["gemini"].answers,
            &config.file.answers,
        ]);
        assert_eq!(policy.images, ImageMode::Base64);
        assert_eq!(policy.reasoning, ReasoningMode::Think);
        assert_eq!(policy.heartbeat, None, "0 turns it off for the plugin");
        let top = AnswersSection::resolve([&config.file.answers]);
        assert_eq!(top.heartbeat, Some(Duration::from_secs(15)));
        assert!(top.fetch.enabled);
    }

    #[test]
    fn bad_values_are_refused_with_their_place() {
        for (text, needle) in [
            ("[answers]\nreasoning = \"loud\"", "unknown variant"),
            ("[answers]\nheartbeat-secs = -1", "heartbeat-secs"),
            (
                "[answers]\nfetch-trusted-hosts = [\"*\"]",
                "fetch-trusted-hosts",
            ),
            (
                "[plugins.gemini.answers]\nmedia-max-bytes = 1",
                "[plugins.gemini.answers]",
            ),
            (
                "[models]\n\"a\" = { plugin = \"gemini\", answers = { images = \"gif\" } }",
                "gif",
            ),
        ] {
            let err = Config::parse(Path::new("t.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
