//! The sea-orm entities of `channels`, `job_alerts` and `notifications`, and their
//! conversion to and from the core's channels, alert states and notifications.

use scheduler_core::{
    AlertEvent, AlertState, Channel, ChannelDef, ChannelKind, ChannelName, EventKind, HttpTarget,
    JobId, Notification, NotificationStatus, RepositoryError, Tenant, WireEnum,
};
use serde_json::Value;

use super::micros;

/// A stored row that no longer reads is reported, not trusted.
fn corrupt(table: &str, id: i64, field: &str, problem: impl std::fmt::Debug) -> RepositoryError {
    RepositoryError::Unavailable(format!(
        "{table} row {id} has an invalid stored {field}: {problem:?}"
    ))
}

/// `channels`.
pub(crate) mod channels {
    use sea_orm::entity::prelude::*;

    /// One row of `channels`.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "channels")]
    pub(crate) struct Model {
        /// Identity.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Owning tenant.
        pub tenant: String,
        /// Unique in the tenant.
        pub name: String,
        /// `webhook`, `slack` or `email`.
        pub kind: String,
        /// The URL and headers, a target's JSON as text.
        #[sea_orm(column_type = "Text", nullable)]
        pub target: Option<String>,
        /// The addresses, a JSON array as text.
        #[sea_orm(column_type = "Text")]
        pub recipients: String,
        /// The event names, a JSON array as text.
        #[sea_orm(column_type = "Text")]
        pub events: String,
        /// The job ids, a JSON array as text (empty: every job).
        #[sea_orm(column_type = "Text")]
        pub jobs: String,
        /// Whether it is sent to.
        pub enabled: bool,
        /// Creation instant.
        pub created_at: DateTimeUtc,
        /// Last change instant.
        pub updated_at: DateTimeUtc,
        /// The key that created it.
        pub created_by: Option<String>,
        /// The key that last changed it.
        pub updated_by: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `job_alerts`.
pub(crate) mod alerts {
    use sea_orm::entity::prelude::*;

    /// One open streak of one job.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_alerts")]
    pub(crate) struct Model {
        /// The job.
        #[sea_orm(primary_key, auto_increment = false)]
        pub job_id: i64,
        /// `failure` or `missing`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub track: String,
        /// The streak's event kind.
        pub kind: String,
        /// Events so far.
        pub count: i32,
        /// `count` at the last message.
        pub notified_count: i32,
        /// When the last message was made.
        pub notified_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `notifications`.
pub(crate) mod notifications {
    use sea_orm::entity::prelude::*;

    /// One notification of the outbox.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notifications")]
    pub(crate) struct Model {
        /// Identity.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The channel's tenant.
        pub tenant: String,
        /// The channel.
        pub channel_id: i64,
        /// The channel's name then.
        pub channel_name: String,
        /// The job (0 for a test message).
        pub job_id: i64,
        /// The event's kind.
        pub event: String,
        /// The event, JSON as text (`AlertEvent::to_value`).
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        /// `pending`, `sending`, `sent` or `failed`.
        pub status: String,
        /// Attempts made.
        pub attempts: i32,
        /// When it is due (or its lease ends, while `sending`).
        pub next_attempt_at: DateTimeUtc,
        /// The last attempt's error.
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        /// When it was made.
        pub created_at: DateTimeUtc,
        /// When it was delivered.
        pub sent_at: Option<DateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A list of wire strings as JSON text.
fn text_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    Value::from(items.collect::<Vec<_>>()).to_string()
}

impl channels::Model {
    /// The core channel this row stores.
    pub(crate) fn into_channel(self) -> Result<Channel, RepositoryError> {
        let id = self.id;
        let bad =
            |field: &str, problem: &dyn std::fmt::Debug| corrupt("channels", id, field, problem);
        let target = match &self.target {
            None => None,
            Some(text) => {
                let value: Value = serde_json::from_str(text).map_err(|e| bad("target", &e))?;
                Some(HttpTarget::from_stored(&value).map_err(|e| bad("target", &e))?)
            }
        };
        let strings = |field: &str, text: &str| -> Result<Vec<String>, RepositoryError> {
            serde_json::from_str::<Vec<String>>(text).map_err(|e| bad(field, &e))
        };
        let events = strings("events", &self.events)?
            .iter()
            .map(|e| EventKind::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("events", &e))?;
        let jobs = serde_json::from_str::<Vec<i64>>(&self.jobs)
            .map_err(|e| bad("jobs", &e))?
            .into_iter()
            .map(JobId)
            .collect();
        Ok(Channel {
            id,
            def: ChannelDef {
                name: ChannelName::parse(&self.name).map_err(|e| bad("name", &e))?,
                kind: ChannelKind::parse(&self.kind).map_err(|e| bad("kind", &e))?,
                target,
                to: strings("recipients", &self.recipients)?,
                events,
                jobs,
                enabled: self.enabled,
            },
            tenant: Tenant::parse(&self.tenant).map_err(|e| bad("tenant", &e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
            updated_by: self.updated_by,
        })
    }

    /// The row storing `channel` (its id as given).
    pub(crate) fn from_channel(channel: &Channel) -> Self {
        let def = &channel.def;
        Self {
            id: channel.id,
            tenant: channel.tenant.as_str().to_string(),
            name: def.name.as_str().to_string(),
            kind: def.kind.as_str().to_string(),
            target: def.target.as_ref().map(|t| t.to_value().to_string()),
            recipients: text_list(def.to.iter().map(String::as_str)),
            events: text_list(def.events.iter().map(|e| e.as_str())),
            jobs: Value::from(def.jobs.iter().map(|j| j.0).collect::<Vec<_>>()).to_string(),
            enabled: def.enabled,
            created_at: micros(channel.created_at),
            updated_at: micros(channel.updated_at),
            created_by: channel.created_by.clone(),
            updated_by: channel.updated_by.clone(),
        }
    }
}

impl alerts::Model {
    /// The streak this row stores.
    pub(crate) fn state(&self) -> Result<AlertState, RepositoryError> {
        let bad = |field: &str, problem: &dyn std::fmt::Debug| {
            corrupt("job_alerts", self.job_id, field, problem)
        };
        Ok(AlertState {
            kind: EventKind::parse(&self.kind).map_err(|e| bad("kind", &e))?,
            count: u32::try_from(self.count).map_err(|e| bad("count", &e))?,
            notified_count: u32::try_from(self.notified_count)
                .map_err(|e| bad("notified_count", &e))?,
            notified_at: self.notified_at,
        })
    }
}

impl notifications::Model {
    /// The core notification this row stores.
    pub(crate) fn into_notification(self) -> Result<Notification, RepositoryError> {
        let id = self.id;
        let bad = |field: &str, problem: &dyn std::fmt::Debug| {
            corrupt("notifications", id, field, problem)
        };
        let payload: Value = serde_json::from_str(&self.payload).map_err(|e| bad("payload", &e))?;
        Ok(Notification {
            id,
            tenant: Tenant::parse(&self.tenant).map_err(|e| bad("tenant", &e))?,
            channel_id: self.channel_id,
            channel_name: self.channel_name,
            event: AlertEvent::from_value(&payload).ok_or_else(|| bad("payload", &"unreadable"))?,
            status: NotificationStatus::parse(&self.status).map_err(|e| bad("status", &e))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
            last_error: self.last_error,
            created_at: self.created_at,
            sent_at: self.sent_at,
        })
    }

    /// The row of a new notification of `event` for `channel`, due at `now`.
    pub(crate) fn new_for(
        channel: &Channel,
        event: &AlertEvent,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Self {
            id: 0,
            tenant: channel.tenant.as_str().to_string(),
            channel_id: channel.id,
            channel_name: channel.def.name.as_str().to_string(),
            job_id: event.job_id.0,
            event: event.event.as_str().to_string(),
            payload: event.to_value().to_string(),
            status: NotificationStatus::Pending.as_str().to_string(),
            attempts: 0,
            next_attempt_at: micros(now),
            last_error: None,
            created_at: micros(now),
            sent_at: None,
        }
    }
}
