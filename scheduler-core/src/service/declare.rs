//! Schedules declared in code: a program's jobs reconciled with the store at every start
//! (created, rewritten, or left as they are), and the ones it no longer declares pruned.

use crate::error::{Conflict, ServiceError, ValidationErrors};
use crate::job::Job;
use crate::job_input::JobDraft;
use crate::job_values::JobName;
use crate::policy::JobSource;

use super::JobService;

/// What [`JobService::declare`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// No job had the name: created.
    Created,
    /// The stored job differed: rewritten, `next_run` recomputed.
    Updated,
    /// The stored job already matched.
    Unchanged,
}

impl JobService {
    /// The job named `name`, read from the store.
    ///
    /// # Errors
    /// `JobNotFound` (also for a name no job could have), `Unavailable`.
    pub async fn find_by_name(&self, name: &str) -> Result<Job, ServiceError> {
        let Ok(name) = JobName::parse(name) else {
            return Err(ServiceError::JobNotFound);
        };
        self.repository
            .find_by_name(&self.principal.tenant, &name)
            .await?
            .ok_or(ServiceError::JobNotFound)
    }

    /// Reconciles a job a program declares in code with the store: creates it when no job has
    /// its name, rewrites it when a declared field (expression, time zone, parameters,
    /// description, policy, window, target) differs, and leaves it as it is otherwise — so a
    /// program can declare its schedules at every start, and several processes can start at
    /// once: of concurrent creates one wins and the others find it equal. Whether the job is
    /// paused is the operator's: a declared job paused through the API stays paused. The job
    /// becomes [`JobSource::Code`] (so [`JobService::prune_declared`] may remove it later).
    /// `next_run` is recomputed only when the job changed.
    ///
    /// # Errors
    /// `Validation` for a bad declaration, `Unavailable` when the store is.
    pub async fn declare(&self, draft: JobDraft) -> Result<(Job, Declared), ServiceError> {
        let draft = JobDraft {
            source: Some(JobSource::Code),
            ..draft
        };
        let name = match JobName::parse(draft.name.as_deref().unwrap_or_default()) {
            Ok(name) => name,
            Err(invalid) => {
                // Let validation word every problem of the declaration at once.
                draft.clone().validate(self.clock.now())?;
                return Err(ValidationErrors::single("name", invalid).into());
            }
        };
        // A create lost to a concurrent one is followed by a read that finds it; a job deleted
        // between the read and the write is created again. Three rounds settle any such race.
        for _ in 0..3 {
            let Some(current) = self
                .repository
                .find_by_name(&self.principal.tenant, &name)
                .await?
            else {
                match self.create(draft.clone()).await {
                    Ok(job) => return Ok((job, Declared::Created)),
                    Err(ServiceError::Conflict(Conflict::JobName)) => continue,
                    Err(other) => return Err(other),
                }
            };
            let wanted = JobDraft {
                is_active: Some(current.spec.is_active),
                start_time: draft.start_time.or(Some(current.spec.start_time)),
                ..draft.clone()
            }
            // Against the current job: a one-off whose instant passed, declared again
            // unchanged, is kept rather than refused as "in the past".
            .validate_replacing(self.clock.now(), Some(&current.spec))?;
            let wanted = self.resolve_calendars(wanted).await?;
            if wanted == current.spec {
                return Ok((current, Declared::Unchanged));
            }
            match self.save(current, wanted, true, None).await {
                Ok(job) => return Ok((job, Declared::Updated)),
                Err(ServiceError::JobNotFound) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(ServiceError::Unavailable(format!(
            "the job \"{}\" kept changing while it was declared",
            name.as_str()
        )))
    }

    /// Deletes every job declared in code ([`JobSource::Code`]) whose name is not in `keep`,
    /// and returns them. Jobs created through the API are never touched.
    ///
    /// # Errors
    /// `Unavailable` when the store is.
    pub async fn prune_declared(&self, keep: &[&str]) -> Result<Vec<Job>, ServiceError> {
        let mut removed = Vec::new();
        for job in self
            .repository
            .list_by_source(&self.principal.tenant, JobSource::Code)
            .await?
        {
            if keep.contains(&job.spec.name.as_str()) {
                continue;
            }
            match self.delete(job.id).await {
                // Another process pruned it first.
                Ok(()) | Err(ServiceError::JobNotFound) => removed.push(job),
                Err(other) => return Err(other),
            }
        }
        Ok(removed)
    }
}
