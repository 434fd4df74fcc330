//! Notification channels: where a tenant is told that its jobs went wrong. A channel is an
//! HTTP webhook (a signed JSON body, as deliveries are signed), a Slack-compatible incoming
//! webhook, or e-mail to a list of addresses; it says which events it wants and, when it is
//! not for every job of the tenant, which jobs (the per-job and the per-tenant routing rule
//! in one place). The URL and its headers obey every rule of a job's target
//! ([`HttpTarget`]): header values are write-only, and the SSRF guard applies.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Invalid, ValidationErrors};
use crate::http_target::HttpTarget;
use crate::job::JobId;
use crate::tenant::Tenant;
use crate::wire::WireEnum;

crate::text::path_segment_name! {
    /// A channel's name, unique in its tenant: 1 to 64 characters of ASCII letters, digits, `-`,
    /// `_` and `.`, starting with a letter or digit (it is a URL path segment).
    ChannelName,
    Invalid::ChannelName
}

/// How a channel delivers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum ChannelKind {
    /// A JSON `POST` to `url`, signed with the tenant's delivery secrets.
    Webhook,
    /// A Slack-compatible incoming webhook: `POST {"text": ...}` to `url`.
    Slack,
    /// An e-mail to every address of `to`, through the server's SMTP relay.
    Email,
}

impl WireEnum for ChannelKind {}

/// What happened to a job, as a channel is told.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// A run failed, its retries exhausted.
    Failed,
    /// A run was stopped at the job's timeout, its retries exhausted.
    TimedOut,
    /// A fire did not start in time: skipped (misfire, overlap) or started after the job's
    /// grace period (every replica was down).
    Missed,
    /// The job paused itself after consecutive failures.
    AutoPaused,
    /// The first success after a failure streak.
    Recovered,
    /// A test message sent on request (`POST /scheduler/channels/{name}/test/`).
    Test,
}

impl WireEnum for EventKind {}

impl EventKind {
    /// The events a channel gets when it names none (every real one).
    pub const DEFAULT: [EventKind; 5] = [
        EventKind::Failed,
        EventKind::TimedOut,
        EventKind::Missed,
        EventKind::AutoPaused,
        EventKind::Recovered,
    ];
}

/// What a channel is, as its owner wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDef {
    /// Unique in the tenant.
    pub name: ChannelName,
    /// How it delivers.
    pub kind: ChannelKind,
    /// Where (`webhook` and `slack`): a URL with optional headers (write-only values).
    pub target: Option<HttpTarget>,
    /// The addresses (`email`).
    pub to: Vec<String>,
    /// The events it wants, ascending.
    pub events: Vec<EventKind>,
    /// The jobs it is for, ascending; empty: every job of the tenant.
    pub jobs: Vec<JobId>,
    /// False: nothing is sent to it (events meanwhile are not kept for it).
    pub enabled: bool,
}

impl ChannelDef {
    /// Most addresses of an e-mail channel.
    pub const MAX_RECIPIENTS: usize = 20;
    /// Most jobs a channel may name.
    pub const MAX_JOBS: usize = 1000;

    /// Whether this channel is told of `event` about job `job`.
    pub fn wants(&self, event: EventKind, job: JobId) -> bool {
        self.enabled
            && (event == EventKind::Test || self.events.contains(&event))
            && (self.jobs.is_empty() || self.jobs.binary_search(&job).is_ok())
    }

    /// The URL as responses and the audit trail show it: a webhook's as written; a Slack
    /// URL's scheme and host only, its path being the credential (`https://hooks.slack.com/***`).
    pub fn shown_url(&self) -> Option<String> {
        let url = &self.target.as_ref()?.url;
        if self.kind != ChannelKind::Slack {
            return Some(url.clone());
        }
        Some(match url.split_once("://") {
            Some((scheme, _)) => format!(
                "{scheme}://{}/{}",
                crate::http_target::host_key(url),
                HttpTarget::MASK
            ),
            None => HttpTarget::MASK.to_string(),
        })
    }

    /// The fields as responses show them: header values masked.
    pub fn masked_headers(&self) -> BTreeMap<String, String> {
        self.target
            .as_ref()
            .map(|t| {
                t.headers
                    .keys()
                    .map(|k| (k.clone(), HttpTarget::MASK.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A stored channel: its definition and who owns and changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Identity (notifications point at it).
    pub id: i64,
    /// What it is.
    pub def: ChannelDef,
    /// The owning tenant.
    pub tenant: Tenant,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
    /// Last change instant.
    pub updated_at: DateTime<Utc>,
    /// The key that created it.
    pub created_by: Option<String>,
    /// The key that last changed it.
    pub updated_by: Option<String>,
}

/// A channel as a client sent it, before validation (JSON values where the wire type is
/// itself checked).
#[derive(Debug, Clone, Default)]
pub struct ChannelDraft {
    /// Required.
    pub name: Option<String>,
    /// Required: `webhook`, `slack` or `email`.
    pub kind: Option<String>,
    /// Required for `webhook` and `slack`.
    pub url: Option<String>,
    /// `webhook` only: an object of header names to values (`***` keeps a stored value).
    pub headers: Option<Value>,
    /// Required for `email`: a list of addresses.
    pub to: Option<Value>,
    /// A list of event names; default every event.
    pub events: Option<Value>,
    /// A list of job ids; default every job of the tenant.
    pub jobs: Option<Value>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Errors found while reading the raw input; their fields are not checked again.
    pub input_errors: ValidationErrors,
}

/// Whether `raw` reads as one e-mail address: `local@domain`, no spaces, controls or angle
/// brackets, a dot-free or dotted domain of letters, digits, `-` and `.`, at most 254 bytes.
/// (The SMTP adapter parses it again; this refuses what is plainly not an address.)
fn is_address(raw: &str) -> bool {
    let Some((local, domain)) = raw.rsplit_once('@') else {
        return false;
    };
    raw.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && !local.contains('@')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Reads a list of strings, each checked by `item` (its errors named `field[<index>]`).
fn read_list<T>(
    value: &Value,
    field: &str,
    max: usize,
    errors: &mut ValidationErrors,
    mut item: impl FnMut(&Value) -> Result<T, Invalid>,
) -> Option<Vec<T>> {
    let Value::Array(items) = value else {
        errors.add(field, Invalid::NotAList);
        return None;
    };
    if items.len() > max {
        errors.add(field, Invalid::TooMany { max });
        return None;
    }
    let mut read = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, value) in items.iter().enumerate() {
        match item(value) {
            Ok(one) => read.push(one),
            Err(problem) => {
                errors.add(format!("{field}[{index}]"), problem);
                ok = false;
            }
        }
    }
    ok.then_some(read)
}

impl ChannelDraft {
    /// Validates every field, all failures at once. `previous` is the stored channel of the
    /// same name on a replace: masked header values (`***`) take its values.
    ///
    /// # Errors
    /// Each failing field.
    pub fn validate(self, previous: Option<&ChannelDef>) -> Result<ChannelDef, ValidationErrors> {
        let mut errors = self.input_errors;
        let name = errors.check(
            "name",
            self.name
                .ok_or(Invalid::Required)
                .and_then(|raw| ChannelName::parse(&raw)),
        );
        let kind = match self.kind {
            _ if errors.has("kind") => None,
            None => {
                errors.add("kind", Invalid::Required);
                None
            }
            Some(raw) => errors.check("kind", ChannelKind::parse(raw.trim())),
        };
        let target = match (kind, self.url) {
            (_, _) if errors.has("url") => None,
            (Some(ChannelKind::Webhook | ChannelKind::Slack), None) => {
                errors.add("url", Invalid::Required);
                None
            }
            (Some(kind @ (ChannelKind::Webhook | ChannelKind::Slack)), Some(url)) => {
                let headers = match (kind, self.headers) {
                    (ChannelKind::Slack, Some(_)) => {
                        errors.add("headers", Invalid::NotForKind { kind: "slack" });
                        None
                    }
                    (_, headers) => headers,
                };
                let mut raw = serde_json::json!({"type": "http", "url": url});
                if let Some(headers) = headers {
                    raw["headers"] = headers;
                }
                match HttpTarget::parse(&raw) {
                    Ok(mut target) => {
                        let before = previous.and_then(|p| p.target.as_ref());
                        match target.restore_secrets(before, false) {
                            Ok(()) => Some(target),
                            Err(problem) => {
                                errors.add("headers", Invalid::Target(problem));
                                None
                            }
                        }
                    }
                    Err(problem) => {
                        errors.add("url", problem);
                        None
                    }
                }
            }
            (Some(ChannelKind::Email), Some(_)) => {
                errors.add("url", Invalid::NotForKind { kind: "email" });
                None
            }
            (_, _) => None,
        };
        let to = match (kind, self.to) {
            (_, _) if errors.has("to") => None,
            (Some(ChannelKind::Email), None) => {
                errors.add("to", Invalid::Required);
                None
            }
            (Some(ChannelKind::Email), Some(value)) => {
                let list =
                    read_list(
                        &value,
                        "to",
                        ChannelDef::MAX_RECIPIENTS,
                        &mut errors,
                        |v| match v.as_str().map(str::trim) {
                            None => Err(Invalid::NotAString),
                            Some(a) if a.contains('\0') => Err(Invalid::NulCharacter),
                            Some(a) if is_address(a) => Ok(a.to_string()),
                            Some(_) => Err(Invalid::EmailAddress),
                        },
                    );
                match list {
                    Some(list) if list.is_empty() => {
                        errors.add("to", Invalid::Required);
                        None
                    }
                    other => other,
                }
            }
            (Some(kind), Some(_)) => {
                errors.add(
                    "to",
                    Invalid::NotForKind {
                        kind: kind.as_str(),
                    },
                );
                None
            }
            (_, None) => Some(Vec::new()),
            (None, Some(_)) => None,
        };
        let events = match self.events {
            _ if errors.has("events") => None,
            None | Some(Value::Null) => Some(EventKind::DEFAULT.to_vec()),
            Some(value) => read_list(&value, "events", 16, &mut errors, |v| match v.as_str() {
                None => Err(Invalid::NotAString),
                Some("test") => Err(Invalid::NotAChoice {
                    value: "test".into(),
                    choices: &["failed", "timed_out", "missed", "auto_paused", "recovered"],
                }),
                Some(raw) => EventKind::parse(raw.trim()),
            })
            .map(|mut events| {
                events.sort();
                events.dedup();
                events
            }),
        };
        let jobs = match self.jobs {
            _ if errors.has("jobs") => None,
            None | Some(Value::Null) => Some(Vec::new()),
            Some(value) => read_list(
                &value,
                "jobs",
                ChannelDef::MAX_JOBS,
                &mut errors,
                |v| match v.as_i64() {
                    Some(id) if id >= 1 => Ok(JobId(id)),
                    Some(_) => Err(Invalid::BelowMinimum { min: 1 }),
                    None => Err(Invalid::NotAnInteger),
                },
            )
            .map(|mut jobs| {
                jobs.sort();
                jobs.dedup();
                jobs
            }),
        };
        match (name, kind, target, to, events, jobs) {
            (Some(name), Some(kind), target, Some(to), Some(events), Some(jobs))
                if errors.is_empty() =>
            {
                Ok(ChannelDef {
                    name,
                    kind,
                    target,
                    to,
                    events,
                    jobs,
                    enabled: self.enabled.unwrap_or(true),
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(kind: &str) -> ChannelDraft {
        ChannelDraft {
            name: Some("ops".into()),
            kind: Some(kind.into()),
            ..ChannelDraft::default()
        }
    }

    fn fields(errors: &ValidationErrors) -> Vec<String> {
        errors.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_webhook_needs_a_url_and_keeps_its_header_values_across_a_masked_edit() {
        let errors = draft("webhook").validate(None).unwrap_err();
        assert_eq!(fields(&errors), ["url"]);
        let mut first = draft("webhook");
        first.url = Some("https://hooks.example.com/x".into());
        first.headers = Some(json!({"Authorization": "Bearer s3cret"}));
        let stored = first.validate(None).unwrap();
        assert_eq!(stored.events, EventKind::DEFAULT.to_vec());
        assert!(stored.jobs.is_empty() && stored.enabled);
        assert_eq!(stored.masked_headers()["Authorization"], "***");
        let mut edit = draft("webhook");
        edit.url = Some("https://hooks.example.com/y".into());
        edit.headers = Some(json!({"Authorization": "***"}));
        let edited = edit.validate(Some(&stored)).unwrap();
        let target = edited.target.unwrap();
        assert_eq!(target.headers["Authorization"], "Bearer s3cret");
        assert_eq!(target.url, "https://hooks.example.com/y");
        // A masked value with nothing stored is refused, naming the headers.
        let mut fresh = draft("webhook");
        fresh.url = Some("https://hooks.example.com/y".into());
        fresh.headers = Some(json!({"X-Other": "***"}));
        assert_eq!(
            fields(&fresh.validate(Some(&stored)).unwrap_err()),
            ["headers"]
        );
    }

    #[test]
    fn every_wrong_field_is_named_at_once() {
        let raw = ChannelDraft {
            name: Some("bad name".into()),
            kind: Some("pager".into()),
            events: Some(json!(["failed", "exploded"])),
            jobs: Some(json!([1, 0, "x"])),
            ..ChannelDraft::default()
        };
        let errors = raw.validate(None).unwrap_err();
        assert_eq!(
            fields(&errors),
            ["name", "kind", "events[1]", "jobs[1]", "jobs[2]"]
        );
    }

    #[test]
    fn email_takes_addresses_only_and_no_url() {
        let mut mail = draft("email");
        mail.to = Some(json!([
            "ops@example.com",
            "not an address",
            "a@b@c",
            "x@-ok.example"
        ]));
        mail.url = Some("https://example.com".into());
        let errors = mail.validate(None).unwrap_err();
        assert_eq!(fields(&errors), ["url", "to[1]", "to[2]"]);
        let mut empty = draft("email");
        empty.to = Some(json!([]));
        assert_eq!(fields(&empty.validate(None).unwrap_err()), ["to"]);
        let mut good = draft("email");
        good.to = Some(json!([" ops@example.com "]));
        assert_eq!(good.validate(None).unwrap().to, ["ops@example.com"]);
        let mut slack = draft("slack");
        slack.url = Some("https://hooks.slack.com/services/T/B/X".into());
        slack.to = Some(json!(["ops@example.com"]));
        slack.headers = Some(json!({"A": "b"}));
        assert_eq!(
            fields(&slack.validate(None).unwrap_err()),
            ["headers", "to"]
        );
    }

    #[test]
    fn routing_follows_the_events_and_jobs_it_names() {
        let mut raw = draft("slack");
        raw.url = Some("https://hooks.slack.com/services/T/B/X".into());
        raw.events = Some(json!(["recovered", "failed", "failed"]));
        raw.jobs = Some(json!([7, 3]));
        let channel = raw.validate(None).unwrap();
        assert_eq!(channel.events, [EventKind::Failed, EventKind::Recovered]);
        assert!(channel.wants(EventKind::Failed, JobId(3)));
        assert!(channel.wants(EventKind::Recovered, JobId(7)));
        assert!(!channel.wants(EventKind::Missed, JobId(3)));
        assert!(!channel.wants(EventKind::Failed, JobId(4)));
        assert!(channel.wants(EventKind::Test, JobId(3)));
        assert_eq!(
            channel.shown_url().as_deref(),
            Some("https://hooks.slack.com/***")
        );
        let off = ChannelDef {
            enabled: false,
            ..channel
        };
        assert!(!off.wants(EventKind::Failed, JobId(3)));
    }
}
