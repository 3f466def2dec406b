//! `image_url` and file parts that hold an `http(s)://` URL are fetched by
//! the host and handed to the plugin as bytes, so every plugin accepts them
//! (gemini-business2api's users send PDFs, Office files, audio and video by
//! URL). The gateway must not become a way into its own network: only
//! public addresses are fetched — checked on every address a name resolves
//! to and again on the address actually connected to, IP literals included —
//! unless the operator names the host in `fetch-trusted-hosts`. Size, time
//! and content type are limited; every refusal is a 400 that says why.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::api::error::ApiError;
use crate::capabilities::egress::is_public;
use crate::config::FetchPolicy;
use crate::config::hosts::Scheme;
use crate::runtime::bindings::{ChatRequest, ContentPart, Media};

const MAX_REDIRECTS: usize = 3;

/// Replaces every URL part of `request` by the bytes it points to.
pub async fn inline_urls(request: &mut ChatRequest, policy: &FetchPolicy) -> Result<(), ApiError> {
    if !policy.enabled {
        return Ok(());
    }
    // `fetch-max-bytes` bounds a request's URLs together, so many parts
    // cannot add up to more memory than one.
    let mut budget = policy.max_bytes;
    for (i, message) in request.messages.iter_mut().enumerate() {
        for (j, part) in message.content.iter_mut().enumerate() {
            let ContentPart::ImageUrl(url) = part else {
                continue;
            };
            let media = fetch(url, policy, budget)
                .await
                .map_err(|message| ApiError {
                    code: Some("invalid_url"),
                    ..ApiError::invalid_param(&format!("messages[{i}].content[{j}]"), message)
                })?;
            budget = budget.saturating_sub(media.data.len() as u64);
            *part = if media.mime_type.starts_with("image/") {
                ContentPart::Image(media)
            } else {
                ContentPart::File(media)
            };
        }
    }
    Ok(())
}

/// The URL without its query (which may hold a signature), for messages.
fn shown(uri: &Uri) -> String {
    format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("?"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    )
}

/// One URL's bytes and type (at most `budget` bytes), or why not.
pub async fn fetch(url: &str, policy: &FetchPolicy, budget: u64) -> Result<Media, String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| "The URL is not a valid http(s) URL.".to_string())?;
    let name = shown(&uri);
    match tokio::time::timeout(policy.timeout, follow(uri, policy, budget)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "Fetching {name} took longer than {} s.",
            policy.timeout.as_secs_f64()
        )),
    }
}

async fn follow(mut uri: Uri, policy: &FetchPolicy, budget: u64) -> Result<Media, String> {
    for _ in 0..=MAX_REDIRECTS {
        let name = shown(&uri);
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err(format!("{name}: only http and https URLs are fetched.")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("{name} has no host."))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        let trusted = policy
            .trusted_hosts
            .iter()
            .any(|pattern| pattern.matches(scheme, &host, port));
        if !trusted {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| format!("{name}: the host {host} does not resolve."))?
                .collect();
            if addrs.is_empty() || addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{name} is not on a public address ({host} is private, loopback or link-local); the gateway fetches only public URLs."
                ));
            }
        }
        let response = client(trusted)
            .request(
                Request::get(uri.clone())
                    .header(header::USER_AGENT, "wasmgate")
                    .header(header::ACCEPT, "*/*")
                    .body(Empty::<Bytes>::new())
                    .map_err(|_| format!("{name} is not a valid URL."))?,
            )
            .await
            .map_err(|err| format!("Cannot fetch {name}: {}", connect_reason(&err)))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("{name} redirected without a Location."))?;
            uri = resolve_location(&uri, location)
                .ok_or_else(|| format!("{name} redirected to an invalid URL."))?;
            continue;
        }
        if status != StatusCode::OK {
            return Err(format!("{name} answered HTTP {}.", status.as_u16()));
        }
        let too_large = || {
            format!(
                "{name} is larger than the {} bytes allowed (fetch-max-bytes, for all the URLs of a request together).",
                policy.max_bytes
            )
        };
        let length = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|len| len > budget) {
            return Err(too_large());
        }
        let declared = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let mime_type = accepted_type(&declared, uri.path()).ok_or_else(|| {
            format!(
                "{name} is {}, not an image, audio, video, PDF, text or Office document.",
                if declared.is_empty() {
                    "of no declared type"
                } else {
                    &declared
                }
            )
        })?;
        let limit = usize::try_from(budget).unwrap_or(usize::MAX);
        let data = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|err| {
                if err.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    format!("{name}: the download broke off.")
                }
            })?
            .to_bytes();
        return Ok(Media {
            mime_type,
            data: data.to_vec(),
        });
    }
    Err(format!(
        "{}: more than {MAX_REDIRECTS} redirects.",
        shown(&uri)
    ))
}

fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.parse().ok();
    }
    if location.starts_with('/') {
        return format!(
            "{}://{}{location}",
            base.scheme_str()?,
            base.authority()?.as_str()
        )
        .parse()
        .ok();
    }
    None
}

/// The type to hand on, from the declared one or, for a generic declared
/// type, the file's extension.
fn accepted_type(declared: &str, path: &str) -> Option<String> {
    let accepted = |mime: &str| {
        mime.starts_with("image/")
            || mime.starts_with("audio/")
            || mime.starts_with("video/")
            || (mime.starts_with("text/") && mime != "text/html")
            || mime == "application/pdf"
            || mime == "application/msword"
            || mime == "application/rtf"
            || mime.starts_with("application/vnd.openxmlformats-officedocument.")
            || mime.starts_with("application/vnd.ms-")
    };
    if accepted(declared) {
        return Some(declared.to_string());
    }
    if !(declared.is_empty()
        || declared == "application/octet-stream"
        || declared == "binary/octet-stream")
    {
        return None;
    }
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    let guessed = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "txt" => "text/plain",
        _ => return None,
    };
    Some(guessed.to_string())
}

fn connect_reason(err: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io.to_string();
        }
        source = cause.source();
    }
    "the connection failed".into()
}

type FetchClient = Client<hyper_rustls::HttpsConnector<PublicConnector>, Empty<Bytes>>;

/// A client for one fetch (fetches are rare; no pool to keep).
fn client(trusted: bool) -> FetchClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("the ring provider supports the default protocol versions")
        .https_or_http()
        .enable_http1()
        .wrap_connector(PublicConnector { trusted });
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(https)
}

/// Connects only to public addresses (unless the host is trusted), and
/// checks the address actually connected to: a name that resolves
/// differently between the check and the connection is still refused.
#[derive(Clone)]
pub struct PublicConnector {
    trusted: bool,
}

impl tower::Service<Uri> for PublicConnector {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let trusted = self.trusted;
        Box::pin(async move {
            let denied = || {
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the address is private, loopback or link-local",
                )
            };
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("http") {
                    80
                } else {
                    443
                });
            let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
            for addr in tokio::net::lookup_host((host.as_str(), port)).await? {
                if !trusted && !is_public(addr.ip()) {
                    last = denied();
                    continue;
                }
                match TcpStream::connect(addr).await {
                    Ok(stream) => {
                        if !trusted && !is_public(stream.peer_addr()?.ip()) {
                            return Err(denied());
                        }
                        let _ = stream.set_nodelay(true);
                        return Ok(TokioIo::new(stream));
                    }
                    Err(err) => last = err,
                }
            }
            Err(last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_and_generic_ones_guessed_from_the_name() {
        assert_eq!(
            accepted_type("image/png", "/x").as_deref(),
            Some("image/png")
        );
        assert_eq!(
            accepted_type("application/octet-stream", "/report.PDF").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(
            accepted_type("text/html", "/cat.png"),
            None,
            "an error page"
        );
        assert_eq!(accepted_type("application/x-msdownload", "/a.exe"), None);
        assert_eq!(accepted_type("", "/noext"), None);
    }

    #[tokio::test]
    async fn private_addresses_and_ip_literals_are_refused_before_any_request() {
        let policy = crate::config::AnswersSection::resolve([]).fetch;
        for url in [
            "http://127.0.0.1:9/x.png",
            "http://[::1]/x.png",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/x.png",
        ] {
            let err = fetch(url, &policy, policy.max_bytes).await.unwrap_err();
            assert!(err.contains("public"), "{url}: {err}");
        }
        assert!(
            fetch("ftp://example.com/x", &policy, 1)
                .await
                .unwrap_err()
                .contains("http")
        );
    }
}
