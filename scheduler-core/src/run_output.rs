//! What a run's target answered (or a handler returned), kept on the run: the first
//! [`RunOutput::MAX_BYTES`] of a text body, content-type aware — a binary answer keeps its
//! type and size only — so "what did the receiver say?" has an answer beyond the 1 KiB of a
//! failed run's error.

/// A run's output, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The answer's `Content-Type` (or `text/plain` for a handler's message).
    pub content_type: Option<String>,
    /// The text kept (empty for a binary answer), at most [`RunOutput::MAX_BYTES`] bytes, cut
    /// at a character boundary.
    pub body: String,
    /// True when the answer was longer than what is kept (or binary).
    pub truncated: bool,
    /// The answer's full size in bytes, as far as it was read (reading stops a byte past the
    /// cap).
    pub size: u64,
}

impl RunOutput {
    /// The most bytes of an answer kept.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Whether a content type is text worth keeping: `text/*`, JSON, XML (and their `+json`,
    /// `+xml` kinds), form data, JavaScript; no type at all is read as text too.
    pub fn is_text(content_type: Option<&str>) -> bool {
        let Some(raw) = content_type else {
            return true;
        };
        let essence = raw
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence.starts_with("text/")
            || essence.ends_with("+json")
            || essence.ends_with("+xml")
            || matches!(
                essence.as_str(),
                "application/json"
                    | "application/xml"
                    | "application/x-www-form-urlencoded"
                    | "application/javascript"
                    | "application/x-ndjson"
            )
    }

    /// The output of an answer of `content_type` whose first bytes are `bytes` and whose
    /// size (as read) is `size`; `None` for an empty answer. NUL characters are dropped (no
    /// store keeps them) and invalid UTF-8 replaced.
    pub fn capture(content_type: Option<&str>, bytes: &[u8], size: u64) -> Option<Self> {
        if size == 0 {
            return None;
        }
        let content_type = content_type.map(|t| t.chars().take(255).collect::<String>());
        if !Self::is_text(content_type.as_deref()) {
            return Some(Self {
                content_type,
                body: String::new(),
                truncated: true,
                size,
            });
        }
        let kept = &bytes[..bytes.len().min(Self::MAX_BYTES)];
        let mut body = String::from_utf8_lossy(kept).replace('\0', "");
        // A multi-byte character cut by the cap became U+FFFD: drop it.
        if kept.len() < bytes.len() && body.ends_with('\u{FFFD}') {
            body.pop();
        }
        let truncated = size > kept.len() as u64;
        Some(Self {
            content_type,
            body,
            truncated,
            size,
        })
    }

    /// A handler's returned message as output (`text/plain`).
    pub fn message(text: &str) -> Option<Self> {
        Self::capture(Some("text/plain"), text.as_bytes(), text.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_up_to_the_cap_and_binary_only_by_type_and_size() {
        let json =
            RunOutput::capture(Some("application/json; charset=utf-8"), b"{\"ok\":1}", 8).unwrap();
        assert_eq!(json.body, "{\"ok\":1}");
        assert!(!json.truncated);
        let big = "é".repeat(40_000);
        let long = RunOutput::capture(
            Some("text/plain"),
            &big.as_bytes()[..RunOutput::MAX_BYTES + 1],
            big.len() as u64,
        )
        .unwrap();
        assert!(long.truncated);
        assert_eq!(long.body.len(), RunOutput::MAX_BYTES);
        assert!(long.body.chars().all(|c| c == 'é'));
        let png = RunOutput::capture(Some("image/png"), &[0x89, b'P', b'N', b'G'], 4).unwrap();
        assert_eq!((png.body.as_str(), png.truncated, png.size), ("", true, 4));
        assert_eq!(RunOutput::capture(Some("text/plain"), b"", 0), None);
        assert_eq!(
            RunOutput::capture(None, b"a\0b", 3).map(|o| o.body),
            Some("ab".into())
        );
        assert!(RunOutput::is_text(Some("application/problem+json")));
        assert!(!RunOutput::is_text(Some("application/octet-stream")));
    }
}
