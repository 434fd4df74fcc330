//! Schedules kept in files (`schedulerctl apply`): one owner's set of jobs made to match a
//! file in one transaction — created, rewritten, left as they are and, when asked, the ones
//! the file no longer lists deleted — or, with a dry run, only the plan of it.

use std::collections::{HashMap, HashSet};

use crate::error::{Invalid, ServiceError, ValidationErrors};
use crate::job::{Job, JobChanges, JobId, JobSpec, NewJob, stored_next};
use crate::job_input::JobDraft;
use crate::job_values::{JobName, Owner};
use crate::policy::JobSource;

use super::JobService;

/// One apply: the owner's whole set as a file lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyRequest {
    /// Whose set it is (the file's `owner`), as received.
    pub owner: String,
    /// Every job of the set; a job absent from the file but managed by `owner` is deleted
    /// only when `prune` is set.
    pub jobs: Vec<JobDraft>,
    /// Delete the jobs `owner` manages that `jobs` does not list.
    pub prune: bool,
    /// Take over a listed job no file manages yet (created through the API) instead of
    /// refusing its name.
    pub adopt: bool,
    /// Plan only: validate and compare, write nothing.
    pub dry_run: bool,
    /// Errors found while reading the raw input (`jobs[i]` for an item that is no job:
    /// that job is not checked again); reported with the domain's.
    pub input_errors: ValidationErrors,
}

/// What an apply does (or, in a dry run, would do) to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ApplyAction {
    /// No job had the name: created.
    Create,
    /// The stored job differed from the file: rewritten.
    Update,
    /// The stored job already matched the file.
    Unchanged,
    /// Managed by the owner, absent from the file, and pruning: deleted.
    Delete,
}

/// One job of an apply's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    /// What happens to it.
    pub action: ApplyAction,
    /// The job as stored before (none for a create).
    pub before: Option<Job>,
    /// The job as the file makes it (none for a delete): as stored after a real apply; in a
    /// dry run the job as it would be written (a create's id is then 0).
    pub after: Option<Job>,
}

impl PlannedJob {
    /// The job's name.
    pub fn name(&self) -> &str {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .map_or("", |job| job.spec.name.as_str())
    }
}

/// What an apply planned and whether it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOutcome {
    /// Whose set it was.
    pub owner: Owner,
    /// True when the changes were written (false for a dry run).
    pub applied: bool,
    /// Every job of the plan: the file's jobs in file order, then the deletes.
    pub jobs: Vec<PlannedJob>,
}

impl ApplyOutcome {
    /// How many jobs take `action`.
    pub fn count(&self, action: ApplyAction) -> usize {
        self.jobs.iter().filter(|job| job.action == action).count()
    }

    /// True when the store differs from the file (something to create, update or delete).
    pub fn drifted(&self) -> bool {
        self.jobs
            .iter()
            .any(|job| job.action != ApplyAction::Unchanged)
    }
}

/// Adds `errors` under `jobs[index].`.
fn add_prefixed(all: &mut ValidationErrors, index: usize, errors: &ValidationErrors) {
    for error in errors.iter() {
        all.add(
            format!("jobs[{index}].{}", error.field),
            error.problem.clone(),
        );
    }
}

/// The validation errors of `result` under `jobs[index].`, any other error as it is.
fn prefixed<T>(
    all: &mut ValidationErrors,
    index: usize,
    result: Result<T, ServiceError>,
) -> Result<Option<T>, ServiceError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ServiceError::Validation(errors)) => {
            add_prefixed(all, index, &errors);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

impl JobService {
    /// The most jobs one apply may list.
    pub const MAX_APPLY_JOBS: usize = 5_000;

    /// Makes `owner`'s set match the file: a job the file lists is created when no job has
    /// its name, rewritten when a field differs (whether it is paused stays the operator's
    /// when the file does not say, and `start_time` is kept when the file gives none) and
    /// left as it is otherwise; with `prune`, the jobs `owner` manages that the file does
    /// not list are deleted. Every job is validated before anything is written, and every
    /// write is made in one transaction: an apply changes all it planned, or nothing.
    ///
    /// A listed name that belongs to a job `owner` does not manage (another owner's,
    /// declared in code, or created through the API) is refused, not taken over — except
    /// that `adopt` takes over a job created through the API that no file manages.
    ///
    /// # Errors
    /// `Validation` naming `owner`, `jobs`, or `jobs[i].<field>` for every problem at once;
    /// `Conflict` when a job of a listed name was created meanwhile (nothing was written:
    /// apply again); `Unavailable`.
    pub async fn apply(&self, request: ApplyRequest) -> Result<ApplyOutcome, ServiceError> {
        let mut errors = request.input_errors.clone();
        let owner = if errors.has("owner") {
            None
        } else {
            errors.check("owner", Owner::parse(&request.owner))
        };
        if request.jobs.len() > Self::MAX_APPLY_JOBS {
            errors.add(
                "jobs",
                Invalid::TooMany {
                    max: Self::MAX_APPLY_JOBS,
                },
            );
        }
        let mut names = Vec::with_capacity(request.jobs.len());
        let mut seen = HashSet::new();
        for (index, draft) in request.jobs.iter().enumerate() {
            if errors.has(&format!("jobs[{index}]")) {
                continue;
            }
            let raw = draft.name.as_deref().unwrap_or_default();
            match JobName::parse(raw) {
                Ok(name) if !seen.insert(name.as_str().to_string()) => errors.add(
                    format!("jobs[{index}].name"),
                    Invalid::DuplicateName {
                        name: name.as_str().to_string(),
                    },
                ),
                Ok(name) => names.push(name),
                // Validation below words it with the job's other problems.
                Err(_) => {}
            }
        }
        let Some(owner) = owner.filter(|_| !errors.has("jobs")) else {
            return Err(errors.into());
        };
        let tenant = &self.principal.tenant;
        let current: HashMap<String, Job> = self
            .repository
            .list_for_apply(tenant, &owner, &names)
            .await?
            .into_iter()
            .map(|job| (job.spec.name.as_str().to_string(), job))
            .collect();
        let now = self.clock.now();
        let mut plan = Vec::with_capacity(request.jobs.len());
        for (index, draft) in request.jobs.into_iter().enumerate() {
            if errors.has(&format!("jobs[{index}]")) {
                continue;
            }
            let draft = JobDraft {
                managed_by: Some(owner.clone()),
                ..draft
            };
            let existing = draft
                .name
                .as_deref()
                .and_then(|raw| JobName::parse(raw).ok())
                .and_then(|name| current.get(name.as_str()));
            let Some(existing) = existing else {
                let draft = JobDraft {
                    source: None,
                    ..draft
                };
                let checked = self
                    .checked(&mut errors, index, draft.validate(now), None)
                    .await?;
                let Some(spec) = checked else { continue };
                let (next_run, next_fire) = stored_next(&spec, spec.next_fire(now, 0));
                plan.push(PlannedJob {
                    action: ApplyAction::Create,
                    before: None,
                    after: Some(Job::from_new(
                        JobId(0),
                        NewJob {
                            spec,
                            next_run,
                            next_fire,
                            created_at: now,
                            tenant: tenant.clone(),
                            created_by: self.principal.key_name.clone(),
                        },
                    )),
                });
                continue;
            };
            let adoptable = request.adopt
                && existing.spec.managed_by.is_none()
                && existing.spec.source == JobSource::Api;
            if existing.spec.managed_by.as_ref() != Some(&owner) && !adoptable {
                errors.add(
                    format!("jobs[{index}].name"),
                    Invalid::ManagedElsewhere {
                        name: existing.spec.name.as_str().to_string(),
                        owner: existing
                            .spec
                            .managed_by
                            .as_ref()
                            .map(|o| o.as_str().to_string()),
                    },
                );
                continue;
            }
            let wanted = JobDraft {
                is_active: draft.is_active.or(Some(existing.spec.is_active)),
                start_time: draft.start_time.or(Some(existing.spec.start_time)),
                source: Some(existing.spec.source),
                ..draft
            }
            // Against the stored job: a one-off whose instant passed, applied again
            // unchanged, is kept rather than refused as "in the past"; masked header values
            // keep the stored ones.
            .validate_replacing(now, Some(&existing.spec));
            let checked = self
                .checked(&mut errors, index, wanted, Some(&existing.spec))
                .await?;
            let Some(wanted) = checked else { continue };
            if wanted == existing.spec {
                plan.push(PlannedJob {
                    action: ApplyAction::Unchanged,
                    before: Some(existing.clone()),
                    after: Some(existing.clone()),
                });
                continue;
            }
            plan.push(PlannedJob {
                action: ApplyAction::Update,
                before: Some(existing.clone()),
                after: Some(self.rewritten(existing.clone(), wanted, true, None, now)),
            });
        }
        if request.prune {
            let listed: HashSet<&str> = names.iter().map(JobName::as_str).collect();
            let mut gone: Vec<&Job> = current
                .values()
                .filter(|job| job.spec.managed_by.as_ref() == Some(&owner))
                .filter(|job| !listed.contains(job.spec.name.as_str()))
                .collect();
            gone.sort_by_key(|job| job.id);
            plan.extend(gone.into_iter().map(|job| PlannedJob {
                action: ApplyAction::Delete,
                before: Some(job.clone()),
                after: None,
            }));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if request.dry_run {
            return Ok(ApplyOutcome {
                owner,
                applied: false,
                jobs: plan,
            });
        }
        self.write_plan(owner, plan).await
    }

    /// A listed job's spec as it would be written: `validated` with its calendars resolved and
    /// its target checked by the guard (unless it is `previous`'s), or `None` with every
    /// problem recorded under `jobs[index].`.
    ///
    /// # Errors
    /// Any error but a validation one (the store, the calendars' store).
    async fn checked(
        &self,
        errors: &mut ValidationErrors,
        index: usize,
        validated: Result<JobSpec, ValidationErrors>,
        previous: Option<&JobSpec>,
    ) -> Result<Option<JobSpec>, ServiceError> {
        let spec = match validated {
            Ok(spec) => prefixed(errors, index, self.resolve_calendars(spec).await)?,
            Err(invalid) => {
                add_prefixed(errors, index, &invalid);
                None
            }
        };
        let Some(spec) = spec else { return Ok(None) };
        if previous.is_some_and(|previous| previous.target == spec.target) {
            return Ok(Some(spec));
        }
        let target = self.check_target(spec.target.as_ref()).await;
        Ok(prefixed(errors, index, target)?.map(|()| spec))
    }

    /// Writes a validated plan in one transaction, then forgets the cached copies and
    /// records each change in the audit trail.
    async fn write_plan(
        &self,
        owner: Owner,
        mut plan: Vec<PlannedJob>,
    ) -> Result<ApplyOutcome, ServiceError> {
        let mut changes = JobChanges::default();
        for job in &plan {
            match (job.action, &job.after, &job.before) {
                (ApplyAction::Create, Some(after), _) => changes.inserts.push(NewJob {
                    spec: after.spec.clone(),
                    next_run: after.next_run,
                    next_fire: after.next_fire,
                    created_at: after.created_at,
                    tenant: after.tenant.clone(),
                    created_by: after.created_by.clone(),
                }),
                (ApplyAction::Update, Some(after), _) => changes.updates.push(after.clone()),
                (ApplyAction::Delete, _, Some(before)) => changes.deletes.push(before.id),
                _ => {}
            }
        }
        if !changes.is_empty() {
            let inserted = changes.inserts.len();
            let deleted = changes.deletes.clone();
            let updated: Vec<_> = changes.updates.iter().map(|job| job.id).collect();
            let result = self.repository.apply_changes(changes).await;
            // Forget even on failure: a write may have reached the store before the error.
            for id in updated.iter().chain(&deleted) {
                self.forget(*id).await;
            }
            // Inserts come back first, then updates, each in plan order.
            let mut stored = result?;
            let mut updates = stored.split_off(stored.len().min(inserted)).into_iter();
            let mut inserts = stored.into_iter();
            for job in &mut plan {
                match job.action {
                    ApplyAction::Create => job.after = inserts.next(),
                    ApplyAction::Update => job.after = updates.next(),
                    ApplyAction::Unchanged | ApplyAction::Delete => {}
                }
            }
            let now = self.clock.now();
            for job in &plan {
                if job.action == ApplyAction::Unchanged {
                    continue;
                }
                if let (ApplyAction::Create, Some(after)) = (job.action, &job.after) {
                    self.forget(after.id).await;
                }
                self.audit(crate::audit::job_record(
                    &self.principal.audit_actor(),
                    now,
                    job.before.as_ref(),
                    job.after.as_ref(),
                ))
                .await;
            }
        }
        Ok(ApplyOutcome {
            owner,
            applied: true,
            jobs: plan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockJobCache, MockJobRepository};
    use crate::service::tests::{draft, service, stored};

    fn managed(id: i64) -> Job {
        let mut job = stored(id);
        job.spec.managed_by = Some(Owner::parse("team-a").unwrap());
        job
    }

    fn request(jobs: Vec<JobDraft>) -> ApplyRequest {
        ApplyRequest {
            owner: "team-a".into(),
            jobs,
            ..ApplyRequest::default()
        }
    }

    /// A repository that shows `current` and fails the test if anything is written.
    fn read_only(current: Vec<Job>) -> MockJobRepository {
        let mut repo = MockJobRepository::new();
        repo.expect_list_for_apply()
            .returning(move |_, _, _| Ok(current.clone()));
        repo.expect_apply_changes().never();
        repo
    }

    #[tokio::test]
    async fn a_bad_file_is_refused_whole_and_nothing_is_written() {
        let repo = read_only(Vec::new());
        let bad = JobDraft {
            cron_expression: Some("61 * * * *".into()),
            ..draft()
        };
        let twice = request(vec![draft(), draft()]);
        let outcome = service(repo, MockJobCache::new()).apply(twice).await;
        let Err(ServiceError::Validation(errors)) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(errors.has("jobs[1].name"), "{errors}");
        // A job's own problems are named after it, all at once, and nothing is written.
        let outcome = service(read_only(Vec::new()), MockJobCache::new())
            .apply(ApplyRequest {
                owner: "not an owner".into(),
                ..request(vec![bad])
            })
            .await;
        let Err(ServiceError::Validation(errors)) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(errors.has("owner"), "{errors}");
        let outcome = service(read_only(Vec::new()), MockJobCache::new())
            .apply(request(vec![
                draft(),
                JobDraft {
                    name: Some("other".into()),
                    cron_expression: Some("61 * * * *".into()),
                    ..draft()
                },
            ]))
            .await;
        let Err(ServiceError::Validation(errors)) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(errors.has("jobs[1].cron_expression"), "{errors}");
        assert!(!errors.has("jobs[0].name"), "{errors}");
    }

    #[tokio::test]
    async fn a_dry_run_and_a_matching_file_write_nothing() {
        // The store holds the file's job: unchanged, nothing written.
        let outcome = service(read_only(vec![managed(7)]), MockJobCache::new())
            .apply(request(vec![draft()]))
            .await
            .unwrap();
        assert_eq!(outcome.count(ApplyAction::Unchanged), 1);
        assert!(outcome.applied && !outcome.drifted());
        // A dry run of a create, an update and a prune plans them and writes nothing.
        let mut other = managed(8);
        other.spec.name = JobName::parse("gone").unwrap();
        let plan = service(read_only(vec![managed(7), other]), MockJobCache::new())
            .apply(ApplyRequest {
                prune: true,
                dry_run: true,
                ..request(vec![
                    JobDraft {
                        description: Some("changed".into()),
                        ..draft()
                    },
                    JobDraft {
                        name: Some("fresh".into()),
                        ..draft()
                    },
                ])
            })
            .await
            .unwrap();
        let actions: Vec<(&str, ApplyAction)> = plan
            .jobs
            .iter()
            .map(|job| (job.name(), job.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("weekly", ApplyAction::Update),
                ("fresh", ApplyAction::Create),
                ("gone", ApplyAction::Delete)
            ]
        );
        assert!(!plan.applied && plan.drifted());
    }

    #[tokio::test]
    async fn a_job_another_owner_manages_is_refused_and_never_pruned() {
        let mut theirs = stored(7);
        theirs.spec.managed_by = Some(Owner::parse("team-b").unwrap());
        let outcome = service(read_only(vec![theirs.clone()]), MockJobCache::new())
            .apply(ApplyRequest {
                adopt: true,
                ..request(vec![draft()])
            })
            .await;
        let Err(ServiceError::Validation(errors)) = outcome else {
            panic!("{outcome:?}")
        };
        assert!(errors.has("jobs[0].name"), "{errors}");
        // Listed by name only: another owner's job is not pruned by an empty file.
        let pruned = service(read_only(vec![theirs]), MockJobCache::new())
            .apply(ApplyRequest {
                prune: true,
                ..request(Vec::new())
            })
            .await
            .unwrap();
        assert!(pruned.jobs.is_empty());
    }

    #[tokio::test]
    async fn the_plan_is_written_in_one_call_and_the_cache_forgets_each_job() {
        let mut repo = MockJobRepository::new();
        repo.expect_list_for_apply()
            .returning(|_, _, _| Ok(vec![managed(7)]));
        repo.expect_apply_changes()
            .times(1)
            .withf(|changes| {
                changes.inserts.len() == 1
                    && changes.updates.len() == 1
                    && changes.updates[0].spec.description.as_str() == "changed"
                    && changes.deletes.is_empty()
            })
            .returning(|changes| {
                let mut stored = vec![Job::from_new(JobId(9), changes.inserts[0].clone())];
                stored.extend(changes.updates);
                Ok(stored)
            });
        let mut cache = MockJobCache::new();
        cache
            .expect_invalidate_job()
            .withf(|id| [JobId(7), JobId(9)].contains(id))
            .times(2)
            .return_const(());
        let outcome = service(repo, cache)
            .apply(request(vec![
                JobDraft {
                    name: Some("fresh".into()),
                    ..draft()
                },
                JobDraft {
                    description: Some("changed".into()),
                    ..draft()
                },
            ]))
            .await
            .unwrap();
        let ids: Vec<Option<JobId>> = outcome
            .jobs
            .iter()
            .map(|job| job.after.as_ref().map(|after| after.id))
            .collect();
        assert_eq!(ids, vec![Some(JobId(9)), Some(JobId(7))]);
        assert!(outcome.applied);
    }
}
