//! The HTTP surface: OpenAI's API and the other front doors
//! ([`front_doors`]: Anthropic, Gemini, Responses, images), health, and errors
//! in each protocol's shape.

mod access_log;
pub mod admin;
mod answers;
pub mod auth;
pub mod body;
mod chat;
mod chat_core;
pub mod cors;
pub mod error;
mod front_doors;
mod heartbeat;
mod media;
mod models;
mod reasoning;
pub mod request;
pub mod response;
mod slow_reader;
pub mod tool_memory;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::registry::Registry;
use crate::reload::ReloadStatus;
use crate::runtime::Runtime;
pub use access_log::Served;
pub use chat::SERVED_BY;
pub use chat::chat_completions;

/// What every handler can reach: one shared copy behind a pointer, since
/// axum clones the state for every request and every layer that takes it.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The handles [`AppState`] shares.
pub struct Shared {
    /// Swapped whole on reload; a request keeps the snapshot it started with.
    pub registry: Arc<ArcSwap<Registry>>,
    pub runtime: Arc<Runtime>,
    pub auth: Arc<auth::CallerAuth>,
    /// `ADMIN_KEY`, for the admin API.
    pub admin: Arc<auth::CallerAuth>,
    pub status: Arc<Mutex<ReloadStatus>>,
    pub max_body_bytes: usize,
    /// Stored images and the public base URL of links to them.
    pub media: Arc<crate::media::Media>,
    /// The admin console: sessions, the shared reloader, pasted secrets.
    pub console: Arc<crate::console::Console>,
    /// What each plugin's upstream lists now, for `GET /v1/models`.
    pub live_models: Arc<crate::live_models::LiveModels>,
    /// Tool calls' provider data by id, for clients that drop it.
    pub tool_memory: Arc<tool_memory::ToolMemory>,
}

/// How the HTTP surface is laid out, fixed at start.
#[derive(Debug, Clone)]
pub struct Surface {
    /// Everything is also served under `/<prefix>` (without slashes).
    pub path_prefix: Option<String>,
    /// Page origins allowed to call the OpenAI API from a browser.
    pub cors: cors::AllowedOrigins,
    /// How long a request body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// Body bytes held at once across all requests.
    pub body_bytes_in_flight: usize,
}

/// A front door's routes behind the callers' key check and the body limits
/// (one budget shared by every door), errors in `dialect`'s shape.
fn guarded(
    routes: Router<AppState>,
    state: &AppState,
    limits: &body::BodyLimits,
    dialect: error::Dialect,
) -> Router<AppState> {
    routes
        .layer(middleware::from_fn_with_state(
            // After the key check: nobody without a key makes the gateway
            // buffer a body.
            limits.clone(),
            body::read_within,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ))
        .layer(middleware::from_fn_with_state(dialect, error::reshape))
}

pub fn router(state: AppState, surface: &Surface) -> Router {
    let limits = body::BodyLimits::new(
        state.max_body_bytes,
        surface.body_read_timeout,
        surface.body_bytes_in_flight,
    );
    let openai = Router::new()
        .route("/chat/completions", post(chat::chat_completions))
        .route("/models", get(models::list_models))
        // The same path as the Gemini door's `POST /v1/models/{model}:method`
        // (and the same parameter name): the two method routers merge.
        .route("/models/{*target}", get(models::retrieve_model))
        .route("/responses", post(front_doors::responses::responses))
        .route(
            "/images/generations",
            post(front_doors::images::generations),
        )
        .route("/images/edits", post(front_doors::images::edits))
        .method_not_allowed_fallback(method_not_allowed);
    let openai = guarded(openai, &state, &limits, error::Dialect::OpenAi);
    let anthropic = Router::new()
        .route("/v1/messages", post(front_doors::anthropic::messages))
        .route(
            "/v1/messages/count_tokens",
            post(front_doors::anthropic::count_tokens),
        )
        .method_not_allowed_fallback(method_not_allowed);
    let anthropic = guarded(anthropic, &state, &limits, error::Dialect::Anthropic);
    // Google's SDKs speak `v1beta` unless told `apiVersion: "v1"`; the
    // methods are the same there. (`GET /v1/models` is OpenAI's list.)
    let gemini = Router::new()
        .route("/v1beta/models", get(front_doors::gemini::list_models))
        .route(
            "/v1beta/models/{*target}",
            get(front_doors::gemini::get_model).post(front_doors::gemini::model_method),
        )
        // Not on the next route: its path is shared with OpenAI's
        // `GET /v1/models/{model}`, whose router has the fallback, and two
        // method routers with fallbacks do not merge.
        .method_not_allowed_fallback(method_not_allowed)
        .route(
            "/v1/models/{*target}",
            post(front_doors::gemini::model_method),
        );
    let gemini = guarded(gemini, &state, &limits, error::Dialect::Google);
    let admin = Router::new()
        .route("/status", get(admin::status))
        .route("/accounts", get(admin::accounts))
        .route(
            "/accounts/{plugin}/{account}/{action}",
            post(admin::operate),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::console::session::require_admin,
        ));
    // The OpenAI API under `/v1`, and at the root as hajimi also served it
    // (clients configured with a base URL without `/v1`). CORS wraps
    // authentication, so preflights (sent without a key) are answered.
    let api = Router::new()
        .nest("/v1", openai.clone())
        .merge(openai)
        .merge(anthropic)
        .merge(gemini)
        .layer(middleware::from_fn_with_state(
            surface.cors.clone(),
            cors::cors,
        ));
    let routes = Router::new()
        .merge(api)
        .nest("/admin/api", admin)
        .merge(crate::console::routes(&state))
        .route("/healthz", get(healthz))
        .route("/media/{file}", get(media::serve));
    let app = match &surface.path_prefix {
        Some(prefix) => {
            let under = axum::Extension(crate::console::pages::PathPrefix(format!("/{prefix}")));
            Router::new()
                .nest(&format!("/{prefix}"), routes.clone().layer(under.clone()))
                .route(
                    &format!("/{prefix}/"),
                    get(crate::console::pages::landing).layer(under),
                )
                .merge(routes)
        }
        None => routes,
    };
    app.fallback(not_found)
        .layer(middleware::from_fn(access_log::log_request))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// A known API path asked with a method it does not take, in the door's own
/// error shape (`reshape` renders it; axum adds the `Allow` header).
async fn method_not_allowed(method: axum::http::Method) -> error::ApiError {
    error::ApiError::method_not_allowed(format!(
        "{method} is not allowed on this path; its Allow header lists the methods it takes."
    ))
}

async fn not_found(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::not_found(format!("Unknown path {}.", uri.path()))
}
