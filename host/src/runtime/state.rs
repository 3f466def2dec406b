//! What a plugin instance's store holds: its WASI context (empty: no env, no
//! args, no files), its resource table, its egress hooks, the account it runs
//! on, and its resource meters and budgets.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, uri::Scheme};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as P2ErrorCode;
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use super::limits::{CpuMeter, MemoryCap};
use crate::capabilities::egress::EgressHooks;
use crate::capabilities::redact;
use crate::capabilities::state_store::StateStore;
use crate::config::Account;

/// WASI resources (HTTP requests, headers, bodies, streams, pollables) one
/// instance may hold at once. A plugin streaming one answer holds a dozen;
/// without a cap each `fields` can hold 128 KiB of host memory, a million
/// times over.
pub const MAX_WASI_RESOURCES: usize = 256;
/// Host memory one `fields` (a header map) may take.
pub const MAX_FIELDS_BYTES: usize = 64 * 1024;
/// Outgoing HTTP requests one instance may have in flight (each holds a
/// connection and its file descriptor until its response body is done).
pub const MAX_OUTGOING_IN_FLIGHT: usize = 16;

/// The account a request runs on, with what its capabilities need.
#[derive(Clone)]
pub struct AccountContext {
    pub plugin: Arc<str>,
    pub account: Account,
    pub state: Arc<StateStore>,
    /// Where the account's `state` lives: its id and a fingerprint of its
    /// credentials, so what a plugin kept for one set of secrets (a rotated
    /// cookie, a token) is never handed to another under the same id.
    pub state_scope: String,
}

impl AccountContext {
    /// `state_scope` comes from the account's pool, which works it out once.
    pub fn new(
        plugin: Arc<str>,
        account: Account,
        state: Arc<StateStore>,
        state_scope: &str,
    ) -> Self {
        // State saved before scopes carried credentials moves over once.
        state.adopt(&plugin, &account.id, state_scope);
        AccountContext {
            plugin,
            account,
            state,
            state_scope: state_scope.to_string(),
        }
    }
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: BudgetedEgress,
    pub(crate) context: AccountContext,
    pub(super) memory: MemoryCap,
    pub(super) cpu: CpuMeter,
    /// Which host-side budget the plugin overran, if any: its request fails
    /// with that, whatever the plugin itself then says.
    pub(crate) over_budget: Option<String>,
}

/// The CPU time an instance used counts toward its plugin's total (`/metrics`).
impl Drop for PluginState {
    fn drop(&mut self) {
        crate::metrics::global().plugin_cpu(&self.context.plugin, self.cpu.used());
    }
}

impl PluginState {
    pub(super) fn new(
        context: AccountContext,
        egress: EgressHooks,
        memory: MemoryCap,
        cpu: CpuMeter,
    ) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_WASI_RESOURCES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELDS_BYTES);
        PluginState {
            // Built with nothing: no environment, no arguments, empty stdin,
            // stdout and stderr discarded, and no preopened directories.
            wasi: WasiCtx::builder().build(),
            table,
            http,
            egress: BudgetedEgress {
                inner: egress,
                in_flight: Arc::new(Semaphore::new(MAX_OUTGOING_IN_FLIGHT)),
                refused: false,
            },
            context,
            memory,
            cpu,
            over_budget: None,
        }
    }

    /// Text the plugin wrote, made safe to keep and show: this account's
    /// secrets masked, controls escaped, at most `max` bytes.
    pub(crate) fn redact(&self, text: &str, max: usize) -> String {
        redact::plugin_text(
            text,
            self.context.account.secrets.values().map(|s| s.expose()),
            max,
        )
    }

    /// The budget overrun to report, if any.
    pub(super) fn overrun(&self) -> Option<String> {
        self.over_budget.clone().or_else(|| {
            self.egress.refused.then(|| {
                format!("more than {MAX_OUTGOING_IN_FLIGHT} outgoing HTTP requests in flight")
            })
        })
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_io::IoView for PluginState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// The egress hooks with a cap on requests in flight. Everything else is the
/// egress module's.
struct BudgetedEgress {
    inner: EgressHooks,
    in_flight: Arc<Semaphore>,
    refused: bool,
}

type SendFuture = Box<
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

impl WasiHttpHooks for BudgetedEgress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.refused = true;
            return Box::new(async {
                Err(HttpError::InternalError(Some(
                    "too many outgoing requests in flight".into(),
                )))
            });
        };
        let send = Box::into_pin(self.inner.send_request(request, options, fut));
        Box::new(async move {
            let (response, io) = send.await?;
            // The permit lives as long as the response body.
            let response = response.map(|body| {
                Held {
                    body,
                    _permit: permit,
                }
                .boxed_unsync()
            });
            Ok((response, io))
        })
    }

    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        self.inner.is_forbidden_header(name)
    }

    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        self.inner.forbidden_header_filter()
    }

    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        self.inner.is_supported_scheme(scheme)
    }

    fn set_host_header(&mut self) -> bool {
        self.inner.set_host_header()
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        self.inner.default_scheme()
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        self.inner.p2_outgoing_body_buffer_chunks()
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.inner.p2_outgoing_body_chunk_size()
    }

    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> P2ErrorCode {
        self.inner.p2_error_from_hyper(err)
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> P2ErrorCode {
        self.inner.p2_error_from_connect(err)
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> P2ErrorCode {
        self.inner.p2_error_from_tls(err)
    }
}

/// A response body that holds its in-flight permit until it is dropped.
struct Held {
    body: WasiBody,
    _permit: OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
