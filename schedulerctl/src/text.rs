//! Text that came from the server, made safe to print: a run's error holds what a receiver
//! answered, so a hostile one must not be able to move the cursor, recolour or clear the
//! terminal, or break a table row.

/// `text` with every control character (escape, carriage return, newline, ...) replaced by
/// a space, and cut to `limit` characters with `…` when longer.
pub(crate) fn printable(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit.saturating_mul(4)));
    for (count, ch) in text.chars().enumerate() {
        if count == limit {
            out.push('…');
            break;
        }
        out.push(if ch.is_control() { ' ' } else { ch });
    }
    out
}

/// The longest cell or message line printed whole; enough for a field error or a URL.
pub(crate) const LINE_LIMIT: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_newlines_become_spaces() {
        assert_eq!(printable("a\u{1b}[2Jb\r\nc", 100), "a [2Jb  c");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
    }

    #[test]
    fn non_ascii_text_is_kept() {
        assert_eq!(printable("Zürich – 東京", 100), "Zürich – 東京");
    }
}
