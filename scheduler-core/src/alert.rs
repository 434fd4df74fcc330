//! Alerts: which run outcomes and fires become notifications, grouped so that a streak is
//! told once. A job has two independent tracks — **failure** (runs failing or timing out,
//! their retries exhausted) and **missing** (fires skipped by misfire or overlap, or started
//! after the job's grace period). Entering a bad state is one message; the same state going
//! on is silent, except for a digest after [`DigestPolicy::every`] more events and at most
//! every [`DigestPolicy::at_most`]; a change of kind (failing → timing out) is a new message;
//! the first success after a failure streak is one `recovered` message. The missing track
//! ends, silently, at the first run that started on time and succeeded. An auto-pause is
//! always told.
//!
//! The store applies these rules in the transaction that records the outcome or the fire
//! (the outbox), so an alert is stored exactly when its cause is.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::channel::{ChannelKind, EventKind};
use crate::job::{Job, JobId};
use crate::plan::{FireDecision, FirePlan, SkipReason};
use crate::run::RunId;
use crate::run_status::RunStatus;
use crate::tenant::Tenant;
use crate::wire::WireEnum;

/// Which of a job's two alert tracks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum AlertTrack {
    /// Runs failing or timing out.
    Failure,
    /// Fires not started in time.
    Missing,
}

impl WireEnum for AlertTrack {}

/// Where one track of a job stands while it is bad (no state: all is well).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertState {
    /// The kind of the current streak (`failed`, `timed_out` or `missed`).
    pub kind: EventKind,
    /// Events in the streak so far.
    pub count: u32,
    /// `count` when the last message (first or digest) was made.
    pub notified_count: u32,
    /// When the last message was made.
    pub notified_at: DateTime<Utc>,
}

/// When a streak that goes on is told again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestPolicy {
    /// Events since the last message before a digest (default 10).
    pub every: u32,
    /// Shortest time between two messages of one streak (default an hour).
    pub at_most: Duration,
}

impl Default for DigestPolicy {
    fn default() -> Self {
        Self {
            every: 10,
            at_most: Duration::hours(1),
        }
    }
}

/// A message to make: the event and how many events of its streak it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// What it tells.
    pub event: EventKind,
    /// The streak's length so far (for `recovered`, the length of the streak that ended).
    pub count: u32,
    /// True: a reminder that a streak already told goes on.
    pub digest: bool,
}

/// One more bad event on a track: the track's new state and the message to make, if any.
pub fn bad_event(
    state: Option<AlertState>,
    event: EventKind,
    now: DateTime<Utc>,
    policy: &DigestPolicy,
) -> (AlertState, Option<Alert>) {
    match state {
        Some(mut state) if state.kind == event => {
            state.count = state.count.saturating_add(1);
            let due = state.count - state.notified_count >= policy.every.max(1)
                && now - state.notified_at >= policy.at_most;
            if !due {
                return (state, None);
            }
            state.notified_count = state.count;
            state.notified_at = now;
            let alert = Alert {
                event,
                count: state.count,
                digest: true,
            };
            (state, Some(alert))
        }
        _ => (
            AlertState {
                kind: event,
                count: 1,
                notified_count: 1,
                notified_at: now,
            },
            Some(Alert {
                event,
                count: 1,
                digest: false,
            }),
        ),
    }
}

/// A success on the failure track: the streak ends, told as `recovered`.
pub fn recovered(state: Option<AlertState>) -> Option<Alert> {
    state.map(|state| Alert {
        event: EventKind::Recovered,
        count: state.count,
        digest: false,
    })
}

/// What was seen of a job that the alert rules weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// A run ended (a run that will be retried is not one).
    Ended {
        /// Its status: `succeeded`, `failed` or `timed_out` (others are ignored).
        status: RunStatus,
        /// How long after its fire was due it started.
        lateness: Duration,
    },
    /// A fire was skipped or started late (see [`missed_fire`]).
    Missed,
    /// The job paused itself.
    AutoPaused,
}

/// A job's two tracks (no state: all is well on that track).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobAlerts {
    /// Runs failing or timing out.
    pub failure: Option<AlertState>,
    /// Fires not started in time.
    pub missing: Option<AlertState>,
}

impl JobAlerts {
    /// Moves the tracks by `sighting` of `job` at `at`; the message to make, if any.
    pub fn see(
        &mut self,
        job: &Job,
        sighting: Sighting,
        at: DateTime<Utc>,
        policy: &DigestPolicy,
    ) -> Option<Alert> {
        let bad = |state: &mut Option<AlertState>, event| {
            let (next, alert) = bad_event(*state, event, at, policy);
            *state = Some(next);
            alert
        };
        match sighting {
            Sighting::Ended {
                status: RunStatus::Succeeded,
                lateness,
            } => {
                let grace = Duration::seconds(i64::from(job.spec.policy.misfire_grace_seconds));
                if lateness <= grace {
                    self.missing = None;
                }
                recovered(self.failure.take())
            }
            Sighting::Ended {
                status: RunStatus::Failed,
                ..
            } => bad(&mut self.failure, EventKind::Failed),
            Sighting::Ended {
                status: RunStatus::TimedOut,
                ..
            } => bad(&mut self.failure, EventKind::TimedOut),
            Sighting::Ended { .. } => None,
            Sighting::Missed => bad(&mut self.missing, EventKind::Missed),
            Sighting::AutoPaused => Some(Alert {
                event: EventKind::AutoPaused,
                count: job.failure_streak.max(1),
                digest: false,
            }),
        }
    }
}

/// The facts of a run a message names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunFacts {
    /// The run, when one was recorded.
    pub id: Option<RunId>,
    /// The fire it served.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Its attempt number.
    pub attempt: Option<i32>,
    /// Its status.
    pub status: Option<RunStatus>,
    /// Its error text (or why it was skipped or late).
    pub error: Option<String>,
}

/// What a notification is about: the event and its job and run, as they were when it
/// happened (stored as JSON with the notification; a message is rendered from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEvent {
    /// What happened.
    pub event: EventKind,
    /// The job's tenant.
    pub tenant: Tenant,
    /// The job.
    pub job_id: JobId,
    /// Its name then.
    pub job_name: String,
    /// The run.
    pub run: RunFacts,
    /// The streak's length (see [`Alert::count`]).
    pub count: u32,
    /// A reminder of a streak already told.
    pub digest: bool,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// `Some(why)` when a planned fire counts as missed: skipped by misfire, overlap or catch-up
/// (not by a calendar, which is intended), or started later than the job's grace period.
pub fn missed_fire(job: &Job, plan: &FirePlan, now: DateTime<Utc>) -> Option<String> {
    match &plan.decision {
        FireDecision::Skip(SkipReason::Calendar { .. }) | FireDecision::Wait => None,
        FireDecision::Skip(reason) => Some(reason.message()),
        FireDecision::Run | FireDecision::Replace => {
            let due = plan.due_at.unwrap_or(plan.scheduled_for);
            let late = now - due;
            let grace = Duration::seconds(i64::from(job.spec.policy.misfire_grace_seconds));
            (late > grace).then(|| {
                format!(
                    "started {}s late, beyond misfire_grace_seconds={}",
                    late.num_seconds(),
                    job.spec.policy.misfire_grace_seconds
                )
            })
        }
    }
}

impl AlertEvent {
    /// The stored form.
    pub fn to_value(&self) -> Value {
        json!({
            "event": self.event.as_str(),
            "tenant": self.tenant.as_str(),
            "job": {"id": self.job_id.0, "name": self.job_name},
            "run": {
                "id": self.run.id.map(|id| id.0),
                "scheduled_for": self.run.scheduled_for.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "attempt": self.run.attempt,
                "status": self.run.status.map(|s| s.as_str()),
                "error": self.run.error,
            },
            "count": self.count,
            "digest": self.digest,
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })
    }

    /// Reads the stored form; `None` when it does not read.
    pub fn from_value(value: &Value) -> Option<Self> {
        let run = value.get("run")?;
        let instant = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Some(Self {
            event: EventKind::parse(value.get("event")?.as_str()?).ok()?,
            tenant: Tenant::parse(value.get("tenant")?.as_str()?).ok()?,
            job_id: JobId(value.get("job")?.get("id")?.as_i64()?),
            job_name: value.get("job")?.get("name")?.as_str()?.to_string(),
            run: RunFacts {
                id: run.get("id").and_then(Value::as_i64).map(RunId),
                scheduled_for: instant(run.get("scheduled_for")),
                attempt: run
                    .get("attempt")
                    .and_then(Value::as_i64)
                    .and_then(|a| i32::try_from(a).ok()),
                status: run
                    .get("status")
                    .and_then(Value::as_str)
                    .and_then(|s| RunStatus::parse(s).ok()),
                error: run.get("error").and_then(Value::as_str).map(str::to_string),
            },
            count: value
                .get("count")
                .and_then(Value::as_u64)
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(1),
            digest: value
                .get("digest")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            at: instant(value.get("at"))?,
        })
    }

    /// One line saying what happened (an e-mail's subject, a chat message's first line).
    pub fn headline(&self) -> String {
        let job = &self.job_name;
        match (self.event, self.digest) {
            (EventKind::Failed, false) => format!("Job \"{job}\" failed"),
            (EventKind::Failed, true) => {
                format!("Job \"{job}\" is still failing ({} runs)", self.count)
            }
            (EventKind::TimedOut, false) => format!("Job \"{job}\" timed out"),
            (EventKind::TimedOut, true) => {
                format!("Job \"{job}\" is still timing out ({} runs)", self.count)
            }
            (EventKind::Missed, false) => format!("Job \"{job}\" missed a fire"),
            (EventKind::Missed, true) => {
                format!(
                    "Job \"{job}\" is still missing fires ({} fires)",
                    self.count
                )
            }
            (EventKind::AutoPaused, _) => {
                format!("Job \"{job}\" paused itself after repeated failures")
            }
            (EventKind::Recovered, _) => format!(
                "Job \"{job}\" recovered after {} bad run{}",
                self.count,
                if self.count == 1 { "" } else { "s" }
            ),
            (EventKind::Test, _) => "Test notification from the scheduler".to_string(),
        }
    }
}

/// Where a message's links point: the API and dashboard pages of the job and run, under the
/// server's public URL (relative paths without one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// `https://scheduler.example.com`, no trailing slash; empty: relative links.
    pub base: String,
}

impl Links {
    fn of(&self, event: &AlertEvent) -> Value {
        let base = self.base.trim_end_matches('/');
        let job = event.job_id.0;
        let mut links = json!({
            "job": format!("{base}/scheduler/jobs/{job}/"),
            "dashboard_job": format!("{base}/ui/jobs/{job}"),
        });
        if let Some(run) = event.run.id {
            links["run"] = json!(format!("{base}/scheduler/runs/{}/", run.0));
            links["dashboard_run"] = json!(format!("{base}/ui/runs/{}", run.0));
        }
        links
    }
}

/// A message rendered for one channel kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject (e-mail) or headline.
    pub subject: String,
    /// The JSON body (webhook, Slack); for e-mail, a plain-text body in `text`.
    pub body: Value,
    /// The plain text (e-mail body, Slack text).
    pub text: String,
}

/// Renders notification `id` of `event` for a channel of `kind`.
pub fn render(id: i64, event: &AlertEvent, kind: ChannelKind, links: &Links) -> Message {
    let subject = event.headline();
    let links_value = links.of(event);
    let mut lines = vec![subject.clone()];
    if let Some(at) = event.run.scheduled_for {
        lines.push(format!(
            "Fire: {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    if let (Some(status), Some(attempt)) = (event.run.status, event.run.attempt) {
        lines.push(format!("Status: {} (attempt {attempt})", status.as_str()));
    }
    if let Some(error) = &event.run.error {
        lines.push(format!("Error: {error}"));
    }
    lines.push(format!("Tenant: {}", event.tenant.as_str()));
    for key in ["dashboard_run", "dashboard_job"] {
        if let Some(link) = links_value.get(key).and_then(Value::as_str) {
            lines.push(format!("Open: {link}"));
            break;
        }
    }
    let text = lines.join("\n");
    let body = match kind {
        ChannelKind::Slack => json!({"text": text}),
        ChannelKind::Webhook | ChannelKind::Email => {
            let mut body = event.to_value();
            body["id"] = json!(id);
            body["summary"] = json!(subject);
            body["links"] = links_value;
            body
        }
    };
    Message {
        subject,
        body,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + minute * 60, 0).unwrap_or_default()
    }

    #[test]
    fn a_streak_is_one_message_then_a_digest_after_ten_more_and_an_hour() {
        let policy = DigestPolicy::default();
        let (mut state, first) = bad_event(None, EventKind::Failed, at(0), &policy);
        assert_eq!(
            first,
            Some(Alert {
                event: EventKind::Failed,
                count: 1,
                digest: false
            })
        );
        let mut told = Vec::new();
        // A failure a minute: 10 more come after 10 minutes, but the hour holds the digest.
        for minute in 1..=70 {
            let (next, alert) = bad_event(Some(state), EventKind::Failed, at(minute), &policy);
            state = next;
            told.extend(alert.map(|a| (minute, a.count, a.digest)));
        }
        assert_eq!(told, [(60, 61, true)]);
        assert_eq!(
            recovered(Some(state)),
            Some(Alert {
                event: EventKind::Recovered,
                count: 71,
                digest: false
            })
        );
        assert_eq!(recovered(None), None);
    }

    #[test]
    fn a_change_of_kind_is_a_new_message() {
        let policy = DigestPolicy::default();
        let (state, _) = bad_event(None, EventKind::Failed, at(0), &policy);
        let (state, alert) = bad_event(Some(state), EventKind::TimedOut, at(1), &policy);
        assert_eq!(
            alert.map(|a| (a.event, a.count)),
            Some((EventKind::TimedOut, 1))
        );
        assert_eq!(state.count, 1);
    }

    #[test]
    fn a_job_has_a_failure_and_a_missing_track_and_pauses_are_always_told() {
        let policy = DigestPolicy::default();
        let spec = crate::job_input::JobDraft {
            name: Some("tracked".into()),
            cron_expression: Some("0 * * * *".into()),
            ..crate::job_input::JobDraft::default()
        }
        .validate(at(0))
        .unwrap_or_else(|_| unreachable!());
        let mut job = Job {
            id: JobId(3),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            next_run: None,
            next_fire: None,
            fire_count: 0,
            pause: None,
            failure_streak: 3,
            created_at: at(0),
            updated_at: at(0),
            tenant: Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        };
        job.spec.policy.misfire_grace_seconds = 60;
        let mut tracks = JobAlerts::default();
        let ended = |status, late: i64| Sighting::Ended {
            status,
            lateness: Duration::seconds(late),
        };
        let told = |tracks: &mut JobAlerts, sighting, minute| {
            tracks
                .see(&job, sighting, at(minute), &policy)
                .map(|a| (a.event, a.count))
        };
        assert_eq!(
            told(&mut tracks, Sighting::Missed, 0),
            Some((EventKind::Missed, 1))
        );
        assert_eq!(told(&mut tracks, Sighting::Missed, 1), None);
        // A late success does not end the missing streak; failing is another track.
        assert_eq!(told(&mut tracks, ended(RunStatus::Succeeded, 600), 2), None);
        assert!(tracks.missing.is_some());
        assert_eq!(
            told(&mut tracks, ended(RunStatus::TimedOut, 0), 3),
            Some((EventKind::TimedOut, 1))
        );
        assert_eq!(
            told(&mut tracks, ended(RunStatus::Failed, 0), 4),
            Some((EventKind::Failed, 1))
        );
        assert_eq!(
            told(&mut tracks, Sighting::AutoPaused, 4),
            Some((EventKind::AutoPaused, 3))
        );
        // An on-time success ends both: the failure streak told, the missing one quietly.
        assert_eq!(
            told(&mut tracks, ended(RunStatus::Succeeded, 5), 5),
            Some((EventKind::Recovered, 1))
        );
        assert_eq!(tracks, JobAlerts::default());
        // Skipped or cancelled runs are not weighed.
        assert_eq!(told(&mut tracks, ended(RunStatus::Cancelled, 0), 6), None);
    }

    #[test]
    fn the_stored_event_reads_back_and_renders_for_each_kind() {
        let event = AlertEvent {
            event: EventKind::Failed,
            tenant: Tenant::default_tenant(),
            job_id: JobId(4),
            job_name: "nightly".into(),
            run: RunFacts {
                id: Some(RunId(9)),
                scheduled_for: Some(at(0)),
                attempt: Some(3),
                status: Some(RunStatus::Failed),
                error: Some("HTTP 500".into()),
            },
            count: 1,
            digest: false,
            at: at(1),
        };
        assert_eq!(
            AlertEvent::from_value(&event.to_value()),
            Some(event.clone())
        );
        let links = Links {
            base: "https://sched.example.com/".into(),
        };
        let hook = render(12, &event, ChannelKind::Webhook, &links);
        assert_eq!(hook.subject, "Job \"nightly\" failed");
        assert_eq!(hook.body["id"], 12);
        assert_eq!(hook.body["run"]["attempt"], 3);
        assert_eq!(
            hook.body["links"]["run"],
            "https://sched.example.com/scheduler/runs/9/"
        );
        let slack = render(12, &event, ChannelKind::Slack, &links);
        let text = slack.body["text"].as_str().unwrap_or_default();
        assert!(text.starts_with("Job \"nightly\" failed\n"), "{text}");
        assert!(text.contains("Error: HTTP 500"), "{text}");
        assert!(
            text.contains("https://sched.example.com/ui/runs/9"),
            "{text}"
        );
    }
}
