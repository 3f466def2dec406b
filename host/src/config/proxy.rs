//! `proxy` of `[plugins.<name>]`: the outbound proxy a plugin's requests go
//! through (gemini-business2api's `PROXY`), for accounts whose IP the
//! upstream blocks.
//!
//! ```toml
//! [plugins.gemini-web]
//! proxy = "socks5://127.0.0.1:1080"   # http://, https://, socks5:// (socks5h:// too)
//! # proxy = { env = "PROXY" }         # from a variable: keeps a password out of the file
//! ```
//! The proxy's own address is the operator's choice (it may be on loopback);
//! the allow-list still applies to where each request finally goes.

use std::fmt;

use serde::Deserialize;

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "a proxy URL such as \"socks5://127.0.0.1:1080\", or { env = \"PROXY\" }"
)]
pub enum ProxySetting {
    Url(String),
    Env { env: String },
}

/// A URL written in the file may hold a password: shown masked.
impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::Url(url) => match ProxyUrl::parse(url) {
                Ok(url) => write!(f, "Url({url})"),
                Err(_) => f.write_str("Url(<invalid>)"),
            },
            ProxySetting::Env { env } => write!(f, "Env({env})"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `CONNECT` over plain TCP.
    Http,
    /// `CONNECT` over TLS to the proxy.
    Https,
    /// SOCKS5; names are resolved by the proxy.
    Socks5,
}

/// A parsed proxy URL. Its credentials never appear in `Display` or `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    /// User and password, percent-decoded.
    pub credentials: Option<(String, String)>,
}

impl ProxyUrl {
    /// Parses `scheme://[user:pass@]host[:port]`. The error never repeats
    /// the URL, which may hold a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or("a proxy is a URL such as socks5://host:1080 or http://host:3128")?;
        let (kind, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (ProxyKind::Http, 80),
            "https" => (ProxyKind::Https, 443),
            "socks5" | "socks5h" => (ProxyKind::Socks5, 1080),
            other => {
                return Err(format!(
                    "proxy scheme {other:?} is not supported (http, https, socks5)"
                ));
            }
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err("a proxy URL has no path".into());
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let credentials = userinfo.map(|userinfo| {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (percent_decode(user), percent_decode(pass))
        });
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse::<u16>()
                    .map_err(|_| "the proxy's port is not a number".to_string())?,
            ),
            _ => (hostport, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err("the proxy URL has no valid host".into());
        }
        Ok(ProxyUrl {
            kind,
            host: host.to_ascii_lowercase(),
            port,
            credentials,
        })
    }

    /// `host:port` as a URI authority (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Https => "https",
            ProxyKind::Socks5 => "socks5",
        };
        let hidden = if self.credentials.is_some() {
            "***@"
        } else {
            ""
        };
        write!(f, "{scheme}://{hidden}{}", self.authority())
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ProxySetting {
    /// The proxy, reading the variable if it comes from one: `Ok(None)` when
    /// the variable is unset.
    pub fn resolve(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ProxyUrl>, String> {
        match self {
            ProxySetting::Url(url) => ProxyUrl::parse(url).map(Some),
            ProxySetting::Env { env: name } => match env(name) {
                Some(url) => ProxyUrl::parse(&url)
                    .map(Some)
                    .map_err(|err| format!("{name}: {err}")),
                None => Ok(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_and_never_show_their_password() {
        let proxy = ProxyUrl::parse("socks5://al%40ice:s3cr%3At@10.0.0.2:9050").unwrap();
        assert_eq!(proxy.kind, ProxyKind::Socks5);
        assert_eq!(proxy.authority(), "10.0.0.2:9050");
        assert_eq!(
            proxy.credentials,
            Some(("al@ice".to_string(), "s3cr:t".to_string()))
        );
        assert_eq!(proxy.to_string(), "socks5://***@10.0.0.2:9050");
        assert!(!format!("{proxy:?}").contains("s3cr"));
        let setting = ProxySetting::Url("http://u:hunter2@h:3128".into());
        assert_eq!(format!("{setting:?}"), "Url(http://***@h:3128)");

        let proxy = ProxyUrl::parse("http://proxy.lan").unwrap();
        assert_eq!((proxy.kind, proxy.port), (ProxyKind::Http, 80));
        assert_eq!(
            ProxyUrl::parse("https://[::1]:8443").unwrap().authority(),
            "[::1]:8443"
        );

        for bad in [
            "ftp://x",
            "proxy.lan:1",
            "http://u:hunter2@h:x",
            "socks5://h/path",
        ] {
            let err = ProxyUrl::parse(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
