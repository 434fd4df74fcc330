//! # scheduler-core
//!
//! The pure domain of the scheduler: jobs, standard cron schedules evaluated in IANA time
//! zones, the ports (traits) the core needs from the world, and the use cases over them.
//! No database, cache, HTTP or web-framework crate is used here; adapters live in
//! `scheduler-adapters` and the REST server in `scheduler-server`.
//!
//! Validate an expression and list its next runs:
//!
//! ```
//! use chrono::{DateTime, Utc};
//! use scheduler_core::{CronSchedule, Timezone};
//!
//! let schedule = CronSchedule::parse("0 9 * * MON").expect("a valid expression");
//! let tz = Timezone::parse("Europe/London").expect("a known zone");
//! let from: DateTime<Utc> = "2025-06-23T00:00:00Z".parse().unwrap();
//! let next: Vec<String> = schedule
//!     .upcoming(from, tz.tz(), 3)
//!     .iter()
//!     .map(|t| t.to_rfc3339())
//!     .collect();
//! // 09:00 in London is 08:00 UTC in summer.
//! assert_eq!(next, [
//!     "2025-06-23T08:00:00+00:00",
//!     "2025-06-30T08:00:00+00:00",
//!     "2025-07-07T08:00:00+00:00",
//! ]);
//!
//! let error = CronSchedule::parse("0 0 9 * * 1").unwrap_err();
//! assert!(error.to_string().contains("seconds and years are not supported"));
//! ```

pub mod alert;
pub mod audit;
pub mod auth;
pub mod backfill;
pub mod calendar;
mod capacity;
pub mod channel;
pub mod claim;
pub mod cursor;
pub mod dispatcher;
pub mod entropy;
pub mod error;
pub mod executors;
pub mod host_limit;
pub mod http_target;
pub mod job;
pub mod job_input;
pub mod job_query;
pub mod job_state;
pub mod job_values;
pub mod notifier;
pub mod page;
pub mod paging;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod presence;
pub mod preview;
mod recorder;
pub mod retention;
pub mod run;
pub mod run_output;
pub mod run_query;
pub mod run_service;
pub mod run_stats;
pub mod run_status;
pub mod schedule;
pub mod service;
pub mod signing;
pub mod sync;
pub mod target_guard;
pub mod tenant;
pub mod tenant_limit;
pub mod text;
pub mod timing;
pub mod wire;

pub use alert::{
    Alert, AlertEvent, AlertState, AlertTrack, DigestPolicy, JobAlerts, Links, Message, RunFacts,
    Sighting, bad_event, missed_fire, recovered, render,
};
pub use audit::{
    Actor, AuditAction, AuditEntry, AuditKind, AuditRecord, FieldChange, diff, job_fields,
    job_record,
};
pub use auth::{
    ApiKey, KEY_PREFIX, KeyService, KeyStore, NewApiKey, Principal, Scope, generate_key, hash_key,
};
pub use calendar::{
    Calendar, CalendarDef, CalendarDraft, CalendarEntry, CalendarName, CalendarRules, JobCalendars,
    OnExcluded,
};
pub use channel::{Channel, ChannelDef, ChannelDraft, ChannelKind, ChannelName, EventKind};
pub use claim::{ClaimBatch, ClaimRequest, ClaimedRun, FinishedRun, HostHold, Recovered};
pub use cursor::{CursorCodec, CursorKey, Direction, InvalidCursor, Keyset, MAX_TOKEN_CHARS};
pub use dispatcher::{
    ActionFuture, ActionHandler, ActionHandlers, Dispatcher, DispatcherConfig, DispatcherHealth,
    RoutingExecutor, TickOutcome,
};
pub use entropy::{SeededEntropy, random_token};
pub use error::{
    Conflict, FieldError, Invalid, RepositoryError, ServiceError, TargetError, ValidationErrors,
};
pub use host_limit::{Admission, AdmittedClaim, HostLimit, HostLimits, HostUse, Rate};
pub use http_target::{HttpTarget, host_key};
pub use job::{BulkChange, Job, JobChanges, JobId, JobSpec, NewJob, PauseNote, ScheduleStatus};
pub use job_input::{JobDraft, JobPatch};
pub use job_query::{
    JobFilter, JobListRequest, JobOrdering, JobPage, JobPosition, JobQuery, JobSlice, OrderField,
    SortKey,
};
pub use job_state::{
    CancelPlan, FiredJob, ManualPlan, StatusWrite, StreakChange, failure_streaks,
    outcome_status_writes, plan_cancel, plan_manual,
};
pub use job_values::{Description, JobName, Owner, Parameters, Timezone};
pub use notifier::{
    ChannelSender, ChannelStore, ClaimedNotification, NoNotifierTelemetry, Notification,
    NotificationQuery, NotificationStatus, Notifier, NotifierConfig, NotifierTelemetry, Outbox,
    OutboxDepth, Settlement,
};
pub use page::{Listing, Page, PageLink, Window};
pub use paging::{PageRequest, Paging};
pub use plan::{
    Execution, ExecutionKind, FireDecision, FirePlan, MAX_THROTTLES, NextAttempt,
    RETRY_AFTER_BOUNDS, RecoveryCause, RecoveryPlan, RetryPlan, RunOutcome, SkipReason,
    needs_running_check, next_claim_size, plan_fire, plan_outcome, plan_recovery, plan_retry,
};
pub use policy::{ConcurrencyPolicy, JobSource, MisfirePolicy, PolicyInput, RunPolicy};
pub use ports::{
    AuditLog, AuditQuery, CacheLookup, CacheReport, CacheStatus, CacheTicket, CalendarSaved,
    CalendarStore, CalendarWrite, Clock, Entropy, Executed, HostResolver, JobCache, JobExecutor,
    JobRepository, NoTelemetry, RunStore, Telemetry,
};
pub use presence::{PRESENCE_EVERY, WorkerPresence};
pub use preview::{Preview, PreviewRequest};
pub use retention::{Retention, RetentionConfig};
pub use run::{ErrorText, Run, RunId};
pub use run_output::RunOutput;
pub use run_query::{RunFilter, RunListRequest, RunPage, RunQuery, RunSlice};
pub use run_service::{Backfilled, JobRun, RunService};
pub use run_stats::{DayStats, HourBucket, Lateness, RunSample, RunSamples, RunStats};
pub use run_status::{RunStatus, RunTrigger};
pub use schedule::{CronParseError, CronSchedule, DstOverlap};
pub use service::{
    ApplyAction, ApplyOutcome, ApplyRequest, Declared, JobService, NotificationFilter, PlannedJob,
};
pub use signing::{
    SIGNATURE_HEADER, SigningSecret, SigningService, SigningStore, signature_header, verify,
};
pub use sync::lock;
pub use target_guard::{HostCheck, TargetGuard, TargetRefusal, forbidden_reason};
pub use tenant::Tenant;
pub use tenant_limit::{TenantLimit, TenantLimits};
pub use text::reject_nul;
pub use timing::{Interval, Schedule};
pub use wire::WireEnum;
