//! `JobService`: the job use cases the API calls — validation, the next-run rule, a
//! read-through cache and invalidation on every write. The run use cases are in
//! [`crate::run_service`].

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::cursor::{CursorCodec, CursorKey, Keyset};
use crate::error::TargetError;
use crate::error::{Invalid, ServiceError, ValidationErrors};
use crate::http_target::HttpTarget;
use crate::job::{BulkChange, Job, JobId, JobSpec, NewJob, PauseNote, stored_next};
use crate::job_input::{JobDraft, JobPatch};
use crate::job_query::{JobPosition, JobQuery};
use crate::notifier::{ChannelStore, Outbox};
use crate::page::{Listing, navigation};
use crate::paging::Paging;
use crate::ports::{
    AuditLog, CacheLookup, CacheReport, CalendarStore, Clock, HostResolver, JobCache, JobRepository,
};
use crate::target_guard::{HostCheck, TargetGuard};

mod apply;
mod audit_trail;
mod calendars;
mod channels;
mod declare;

pub use apply::{ApplyAction, ApplyOutcome, ApplyRequest, PlannedJob};
pub use audit_trail::{AuditFilter, AuditPage};
pub use channels::NotificationFilter;
pub use declare::Declared;

/// A pause asked for through [`JobService::pause_until`]: its note and when it ends.
pub(crate) struct PauseRequest {
    /// Why, trimmed; `None` without one.
    note: Option<String>,
    /// When the job resumes by itself.
    until: Option<DateTime<Utc>>,
}

/// The job use cases over the repository, cache and clock ports.
#[derive(Clone)]
pub struct JobService {
    /// Durable store, source of truth.
    repository: Arc<dyn JobRepository>,
    /// Read cache; consulted before the repository, invalidated after every write.
    cache: Arc<dyn JobCache>,
    /// Source of "now" for defaults and next-run computation.
    clock: Arc<dyn Clock>,
    /// Which target addresses jobs may be written with.
    target_guard: Arc<TargetGuard>,
    /// Resolves target host names for the guard; without one, only literal addresses and
    /// local-only names are checked at write time (runs are checked when they connect).
    resolver: Option<Arc<dyn HostResolver>>,
    /// Who is acting: every job read or written is the tenant's, writes record the key.
    principal: Arc<Principal>,
    /// Signs the cursors of list pages.
    cursors: Arc<CursorCodec>,
    /// The tenants' calendars, which jobs list by name; without a store, a job listing a
    /// calendar is refused.
    calendars: Option<Arc<dyn CalendarStore>>,
    /// Where every change is recorded; without a log, nothing is.
    audit: Option<Arc<dyn AuditLog>>,
    /// The tenants' notification channels.
    channels: Option<Arc<dyn ChannelStore>>,
    /// The notification outbox (test messages, listings).
    outbox: Option<Arc<dyn Outbox>>,
}

impl JobService {
    /// Wires the service to its ports. Its cursors are signed with a fixed key until
    /// [`JobService::with_cursor_key`] gives it the deployment's (the server and the embedding
    /// builder always do, with the key every replica shares): a cursor stays bound to its
    /// tenant, list and ordering either way, and a page read through one is still filtered to
    /// the caller's tenant, so the key guards against tampering within one's own lists only.
    pub fn new(
        repository: Arc<dyn JobRepository>,
        cache: Arc<dyn JobCache>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repository,
            cache,
            clock,
            target_guard: Arc::new(TargetGuard::default()),
            resolver: None,
            principal: Arc::new(Principal::unauthenticated()),
            cursors: Arc::new(CursorCodec::new(CursorKey::from_bytes([0; 32]))),
            calendars: None,
            audit: None,
            channels: None,
            outbox: None,
        }
    }

    /// The same service recording every change of a job or calendar in `log`.
    #[must_use]
    pub fn with_audit(mut self, log: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(log);
        self
    }

    /// Records `record` (when there is one and a log): after the change it describes
    /// succeeded, so a refused change leaves none. A log that fails is logged, not the
    /// change's failure (the change is stored).
    pub(crate) async fn audit(&self, record: Option<crate::audit::AuditRecord>) {
        if let (Some(log), Some(record)) = (&self.audit, record)
            && let Err(error) = log.record(record).await
        {
            tracing::error!(%error, "the audit entry of a change could not be recorded");
        }
    }

    /// The same service with the calendar store jobs' calendar names are resolved in (and
    /// the calendar use cases of [`crate::service`]'s `calendars` module work over).
    #[must_use]
    pub fn with_calendars(mut self, store: Arc<dyn CalendarStore>) -> Self {
        self.calendars = Some(store);
        self
    }

    /// The same service with the tenants' notification channels and the outbox their
    /// notifications wait in (the channel use cases of the `channels` module).
    #[must_use]
    pub fn with_channels(mut self, store: Arc<dyn ChannelStore>, outbox: Arc<dyn Outbox>) -> Self {
        self.channels = Some(store);
        self.outbox = Some(outbox);
        self
    }

    /// The same service acting for `principal`: it sees and changes only the jobs of the
    /// principal's tenant (another tenant's job is "not found"), creates jobs in it, and
    /// records the key's name as `created_by`/`updated_by`. A new service acts for
    /// [`Principal::unauthenticated`] (the `default` tenant).
    #[must_use]
    pub fn acting_as(&self, principal: Principal) -> Self {
        Self {
            principal: Arc::new(principal),
            ..self.clone()
        }
    }

    /// Who this service acts for.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Now, by the service's clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Drops job `id` from the cache (its record changed outside this service).
    pub(crate) async fn forget(&self, id: JobId) {
        self.cache.invalidate_job(id).await;
    }

    /// The job, when it is the acting tenant's.
    fn owned(&self, job: Job) -> Result<Job, ServiceError> {
        if job.tenant == self.principal.tenant {
            Ok(job)
        } else {
            Err(ServiceError::JobNotFound)
        }
    }

    /// Replaces the SSRF guard (default: refuse every forbidden address) and the resolver
    /// that checks host names at write time.
    #[must_use]
    pub fn with_target_guard(
        mut self,
        guard: TargetGuard,
        resolver: Option<Arc<dyn HostResolver>>,
    ) -> Self {
        self.target_guard = Arc::new(guard);
        self.resolver = resolver;
        self
    }

    /// Refuses a target the guard forbids: its literal address, a local-only name, or a name
    /// that resolves now to a forbidden address. A name that does not resolve now passes (it
    /// is checked again at every connect).
    async fn check_target(&self, target: Option<&HttpTarget>) -> Result<(), ServiceError> {
        match target {
            Some(target) => self.check_url("target", &target.url).await,
            None => Ok(()),
        }
    }

    /// Refuses a URL the guard forbids (see `check_target`), naming `field`.
    pub(crate) async fn check_url(&self, field: &str, url: &str) -> Result<(), ServiceError> {
        let refused = |why: String| {
            ServiceError::from(ValidationErrors::single(
                field,
                Invalid::Target(TargetError::Forbidden(why)),
            ))
        };
        let check = self
            .target_guard
            .check_url(url)
            .map_err(|r| refused(r.to_string()))?;
        if let (HostCheck::Resolve { host, port }, Some(resolver)) = (check, &self.resolver)
            && let Ok(addresses) = resolver.resolve(&host, port).await
        {
            for address in addresses {
                self.target_guard
                    .check_resolved(&host, address)
                    .map_err(|r| refused(r.to_string()))?;
            }
        }
        Ok(())
    }

    /// Validates and stores a new job with its first `next_run`.
    ///
    /// # Errors
    /// `Validation` for bad input, `Conflict` for a taken name, `Unavailable` when the store is.
    pub async fn create(&self, draft: JobDraft) -> Result<Job, ServiceError> {
        let now = self.clock.now();
        let spec = self.resolve_calendars(draft.validate(now)?).await?;
        self.check_target(spec.target.as_ref()).await?;
        let (next_run, next_fire) = stored_next(&spec, spec.next_fire(now, 0));
        let job = self
            .repository
            .insert(NewJob {
                spec,
                next_run,
                next_fire,
                created_at: now,
                tenant: self.principal.tenant.clone(),
                created_by: self.principal.key_name.clone(),
            })
            .await?;
        self.cache.invalidate_job(job.id).await;
        self.audit(crate::audit::job_record(
            &self.principal.audit_actor(),
            now,
            None,
            Some(&job),
        ))
        .await;
        Ok(job)
    }

    /// The job `id`, from the cache when present.
    ///
    /// # Errors
    /// `JobNotFound`, or `Unavailable` when the store is down and the job is not cached.
    pub async fn get(&self, id: JobId) -> Result<Job, ServiceError> {
        let ticket = match self.cache.get_job(id).await {
            CacheLookup::Hit(job) => return self.owned(job),
            CacheLookup::Miss(ticket) => ticket,
        };
        let job = self
            .repository
            .get(id)
            .await?
            .ok_or(ServiceError::JobNotFound)?;
        self.cache.put_job(&job, ticket).await;
        self.owned(job)
    }

    /// One page of the acting tenant's jobs, from the cache when present, with the links to
    /// its neighbours: numbered pages carry the exact count; cursor pages are read from an
    /// index range after the position the cursor names.
    ///
    /// # Errors
    /// `InvalidPage` for an empty numbered page after the first (as the original's
    /// paginator), `InvalidCursor` for a cursor that does not verify for this tenant and
    /// ordering, `Unavailable` when the store is down and the page is not cached.
    pub async fn list(&self, query: &JobQuery) -> Result<Listing<Job>, ServiceError> {
        let tenant = &self.principal.tenant;
        let ordering = query.ordering();
        let scope = ordering.cursor_scope();
        let keyset = match query.paging() {
            Paging::Cursor(Some(token)) => {
                let (direction, position) = self.cursors.decode(tenant, &scope, token)?;
                Some(Keyset {
                    from: Some(JobPosition::from_value(ordering.field, &position)?),
                    direction,
                })
            }
            Paging::Number(_) | Paging::Cursor(None) => None,
        };
        let slice = query.slice_for(Some(tenant.clone()), keyset);
        let page = match self.cache.get_list(&slice).await {
            CacheLookup::Hit(page) => page,
            CacheLookup::Miss(ticket) => {
                let page = self.repository.list(&slice).await?;
                self.cache.put_list(&slice, &page, ticket).await;
                page
            }
        };
        let number = query.page().unwrap_or(1);
        if query.page().is_some_and(|page| page > 1) && page.items.is_empty() {
            return Err(ServiceError::InvalidPage);
        }
        let (next, previous) = navigation(&slice.window, number, &page, |direction, job| {
            let position = JobPosition::of(job, ordering.field).to_value();
            self.cursors.encode(tenant, &scope, direction, position)
        });
        Ok(Listing {
            total: page.total,
            items: page.items,
            next,
            previous,
        })
    }

    /// Signs and reads the cursors of this service's lists (shared with the run lists).
    pub fn cursors(&self) -> &CursorCodec {
        &self.cursors
    }

    /// Replaces the cursor key (default: a random key of this process). Every replica of a
    /// deployment must use the same key, or a link made by one is refused by another.
    #[must_use]
    pub fn with_cursor_key(mut self, key: CursorKey) -> Self {
        self.cursors = Arc::new(CursorCodec::new(key));
        self
    }

    /// Applies a partial update; `next_run` is recomputed when a schedule field changes.
    ///
    /// # Errors
    /// `JobNotFound`, `Validation`, `Conflict`, `Unavailable`.
    pub async fn update(&self, id: JobId, patch: JobPatch) -> Result<Job, ServiceError> {
        let current = self.load(id).await?;
        let reschedule = patch.touches_schedule();
        let spec = patch.apply(&current.spec, self.clock.now())?;
        self.save(current, spec, reschedule, None).await
    }

    /// Replaces every writable field (absent optional fields take their defaults).
    ///
    /// # Errors
    /// `JobNotFound`, `Validation`, `Conflict`, `Unavailable`.
    pub async fn replace(&self, id: JobId, draft: JobDraft) -> Result<Job, ServiceError> {
        let current = self.load(id).await?;
        // Editing a job does not change who owns it.
        let draft = JobDraft {
            source: draft.source.or(Some(current.spec.source)),
            managed_by: draft.managed_by.or_else(|| current.spec.managed_by.clone()),
            ..draft
        };
        let spec = draft.validate_replacing(self.clock.now(), Some(&current.spec))?;
        self.save(current, spec, true, None).await
    }

    /// Deletes the job.
    ///
    /// # Errors
    /// `JobNotFound`, `Unavailable`.
    pub async fn delete(&self, id: JobId) -> Result<(), ServiceError> {
        let job = self.load(id).await?;
        let result = self.repository.delete(id).await;
        self.cache.invalidate_job(id).await;
        result?;
        let now = self.clock.now();
        self.audit(crate::audit::job_record(
            &self.principal.audit_actor(),
            now,
            Some(&job),
            None,
        ))
        .await;
        Ok(())
    }

    /// Deactivates the job: `next_run` becomes `None` until it is resumed.
    ///
    /// # Errors
    /// `JobNotFound`, `Unavailable`.
    pub async fn pause(&self, id: JobId) -> Result<Job, ServiceError> {
        self.pause_with_note(id, None).await
    }

    /// [`JobService::pause`] recording why (`note`, as written; see
    /// [`PauseNote::parse_note`]) beside who (the acting key) and when. Pausing a paused job
    /// again replaces the note.
    ///
    /// # Errors
    /// `Validation` naming `note`, `JobNotFound`, `Unavailable`.
    pub async fn pause_with_note(
        &self,
        id: JobId,
        note: Option<&str>,
    ) -> Result<Job, ServiceError> {
        self.pause_until(id, note, None).await
    }

    /// [`JobService::pause_with_note`] that resumes by itself at `until` (the dispatcher
    /// resumes it within a second or so of that instant), which must be after now.
    ///
    /// # Errors
    /// `Validation` naming `note` or `until`, `JobNotFound`, `Unavailable`.
    pub async fn pause_until(
        &self,
        id: JobId,
        note: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Job, ServiceError> {
        let mut errors = ValidationErrors::new();
        let pause = self.pause_request(&mut errors, note, until);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let current = self.load(id).await?;
        let spec = JobSpec {
            is_active: false,
            ..current.spec.clone()
        };
        self.save(current, spec, true, Some(pause)).await
    }

    /// A pause as asked for: its note read (`note` errors recorded) and its end checked to
    /// be after now (`until` errors recorded).
    fn pause_request(
        &self,
        errors: &mut ValidationErrors,
        note: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> PauseRequest {
        let note = note.and_then(|raw| errors.check("note", PauseNote::parse_note(raw)).flatten());
        if until.is_some_and(|until| until <= self.clock.now()) {
            errors.add("until", Invalid::UntilNotAhead);
        }
        PauseRequest { note, until }
    }

    /// The maintenance switch: pauses every active job of the caller's tenant whose name
    /// starts with `name_prefix` (exactly; every job without one), recording who, `note`
    /// and `until` on each as [`JobService::pause_until`] does. Returns the jobs paused.
    ///
    /// # Errors
    /// `Validation` naming `note`, `until` or `name_prefix`, `Unavailable`.
    pub async fn pause_matching(
        &self,
        name_prefix: Option<&str>,
        note: Option<&str>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<JobId>, ServiceError> {
        let mut errors = ValidationErrors::new();
        let prefix = errors.check("name_prefix", Self::name_prefix(name_prefix));
        let PauseRequest { note, until } = self.pause_request(&mut errors, note, until);
        let (Some(prefix), true) = (prefix, errors.is_empty()) else {
            return Err(errors.into());
        };
        let pause = PauseNote {
            by: self.principal.key_name.clone(),
            note,
            at: self.clock.now(),
            auto: false,
            until,
        };
        self.change_matching(&prefix, &BulkChange::Pause(pause))
            .await
    }

    /// The maintenance switch's other half: resumes every paused job of the caller's tenant
    /// whose name starts with `name_prefix` (every one without), each as
    /// [`JobService::resume`] does (next run from now). Returns the jobs resumed.
    ///
    /// # Errors
    /// `Validation` naming `name_prefix`, `Unavailable`.
    pub async fn resume_matching(
        &self,
        name_prefix: Option<&str>,
    ) -> Result<Vec<JobId>, ServiceError> {
        let prefix = Self::name_prefix(name_prefix)
            .map_err(|problem| ValidationErrors::single("name_prefix", problem))?;
        let now = self.clock.now();
        self.change_matching(&prefix, &BulkChange::Resume(now))
            .await
    }

    /// A name prefix as given: none is every job; no NUL, at most a name's length.
    fn name_prefix(raw: Option<&str>) -> Result<String, Invalid> {
        let prefix = raw.unwrap_or_default();
        crate::text::reject_nul(prefix)?;
        if prefix.chars().count() > crate::job_values::JobName::MAX_CHARS {
            return Err(Invalid::TooLong {
                max: crate::job_values::JobName::MAX_CHARS,
            });
        }
        Ok(prefix.to_string())
    }

    async fn change_matching(
        &self,
        prefix: &str,
        change: &BulkChange,
    ) -> Result<Vec<JobId>, ServiceError> {
        let result = self
            .repository
            .change_matching(
                &self.principal.tenant,
                prefix,
                change,
                self.principal.key_name.clone(),
            )
            .await;
        let changed = result?;
        let ids: Vec<JobId> = changed.iter().map(|job| job.id).collect();
        self.cache.invalidate_jobs(&ids).await;
        let now = self.clock.now();
        for job in &changed {
            // The state before: the other side of the switch, without its pause record.
            let before = Job {
                spec: JobSpec {
                    is_active: !job.spec.is_active,
                    ..job.spec.clone()
                },
                pause: None,
                ..job.clone()
            };
            self.audit(crate::audit::job_record(
                &self.principal.audit_actor(),
                now,
                Some(&before),
                Some(job),
            ))
            .await;
        }
        Ok(ids)
    }

    /// Reactivates the job; `next_run` is computed from now, so fires missed while paused are
    /// not caught up.
    ///
    /// # Errors
    /// `JobNotFound`, `Unavailable`.
    pub async fn resume(&self, id: JobId) -> Result<Job, ServiceError> {
        self.update(
            id,
            JobPatch {
                is_active: Some(true),
                ..JobPatch::default()
            },
        )
        .await
    }

    /// Whether the store answers (the cache is not consulted).
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    pub async fn check_store(&self) -> Result<(), ServiceError> {
        Ok(self.repository.ping().await?)
    }

    /// The cache's state and counters (for readiness and metrics).
    pub fn cache_report(&self) -> CacheReport {
        self.cache.report()
    }

    pub(crate) async fn load(&self, id: JobId) -> Result<Job, ServiceError> {
        let job = self
            .repository
            .get(id)
            .await?
            .ok_or(ServiceError::JobNotFound)?;
        self.owned(job)
    }

    /// Stores `spec` as the job's: `next_run` recomputed when `reschedule`; the pause note
    /// follows `is_active` (made when the job is paused — with `pause`'s note and end when
    /// pausing through [`JobService::pause_until`] — cleared when it is resumed, kept
    /// otherwise).
    pub(crate) async fn save(
        &self,
        current: Job,
        spec: JobSpec,
        reschedule: bool,
        pause: Option<PauseRequest>,
    ) -> Result<Job, ServiceError> {
        if spec.target != current.spec.target {
            self.check_target(spec.target.as_ref()).await?;
        }
        let spec = self.resolve_calendars(spec).await?;
        let now = self.clock.now();
        let id = current.id;
        let before = current.clone();
        let result = self
            .repository
            .update(self.rewritten(current, spec, reschedule, pause, now))
            .await;
        // Invalidate even on failure: the write may have reached the store before the error.
        self.cache.invalidate_job(id).await;
        let stored = result?;
        self.audit(crate::audit::job_record(
            &self.principal.audit_actor(),
            now,
            Some(&before),
            Some(&stored),
        ))
        .await;
        Ok(stored)
    }

    /// `current` with `spec` as it is to be stored at `now` by the acting key: `next_run`
    /// recomputed when `reschedule`, the pause note following `is_active` (see
    /// [`JobService::save`]).
    fn rewritten(
        &self,
        current: Job,
        spec: JobSpec,
        reschedule: bool,
        pause: Option<PauseRequest>,
        now: DateTime<Utc>,
    ) -> Job {
        let (next_run, next_fire) = if reschedule {
            stored_next(&spec, spec.next_fire(now, current.fire_count))
        } else {
            (current.next_run, current.next_fire)
        };
        let pause = match (spec.is_active, pause) {
            (true, _) => None,
            (false, Some(PauseRequest { note, until })) => Some(PauseNote {
                by: self.principal.key_name.clone(),
                note,
                at: now,
                auto: false,
                until,
            }),
            (false, None) => current.pause.clone().or_else(|| {
                Some(PauseNote {
                    by: self.principal.key_name.clone(),
                    note: None,
                    at: now,
                    auto: false,
                    until: None,
                })
            }),
        };
        Job {
            spec,
            next_run,
            next_fire,
            pause,
            updated_at: now,
            updated_by: self.principal.key_name.clone(),
            ..current
        }
    }
}

/// The page size of an audit or notification list: `raw`, default 50, 1 to
/// [`AuditFilter::MAX_PAGE_SIZE`].
///
/// # Errors
/// [`Invalid::OutOfRange`].
pub(crate) fn list_page_size(raw: Option<i64>) -> Result<u32, Invalid> {
    Some(raw.unwrap_or(50))
        .filter(|n| (1..=AuditFilter::MAX_PAGE_SIZE).contains(n))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(Invalid::OutOfRange {
            min: 1,
            max: AuditFilter::MAX_PAGE_SIZE,
        })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::error::{Conflict, RepositoryError};
    use crate::job_query::JobPage;
    use crate::job_values::JobName;
    use crate::policy::JobSource;
    use crate::ports::{CacheTicket, MockClock, MockJobCache, MockJobRepository};
    use crate::tenant::Tenant;
    use chrono::{DateTime, Utc};
    use mockall::predicate::eq;

    pub(in crate::service) fn now() -> DateTime<Utc> {
        "2025-06-23T08:00:00Z".parse().unwrap()
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        Arc::new(clock)
    }

    pub(in crate::service) fn draft() -> JobDraft {
        JobDraft {
            name: Some("weekly".into()),
            cron_expression: Some("0 9 * * 1".into()),
            start_time: Some("2025-06-23T09:00:00Z".parse().unwrap()),
            ..JobDraft::default()
        }
    }

    pub(in crate::service) fn stored(id: i64) -> Job {
        let spec = draft().validate(now()).unwrap();
        Job {
            id: JobId(id),
            next_run: spec.next_run(now(), 0),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            next_fire: None,
            created_at: now(),
            updated_at: now(),
            tenant: crate::tenant::Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    pub(in crate::service) fn service(repo: MockJobRepository, cache: MockJobCache) -> JobService {
        JobService::new(Arc::new(repo), Arc::new(cache), clock())
    }

    fn with_target(url: &str) -> JobDraft {
        JobDraft {
            target: Some(serde_json::json!({"type": "http", "url": url})),
            ..draft()
        }
    }

    fn resolving_to(ip: &'static str) -> Arc<dyn HostResolver> {
        let mut resolver = crate::ports::MockHostResolver::new();
        resolver
            .expect_resolve()
            .returning(move |_, _| Ok(vec![ip.parse().unwrap()]));
        Arc::new(resolver)
    }

    fn forbidden(result: Result<Job, ServiceError>) -> Option<String> {
        match result {
            Err(ServiceError::Validation(errors)) => errors.iter().find_map(|e| match &e.problem {
                Invalid::Target(TargetError::Forbidden(why)) if e.field == "target" => {
                    Some(why.clone())
                }
                _ => None,
            }),
            _ => None,
        }
    }

    #[tokio::test]
    async fn targets_reaching_forbidden_addresses_are_refused_before_anything_is_stored() {
        // No repository expectation: a refused job never reaches the store.
        let guarded = |ip| {
            service(MockJobRepository::new(), MockJobCache::new())
                .with_target_guard(TargetGuard::default(), Some(resolving_to(ip)))
        };
        let why = forbidden(
            guarded("127.0.0.1")
                .create(with_target("https://rebind.example/hook"))
                .await,
        );
        assert_eq!(
            why.as_deref(),
            Some("rebind.example resolves to 127.0.0.1, a loopback address")
        );
        let why = forbidden(
            guarded("93.184.216.34")
                .create(with_target("http://169.254.169.254/latest/meta-data/"))
                .await,
        );
        assert_eq!(
            why.as_deref(),
            Some("169.254.169.254 is a link-local address")
        );
        // Opened by the operator: the same name is stored.
        let mut repo = MockJobRepository::new();
        repo.expect_insert().times(1).returning(|new| {
            Ok(Job {
                spec: new.spec,
                ..stored(3)
            })
        });
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().returning(|_| ());
        let opened = service(repo, cache).with_target_guard(
            TargetGuard::from_allow_list("rebind.example").unwrap(),
            Some(resolving_to("127.0.0.1")),
        );
        assert!(
            opened
                .create(with_target("https://rebind.example/hook"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn create_computes_next_run_and_invalidates() {
        let mut repo = MockJobRepository::new();
        repo.expect_insert()
            .withf(|new| {
                new.next_run == Some("2025-06-23T09:00:00Z".parse().unwrap())
                    && new.created_at == now()
            })
            .times(1)
            .returning(|new| {
                Ok(Job {
                    id: JobId(1),
                    spec: new.spec,
                    last_run: None,
                    last_status: None,
                    last_error: None,
                    fire_count: 0,
                    pause: None,
                    failure_streak: 0,
                    next_fire: None,
                    next_run: new.next_run,
                    created_at: new.created_at,
                    updated_at: new.created_at,
                    tenant: crate::tenant::Tenant::default_tenant(),
                    created_by: None,
                    updated_by: None,
                })
            });
        let mut cache = MockJobCache::new();
        cache
            .expect_invalidate_job()
            .with(eq(JobId(1)))
            .times(1)
            .return_const(());
        let job = service(repo, cache).create(draft()).await.unwrap();
        assert_eq!(job.id, JobId(1));
    }

    #[tokio::test]
    async fn invalid_input_never_reaches_the_repository() {
        let mut repo = MockJobRepository::new();
        repo.expect_insert().never();
        let result = service(repo, MockJobCache::new())
            .create(JobDraft::default())
            .await;
        assert!(matches!(result, Err(ServiceError::Validation(_))));
    }

    #[tokio::test]
    async fn a_cache_hit_does_not_touch_the_repository() {
        let mut repo = MockJobRepository::new();
        repo.expect_get().never();
        let mut cache = MockJobCache::new();
        cache
            .expect_get_job()
            .returning(|_| CacheLookup::Hit(stored(5)));
        cache.expect_put_job().never();
        let job = service(repo, cache).get(JobId(5)).await.unwrap();
        assert_eq!(job, stored(5));
    }

    #[tokio::test]
    async fn a_cache_miss_reads_the_repository_and_stores_with_the_ticket() {
        let mut repo = MockJobRepository::new();
        repo.expect_get()
            .with(eq(JobId(5)))
            .times(1)
            .returning(|_| Ok(Some(stored(5))));
        let mut cache = MockJobCache::new();
        cache
            .expect_get_job()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(42)));
        cache
            .expect_put_job()
            .withf(|job, ticket| job.id == JobId(5) && *ticket == CacheTicket::at(42))
            .times(1)
            .return_const(());
        service(repo, cache).get(JobId(5)).await.unwrap();
    }

    #[tokio::test]
    async fn a_list_hit_does_not_touch_the_repository() {
        let mut repo = MockJobRepository::new();
        repo.expect_list().never();
        let mut cache = MockJobCache::new();
        cache
            .expect_get_list()
            .returning(|_| CacheLookup::Hit(JobPage::empty(Some(0))));
        let page = service(repo, cache)
            .list(&JobQuery::default())
            .await
            .unwrap();
        assert_eq!(page.total, Some(0));
    }

    #[tokio::test]
    async fn an_empty_page_after_the_first_is_an_invalid_page() {
        let mut repo = MockJobRepository::new();
        repo.expect_list()
            .returning(|_| Ok(JobPage::empty(Some(3))));
        let mut cache = MockJobCache::new();
        cache
            .expect_get_list()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(0)));
        cache.expect_put_list().return_const(());
        let svc = service(repo, cache);
        let second = JobQuery::new(Some(2), None, None, None).unwrap();
        assert_eq!(svc.list(&second).await, Err(ServiceError::InvalidPage));
        // The first page is never invalid, even when empty.
        assert!(svc.list(&JobQuery::default()).await.is_ok());
    }

    /// A cache that never hits and takes every put.
    fn missing_cache() -> MockJobCache {
        let mut cache = MockJobCache::new();
        cache
            .expect_get_list()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(0)));
        cache.expect_put_list().return_const(());
        cache
    }

    fn cursor_request(cursor: &str, ordering: &str) -> JobQuery {
        crate::job_query::JobListRequest {
            cursor: Some(cursor.into()),
            ordering: Some(ordering.into()),
            page_size: Some(2),
            ..Default::default()
        }
        .validate()
        .unwrap()
    }

    fn next_token(listing: &Listing<Job>) -> String {
        match &listing.next {
            Some(crate::page::PageLink::Cursor(token)) => token.clone(),
            other => panic!("no cursor link: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_next_cursor_reads_after_the_last_job_shown() {
        let mut repo = MockJobRepository::new();
        repo.expect_list()
            .withf(|slice| {
                slice.window
                    == crate::page::Window::Keyset {
                        keyset: Keyset::first(),
                        limit: 2,
                    }
            })
            .times(1)
            .returning(|_| {
                Ok(JobPage {
                    total: None,
                    items: vec![stored(3), stored(8)],
                    more: true,
                })
            });
        repo.expect_list()
            .withf(|slice| {
                slice.window
                    == crate::page::Window::Keyset {
                        keyset: Keyset {
                            from: Some(JobPosition {
                                key: crate::job_query::SortKey::Id,
                                id: JobId(8),
                            }),
                            direction: crate::cursor::Direction::Forward,
                        },
                        limit: 2,
                    }
                    && slice.filter.tenant == Some(Tenant::default_tenant())
            })
            .times(1)
            .returning(|_| Ok(JobPage::empty(None)));
        let svc = service(repo, missing_cache());
        let first = svc.list(&cursor_request("", "id")).await.unwrap();
        assert_eq!((first.total, first.previous.clone()), (None, None));
        let token = next_token(&first);
        svc.list(&cursor_request(&token, "id")).await.unwrap();
    }

    #[tokio::test]
    async fn a_cursor_is_refused_for_another_tenant_or_ordering() {
        let mut repo = MockJobRepository::new();
        repo.expect_list().times(1).returning(|_| {
            Ok(JobPage {
                total: None,
                items: vec![stored(3)],
                more: true,
            })
        });
        let svc = service(repo, missing_cache());
        let token = next_token(&svc.list(&cursor_request("", "id")).await.unwrap());
        let other = svc.acting_as(Principal {
            tenant: Tenant::parse("team-b").unwrap(),
            ..Principal::unauthenticated()
        });
        for (service, ordering, cursor) in [
            (&other, "id", token.as_str()),
            (&svc, "-id", token.as_str()),
            (&svc, "id", "not-a-cursor"),
        ] {
            assert_eq!(
                service.list(&cursor_request(cursor, ordering)).await,
                Err(ServiceError::InvalidCursor),
                "{ordering} {cursor}"
            );
        }
    }

    #[tokio::test]
    async fn unknown_job_is_not_found() {
        let mut repo = MockJobRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        let mut cache = MockJobCache::new();
        cache
            .expect_get_job()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(0)));
        let result = service(repo, cache).get(JobId(9)).await;
        assert_eq!(result, Err(ServiceError::JobNotFound));
    }

    #[tokio::test]
    async fn update_reads_the_store_writes_and_invalidates() {
        let mut repo = MockJobRepository::new();
        repo.expect_get().returning(|id| Ok(Some(stored(id.0))));
        repo.expect_update()
            .withf(|job| job.spec.description.as_str() == "changed" && job.updated_at == now())
            .times(1)
            .returning(Ok);
        let mut cache = MockJobCache::new();
        cache.expect_get_job().never();
        cache
            .expect_invalidate_job()
            .with(eq(JobId(3)))
            .times(1)
            .return_const(());
        let patch = JobPatch {
            description: Some("changed".into()),
            ..JobPatch::default()
        };
        service(repo, cache).update(JobId(3), patch).await.unwrap();
    }

    #[tokio::test]
    async fn pause_clears_next_run_and_resume_recomputes_it_from_now() {
        let mut repo = MockJobRepository::new();
        repo.expect_get().returning(|id| {
            let mut job = stored(id.0);
            job.spec.start_time = "2025-01-01T00:00:00Z".parse().unwrap();
            Ok(Some(job))
        });
        repo.expect_update().returning(Ok);
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().times(2).return_const(());
        let svc = service(repo, cache);
        let paused = svc.pause(JobId(1)).await.unwrap();
        assert!(!paused.spec.is_active);
        assert_eq!(paused.next_run, None);
        let resumed = svc.resume(JobId(1)).await.unwrap();
        assert!(resumed.spec.is_active);
        assert_eq!(
            resumed.next_run,
            Some("2025-06-23T09:00:00Z".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn delete_invalidates_and_maps_missing_rows_to_not_found() {
        let mut repo = MockJobRepository::new();
        // Found, then gone before the delete (another request deleted it).
        repo.expect_get().returning(|id| Ok(Some(stored(id.0))));
        repo.expect_delete()
            .returning(|_| Err(RepositoryError::NotFound));
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().times(1).return_const(());
        let result = service(repo, cache).delete(JobId(1)).await;
        assert_eq!(result, Err(ServiceError::JobNotFound));
    }

    #[tokio::test]
    async fn a_duplicate_name_becomes_a_name_conflict() {
        let mut repo = MockJobRepository::new();
        repo.expect_insert()
            .returning(|_| Err(RepositoryError::Conflict(Conflict::JobName)));
        let result = service(repo, MockJobCache::new()).create(draft()).await;
        assert_eq!(result, Err(ServiceError::Conflict(Conflict::JobName)));
    }

    #[tokio::test]
    async fn a_store_outage_becomes_unavailable() {
        let mut repo = MockJobRepository::new();
        repo.expect_list()
            .returning(|_| Err(RepositoryError::Unavailable("connection refused".into())));
        let mut cache = MockJobCache::new();
        cache
            .expect_get_list()
            .returning(|_| CacheLookup::Miss(CacheTicket::at(0)));
        let result = service(repo, cache).list(&JobQuery::default()).await;
        assert!(matches!(result, Err(ServiceError::Unavailable(_))));
    }

    fn declared(id: i64) -> Job {
        let mut job = stored(id);
        job.spec.source = JobSource::Code;
        job
    }

    #[tokio::test]
    async fn a_declaration_that_lost_the_create_race_finds_the_job_equal() {
        let mut repo = MockJobRepository::new();
        let mut reads = 0;
        repo.expect_find_by_name().times(2).returning(move |_, _| {
            reads += 1;
            Ok((reads > 1).then(|| declared(9)))
        });
        repo.expect_insert()
            .times(1)
            .returning(|_| Err(RepositoryError::Conflict(Conflict::JobName)));
        repo.expect_update().never();
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().returning(|_| ());
        let (job, outcome) = service(repo, cache).declare(draft()).await.unwrap();
        assert_eq!((job.id, outcome), (JobId(9), Declared::Unchanged));
    }

    #[tokio::test]
    async fn a_changed_declaration_rewrites_the_job_and_keeps_it_paused() {
        let mut repo = MockJobRepository::new();
        repo.expect_find_by_name().returning(|_, _| {
            let mut job = declared(9);
            job.spec.is_active = false;
            job.next_run = None;
            Ok(Some(job))
        });
        repo.expect_update()
            .withf(|job| {
                job.spec.schedule.written() == "0 10 * * 1"
                    && !job.spec.is_active
                    && job.next_run.is_none()
                    && job.spec.source == JobSource::Code
            })
            .times(1)
            .returning(Ok);
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().returning(|_| ());
        let changed = JobDraft {
            cron_expression: Some("0 10 * * 1".into()),
            ..draft()
        };
        let (_, outcome) = service(repo, cache).declare(changed).await.unwrap();
        assert_eq!(outcome, Declared::Updated);
    }

    #[tokio::test]
    async fn pruning_deletes_only_undeclared_code_jobs() {
        let mut repo = MockJobRepository::new();
        repo.expect_list_by_source()
            .with(eq(Tenant::default_tenant()), eq(JobSource::Code))
            .returning(|_, _| {
                let mut other = declared(2);
                other.spec.name = JobName::parse("gone").unwrap();
                Ok(vec![declared(1), other])
            });
        repo.expect_get()
            .with(eq(JobId(2)))
            .returning(|_| Ok(Some(declared(2))));
        repo.expect_delete()
            .with(eq(JobId(2)))
            .times(1)
            .returning(|_| Ok(()));
        let mut cache = MockJobCache::new();
        cache.expect_invalidate_job().returning(|_| ());
        let removed = service(repo, cache)
            .prune_declared(&["weekly"])
            .await
            .unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].spec.name.as_str(), "gone");
    }
}
