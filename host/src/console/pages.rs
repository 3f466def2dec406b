//! The HTML pages: the public landing page at `/`, the console's single
//! page (its assets embedded in the binary), and the optional public status
//! page.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::api::AppState;

const CONSOLE_HTML: &str = include_str!("assets/console.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");
const LANDING_HTML: &str = include_str!("assets/landing.html");
const LANDING_JS: &str = include_str!("assets/landing.js");

/// Pages never load anything from elsewhere, and never run in someone
/// else's frame except Hugging Face's (the Space's App tab).
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'self' https://huggingface.co https://*.hf.space; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn console() -> Response {
    secured(Html(CONSOLE_HTML).into_response())
}

pub async fn redirect_to_console(uri: axum::http::Uri) -> Response {
    // Relative, so it works under a path prefix too.
    let last = uri.path().rsplit('/').next().unwrap_or("admin");
    Redirect::permanent(&format!("{last}/")).into_response()
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        "landing.js" => (LANDING_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    secured(([(header::CONTENT_TYPE, kind)], body).into_response())
}

pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The URL clients use, as this request reached us: the configured public
/// base URL, else the scheme and host the request names (through a proxy
/// too), with the path prefix the page was served under.
fn base_url(state: &AppState, headers: &HeaderMap, prefix: Option<&str>) -> String {
    let base = state.media.base_for(headers);
    if state.media.public_base.is_some() {
        return base;
    }
    format!("{base}{}", prefix.unwrap_or_default())
}

/// The path prefix a page was reached under (`/<prefix>`), set by the router.
#[derive(Clone, Debug)]
pub struct PathPrefix(pub String);

/// `GET /`: what this is, the base URL, the models served now, a client
/// snippet, each plugin's state (accounts set or missing, and what would
/// add them), and the way to the console. Nothing secret: no account ids,
/// fingerprints, errors or inventory details.
pub async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
    prefix: Option<axum::Extension<PathPrefix>>,
) -> Response {
    let registry = state.registry.load();
    let base = base_url(&state, &headers, prefix.as_ref().map(|p| p.0.0.as_str()));
    let models = registry.models(false);
    let model_list = if models.is_empty() {
        "<p class=\"warn\">No model can be served yet: no plugin has an account. See below what to set.</p>".to_string()
    } else {
        let items: String = models
            .iter()
            .map(|(m, _)| format!("<li><code>{}</code></li>", escape_html(m)))
            .collect();
        format!("<ul class=\"models\">{items}</ul>")
    };
    let example = models
        .first()
        .map(|(m, _)| m.clone())
        .unwrap_or_else(|| "gemini-2.5-flash".into());
    let env = |n: &str| (state.console.env)(n);
    let mut plugins = String::new();
    for (name, entry) in &registry.plugins {
        let ready = !entry.pool.is_empty();
        let variables = super::account_variables(&registry.config, name, Some(entry));
        let (class, state_text) = if ready {
            ("ok", "accounts set".to_string())
        } else {
            ("missing", "accounts missing".to_string())
        };
        let how = if ready {
            String::new()
        } else {
            let names: Vec<String> = variables
                .iter()
                .filter(|v| !super::variable_set(&env, v))
                .map(|v| format!("<code>{}</code>", escape_html(v)))
                .collect();
            format!(
                " — set {} as environment variables (a Space's secrets), or paste them in the console's Accounts page",
                if names.is_empty() {
                    "its variables".to_string()
                } else {
                    names.join(", ")
                }
            )
        };
        plugins.push_str(&format!(
            "<li><strong>{}</strong> {} <span class=\"{class}\">{state_text}</span>{how}</li>",
            escape_html(name),
            escape_html(&entry.plugin.manifest.description),
        ));
    }
    let console = if state.admin.is_open() {
        "The admin console is off: set <code>ADMIN_KEY</code> (a long random value, e.g. <code>openssl rand -hex 24</code>) to turn it on.".to_string()
    } else {
        // A tab of its own: inside a Space's App tab (an iframe) browsers
        // do not keep the console's sign-in cookie.
        "Operators: <a href=\"admin/\" target=\"_blank\" rel=\"noopener\">open the admin console</a> (in a tab of its own; sign in with <code>ADMIN_KEY</code>).".to_string()
    };
    let status_link = if state.console.public_status {
        " · <a href=\"status\">service status</a>"
    } else {
        ""
    };
    let page = LANDING_HTML
        .replace("{{base}}", &escape_html(&base))
        .replace("{{models}}", &model_list)
        .replace("{{model}}", &escape_html(&example))
        .replace("{{plugins}}", &plugins)
        .replace("{{console}}", &console)
        .replace("{{status}}", status_link)
        .replace("{{version}}", env!("CARGO_PKG_VERSION"));
    secured(Html(page).into_response())
}

/// `GET /status`, when `PUBLIC_STATUS` (or `[server] public-status`) is
/// on: availability and counts per model, nothing that identifies accounts.
pub async fn public_status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.console.public_status {
        return crate::api::error::ApiError::not_found(
            "The public status page is off (set PUBLIC_STATUS=true to turn it on).",
        )
        .into_response();
    }
    let registry = state.registry.load();
    let since = crate::clock::unix_millis().saturating_sub(3_600_000);
    let records = crate::metrics::global().recent();
    let mut models = Vec::new();
    for (model, _) in registry.models(true) {
        let available = registry.models(false).iter().any(|(m, _)| m == &model);
        let recent: Vec<_> = records
            .iter()
            .filter(|r| r.at >= since && r.model.as_deref() == Some(model.as_str()))
            .collect();
        let ok = recent.iter().filter(|r| r.status < 400).count();
        models.push(serde_json::json!({
            "model": model,
            "available": available,
            "requests_1h": recent.len(),
            "success_rate_1h": if recent.is_empty() { None } else { Some(ok as f64 / recent.len() as f64) },
        }));
    }
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": crate::metrics::global().uptime_secs(),
        "models": models,
    });
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html {
        return axum::Json(body).into_response();
    }
    let rows: String = body["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(m["model"].as_str().unwrap_or_default()),
                if m["available"].as_bool() == Some(true) {
                    "ok"
                } else {
                    "missing"
                },
                if m["available"].as_bool() == Some(true) {
                    "available"
                } else {
                    "unavailable"
                },
                m["requests_1h"],
                m["success_rate_1h"]
                    .as_f64()
                    .map(|r| format!("{:.0} %", r * 100.0))
                    .unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>wasmgate status</title><link rel=\"stylesheet\" href=\"admin/assets/console.css\"></head><body class=\"public\"><main><h1>Service status</h1><table><thead><tr><th>Model</th><th>Now</th><th>Requests (1 h)</th><th>Success (1 h)</th></tr></thead><tbody>{rows}</tbody></table><p class=\"muted\">wasmgate {}</p></main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    secured(Html(page).into_response())
}
