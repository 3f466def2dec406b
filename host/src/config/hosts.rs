//! Host patterns of the egress allow-list: `example.com`, `*.example.com`,
//! `*-aiplatform.googleapis.com`, with an optional `scheme://` and `:port`.
//! Without a scheme only HTTPS is allowed; without a port only the scheme's
//! default port.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: Scheme,
    /// Lowercase; may contain `*`, which matches any run of characters.
    host: String,
    port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPatternError {
    #[error(
        "{0:?} is not a host pattern (expected e.g. \"example.com\", \"*.example.com\" or \"http://127.0.0.1:8080\")"
    )]
    Malformed(String),
    #[error("{0:?} is too broad: a wildcard must be followed by a domain such as \".example.com\"")]
    TooBroad(String),
    #[error("{0:?} is not an http(s) URL")]
    NotAUrl(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, HostPatternError> {
        let malformed = || HostPatternError::Malformed(text.to_string());
        let (scheme, rest) = match text.split_once("://") {
            Some(("https", rest)) => (Scheme::Https, rest),
            Some(("http", rest)) => (Scheme::Http, rest),
            Some(_) => return Err(malformed()),
            None => (Scheme::Https, text),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_port(rest).ok_or_else(malformed)?;
        let host = host.to_ascii_lowercase();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | '_');
        let is_ipv6 = host.starts_with('[') && host.ends_with(']');
        if host.is_empty() || !(is_ipv6 || host.chars().all(valid_char)) {
            return Err(malformed());
        }
        if let Some(star) = host.rfind('*')
            && !host[star..].contains('.')
        {
            return Err(HostPatternError::TooBroad(text.to_string()));
        }
        Ok(HostPattern {
            scheme,
            port: port.unwrap_or(scheme.default_port()),
            host,
        })
    }

    /// The pattern that grants exactly the origin of a URL such as a `base-url`.
    pub fn from_url(url: &str) -> Result<Self, HostPatternError> {
        let not_url = || HostPatternError::NotAUrl(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(not_url)?;
        if scheme != "http" && scheme != "https" {
            return Err(not_url());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('*') || authority.contains('@') {
            return Err(not_url());
        }
        Self::parse(&format!("{scheme}://{authority}"))
    }

    /// Whether a request to `scheme://host:port` is covered.
    pub fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        scheme == self.scheme
            && port == self.port
            && glob_match(&self.host, &host.to_ascii_lowercase())
    }

    /// Whether every destination `other` allows is also allowed by `self`.
    pub fn covers(&self, other: &HostPattern) -> bool {
        self == other
            || (other.is_exact()
                && self.scheme == other.scheme
                && self.port == other.port
                && glob_match(&self.host, &other.host))
    }

    /// Whether the pattern names one exact host (no wildcard).
    pub fn is_exact(&self) -> bool {
        !self.host.contains('*')
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// Splits `host[:port]`, including `[v6]:port`.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if text.starts_with('[') {
        let close = text.find(']')?;
        let (host, rest) = text.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((head, tail)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(rest) = text.strip_prefix(head) else {
        return false;
    };
    if !tail.contains('*') {
        return rest.len() >= tail.len() && rest.ends_with(tail);
    }
    (0..=rest.len())
        .filter(|&i| rest.is_char_boundary(i))
        .any(|i| glob_match(tail, &rest[i..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_what_they_say() {
        let exact = HostPattern::parse("generativelanguage.googleapis.com").unwrap();
        assert!(exact.matches(Scheme::Https, "generativelanguage.googleapis.com", 443));
        assert!(exact.matches(Scheme::Https, "GenerativeLanguage.googleapis.com", 443));
        assert!(!exact.matches(Scheme::Http, "generativelanguage.googleapis.com", 80));
        assert!(!exact.matches(Scheme::Https, "generativelanguage.googleapis.com", 8443));
        assert!(!exact.matches(Scheme::Https, "evil.com", 443));

        let wildcard = HostPattern::parse("*-aiplatform.googleapis.com").unwrap();
        assert!(wildcard.matches(Scheme::Https, "us-central1-aiplatform.googleapis.com", 443));
        assert!(!wildcard.matches(Scheme::Https, "aiplatform.googleapis.com", 443));
        assert!(!wildcard.is_exact());

        let local = HostPattern::from_url("http://127.0.0.1:8080/v1beta").unwrap();
        assert!(local.matches(Scheme::Http, "127.0.0.1", 8080));
        assert!(!local.matches(Scheme::Http, "127.0.0.1", 8081));
        assert_eq!(local.to_string(), "http://127.0.0.1:8080");
    }

    #[test]
    fn broad_or_malformed_patterns_are_refused() {
        assert!(matches!(
            HostPattern::parse("*"),
            Err(HostPatternError::TooBroad(_))
        ));
        assert!(matches!(
            HostPattern::parse("example.*"),
            Err(HostPatternError::TooBroad(_))
        ));
        assert!(HostPattern::parse("bad host").is_err());
        assert!(HostPattern::parse("ftp://example.com").is_err());
        assert!(HostPattern::parse("example.com:http").is_err());
        assert!(HostPattern::from_url("example.com").is_err());
        assert!(HostPattern::from_url("http://user@example.com").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("gemini-*", "gemini-2.5-pro"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(!glob_match("a*b*c", "aXbY"));
        assert!(!glob_match("gemini-*", "gpt-4"));
    }
}
