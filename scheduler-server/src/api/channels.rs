//! `/scheduler/channels/`: a tenant's notification channels — list, create, read, replace,
//! delete and test (admin scope: a channel routes every job's alerts and holds secrets); and
//! `/scheduler/notifications/`: what was sent, or is waiting to be (read scope).

use std::collections::BTreeMap;

use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{
    Channel, ChannelDraft, ChannelKind, EventKind, JobService, Notification, NotificationFilter,
    NotificationStatus,
};
use serde_json::Value;

use super::body::{ParamReader, as_object, name_from_path};
use super::choices::OneOf;
use super::docs::{IntRange, LooseBody, RawParam, raw};
use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::UtcInstant;
use crate::auth::{Admin, Caller, Read};
use crate::error::{OpError, errors};

/// The body of creating or replacing a channel, as documented (read field by field).
#[derive(Debug, Clone, Object)]
#[oai(rename = "ChannelInput", example)]
pub struct ChannelInputDoc {
    /// Unique in your tenant: 1-64 characters of letters, digits, `-`, `_`, `.`, starting
    /// with a letter or digit. In a PUT, the name in the path.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// `webhook` (a signed JSON `POST`), `slack` (an incoming-webhook `{"text": ...}`) or
    /// `email` (through the server's SMTP relay).
    pub kind: Option<OneOf<ChannelKind>>,
    /// `webhook` and `slack`: the `http(s)://` URL. Private and local addresses are refused
    /// unless the server allows them (`SCHEDULER_TARGET_ALLOW`).
    #[oai(validator(max_length = 2048))]
    pub url: Option<String>,
    /// `webhook` only: extra request headers. Values are write-only: responses show `***`,
    /// and `***` in a PUT keeps the stored value.
    pub headers: Option<BTreeMap<String, String>>,
    /// `email` only: 1-20 recipient addresses.
    #[oai(validator(max_items = 20))]
    pub to: Option<Vec<String>>,
    /// The events it is told of (default all): `failed`, `timed_out` (retries exhausted),
    /// `missed` (a fire skipped or started after its grace), `auto_paused`, `recovered`.
    pub events: Option<Vec<OneOf<EventKind>>>,
    /// Only these jobs' events (default: every job of your tenant).
    #[oai(validator(max_items = 1000))]
    pub jobs: Option<Vec<i64>>,
    /// False: nothing is sent to it. Default true.
    pub enabled: Option<bool>,
}

impl poem_openapi::types::Example for ChannelInputDoc {
    fn example() -> Self {
        Self {
            name: Some("ops-alerts".into()),
            kind: Some(ChannelKind::Webhook.into()),
            url: Some("https://alerts.example.com/scheduler".into()),
            headers: Some(BTreeMap::from([(
                "Authorization".to_string(),
                "Bearer s3cret".to_string(),
            )])),
            to: None,
            events: Some(vec![
                EventKind::Failed.into(),
                EventKind::Missed.into(),
                EventKind::Recovered.into(),
            ]),
            jobs: None,
            enabled: Some(true),
        }
    }
}

/// A channel.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Channel")]
pub struct ChannelOut {
    /// Unique in the tenant.
    pub name: String,
    /// `webhook`, `slack` or `email`.
    pub kind: OneOf<ChannelKind>,
    /// Where it posts (`webhook`: as written; `slack`: the host only, its path being the
    /// secret).
    #[oai(nullable)]
    pub url: Option<String>,
    /// Header names, values masked (`***`).
    pub headers: BTreeMap<String, String>,
    /// The recipients (`email`).
    pub to: Vec<String>,
    /// The events it is told of.
    pub events: Vec<OneOf<EventKind>>,
    /// Only these jobs (empty: every job of the tenant).
    pub jobs: Vec<i64>,
    /// Whether it is sent to.
    pub enabled: bool,
    /// Creation instant.
    pub created_at: UtcInstant,
    /// Last change instant.
    pub updated_at: UtcInstant,
    /// The key that created it.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// The key that last changed it.
    #[oai(nullable)]
    pub updated_by: Option<String>,
}

impl From<Channel> for ChannelOut {
    fn from(channel: Channel) -> Self {
        let headers = channel.def.masked_headers();
        let def = channel.def;
        Self {
            name: def.name.to_string(),
            kind: def.kind.into(),
            url: def.shown_url(),
            headers,
            to: def.to,
            events: def.events.into_iter().map(OneOf::from).collect(),
            jobs: def.jobs.into_iter().map(|j| j.0).collect(),
            enabled: def.enabled,
            created_at: UtcInstant(channel.created_at),
            updated_at: UtcInstant(channel.updated_at),
            created_by: channel.created_by,
            updated_by: channel.updated_by,
        }
    }
}

/// The tenant's channels.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ChannelList")]
pub struct ChannelListOut {
    /// How many.
    pub count: usize,
    /// By name.
    pub results: Vec<ChannelOut>,
}

/// A test message queued.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "ChannelTest")]
pub struct ChannelTestOut {
    /// The notification; follow it in `/scheduler/notifications/`.
    pub notification_id: i64,
}

/// One notification.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Notification")]
pub struct NotificationOut {
    /// Identity (webhooks get it as `id` and `Idempotency-Key: notification-<id>`).
    pub id: i64,
    /// The channel's name when it was made.
    pub channel: String,
    /// What it tells.
    pub event: OneOf<EventKind>,
    /// The job (0 for a test message).
    pub job_id: i64,
    /// The job's name then.
    pub job_name: String,
    /// The run it is about.
    #[oai(nullable)]
    pub run_id: Option<i64>,
    /// The streak's length (runs or fires).
    pub count: u32,
    /// A reminder that a streak already told goes on.
    pub digest: bool,
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: OneOf<NotificationStatus>,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    #[oai(nullable)]
    pub last_error: Option<String>,
    /// When it was made.
    pub created_at: UtcInstant,
    /// When it was delivered.
    #[oai(nullable)]
    pub sent_at: Option<UtcInstant>,
}

impl From<Notification> for NotificationOut {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            channel: n.channel_name,
            event: n.event.event.into(),
            job_id: n.event.job_id.0,
            job_name: n.event.job_name,
            run_id: n.event.run.id.map(|id| id.0),
            count: n.event.count,
            digest: n.event.digest,
            status: n.status.into(),
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: UtcInstant(n.created_at),
            sent_at: n.sent_at.map(UtcInstant),
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "NotificationList")]
pub struct NotificationListOut {
    /// The notifications.
    pub results: Vec<NotificationOut>,
    /// `before_id` for the next (older) page; null on the last.
    #[oai(nullable)]
    pub next_before_id: Option<i64>,
}

/// 201 or 200 with the channel written.
#[derive(Debug, ApiResponse)]
pub enum Saved {
    /// Created; `Location` is its URL.
    #[oai(status = 201)]
    Created(FastJson<ChannelOut>, #[oai(header = "Location")] String),
    /// Replaced.
    #[oai(status = 200)]
    Replaced(FastJson<ChannelOut>),
}

/// 200 with one channel.
#[derive(Debug, ApiResponse)]
pub enum Found {
    /// The channel.
    #[oai(status = 200)]
    Channel(FastJson<ChannelOut>),
}

/// 200 with the list.
#[derive(Debug, ApiResponse)]
pub enum Listed {
    /// Every channel of the tenant.
    #[oai(status = 200)]
    Channels(FastJson<ChannelListOut>),
}

/// 204 after a delete.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// The channel is gone.
    #[oai(status = 204)]
    Gone,
}

/// 202 after a test request.
#[derive(Debug, ApiResponse)]
pub enum Tested {
    /// Queued: any replica's notifier sends it within about a second.
    #[oai(status = 202)]
    Queued(FastJson<ChannelTestOut>),
}

/// 200 with notifications.
#[derive(Debug, ApiResponse)]
pub enum NotificationsListed {
    /// Newest first.
    #[oai(status = 200)]
    Page(FastJson<NotificationListOut>),
}

/// The channel and notification endpoints.
pub struct ChannelsApi {
    /// The use cases.
    pub service: JobService,
}

/// The URL path of a channel.
pub fn channel_path(name: &str) -> String {
    format!("/scheduler/channels/{name}/")
}

/// Reads a channel body; `path_name` (a PUT's) is the name when the body has none, and must
/// match it when it has one.
fn read_channel(
    body: &Value,
    path_name: Option<&str>,
) -> Result<ChannelDraft, scheduler_core::ValidationErrors> {
    let object = as_object(body)?;
    let mut errors = scheduler_core::ValidationErrors::new();
    let mut text = |field: &str| match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            errors.add(field, scheduler_core::Invalid::NotAString);
            None
        }
    };
    let mut draft = ChannelDraft {
        name: text("name"),
        kind: text("kind"),
        url: text("url"),
        ..ChannelDraft::default()
    };
    let value = |field: &str| object.get(field).filter(|v| !v.is_null()).cloned();
    draft.headers = value("headers");
    draft.to = value("to");
    draft.events = value("events");
    draft.jobs = value("jobs");
    draft.enabled = match object.get("enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add("enabled", scheduler_core::Invalid::NotABoolean);
            None
        }
    };
    name_from_path(&mut draft.name, path_name, &mut errors);
    draft.input_errors = errors;
    Ok(draft)
}

impl ChannelsApi {
    fn service(&self, caller: Caller<Admin>) -> JobService {
        self.service.acting_as(caller.into_principal())
    }
}

#[OpenApi]
impl ChannelsApi {
    /// List your tenant's notification channels.
    #[oai(
        path = "/scheduler/channels",
        method = "get",
        tag = "ApiTags::Notifications",
        operation_id = "listChannels"
    )]
    async fn list(&self, caller: Caller<Admin>) -> Result<Listed, OpError<errors::ListChannels>> {
        let channels = self.service(caller).list_channels().await?;
        Ok(Listed::Channels(FastJson(ChannelListOut {
            count: channels.len(),
            results: channels.into_iter().map(ChannelOut::from).collect(),
        })))
    }

    /// Create a channel: where your tenant is told when a run fails for good, times out, a
    /// fire is missed, a job pauses itself, or recovers. One message per state change (a
    /// streak of failures is one message, a reminder after 10 more and at most hourly).
    ///
    /// A taken name answers 400 `{"name": ["channel with this name already exists."]}`.
    #[oai(
        path = "/scheduler/channels",
        method = "post",
        tag = "ApiTags::Notifications",
        operation_id = "createChannel"
    )]
    async fn create(
        &self,
        caller: Caller<Admin>,
        body: poem_openapi::payload::Json<LooseBody<ChannelInputDoc>>,
    ) -> Result<Saved, OpError<errors::SaveChannel>> {
        let draft = read_channel(&body.0.raw, None)?;
        let (channel, _) = self.service(caller).save_channel(draft, false).await?;
        let location = channel_path(channel.def.name.as_str());
        Ok(Saved::Created(FastJson(channel.into()), location))
    }

    /// Get one channel.
    #[oai(
        path = "/scheduler/channels/:name",
        method = "get",
        tag = "ApiTags::Notifications",
        operation_id = "getChannel"
    )]
    async fn get(
        &self,
        caller: Caller<Admin>,
        name: Path<RawParam<String>>,
    ) -> Result<Found, OpError<errors::OneChannel>> {
        let channel = self.service(caller).get_channel(&name.0.raw).await?;
        Ok(Found::Channel(FastJson(channel.into())))
    }

    /// Create or replace the channel of this name (201 when new, 200 when replaced). Header
    /// values sent as `***` keep their stored values.
    #[oai(
        path = "/scheduler/channels/:name",
        method = "put",
        tag = "ApiTags::Notifications",
        operation_id = "putChannel"
    )]
    async fn put(
        &self,
        caller: Caller<Admin>,
        name: Path<RawParam<String>>,
        body: poem_openapi::payload::Json<LooseBody<ChannelInputDoc>>,
    ) -> Result<Saved, OpError<errors::SaveChannel>> {
        let draft = read_channel(&body.0.raw, Some(name.0.raw.trim()))?;
        let (channel, created) = self.service(caller).save_channel(draft, true).await?;
        if created {
            let location = channel_path(channel.def.name.as_str());
            Ok(Saved::Created(FastJson(channel.into()), location))
        } else {
            Ok(Saved::Replaced(FastJson(channel.into())))
        }
    }

    /// Delete a channel; its undelivered notifications fail.
    #[oai(
        path = "/scheduler/channels/:name",
        method = "delete",
        tag = "ApiTags::Notifications",
        operation_id = "deleteChannel"
    )]
    async fn delete(
        &self,
        caller: Caller<Admin>,
        name: Path<RawParam<String>>,
    ) -> Result<Deleted, OpError<errors::OneChannel>> {
        self.service(caller).delete_channel(&name.0.raw).await?;
        Ok(Deleted::Gone)
    }

    /// Send a test message to the channel (queued; see its notification's status).
    #[oai(
        path = "/scheduler/channels/:name/test",
        method = "post",
        tag = "ApiTags::Notifications",
        operation_id = "testChannel"
    )]
    async fn test(
        &self,
        caller: Caller<Admin>,
        name: Path<RawParam<String>>,
    ) -> Result<Tested, OpError<errors::OneChannel>> {
        let id = self.service(caller).test_channel(&name.0.raw).await?;
        Ok(Tested::Queued(FastJson(ChannelTestOut {
            notification_id: id,
        })))
    }

    /// Your tenant's notifications, newest first: what was sent to which channel, and what
    /// waits or failed (with the last error).
    #[oai(
        path = "/scheduler/notifications",
        method = "get",
        tag = "ApiTags::Notifications",
        operation_id = "listNotifications"
    )]
    async fn notifications(
        &self,
        caller: Caller<Read>,
        /// Only `pending`, `sending`, `sent` or `failed` ones.
        status: Query<Option<RawParam<String>>>,
        /// Only this job's.
        job_id: Query<Option<RawParam<i64>>>,
        /// Only ids below this (the previous page's `next_before_id`).
        before_id: Query<Option<RawParam<i64>>>,
        /// Per page, 1-500 (default 50).
        page_size: Query<Option<RawParam<IntRange<1, 500>>>>,
    ) -> Result<NotificationsListed, OpError<errors::Notifications>> {
        let mut params = ParamReader::default();
        let filter = NotificationFilter {
            status: raw(&status.0).map(str::to_string),
            job_id: params.integer("job_id", raw(&job_id.0)),
            before_id: params.integer("before_id", raw(&before_id.0)),
            page_size: params.integer("page_size", raw(&page_size.0)),
        };
        if !params.errors.is_empty() {
            return Err(params.errors.into());
        }
        let limit = filter.page_size.unwrap_or(50);
        let items = self
            .service
            .acting_as(caller.into_principal())
            .notifications(filter)
            .await?;
        let full = i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit;
        let next_before_id = items.last().filter(|_| full).map(|n| n.id);
        Ok(NotificationsListed::Page(FastJson(NotificationListOut {
            results: items.into_iter().map(NotificationOut::from).collect(),
            next_before_id,
        })))
    }
}
