//! The upload endpoint's request: one `multipart/form-data` part named `file`.

pub const TENANT: &str = "bard-storage";

/// The content type and body of the upload.
pub fn multipart(
    boundary: &str,
    file_name: &str,
    mime_type: &str,
    data: &[u8],
) -> (String, Vec<u8>) {
    let mut body = Vec::with_capacity(data.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!(
            "Content-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n",
            file_name.replace(['"', '\r', '\n'], "_")
        )
        .as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: {mime_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A boundary that cannot occur in the data.
pub fn boundary(random: u64, data: &[u8]) -> String {
    let mut seed = random;
    loop {
        let candidate = format!("----wasmgate{seed:016x}");
        if !data
            .windows(candidate.len())
            .any(|window| window == candidate.as_bytes())
        {
            return candidate;
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

/// The identifier the endpoint answers, e.g. `/contrib_service/ttl_1d/…`.
pub fn identifier(body: &str) -> Option<String> {
    let id = body.trim();
    (!id.is_empty() && !id.contains(['<', '\n'])).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_one_file_part() {
        let (content_type, body) = multipart("BOUND", "image_1.png", "image/png", b"\x89PNG");
        assert_eq!(content_type, "multipart/form-data; boundary=BOUND");
        let expected = b"--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image_1.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--BOUND--\r\n";
        assert_eq!(body, expected);
    }

    #[test]
    fn the_boundary_avoids_the_data() {
        let clash = format!("----wasmgate{:016x}", 7u64);
        assert_ne!(boundary(7, clash.as_bytes()), clash);
        assert_eq!(boundary(7, b"x"), clash);
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            identifier("/contrib_service/ttl_1d/17abc\n").as_deref(),
            Some("/contrib_service/ttl_1d/17abc")
        );
        assert_eq!(identifier("<html>error</html>"), None);
        assert_eq!(identifier(""), None);
    }
}
