//! Headers an operator sets for an account (a setting such as
//! `extra-headers`): a JSON object, or `Name: value` lines.

/// The `(name, value)` pairs of `text`: `{"X-Title": "me"}` (non-string
/// values as their JSON text), or one `Name: value` per line (blank lines
/// skipped). An error names what could not be read.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.trim_start().starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| format!("the headers are not a JSON object: {e}"))?;
        let pairs = map.into_iter().map(|(name, value)| match value {
            serde_json::Value::String(text) => (name, text),
            other => (name, other.to_string()),
        });
        return Ok(pairs.collect());
    }
    let lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    lines
        .map(|line| match line.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_string(), value.trim().to_string()))
            }
            _ => Err(format!("a header line is not `Name: value`: {line:?}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_headers;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn lines_and_objects() {
        let text = "HTTP-Referer: https://example.com/a:b\r\n X-Title : me \n\n";
        assert_eq!(
            parse_headers(text).unwrap(),
            pairs(&[
                ("HTTP-Referer", "https://example.com/a:b"),
                ("X-Title", "me")
            ])
        );
        let mut object = parse_headers(r#"{"X-Title": "me", "X-Num": 3}"#).unwrap();
        object.sort();
        assert_eq!(object, pairs(&[("X-Num", "3"), ("X-Title", "me")]));
        assert!(parse_headers("").unwrap().is_empty());
        assert!(parse_headers("  \n ").unwrap().is_empty());
    }

    #[test]
    fn nonsense_is_an_error() {
        assert!(parse_headers("no colon here").is_err());
        assert!(parse_headers(": no name").is_err());
        assert!(parse_headers("{\"unterminated\": ").is_err());
        assert!(parse_headers("{\"X\": 1} trailing").is_err());
    }
}
