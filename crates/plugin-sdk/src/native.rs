//! The native test host (feature `native`): a [`Platform`] for a plugin's
//! native tests, so they run the plugin's own flows against its mock
//! upstream without a gateway.
//!
//! - HTTP/1.1 over a std `TcpStream`, to loopback only (like the gateway's
//!   egress rule, anything else is [`HttpError::Denied`]); one connection per
//!   request, the body read as it arrives (chunked, sized, or to close), and
//!   a body cut short is an error as it is over `wasi:http`.
//! - In-memory state (TTLs ignored), fixed secrets and settings.
//! - A wall clock that starts at the real time and moves only when the test
//!   (or `sleep_ms`, which never waits) moves it.
//! - Deterministic randomness, and a log the test can read.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;

use crate::http::{Body, HttpError, Request, Response, Url};
use crate::platform::{Level, Platform};

/// How much to ask for per read of a body without chunks.
const READ_CHUNK: usize = 64 * 1024;

/// One account's world for a native test.
pub struct NativeHost {
    account_id: String,
    secrets: RefCell<HashMap<String, String>>,
    settings: RefCell<HashMap<String, String>>,
    state: RefCell<HashMap<String, String>>,
    /// The TTL each state key was last set with (not enforced).
    state_ttls: RefCell<HashMap<String, u32>>,
    now_ms: Cell<u64>,
    monotonic_ns: Cell<u64>,
    counter: Cell<u64>,
    logs: RefCell<Vec<String>>,
    /// Every response body piece, as read.
    chunks: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl Default for NativeHost {
    fn default() -> Self {
        Self::new("test-account")
    }
}

impl NativeHost {
    pub fn new(account_id: impl Into<String>) -> Self {
        let real_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        NativeHost {
            account_id: account_id.into(),
            secrets: RefCell::default(),
            settings: RefCell::default(),
            state: RefCell::default(),
            state_ttls: RefCell::default(),
            now_ms: Cell::new(real_now),
            monotonic_ns: Cell::new(0),
            counter: Cell::new(0),
            logs: RefCell::default(),
            chunks: Rc::default(),
        }
    }

    pub fn with_secret(self, name: &str, value: &str) -> Self {
        self.set_secret(name, value);
        self
    }

    pub fn with_setting(self, name: &str, value: &str) -> Self {
        self.set_setting(name, value);
        self
    }

    pub fn set_secret(&self, name: &str, value: &str) {
        self.secrets
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    pub fn set_setting(&self, name: &str, value: &str) {
        self.settings
            .borrow_mut()
            .insert(name.to_string(), value.to_string());
    }

    /// Moves both clocks forward.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
        self.monotonic_ns
            .set(self.monotonic_ns.get() + ms.saturating_mul(1_000_000));
    }

    pub fn advance_secs(&self, seconds: u64) {
        self.advance_ms(seconds * 1000);
    }

    /// Sets the wall clock (the monotonic clock never goes back).
    pub fn set_now_ms(&self, now_ms: u64) {
        self.now_ms.set(now_ms);
    }

    /// What the plugin logged, as `Level: message` lines.
    pub fn logs(&self) -> Vec<String> {
        self.logs.borrow().clone()
    }

    /// Every response body piece read so far, in order.
    pub fn chunks(&self) -> Vec<Vec<u8>> {
        self.chunks.borrow().clone()
    }

    /// The state store as it stands.
    pub fn state(&self) -> HashMap<String, String> {
        self.state.borrow().clone()
    }

    /// The TTL in seconds `key` was last stored with, if any (the native
    /// host records it but keeps the value until deleted).
    pub fn state_ttl(&self, key: &str) -> Option<u32> {
        self.state_ttls.borrow().get(key).copied()
    }
}

impl Platform for NativeHost {
    fn send(&self, request: Request) -> Result<Response, HttpError> {
        let RawResponse {
            status,
            headers,
            body,
            reader,
        } = send_over_tcp(&request)?;
        let body = RecordedBody {
            body,
            reader,
            chunks: self.chunks.clone(),
        };
        Ok(Response::new(status, headers, Box::new(body)))
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.secrets
            .borrow()
            .get(name)
            .filter(|value| !value.is_empty())
            .cloned()
    }

    fn setting(&self, name: &str) -> Option<String> {
        self.settings
            .borrow()
            .get(name)
            .filter(|value| !value.is_empty())
            .cloned()
    }

    fn account_id(&self) -> String {
        self.account_id.clone()
    }

    fn state_get(&self, key: &str) -> Option<String> {
        self.state.borrow().get(key).cloned()
    }

    fn state_set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        self.state
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        let mut ttls = self.state_ttls.borrow_mut();
        match ttl_seconds {
            Some(ttl) => ttls.insert(key.to_string(), ttl),
            None => ttls.remove(key),
        };
    }

    fn state_delete(&self, key: &str) {
        self.state.borrow_mut().remove(key);
        self.state_ttls.borrow_mut().remove(key);
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn monotonic_ns(&self) -> u64 {
        self.monotonic_ns.get()
    }

    fn sleep_ms(&self, ms: u64) {
        // The clock moves; the test does not wait.
        self.advance_ms(ms);
    }

    fn random_u64(&self) -> u64 {
        self.counter.set(self.counter.get() + 1);
        self.counter.get().wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push(format!("{level:?}: {message}"));
    }
}

/// How the rest of a response body is delimited.
enum Framing {
    Empty,
    /// `content-length`: this many bytes still to come.
    Sized(usize),
    /// `transfer-encoding: chunked`; `true` once the last chunk was read.
    Chunked(bool),
    /// Neither: the body ends when the peer closes.
    UntilClose,
}

struct RawResponse {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Framing,
    reader: BufReader<TcpStream>,
}

fn send_over_tcp(request: &Request) -> Result<RawResponse, HttpError> {
    let url = Url::parse(request.url())?;
    let host = url
        .authority
        .rsplit_once(':')
        .map_or(url.authority.as_str(), |(host, _)| host);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(HttpError::Denied(format!(
            "{} is not granted (the native test host reaches loopback only)",
            url.authority
        )));
    }
    if url.https {
        return Err(HttpError::Connect(
            "the native test host speaks plain HTTP only".into(),
        ));
    }
    let connect = |e: std::io::Error| HttpError::Connect(e.to_string());
    let broken = |e: std::io::Error| HttpError::Protocol(e.to_string());
    let mut stream = TcpStream::connect(&url.authority).map_err(connect)?;

    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        request.method().as_str(),
        url.path_and_query,
        url.authority,
        request.body_bytes().len()
    )
    .into_bytes();
    for (name, value) in request.headers() {
        if name == "host" || name == "content-length" || name == "connection" {
            continue;
        }
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).map_err(broken)?;
    stream.write_all(request.body_bytes()).map_err(broken)?;
    stream.flush().map_err(broken)?;

    let mut reader = BufReader::new(stream);
    let status_line = read_line(&mut reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Protocol(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| HttpError::Protocol(format!("bad header line {line:?}")))?;
        headers.push((
            name.trim().to_ascii_lowercase(),
            value.trim().as_bytes().to_vec(),
        ));
    }
    let value_of = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| String::from_utf8_lossy(value).to_ascii_lowercase())
    };
    let body = if matches!(status, 100..=199 | 204 | 304) {
        Framing::Empty
    } else if value_of("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        Framing::Chunked(false)
    } else if let Some(length) = value_of("content-length") {
        let length = length
            .trim()
            .parse()
            .map_err(|_| HttpError::Protocol(format!("bad content-length {length:?}")))?;
        Framing::Sized(length)
    } else {
        Framing::UntilClose
    };
    Ok(RawResponse {
        status,
        headers,
        body,
        reader,
    })
}

/// One CRLF-terminated line, without its terminator; EOF mid-head is an
/// error.
fn read_line(reader: &mut BufReader<TcpStream>) -> Result<String, HttpError> {
    let mut line = Vec::new();
    let read = reader
        .read_until(b'\n', &mut line)
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    if read == 0 || !line.ends_with(b"\n") {
        return Err(HttpError::Protocol("connection closed mid-message".into()));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

struct RecordedBody {
    body: Framing,
    reader: BufReader<TcpStream>,
    chunks: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl RecordedBody {
    fn read_piece(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let broken = |e: std::io::Error| HttpError::Protocol(e.to_string());
        let cut = || HttpError::Protocol("the upstream closed the body early".into());
        match self.body {
            Framing::Empty | Framing::Chunked(true) | Framing::Sized(0) => Ok(None),
            Framing::Sized(left) => {
                let mut piece = vec![0; left.min(READ_CHUNK)];
                let read = self.reader.read(&mut piece).map_err(broken)?;
                if read == 0 {
                    return Err(cut());
                }
                piece.truncate(read);
                self.body = Framing::Sized(left - read);
                Ok(Some(piece))
            }
            Framing::UntilClose => {
                let mut piece = vec![0; READ_CHUNK];
                let read = self.reader.read(&mut piece).map_err(broken)?;
                if read == 0 {
                    self.body = Framing::Empty;
                    return Ok(None);
                }
                piece.truncate(read);
                Ok(Some(piece))
            }
            Framing::Chunked(false) => {
                let size_line = read_line(&mut self.reader).map_err(|_| cut())?;
                let size_hex = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_hex, 16)
                    .map_err(|_| HttpError::Protocol(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while !read_line(&mut self.reader)?.is_empty() {}
                    self.body = Framing::Chunked(true);
                    return Ok(None);
                }
                let mut piece = vec![0; size];
                self.reader.read_exact(&mut piece).map_err(|_| cut())?;
                read_line(&mut self.reader).map_err(|_| cut())?;
                Ok(Some(piece))
            }
        }
    }
}

impl Body for RecordedBody {
    fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let piece = self.read_piece();
        if piece.is_err() {
            self.body = Framing::Empty;
        }
        if let Ok(Some(bytes)) = &piece {
            self.chunks.borrow_mut().push(bytes.clone());
        }
        piece
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Serves one connection with `reply` (raw bytes) and returns the URL
    /// and what the client sent.
    fn serve_once(reply: &'static [u8]) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/path?q=1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(8).any(|w| w == b"\r\n\r\nbody") {
                let n = socket.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            socket.write_all(reply).unwrap();
            seen
        });
        (url, handle)
    }

    fn pieces(response: &mut Response) -> Result<Vec<String>, HttpError> {
        let mut all = Vec::new();
        while let Some(piece) = response.next_chunk()? {
            all.push(String::from_utf8(piece).unwrap());
        }
        Ok(all)
    }

    #[test]
    fn a_chunked_answer_streams_chunk_by_chunk_with_every_header() {
        let (url, server) = serve_once(
            b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\
              Transfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n",
        );
        let host = NativeHost::default();
        let mut response = host
            .send(Request::post(url).header("X-Test", "yes").body("body"))
            .unwrap();
        assert_eq!(response.status, 200);
        let cookies: Vec<&str> = response.header_values("set-cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(pieces(&mut response).unwrap(), ["one", "two"]);
        assert_eq!(host.chunks(), [b"one".to_vec(), b"two".to_vec()]);
        let sent = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(sent.starts_with("POST /path?q=1 HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("x-test: yes\r\n"), "{sent}");
        assert!(sent.contains("content-length: 4\r\n"), "{sent}");
    }

    /// Posts to a server that answers `reply` and closes.
    fn answered_with(reply: &'static [u8]) -> Response {
        let (url, _server) = serve_once(reply);
        NativeHost::default()
            .send(Request::post(url).body("body"))
            .unwrap()
    }

    #[test]
    fn a_sized_body_cut_short_is_an_error() {
        let mut response =
            answered_with(b"HTTP/1.1 503 Unavailable\r\ncontent-length: 10\r\n\r\nfive!");
        assert_eq!(response.status, 503);
        assert_eq!(response.next_chunk().unwrap().unwrap(), b"five!");
        assert!(matches!(response.next_chunk(), Err(HttpError::Protocol(_))));
        assert_eq!(response.next_chunk().unwrap(), None);
    }

    #[test]
    fn a_chunked_body_cut_short_is_an_error() {
        let mut response =
            answered_with(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n");
        assert_eq!(response.next_chunk().unwrap().unwrap(), b"one");
        assert!(response.next_chunk().is_err());
    }

    #[test]
    fn only_loopback_is_reachable() {
        let error = NativeHost::default()
            .send(Request::get("http://example.com/"))
            .err()
            .unwrap();
        assert!(matches!(error, HttpError::Denied(_)), "{error}");
    }

    #[test]
    fn the_clock_moves_only_when_told_and_settings_are_fixed() {
        let host = NativeHost::new("acct")
            .with_secret("api-key", "k")
            .with_setting("base-url", "http://127.0.0.1:9/")
            .with_setting("empty", "");
        let start = host.now_ms();
        host.sleep_ms(1500);
        assert_eq!(host.now_ms(), start + 1500);
        assert_eq!(host.monotonic_ns(), 1_500_000_000);
        assert_eq!(host.secret("api-key").as_deref(), Some("k"));
        assert_eq!(host.setting("empty"), None);
        assert_eq!(host.base_url("https://x"), "http://127.0.0.1:9");
        assert_eq!(host.account_id(), "acct");
        host.state_set("k", "v", Some(5));
        assert_eq!(host.state_get("k").as_deref(), Some("v"));
        assert_eq!(host.state_ttl("k"), Some(5));
        host.state_delete("k");
        assert_eq!(host.state_get("k"), None);
        assert_eq!(host.state_ttl("k"), None);
        assert_ne!(host.random_u64(), host.random_u64());
        host.log(Level::Warn, "careful");
        assert_eq!(host.logs(), ["Warn: careful"]);
    }
}
