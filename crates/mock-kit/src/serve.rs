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
