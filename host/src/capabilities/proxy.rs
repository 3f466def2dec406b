//! A plugin's outbound proxy (`proxy` in `[plugins.<name>]`): its requests
//! leave through an HTTP(S) `CONNECT` tunnel or SOCKS5, so an upstream sees
//! the proxy's address (gemini-business2api's `PROXY`, for accounts whose
//! IP is blocked). Egress rules are unchanged: the allow-list is checked on
//! the final destination before the proxy is asked, and a destination
//! granted only as a public host must still resolve to public addresses.
//! The proxy's own address is trusted: the operator named it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderValue, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::WasiBody;

use crate::config::{PluginSection, ProxyKind, ProxyUrl};

type Tls<C> = hyper_rustls::HttpsConnector<C>;

enum Via {
    Http(Client<Tls<Ported<Tunnel<HttpConnector>>>, WasiBody>),
    Https(Client<Tls<Ported<Tunnel<Tls<HttpConnector>>>>, WasiBody>),
    Socks(Client<Tls<Ported<SocksV5<HttpConnector>>>, WasiBody>),
}

/// A pooled client whose connections all go through one proxy.
pub struct ProxyClient {
    /// Shown in logs: credentials masked.
    pub url: ProxyUrl,
    via: Via,
}

impl std::fmt::Debug for ProxyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProxyClient({})", self.url)
    }
}

impl ProxyClient {
    pub fn new(url: ProxyUrl) -> Self {
        let scheme = if url.kind == ProxyKind::Https {
            "https"
        } else {
            "http"
        };
        let proxy_uri: Uri = format!("{scheme}://{}", url.authority())
            .parse()
            .expect("a parsed proxy URL is a valid URI");
        let via = match url.kind {
            ProxyKind::Http => Via::Http(client(tunnel(&url, proxy_uri, tcp()))),
            ProxyKind::Https => Via::Https(client(tunnel(&url, proxy_uri, tls(tcp())))),
            ProxyKind::Socks5 => {
                let mut socks = SocksV5::new(proxy_uri, tcp());
                if let Some((user, pass)) = &url.credentials {
                    socks = socks.with_auth(user.clone(), pass.clone());
                }
                Via::Socks(client(Ported(socks)))
            }
        };
        ProxyClient { url, via }
    }

    pub async fn request(
        &self,
        request: http::Request<WasiBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error> {
        match &self.via {
            Via::Http(client) => client.request(request).await,
            Via::Https(client) => client.request(request).await,
            Via::Socks(client) => client.request(request).await,
        }
    }
}

/// The plugin's proxy, if it has one. A malformed one is a warning and the
/// plugin goes without (never through a half-read setting).
pub fn for_plugin(
    name: &str,
    section: &PluginSection,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Option<Arc<ProxyClient>> {
    let setting = section.proxy.as_ref()?;
    match setting.get_ref().resolve(env) {
        Ok(Some(url)) => {
            tracing::info!(plugin = name, proxy = %url, "outbound requests go through a proxy");
            Some(Arc::new(ProxyClient::new(url)))
        }
        // The shipped file names `PROXY` for plugins whose seed read it:
        // unset is the common case, not a problem.
        Ok(None) => {
            tracing::info!(
                plugin = name,
                "no proxy: its variable is not set, requests go direct"
            );
            None
        }
        Err(err) => {
            warnings.push(format!("[plugins.{name}] proxy: {err}; requests go direct"));
            None
        }
    }
}

fn tcp() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(15)));
    http
}

fn tls<C>(inner: C) -> Tls<C> {
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("the ring provider supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(inner)
}

fn tunnel<C>(url: &ProxyUrl, proxy_uri: Uri, inner: C) -> Ported<Tunnel<C>> {
    let mut tunnel = Tunnel::new(proxy_uri, inner);
    if let Some((user, pass)) = &url.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        if let Ok(value) = HeaderValue::from_str(&format!("Basic {token}")) {
            tunnel = tunnel.with_auth(value);
        }
    }
    Ported(tunnel)
}

fn client<C>(connector: C) -> Client<Tls<C>, WasiBody>
where
    Tls<C>: hyper_util::client::legacy::connect::Connect + Clone,
{
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(16)
        .build(tls(connector))
}

/// Gives the destination an explicit port before the tunnel sees it (the
/// tunnels assume 443 when a URI has none, wrong for `http://`).
#[derive(Clone)]
pub struct Ported<C>(C);

impl<C: tower::Service<Uri>> tower::Service<Uri> for Ported<C> {
    type Response = C::Response;
    type Error = C::Error;
    type Future = C::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let uri = match (uri.port_u16(), uri.scheme_str(), uri.host()) {
            (None, scheme, Some(host)) => {
                let port = if scheme == Some("http") { 80 } else { 443 };
                format!("{}://{host}:{port}/", scheme.unwrap_or("https"))
                    .parse()
                    .unwrap_or(uri)
            }
            _ => uri,
        };
        self.0.call(uri)
    }
}

/// Whether every address of a destination is public: checked before a
/// request to a host granted only as public leaves through the proxy
/// (which would otherwise resolve it where the gateway cannot see).
pub fn resolves_publicly(host: String, port: u16) -> Pin<Box<dyn Future<Output = bool> + Send>> {
    Box::pin(async move {
        match tokio::net::lookup_host((host.as_str(), port)).await {
            Ok(addrs) => {
                let addrs: Vec<_> = addrs.collect();
                !addrs.is_empty() && addrs.iter().all(|a| super::egress::is_public(a.ip()))
            }
            Err(_) => false,
        }
    })
}
