//! `GET /v1/models`: the names that can be served now — what `plugins.toml`
//! routes, what plugins declare and what their upstreams list now (see
//! [`crate::live_models`]), counting only plugins with a usable account.
//! `?all=true` lists every name a loaded plugin could serve.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::AppState;

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
) -> Json<ModelList> {
    let all = options.all;
    let registry = state.registry.load();
    let live = |entry: &std::sync::Arc<crate::registry::PluginEntry>| {
        state.live_models.ids(&state.runtime, entry)
    };
    let data = registry
        .models_with(all, &live)
        .into_iter()
        .map(|(id, plugin)| ModelEntry {
            id,
            object: "model",
            created: 0,
            owned_by: plugin,
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}
