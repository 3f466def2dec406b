//! `GET /v1/models`: what `plugins.toml` routes and what plugins declare.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

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

pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let registry = state.registry.load();
    let data = registry
        .models()
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
