//! Images and files that pass through the gateway as URLs instead of bytes:
//! generated images stored and served by link ([`store`]), and URLs in
//! requests fetched by the host ([`fetch`]).

pub mod fetch;
pub mod store;

use std::path::Path;
use std::sync::Arc;

use axum::http::HeaderMap;

use crate::config::ConfigFile;
pub use store::MediaStore;

/// What the chat handler needs to turn media into links and links into media.
pub struct Media {
    /// `None` without a writable data directory: images stay inline.
    pub store: Option<Arc<MediaStore>>,
    /// How clients reach the gateway, without a trailing `/`.
    pub public_base: Option<String>,
}

impl Media {
    /// The store in `<data>/wasmgate-media/` (swept in the background) and
    /// the public base URL: `PUBLIC_BASE_URL`, else `BASE_URL` (the seeds'
    /// names), else `[server] public-base-url`.
    pub fn start(
        data_dir: Option<&Path>,
        config: &ConfigFile,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Media {
        let (retention, max_bytes) = config.answers.media_limits();
        let store = data_dir.and_then(|dir| {
            match MediaStore::open(&dir.join("wasmgate-media"), retention, max_bytes) {
                Ok(store) => Some(Arc::new(store)),
                Err(err) => {
                    tracing::warn!(
                        "generated images stay inline: cannot use the media directory: {err}"
                    );
                    None
                }
            }
        });
        if let Some(store) = &store {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let store = store.clone();
                    let _ = tokio::task::spawn_blocking(move || store.sweep()).await;
                }
            });
        }
        let public_base = env("PUBLIC_BASE_URL")
            .or_else(|| env("BASE_URL"))
            .or_else(|| {
                config
                    .server
                    .public_base_url
                    .as_ref()
                    .map(|u| u.get_ref().clone())
            })
            .map(|url| url.trim_end_matches('/').to_string());
        Media { store, public_base }
    }

    /// The base of links in an answer: the configured one, else what the
    /// request came to (`X-Forwarded-Proto`/`-Host` behind a proxy, `Host`).
    pub fn base_for(&self, headers: &HeaderMap) -> String {
        if let Some(base) = &self.public_base {
            return base.clone();
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty() && !v.contains(['/', ' ', '"']))
        };
        let host = header("x-forwarded-host")
            .or_else(|| header("host"))
            .unwrap_or_else(|| "localhost".into());
        let scheme = header("x-forwarded-proto")
            .filter(|p| p == "http" || p == "https")
            .unwrap_or_else(|| "http".into());
        format!("{scheme}://{host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_use_the_configured_base_else_where_the_request_came_to() {
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, value.parse().unwrap());
            }
            map
        };
        let mut media = Media {
            store: None,
            public_base: None,
        };
        assert_eq!(
            media.base_for(&headers(&[("host", "127.0.0.1:7860")])),
            "http://127.0.0.1:7860"
        );
        assert_eq!(
            media.base_for(&headers(&[
                ("host", "10.0.0.5:7860"),
                ("x-forwarded-host", "me-gw.hf.space"),
                ("x-forwarded-proto", "https"),
            ])),
            "https://me-gw.hf.space"
        );
        assert_eq!(
            media.base_for(&headers(&[("host", "evil.example/path")])),
            "http://localhost",
            "a header that is not a host is not used"
        );
        media.public_base = Some("https://gw.example".into());
        assert_eq!(
            media.base_for(&headers(&[("host", "x")])),
            "https://gw.example"
        );
    }
}
