//! The gateway's environment: the process's variables, then a `.env` file in
//! the working directory (Qwen-2api's habit) for names the process does not
//! set. A real variable always wins; an empty value counts as unset.

use std::collections::HashMap;
use std::path::Path;

/// Variables as the gateway reads them.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    dotenv: HashMap<String, String>,
}

impl Environment {
    /// The process's variables, with `<dir>/.env` under them when it exists.
    /// A `.env` that cannot be read or parsed is reported, never fatal.
    pub fn capture(dir: &Path) -> (Self, Option<Result<usize, String>>) {
        let path = dir.join(".env");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return (Environment::default(), None);
            }
            Err(err) => return (Environment::default(), Some(Err(err.to_string()))),
        };
        match parse_dotenv(&text) {
            Ok(dotenv) => {
                let count = dotenv.len();
                (Environment { dotenv }, Some(Ok(count)))
            }
            Err(err) => (Environment::default(), Some(Err(err))),
        }
    }

    /// A variable's value; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.dotenv.get(name).cloned())
            .filter(|value| !value.is_empty())
    }
}

/// Reads `KEY=value` lines: `#` comments, an optional `export `, values in
/// single quotes (taken as written), double quotes (with `\n`, `\"`, `\\`
/// escapes, and spanning lines, as a JSON `ACCOUNTS_CONFIG` may) or bare
/// (up to a ` #` comment). Errors name the line, never a value.
pub fn parse_dotenv(text: &str) -> Result<HashMap<String, String>, String> {
    let mut vars = HashMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(format!(".env line {}: expected KEY=value", index + 1));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(format!(
                ".env line {}: {key:?} is not a variable name",
                index + 1
            ));
        }
        let rest = rest.trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut text = quoted.to_string();
            loop {
                match closing_quote(&text) {
                    Some(end) => {
                        value.push_str(&unescape(&text[..end]));
                        break;
                    }
                    None => {
                        value.push_str(&unescape(&text));
                        value.push('\n');
                        match lines.next() {
                            Some((_, next)) => text = next.to_string(),
                            None => {
                                return Err(format!(
                                    ".env line {}: the value of {key} has no closing quote",
                                    index + 1
                                ));
                            }
                        }
                    }
                }
            }
            value
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            match quoted.find('\'') {
                Some(end) => quoted[..end].to_string(),
                None => {
                    return Err(format!(
                        ".env line {}: the value of {key} has no closing quote",
                        index + 1
                    ));
                }
            }
        } else {
            let bare = match rest.find(" #") {
                Some(comment) => &rest[..comment],
                None => rest,
            };
            bare.trim_end().to_string()
        };
        vars.insert(key.to_string(), value);
    }
    Ok(vars)
}

/// The byte index of the first `"` not escaped by a backslash.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(index),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_seeds_write() {
        let vars = parse_dotenv(
            "# Qwen-2api\nAPI_MASTER_KEY=sk-abcdefgh # the key\nexport CN_ACCOUNT_1_COOKIE='a=b; c=d'\n\
             ACCOUNTS_CONFIG=\"[{\\\"id\\\": \\\"x\\\",\n  \\\"csesidx\\\": \\\"1\\\"}]\"\nEMPTY=\n",
        )
        .unwrap();
        assert_eq!(vars["API_MASTER_KEY"], "sk-abcdefgh");
        assert_eq!(vars["CN_ACCOUNT_1_COOKIE"], "a=b; c=d");
        assert_eq!(
            vars["ACCOUNTS_CONFIG"],
            "[{\"id\": \"x\",\n  \"csesidx\": \"1\"}]"
        );
        assert_eq!(vars["EMPTY"], "");
    }

    #[test]
    fn errors_name_the_line_not_the_value() {
        let err = parse_dotenv("A=1\nB=\"secret-value\n").unwrap_err();
        assert!(
            err.contains("line 2") && !err.contains("secret-value"),
            "{err}"
        );
        let err = parse_dotenv("A=1\nnot a line\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_real_variable_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "PATH=/nowhere\nWASMGATE_DOTENV_ONLY=x\n",
        )
        .unwrap();
        let (env, loaded) = Environment::capture(dir.path());
        assert_eq!(loaded, Some(Ok(2)));
        assert_ne!(env.get("PATH").as_deref(), Some("/nowhere"));
        assert_eq!(env.get("WASMGATE_DOTENV_ONLY").as_deref(), Some("x"));
    }
}
