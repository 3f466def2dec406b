//! `GET /v1/models`: the names that can be served now — what `plugins.toml`
//! routes, what plugins declare and what their upstreams list now (see
//! [`crate::live_models`]), counting only plugins with a usable account.
//! `?all=true` lists every name a loaded plugin could serve.
//! `GET /v1/models/{model}`: one of them. Both answer in Anthropic's shape
//! to Anthropic's clients, whose API has the same paths.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::registry::ResolveError;

#[derive(Serialize)]
pub struct ModelList {
    object: &'static str,
    data: Vec<ModelEntry>,
}

#[derive(Serialize)]
pub struct ModelEntry {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: String,
}

#[derive(Deserialize, Default)]
pub struct ListOptions {
    #[serde(default)]
    all: bool,
}

pub async fn list_models(
    State(state): State<AppState>,
    Query(options): Query<ListOptions>,
    headers: HeaderMap,
) -> Response {
    let data: Vec<ModelEntry> = served(&state, options.all)
        .into_iter()
        .map(|(id, plugin)| ModelEntry {
            id,
            object: "model",
            created: 0,
            owned_by: plugin,
        })
        .collect();
    if super::error::is_anthropic_caller(&headers) {
        return Json(anthropic_list(&data)).into_response();
    }
    Json(ModelList {
        object: "list",
        data,
    })
    .into_response()
}

/// The model names that can be served now (every one a loaded plugin could
/// serve with `all`), each with the plugin that serves it.
pub fn served(state: &AppState, all: bool) -> Vec<(String, String)> {
    let live = |entry: &std::sync::Arc<crate::registry::PluginEntry>| {
        state.live_models.ids(&state.runtime, entry)
    };
    state.registry.load().models_with(all, &live)
}

/// Anthropic's model list: every model on one page.
fn anthropic_list(models: &[ModelEntry]) -> Value {
    json!({
        "data": models.iter().map(anthropic_model).collect::<Vec<_>>(),
        "has_more": false,
        "first_id": models.first().map(|m| &m.id),
        "last_id": models.last().map(|m| &m.id),
    })
}

/// A model in Anthropic's shape. The gateway knows no release date: the
/// epoch says so.
fn anthropic_model(model: &ModelEntry) -> Value {
    json!({
        "type": "model",
        "id": model.id,
        "display_name": model.id,
        "created_at": "1970-01-01T00:00:00Z",
    })
}

/// `GET /v1/models/{model}`: the model as the list shows it. A name the list
/// does not show but that `[models]` routes to a plugin able to serve now
/// (one matched by a pattern such as `gemini-*`) is a model too: chat takes
/// it. Anything else is the same 404 a chat request for it gets.
pub async fn retrieve_model(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let listed = served(&state, false)
        .into_iter()
        .find_map(|(model, plugin)| (model == id).then_some(plugin));
    let owned_by = match listed {
        Some(plugin) => plugin,
        None => state
            .registry
            .load()
            .resolve(&id)?
            .targets
            .iter()
            .find(|hop| hop.entry.pool.serves_now())
            .map(|hop| hop.entry.plugin.name.to_string())
            .ok_or_else(|| ResolveError::UnknownModel(id.clone()))?,
    };
    let model = ModelEntry {
        id,
        object: "model",
        created: 0,
        owned_by,
    };
    Ok(if super::error::is_anthropic_caller(&headers) {
        Json(anthropic_model(&model)).into_response()
    } else {
        Json(model).into_response()
    })
}
