//! The one place where text a plugin wrote (its errors, its log lines) is made
//! safe before the host keeps or shows it: every secret of the account the
//! instance ran on is masked, control characters are escaped (no forged log
//! lines, no header or JSON surprises), and the length is capped.
//!
//! Masking comes first: a secret cut in half by the cap would otherwise leak
//! its prefix. Escaping comes before the cap so the cap bounds what is kept.

use std::fmt::Write as _;

/// Longest error text a plugin may hand the host (callers, logs, accounts.json).
pub const MAX_ERROR_BYTES: usize = 1024;
/// Longest log line a plugin may write.
pub const MAX_LOG_BYTES: usize = 4096;

/// What stands in for a masked secret.
pub const MASK: &str = "***";

/// Text beyond this is not looked at: redacting costs the host time in
/// proportion to what it reads, and a plugin may hand over megabytes.
const MAX_INPUT: usize = 64 * 1024;

/// Secrets shorter than this are not masked: a two-letter value would mask
/// half of every sentence, and is no secret worth the name.
const MIN_SECRET: usize = 4;

/// `text` with every secret masked, controls escaped, at most `max` bytes
/// (plus a trailing `…` when cut).
pub fn plugin_text<'a>(
    text: &str,
    secrets: impl IntoIterator<Item = &'a str>,
    max: usize,
) -> String {
    let masked = mask(text, secrets);
    let mut out = String::with_capacity(masked.len().min(max + 8));
    let mut cut = false;
    for c in masked.chars() {
        let before = out.len();
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_or_separator(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        if out.len() > max {
            out.truncate(before);
            cut = true;
            break;
        }
    }
    if cut {
        out.push('…');
    }
    out
}

/// `text` with every secret (longest first, so one that contains another is
/// masked whole) replaced by [`MASK`].
fn mask<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut secrets: Vec<&str> = secrets
        .into_iter()
        .filter(|s| s.len() >= MIN_SECRET)
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let cut = text.len() > MAX_INPUT;
    let mut text = text[..floor_char_boundary(text, MAX_INPUT)].to_string();
    for secret in &secrets {
        if text.contains(secret) {
            text = text.replace(secret, MASK);
        }
    }
    if cut {
        // A secret may straddle the cut: mask the start of one at the end.
        for secret in &secrets {
            let partial = (1..secret.len())
                .rev()
                .filter(|&k| secret.is_char_boundary(k))
                .find(|&k| text.ends_with(&secret[..k]));
            if let Some(k) = partial {
                text.truncate(text.len() - k);
                text.push_str(MASK);
                break;
            }
        }
    }
    text
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Line and paragraph separators and bidi overrides: they can make a log line
/// or a message read differently from what it holds.
fn is_bidi_or_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_newlines_escaped() {
        let out = plugin_text(
            "token sk-abcdef refused\r\nINFO forged line",
            ["sk-abcdef"],
            1024,
        );
        assert_eq!(out, "token *** refused\\r\\nINFO forged line");
    }

    #[test]
    fn a_secret_at_the_cut_leaks_no_prefix() {
        // Cut first, then masked, this would keep `xxxxxxxxxxsk-01`.
        let text = format!("{}sk-0123456789 and more", "x".repeat(10));
        let out = plugin_text(&text, ["sk-0123456789"], 15);
        assert!(!out.contains("sk-"), "{out}");
        assert_eq!(out, "xxxxxxxxxx*** a…");
    }

    #[test]
    fn the_cap_holds_and_keeps_characters_whole() {
        let out = plugin_text(&"é".repeat(1000), [], 101);
        assert!(out.len() <= 101 + '…'.len_utf8(), "{}", out.len());
        assert!(out.ends_with('…'));
        let escaped = plugin_text(&"\n".repeat(1000), [], 11);
        assert_eq!(escaped, "\\n\\n\\n\\n\\n…");
    }

    #[test]
    fn a_longer_secret_is_masked_whole_and_short_ones_are_left() {
        let out = plugin_text("abcd-efgh and abcd", ["abcd", "abcd-efgh", "ab"], 100);
        assert_eq!(out, "*** and ***");
        assert_eq!(plugin_text("about", ["ab"], 100), "about");
    }

    #[test]
    fn a_huge_text_is_read_only_so_far_and_a_secret_across_that_leaks_nothing() {
        let secret = "sk-abcdefghijkl";
        // The long secrets before it shrink to `***`, pulling the straddling
        // one into the kept window.
        let mut text = secret.repeat(MAX_INPUT / secret.len() - 1);
        text.push_str(&"a".repeat(MAX_INPUT - 4 - text.len()));
        text.push_str(secret);
        text.push_str(&"z".repeat(1 << 20));
        let out = plugin_text(&text, [secret], MAX_INPUT);
        assert!(!out.contains("sk-"), "{}", &out[out.len() - 40..]);
        assert!(out.ends_with("aaaa***"), "{}", &out[out.len() - 40..]);
        assert!(!out.contains('z'), "nothing after the input cap is read");
    }

    #[test]
    fn other_controls_are_escaped() {
        assert_eq!(
            plugin_text("a\u{1b}[31mb\u{2028}c\u{0}", [], 100),
            "a\\u{1b}[31mb\\u{2028}c\\u{0}"
        );
    }
}
