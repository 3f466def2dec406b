//! The shape of `plugins.toml`, as serde reads it.

use std::ops::Range;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::answers::AnswersSection;
use super::hosts::HostPattern;
use super::proxy::ProxySetting;
use super::routes::RouteSpec;

pub type Invalid = (Option<Range<usize>>, String);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub runtime: RuntimeSection,
    /// Account-pool policy for every plugin; `[plugins.<name>.pool]` overrides it.
    #[serde(default)]
    pub pool: PoolSection,
    /// How answers are shaped for every plugin; `[plugins.<name>.answers]` overrides it.
    #[serde(default)]
    pub answers: AnswersSection,
    #[serde(default)]
    pub plugins: IndexMap<String, PluginSection>,
    #[serde(default)]
    pub models: IndexMap<Spanned<String>, Spanned<RouteSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSection {
    /// `host:port`; without it the gateway listens on `0.0.0.0:$PORT` (7860).
    pub listen: Option<Spanned<String>>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Connections open at once; at the cap the oldest idle one is closed.
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers (default 15).
    pub header_read_timeout_secs: Option<f64>,
    /// Seconds a client may take to send a request's body (default 60).
    pub body_read_timeout_secs: Option<f64>,
    /// Body bytes held at once across all requests (default 256 MiB);
    /// beyond it requests get 503 with `Retry-After`.
    pub max_body_bytes_in_flight: Option<usize>,
    /// Where the `.wasm` plugins are (default `plugins/` next to this file).
    pub plugins_dir: Option<PathBuf>,
    /// Where compiled plugins are cached (default `.wasmgate-cache/`).
    pub cache_dir: Option<PathBuf>,
    /// Serve everything under this path too (`PATH_PREFIX` overrides it),
    /// as gemini-business2api did: clients keep `…/<prefix>/v1` base URLs.
    pub path_prefix: Option<Spanned<String>>,
    /// Page origins whose scripts may call the API (`*` for any);
    /// `CORS_ORIGINS` or `ALLOWED_ORIGINS` override it. Default: any origin
    /// once callers need a key, none in loopback-only mode.
    pub cors_origins: Option<Vec<String>>,
    /// The gateway's address as clients see it, for links to stored images.
    pub public_base_url: Option<Spanned<String>>,
    /// Serve the public status page at `/status` (`PUBLIC_STATUS` overrides):
    /// availability and counts per model, nothing about accounts.
    pub public_status: Option<bool>,
}

/// Limits every plugin instance runs under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RuntimeSection {
    /// Linear memory one instance may use, in MiB.
    pub max_memory_mib: u64,
    /// CPU time one request may spend inside the plugin, in milliseconds.
    pub max_cpu_ms: u64,
    /// Wall-clock time allowed until the first event of an answer, in seconds.
    pub first_event_timeout_secs: f64,
    /// Wall-clock time allowed between two events of an answer, in seconds.
    pub idle_timeout_secs: f64,
    /// Plugin instances alive at once; further requests wait for a slot.
    /// Unset: derived from the machine's memory, see [`Self::max_instances()`].
    pub max_instances: Option<u32>,
    /// Size one answer may reach (text, tool calls, images), streamed or
    /// not, in MiB; a plugin that goes past it fails its request.
    pub max_answer_mib: u64,
    /// Wall-clock time one request may take in all, in seconds: a stream
    /// still running then ends with an error frame.
    pub max_request_secs: f64,
    /// Seconds a request waits for an instance slot before a 503.
    pub max_slot_wait_secs: f64,
}

impl RuntimeSection {
    /// The instance cap: the setting, or the default derived from the
    /// machine's memory and `max-memory-mib`.
    pub fn max_instances(&self) -> u32 {
        self.max_instances
            .unwrap_or_else(|| super::instances::default_max_instances(self.max_memory_mib))
    }
}

impl Default for RuntimeSection {
    fn default() -> Self {
        RuntimeSection {
            max_memory_mib: 128,
            max_cpu_ms: 5_000,
            first_event_timeout_secs: 120.0,
            idle_timeout_secs: 120.0,
            max_instances: None,
            max_answer_mib: 32,
            max_request_secs: 1800.0,
            max_slot_wait_secs: 30.0,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginSection {
    /// Hosts the plugin may reach, besides its accounts' `base-url` origins.
    #[serde(default)]
    pub allowed_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub accounts: Vec<AccountSection>,
    /// This plugin's account-pool policy, over the top-level `[pool]`.
    #[serde(default)]
    pub pool: PoolSection,
    /// This plugin's answer options, over the top-level `[answers]`.
    #[serde(default)]
    pub answers: AnswersSection,
    /// The outbound proxy its requests go through.
    pub proxy: Option<Spanned<ProxySetting>>,
}

/// How a plugin's accounts are chosen, cooled down and healed. Every field is
/// optional: unset fields fall back to `[pool]`, then to the defaults in
/// [`crate::pool::PoolPolicy`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PoolSection {
    /// Further accounts tried after a retryable failure, before the fallbacks.
    pub retries: Option<u32>,
    /// Requests one account serves at once; busy accounts are skipped.
    pub max_concurrent: Option<u32>,
    /// Cooldown after a rate limit when the plugin reports no retry-after.
    pub rate_limit_cooldown_secs: Option<f64>,
    /// Cooldown after an exhausted quota when the plugin reports no reset time.
    pub quota_cooldown_secs: Option<f64>,
    /// How often an account whose credentials were refused is tried again.
    pub probe_interval_secs: Option<f64>,
    /// Upstream failures or timeouts in a row (within the window) that open
    /// an account's circuit breaker.
    pub breaker_failures: Option<u32>,
    pub breaker_window_secs: Option<f64>,
    /// How long an open breaker keeps the account out before one probe.
    pub breaker_open_secs: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AccountSection {
    pub id: Spanned<String>,
    /// Secret name (as the plugin asks for it) → where its value comes from.
    #[serde(default)]
    pub secrets: IndexMap<String, Spanned<SecretSource>>,
    /// Non-secret settings, e.g. `base-url`, `location`.
    #[serde(default)]
    pub settings: IndexMap<String, Spanned<String>>,
    /// When the credentials stop working (e.g. a session cookie's end of
    /// life); after it the account is `expired` and no longer used.
    pub expires_at: Option<Spanned<toml::value::Datetime>>,
    /// Makes this entry a template for any number of accounts.
    pub for_each: Option<Spanned<ForEach>>,
}

/// An account source of any length, as the seeds configure accounts:
///
/// - `{ json-array = "ACCOUNTS_CONFIG" }`: one account per element of the
///   JSON array in the variable (a single object, or objects separated by
///   commas as hajimi took them, count too). Secrets read element fields
///   with `{ field = "name" }` (an element without it is left out, named in a
///   warning), `{ optional-field = "name" }`, the whole element with `{ field = "*" }`;
///   the element's `id` names the account.
/// - `{ numbered = "CN_ACCOUNT_{n}_COOKIE" }`: one account per number `n`
///   (0–999) for which that variable is set; `{n}` in the account id, in
///   secret variable names and in settings is replaced by the number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ForEach {
    pub json_array: Option<String>,
    pub numbered: Option<String>,
    /// The element field holding the account id (default `id`).
    pub id_field: Option<String>,
    /// The element field holding when it expires (default `expires_at`):
    /// `YYYY-MM-DD HH:MM:SS`, RFC 3339 or Unix seconds.
    pub expires_field: Option<String>,
    /// The offset of expiry times written without one (default `+00:00`;
    /// gemini-business2api wrote Beijing time, `+08:00`).
    pub expires_offset: Option<String>,
    /// The element field that, when `true`, switches it off (default `disabled`).
    pub disabled_field: Option<String>,
}

/// The most numbered accounts one `numbered` source looks for.
pub const NUMBERED_MAX: u32 = 999;

/// Secrets never appear in the file: they are read from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum SecretSource {
    /// One value from this variable.
    Env(String),
    /// A comma-separated list in this variable: one account per value.
    EnvList(String),
    /// A field of the element, in a `for-each = { json-array = … }`
    /// account; an element without it is left out, with a warning.
    Field(String),
    /// A field of the element that may be absent.
    OptionalField(String),
}

impl SecretSource {
    /// The environment variable read, if it is read from one.
    pub fn variable(&self) -> Option<&str> {
        match self {
            SecretSource::Env(name) | SecretSource::EnvList(name) => Some(name),
            SecretSource::Field(_) | SecretSource::OptionalField(_) => None,
        }
    }
}

/// The longest duration any setting takes, in seconds (a year): beyond it a
/// number is a mistake, and far beyond it would overflow a duration.
pub const MAX_SECONDS: f64 = 365.0 * 86_400.0;

/// Environment variables that belong to the gateway itself and are never
/// handed to a plugin.
pub const RESERVED_VARIABLES: &[&str] = &[
    "API_KEY",
    "API_MASTER_KEY",
    "PASSWORD",
    "HF_TOKEN",
    "ADMIN_KEY",
];

impl ConfigFile {
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        if let Some(listen) = &self.server.listen
            && listen.get_ref().parse::<std::net::SocketAddr>().is_err()
        {
            return Err((
                Some(listen.span()),
                format!(
                    "listen = {:?} is not an address like 0.0.0.0:7860",
                    listen.get_ref()
                ),
            ));
        }
        if let Some(prefix) = &self.server.path_prefix
            && let Err(message) = normalize_path_prefix(prefix.get_ref())
        {
            return Err((
                Some(prefix.span()),
                format!("[server] path-prefix: {message}"),
            ));
        }
        if let Some(origins) = &self.server.cors_origins {
            crate::api::cors::AllowedOrigins::parse(origins.iter().map(String::as_str))
                .map_err(|message| (None, format!("[server] cors-origins: {message}")))?;
        }
        if self.server.max_connections == Some(0) {
            return Err((None, "[server] max-connections must be at least 1".into()));
        }
        for (what, secs) in [
            (
                "header-read-timeout-secs",
                self.server.header_read_timeout_secs,
            ),
            ("body-read-timeout-secs", self.server.body_read_timeout_secs),
        ] {
            if let Some(secs) = secs
                && !(secs > 0.0 && secs <= MAX_SECONDS)
            {
                return Err((
                    None,
                    format!(
                        "[server] {what} must be a positive number of seconds, at most {MAX_SECONDS}"
                    ),
                ));
            }
        }
        let runtime = &self.runtime;
        if runtime.max_memory_mib == 0 || runtime.max_memory_mib > 4096 {
            return Err((
                None,
                "[runtime] max-memory-mib must be between 1 and 4096".into(),
            ));
        }
        if runtime.max_instances == Some(0) {
            return Err((None, "[runtime] max-instances must be at least 1".into()));
        }
        if runtime.max_answer_mib == 0 || runtime.max_answer_mib > 1024 {
            return Err((
                None,
                "[runtime] max-answer-mib must be between 1 and 1024".into(),
            ));
        }
        for (what, secs) in [
            ("first-event-timeout-secs", runtime.first_event_timeout_secs),
            ("idle-timeout-secs", runtime.idle_timeout_secs),
            ("max-request-secs", runtime.max_request_secs),
            ("max-slot-wait-secs", runtime.max_slot_wait_secs),
        ] {
            if !(secs > 0.0 && secs <= MAX_SECONDS) {
                return Err((
                    None,
                    format!(
                        "[runtime] {what} must be a positive number of seconds, at most {MAX_SECONDS} (a year)"
                    ),
                ));
            }
        }
        self.pool
            .validate()
            .map_err(|message| (None, format!("[pool] {message}")))?;
        super::answers::validate_file(self)?;
        for (name, plugin) in &self.plugins {
            plugin
                .pool
                .validate()
                .map_err(|message| (None, format!("[plugins.{name}.pool] {message}")))?;
            if !is_plugin_name(name) {
                return Err((
                    None,
                    format!("[plugins.{name}]: a plugin name is lowercase letters, digits and '-'"),
                ));
            }
            for host in &plugin.allowed_hosts {
                HostPattern::parse(host.get_ref()).map_err(|err| {
                    (
                        Some(host.span()),
                        format!("[plugins.{name}] allowed-hosts: {err}"),
                    )
                })?;
            }
            let mut ids = std::collections::HashSet::new();
            for account in &plugin.accounts {
                let id = account.id.get_ref();
                if id.is_empty() || !ids.insert(id.clone()) {
                    return Err((
                        Some(account.id.span()),
                        format!("[plugins.{name}] account id {id:?} is empty or used twice"),
                    ));
                }
                if let Some(for_each) = &account.for_each {
                    for_each.get_ref().validate(account).map_err(|message| {
                        (
                            Some(for_each.span()),
                            format!("[plugins.{name}] account {id:?} for-each: {message}"),
                        )
                    })?;
                } else if let Some(field) = account.secrets.values().find(|s| {
                    matches!(
                        s.get_ref(),
                        SecretSource::Field(_) | SecretSource::OptionalField(_)
                    )
                }) {
                    return Err((
                        Some(field.span()),
                        format!(
                            "[plugins.{name}] account {id:?}: {{ field = … }} needs for-each = {{ json-array = \"VARIABLE\" }}"
                        ),
                    ));
                }
                for source in account.secrets.values() {
                    let Some(variable) = source.get_ref().variable() else {
                        continue;
                    };
                    let variable = variable.replace("{n}", "0");
                    let variable = variable.as_str();
                    if RESERVED_VARIABLES.contains(&variable) {
                        return Err((
                            Some(source.span()),
                            format!(
                                "{variable} is the gateway's own secret and cannot be given to a plugin"
                            ),
                        ));
                    }
                }
                if let Some(expires) = &account.expires_at
                    && super::datetime::unix_millis(expires.get_ref()).is_none()
                {
                    return Err((
                        Some(expires.span()),
                        format!(
                            "[plugins.{name}] account {id:?} expires-at needs a date, e.g. 2026-12-31 or 2026-12-31T18:00:00Z"
                        ),
                    ));
                }
                if let Some(base_url) = account.settings.get("base-url") {
                    HostPattern::from_url(base_url.get_ref()).map_err(|err| {
                        (
                            Some(base_url.span()),
                            format!("[plugins.{name}] account {id:?} base-url: {err}"),
                        )
                    })?;
                }
            }
        }
        Ok(())
    }
}

impl ForEach {
    fn validate(&self, account: &AccountSection) -> Result<(), String> {
        let fields = account.secrets.values().any(|s| {
            matches!(
                s.get_ref(),
                SecretSource::Field(_) | SecretSource::OptionalField(_)
            )
        });
        match (&self.json_array, &self.numbered) {
            (Some(variable), None) => {
                if variable.is_empty() {
                    return Err("json-array names no variable".into());
                }
                if let Some(offset) = &self.expires_offset {
                    super::datetime::parse_offset(offset)
                        .ok_or_else(|| format!("expires-offset {offset:?} is not like +08:00"))?;
                }
                Ok(())
            }
            (None, Some(pattern)) => {
                if !pattern.contains("{n}") {
                    return Err(format!(
                        "numbered = {pattern:?} needs {{n}} where the number goes"
                    ));
                }
                if fields {
                    return Err("{ field = … } secrets need json-array, not numbered".into());
                }
                Ok(())
            }
            _ => Err("set exactly one of json-array and numbered".into()),
        }
    }
}

impl PoolSection {
    fn validate(&self) -> Result<(), String> {
        for (what, secs) in [
            ("rate-limit-cooldown-secs", self.rate_limit_cooldown_secs),
            ("quota-cooldown-secs", self.quota_cooldown_secs),
            ("probe-interval-secs", self.probe_interval_secs),
            ("breaker-window-secs", self.breaker_window_secs),
            ("breaker-open-secs", self.breaker_open_secs),
        ] {
            if let Some(secs) = secs
                && !(0.0..=MAX_SECONDS).contains(&secs)
            {
                return Err(format!(
                    "{what} must be zero or a positive number of seconds, at most {MAX_SECONDS} (a year)"
                ));
            }
        }
        if self.max_concurrent == Some(0) {
            return Err("max-concurrent must be at least 1".into());
        }
        if self.breaker_failures == Some(0) {
            return Err("breaker-failures must be at least 1".into());
        }
        Ok(())
    }
}

pub fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `/api/` → `api`: the path prefix without its slashes; `None` for an empty
/// one. Letters, digits, `-`, `_`, `.` and inner `/` only.
pub fn normalize_path_prefix(prefix: &str) -> Result<Option<String>, String> {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    let valid = trimmed.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !valid {
        return Err(format!(
            "{prefix:?} is not a path prefix like `my-secret-path` (letters, digits, '-', '_', '.')"
        ));
    }
    Ok(Some(trimmed.to_string()))
}
