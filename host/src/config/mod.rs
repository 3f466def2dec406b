//! `plugins.toml`: the operator's file, parsed into typed structures and
//! validated once at load. Every error names the file, the line and what is
//! wrong.

mod answers;
mod datetime;
mod file;
pub mod hosts;
pub mod instances;
mod proxy;
mod routes;
mod secrets;

pub use answers::{AnswerPolicy, AnswersSection, FetchPolicy, ImageMode, ReasoningMode};
pub use file::{
    AccountSection, ConfigFile, PluginSection, PoolSection, RuntimeSection, SecretSource,
    is_plugin_name, normalize_path_prefix,
};
pub use hosts::{HostPattern, HostPatternError};
pub use proxy::{ProxyKind, ProxySetting, ProxyUrl};
pub use routes::{ResolvedTarget, Route, RouteTable, Target};
pub use secrets::{
    Account, IMPLICIT_PREFIX, SecretValue, env_name, implicit_accounts, implicit_variable,
    resolve_accounts,
};

use std::path::{Path, PathBuf};

/// The shipped `plugins.toml`, used when no file is found.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../plugins.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// A validated configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, or `<embedded>`.
    pub source: PathBuf,
    pub file: ConfigFile,
    pub routes: RouteTable,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_text(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates configuration text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid =
            |span: Option<std::ops::Range<usize>>, message: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                line: span.map_or_else(|| locate(text, &message), |span| line_of(text, span.start)),
                message,
            };
        let file: ConfigFile = toml::from_str(text).map_err(|err| {
            let message = err.message().to_string();
            invalid(err.span(), message)
        })?;
        file.validate()
            .map_err(|(span, message)| invalid(span, message))?;
        let routes =
            RouteTable::from_file(&file).map_err(|(span, message)| invalid(span, message))?;
        Ok(Config {
            source: path.to_path_buf(),
            file,
            routes,
        })
    }

    pub fn embedded() -> Self {
        Self::parse(Path::new("<embedded plugins.toml>"), EMBEDDED_DEFAULT)
            .expect("the embedded plugins.toml is valid")
    }
}

/// The line a message without a span is about: it starts with its table
/// (`[pool] retries …`), and names the key right after it. 0 when not found.
fn locate(text: &str, message: &str) -> usize {
    let Some(rest) = message.strip_prefix('[') else {
        return 0;
    };
    let Some((table, after)) = rest.split_once(']') else {
        return 0;
    };
    let key = after
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches(':');
    let header = format!("[{table}]");
    let mut in_table = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            in_table = line.split('#').next().unwrap_or_default().trim() == header;
            if in_table && key.is_empty() {
                return index + 1;
            }
            continue;
        }
        if in_table && !key.is_empty() && line.split('=').next().unwrap_or_default().trim() == key {
            return index + 1;
        }
    }
    0
}

/// The largest configuration file read: far beyond any real one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A configuration file's text: a regular file (a link to one is fine) of at
/// most [`MAX_CONFIG_BYTES`]. A FIFO or a device would block the reader, and
/// a huge file would fill memory, so they are refused before being opened.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    std::fs::read_to_string(path)
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("plugins.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_embedded_default_is_valid() {
        Config::embedded();
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse("[server]\nlisten = \"0.0.0.0:1\"\n[plugins.x\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:3:"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let err = parse("[plugins.gemini]\nallowed-hosts = []\nalowed = 1\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:3:"), "{err}");
        assert!(err.contains("alowed"), "{err}");
    }

    #[test]
    fn numbers_that_would_overflow_are_refused_with_their_line() {
        let err = parse("[pool]\nretries = 3\nrate-limit-cooldown-secs = 1e20\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:3:"), "{err}");
        assert!(err.contains("at most"), "{err}");
        let err = parse("[runtime]\nidle-timeout-secs = 1e300\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:2:"), "{err}");
        let err = parse("[plugins.x.pool]\nbreaker-open-secs = -1\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:2:"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_line() {
        let err = parse("[plugins.gemini]\nallowed-hosts = [\"ok.example.com\", \"bad host\"]\n")
            .unwrap_err();
        assert!(err.starts_with("plugins.toml:2:"), "{err}");
        assert!(err.contains("bad host"), "{err}");

        let err = parse("[models]\n\"a\" = \"gemini\"\n\"b\" = { plugin = \"\" }\n").unwrap_err();
        assert!(err.starts_with("plugins.toml:3:"), "{err}");
    }
}
