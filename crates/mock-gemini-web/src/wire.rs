//! Reading what clients send: form and query encoding, cookies, multipart.

/// Decodes `application/x-www-form-urlencoded` text (also query strings).
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (mock_kit::form_decode(key), mock_kit::form_decode(value))
        })
        .collect()
}

pub fn form_value(text: &str, name: &str) -> Option<String> {
    form_pairs(text)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// The cookies of a `Cookie` header.
pub fn cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The parts of a `multipart/form-data` body, given its content type.
pub fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .find_map(|param| param.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let next = find(rest, &[b"\r\n".as_slice(), &delimiter].concat())?;
        let data = rest[..next].to_vec();
        rest = &rest[next + 2 + delimiter.len()..];
        let mut part = Part {
            name: None,
            file_name: None,
            content_type: None,
            data,
        };
        for line in head.split("\r\n") {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    part.name = disposition_param(value, "name");
                    part.file_name = disposition_param(value, "filename");
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
    }
}

fn disposition_param(value: &str, name: &str) -> Option<String> {
    value.split(';').find_map(|param| {
        let (key, val) = param.trim().split_once('=')?;
        (key == name).then(|| val.trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let pairs = form_pairs("at=tok%3A1&f.req=%5Bnull%2C%22x%22%5D&empty=&plus=a+b");
        assert_eq!(pairs[0], ("at".into(), "tok:1".into()));
        assert_eq!(pairs[1], ("f.req".into(), "[null,\"x\"]".into()));
        assert_eq!(form_value("a=1&b=%F0%9F%91%8B", "b").as_deref(), Some("👋"));
        assert_eq!(form_value("a=%zz%", "a").as_deref(), Some("%zz%"));
    }

    #[test]
    fn multipart_parts() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--B--\r\n";
        let parts = multipart("multipart/form-data; boundary=B", body).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name.as_deref(), Some("file"));
        assert_eq!(parts[0].file_name.as_deref(), Some("a.png"));
        assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[0].data, b"\x89PNG");
    }

    #[test]
    fn cookie_headers() {
        assert_eq!(
            cookies("__Secure-1PSID=a; __Secure-1PSIDTS=b=c"),
            [
                ("__Secure-1PSID".into(), "a".into()),
                ("__Secure-1PSIDTS".into(), "b=c".into())
            ]
        );
    }
}
