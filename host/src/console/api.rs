//! The console's JSON admin API (`/admin/api/*`, behind a console session
//! or `Authorization: Bearer <ADMIN_KEY>`), and `/metrics`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Console, error, store};
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::clock::unix_millis;
use crate::config::Config;
use crate::metrics::{self, Record};
use crate::registry::Registry;
use crate::runtime::LoadedPlugin;

type ApiResult = Result<Response, ApiError>;

fn live_source(console: &Console, config: &Config) -> &'static str {
    match &console.data_dir {
        Some(dir) if config.source == store::live_config_path(dir) => "console",
        _ if config.source.exists() => "shipped",
        _ => "embedded",
    }
}

/// Requests, errors and latency over the last `window_ms`, per key.
fn window_stats(
    records: &[Record],
    window_ms: u64,
    key: impl Fn(&Record) -> Option<String>,
) -> BTreeMap<String, Value> {
    let since = unix_millis().saturating_sub(window_ms);
    let mut groups: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for record in records.iter().filter(|r| r.at >= since) {
        if let Some(k) = key(record) {
            groups.entry(k).or_default().push(record);
        }
    }
    groups
        .into_iter()
        .map(|(k, rs)| {
            let mut latencies: Vec<f64> = rs.iter().map(|r| r.first_ms).collect();
            latencies.sort_by(|a, b| a.total_cmp(b));
            let pct = |p: f64| {
                latencies
                    .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(0.0)
            };
            let errors = rs.iter().filter(|r| r.status >= 400).count();
            (
                k,
                json!({
                    "requests": rs.len(),
                    "errors": errors,
                    "p50_ms": pct(0.5),
                    "p95_ms": pct(0.95),
                }),
            )
        })
        .collect()
}

/// Adds `prompt_tokens` and `completion_tokens` over the window to each
/// group of `stats`, by the same key.
fn add_tokens(
    stats: &mut BTreeMap<String, Value>,
    tokens: &[crate::metrics::TokenRecord],
    window_ms: u64,
    key: impl Fn(&crate::metrics::TokenRecord) -> String,
) {
    let since = unix_millis().saturating_sub(window_ms);
    let mut sums: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for record in tokens.iter().filter(|t| t.at >= since) {
        let sum = sums.entry(key(record)).or_default();
        sum.0 += record.prompt;
        sum.1 += record.completion;
    }
    for (group, value) in stats.iter_mut() {
        let (prompt, completion) = sums.get(group).copied().unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("prompt_tokens".into(), prompt.into());
            object.insert("completion_tokens".into(), completion.into());
        }
    }
}

fn plugin_of(record: &Record) -> Option<String> {
    record
        .plugin
        .as_ref()
        .map(|p| p.split('@').next().unwrap_or(p).to_string())
}

/// What is failing now and why: the configuration or a plugin that did not
/// load, accounts out of service, and the live registry's warnings.
fn failing_now(state: &AppState, registry: &Registry) -> Vec<Value> {
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut failing = Vec::new();
    if let Some(err) = &status.config.error {
        failing.push(json!({"what": "configuration", "why": err}));
    }
    for (name, plugin) in &status.plugins {
        if let Some(err) = &plugin.error {
            failing.push(json!({"what": format!("plugin {name}"), "why": err}));
        }
    }
    for (name, entry) in &registry.plugins {
        for account in entry.pool.views() {
            if account.state != "healthy" {
                let why = account
                    .last_error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| account.state.replace('_', " "));
                failing.push(json!({
                    "what": format!("account {name}/{}", account.id),
                    "state": account.state,
                    "why": why,
                    "seconds_left": account.seconds_left,
                }));
            }
        }
    }
    for warning in &status.warnings {
        failing.push(json!({"what": "warning", "why": warning}));
    }
    failing
}

/// `GET /admin/api/overview`.
pub async fn overview(State(state): State<AppState>) -> Json<Value> {
    let console = &state.console;
    let registry = state.registry.load();
    let records = metrics::global().recent();
    // Chat requests, also those that failed before a plugin answered (their
    // model and plugin are not known).
    let chat: Vec<Record> = records
        .into_iter()
        .filter(|r| {
            r.model.is_some()
                || r.path.ends_with("/chat/completions")
                || r.path.ends_with("/admin/api/try")
        })
        .collect();
    let unknown = || Some("(no plugin answered)".to_string());
    let tokens = metrics::global().token_records();
    let mut windows = serde_json::Map::new();
    for (label, ms) in [("5m", 300_000u64), ("1h", 3_600_000)] {
        let mut all = window_stats(&chat, ms, |_| Some("all".into()));
        let mut plugins = window_stats(&chat, ms, |r| plugin_of(r).or_else(unknown));
        let mut models = window_stats(&chat, ms, |r| r.model.clone().or_else(unknown));
        let mut accounts = window_stats(&chat, ms, |r| {
            Some(format!(
                "{}/{}",
                plugin_of(r)?,
                r.account.clone().filter(|a| !a.is_empty())?
            ))
        });
        add_tokens(&mut all, &tokens, ms, |_| "all".into());
        add_tokens(&mut plugins, &tokens, ms, |t| t.plugin.clone());
        add_tokens(&mut models, &tokens, ms, |t| t.model.clone());
        add_tokens(&mut accounts, &tokens, ms, |t| {
            format!("{}/{}", t.plugin, t.account)
        });
        windows.insert(
            label.into(),
            json!({
                "all": all.remove("all"),
                "plugins": plugins,
                "models": models,
                "accounts": accounts,
            }),
        );
    }
    let mut totals = Vec::new();
    for (name, entry) in &registry.plugins {
        for account in entry.pool.views() {
            totals.push(json!({
                "plugin": name, "account": account.id, "state": account.state,
                "requests": account.requests, "failures": account.failures,
                "prompt_tokens": account.prompt_tokens, "completion_tokens": account.completion_tokens,
            }));
        }
    }
    let reloads = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reloads;
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": metrics::global().uptime_secs(),
        "data_dir": console.data_dir.as_ref().map(|d| d.display().to_string()),
        "persistent": console.persistent,
        "persistence_note": console.persistence_note,
        "config_source": registry.config.source.display().to_string(),
        "config_from": live_source(console, &registry.config),
        "reloads": reloads,
        "windows": windows,
        "accounts": totals,
        "failing": failing_now(&state, &registry),
    }))
}

/// `GET /admin/api/routes`: the `[models]` table as it is live, and what
/// can serve each name now.
pub async fn routes(State(state): State<AppState>) -> Json<Value> {
    let registry = state.registry.load();
    let config = &registry.config;
    let mut routes = Vec::new();
    for pattern in config.file.models.keys() {
        let Some(route) = config
            .routes
            .routes()
            .find(|r| &r.pattern == pattern.get_ref())
        else {
            continue;
        };
        let targets: Vec<Value> = route
            .targets
            .iter()
            .map(|target| {
                let entry = registry.plugins.get(&target.plugin);
                let accounts: Vec<Value> = entry
                    .map(|e| {
                        e.pool
                            .views()
                            .into_iter()
                            .map(|a| json!({"id": a.id, "state": a.state}))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "plugin": target.plugin,
                    "model": target.model,
                    "default": target.default,
                    "loaded": entry.is_some(),
                    "serves_now": entry.is_some_and(|e| e.pool.serves_now()),
                    "accounts": accounts,
                })
            })
            .collect();
        routes.push(json!({"pattern": route.pattern, "targets": targets}));
    }
    let models: Vec<Value> = registry
        .models(false)
        .into_iter()
        .map(|(model, plugin)| json!({"model": model, "plugin": plugin}))
        .collect();
    Json(json!({"routes": routes, "models_now": models}))
}

/// `GET /admin/api/config`: the live text, where it lives, which file wins.
pub async fn config(State(state): State<AppState>) -> ApiResult {
    let console = &state.console;
    let registry = state.registry.load();
    let live = &registry.config.source;
    let text = if live.exists() {
        std::fs::read_to_string(live).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read {}: {e}", live.display()),
            )
        })?
    } else {
        crate::config::EMBEDDED_DEFAULT.to_string()
    };
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .config
        .clone();
    Ok(Json(json!({
        "text": text,
        "path": live.display().to_string(),
        "from": live_source(console, &registry.config),
        "shipped": console.shipped_config.as_ref().map(|p| p.display().to_string()),
        "console_path": console.data_dir.as_ref().map(|d| store::live_config_path(d).display().to_string()),
        "persistent": console.persistent,
        "persistence_note": console.persistence_note,
        "error": status.error,
        "live_since": status.live_since,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct ConfigBody {
    text: String,
}

/// The data directory, or the error saying there is none.
fn data_dir(console: &Console) -> Result<PathBuf, ApiError> {
    console.data_dir.clone().ok_or_else(|| {
        error(
            StatusCode::CONFLICT,
            "There is no writable data directory to save into: set WASMGATE_DATA_DIR.",
        )
    })
}

/// Validates `text` as the next configuration: parsed and checked against
/// the live plugins exactly as a file edit is. Errors carry their line.
async fn check(console: &Console, text: &str) -> Result<Config, (Option<usize>, String)> {
    let path = match &console.data_dir {
        Some(dir) => store::live_config_path(dir),
        None => PathBuf::from(store::LIVE_CONFIG),
    };
    let config = Config::parse(&path, text).map_err(|err| match &err {
        crate::config::ConfigError::Invalid { line, message, .. } => {
            (Some(*line).filter(|l| *l > 0), message.clone())
        }
        other => (None, other.to_string()),
    })?;
    let reloader = console.reloader.lock().await;
    if let Some(problem) = reloader.grant_problem(&config) {
        return Err((None, problem));
    }
    Ok(config)
}

fn live_text(registry: &Registry) -> String {
    std::fs::read_to_string(&registry.config.source)
        .unwrap_or_else(|_| crate::config::EMBEDDED_DEFAULT.to_string())
}

/// `POST /admin/api/config/validate` `{text}`: whether it would apply, and
/// the diff against the live configuration.
pub async fn validate_config(
    State(state): State<AppState>,
    Json(body): Json<ConfigBody>,
) -> Json<Value> {
    let diff = store::diff(&live_text(&state.registry.load()), &body.text);
    match check(&state.console, &body.text).await {
        Ok(_) => Json(json!({"valid": true, "diff": diff})),
        Err((line, message)) => {
            Json(json!({"valid": false, "line": line, "error": message, "diff": diff}))
        }
    }
}

/// Validates, saves into the data directory (and its history) and reloads,
/// as an edit of the file would.
async fn apply(state: &AppState, text: &str) -> ApiResult {
    let console = &state.console;
    let dir = data_dir(console)?;
    if let Err((line, message)) = check(console, text).await {
        let mut err = error(
            StatusCode::BAD_REQUEST,
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message.clone(),
            },
        );
        err.param = line.map(|l| l.to_string());
        return Err(err);
    }
    let mut reloader = console.reloader.lock().await;
    let previous = live_text(&state.registry.load());
    let id = store::save(&dir, text, Some(&previous)).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot save the configuration: {e}"),
        )
    })?;
    reloader.set_config_path(store::live_config_path(&dir));
    reloader.reload().await;
    drop(reloader);
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .config
        .clone();
    if let Some(err) = status.error {
        return Err(error(StatusCode::BAD_REQUEST, err));
    }
    tracing::info!(version = id, "configuration applied from the console");
    Ok(
        Json(json!({"applied": true, "version": id, "live_since": status.live_since}))
            .into_response(),
    )
}

/// `POST /admin/api/config` `{text}`: apply.
pub async fn apply_config(
    State(state): State<AppState>,
    Json(body): Json<ConfigBody>,
) -> ApiResult {
    apply(&state, &body.text).await
}

/// `GET /admin/api/config/history`: the versions kept, newest first.
pub async fn history(State(state): State<AppState>) -> ApiResult {
    let versions = match &state.console.data_dir {
        Some(dir) => store::history_of(dir),
        None => Vec::new(),
    };
    Ok(Json(json!({"versions": versions})).into_response())
}

fn version_of(state: &AppState, id: u64) -> Result<String, ApiError> {
    let dir = data_dir(&state.console)?;
    store::version_text(&dir, id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("No version {id} is kept.")))
}

/// `GET /admin/api/config/history/{id}`: one version's text.
pub async fn version(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult {
    let text = version_of(&state, id)?;
    let diff = store::diff(&live_text(&state.registry.load()), &text);
    Ok(Json(json!({"id": id, "text": text, "diff": diff})).into_response())
}

/// `POST /admin/api/config/rollback/{id}`: applies a kept version again.
pub async fn rollback(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult {
    let text = version_of(&state, id)?;
    apply(&state, &text).await
}

/// `POST /admin/api/config/reset`: back to the shipped file (the console's
/// copy is removed; its history is kept).
pub async fn reset_config(State(state): State<AppState>) -> ApiResult {
    let console = &state.console;
    let dir = data_dir(console)?;
    let Some(shipped) = console.shipped_config.clone() else {
        return Err(error(
            StatusCode::CONFLICT,
            "The gateway started from its embedded configuration; there is no shipped file to return to.",
        ));
    };
    let mut reloader = console.reloader.lock().await;
    let checked = Config::load(&shipped)
        .map_err(|e| e.to_string())
        .and_then(|config| reloader.grant_problem(&config).map_or(Ok(()), Err));
    if let Err(problem) = checked {
        return Err(error(StatusCode::BAD_REQUEST, problem));
    }
    let live = store::live_config_path(&dir);
    if live.exists() {
        std::fs::remove_file(&live).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot remove {}: {e}", live.display()),
            )
        })?;
    }
    reloader.set_config_path(shipped.clone());
    reloader.reload().await;
    Ok(Json(json!({"applied": true, "path": shipped.display().to_string()})).into_response())
}

/// `GET /admin/api/secrets`: the variables pasted in the console
/// (fingerprints only), and per plugin the variables its accounts read and
/// whether each is set.
pub async fn secrets(State(state): State<AppState>) -> Json<Value> {
    let console = &state.console;
    let registry = state.registry.load();
    let env = |name: &str| (console.env)(name);
    let mut plugins = BTreeMap::new();
    let names: std::collections::BTreeSet<String> = registry
        .plugins
        .keys()
        .cloned()
        .chain(registry.config.file.plugins.keys().cloned())
        .collect();
    for name in names {
        let entry = registry.plugins.get(&name);
        let variables: Vec<Value> =
            super::account_variables(&registry.config, &name, entry.map(|e| &**e))
                .into_iter()
                .map(|v| {
                    json!({
                        "name": v,
                        "in_console": !v.contains("{n}") && console.secrets.contains(&v),
                        "set": super::variable_set(&env, &v),
                        // What to paste to add an account: the first free number.
                        "suggest": super::next_free(&env, &v),
                    })
                })
                .collect();
        plugins.insert(name, variables);
    }
    Json(json!({
        "stored": console.secrets.list(),
        "plugins": plugins,
        "persistent": console.persistent,
        "persistence_note": console.persistence_note,
    }))
}

#[derive(Deserialize)]
pub struct SecretBody {
    value: String,
}

/// Runs a reload pass so the accounts are read again.
async fn reread(console: &Console) {
    console.reloader.lock().await.reload().await;
}

/// `PUT /admin/api/secrets/{name}` `{value}`: stores (or replaces) a
/// variable and rebuilds the accounts at once.
pub async fn set_secret(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<SecretBody>,
) -> ApiResult {
    let console = &state.console;
    let info = console
        .secrets
        .set(&name, &body.value)
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    tracing::info!(variable = %name, fingerprint = %info.fingerprint, "secret set from the console");
    reread(console).await;
    Ok(Json(json!({"stored": info, "persistent": console.persistent})).into_response())
}

/// `DELETE /admin/api/secrets/{name}`.
pub async fn delete_secret(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let console = &state.console;
    match console.secrets.remove(&name) {
        Ok(true) => {
            tracing::info!(variable = %name, "secret removed from the console");
            reread(console).await;
            Ok(Json(json!({"removed": name})).into_response())
        }
        Ok(false) => Err(error(
            StatusCode::NOT_FOUND,
            format!("{name} was not set in the console."),
        )),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

fn manifest_json(plugin: &LoadedPlugin) -> Value {
    let m = &plugin.manifest;
    json!({
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "hosts": m.hosts,
        "secrets": m.secrets.iter().map(|s| json!({"name": s.name, "description": s.description, "required": s.required})).collect::<Vec<_>>(),
        "settings": m.settings.iter().map(|s| json!({"name": s.name, "description": s.description, "default": s.default})).collect::<Vec<_>>(),
        "models": m.models.iter().map(|model| json!({"id": model.id, "display_name": model.display_name, "context_window": model.context_window})).collect::<Vec<_>>(),
    })
}

/// `GET /admin/api/plugins`: each plugin's version, hash, manifest, grants,
/// where it came from and why a newer file did not load.
pub async fn plugins(State(state): State<AppState>) -> Json<Value> {
    let registry = state.registry.load();
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let uploads = state.console.data_dir.as_deref().map(store::uploads_dir);
    let mut out = BTreeMap::new();
    for (name, plugin_status) in &status.plugins {
        let entry = registry.plugins.get(name);
        let uploaded = uploads
            .as_deref()
            .is_some_and(|dir| std::path::Path::new(&plugin_status.path).parent() == Some(dir));
        out.insert(
            name.clone(),
            json!({
                "path": plugin_status.path,
                "uploaded": uploaded,
                "version": plugin_status.version,
                "sha256": plugin_status.sha256,
                "live_since": plugin_status.live_since,
                "error": plugin_status.error,
                "live": entry.is_some(),
                "configured": entry.map(|e| e.configured),
                "manifest": entry.map(|e| manifest_json(&e.plugin)),
                "grants": entry.map(|e| e.grants.iter().map(|g| g.pattern.to_string()).collect::<Vec<_>>()),
                "accounts": entry.map(|e| e.pool.views().len()),
            }),
        );
    }
    Json(json!({"plugins": out, "uploads_dir": uploads.map(|d| d.display().to_string())}))
}

fn plugin_name_ok(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name:?} is not a plugin name (lower-case letters, digits, - and _)"),
        ))
    }
}

/// `PUT /admin/api/plugins/{name}` with the `.wasm` as the body: validated
/// (compiled, manifest read, grants checked) before it is kept in the data
/// directory and loaded like a file dropped into `plugins/`.
pub async fn upload_plugin(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let name = name.strip_suffix(".wasm").unwrap_or(&name).to_string();
    plugin_name_ok(&name)?;
    let console = &state.console;
    let dir = store::uploads_dir(&data_dir(console)?);
    if body.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "The body is empty: send the .wasm file.",
        ));
    }
    let path = dir.join(format!("{name}.wasm"));
    let mut reloader = console.reloader.lock().await;
    let plugin = LoadedPlugin::load_bytes(reloader.runtime(), &path, body.to_vec())
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("not loaded: {e}")))?;
    let env = |n: &str| (console.env)(n);
    if let Some(problem) = crate::registry::grant_problem(reloader.config(), &plugin, &env) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("not loaded: {problem}"),
        ));
    }
    let version = plugin.manifest.version.clone();
    let hash = plugin.hash.clone();
    drop(plugin);
    std::fs::create_dir_all(&dir)
        .and_then(|()| crate::persist::write_private(&path, &body))
        .map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot save {}: {e}", path.display()),
            )
        })?;
    reloader.reload().await;
    drop(reloader);
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let live = status.plugins.get(&name);
    if let Some(err) = live.and_then(|p| p.error.clone()) {
        return Err(error(StatusCode::BAD_REQUEST, err));
    }
    tracing::info!(plugin = %name, %version, sha256 = %hash, "plugin uploaded from the console");
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "version": version, "sha256": hash, "path": path.display().to_string()})),
    )
        .into_response())
}

/// `DELETE /admin/api/plugins/{name}`: removes an uploaded plugin (a
/// shipped one of the same name, if any, is served again).
pub async fn remove_plugin(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    plugin_name_ok(&name)?;
    let console = &state.console;
    let path = store::uploads_dir(&data_dir(console)?).join(format!("{name}.wasm"));
    if !path.exists() {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "No plugin {name:?} was uploaded in the console (shipped plugins are removed from plugins/)."
            ),
        ));
    }
    let mut reloader = console.reloader.lock().await;
    std::fs::remove_file(&path).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot remove {}: {e}", path.display()),
        )
    })?;
    reloader.reload().await;
    tracing::info!(plugin = %name, "plugin removed from the console");
    Ok(Json(json!({"removed": name})).into_response())
}

#[derive(Deserialize)]
pub struct LogQuery {
    /// Words every shown line contains (model, plugin, status, request id…).
    q: Option<String>,
    /// `errors`: only failed requests.
    only: Option<String>,
    limit: Option<usize>,
}

/// `GET /admin/api/logs?q=&only=errors&limit=`: recent requests (newest
/// first) and the warnings and errors the gateway logged.
pub async fn logs(Query(query): Query<LogQuery>) -> Json<Value> {
    let limit = query.limit.unwrap_or(200).min(2000);
    let words: Vec<String> = query
        .q
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect();
    let only_errors = query.only.as_deref() == Some("errors");
    let matches = |line: String| words.iter().all(|w| line.to_lowercase().contains(w));
    let requests: Vec<Record> = metrics::global()
        .recent()
        .into_iter()
        .rev()
        .filter(|r| !only_errors || r.status >= 400)
        // The console's own calls only when asked for.
        .filter(|r| {
            !r.path.contains("/admin/")
                || r.model.is_some()
                || words.iter().any(|w| w.contains("admin"))
        })
        .filter(|r| matches(serde_json::to_string(r).unwrap_or_default()))
        .take(limit)
        .collect();
    let events: Vec<metrics::Event> = metrics::global()
        .events()
        .into_iter()
        .rev()
        .filter(|e| matches(format!("{} {}", e.level, e.message)))
        .take(limit)
        .collect();
    Json(json!({"requests": requests, "events": events}))
}

/// `POST /admin/api/try`: the chat completions endpoint for the console's
/// "try it" box (the console's session stands for the caller's key).
pub async fn try_model(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // The operator's own tool calls are remembered apart from callers'.
    let operator = crate::api::tool_memory::CallerTag::of_key(Some("\0console"));
    crate::api::chat_completions(state, Some(axum::Extension(operator)), headers, body).await
}

/// `GET /metrics`: Prometheus text, for `Authorization: Bearer` with the
/// admin key or `METRICS_KEY`; never open without a key.
pub async fn metrics(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = super::session::client_of(peer.ip(), &headers);
    let sessions = &state.console.sessions;
    if let Some(wait) = sessions.locked_out(&client) {
        return super::session::too_many(wait);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let scrape_key = state.console.metrics_key.as_ref();
    let allowed = bearer.is_some_and(|key| {
        (!state.admin.is_open() && state.admin.accepts(key))
            || scrape_key.is_some_and(|k| k.accepts(key))
    });
    if !allowed {
        // A wrong key costs as at the console's sign-in.
        if bearer.is_some_and(|key| !state.auth.accepts(key)) {
            sessions.failed(&client);
            tokio::time::sleep(super::session::FAILURE_DELAY).await;
        }
        let message = if state.admin.is_open() && scrape_key.is_none() {
            "/metrics needs ADMIN_KEY or METRICS_KEY set, and that key as `Authorization: Bearer <key>`."
        } else {
            "/metrics needs `Authorization: Bearer <ADMIN_KEY or METRICS_KEY>`."
        };
        return crate::api::error::ApiError::unauthenticated(message).into_response();
    }
    let mut out = String::new();
    render_metrics(&state, &mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn render_metrics(state: &AppState, out: &mut String) {
    use metrics::{escape, help};
    metrics::global().render(out);
    let registry = state.registry.load();
    let mut states: Vec<String> = Vec::new();
    let mut cooldowns: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut account_requests: Vec<String> = Vec::new();
    for (name, entry) in &registry.plugins {
        let plugin = escape(name);
        let views = entry.pool.views();
        let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
        for view in &views {
            *by_state.entry(view.state).or_default() += 1;
            let account = escape(&view.id);
            cooldowns.push(format!(
                "wasmgate_account_cooldowns{{plugin=\"{plugin}\",account=\"{account}\"}} {}\n",
                view.cooldowns.len()
            ));
            for (kind, value) in [
                ("prompt", view.prompt_tokens),
                ("completion", view.completion_tokens),
            ] {
                tokens.push(format!(
                    "wasmgate_tokens_total{{plugin=\"{plugin}\",account=\"{account}\",kind=\"{kind}\"}} {value}\n"
                ));
            }
            account_requests.push(format!(
                "wasmgate_account_requests_total{{plugin=\"{plugin}\",account=\"{account}\"}} {}\nwasmgate_account_failures_total{{plugin=\"{plugin}\",account=\"{account}\"}} {}\n",
                view.requests, view.failures
            ));
        }
        for account_state in [
            "healthy",
            "cooling_down",
            "broken",
            "breaker_open",
            "half_open",
            "disabled",
            "expired",
        ] {
            states.push(format!(
                "wasmgate_accounts{{plugin=\"{plugin}\",state=\"{account_state}\"}} {}\n",
                by_state.get(account_state).copied().unwrap_or(0)
            ));
        }
    }
    help(
        out,
        "wasmgate_accounts",
        "gauge",
        "Accounts by plugin and state.",
    );
    out.extend(states);
    help(
        out,
        "wasmgate_account_cooldowns",
        "gauge",
        "Models cooling down on each account.",
    );
    out.extend(cooldowns);
    help(
        out,
        "wasmgate_tokens_total",
        "counter",
        "Tokens used, per account (kept across restarts with the data directory).",
    );
    out.extend(tokens);
    help(
        out,
        "wasmgate_account_requests_total",
        "counter",
        "Requests and failures per account.",
    );
    out.extend(account_requests);
    let status = state
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    help(
        out,
        "wasmgate_reloads_total",
        "counter",
        "Reload passes since start.",
    );
    out.push_str(&format!("wasmgate_reloads_total {}\n", status.reloads));
    help(
        out,
        "wasmgate_reload_errors",
        "gauge",
        "Files whose newest version is not live (1 each).",
    );
    let plugin_errors = status
        .plugins
        .values()
        .filter(|p| p.error.is_some())
        .count();
    out.push_str(&format!(
        "wasmgate_reload_errors{{what=\"config\"}} {}\nwasmgate_reload_errors{{what=\"plugins\"}} {plugin_errors}\n",
        u8::from(status.config.error.is_some())
    ));
    help(
        out,
        "wasmgate_requests_in_flight",
        "gauge",
        "Requests running on a plugin now (each holds one plugin instance).",
    );
    for (name, entry) in &registry.plugins {
        let in_flight: u64 = entry
            .pool
            .views()
            .iter()
            .map(|v| u64::from(v.in_flight))
            .sum();
        out.push_str(&format!(
            "wasmgate_requests_in_flight{{plugin=\"{}\"}} {in_flight}\n",
            escape(name)
        ));
    }
    let limits = state.runtime.limits();
    help(
        out,
        "wasmgate_instances_max",
        "gauge",
        "Plugin instances allowed at once.",
    );
    out.push_str(&format!(
        "wasmgate_instances_max {}\n",
        limits.max_instances
    ));
    help(
        out,
        "wasmgate_uptime_seconds",
        "gauge",
        "Seconds since start.",
    );
    out.push_str(&format!(
        "wasmgate_uptime_seconds {}\n",
        metrics::global().uptime_secs()
    ));
}
