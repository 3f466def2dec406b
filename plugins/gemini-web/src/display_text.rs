//! Turns a snapshot's raw text into the text a client should see.
//!
//! The upstream writes HTML-escaped Markdown with artifact placeholders
//! (`http://googleusercontent.com/image_generation_content/0` marks where an
//! image goes). While the answer is still growing, a snapshot can end in the
//! middle of such a token, or carry a transient artifact that a later snapshot
//! corrects (an auto-closed code fence, a backslash-escaped Markdown marker).
//! For an unfinished snapshot, those tails are held back so that what is shown
//! only ever grows.

/// Where an artifact placeholder starts; `<word>/<digits>` follows.
const PLACEHOLDER: &str = "http://googleusercontent.com/";
/// The tail of an unfinished snapshot when the upstream auto-closed a fence.
const FLICKER_FENCE: &str = "\n```";
/// Markdown markers the upstream escapes transiently while streaming.
const FLICKER_ESCAPED: [char; 4] = ['*', '_', '`', '~'];
/// Longest entity name held back as possibly incomplete (`&#x10FFFF;`).
const MAX_ENTITY: usize = 10;

/// The displayable text of a snapshot. `complete` is false for snapshots that
/// later ones will extend.
pub fn displayable(raw: &str, complete: bool) -> String {
    let mut text = raw;
    if !complete {
        text = without_partial_placeholder(text);
    }
    let mut text = remove_placeholders(text);
    if !complete {
        strip_flicker(&mut text);
        let kept = without_partial_entity(&text).len();
        text.truncate(kept);
    }
    unescape_entities(&text)
}

/// Cuts a tail that may be the beginning of a placeholder.
fn without_partial_placeholder(text: &str) -> &str {
    if let Some(start) = text.rfind(PLACEHOLDER) {
        let tail = &text[start + PLACEHOLDER.len()..];
        let (word, rest) = tail.split_at(
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len()),
        );
        let rest_is_number_so_far = rest.is_empty()
            || rest
                .strip_prefix('/')
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if rest_is_number_so_far && (rest.is_empty() || !word.is_empty()) {
            return &text[..start];
        }
    }
    // A proper prefix of the marker at the very end.
    for cut in (1..PLACEHOLDER.len()).rev() {
        if text.ends_with(&PLACEHOLDER[..cut]) {
            return &text[..text.len() - cut];
        }
    }
    text
}

/// Removes every complete `http://googleusercontent.com/<word>/<digits>`.
fn remove_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(PLACEHOLDER) {
        out.push_str(&rest[..start]);
        let after = &rest[start + PLACEHOLDER.len()..];
        match placeholder_len(after) {
            Some(len) => rest = &after[len..],
            None => {
                out.push_str(PLACEHOLDER);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of `<word>/<digits>` at the start of `text`.
fn placeholder_len(text: &str) -> Option<usize> {
    let word = text
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if word == 0 || text.as_bytes().get(word) != Some(&b'/') {
        return None;
    }
    let digits = text[word + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    (digits > 0).then_some(word + 1 + digits)
}

fn strip_flicker(text: &mut String) {
    if text.ends_with(FLICKER_FENCE) {
        text.truncate(text.len() - FLICKER_FENCE.len());
    }
    loop {
        let mut chars = text.chars().rev();
        match (chars.next(), chars.next()) {
            (Some(marker), Some('\\')) if FLICKER_ESCAPED.contains(&marker) => {
                text.truncate(text.len() - marker.len_utf8() - 1);
            }
            // A lone backslash may be the start of such an escape.
            (Some('\\'), _) => {
                text.pop();
            }
            _ => return,
        }
    }
}

/// Cuts a trailing `&name` or `&#123` that lacks its `;` yet.
fn without_partial_entity(text: &str) -> &str {
    if let Some(amp) = text.rfind('&') {
        let tail = &text[amp + 1..];
        if tail.len() <= MAX_ENTITY && tail.chars().all(|c| c.is_ascii_alphanumeric() || c == '#') {
            return &text[..amp];
        }
    }
    text
}

/// Decodes the HTML entities the upstream uses; unknown ones stay as written.
pub fn unescape_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&end| end <= MAX_ENTITY)
            .and_then(|end| Some((decode_entity(&after[..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_text_is_unescaped_and_cleaned() {
        assert_eq!(
            displayable(
                "a &amp; b &lt;c&gt; &#39;d&#x27; &quot;e&quot; &unknown; & f",
                true
            ),
            "a & b <c> 'd' \"e\" &unknown; & f"
        );
        assert_eq!(
            displayable(
                "Here:\n\nhttp://googleusercontent.com/image_generation_content/0\nDone",
                true
            ),
            "Here:\n\n\nDone"
        );
        // A complete answer keeps its fence and escapes.
        assert_eq!(displayable("x\n```", true), "x\n```");
        assert_eq!(displayable("2 \\* 3", true), "2 \\* 3");
    }

    #[test]
    fn unfinished_text_holds_back_what_may_change() {
        assert_eq!(displayable("Tom &am", false), "Tom ");
        assert_eq!(displayable("Tom &#12", false), "Tom ");
        assert_eq!(displayable("see http://googleuser", false), "see ");
        assert_eq!(displayable("see h", false), "see ");
        assert_eq!(
            displayable("see http://googleusercontent.com/image_gen", false),
            "see "
        );
        assert_eq!(
            displayable(
                "see http://googleusercontent.com/image_generation_content/1",
                false
            ),
            "see "
        );
        assert_eq!(displayable("code\n```", false), "code");
        assert_eq!(displayable("**bold\\*\\*", false), "**bold");
        assert_eq!(displayable("trailing \\", false), "trailing ");
        assert_eq!(displayable("fine &amp; dandy", false), "fine & dandy");
    }

    #[test]
    fn a_real_url_is_not_a_placeholder() {
        let text = "see http://googleusercontent.com/about for more";
        assert_eq!(displayable(text, true), text);
        assert_eq!(displayable(text, false), text);
    }
}
