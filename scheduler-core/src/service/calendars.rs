//! The calendar use cases: a tenant's named calendars listed, read, written (every job using
//! a changed calendar recomputed by the store in the same transaction) and deleted, and a
//! job's calendar names resolved to the tenant's calendars when it is written.

use std::sync::Arc;

use crate::calendar::{Calendar, CalendarDraft, CalendarName, JobCalendars};
use crate::error::{Invalid, ServiceError, ValidationErrors};
use crate::job::JobSpec;
use crate::ports::{CalendarSaved, CalendarStore, CalendarWrite};

use super::JobService;

impl JobService {
    /// The calendar store, or `Unavailable` for a service wired without one.
    fn calendar_store(&self) -> Result<&Arc<dyn CalendarStore>, ServiceError> {
        self.calendars
            .as_ref()
            .ok_or_else(|| ServiceError::Unavailable("no calendar store is configured".into()))
    }

    /// `spec` with its calendars' copies taken from the acting tenant's calendars, when its
    /// list changed (a spec read from the store already has them).
    ///
    /// # Errors
    /// `Validation` naming `calendars` for a name the tenant has no calendar of,
    /// `Unavailable`.
    pub(crate) async fn resolve_calendars(&self, spec: JobSpec) -> Result<JobSpec, ServiceError> {
        if spec.calendars.is_resolved() {
            return Ok(spec);
        }
        let store = self.calendar_store().map_err(|_| {
            ValidationErrors::single(
                "calendars",
                Invalid::UnknownCalendar {
                    name: spec
                        .calendars
                        .names
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                },
            )
        })?;
        let calendars = self.resolved(store, spec.calendars.clone()).await?;
        Ok(JobSpec { calendars, ..spec })
    }

    /// `calendars` with the copies of the acting tenant's calendars of their names, read
    /// from `store`.
    ///
    /// # Errors
    /// `Validation` naming `calendars` for a name the tenant has no calendar of,
    /// `Unavailable`.
    async fn resolved(
        &self,
        store: &Arc<dyn CalendarStore>,
        calendars: JobCalendars,
    ) -> Result<JobCalendars, ServiceError> {
        let found = store.find(&self.principal.tenant, &calendars.names).await?;
        let defs: Vec<_> = found.into_iter().map(|calendar| calendar.def).collect();
        calendars
            .resolve(&defs)
            .map_err(|problem| ValidationErrors::single("calendars", problem).into())
    }

    /// The acting tenant's calendars, by name.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn list_calendars(&self) -> Result<Vec<Calendar>, ServiceError> {
        Ok(self.calendar_store()?.list(&self.principal.tenant).await?)
    }

    /// The acting tenant's calendar `name`.
    ///
    /// # Errors
    /// `CalendarNotFound` (also for a name no calendar could have), `Unavailable`.
    pub async fn get_calendar(&self, name: &str) -> Result<Calendar, ServiceError> {
        let name = CalendarName::parse(name).map_err(|_| ServiceError::CalendarNotFound)?;
        self.calendar_store()?
            .find(&self.principal.tenant, std::slice::from_ref(&name))
            .await?
            .into_iter()
            .next()
            .ok_or(ServiceError::CalendarNotFound)
    }

    /// Creates a calendar (`Conflict(CalendarName)` when the name is taken), or with
    /// `replace` creates or replaces the one of `draft`'s name; every job of the tenant that
    /// lists it gets the new copy and its next run recomputed, in the same transaction.
    ///
    /// # Errors
    /// `Validation` for bad input, `Conflict`, `Unavailable`.
    pub async fn save_calendar(
        &self,
        draft: CalendarDraft,
        replace: bool,
    ) -> Result<CalendarSaved, ServiceError> {
        let def = draft.validate()?;
        let now = self.now();
        let by = self.principal.key_name.clone();
        let calendar = Calendar {
            def,
            tenant: self.principal.tenant.clone(),
            created_at: now,
            updated_at: now,
            created_by: by.clone(),
            updated_by: by,
        };
        let write = if replace {
            CalendarWrite::Upsert
        } else {
            CalendarWrite::Create
        };
        let store = self.calendar_store()?;
        let before = store
            .find(&calendar.tenant, std::slice::from_ref(&calendar.def.name))
            .await?
            .into_iter()
            .next();
        let result = store.save(calendar, write, now).await;
        if let Ok(saved) = &result {
            self.cache.invalidate_jobs(&saved.jobs).await;
            self.audit(self.calendar_record(before.as_ref(), Some(&saved.calendar)))
                .await;
        }
        Ok(result?)
    }

    /// Deletes the acting tenant's calendar `name`.
    ///
    /// # Errors
    /// `CalendarNotFound`, `Conflict(CalendarInUse)` while a job lists it, `Unavailable`.
    pub async fn delete_calendar(&self, name: &str) -> Result<(), ServiceError> {
        let before = self.get_calendar(name).await?;
        self.calendar_store()?
            .delete(&self.principal.tenant, &before.def.name)
            .await
            .map_err(|error| match error {
                crate::error::RepositoryError::NotFound => ServiceError::CalendarNotFound,
                other => other.into(),
            })?;
        self.audit(self.calendar_record(Some(&before), None)).await;
        Ok(())
    }

    /// The acting tenant's calendars named in `names`, compiled (for a preview); a name the
    /// tenant has no calendar of is refused.
    ///
    /// # Errors
    /// `Validation` naming `calendars`, `Unavailable`.
    pub async fn calendar_rules(&self, names: &[String]) -> Result<JobCalendars, ServiceError> {
        let names = JobCalendars::parse_names(names)
            .map_err(|problem| ValidationErrors::single("calendars", problem))?;
        if names.is_empty() {
            return Ok(JobCalendars::default());
        }
        let calendars = JobCalendars {
            names,
            ..JobCalendars::default()
        };
        self.resolved(self.calendar_store()?, calendars).await
    }
}
