//! The HTTP side: one `reqwest` client (rustls, no redirects followed) that sends the key as
//! `Authorization: Bearer`, builds URLs under `--url`, and turns every answer outside 2xx
//! into a [`Failure`].

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use serde_json::Value;

use crate::failure::{Failure, Refusal};

/// A connection to one server, with or without a key.
pub(crate) struct Client {
    /// The HTTP client (connection pool, timeout).
    http: reqwest::Client,
    /// `--url`: scheme, host, port and an optional path prefix.
    base: Url,
    /// `Authorization: Bearer <key>`, marked sensitive; `None` without a key.
    key: Option<HeaderValue>,
}

/// A 2xx answer.
pub(crate) struct Answer {
    /// Its status (200, 201, 202, 204).
    pub(crate) status: u16,
    /// Its body, as received.
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, or [`Failure::BadAnswer`].
    pub(crate) fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|error| {
            Failure::BadAnswer(format!(
                "a {} answer that is not JSON ({error})",
                self.status
            ))
        })
    }
}

impl Client {
    /// A client for the server at `url`, sending `key` when given; each request is bounded
    /// by `timeout`.
    pub(crate) fn new(url: &str, key: Option<&str>, timeout: Duration) -> Result<Self, Failure> {
        let wrong = |why: String| {
            Failure::Usage(format!(
                "--url {url:?} must be an http:// or https:// URL with a host, \
                 e.g. http://127.0.0.1:8000{why}"
            ))
        };
        let base = Url::parse(url).map_err(|error| wrong(format!(" ({error})")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(wrong(String::new()));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Failure::Usage(
                "--url must not carry credentials: pass the key with --key or SCHEDULER_KEY".into(),
            ));
        }
        let key = match key.map(str::trim).filter(|key| !key.is_empty()) {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    Failure::Usage(
                        "the key holds characters a header cannot carry (a newline?)".into(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("schedulerctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Failure::Transport {
                action: "setting up the HTTP client".into(),
                cause: cause_of(&error),
            })?;
        Ok(Self { http, base, key })
    }

    /// The URL of `path` (which starts with `/`) under `--url`, with `query` appended.
    pub(crate) fn url(&self, path: &str, query: &[(String, String)]) -> Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        url.set_fragment(None);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends `method path?query` with an optional JSON `body`; a 2xx answer is returned,
    /// anything else becomes a [`Failure`].
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Answer, Failure> {
        let url = self.url(path, query);
        let action = format!("{method} {url}");
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(key) = &self.key {
            request = request.header(AUTHORIZATION, key.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| Failure::Transport {
            action: action.clone(),
            cause: cause_of(&error),
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(|value| crate::text::printable(value, 40));
        let body = response
            .bytes()
            .await
            .map_err(|error| Failure::Transport {
                action,
                cause: format!("reading the answer: {}", cause_of(&error)),
            })?
            .to_vec();
        if status.is_success() {
            return Ok(Answer {
                status: status.as_u16(),
                body,
            });
        }
        Err(Failure::Refused(Refusal {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Unknown Status"),
            body,
            retry_after,
            sent_key: self.key.is_some(),
        }))
    }

    /// GETs `path?query`.
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Answer, Failure> {
        self.send(Method::GET, path, query, None).await
    }
}

/// A reqwest error in words: "timed out", or the innermost cause ("Connection refused (os
/// error 111)"), which says more than reqwest's own "error sending request".
fn cause_of(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out (see --timeout)".into();
    }
    let mut innermost: &dyn std::error::Error = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let cause = innermost.to_string();
    if error.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        cause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Result<Client, Failure> {
        Client::new(url, None, Duration::from_secs(1))
    }

    #[test]
    fn paths_go_under_the_base_urls_path() {
        let plain = client("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            plain.url("/scheduler/jobs/", &[]).as_str(),
            "http://127.0.0.1:8000/scheduler/jobs/"
        );
        let prefixed = client("https://example.test/sched/?x=1").unwrap();
        assert_eq!(
            prefixed
                .url("/scheduler/jobs/", &[("page".into(), "2".into())])
                .as_str(),
            "https://example.test/sched/scheduler/jobs/?page=2"
        );
    }

    #[test]
    fn a_url_that_is_not_http_is_a_usage_error() {
        for url in [
            "127.0.0.1:8000",
            "ftp://host/",
            "not a url",
            "http://u:p@host/",
        ] {
            assert!(matches!(client(url), Err(Failure::Usage(_))), "{url}");
        }
    }

    #[test]
    fn a_key_with_a_newline_is_a_usage_error() {
        let result = Client::new("http://h/", Some("sk_1\nX: y"), Duration::from_secs(1));
        assert!(matches!(result, Err(Failure::Usage(_))));
    }
}
