//! Alerts inside the transaction that records their cause (the outbox pattern): the jobs'
//! alert tracks are read with their job rows locked (PostgreSQL; SQLite has one writer),
//! moved by the core's rules ([`JobAlerts::see`]), written back, and every message is stored
//! as one notification per channel of the job's tenant that wants it. Called only for
//! batches with something to weigh: a final failure, a skipped or late fire, a success of a
//! job with an open streak, an auto-pause.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use scheduler_core::{
    AlertEvent, AlertState, AlertTrack, DigestPolicy, FinishedRun, Job, JobAlerts, JobId,
    RepositoryError, Run, RunFacts, RunStatus, Sighting, WireEnum,
};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::entity as jobs;
use super::notify_entity::{alerts, channels, notifications};
use super::{micros, repository_error};

fn db<T>(result: Result<T, sea_orm::DbErr>) -> Result<T, RepositoryError> {
    result.map_err(repository_error)
}

/// One thing seen of one job, with the run it is about.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// The job.
    pub job_id: JobId,
    /// What.
    pub sighting: Sighting,
    /// The run's facts for the message.
    pub run: RunFacts,
    /// When.
    pub at: DateTime<Utc>,
}

impl Seen {
    /// A run's end: its outcome `status` (and `error`) at `at`.
    pub(super) fn ended(
        run: &Run,
        status: RunStatus,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            job_id: run.job_id,
            sighting: Sighting::Ended {
                status,
                lateness: run.started_at - run.due(),
            },
            run: RunFacts {
                id: Some(run.id),
                scheduled_for: Some(run.scheduled_for),
                attempt: Some(run.attempt),
                status: Some(status),
                error,
            },
            at,
        }
    }
}

/// Whether an outcome ends its run's streak badly: failed or timed out, no retry left.
pub(super) fn final_failure(status: RunStatus, retry_at: Option<DateTime<Utc>>) -> bool {
    matches!(status, RunStatus::Failed | RunStatus::TimedOut) && retry_at.is_none()
}

/// What of `stored` outcomes the alert rules weigh: every final failure, and the successes
/// of jobs in `open` (jobs with an open streak), in the order given.
pub(super) fn sightings<'a>(
    stored: impl IntoIterator<Item = &'a FinishedRun>,
    open: &BTreeSet<i64>,
) -> Vec<Seen> {
    stored
        .into_iter()
        .filter(|f| {
            final_failure(f.outcome.status, f.outcome.retry_at)
                || (f.outcome.status == RunStatus::Succeeded && open.contains(&f.run.job_id.0))
        })
        .map(|f| {
            Seen::ended(
                &f.run,
                f.outcome.status,
                f.outcome.error.as_ref().map(|e| e.as_str().to_string()),
                f.outcome.finished_at,
            )
        })
        .collect()
}

/// The jobs among `ids` that have an open streak (a success of theirs must be weighed).
pub(super) async fn with_open_streaks(
    conn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i64>,
) -> Result<BTreeSet<i64>, RepositoryError> {
    let ids: BTreeSet<i64> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(BTreeSet::new());
    }
    let open: Vec<i64> = db(alerts::Entity::find()
        .select_only()
        .column(alerts::Column::JobId)
        .filter(alerts::Column::JobId.is_in(ids))
        .into_tuple()
        .all(conn)
        .await)?;
    Ok(open.into_iter().collect())
}

/// Weighs `seen` (in order) and stores the tracks and notifications that follow.
pub(super) async fn observe(
    txn: &DatabaseTransaction,
    seen: &[Seen],
    policy: &DigestPolicy,
) -> Result<usize, RepositoryError> {
    if seen.is_empty() {
        return Ok(0);
    }
    let ids: BTreeSet<i64> = seen.iter().map(|s| s.job_id.0).collect();
    let mut rows = jobs::Entity::find()
        .filter(jobs::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(jobs::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        rows = rows.lock(LockType::Update);
    }
    let mut found: HashMap<i64, Job> = HashMap::new();
    for row in db(rows.all(txn).await)? {
        // A row that no longer reads is the claim's to report; it is not told of.
        if let Ok(job) = row.into_job() {
            found.insert(job.id.0, job);
        }
    }
    let mut tracks: HashMap<i64, JobAlerts> = HashMap::new();
    for row in db(alerts::Entity::find()
        .filter(alerts::Column::JobId.is_in(ids.iter().copied()))
        .all(txn)
        .await)?
    {
        let state = row.state()?;
        let entry = tracks.entry(row.job_id).or_default();
        match AlertTrack::parse(&row.track) {
            Ok(AlertTrack::Failure) => entry.failure = Some(state),
            Ok(AlertTrack::Missing) => entry.missing = Some(state),
            Err(_) => {}
        }
    }
    let before = tracks.clone();
    let mut events = Vec::new();
    for one in seen {
        let Some(job) = found.get(&one.job_id.0) else {
            continue;
        };
        let track = tracks.entry(job.id.0).or_default();
        if let Some(alert) = track.see(job, one.sighting, one.at, policy) {
            events.push(AlertEvent {
                event: alert.event,
                tenant: job.tenant.clone(),
                job_id: job.id,
                job_name: job.spec.name.as_str().to_string(),
                run: one.run.clone(),
                count: alert.count,
                digest: alert.digest,
                at: one.at,
            });
        }
    }
    for (job_id, after) in &tracks {
        let was = before.get(job_id).copied().unwrap_or_default();
        for (track, old, new) in [
            (AlertTrack::Failure, was.failure, after.failure),
            (AlertTrack::Missing, was.missing, after.missing),
        ] {
            if old != new {
                write_track(txn, *job_id, track, new).await?;
            }
        }
    }
    if events.is_empty() {
        return Ok(0);
    }
    let tenants: BTreeSet<&str> = events.iter().map(|e| e.tenant.as_str()).collect();
    let mut wanted = Vec::new();
    for row in db(channels::Entity::find()
        .filter(channels::Column::Tenant.is_in(tenants))
        .filter(channels::Column::Enabled.eq(true))
        .order_by_asc(channels::Column::Id)
        .all(txn)
        .await)?
    {
        // A channel that no longer reads is skipped, not the cause's failure.
        match row.into_channel() {
            Ok(channel) => wanted.push(channel),
            Err(error) => tracing::error!(%error, "channel skipped"),
        }
    }
    let rows: Vec<notifications::ActiveModel> = events
        .iter()
        .flat_map(|event| {
            wanted
                .iter()
                .filter(|c| c.tenant == event.tenant && c.def.wants(event.event, event.job_id))
                .map(move |channel| {
                    // Made, and due, at the instant of what it tells (the store reads no
                    // clock of its own).
                    let mut row = notifications::Model::new_for(channel, event, event.at)
                        .into_active_model()
                        .reset_all();
                    row.id = sea_orm::ActiveValue::NotSet;
                    row
                })
        })
        .collect();
    let count = rows.len();
    if count > 0 {
        db(notifications::Entity::insert_many(rows).exec(txn).await)?;
    }
    Ok(count)
}

/// Replaces a job's track row with `state` (none: the streak ended).
async fn write_track(
    txn: &DatabaseTransaction,
    job_id: i64,
    track: AlertTrack,
    state: Option<AlertState>,
) -> Result<(), RepositoryError> {
    db(alerts::Entity::delete_many()
        .filter(alerts::Column::JobId.eq(job_id))
        .filter(alerts::Column::Track.eq(track.as_str()))
        .exec(txn)
        .await)?;
    if let Some(state) = state {
        let row = alerts::Model {
            job_id,
            track: track.as_str().to_string(),
            kind: state.kind.as_str().to_string(),
            count: i32::try_from(state.count).unwrap_or(i32::MAX),
            notified_count: i32::try_from(state.notified_count).unwrap_or(i32::MAX),
            notified_at: micros(state.notified_at),
        };
        db(row.into_active_model().reset_all().insert(txn).await)?;
    }
    Ok(())
}
