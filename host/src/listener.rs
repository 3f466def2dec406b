//! The accept loop: HTTP/1 and HTTP/2 connections served with the router,
//! under limits a caller without a key cannot get around.
//!
//! - A new connection's first request must arrive within
//!   `header_read_timeout` ([`HEADER_READ_TIMEOUT`] by default), and a
//!   connection with nothing in flight is closed after [`KEEP_ALIVE_IDLE`].
//!   (Not hyper's own header timeout: it also runs between keep-alive
//!   requests and closes idle connections after a few seconds, just when a
//!   client's pool may reuse them.)
//! - At most `max_connections` connections are served at once. When they
//!   are all taken and another one comes, the oldest connection with no
//!   request in flight (half-sent, or idle between keep-alive requests) is
//!   closed to make room, so a crowd of half-sent requests (slowloris) can
//!   neither exhaust file descriptors nor keep `/healthz` from answering;
//!   only when every connection is busy with a request (a response
//!   streaming included) does a new one wait, the rest queued by the kernel
//!   (see `server::LISTEN_BACKLOG`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::lanes::Lanes;

/// How long a new connection may take to send its first request's headers,
/// by default.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a connection with no request in flight stays open.
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(75);

/// How often a connection's watchdog looks at it.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// How long in-flight requests get to finish at shutdown.
const DRAIN: Duration = Duration::from_secs(30);

/// What one gateway's connections may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// One open connection, as the accept loop sees it.
struct Open {
    since: Instant,
    /// Requests in flight on it, until their response bodies are done.
    busy: Arc<AtomicUsize>,
    /// Closes it.
    close: Arc<Notify>,
}

#[derive(Default)]
struct Connections {
    open: Mutex<HashMap<u64, Open>>,
    /// Signalled when a connection closes.
    closed: Notify,
}

impl Connections {
    fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Takes a connection that ended off the open ones.
    fn forget(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.closed.notify_one();
    }

    /// Closes the oldest connection with no request in flight; `false`
    /// when every open connection is serving one.
    fn evict_idle(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = open
            .values()
            .filter(|c| c.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|c| c.since);
        match oldest {
            Some(connection) => {
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish (at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    lanes: &Lanes,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Limits {
        max_connections,
        header_read_timeout,
    } = limits;
    let connections = Arc::new(Connections::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    let mut next_id: u64 = 0;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return drain(graceful).await,
        };
        // Room is made only for a connection that came: closing an idle one
        // before any did would close one just accepted whose first request
        // is still on its way. While every connection is busy, this one
        // waits here and the rest in the kernel's backlog.
        while connections.count() >= max_connections {
            if connections.evict_idle() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = connections.closed.notified() => {}
                () = &mut shutdown => return drain(graceful).await,
            }
        }
        // Without TCP_NODELAY, small SSE frames wait on the client's delayed
        // ACK (tens of milliseconds per frame).
        let _ = stream.set_nodelay(true);
        // Taken off this runtime's reactor, to be served on a lane's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => {
                tracing::debug!(%peer, "dropped a connection: {err}");
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let busy = Arc::new(AtomicUsize::new(0));
        let activity = Arc::new(Activity::default());
        let close = Arc::new(Notify::new());
        connections
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Open {
                    since: Instant::now(),
                    busy: busy.clone(),
                    close: close.clone(),
                },
            );
        let connection = Connection {
            id,
            peer,
            busy,
            activity,
            close,
            router: router.clone(),
            builder: builder.clone(),
            graceful: graceful.watcher(),
            connections: connections.clone(),
            header_read_timeout,
        };
        lanes.spawn(move |on_lane| async move {
            let _on_lane = on_lane;
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => connection.serve(stream).await,
                Err(err) => {
                    tracing::debug!(%peer, "dropped a connection: {err}");
                    connection.connections.forget(connection.id);
                }
            }
        });
    }
}

/// An accepted connection and what serving it needs.
struct Connection {
    id: u64,
    peer: std::net::SocketAddr,
    busy: Arc<AtomicUsize>,
    activity: Arc<Activity>,
    close: Arc<Notify>,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    graceful: hyper_util::server::graceful::Watcher,
    connections: Arc<Connections>,
    header_read_timeout: Duration,
}

impl Connection {
    /// Serves its requests until it ends, is closed to make room, or its
    /// watchdog closes it.
    async fn serve(self, stream: tokio::net::TcpStream) {
        let Connection {
            id,
            peer,
            busy,
            activity,
            close,
            router,
            builder,
            graceful,
            connections,
            header_read_timeout,
        } = self;
        let service = router
            .map_request({
                let (busy, activity) = (busy.clone(), activity.clone());
                move |mut request: axum::extract::Request<_>| {
                    // In flight from here until its response body is done
                    // (the guard made with the response takes this count over).
                    busy.fetch_add(1, Ordering::Relaxed);
                    activity.touch(true);
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                }
            })
            .map_response({
                let (busy, activity) = (busy.clone(), activity.clone());
                move |response: axum::response::Response| {
                    let guard = InFlight {
                        busy: busy.clone(),
                        activity: activity.clone(),
                    };
                    response.map(|body| {
                        axum::body::Body::new(Tracked {
                            body,
                            _guard: guard,
                        })
                    })
                }
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let watchdog = watch(activity, busy, header_read_timeout);
        tokio::select! {
            result = connection => {
                if let Err(err) = result {
                    tracing::debug!(%peer, "connection ended: {err}");
                }
            }
            () = close.notified() => {
                tracing::debug!(%peer, "closed an idle connection to make room");
            }
            why = watchdog => {
                tracing::debug!(%peer, "closed a connection: {why}");
            }
        }
        connections.forget(id);
    }
}

async fn drain(graceful: hyper_util::server::graceful::GracefulShutdown) -> std::io::Result<()> {
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open {DRAIN:?} after shutdown began");
    }
    Ok(())
}

/// When a connection last started or finished a request, and how many
/// requests it has started.
#[derive(Default)]
struct Activity {
    /// Milliseconds since [`epoch`].
    last: AtomicU64,
    requests: AtomicU64,
}

/// A fixed instant the activity times count from.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Activity {
    fn touch(&self, new_request: bool) {
        let now = u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
        if new_request {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        epoch().elapsed().saturating_sub(last)
    }
}

/// Ends, with the reason, when the connection should be closed: no first
/// request within `first_request`, or nothing in flight for
/// [`KEEP_ALIVE_IDLE`].
async fn watch(
    activity: Arc<Activity>,
    busy: Arc<AtomicUsize>,
    first_request: Duration,
) -> &'static str {
    activity.touch(false);
    tokio::time::sleep(first_request).await;
    if activity.requests.load(Ordering::Relaxed) == 0 {
        return "no request arrived in time";
    }
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        if busy.load(Ordering::Relaxed) == 0 && activity.idle_for() >= KEEP_ALIVE_IDLE {
            return "idle";
        }
    }
}

/// Ends a request's count on its connection when dropped (with the body).
struct InFlight {
    busy: Arc<AtomicUsize>,
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.touch(false);
        self.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its connection counted busy until it is done.
struct Tracked {
    body: axum::body::Body,
    _guard: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
