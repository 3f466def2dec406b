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
    #[error("{0:?} has more than one wildcard: use one `*`, e.g. \"*.example.com\"")]
    ManyWildcards(String),
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
        // A DNS name is at most 253 bytes, of labels that are never empty.
        if host.is_empty()
            || host.len() > 253
            || !(is_ipv6 || host.chars().all(valid_char))
            || (!is_ipv6 && host.split('.').any(str::is_empty))
        {
            return Err(malformed());
        }
        match host.matches('*').count() {
            0 => {}
            1 => {
                // What follows the wildcard's own label must be a domain of
                // two labels at least: `*.example.com`, `*-x.example.com`,
                // `api.*.example.com`, never `*.com` or `example.*`.
                let after = &host[host.find('*').unwrap_or_default() + 1..];
                let labels = after.split('.').skip(1).count();
                if labels < 2 {
                    return Err(HostPatternError::TooBroad(text.to_string()));
                }
            }
            _ => return Err(HostPatternError::ManyWildcards(text.to_string())),
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

/// `*` matches any run of characters; everything else matches itself. Time
/// is at most the product of the two lengths whatever the pattern (the
/// classic backtrack-to-the-last-star walk), never exponential: a caller's
/// model name meets the operator's route globs here.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and where in `text` its run ends for now.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            // Let the last `*` take one more byte and try again after it.
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
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
        for broad in ["*.com", "*.", "*..example.com", "*.co", "a.*", "*"] {
            assert!(HostPattern::parse(broad).is_err(), "{broad}");
        }
        assert!(matches!(
            HostPattern::parse("*a*a*a*a*a*a*a*a*.x.com"),
            Err(HostPatternError::ManyWildcards(_))
        ));
        assert!(HostPattern::parse(&format!("{}.example.com", "a".repeat(250))).is_err());
        assert!(HostPattern::parse("aiplatform.*.rep.googleapis.com").is_ok());
        assert!(HostPattern::parse("*-aiplatform.googleapis.com").is_ok());
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
        assert!(glob_match("*-x.example.com", "a-b-x.example.com"));
        assert!(glob_match("a**b", "ab"));
        assert!(!glob_match("*a", "b"));
    }

    #[test]
    fn many_stars_take_polynomial_time() {
        // Exponential backtracking would not finish this in a lifetime.
        let text = "a".repeat(5000);
        assert!(!glob_match(&format!("{}b", "*a".repeat(40)), &text));
        assert!(glob_match(&"*a".repeat(40), &text));
    }
}
