//! Per-job run policies (misfire, concurrency, retries, timeout) and the HTTP target.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ValidationErrors;

/// What to do with a fire found later than its grace period (every replica was down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// Run once for everything missed, then resume the schedule.
    #[default]
    FireOnce,
    /// Record a `skipped` run and resume the schedule.
    Skip,
}

/// What to do with a fire while the job's previous run is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyPolicy {
    /// Run anyway, side by side.
    #[default]
    Allow,
    /// Record a `skipped` run instead.
    Forbid,
}

impl MisfirePolicy {
    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FireOnce => "fire_once",
            Self::Skip => "skip",
        }
    }

    /// Parses the wire spelling.
    ///
    /// # Errors
    /// A user-facing message listing the choices.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "fire_once" => Ok(Self::FireOnce),
            "skip" => Ok(Self::Skip),
            _ => Err(format!(
                "\"{raw}\" is not a valid choice: use fire_once or skip."
            )),
        }
    }
}

impl ConcurrencyPolicy {
    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Forbid => "forbid",
        }
    }

    /// Parses the wire spelling.
    ///
    /// # Errors
    /// A user-facing message listing the choices.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "allow" => Ok(Self::Allow),
            "forbid" => Ok(Self::Forbid),
            _ => Err(format!(
                "\"{raw}\" is not a valid choice: use allow or forbid."
            )),
        }
    }
}

/// How the dispatcher runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPolicy {
    /// Late fires beyond the grace period.
    pub misfire: MisfirePolicy,
    /// Seconds a fire may be late and still count as on time.
    pub misfire_grace_seconds: u32,
    /// Overlapping runs.
    pub concurrency: ConcurrencyPolicy,
    /// Failed or timed-out runs are retried this many times.
    pub max_retries: u32,
    /// First retry delay in seconds; doubled for each further retry.
    pub retry_backoff_seconds: u32,
    /// A run taking longer is stopped and marked `timed_out`.
    pub timeout_seconds: u32,
}

impl Default for RunPolicy {
    fn default() -> Self {
        Self {
            misfire: MisfirePolicy::FireOnce,
            misfire_grace_seconds: 60,
            concurrency: ConcurrencyPolicy::Allow,
            max_retries: 0,
            retry_backoff_seconds: 10,
            timeout_seconds: 300,
        }
    }
}

impl RunPolicy {
    /// Delay before retry number `retry` (1-based): backoff × 2^(retry-1), capped at a day.
    pub fn retry_delay_seconds(&self, retry: u32) -> u64 {
        let factor = 1u64 << retry.saturating_sub(1).min(20);
        (u64::from(self.retry_backoff_seconds) * factor).min(86_400)
    }
}

/// Raw policy fields of a request; absent fields keep the base value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyInput {
    /// `fire_once` or `skip`.
    pub misfire_policy: Option<String>,
    /// 0 to 86,400.
    pub misfire_grace_seconds: Option<i64>,
    /// `allow` or `forbid`.
    pub concurrency_policy: Option<String>,
    /// 0 to 100.
    pub max_retries: Option<i64>,
    /// 1 to 86,400.
    pub retry_backoff_seconds: Option<i64>,
    /// 1 to 86,400.
    pub timeout_seconds: Option<i64>,
}

fn in_range(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<i64>,
    low: u32,
    high: u32,
    base: u32,
) -> u32 {
    match value {
        None => base,
        Some(v) if (i64::from(low)..=i64::from(high)).contains(&v) => {
            u32::try_from(v).unwrap_or(base)
        }
        Some(_) => {
            errors.add(
                field,
                format!("Ensure this value is between {low} and {high}."),
            );
            base
        }
    }
}

impl PolicyInput {
    /// The policy with the present fields applied to `base`, errors recorded per field.
    pub fn apply(&self, base: &RunPolicy, errors: &mut ValidationErrors) -> RunPolicy {
        let misfire = match self.misfire_policy.as_deref().map(MisfirePolicy::parse) {
            None => base.misfire,
            Some(Ok(p)) => p,
            Some(Err(message)) => {
                errors.add("misfire_policy", message);
                base.misfire
            }
        };
        let concurrency = match self
            .concurrency_policy
            .as_deref()
            .map(ConcurrencyPolicy::parse)
        {
            None => base.concurrency,
            Some(Ok(p)) => p,
            Some(Err(message)) => {
                errors.add("concurrency_policy", message);
                base.concurrency
            }
        };
        RunPolicy {
            misfire,
            misfire_grace_seconds: in_range(
                errors,
                "misfire_grace_seconds",
                self.misfire_grace_seconds,
                0,
                86_400,
                base.misfire_grace_seconds,
            ),
            concurrency,
            max_retries: in_range(
                errors,
                "max_retries",
                self.max_retries,
                0,
                100,
                base.max_retries,
            ),
            retry_backoff_seconds: in_range(
                errors,
                "retry_backoff_seconds",
                self.retry_backoff_seconds,
                1,
                86_400,
                base.retry_backoff_seconds,
            ),
            timeout_seconds: in_range(
                errors,
                "timeout_seconds",
                self.timeout_seconds,
                1,
                86_400,
                base.timeout_seconds,
            ),
        }
    }
}

/// Where a run is delivered: an HTTP request carrying the run as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpTarget {
    /// `http://` or `https://` URL.
    pub url: String,
    /// `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
}

impl HttpTarget {
    /// Parses `{"type": "http", "url": "...", "method": "POST", "headers": {...}}`.
    ///
    /// # Errors
    /// A user-facing message naming the wrong part.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(
                "Must be a JSON object like {\"type\": \"http\", \"url\": \"https://...\"}.".into(),
            );
        };
        match map.get("type").and_then(Value::as_str) {
            Some("http") => {}
            _ => return Err("\"type\" must be \"http\".".into()),
        }
        let url = map
            .get("url")
            .and_then(Value::as_str)
            .map(str::trim)
            .ok_or("\"url\" is required.")?;
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or("\"url\" must be an http:// or https:// URL.")?;
        if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
            return Err("\"url\" must name a host.".into());
        }
        if url.len() > 2048 {
            return Err("\"url\" must be at most 2048 characters.".into());
        }
        let method = match map.get("method") {
            None | Some(Value::Null) => "POST".to_string(),
            Some(Value::String(m)) => {
                let upper = m.to_ascii_uppercase();
                if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&upper.as_str()) {
                    return Err("\"method\" must be GET, POST, PUT, PATCH or DELETE.".into());
                }
                upper
            }
            Some(_) => return Err("\"method\" must be a string.".into()),
        };
        let mut headers = BTreeMap::new();
        match map.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (name, value) in h {
                    let Value::String(value) = value else {
                        return Err(format!("header \"{name}\" must be a string."));
                    };
                    let valid_name = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                    if !valid_name || value.contains(['\r', '\n']) {
                        return Err(format!("header \"{name}\" is not a valid HTTP header."));
                    }
                    headers.insert(name.clone(), value.clone());
                }
            }
            Some(_) => return Err("\"headers\" must be an object of strings.".into()),
        }
        Ok(Self {
            url: url.to_string(),
            method,
            headers,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RunPolicy::default();
        assert_eq!(p.misfire, MisfirePolicy::FireOnce);
        assert_eq!(p.misfire_grace_seconds, 60);
        assert_eq!(p.concurrency, ConcurrencyPolicy::Allow);
        assert_eq!(
            (p.max_retries, p.retry_backoff_seconds, p.timeout_seconds),
            (0, 10, 300)
        );
    }

    #[test]
    fn backoff_doubles_per_retry() {
        let p = RunPolicy::default();
        assert_eq!(
            [1, 2, 3, 4].map(|r| p.retry_delay_seconds(r)),
            [10, 20, 40, 80]
        );
    }

    #[test]
    fn bad_policy_values_are_named() {
        let mut errors = ValidationErrors::new();
        PolicyInput {
            misfire_policy: Some("sometimes".into()),
            max_retries: Some(-1),
            timeout_seconds: Some(0),
            ..PolicyInput::default()
        }
        .apply(&RunPolicy::default(), &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["misfire_policy", "max_retries", "timeout_seconds"]);
    }

    #[test]
    fn http_targets_accept_only_http_urls() {
        let t = HttpTarget::parse(
            &json!({"type": "http", "url": "https://example.com/hook", "headers": {"X-Key": "v"}}),
        )
        .unwrap();
        assert_eq!(t.method, "POST");
        assert_eq!(t.to_value()["headers"]["X-Key"], "v");
        for bad in [
            json!({"type": "http", "url": "ftp://x"}),
            json!({"type": "http", "url": "file:///etc/passwd"}),
            json!({"type": "shell", "url": "http://x"}),
            json!({"type": "http"}),
            json!({"type": "http", "url": "http://x", "method": "TRACE"}),
            json!({"type": "http", "url": "http://x", "headers": {"A": "b\r\nInjected: 1"}}),
            json!("http://x"),
        ] {
            assert!(HttpTarget::parse(&bad).is_err(), "{bad}");
        }
    }
}
