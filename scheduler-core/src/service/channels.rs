//! The channel use cases: a tenant's notification channels listed, read, written (their URL
//! under the SSRF guard, as a job's target is), deleted and tested, each change in the audit
//! trail; and the tenant's notifications listed.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::audit::{AuditAction, AuditKind, AuditRecord, change_record};
use crate::channel::{Channel, ChannelDraft, ChannelName};
use crate::error::{ServiceError, ValidationErrors};
use crate::notifier::{ChannelStore, Notification, NotificationQuery, NotificationStatus, Outbox};
use crate::wire::WireEnum;

use super::JobService;

/// The fields of a channel an audit entry compares (header values masked).
fn channel_fields(channel: &Channel) -> Map<String, Value> {
    let def = &channel.def;
    let mut map = Map::new();
    map.insert("kind".into(), Value::from(def.kind.as_str()));
    if let Some(url) = def.shown_url() {
        map.insert("url".into(), Value::from(url));
        map.insert(
            "headers".into(),
            serde_json::to_value(def.masked_headers()).unwrap_or(Value::Null),
        );
    }
    if !def.to.is_empty() {
        map.insert("to".into(), Value::from(def.to.clone()));
    }
    map.insert(
        "events".into(),
        Value::from(def.events.iter().map(|e| e.as_str()).collect::<Vec<_>>()),
    );
    map.insert(
        "jobs".into(),
        Value::from(def.jobs.iter().map(|j| j.0).collect::<Vec<_>>()),
    );
    map.insert("enabled".into(), Value::from(def.enabled));
    map
}

/// What a client asks of the notification list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    /// `pending`, `sending`, `sent` or `failed`.
    pub status: Option<String>,
    /// One job's.
    pub job_id: Option<i64>,
    /// Only ids below this (the previous page's last id).
    pub before_id: Option<i64>,
    /// 1 to 500, default 50.
    pub page_size: Option<i64>,
}

impl JobService {
    /// The channel store, or `Unavailable` for a service wired without one.
    fn channel_store(&self) -> Result<&Arc<dyn ChannelStore>, ServiceError> {
        self.channels
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("no channel store is configured".into()))
    }

    /// The outbox, or `Unavailable` for a service wired without one.
    fn outbox(&self) -> Result<&Arc<dyn Outbox>, ServiceError> {
        self.outbox
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("no notification outbox is configured".into()))
    }

    /// The entry for a channel going from `before` to `after`.
    fn channel_record(
        &self,
        before: Option<&Channel>,
        after: Option<&Channel>,
    ) -> Option<AuditRecord> {
        let channel = after.or(before)?;
        let name = channel.def.name.to_string();
        change_record(
            &self.principal().audit_actor(),
            self.now(),
            (AuditKind::Channel, name.clone(), name),
            before.map(channel_fields).as_ref(),
            after.map(channel_fields).as_ref(),
            AuditAction::Update,
        )
    }

    /// The acting tenant's channels, by name.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, ServiceError> {
        Ok(self.channel_store()?.list(&self.principal.tenant).await?)
    }

    /// The acting tenant's channel `name`.
    ///
    /// # Errors
    /// `ChannelNotFound` (also for a name no channel could have), `Unavailable`.
    pub async fn get_channel(&self, name: &str) -> Result<Channel, ServiceError> {
        let name = ChannelName::parse(name).map_err(|_| ServiceError::ChannelNotFound)?;
        self.channel_store()?
            .find(&self.principal.tenant, &name)
            .await?
            .ok_or(ServiceError::ChannelNotFound)
    }

    /// Creates a channel (`Conflict(ChannelName)` when the name is taken), or with `replace`
    /// creates or replaces the one of `draft`'s name (masked header values keep the stored
    /// ones). The URL passes the SSRF guard. Returns the channel and whether it was created.
    ///
    /// # Errors
    /// `Validation` for bad input (a forbidden URL named `url`), `Conflict`, `Unavailable`.
    pub async fn save_channel(
        &self,
        draft: ChannelDraft,
        replace: bool,
    ) -> Result<(Channel, bool), ServiceError> {
        let store = self.channel_store()?;
        let before = match draft.name.as_deref().map(ChannelName::parse) {
            Some(Ok(name)) if replace => store.find(&self.principal.tenant, &name).await?,
            _ => None,
        };
        let def = draft.validate(before.as_ref().map(|c| &c.def))?;
        if let Some(target) = &def.target {
            self.check_url("url", &target.url).await?;
        }
        let now = self.now();
        let by = self.principal.key_name.clone();
        let channel = Channel {
            id: 0,
            def,
            tenant: self.principal.tenant.clone(),
            created_at: now,
            updated_at: now,
            created_by: by.clone(),
            updated_by: by,
        };
        let (stored, created) = store.save(channel, replace).await?;
        self.audit(self.channel_record(before.as_ref(), Some(&stored)))
            .await;
        Ok((stored, created))
    }

    /// Deletes the acting tenant's channel `name`.
    ///
    /// # Errors
    /// `ChannelNotFound`, `Unavailable`.
    pub async fn delete_channel(&self, name: &str) -> Result<(), ServiceError> {
        let before = self.get_channel(name).await?;
        self.channel_store()?
            .delete(&self.principal.tenant, &before.def.name)
            .await
            .map_err(|error| match error {
                crate::error::RepositoryError::NotFound => ServiceError::ChannelNotFound,
                other => other.into(),
            })?;
        self.audit(self.channel_record(Some(&before), None)).await;
        Ok(())
    }

    /// Queues a test message to the acting tenant's channel `name` (sent by the next
    /// notifier round of any replica); its notification id.
    ///
    /// # Errors
    /// `ChannelNotFound`, `Unavailable`.
    pub async fn test_channel(&self, name: &str) -> Result<i64, ServiceError> {
        let channel = self.get_channel(name).await?;
        let event = crate::alert::AlertEvent {
            event: crate::channel::EventKind::Test,
            tenant: channel.tenant.clone(),
            job_id: crate::job::JobId(0),
            job_name: "(test)".to_string(),
            run: crate::alert::RunFacts::default(),
            count: 1,
            digest: false,
            at: self.now(),
        };
        Ok(self.outbox()?.enqueue(&channel, &event, self.now()).await?)
    }

    /// The acting tenant's notifications, newest first.
    ///
    /// # Errors
    /// `Validation` naming `status` or `page_size`, `Unavailable`.
    pub async fn notifications(
        &self,
        filter: NotificationFilter,
    ) -> Result<Vec<Notification>, ServiceError> {
        let mut errors = ValidationErrors::new();
        let status = filter
            .status
            .as_deref()
            .and_then(|raw| errors.check("status", NotificationStatus::parse(raw)));
        let limit = errors.check("page_size", super::list_page_size(filter.page_size));
        let limit = errors.into_result(limit)?.unwrap_or(50);
        Ok(self
            .outbox()?
            .list(&NotificationQuery {
                tenant: self.principal.tenant.clone(),
                status,
                job_id: filter.job_id,
                before_id: filter.before_id,
                limit,
            })
            .await?)
    }
}
