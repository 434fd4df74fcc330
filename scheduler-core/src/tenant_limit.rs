//! Per-tenant shares and caps: an operator's `weight` for a tenant (its share of each claim
//! while several tenants have due fires: `weight / sum of the weights of the tenants with due
//! fires`, 1 by default) and `running` (most runs of the tenant executing at once across
//! every replica). Parsed from `SCHEDULER_TENANT_LIMITS`; the claim applies the weights when
//! it picks rows and the caps, with [`TenantLimits::admit_claim`], in its transaction.

use std::collections::{BTreeMap, HashMap};

use crate::job::Job;
use crate::plan::{FireDecision, FirePlan};
use crate::tenant::Tenant;
use crate::text::{setting, whole_number};

/// The largest weight (a tenant 1,000 times another's share).
pub const MAX_WEIGHT: u32 = 1_000;

/// An operator's settings for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimit {
    /// The tenant.
    pub tenant: Tenant,
    /// Its share of a claim relative to other tenants with due fires (1 to [`MAX_WEIGHT`]).
    pub weight: u32,
    /// Most runs of the tenant executing at once, across every replica.
    pub running: Option<u32>,
}

/// Every tenant's settings: what `SCHEDULER_TENANT_LIMITS` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantLimits(BTreeMap<String, TenantLimit>);

impl TenantLimits {
    /// Reads entries separated by `;` or new lines, each a tenant followed by `weight=N`
    /// and/or `running=N`; e.g. `payments weight=4; batch weight=1 running=200`.
    ///
    /// # Errors
    /// What is wrong, naming the entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::text::limit_entries(text, "tenant", |entry| {
            parse_entry(entry).map(|limit| (limit.tenant.as_str().to_string(), limit))
        })
        .map(Self)
    }

    /// The settings of `tenant`, if any.
    pub fn get(&self, tenant: &str) -> Option<&TenantLimit> {
        self.0.get(tenant)
    }

    /// The weights other than 1, by tenant (what the claim's share computation reads; a
    /// tenant missing here weighs 1).
    pub fn weights(&self) -> BTreeMap<&str, u32> {
        self.0
            .iter()
            .filter(|(_, limit)| limit.weight != 1)
            .map(|(tenant, limit)| (tenant.as_str(), limit.weight))
            .collect()
    }

    /// The tenants with a `running` cap among the fires of `planned` that run, sorted.
    pub fn capped_in(&self, planned: &[(Job, FirePlan)]) -> Vec<String> {
        let mut tenants: Vec<String> = planned
            .iter()
            .filter(|(_, plan)| runs(plan))
            .map(|(job, _)| job.tenant.as_str())
            .filter(|tenant| self.get(tenant).is_some_and(|l| l.running.is_some()))
            .map(str::to_string)
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        tenants
    }

    /// Applies the `running` caps to a claim's `planned` fires (in claim order), given each
    /// capped tenant's runs executing now (`running`; missing is 0): the fires that go on
    /// (the earliest that fit under each cap, every fire that does not run, every fire of an
    /// uncapped tenant) and the jobs left due for a later claim.
    pub fn admit_claim(
        &self,
        planned: Vec<(Job, FirePlan)>,
        running: &HashMap<String, u32>,
    ) -> (Vec<(Job, FirePlan)>, Vec<Job>) {
        let mut room: HashMap<&str, u32> = self
            .0
            .iter()
            .filter_map(|(tenant, limit)| {
                let cap = limit.running?;
                let used = running.get(tenant).copied().unwrap_or(0);
                Some((tenant.as_str(), cap.saturating_sub(used)))
            })
            .collect();
        let mut kept = Vec::with_capacity(planned.len());
        let mut left = Vec::new();
        for (job, plan) in planned {
            let admitted = !runs(&plan)
                || match room.get_mut(job.tenant.as_str()) {
                    None => true,
                    Some(0) => false,
                    Some(free) => {
                        *free -= 1;
                        true
                    }
                };
            if admitted {
                kept.push((job, plan));
            } else {
                left.push(job);
            }
        }
        (kept, left)
    }
}

/// Whether a planned fire executes (and so counts against a cap).
fn runs(plan: &FirePlan) -> bool {
    matches!(plan.decision, FireDecision::Run | FireDecision::Replace)
}

/// One entry: `tenant setting=value ...`.
fn parse_entry(entry: &str) -> Result<TenantLimit, String> {
    let mut words = entry.split_whitespace();
    let name = words.next().unwrap_or_default();
    if name.contains('=') {
        return Err("start with the tenant's name".into());
    }
    let tenant = Tenant::parse(name).map_err(|_| {
        format!(
            "\"{name}\" is not a tenant: 1-64 characters of a-z, 0-9, - and _, starting \
             with a letter or digit"
        )
    })?;
    let (mut weight, mut running) = (None, None);
    for word in words {
        let (name, value) = setting(word)?;
        match name {
            "weight" => weight = Some(whole_number(name, value, MAX_WEIGHT)?),
            "running" => running = Some(whole_number(name, value, 1_000_000)?),
            other => return Err(format!("unknown setting \"{other}\" (weight, running)")),
        }
    }
    if weight.is_none() && running.is_none() {
        return Err("give weight=N, running=N or both".into());
    }
    Ok(TenantLimit {
        tenant,
        weight: weight.unwrap_or(1),
        running,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobDraft;
    use crate::JobId;
    use crate::plan::SkipReason;
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        "2025-06-23T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn limits_are_read_from_entries() {
        let limits =
            TenantLimits::parse("payments weight=4;\n batch weight=1 running=200\n").unwrap();
        assert_eq!(
            limits.get("payments").map(|l| (l.weight, l.running)),
            Some((4, None))
        );
        assert_eq!(
            limits.get("batch").map(|l| (l.weight, l.running)),
            Some((1, Some(200)))
        );
        assert_eq!(limits.weights(), BTreeMap::from([("payments", 4)]));
        assert!(TenantLimits::parse("").unwrap().weights().is_empty());
    }

    #[test]
    fn a_wrong_entry_is_refused_with_what_is_wrong() {
        for (text, why) in [
            ("payments", "give weight=N, running=N or both"),
            (
                "payments weight=0",
                "weight must be a whole number from 1 to 1000",
            ),
            (
                "payments weight=1001",
                "weight must be a whole number from 1 to 1000",
            ),
            ("payments running=x", "running must be a whole number"),
            ("payments share=2", "unknown setting \"share\""),
            ("Payments weight=2", "tenant"),
            ("weight=2", "start with the tenant's name"),
            ("a weight=2; a running=3", "tenant a is given twice"),
        ] {
            let error = TenantLimits::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.starts_with("tenant limit \""), "{error}");
        }
    }

    fn fire(id: i64, tenant: &str, decision: FireDecision) -> (Job, FirePlan) {
        let spec = JobDraft {
            name: Some(format!("j{id}")),
            cron_expression: Some("* * * * *".into()),
            ..JobDraft::default()
        }
        .validate(now())
        .unwrap();
        let job = Job {
            id: JobId(id),
            spec,
            last_run: None,
            last_status: None,
            last_error: None,
            fire_count: 0,
            pause: None,
            failure_streak: 0,
            next_fire: None,
            next_run: Some(now()),
            created_at: now(),
            updated_at: now(),
            tenant: Tenant::parse(tenant).unwrap(),
            created_by: None,
            updated_by: None,
        };
        let plan = FirePlan {
            scheduled_for: now(),
            due_at: None,
            decision,
            next_run: None,
            next_fire: None,
            fire_count: 1,
        };
        (job, plan)
    }

    #[test]
    fn a_capped_tenant_starts_what_fits_under_its_cap_earliest_first() {
        let limits = TenantLimits::parse("batch running=3; payments weight=4").unwrap();
        let skip = FireDecision::Skip(SkipReason::Misfire {
            late_seconds: 90,
            grace_seconds: 60,
        });
        let planned = vec![
            fire(1, "batch", FireDecision::Run),
            fire(2, "payments", FireDecision::Run),
            fire(3, "batch", skip),
            fire(4, "batch", FireDecision::Replace),
            fire(5, "batch", FireDecision::Run),
            fire(6, "default", FireDecision::Run),
        ];
        assert_eq!(limits.capped_in(&planned), ["batch"]);
        let running = HashMap::from([("batch".to_string(), 1)]);
        let (kept, left) = limits.admit_claim(planned, &running);
        let kept: Vec<i64> = kept.iter().map(|(job, _)| job.id.0).collect();
        assert_eq!(kept, [1, 2, 3, 4, 6]);
        let left: Vec<i64> = left.iter().map(|job| job.id.0).collect();
        assert_eq!(left, [5]);
        // At its cap (or over it, after the cap was lowered): none of its fires start.
        let full = HashMap::from([("batch".to_string(), 7)]);
        let (kept, left) = limits.admit_claim(vec![fire(9, "batch", FireDecision::Run)], &full);
        assert!(kept.is_empty());
        assert_eq!(left.len(), 1);
    }
}
