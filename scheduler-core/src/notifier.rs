//! Delivering notifications: the outbox the store fills in the transactions that record
//! outcomes and fires ([`crate::alert`]) is drained by every replica's [`Notifier`]. A batch
//! is claimed under a lease (PostgreSQL `FOR UPDATE SKIP LOCKED`), so two replicas never take
//! the same notification; each is sent with a bounded timeout, well inside the lease, and
//! settled: sent, retried with exponential backoff, or failed after
//! [`NotifierConfig::max_attempts`]. The notifier is its own loop, apart from the
//! dispatcher's: a channel that hangs (an SMTP server that never answers) costs its send's
//! timeout and delays nothing but other notifications.
//!
//! A replica that dies mid-send leaves its lease to expire and another sends again: receivers
//! dedupe on the notification `id` (webhooks also get it as `Idempotency-Key`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::alert::{AlertEvent, Links, Message, render};
use crate::channel::{Channel, ChannelKind, ChannelName};
use crate::error::RepositoryError;
use crate::ports::Clock;
use crate::tenant::Tenant;
use crate::wire::WireEnum;

/// Where a notification stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum NotificationStatus {
    /// Waiting for its first or next attempt (`next_attempt_at`).
    Pending,
    /// Claimed by a replica, being sent (until `lease_until`).
    Sending,
    /// Delivered.
    Sent,
    /// Given up after the last attempt, or its channel is gone.
    Failed,
}

impl WireEnum for NotificationStatus {}

/// One notification of the outbox: an event for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Identity (the receiver's idempotency key).
    pub id: i64,
    /// The channel's tenant.
    pub tenant: Tenant,
    /// The channel it is for.
    pub channel_id: i64,
    /// The channel's name when it was made.
    pub channel_name: String,
    /// What it tells.
    pub event: AlertEvent,
    /// Where it stands.
    pub status: NotificationStatus,
    /// Attempts made (the one being made included, while `sending`).
    pub attempts: u32,
    /// When it is (or was) due for its next attempt.
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A notification claimed for sending, with its channel as stored now (`None`: deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedNotification {
    /// The notification, status `sending`.
    pub notification: Notification,
    /// Its channel.
    pub channel: Option<Channel>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Delivered at this instant.
    Sent(DateTime<Utc>),
    /// Failed; try again at this instant.
    Retry(DateTime<Utc>, String),
    /// Failed for good.
    Failed(String),
}

/// How deep the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxDepth {
    /// Notifications not yet delivered nor given up.
    pub undelivered: u64,
    /// When the oldest of them was made.
    pub oldest: Option<DateTime<Utc>>,
}

/// What a notification list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationQuery {
    /// The tenant's only.
    pub tenant: Tenant,
    /// One status only.
    pub status: Option<NotificationStatus>,
    /// One job's only.
    pub job_id: Option<i64>,
    /// Only ids below this (the next page).
    pub before_id: Option<i64>,
    /// Most entries.
    pub limit: u32,
}

/// The notification outbox.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` notifications due at `now` (pending and due, or `sending` with
    /// an expired lease), oldest due first, marking them `sending` until `now + lease` and
    /// counting the attempt. Concurrent claimers MUST get disjoint sets.
    async fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedNotification>, RepositoryError>;
    /// Records how the attempt at notification `id` ended.
    async fn settle(&self, id: i64, settlement: &Settlement) -> Result<(), RepositoryError>;
    /// Adds a notification of `event` for `channel` (a test message), due now; its id.
    async fn enqueue(
        &self,
        channel: &Channel,
        event: &AlertEvent,
        now: DateTime<Utc>,
    ) -> Result<i64, RepositoryError>;
    /// The tenant's notifications, newest first.
    async fn list(&self, query: &NotificationQuery) -> Result<Vec<Notification>, RepositoryError>;
    /// The outbox's depth (every tenant).
    async fn depth(&self) -> Result<OutboxDepth, RepositoryError>;
    /// Deletes up to `limit` delivered or failed notifications made before `before`, oldest
    /// first; how many it deleted. Undelivered ones are never deleted.
    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepositoryError>;
}

/// Sends one rendered message to one channel.
#[async_trait]
pub trait ChannelSender: Send + Sync {
    /// Sends `message` (notification `id`) to `channel`; the error says why not.
    async fn send(&self, channel: &Channel, id: i64, message: &Message) -> Result<(), String>;
}

/// What the notifier reports (metrics).
pub trait NotifierTelemetry: Send + Sync {
    /// One attempt at a channel of `kind` ended: sent or not.
    fn attempt(&self, kind: ChannelKind, sent: bool);
    /// The outbox's depth and the age of its oldest undelivered notification.
    fn outbox(&self, depth: &OutboxDepth, now: DateTime<Utc>);
}

/// Reports nothing.
pub struct NoNotifierTelemetry;

impl NotifierTelemetry for NoNotifierTelemetry {
    fn attempt(&self, _: ChannelKind, _: bool) {}
    fn outbox(&self, _: &OutboxDepth, _: DateTime<Utc>) {}
}

/// The notifier's settings.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Pause between claims that found nothing to send.
    pub poll: Duration,
    /// Most notifications claimed (and sent concurrently) at once.
    pub batch: u32,
    /// How long a claim holds a notification; a send's timeout stays well inside it.
    pub lease: Duration,
    /// Longest one send may take (connect, TLS, SMTP dialogue or HTTP exchange).
    pub send_timeout: Duration,
    /// Attempts before a notification fails for good.
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to `max_backoff`.
    pub backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
    /// Where message links point.
    pub links: Links,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            batch: 16,
            lease: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            links: Links::default(),
        }
    }
}

impl NotifierConfig {
    /// The delay before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Drains the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    outbox: Arc<dyn Outbox>,
    sender: Arc<dyn ChannelSender>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn NotifierTelemetry>,
    config: NotifierConfig,
}

impl Notifier {
    /// A notifier over its ports.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sender: Arc<dyn ChannelSender>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<dyn NotifierTelemetry>,
        config: NotifierConfig,
    ) -> Self {
        Self {
            outbox,
            sender,
            clock,
            telemetry,
            config,
        }
    }

    /// The outbox (for listings).
    pub fn outbox(&self) -> &Arc<dyn Outbox> {
        &self.outbox
    }

    /// One round: claims a batch, sends each (concurrently, each within the send timeout)
    /// and settles it. Returns how many it claimed.
    ///
    /// # Errors
    /// The store's error on the claim (a failed settle is logged: the lease brings the
    /// notification back).
    pub async fn tick(&self) -> Result<usize, RepositoryError> {
        let now = self.clock.now();
        let claimed = self
            .outbox
            .claim(now, self.config.lease, self.config.batch.max(1))
            .await?;
        let count = claimed.len();
        let sends = claimed.into_iter().map(|one| self.deliver(one));
        futures_util::future::join_all(sends).await;
        Ok(count)
    }

    async fn deliver(&self, claimed: ClaimedNotification) {
        let ClaimedNotification {
            notification,
            channel,
        } = claimed;
        let id = notification.id;
        let settlement = match channel {
            None => Settlement::Failed("the channel was deleted".into()),
            Some(channel) if !channel.def.enabled => {
                Settlement::Failed(format!("channel {} is disabled", channel.def.name))
            }
            Some(channel) => {
                let message = render(
                    id,
                    &notification.event,
                    channel.def.kind,
                    &self.config.links,
                );
                let sent = tokio::time::timeout(
                    self.config.send_timeout,
                    self.sender.send(&channel, id, &message),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {} s",
                        self.config.send_timeout.as_secs_f64()
                    ))
                });
                self.telemetry.attempt(channel.def.kind, sent.is_ok());
                match sent {
                    Ok(()) => Settlement::Sent(self.clock.now()),
                    Err(error) if notification.attempts >= self.config.max_attempts => {
                        tracing::warn!(
                            notification = id,
                            channel = %channel.def.name,
                            %error,
                            "notification given up"
                        );
                        Settlement::Failed(error)
                    }
                    Err(error) => {
                        let delay = self.config.retry_delay(notification.attempts);
                        tracing::info!(
                            notification = id,
                            channel = %channel.def.name,
                            %error,
                            retry_in_s = delay.as_secs(),
                            "notification failed; retrying"
                        );
                        let at = self.clock.now()
                            + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
                        Settlement::Retry(at, error)
                    }
                }
            }
        };
        if let Err(error) = self.outbox.settle(id, &settlement).await {
            tracing::warn!(notification = id, %error, "recording a notification's attempt failed");
        }
    }

    /// Samples the outbox's depth for the metrics.
    pub async fn sample(&self) {
        if let Ok(depth) = self.outbox.depth().await {
            self.telemetry.outbox(&depth, self.clock.now());
        }
    }

    /// Sends until `shutdown` completes: a full batch is followed at once by the next, an
    /// empty or partial one by a pause of [`NotifierConfig::poll`]; the depth is sampled
    /// every 5 s.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut sampled = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            if sampled.elapsed() >= Duration::from_secs(5) {
                self.sample().await;
                sampled = std::time::Instant::now();
            }
            let pause = match self.tick().await {
                Ok(n) if n >= self.config.batch.max(1) as usize => Duration::ZERO,
                Ok(_) => self.config.poll,
                Err(error) => {
                    tracing::warn!(%error, "claiming notifications failed");
                    self.config.poll
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// The channel port: a tenant's channels, by name.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// The tenant's channels by name.
    async fn list(&self, tenant: &Tenant) -> Result<Vec<Channel>, RepositoryError>;
    /// The tenant's channel `name`.
    async fn find(
        &self,
        tenant: &Tenant,
        name: &ChannelName,
    ) -> Result<Option<Channel>, RepositoryError>;
    /// Creates `channel` (`Conflict(ChannelName)` when the name is taken) or, with
    /// `replace`, creates or replaces the tenant's channel of its name; the stored channel
    /// and whether it was created.
    async fn save(
        &self,
        channel: Channel,
        replace: bool,
    ) -> Result<(Channel, bool), RepositoryError>;
    /// Deletes the tenant's channel `name` (`NotFound` when there is none); its undelivered
    /// notifications fail at their next attempt.
    async fn delete(&self, tenant: &Tenant, name: &ChannelName) -> Result<(), RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::RunFacts;
    use crate::channel::{ChannelDef, EventKind};
    use crate::job::JobId;
    use std::sync::Mutex;

    struct FixedClock;
    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
        }
    }

    struct Hanging;
    #[async_trait]
    impl ChannelSender for Hanging {
        async fn send(&self, _: &Channel, _: i64, _: &Message) -> Result<(), String> {
            std::future::pending().await
        }
    }

    struct Failing(Mutex<u32>);
    #[async_trait]
    impl ChannelSender for Failing {
        async fn send(&self, _: &Channel, _: i64, _: &Message) -> Result<(), String> {
            *crate::sync::lock(&self.0) += 1;
            Err("HTTP 500".into())
        }
    }

    fn claimed(attempts: u32, kind: ChannelKind) -> ClaimedNotification {
        let now = FixedClock.now();
        ClaimedNotification {
            notification: Notification {
                id: 7,
                tenant: Tenant::default_tenant(),
                channel_id: 1,
                channel_name: "ops".into(),
                event: AlertEvent {
                    event: EventKind::Failed,
                    tenant: Tenant::default_tenant(),
                    job_id: JobId(1),
                    job_name: "j".into(),
                    run: RunFacts::default(),
                    count: 1,
                    digest: false,
                    at: now,
                },
                status: NotificationStatus::Sending,
                attempts,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
                sent_at: None,
            },
            channel: Some(Channel {
                id: 1,
                def: ChannelDef {
                    name: ChannelName::parse("ops").unwrap_or_else(|_| unreachable!()),
                    kind,
                    target: None,
                    to: vec!["ops@example.com".into()],
                    events: EventKind::DEFAULT.to_vec(),
                    jobs: Vec::new(),
                    enabled: true,
                },
                tenant: Tenant::default_tenant(),
                created_at: now,
                updated_at: now,
                created_by: None,
                updated_by: None,
            }),
        }
    }

    fn notifier(outbox: MockOutbox, sender: Arc<dyn ChannelSender>) -> Notifier {
        Notifier::new(
            Arc::new(outbox),
            sender,
            Arc::new(FixedClock),
            Arc::new(NoNotifierTelemetry),
            NotifierConfig {
                send_timeout: Duration::from_secs(10),
                ..NotifierConfig::default()
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_channel_costs_its_timeout_and_is_retried_later() {
        let mut outbox = MockOutbox::new();
        outbox
            .expect_claim()
            .returning(|_, _, _| Ok(vec![claimed(1, ChannelKind::Email)]));
        outbox
            .expect_settle()
            .withf(|id, s| {
                *id == 7
                    && matches!(s, Settlement::Retry(at, e)
                        if e.contains("no answer within 10 s")
                            && *at == FixedClock.now() + chrono::Duration::seconds(10))
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let started = tokio::time::Instant::now();
        let claimed = notifier(outbox, Arc::new(Hanging)).tick().await;
        assert_eq!(claimed, Ok(1));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn the_last_attempt_fails_for_good_and_a_deleted_channel_is_not_sent_to() {
        let mut outbox = MockOutbox::new();
        outbox.expect_claim().returning(|_, _, _| {
            let mut gone = claimed(1, ChannelKind::Webhook);
            gone.channel = None;
            gone.notification.id = 8;
            Ok(vec![claimed(8, ChannelKind::Webhook), gone])
        });
        outbox
            .expect_settle()
            .withf(|id, s| *id == 7 && *s == Settlement::Failed("HTTP 500".into()))
            .times(1)
            .returning(|_, _| Ok(()));
        outbox
            .expect_settle()
            .withf(|id, s| *id == 8 && *s == Settlement::Failed("the channel was deleted".into()))
            .times(1)
            .returning(|_, _| Ok(()));
        let sender = Arc::new(Failing(Mutex::new(0)));
        assert_eq!(notifier(outbox, sender.clone()).tick().await, Ok(2));
        assert_eq!(*crate::sync::lock(&sender.0), 1);
    }

    #[test]
    fn retries_back_off_doubling_up_to_the_cap() {
        let config = NotifierConfig::default();
        let delays: Vec<u64> = (1..=10).map(|a| config.retry_delay(a).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
    }
}
