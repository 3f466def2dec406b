//! Outgoing HTTP (`wasi:http/outgoing-handler`), filtered and pooled.
//!
//! Every request a plugin makes passes through [`EgressHooks::send_request`]:
//! a host not granted to that plugin is refused there, logged, and never
//! leaves the machine. Granted requests go through one shared keep-alive
//! client (rustls with bundled roots, `TCP_NODELAY`), so a plugin request does
//! not pay for a new TCP/TLS connection.
//!
//! Names granted by wildcard or by a plugin's own manifest may not resolve to
//! private, loopback or link-local addresses (DNS rebinding, cloud metadata
//! endpoints), and an IP literal under such a grant must itself be public:
//! every address a connection can go to is checked, whether it came from the
//! resolver or from the URL. A host the operator names exactly (an IP literal
//! in a `base-url`, an internal proxy) is trusted to be where it says — but
//! never the gateway's own port, so a plugin cannot call the gateway as a
//! local caller.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioExecutor;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::proxy::{ProxyClient, resolves_publicly};
use crate::config::HostPattern;
use crate::config::hosts::Scheme;
use crate::runtime::phases::{self, Phase};

/// One granted host pattern.
#[derive(Debug, Clone)]
pub struct Grant {
    pub pattern: HostPattern,
    /// Whether it may resolve to non-public addresses.
    pub trusted: bool,
}

/// The hosts one plugin may reach.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    grants: Vec<Grant>,
    /// Where every request of the plugin leaves through, if anywhere.
    proxy: Option<Arc<ProxyClient>>,
}

impl Grants {
    pub fn none() -> Self {
        Grants::default()
    }

    pub fn add(&mut self, pattern: HostPattern, trusted: bool) {
        if let Some(existing) = self.grants.iter_mut().find(|g| g.pattern == pattern) {
            existing.trusted |= trusted;
        } else {
            self.grants.push(Grant { pattern, trusted });
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter()
    }

    /// Sends the plugin's requests through `proxy` (the grants still apply).
    pub fn with_proxy(mut self, proxy: Option<Arc<ProxyClient>>) -> Self {
        self.proxy = proxy;
        self
    }

    pub fn proxy(&self) -> Option<&ProxyClient> {
        self.proxy.as_deref()
    }

    /// `Some(trusted)` when a grant covers the destination.
    fn check(&self, scheme: Scheme, host: &str, port: u16) -> Option<bool> {
        let mut covered = None;
        for grant in self
            .grants
            .iter()
            .filter(|g| g.pattern.matches(scheme, host, port))
        {
            covered = Some(covered.unwrap_or(false) || grant.trusted);
        }
        covered
    }
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<PublicOnly>>;
type TrustedConnector = hyper_rustls::HttpsConnector<HttpConnector<GaiResolver>>;

/// One thread's outgoing clients (see [`Egress::this_threads`]).
pub struct Egress {
    public: Client<Connector, WasiBody>,
    trusted: Client<TrustedConnector, WasiBody>,
}

thread_local! {
    static THIS_THREADS: Arc<Egress> = Arc::new(Egress::new());
}

impl Egress {
    /// The clients of the calling thread. Each lane (see `crate::lanes`)
    /// keeps its own upstream connections, so that a plugin's request, its
    /// connection's task and the answer's body all stay on the lane serving
    /// the caller.
    pub fn this_threads() -> Arc<Egress> {
        THIS_THREADS.with(Arc::clone)
    }

    fn new() -> Self {
        Egress {
            public: client(HttpConnector::new_with_resolver(PublicOnly(
                GaiResolver::new(),
            ))),
            trusted: client(HttpConnector::new_with_resolver(GaiResolver::new())),
        }
    }
}

fn client<R>(
    mut http: HttpConnector<R>,
) -> Client<hyper_rustls::HttpsConnector<HttpConnector<R>>, WasiBody>
where
    R: Clone + Send + Sync + 'static,
    HttpConnector<R>: tower::Service<http::Uri>,
    hyper_rustls::HttpsConnector<HttpConnector<R>>:
        hyper_util::client::legacy::connect::Connect + Clone,
{
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(15)));
    http.set_keepalive(Some(Duration::from_secs(60)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("the ring provider supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(64)
        .build(https)
}

/// The hooks of one plugin instance.
pub struct EgressHooks {
    plugin: Arc<str>,
    grants: Arc<Grants>,
}

impl EgressHooks {
    pub fn new(plugin: Arc<str>, grants: Arc<Grants>) -> Self {
        EgressHooks { plugin, grants }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for EgressHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri();
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            _ => Scheme::Https,
        };
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        let Some(trusted) = self.grants.check(scheme, host, port) else {
            tracing::warn!(
                plugin = &*self.plugin,
                host,
                port,
                "egress denied: host not granted to this plugin"
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        };
        let literal = host.parse::<IpAddr>().ok();
        // An IP literal never meets the resolver's filter: check it here.
        if !trusted && literal.is_some_and(|ip| !is_public(ip)) {
            tracing::warn!(
                plugin = &*self.plugin,
                host,
                "egress denied: not a public address"
            );
            return Box::new(async { Err(HttpError::DestinationIpProhibited) });
        }
        if is_own_address(host, literal, port) {
            tracing::warn!(
                plugin = &*self.plugin,
                host,
                port,
                "egress denied: the gateway's own address"
            );
            return Box::new(async { Err(HttpError::DestinationIpProhibited) });
        }
        if let Some(proxy) = self.grants.proxy.clone() {
            let (plugin, host) = (self.plugin.clone(), host.to_string());
            return Box::new(async move {
                if !trusted && !resolves_publicly(host.clone(), port).await {
                    tracing::warn!(
                        plugin = &*plugin,
                        host,
                        "egress denied: not a public address"
                    );
                    return Err(HttpError::DestinationIpProhibited);
                }
                let request = gathered(request).await?;
                let response = proxy.request(request).await.map_err(|err| {
                    tracing::warn!(plugin = &*plugin, proxy = %proxy.url, host, "through the proxy: {}", classify_text(&err));
                    classify(err)
                })?;
                let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
                let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                    Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        let egress = Egress::this_threads();
        Box::new(async move {
            let started = phases::start();
            let request = gathered(request).await?;
            let response = if trusted {
                egress.trusted.request(request).await
            } else {
                egress.public.request(request).await
            }
            .map_err(classify)?;
            phases::finish(Phase::Egress, started);
            let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// Request bodies up to this size are read whole before the request goes
/// out; a larger one streams on after its first part.
const GATHERED_BODY_BYTES: usize = 1 << 20;

/// The request with its body read up front when it is small (a chat
/// request's JSON): it then goes out with a `content-length` in one write,
/// instead of chunked, with the connection's task waiting on the plugin for
/// each piece. The plugin writes its body right after sending the request,
/// so this waits only for what is already on its way.
async fn gathered(request: http::Request<WasiBody>) -> Result<http::Request<WasiBody>, HttpError> {
    let (parts, mut body) = request.into_parts();
    let mut prefix = bytes::BytesMut::new();
    loop {
        match body.frame().await {
            None => {
                let whole = http_body_util::Full::new(prefix.freeze())
                    .map_err(|never| match never {})
                    .boxed_unsync();
                return Ok(http::Request::from_parts(parts, whole));
            }
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    prefix.extend_from_slice(&data);
                }
                // Trailers on a request body are dropped, as hyper's HTTP/1 does.
                if prefix.len() > GATHERED_BODY_BYTES {
                    let rest = Prefixed {
                        prefix: Some(prefix.freeze()),
                        rest: body,
                    };
                    return Ok(http::Request::from_parts(parts, rest.boxed_unsync()));
                }
            }
        }
    }
}

/// A body whose first part was already read.
struct Prefixed {
    prefix: Option<bytes::Bytes>,
    rest: WasiBody,
}

impl http_body::Body for Prefixed {
    type Data = bytes::Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, HttpError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}

/// A client failure's innermost cause, for a log line (a proxy's answer).
fn classify_text(err: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = cause.to_string();
        source = cause.source();
    }
    text
}

/// Maps a client failure to the `wasi:http` error code the plugin sees.
fn classify(err: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    if err.is_connect() {
        let mut source = err.source();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                return match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => HttpError::ConnectionRefused,
                    std::io::ErrorKind::TimedOut => HttpError::ConnectionTimeout,
                    std::io::ErrorKind::PermissionDenied => HttpError::DestinationIpProhibited,
                    _ => HttpError::DestinationUnavailable,
                };
            }
            source = cause.source();
        }
        return HttpError::DestinationUnavailable;
    }
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_timeout() {
                return HttpError::HttpResponseTimeout;
            }
            if hyper.is_incomplete_message() {
                return HttpError::HttpResponseIncomplete;
            }
        }
        source = cause.source();
    }
    HttpError::HttpProtocolError
}

/// A resolver that drops addresses that are not on the public internet.
#[derive(Clone)]
pub struct PublicOnly(GaiResolver);

impl tower::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let lookup = self.0.call(name.clone());
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                lookup.await?.filter(|addr| is_public(addr.ip())).collect();
            if addrs.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{name} resolves only to private or local addresses"),
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// The address the gateway listens on, once it does.
static OWN_ADDRESS: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();

/// Tells egress where the gateway itself listens, so no plugin reaches it.
pub fn set_own_address(address: SocketAddr) {
    let _ = OWN_ADDRESS.set(address);
}

/// Whether `host:port` is the gateway itself: its port on a loopback or
/// unspecified address, on `localhost`, or on the address it listens on.
fn is_own_address(host: &str, literal: Option<IpAddr>, port: u16) -> bool {
    let Some(own) = OWN_ADDRESS.get() else {
        return false;
    };
    if port != own.port() {
        return false;
    }
    match literal {
        Some(ip) => {
            let ip = canonical(ip);
            ip.is_loopback() || ip.is_unspecified() || ip == canonical(own.ip())
        }
        None => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            host == "localhost" || host.ends_with(".localhost")
        }
    }
}

/// An IPv4 address written as IPv6 (mapped `::ffff:a.b.c.d` or compatible
/// `::a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => match v6.segments() {
                [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => {
                    IpAddr::V4(std::net::Ipv4Addr::from(
                        (u32::from(hi) << 16) | u32::from(lo),
                    ))
                }
                _ => ip,
            },
        },
        v4 => v4,
    }
}

/// Whether an address is routable on the public internet. IPv6 forms that
/// carry an IPv4 address (mapped, compatible, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) are judged by that address; Teredo, site-local and the
/// reserved IPv4 ranges are never public.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240 // reserved (240.0.0.0/4)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19))) // benchmarking
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(hi) << 16) | u32::from(lo),
                ))
            };
            // NAT64: the last 32 bits are the IPv4 destination.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(segments[6], segments[7]));
            }
            // 6to4: bits 16–48 are the IPv4 address of the relay's site.
            if segments[0] == 0x2002 {
                return is_public(embedded(segments[1], segments[2]));
            }
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first == 0x2001 && segments[1] == 0) // Teredo
                || (first == 0x2001 && segments[1] == 0x0db8) // documentation
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfec0 // site local (deprecated)
                || (first & 0xffc0) == 0xfe80) // link local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "fec0::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "240.0.0.1",
            "255.255.255.254",
            "192.0.0.8",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "142.250.74.106",
            "2a00:1450:4001::200e",
            "64:ff9b::8efa:4a6a",
            "::ffff:142.250.74.106",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn grants_cover_exactly_their_patterns() {
        let mut grants = Grants::none();
        grants.add(HostPattern::parse("*.googleapis.com").unwrap(), false);
        grants.add(
            HostPattern::from_url("http://127.0.0.1:9000").unwrap(),
            true,
        );
        assert_eq!(
            grants.check(Scheme::Https, "generativelanguage.googleapis.com", 443),
            Some(false)
        );
        assert_eq!(grants.check(Scheme::Http, "127.0.0.1", 9000), Some(true));
        assert_eq!(grants.check(Scheme::Http, "127.0.0.1", 9001), None);
        assert_eq!(grants.check(Scheme::Http, "169.254.169.254", 80), None);
    }
}
