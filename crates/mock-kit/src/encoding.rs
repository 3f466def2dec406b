//! Reading what clients percent-encode: paths, query strings, forms.

/// `%XX` escapes decoded; a `%` not followed by two hex digits stays as it
/// is. Bytes that do not make UTF-8 become U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (hex(index + 1), hex(index + 2))
        {
            out.push((high * 16 + low) as u8);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query-string or form value: `+` is a space, then [`percent_decode`].
pub fn form_decode(text: &str) -> String {
    percent_decode(&text.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_broken_ones_stay() {
        assert_eq!(percent_decode("a%20b%2Bc"), "a b+c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%+f"), "%zz%+f");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(form_decode("a+b%2B"), "a b+");
    }
}
