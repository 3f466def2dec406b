//! Downloading generated images: which URL, which cookies, which type.

use crate::endpoints::host_of;

/// Size suffix for the full-size rendition (the reference client's fallback
/// when it does not resolve the original through RPC `c8o8Fe`).
const FULL_SIZE: &str = "=s2048-rj";

/// Google's hosts that want the session cookies for image downloads.
const COOKIE_DOMAINS: [&str; 2] = ["google.com", "googleusercontent.com"];

/// The full-size URL of a preview: its `=s<n>[-rj]` suffix replaced, or added.
pub fn full_size_url(preview: &str) -> String {
    if let Some(at) = preview.rfind("=s") {
        let suffix = &preview[at + 2..];
        let digits = suffix.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &suffix[digits..];
        if digits > 0 && (rest.is_empty() || rest == "-rj") {
            return format!("{}{FULL_SIZE}", &preview[..at]);
        }
    }
    if preview.contains('?') {
        return preview.to_string();
    }
    format!("{preview}{FULL_SIZE}")
}

/// Whether the session cookies may go to this URL: Google's own hosts, or
/// the hosts the operator configured as the upstream's origins.
pub fn sends_cookies(url: &str, configured_hosts: &[String]) -> bool {
    let Some(host) = host_of(url) else {
        return false;
    };
    let name = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let google = COOKIE_DOMAINS
        .iter()
        .any(|domain| name == *domain || name.ends_with(&format!(".{domain}")));
    google
        || configured_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
}

/// The media type: the response's image type, else sniffed, else PNG.
pub fn mime_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    if let Some(declared) = content_type {
        let declared = declared
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if declared.starts_with("image/") {
            return declared;
        }
    }
    let sniffed = if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "image/png"
    };
    sniffed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_size_suffixes() {
        assert_eq!(
            full_size_url("https://lh3.x/abc=s1024-rj"),
            "https://lh3.x/abc=s2048-rj"
        );
        assert_eq!(
            full_size_url("https://lh3.x/abc=s512"),
            "https://lh3.x/abc=s2048-rj"
        );
        assert_eq!(
            full_size_url("https://lh3.x/abc"),
            "https://lh3.x/abc=s2048-rj"
        );
        assert_eq!(full_size_url("https://x/a=b?x=1"), "https://x/a=b?x=1");
    }

    #[test]
    fn cookies_go_only_to_google_or_configured_hosts() {
        let configured = vec!["127.0.0.1:4000".to_string()];
        assert!(sends_cookies(
            "https://lh3.googleusercontent.com/x",
            &configured
        ));
        assert!(sends_cookies("https://gemini.google.com/x", &configured));
        assert!(sends_cookies(
            "http://127.0.0.1:4000/mock-img/1",
            &configured
        ));
        assert!(!sends_cookies("http://127.0.0.1:4001/x", &configured));
        assert!(!sends_cookies("https://evilgoogle.com/x", &configured));
        assert!(!sends_cookies("https://google.com.evil.net/x", &configured));
    }

    #[test]
    fn media_types() {
        assert_eq!(mime_type(Some("image/jpeg; charset=x"), b""), "image/jpeg");
        assert_eq!(
            mime_type(Some("application/octet-stream"), b"\x89PNG.."),
            "image/png"
        );
        assert_eq!(mime_type(None, b"\xFF\xD8\xFF\xE0"), "image/jpeg");
        assert_eq!(mime_type(None, b"??"), "image/png");
    }
}
