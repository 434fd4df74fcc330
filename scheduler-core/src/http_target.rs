//! Where a run is delivered: the HTTP target of a job, its validation, and the key of the
//! receiving host that the dispatcher's per-host cap counts.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Invalid, TargetError};

/// Where a run is delivered: an HTTP request carrying the run as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// `http://` or `https://` URL.
    pub url: String,
    /// `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
}

impl HttpTarget {
    /// The method of a target that names none.
    pub const DEFAULT_METHOD: &'static str = "POST";
    /// The methods a target may use.
    pub const METHODS: [&'static str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    /// The longest URL accepted, in bytes.
    pub const MAX_URL_CHARS: usize = 2048;
    /// Most headers a target may set.
    pub const MAX_HEADERS: usize = 32;
    /// The longest header name accepted, in bytes.
    pub const MAX_HEADER_NAME: usize = 128;
    /// The longest header value accepted, in bytes.
    pub const MAX_HEADER_VALUE: usize = 4096;

    /// Headers a target may not set, lowercase: the ones that frame the request
    /// (`Content-Length`, `Transfer-Encoding`, `Host`, `Content-Type` of the JSON body), the
    /// hop-by-hop ones (RFC 9110 §7.6.1 and their old spellings), `Expect`, and the ones the
    /// scheduler sets for the receiver to trust (`Scheduler-Signature`, `Idempotency-Key`,
    /// trace context). Any `Scheduler-*` name is reserved too ([`HttpTarget::is_reserved`]).
    pub const RESERVED_HEADERS: [&'static str; 16] = [
        "host",
        "content-length",
        "transfer-encoding",
        "content-type",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "proxy-authorization",
        "idempotency-key",
        "traceparent",
        "tracestate",
        "baggage",
    ];

    /// Whether a target may not set header `name` (compared without case): one of
    /// [`HttpTarget::RESERVED_HEADERS`] or any `Scheduler-*` header.
    pub fn is_reserved(name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        lower.starts_with("scheduler-") || Self::RESERVED_HEADERS.contains(&lower.as_str())
    }

    /// The first header of this target that [`HttpTarget::is_reserved`] refuses: `None` for
    /// every target written since the rule exists; a target stored before it may have one,
    /// and its delivery then fails instead of sending it.
    pub fn reserved_header(&self) -> Option<&str> {
        self.headers
            .keys()
            .find(|name| Self::is_reserved(name))
            .map(String::as_str)
    }

    /// Parses `{"type": "http", "url": "...", "method": "POST", "headers": {...}}` as a client
    /// writes it: every rule applies, reserved headers included.
    ///
    /// # Errors
    /// [`Invalid::Target`] naming the wrong part.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let target = Self::parse_target(value).map_err(Invalid::Target)?;
        match target.reserved_header() {
            Some(name) => Err(Invalid::Target(TargetError::HeaderReserved {
                name: name.to_string(),
            })),
            None => Ok(target),
        }
    }

    /// Reads a stored target: every rule of [`HttpTarget::parse`] except the reserved headers,
    /// so a job written before that rule still loads (its deliveries fail, naming the header,
    /// until it is edited: see [`HttpTarget::reserved_header`]).
    ///
    /// # Errors
    /// [`Invalid::Target`] naming the wrong part.
    pub fn from_stored(value: &Value) -> Result<Self, Invalid> {
        Self::parse_target(value).map_err(Invalid::Target)
    }

    fn parse_target(value: &Value) -> Result<Self, TargetError> {
        let Value::Object(map) = value else {
            return Err(TargetError::NotAnObject);
        };
        match map.get("type").and_then(Value::as_str) {
            Some("http") => {}
            _ => return Err(TargetError::TypeNotHttp),
        }
        let url = map
            .get("url")
            .and_then(Value::as_str)
            .map(str::trim)
            .ok_or(TargetError::UrlMissing)?;
        if url.contains('\0') {
            return Err(TargetError::NulCharacter);
        }
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or(TargetError::UrlScheme)?;
        if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
            return Err(TargetError::UrlNoHost);
        }
        if url.len() > Self::MAX_URL_CHARS {
            return Err(TargetError::UrlTooLong);
        }
        let parsed = url::Url::parse(url).map_err(|e| TargetError::UrlInvalid(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(TargetError::UrlCredentials);
        }
        if parsed.host().is_none() {
            return Err(TargetError::UrlNoHost);
        }
        let method = match map.get("method") {
            None | Some(Value::Null) => Self::DEFAULT_METHOD.to_string(),
            Some(Value::String(m)) => {
                let upper = m.to_ascii_uppercase();
                if !Self::METHODS.contains(&upper.as_str()) {
                    return Err(TargetError::MethodNotAllowed);
                }
                upper
            }
            Some(_) => return Err(TargetError::MethodNotAString),
        };
        let headers = match map.get("headers") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(h)) => Self::parse_headers(h)?,
            Some(_) => return Err(TargetError::HeadersNotAnObject),
        };
        Ok(Self {
            url: url.to_string(),
            method,
            headers,
        })
    }

    fn parse_headers(
        raw: &serde_json::Map<String, Value>,
    ) -> Result<BTreeMap<String, String>, TargetError> {
        if raw.len() > Self::MAX_HEADERS {
            return Err(TargetError::TooManyHeaders);
        }
        let mut headers = BTreeMap::new();
        for (name, value) in raw {
            let Value::String(value) = value else {
                return Err(TargetError::HeaderNotAString { name: name.clone() });
            };
            if name.contains('\0') || value.contains('\0') {
                return Err(TargetError::NulCharacter);
            }
            let valid_name = !name.is_empty()
                && name.len() <= Self::MAX_HEADER_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid_name || value.len() > Self::MAX_HEADER_VALUE || value.contains(['\r', '\n']) {
                return Err(TargetError::HeaderInvalid { name: name.clone() });
            }
            headers.insert(name.clone(), value.clone());
        }
        Ok(headers)
    }

    /// The receiver this target reaches, as the dispatcher's per-host delivery cap counts
    /// it: the URL's authority as written (after `://`, up to the first `/`, `?` or `#`),
    /// ASCII-lowercased — `HTTP://Hooks.Example.com:8443/a` is `hooks.example.com:8443`.
    /// This is the one place the rule lives: job stores keep the key beside the target (a
    /// column written with the job) and compare it to leave a saturated host's fires
    /// unclaimed. The rule is textual on purpose (no default port, no IDNA mapping).
    pub fn host_key(&self) -> String {
        host_key(&self.url)
    }

    /// What a header value is replaced by in every response: header values are write-only.
    pub const MASK: &'static str = "***";

    /// Keeps stored secrets across an edit: a header whose value is [`HttpTarget::MASK`] (as
    /// a client got it back) takes its value from `previous`; when `keep_all` (a PATCH whose
    /// target has no `headers`), every header of `previous` is kept.
    ///
    /// # Errors
    /// [`TargetError::MaskedWithoutValue`] for a masked header with no stored value.
    pub fn restore_secrets(
        &mut self,
        previous: Option<&HttpTarget>,
        keep_all: bool,
    ) -> Result<(), TargetError> {
        if keep_all && let Some(previous) = previous {
            self.headers.clone_from(&previous.headers);
            return Ok(());
        }
        for (name, value) in &mut self.headers {
            if value == Self::MASK {
                let stored = previous
                    .and_then(|p| p.headers.get(name))
                    .ok_or_else(|| TargetError::MaskedWithoutValue { name: name.clone() })?;
                value.clone_from(stored);
            }
        }
        Ok(())
    }

    /// The wire form, with `"type": "http"`.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "type": "http",
            "url": self.url,
            "method": self.method,
            "headers": self.headers,
        })
    }
}

/// [`HttpTarget::host_key`] of a URL text: the part after the first `://` up to the first
/// `/`, `?` or `#`, ASCII-lowercased; empty when there is no `://`.
pub fn host_key(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return String::new();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..end].to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_host_key_is_the_lowercased_authority_as_written() {
        for (url, key) in [
            (
                "https://Hooks.Example.com:8443/a/b?c#d",
                "hooks.example.com:8443",
            ),
            ("http://example.com", "example.com"),
            ("http://example.com?x=1", "example.com"),
            ("http://example.com#top", "example.com"),
            ("http://[::1]:8080/hook", "[::1]:8080"),
            ("http://127.0.0.1:9/", "127.0.0.1:9"),
            ("no scheme", ""),
        ] {
            assert_eq!(host_key(url), key, "{url}");
        }
        let target = HttpTarget::parse(&json!({"type": "http", "url": "https://A.b/c"})).unwrap();
        assert_eq!(target.host_key(), "a.b");
    }

    #[test]
    fn http_targets_accept_only_http_urls() {
        let t = HttpTarget::parse(
            &json!({"type": "http", "url": "https://example.com/hook", "headers": {"X-Key": "v"}}),
        )
        .unwrap();
        assert_eq!(t.method, "POST");
        assert_eq!(t.to_value()["headers"]["X-Key"], "v");
        for (bad, why) in [
            (
                json!({"type": "http", "url": "ftp://x"}),
                TargetError::UrlScheme,
            ),
            (
                json!({"type": "http", "url": "file:///etc/passwd"}),
                TargetError::UrlScheme,
            ),
            (
                json!({"type": "shell", "url": "http://x"}),
                TargetError::TypeNotHttp,
            ),
            (json!({"type": "http"}), TargetError::UrlMissing),
            (
                json!({"type": "http", "url": "http://x", "method": "TRACE"}),
                TargetError::MethodNotAllowed,
            ),
            (
                json!({"type": "http", "url": "http://x", "headers": {"A": "b\r\nInjected: 1"}}),
                TargetError::HeaderInvalid { name: "A".into() },
            ),
            (
                json!({"type": "http", "url": "http://x", "headers": {"A": "b\u{0}"}}),
                TargetError::NulCharacter,
            ),
            (
                json!({"type": "http", "url": "http://x\u{0}"}),
                TargetError::NulCharacter,
            ),
            (
                json!({"type": "http", "url": format!("http://x/{}", "a".repeat(2048))}),
                TargetError::UrlTooLong,
            ),
            (json!("http://x"), TargetError::NotAnObject),
        ] {
            assert_eq!(HttpTarget::parse(&bad), Err(Invalid::Target(why)), "{bad}");
        }
    }

    #[test]
    fn reserved_and_hop_by_hop_headers_are_refused_in_any_case_and_named() {
        for name in [
            "Host",
            "content-length",
            "Content-Length",
            "Transfer-Encoding",
            "Content-Type",
            "CONNECTION",
            "Keep-Alive",
            "TE",
            "Upgrade",
            "Scheduler-Signature",
            "scheduler-signature",
            "Scheduler-Anything",
            "Idempotency-Key",
            "traceparent",
            "Proxy-Connection",
        ] {
            let value = json!({"type": "http", "url": "https://example.com/",
                "headers": {"X-Fine": "1", name: "5"}});
            assert_eq!(
                HttpTarget::parse(&value),
                Err(Invalid::Target(TargetError::HeaderReserved {
                    name: name.to_string()
                })),
                "{name}"
            );
            // A stored target with it still loads, and says which header is the problem.
            let stored = HttpTarget::from_stored(&value).unwrap();
            assert_eq!(stored.reserved_header(), Some(name));
        }
        let fine = HttpTarget::parse(&json!({"type": "http", "url": "https://example.com/",
            "headers": {"Authorization": "Bearer x", "X-Scheduler": "ok", "Accept": "a"}}))
        .unwrap();
        assert_eq!(fine.reserved_header(), None);
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_masked_headers_keep_stored_values() {
        for url in [
            "https://user:pass@example.com/",
            "https://user@example.com/",
        ] {
            assert_eq!(
                HttpTarget::parse(&json!({"type": "http", "url": url})),
                Err(Invalid::Target(TargetError::UrlCredentials))
            );
        }
        let stored = HttpTarget::parse(&json!({"type": "http", "url": "https://example.com/",
            "headers": {"Authorization": "Bearer s3cret", "X-A": "a"}}))
        .unwrap();
        let mut sent_back =
            HttpTarget::parse(&json!({"type": "http", "url": "https://example.com/",
            "headers": {"Authorization": "***", "X-B": "b"}}))
            .unwrap();
        sent_back.restore_secrets(Some(&stored), false).unwrap();
        assert_eq!(sent_back.headers["Authorization"], "Bearer s3cret");
        assert_eq!(sent_back.headers["X-B"], "b");
        assert!(!sent_back.headers.contains_key("X-A"));
        let mut kept =
            HttpTarget::parse(&json!({"type": "http", "url": "https://example.org/"})).unwrap();
        kept.restore_secrets(Some(&stored), true).unwrap();
        assert_eq!(kept.headers, stored.headers);
        let mut unknown = HttpTarget::parse(&json!({"type": "http", "url": "https://example.com/",
            "headers": {"X-New": "***"}}))
        .unwrap();
        assert_eq!(
            unknown.restore_secrets(Some(&stored), false),
            Err(TargetError::MaskedWithoutValue {
                name: "X-New".into()
            })
        );
        assert!(unknown.restore_secrets(None, false).is_err());
    }

    #[test]
    fn header_counts_and_sizes_are_bounded() {
        let many: serde_json::Map<String, Value> = (0..=HttpTarget::MAX_HEADERS)
            .map(|i| (format!("X-{i}"), json!("v")))
            .collect();
        assert_eq!(
            HttpTarget::parse(&json!({"type": "http", "url": "http://x", "headers": many})),
            Err(Invalid::Target(TargetError::TooManyHeaders))
        );
        let long = "v".repeat(HttpTarget::MAX_HEADER_VALUE + 1);
        assert!(
            HttpTarget::parse(&json!({"type": "http", "url": "http://x", "headers": {"A": long}}))
                .is_err()
        );
    }
}
