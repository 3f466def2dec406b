//! A mock's server: a router on `127.0.0.1`, served by a task of the
//! current runtime until the handle is dropped.

use std::net::SocketAddr;

/// A running server; dropping it stops the server.
pub struct Served {
    /// `http://127.0.0.1:PORT`, for an account's `base-url`.
    pub base_url: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// Serves `router` on an ephemeral loopback port.
pub async fn serve(router: axum::Router) -> Served {
    serve_on(0, router).await
}

/// Serves `router` on `127.0.0.1:port` (0: any free port).
pub async fn serve_on(port: u16, router: axum::Router) -> Served {
    serve_with(port, |_| router).await
}

/// Serves the router `make` builds once the address is known, for a mock
/// whose answers carry its own URL (`make` gets the `base_url`).
pub async fn serve_with(port: u16, make: impl FnOnce(&str) -> axum::Router) -> Served {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind a loopback port for the mock");
    let addr = listener.local_addr().expect("the mock's address");
    let router = make(&format!("http://{addr}"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served {
        base_url: format!("http://{addr}"),
        addr,
        task,
    }
}

impl Served {
    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A running mock, as a test holds it: its URL, its state (which the
/// handle derefs to, so a mock's methods live on its state), and its
/// server. Dropping it releases whatever the mock still holds, so the held
/// connections can end, and stops the server.
pub struct Running<S: ReleaseHeld> {
    /// `http://127.0.0.1:PORT`, for an account's `base-url`.
    pub base_url: String,
    pub addr: SocketAddr,
    pub state: std::sync::Arc<S>,
    server: Served,
}

impl<S: ReleaseHeld> Running<S> {
    pub fn new(state: std::sync::Arc<S>, server: Served) -> Self {
        Running {
            base_url: server.base_url.clone(),
            addr: server.addr,
            state,
            server,
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

impl<S: ReleaseHeld> std::ops::Deref for Running<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S: ReleaseHeld> Drop for Running<S> {
    fn drop(&mut self) {
        self.state.release_held();
    }
}

/// A mock state that can let go of what it holds: any state that derefs to
/// its [`Controls`](crate::Controls).
pub trait ReleaseHeld {
    fn release_held(&self);
}

impl<S, R, H> ReleaseHeld for S
where
    S: std::ops::Deref<Target = crate::Controls<R, H>>,
    R: Clone,
    H: crate::Hold,
{
    fn release_held(&self) {
        self.release();
    }
}
