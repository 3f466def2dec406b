//! The admin console, served by the gateway itself: a sign-in form, pages
//! for the overview, routes, accounts, configuration, plugins and logs
//! (plain HTML, CSS and JavaScript embedded in the binary, no CDN), the
//! JSON admin API they call, the public landing page at `/`, the optional
//! public status page and `/metrics`. Every change goes through the same
//! [`Reloader`] the file watcher drives.

pub mod api;
pub mod pages;
pub mod session;
pub mod startup;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post, put};

use crate::api::AppState;
use crate::api::error::ApiError;
use crate::config::{Config, SecretSource};
use crate::registry::PluginEntry;
use crate::reload::Reloader;
use crate::secrets_store::SecretsStore;

/// What the console needs besides the rest of [`AppState`].
pub struct Console {
    /// Shared with the file watcher; passes run one at a time.
    pub reloader: Arc<tokio::sync::Mutex<Reloader>>,
    /// Variables pasted in the console, over the environment.
    pub secrets: Arc<SecretsStore>,
    /// What plugins' accounts are read from: the pasted variables, then the
    /// process's variables and `.env`.
    pub env: Arc<crate::reload::Environment>,
    pub sessions: session::Sessions,
    pub data_dir: Option<PathBuf>,
    /// Whether the data directory outlives a restart (see [`persistence`]).
    pub persistent: bool,
    /// Why it may not, for the warning.
    pub persistence_note: String,
    /// The shipped configuration file, where a fresh installation starts.
    pub shipped_config: Option<PathBuf>,
    /// The public status page (`PUBLIC_STATUS`, else `[server] public-status`).
    pub public_status: bool,
    /// `METRICS_KEY`: a key that may read `/metrics` and nothing else.
    pub metrics_key: Option<crate::api::auth::CallerAuth>,
}

impl Console {
    pub fn new(
        reloader: Arc<tokio::sync::Mutex<Reloader>>,
        secrets: Arc<SecretsStore>,
        env_of_plugins: Arc<crate::reload::Environment>,
        data_dir: Option<PathBuf>,
        shipped_config: Option<PathBuf>,
        public_status: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Console {
        let (persistent, persistence_note) = persistence(data_dir.as_deref(), env);
        let public_status = env("PUBLIC_STATUS").map_or(public_status, |v| truthy(&v));
        let metrics_key =
            env("METRICS_KEY").map(|key| crate::api::auth::CallerAuth::from_env(Some(&key), None));
        Console {
            reloader,
            secrets,
            env: env_of_plugins,
            sessions: session::Sessions::default(),
            data_dir,
            persistent,
            persistence_note,
            shipped_config,
            public_status,
            metrics_key,
        }
    }
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Whether what the console saves survives a restart: on a Space only
/// `/data` (persistent storage) does; elsewhere the data directory is a
/// directory on the machine's disk.
pub fn persistence(
    data_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> (bool, String) {
    let Some(dir) = data_dir else {
        return (
            false,
            "There is no writable data directory: what you save here is lost when the gateway restarts. Set WASMGATE_DATA_DIR to a writable directory.".into(),
        );
    };
    let on_space = env("SPACE_ID").is_some();
    if on_space && !dir.starts_with("/data") && env("WASMGATE_DATA_DIR").is_none() {
        return (
            false,
            format!(
                "This Space has no persistent storage: {} is wiped at every restart (and a push or a change of the Space's secrets restarts it). Enable persistent storage in the Space's settings to keep what you save here.",
                dir.display()
            ),
        );
    }
    (true, format!("Saved in {}.", dir.display()))
}

/// The console's routes (served under the path prefix too).
pub fn routes(state: &AppState) -> Router<AppState> {
    let admin_api = Router::new()
        .route("/admin/api/overview", get(api::overview))
        .route("/admin/api/routes", get(api::routes))
        .route(
            "/admin/api/config",
            get(api::config).post(api::apply_config),
        )
        .route("/admin/api/config/validate", post(api::validate_config))
        .route("/admin/api/config/history", get(api::history))
        .route("/admin/api/config/history/{id}", get(api::version))
        .route("/admin/api/config/rollback/{id}", post(api::rollback))
        .route("/admin/api/config/reset", post(api::reset_config))
        .route("/admin/api/secrets", get(api::secrets))
        .route(
            "/admin/api/secrets/{name}",
            put(api::set_secret).delete(api::delete_secret),
        )
        .route("/admin/api/plugins", get(api::plugins))
        .route(
            "/admin/api/plugins/{name}",
            put(api::upload_plugin).delete(api::remove_plugin),
        )
        .route("/admin/api/logs", get(api::logs))
        .route("/admin/api/try", post(api::try_model))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_admin,
        ));
    Router::new()
        .route("/", get(pages::landing))
        .route("/admin", get(pages::redirect_to_console))
        .route("/admin/", get(pages::console))
        .route("/admin/assets/{file}", get(pages::asset))
        .route("/admin/login", post(session::login))
        .route("/admin/logout", post(session::logout))
        .route("/admin/api/session", get(session::session))
        .route("/status", get(pages::public_status))
        .route("/metrics", get(api::metrics))
        .merge(admin_api)
}

/// An error in the admin API's shape with any status.
pub fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    let mut error = ApiError::invalid_request(message);
    error.status = status;
    error.kind = match status.as_u16() {
        401 | 403 => "permission_error",
        404 => "invalid_request_error",
        409 => "conflict_error",
        429 => "rate_limit_error",
        500.. => "server_error",
        _ => "invalid_request_error",
    };
    error.code = None;
    error
}

/// The variables that give a plugin its accounts, as the live configuration
/// names them (`{n}` standing for any number), or the implicit
/// `<PLUGIN>_<SECRET>` names for a plugin `plugins.toml` does not mention.
pub fn account_variables(config: &Config, name: &str, entry: Option<&PluginEntry>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut push = |v: &str| {
        if !names.iter().any(|n| n == v) {
            names.push(v.to_string());
        }
    };
    match config.file.plugins.get(name) {
        Some(section) => {
            for account in &section.accounts {
                if let Some(for_each) = &account.for_each {
                    let for_each = for_each.get_ref();
                    if let Some(v) = &for_each.json_array {
                        push(v);
                    }
                    if let Some(v) = &for_each.numbered {
                        push(v);
                    }
                }
                for source in account.secrets.values() {
                    if let SecretSource::Env(v) | SecretSource::EnvList(v) = source.get_ref() {
                        push(v);
                    }
                }
            }
        }
        None => {
            if let Some(entry) = entry {
                let prefix = crate::config::env_name(name);
                for secret in &entry.plugin.manifest.secrets {
                    push(&format!(
                        "{prefix}_{}",
                        crate::config::env_name(&secret.name)
                    ));
                }
            }
        }
    }
    names
}

/// Whether a variable a configuration names (`{n}` for any number) is set,
/// in the environment or the console.
pub fn variable_set(env: &dyn Fn(&str) -> Option<String>, pattern: &str) -> bool {
    if pattern.contains("{n}") {
        (0..=999u32).any(|n| env(&pattern.replace("{n}", &n.to_string())).is_some())
    } else {
        env(pattern).is_some()
    }
}

/// The variable to set to add an account from this pattern: the pattern
/// itself, or with `{n}` the first number (from 1) not set yet.
pub fn next_free(env: &dyn Fn(&str) -> Option<String>, pattern: &str) -> String {
    if !pattern.contains("{n}") {
        return pattern.to_string();
    }
    (1..=999u32)
        .map(|n| pattern.replace("{n}", &n.to_string()))
        .find(|name| env(name).is_none())
        .unwrap_or_else(|| pattern.replace("{n}", "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_added_under_the_first_free_number() {
        let env = |name: &str| (name == "CN_ACCOUNT_1_COOKIE").then(|| "x".to_string());
        assert_eq!(
            next_free(&env, "CN_ACCOUNT_{n}_COOKIE"),
            "CN_ACCOUNT_2_COOKIE"
        );
        assert_eq!(next_free(&env, "QWEN_TOKEN"), "QWEN_TOKEN");
        assert!(variable_set(&env, "CN_ACCOUNT_{n}_COOKIE"));
        assert!(!variable_set(&env, "CN_ACCOUNT_{n}_XSRF_TOKEN"));
    }
}
