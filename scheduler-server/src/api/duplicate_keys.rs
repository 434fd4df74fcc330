//! Duplicate keys in a JSON body. JSON parsers disagree on `{"a": 1, "a": 2}` (serde_json,
//! like most, keeps the last), so a body that repeats a key means different things to
//! different readers — a smuggling vector between a proxy and us, and a silent loss for the
//! client. Every JSON body is scanned before it is read and one that repeats a key anywhere is
//! refused with a 400 naming the key and where it is ([`DuplicateKey`]).
//!
//! Written here rather than taken from a crate: serde_json reads objects into maps without
//! reporting repeats, and a custom `Deserialize` for every body type would have to repeat
//! the check per type. The scanner is a small recursive descent over the bytes that decodes
//! only keys; it gives up (returns `None`) on anything that is not JSON, which the parser
//! that reads the body then reports in its own words.

use std::collections::HashSet;

/// A key found twice in the same object: where (the path of object keys and array indexes
/// leading to that object) and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The path to the object holding the key, outermost first (`["parameters", "f"]`);
    /// empty for the body's own keys. Array elements appear as `[0]`.
    pub path: Vec<String>,
    /// The key, decoded.
    pub key: String,
}

impl DuplicateKey {
    /// The body field the error is reported under: the outermost key on the path (or the key
    /// itself when it repeats at the top).
    pub fn field(&self) -> &str {
        self.path.first().unwrap_or(&self.key)
    }

    /// What the client reads.
    pub fn message(&self) -> String {
        if self.path.is_empty() {
            "This key appears more than once in the body: send it once.".to_string()
        } else {
            let mut at = String::new();
            for step in &self.path {
                if !step.starts_with('[') && !at.is_empty() {
                    at.push('.');
                }
                at.push_str(step);
            }
            format!(
                "The key \"{}\" appears more than once in {at}: send it once.",
                self.key
            )
        }
    }
}

/// The first key that appears twice in one object of `body`, if `body` is JSON and repeats
/// one; `None` otherwise (also for text that is not JSON, or nested deeper than serde_json
/// reads).
pub fn first_duplicate(body: &[u8]) -> Option<DuplicateKey> {
    let mut scanner = Scanner {
        bytes: body,
        at: 0,
        path: Vec::new(),
        first: None,
    };
    // The whole text must be JSON (one value): a repeat in a text that is not is the
    // parser's to report as malformed.
    match scanner.value(0) {
        Ok(()) if scanner.peek().is_none() => scanner.first,
        _ => None,
    }
}

/// Nesting deeper than this is left to the parser (serde_json refuses it: its limit is 128).
const MAX_DEPTH: usize = 128;

/// Why the scan stopped early: not JSON (or too deep).
struct Stop;

/// A cursor over the body and the path to the value being read.
struct Scanner<'a> {
    /// The body.
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
    /// Keys and indexes leading to the current value.
    path: Vec<String>,
    /// The first repeated key met.
    first: Option<DuplicateKey>,
}

impl Scanner<'_> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.at) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.at += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop)
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop);
        }
        match self.peek().ok_or(Stop)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(drop),
            _ => {
                // A number or a literal: its bytes are not ours to judge.
                let start = self.at;
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                {
                    self.at += 1;
                }
                if self.at == start { Err(Stop) } else { Ok(()) }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), Stop> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        let mut seen = HashSet::new();
        loop {
            if self.peek() != Some(b'"') {
                return Err(Stop);
            }
            let key = self.string()?;
            if !seen.insert(key.clone()) && self.first.is_none() {
                self.first = Some(DuplicateKey {
                    path: self.path.clone(),
                    key: key.clone(),
                });
            }
            self.expect(b':')?;
            self.path.push(key);
            self.value(depth + 1)?;
            self.path.pop();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), Stop> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            self.path.push(format!("[{index}]"));
            self.value(depth + 1)?;
            self.path.pop();
            index += 1;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop),
            }
        }
    }

    /// A string, decoded (escapes included: `"a"` and `"\u0061"` are the same key).
    fn string(&mut self) -> Result<String, Stop> {
        let start = self.at;
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            let b = *self.bytes.get(self.at).ok_or(Stop)?;
            self.at += 1;
            match b {
                b'\\' => {
                    escaped = true;
                    // The escaped byte is never the closing quote.
                    self.at += 1;
                }
                b'"' => break,
                _ => {}
            }
        }
        let raw = self.bytes.get(start..self.at).ok_or(Stop)?;
        if escaped {
            serde_json::from_slice::<String>(raw).map_err(|_| Stop)
        } else {
            std::str::from_utf8(&raw[1..raw.len() - 1])
                .map(str::to_string)
                .map_err(|_| Stop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(body: &str) -> Option<(Vec<String>, String)> {
        first_duplicate(body.as_bytes()).map(|d| (d.path, d.key))
    }

    #[test]
    fn a_key_repeated_at_the_top_is_found_and_named() {
        let dup =
            first_duplicate(br#"{"name": "a", "cron_expression": "@daily", "name": "b"}"#).unwrap();
        assert_eq!(dup.field(), "name");
        assert_eq!(dup.path, Vec::<String>::new());
        assert!(dup.message().contains("more than once in the body"));
    }

    #[test]
    fn a_key_repeated_deep_inside_is_found_with_its_path() {
        let dup = first_duplicate(
            br#"{"parameters": {"list": [1, {"x": 1, "y": [], "x": 2}], "a": 1}, "name": "n"}"#,
        )
        .unwrap();
        assert_eq!(dup.field(), "parameters");
        assert_eq!(dup.path, ["parameters", "list", "[1]"]);
        assert_eq!(dup.key, "x");
        assert_eq!(
            dup.message(),
            "The key \"x\" appears more than once in parameters.list[1]: send it once."
        );
    }

    #[test]
    fn keys_are_compared_decoded() {
        assert_eq!(
            found(r#"{"a": 1, "\u0061": 2}"#),
            Some((vec![], "a".into()))
        );
        assert_eq!(
            found(r#"{"a\"b": 1, "a\"b": 2}"#),
            Some((vec![], "a\"b".into()))
        );
        assert_eq!(
            found(r#"{"é": 1, "\u00e9": 2}"#),
            Some((vec![], "é".into()))
        );
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        for body in [
            r#"{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}"#,
            r#"{"a": "\"a\": 1, \"a\": 2"}"#,
            r#"[{"k": 1}, {"k": 1}]"#,
            r#"{}"#,
            r#"{"x": [1, -2.5e+10, true, false, null, "s"]}"#,
        ] {
            assert_eq!(found(body), None, "{body}");
        }
    }

    #[test]
    fn text_that_is_not_json_is_left_to_the_parser() {
        for body in [
            "",
            "{",
            r#"{"a": 1, "a""#,
            r#"{"a" 1}"#,
            "{'a': 1, 'a': 2}",
            r#"{"a": 1,}"#,
            "\u{0}",
        ] {
            assert_eq!(found(body), None, "{body:?}");
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(found(&deep), None);
    }
}
