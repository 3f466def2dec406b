//! The operator's API, behind `ADMIN_KEY`: what is live, how the last
//! reload went, and every account's health with switches to disable, enable
//! or reset one. Without `ADMIN_KEY` it is off. The gate (a console session
//! or the key as a bearer token) is [`crate::console::session::require_admin`];
//! the console's own endpoints are in [`crate::console::api`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::error::ApiError;
use crate::pool::{AccountView, Operation, PoolPolicy};
use crate::reload::ReloadStatus;

pub async fn status(State(state): State<AppState>) -> Json<ReloadStatus> {
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Json(status)
}

/// One plugin's pool as the admin API shows it.
#[derive(serde::Serialize)]
pub struct PoolView {
    pub policy: PoolPolicy,
    pub accounts: Vec<AccountView>,
}

/// `GET /admin/api/accounts`: every live plugin's accounts, secrets masked.
pub async fn accounts(State(state): State<AppState>) -> Json<BTreeMap<String, PoolView>> {
    let registry = state.registry.load();
    let pools = registry
        .plugins
        .iter()
        .map(|(name, entry)| {
            let view = PoolView {
                policy: entry.pool.policy().clone(),
                accounts: entry.pool.views(),
            };
            (name.clone(), view)
        })
        .collect();
    Json(pools)
}

/// `POST /admin/api/accounts/{plugin}/{account}/{disable|enable|reset}`.
pub async fn operate(
    State(state): State<AppState>,
    Path((plugin, account, action)): Path<(String, String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    let operation = match action.as_str() {
        "disable" => Operation::Disable,
        "enable" => Operation::Enable,
        "reset" => Operation::Reset,
        _ => {
            return Err(ApiError::not_found(format!(
                "Unknown action {action:?}: use disable, enable or reset."
            )));
        }
    };
    let registry = state.registry.load();
    let entry = registry
        .plugins
        .get(&plugin)
        .ok_or_else(|| ApiError::not_found(format!("No plugin {plugin:?} is loaded.")))?;
    entry
        .pool
        .operate(&account, operation)
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!("The plugin {plugin:?} has no account {account:?}."))
        })
}
