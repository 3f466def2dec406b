//! Start-up: read the environment and `plugins.toml`, load the plugins, serve.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::api::{self, AppState, auth::CallerAuth};
use crate::capabilities::state_store::StateStore;
use crate::config::{Config, normalize_path_prefix};
use crate::environment::Environment;
use crate::pool::HealthBook;
use crate::registry;
use crate::reload::Reloader;
use crate::runtime::{Runtime, RuntimeLimits};
use crate::watcher;

/// Default largest request body: enough for a few inline images.
const DEFAULT_MAX_BODY: usize = 32 << 20;

/// Default cap on open connections: far below the usual descriptor limits,
/// far above what one gateway's clients keep open.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

pub async fn run() -> anyhow::Result<()> {
    init_logging();
    let (variables, dotenv) = Environment::capture(Path::new("."));
    match dotenv {
        Some(Ok(count)) => tracing::info!(
            "read {count} variable(s) from .env (variables set in the environment win)"
        ),
        Some(Err(err)) => tracing::warn!("ignoring .env: {err}"),
        None => {}
    }
    let variables = Arc::new(variables);
    let env = |name: &str| variables.get(name);
    crate::otlp::start(&env);

    let shipped = load_config(env("WASMGATE_CONFIG"))?;
    let shipped_path = shipped.source.exists().then(|| shipped.source.clone());
    let base = shipped
        .source
        .parent()
        .filter(|p| shipped.source.exists() && !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let data_dir = data_dir(env("WASMGATE_DATA_DIR"));
    // Before any account is fingerprinted.
    crate::fingerprint::install(data_dir.as_deref());
    // Once the console saved a configuration, that copy is the live one.
    let config = Arc::new(crate::console::store::effective_config(
        data_dir.as_deref(),
        shipped,
    ));
    tracing::info!(source = %config.source.display(), "configuration loaded");
    let plugins_dir = env("WASMGATE_PLUGINS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            config
                .file
                .server
                .plugins_dir
                .as_ref()
                .map(|d| base.join(d))
        })
        .unwrap_or_else(|| base.join("plugins"));
    let cache_dir = env("WASMGATE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| config.file.server.cache_dir.as_ref().map(|d| base.join(d)))
        .unwrap_or_else(|| PathBuf::from(".wasmgate-cache"));

    let files = DataFiles::new(data_dir.as_deref());
    let state = Arc::new(
        files
            .state
            .as_deref()
            .map(StateStore::load)
            .unwrap_or_default(),
    );
    let book = Arc::new(
        files
            .accounts
            .as_deref()
            .map(HealthBook::load)
            .unwrap_or_default(),
    );
    match &data_dir {
        Some(dir) => tracing::info!(
            dir = %dir.display(),
            "data directory: plugin state and account health are kept across restarts"
        ),
        None => tracing::warn!(
            "no writable data directory: plugin state and account health are lost on restart"
        ),
    }
    {
        let (files, state, book) = (files.clone(), state.clone(), book.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                files.save(&state, &book, false);
            }
        });
    }
    warn_if_instances_outgrow_memory(&config.file.runtime);
    let runtime = Runtime::new(
        RuntimeLimits::from(&config.file.runtime),
        Some(cache_dir),
        state.clone(),
    )
    .map_err(|err| anyhow::anyhow!("cannot start the WebAssembly runtime: {err:#}"))?;
    let config_path = config.source.exists().then(|| config.source.clone());
    // Secrets pasted in the console win over the environment's.
    let secrets = Arc::new(crate::secrets_store::SecretsStore::load(
        data_dir.as_deref(),
    ));
    let environment: Arc<crate::reload::Environment> = {
        let (variables, secrets) = (variables.clone(), secrets.clone());
        Arc::new(move |name: &str| secrets.get(name).or_else(|| variables.get(name)))
    };
    let reloader = Reloader::start(
        runtime.clone(),
        config.clone(),
        config_path,
        plugins_dir,
        data_dir.as_deref().map(crate::console::store::uploads_dir),
        environment.clone(),
        book.clone(),
    )
    .await;
    let registry = reloader.registry();
    let status = reloader.status();
    let reloader = Arc::new(tokio::sync::Mutex::new(reloader));
    let _watch = match watcher::spawn(reloader.clone()) {
        Ok(guard) => Some(guard),
        Err(err) => {
            tracing::warn!(
                "hot reload is off: cannot watch the plugins or the configuration: {err}"
            );
            None
        }
    };

    let (auth, keys_from) = api::auth::caller_auth(&env).map_err(|err| anyhow::anyhow!(err))?;
    if auth.is_open() {
        tracing::warn!(
            "no callers' key is set (API_KEY, or the seeds' API_MASTER_KEY / PASSWORD, or HF_TOKEN): serving clients on this machine (loopback) only"
        );
    } else {
        tracing::info!("callers' keys from {keys_from}");
    }
    let admin_key = env("ADMIN_KEY");
    if let Some(key) = &admin_key
        && let Some(problem) = api::auth::weak_key_problem("ADMIN_KEY", key)
    {
        anyhow::bail!(problem);
    }
    let surface = surface(&config, &env, !auth.is_open())?;
    if let Some(prefix) = &surface.path_prefix {
        tracing::info!("also serving everything under /{prefix}/ (path prefix)");
    }
    let app = AppState::new(api::Shared {
        live_models: Arc::default(),
        tool_memory: Arc::default(),
        registry,
        runtime,
        auth: Arc::new(auth),
        admin: Arc::new(CallerAuth::single(admin_key.as_deref())),
        status,
        max_body_bytes: config
            .file
            .server
            .max_body_bytes
            .unwrap_or(DEFAULT_MAX_BODY),
        media: Arc::new(crate::media::Media::start(
            data_dir.as_deref(),
            &config.file,
            &env,
        )),
        console: Arc::new(crate::console::Console::new(
            reloader,
            secrets,
            environment,
            data_dir.clone(),
            shipped_path,
            config.file.server.public_status.unwrap_or(false),
            &env,
        )),
    });

    let addr: SocketAddr = match &config.file.server.listen {
        Some(listen) => listen.get_ref().parse()?,
        None => {
            let port = env("PORT")
                .map_or(Ok(7860), |p| p.parse::<u16>())
                .context("PORT must be a port number")?;
            SocketAddr::from(([0, 0, 0, 0], port))
        }
    };
    let listener = listen(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    crate::capabilities::egress::set_own_address(local);
    tracing::info!("wasmgate listening on http://{local}");

    let server = &config.file.server;
    let limits = crate::listener::Limits {
        max_connections: server.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        header_read_timeout: server.header_read_timeout_secs.map_or(
            crate::listener::HEADER_READ_TIMEOUT,
            Duration::from_secs_f64,
        ),
    };
    tokio::spawn(crate::idle_trim::trim());
    // `WASMGATE_LANES=0` serves on the main runtime (for comparing, in bench/).
    let lanes = match env("WASMGATE_LANES") {
        Some(count) => crate::lanes::Lanes::start(
            count
                .parse()
                .context("WASMGATE_LANES must be a number of threads")?,
        ),
        None => crate::lanes::Lanes::per_core(),
    }
    .context("starting the serving threads")?;
    tracing::debug!("serving connections on {} lane(s)", lanes.count());
    crate::listener::serve(
        listener,
        api::router(app, &surface),
        limits,
        &lanes,
        shutdown_signal(),
    )
    .await?;
    files.save(&state, &book, true);
    Ok(())
}

/// Connections the kernel may queue before the accept loop takes them (the
/// system's `somaxconn` caps it). The standard library asks for 128: a burst
/// of more clients connecting at once overflowed that queue, and each
/// connection whose SYN was dropped waited a second for its retransmission.
const LISTEN_BACKLOG: u32 = 4096;

/// The listening socket, as `TcpListener::bind` makes it but for the backlog.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // A restart may bind while the last run's connections are in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Warns when every instance slot filled to its memory cap would need more
/// memory than the machine has: the caps then promise what cannot be kept.
fn warn_if_instances_outgrow_memory(runtime: &crate::config::RuntimeSection) {
    // The default cap overcommits on purpose (see config::instances): only
    // an operator's own setting is checked.
    let Some(max_instances) = runtime.max_instances else {
        return;
    };
    let total_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map(|kib| kib / 1024);
    let needed = u64::from(max_instances) * runtime.max_memory_mib;
    if let Some(total) = total_mib
        && needed > total
    {
        tracing::warn!(
            "[runtime] max-instances × max-memory-mib is {needed} MiB, more than this machine's {total} MiB: under full load plugins could run the gateway out of memory; lower one of them"
        );
    }
}

/// The path prefix and CORS origins: the environment (`PATH_PREFIX`;
/// `CORS_ORIGINS` or hajimi's `ALLOWED_ORIGINS`) over `[server]`.
fn surface(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    keyed: bool,
) -> anyhow::Result<api::Surface> {
    let server = &config.file.server;
    let path_prefix = match env("PATH_PREFIX") {
        Some(prefix) => {
            normalize_path_prefix(&prefix).map_err(|err| anyhow::anyhow!("PATH_PREFIX: {err}"))?
        }
        None => match &server.path_prefix {
            Some(prefix) => normalize_path_prefix(prefix.get_ref()).map_err(anyhow::Error::msg)?,
            None => None,
        },
    };
    let cors = match env("CORS_ORIGINS").or_else(|| env("ALLOWED_ORIGINS")) {
        Some(list) => api::cors::AllowedOrigins::parse(list.split(','))
            .map_err(|err| anyhow::anyhow!("CORS_ORIGINS: {err}"))?,
        None => match &server.cors_origins {
            Some(list) => api::cors::AllowedOrigins::parse(list.iter().map(String::as_str))
                .map_err(anyhow::Error::msg)?,
            None if keyed => api::cors::AllowedOrigins::Any,
            None => api::cors::AllowedOrigins::None,
        },
    };
    let body_read_timeout = server
        .body_read_timeout_secs
        .map_or(api::body::BODY_READ_TIMEOUT, Duration::from_secs_f64);
    Ok(api::Surface {
        path_prefix,
        cors,
        body_read_timeout,
        body_bytes_in_flight: server
            .max_body_bytes_in_flight
            .unwrap_or(api::body::BODY_BYTES_IN_FLIGHT),
    })
}

/// The files kept in the data directory, when there is one.
#[derive(Clone, Default)]
struct DataFiles {
    /// The plugins' `state` store.
    state: Option<PathBuf>,
    /// Account health: cooldowns, broken credentials, breakers, counters.
    accounts: Option<PathBuf>,
}

impl DataFiles {
    fn new(dir: Option<&Path>) -> Self {
        DataFiles {
            // Names of our own: a data directory shared with a seed (e.g.
            // gemini-business2api's `accounts.json`) is never clobbered.
            state: dir.map(|dir| dir.join("wasmgate-state.json")),
            accounts: dir.map(|dir| dir.join("wasmgate-accounts.json")),
        }
    }

    /// Writes whatever changed since the last save; `finally` at shutdown.
    fn save(&self, state: &StateStore, book: &HealthBook, finally: bool) {
        if let Some(path) = &self.state
            && let Err(err) = state.save_if_changed(path)
        {
            tracing::warn!(path = %path.display(), "cannot save plugin state: {err}");
        }
        if let Some(path) = &self.accounts
            && let Err(err) = book.save_if_changed(path, finally)
        {
            tracing::warn!(path = %path.display(), "cannot save account health: {err}");
        }
    }
}

/// Compiles every plugin in `plugins_dir` into `cache_dir`; fails if any
/// plugin cannot be loaded.
pub async fn precompile(plugins_dir: &Path, cache_dir: &Path) -> anyhow::Result<()> {
    init_logging();
    let limits = RuntimeLimits::from(&crate::config::RuntimeSection::default());
    let runtime = Runtime::new(limits, Some(cache_dir.to_path_buf()), Arc::default())
        .map_err(|err| anyhow::anyhow!("cannot start the WebAssembly runtime: {err:#}"))?;
    let (loaded, failed) = registry::load_plugins(&runtime, plugins_dir).await;
    for plugin in &loaded {
        tracing::info!(plugin = %plugin.label(), "precompiled");
    }
    if let Some(error) = failed.first() {
        anyhow::bail!("{error}");
    }
    if loaded.is_empty() {
        anyhow::bail!("no plugin in {}", plugins_dir.display());
    }
    Ok(())
}

/// Where state is kept: `WASMGATE_DATA_DIR`, else `/data` (a Space's
/// persistent storage) when it exists, else `./data`. `None` when it cannot be
/// created or written.
fn data_dir(explicit: Option<String>) -> Option<PathBuf> {
    let dir = match explicit {
        Some(dir) => PathBuf::from(dir),
        None if Path::new("/data").is_dir() => PathBuf::from("/data"),
        None => PathBuf::from("data"),
    };
    let probe = dir.join(".wasmgate-write-test");
    let writable = std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    writable.then_some(dir)
}

/// `WASMGATE_CONFIG`, else `plugins.toml` in the working directory, else the
/// embedded default.
fn load_config(explicit: Option<String>) -> anyhow::Result<Config> {
    if let Some(path) = explicit {
        return Ok(Config::load(Path::new(&path))?);
    }
    let local = Path::new("plugins.toml");
    if local.exists() {
        return Ok(Config::load(local)?);
    }
    Ok(Config::embedded())
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colour only for a terminal: a Space's log view and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    // Warnings and errors are also kept for the console's log page.
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    if json {
        builder
            .json()
            .flatten_event(true)
            .finish()
            .with(crate::metrics::Capture)
            .init();
    } else {
        builder.finish().with(crate::metrics::Capture).init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
