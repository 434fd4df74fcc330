//! Per-host flow control: an operator's limits for one receiving host (by
//! [`crate::http_target::HttpTarget::host_key`]) — deliveries in flight across every replica
//! (`parallel`) and a rate (`rate`, with `burst`) kept by GCRA — and the rule a claim applies
//! to them: which of a claim's fires for a limited host run now, and until when the host is
//! held back from claims when some had to wait ([`crate::claim::HostHold`]), so that no
//! delivery slot is taken by a fire that must wait.
//!
//! The limits are configuration (the same on every replica, `SCHEDULER_HOST_LIMITS`); the
//! rate's state (its theoretical arrival time) and the count of running deliveries live in
//! the store, read and written in the claim's transaction, so replicas share one budget.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::job::Job;
use crate::plan::{FireDecision, FirePlan};
use crate::text::{setting, whole_number};

/// How long a host at its `parallel` limit is held back from claims before a claim looks at
/// it again (a delivery's end is not announced to the other replicas).
pub const PARALLEL_RECHECK: Duration = Duration::from_millis(500);

/// A rate: `requests` per `per`, with bursts of up to `burst` requests at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period (at least 1).
    pub requests: u32,
    /// The period (a second, a minute or an hour).
    pub per: Duration,
    /// Requests that may go at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl Rate {
    /// The time one request uses of the budget: `per / requests` (GCRA's emission interval).
    fn interval(&self) -> chrono::Duration {
        let nanos = self.per.as_nanos() / u128::from(self.requests.max(1));
        chrono::Duration::nanoseconds(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    /// How far ahead of now the budget may be spent: `(burst - 1)` intervals.
    fn tolerance(&self) -> chrono::Duration {
        self.interval() * i32::try_from(self.burst.max(1) - 1).unwrap_or(i32::MAX)
    }
}

/// An operator's limits for one receiving host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLimit {
    /// The host key the limits apply to.
    pub host: String,
    /// Most deliveries to it running at once, across every replica.
    pub parallel: Option<u32>,
    /// Most deliveries started per period, across every replica.
    pub rate: Option<Rate>,
}

/// What the store knows of a limited host when a claim looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostUse {
    /// Its deliveries `running` now (every replica's).
    pub running: u32,
    /// Its rate's theoretical arrival time (`None`: never used).
    pub tat: Option<DateTime<Utc>>,
}

/// What a claim may start for one host, and what to store afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// How many of the wanted fires start now (the earliest ones).
    pub admitted: usize,
    /// The rate's new theoretical arrival time (`None` for a host without a rate).
    pub tat: Option<DateTime<Utc>>,
    /// When some fires had to wait: hold the host back from claims until then.
    pub hold_until: Option<DateTime<Utc>>,
}

impl HostLimit {
    /// Admits up to `wanted` deliveries to this host at `now`, given its `used` state: no
    /// more than `parallel - running`, and no more than the rate allows (GCRA: each start
    /// moves the arrival time one interval on; a start is allowed while the arrival time is
    /// at most `tolerance` ahead of now). When fewer than `wanted` are admitted, the host is
    /// held until the next start could be allowed (the rate), or [`PARALLEL_RECHECK`].
    pub fn admit(&self, used: &HostUse, now: DateTime<Utc>, wanted: usize) -> Admission {
        let room = self.parallel.map_or(usize::MAX, |max| {
            usize::try_from(max.saturating_sub(used.running)).unwrap_or(usize::MAX)
        });
        let mut tat = used.tat.map_or(now, |tat| tat.max(now));
        let mut admitted = 0;
        let mut hold_until = None;
        while admitted < wanted {
            if admitted >= room {
                hold_until =
                    Some(now + chrono::Duration::from_std(PARALLEL_RECHECK).unwrap_or_default());
                break;
            }
            if let Some(rate) = self.rate {
                if tat - now > rate.tolerance() {
                    hold_until = Some(tat - rate.tolerance());
                    break;
                }
                tat = tat.max(now) + rate.interval();
            }
            admitted += 1;
        }
        Admission {
            admitted,
            tat: self.rate.map(|_| tat),
            hold_until,
        }
    }
}

/// Every host's limits, by host key: what `SCHEDULER_HOST_LIMITS` says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostLimits(BTreeMap<String, HostLimit>);

impl HostLimits {
    /// Reads limits written as entries separated by `;` or new lines, each a host key
    /// followed by settings: `parallel=N`, `rate=N/s` (or `/min`, `/h`), `burst=N` (only
    /// with a rate; default 1). E.g. `api.example.com parallel=4 rate=10/s burst=5;
    /// hooks.internal:8080 rate=120/min`.
    ///
    /// # Errors
    /// What is wrong, naming the entry: an unknown setting, a number out of range, a host
    /// given twice, an entry without a limit.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::text::limit_entries(text, "host", |entry| {
            parse_entry(entry).map(|limit| (limit.host.clone(), limit))
        })
        .map(Self)
    }

    /// The limits of `host`, if it has any.
    pub fn get(&self, host: &str) -> Option<&HostLimit> {
        self.0.get(host)
    }

    /// True when no host is limited.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The limited hosts among the deliveries of `planned` that would run, in host order.
    pub fn hosts_in(&self, planned: &[(Job, FirePlan)]) -> Vec<String> {
        let mut hosts: Vec<String> = planned
            .iter()
            .filter_map(|(job, plan)| delivery_host(job, plan))
            .filter(|host| self.0.contains_key(host))
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Applies the limits to a claim's `planned` fires (in claim order) given what the store
    /// knows of each limited host (`used`; a host missing there is unused): returns the
    /// fires that go on (every fire of an unlimited host, every fire that does not run, and
    /// the earliest admitted ones of each limited host), the ones left due for a later claim
    /// (not written: their `next_run` stays), and each limited host's admission.
    pub fn admit_claim(
        &self,
        planned: Vec<(Job, FirePlan)>,
        used: &HashMap<String, HostUse>,
        now: DateTime<Utc>,
    ) -> AdmittedClaim {
        let mut wanted: BTreeMap<&str, usize> = BTreeMap::new();
        for (job, plan) in &planned {
            if let Some(host) = delivery_host(job, plan)
                && let Some((key, _)) = self.0.get_key_value(&host)
            {
                *wanted.entry(key.as_str()).or_default() += 1;
            }
        }
        let admissions: BTreeMap<String, Admission> = wanted
            .into_iter()
            .map(|(host, wanted)| {
                let limit = &self.0[host];
                let state = used.get(host).copied().unwrap_or_default();
                (host.to_string(), limit.admit(&state, now, wanted))
            })
            .collect();
        let mut left_for_host: HashMap<&str, usize> = admissions
            .iter()
            .map(|(host, admission)| (host.as_str(), admission.admitted))
            .collect();
        let mut kept = Vec::with_capacity(planned.len());
        let mut left = Vec::new();
        for (job, plan) in planned {
            let admitted = match delivery_host(&job, &plan) {
                Some(host) => match left_for_host.get_mut(host.as_str()) {
                    Some(0) => false,
                    Some(room) => {
                        *room -= 1;
                        true
                    }
                    None => true,
                },
                None => true,
            };
            if admitted {
                kept.push((job, plan));
            } else {
                left.push(job);
            }
        }
        AdmittedClaim {
            planned: kept,
            left,
            admissions: admissions.into_iter().collect(),
        }
    }
}

/// A claim after its limited hosts' admission.
#[derive(Debug, Clone)]
pub struct AdmittedClaim {
    /// The fires that go on, in claim order.
    pub planned: Vec<(Job, FirePlan)>,
    /// The jobs whose fire waits for a later claim (nothing is written for them).
    pub left: Vec<Job>,
    /// Each limited host of the claim and its admission (store the `tat`, hold the host
    /// until `hold_until`).
    pub admissions: Vec<(String, Admission)>,
}

/// The host a planned fire delivers to, when it delivers (runs, with a target).
fn delivery_host(job: &Job, plan: &FirePlan) -> Option<String> {
    match plan.decision {
        FireDecision::Run | FireDecision::Replace => job
            .spec
            .target
            .as_ref()
            .map(crate::http_target::HttpTarget::host_key),
        _ => None,
    }
}

/// One entry: `host setting=value ...`.
fn parse_entry(entry: &str) -> Result<HostLimit, String> {
    let mut words = entry.split_whitespace();
    let host = words.next().unwrap_or_default().to_ascii_lowercase();
    if host.contains('=') || host.contains('/') || host.contains("://") {
        return Err("start with the host key (host or host:port as in the URL)".into());
    }
    let (mut parallel, mut rate, mut burst) = (None, None, None);
    for word in words {
        let (name, value) = setting(word)?;
        match name {
            "parallel" => parallel = Some(count(name, value)?),
            "rate" => rate = Some(parse_rate(value)?),
            "burst" => burst = Some(count(name, value)?),
            other => {
                return Err(format!(
                    "unknown setting \"{other}\" (parallel, rate, burst)"
                ));
            }
        }
    }
    let rate = match (rate, burst) {
        (Some((requests, per)), burst) => Some(Rate {
            requests,
            per,
            burst: burst.unwrap_or(1),
        }),
        (None, Some(_)) => return Err("burst is for a rate: give rate=N/s too".into()),
        (None, None) => None,
    };
    if parallel.is_none() && rate.is_none() {
        return Err("give parallel=N, rate=N/s or both".into());
    }
    Ok(HostLimit {
        host,
        parallel,
        rate,
    })
}

/// A count from 1 to 1,000,000.
fn count(name: &str, value: &str) -> Result<u32, String> {
    whole_number(name, value, 1_000_000)
}

/// `N/s`, `N/min` or `N/h`.
fn parse_rate(value: &str) -> Result<(u32, Duration), String> {
    let (n, unit) = value
        .split_once('/')
        .ok_or_else(|| format!("rate must be N/s, N/min or N/h, not \"{value}\""))?;
    let per = match unit {
        "s" => Duration::from_secs(1),
        "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3_600),
        _ => return Err(format!("rate must be N/s, N/min or N/h, not \"{value}\"")),
    };
    Ok((count("rate", n)?, per))
}

impl fmt::Display for HostLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(parallel) = self.parallel {
            write!(f, " parallel={parallel}")?;
        }
        if let Some(rate) = self.rate {
            let unit = match rate.per.as_secs() {
                1 => "s",
                60 => "min",
                _ => "h",
            };
            write!(f, " rate={}/{unit} burst={}", rate.requests, rate.burst)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobDraft;
    use crate::job::Job;
    use crate::plan::SkipReason;
    use crate::{JobId, Tenant};

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        utc("2025-06-23T09:00:00Z")
    }

    fn ms(n: i64) -> chrono::Duration {
        chrono::Duration::milliseconds(n)
    }

    fn limit(text: &str) -> HostLimit {
        HostLimits::parse(text)
            .unwrap()
            .0
            .into_values()
            .next()
            .unwrap()
    }

    #[test]
    fn limits_are_read_from_entries_and_written_back_the_same() {
        let limits = HostLimits::parse(
            " API.example.com parallel=4 rate=10/s burst=5;\nhooks.internal:8080 rate=120/min\n\n",
        )
        .unwrap();
        let api = limits.get("api.example.com").unwrap();
        assert_eq!(api.parallel, Some(4));
        assert_eq!(
            api.rate,
            Some(Rate {
                requests: 10,
                per: Duration::from_secs(1),
                burst: 5
            })
        );
        assert_eq!(
            api.to_string(),
            "api.example.com parallel=4 rate=10/s burst=5"
        );
        let hooks = limits.get("hooks.internal:8080").unwrap();
        assert_eq!(
            (hooks.parallel, hooks.rate.map(|r| r.burst)),
            (None, Some(1))
        );
        assert_eq!(
            hooks.to_string(),
            "hooks.internal:8080 rate=120/min burst=1"
        );
        assert!(HostLimits::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_wrong_entry_is_refused_with_what_is_wrong() {
        for (text, why) in [
            ("a.example", "give parallel=N, rate=N/s or both"),
            (
                "a.example parallel=0",
                "parallel must be a whole number from 1 to 1000000",
            ),
            ("a.example parallel=x", "parallel must be a whole number"),
            ("a.example rate=5", "rate must be N/s, N/min or N/h"),
            ("a.example rate=5/day", "rate must be N/s, N/min or N/h"),
            ("a.example rate=-1/s", "rate must be a whole number"),
            ("a.example burst=3", "burst is for a rate"),
            ("a.example speed=3", "unknown setting \"speed\""),
            ("a.example parallel", "\"parallel\" is not name=value"),
            ("https://a.example rate=1/s", "start with the host key"),
            (
                "a.example parallel=1; A.example rate=1/s",
                "host a.example is given twice",
            ),
        ] {
            let error = HostLimits::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.starts_with("host limit \""), "{error}");
        }
    }

    #[test]
    fn parallel_admits_what_room_is_left_across_replicas() {
        let limit = limit("h parallel=3");
        let used = HostUse {
            running: 2,
            tat: None,
        };
        let admission = limit.admit(&used, now(), 5);
        assert_eq!(admission.admitted, 1);
        assert_eq!(admission.tat, None);
        assert_eq!(admission.hold_until, Some(now() + ms(500)));
        // Room for every fire: no hold.
        let admission = limit.admit(&HostUse::default(), now(), 3);
        assert_eq!((admission.admitted, admission.hold_until), (3, None));
        // More running than the limit (it was lowered): nothing, no panic.
        let over = HostUse {
            running: 9,
            tat: None,
        };
        assert_eq!(limit.admit(&over, now(), 2).admitted, 0);
    }

    #[test]
    fn the_rate_admits_a_burst_then_one_per_interval() {
        let limit = limit("h rate=1/s burst=3");
        let first = limit.admit(&HostUse::default(), now(), 5);
        assert_eq!(first.admitted, 3, "the burst");
        assert_eq!(first.tat, Some(now() + ms(3_000)));
        assert_eq!(
            first.hold_until,
            Some(now() + ms(1_000)),
            "the next start's time"
        );
        // At the hold's end one more start is allowed, then a second's wait again.
        let later = now() + ms(1_000);
        let used = HostUse {
            running: 0,
            tat: first.tat,
        };
        let second = limit.admit(&used, later, 2);
        assert_eq!(second.admitted, 1);
        assert_eq!(second.hold_until, Some(later + ms(1_000)));
        // Before it, none.
        let early = limit.admit(&used, now() + ms(999), 1);
        assert_eq!((early.admitted, early.tat), (0, first.tat));
        // After a quiet spell the burst is back, not more.
        let quiet = HostUse {
            running: 0,
            tat: Some(now() - ms(60_000)),
        };
        assert_eq!(limit.admit(&quiet, now(), 10).admitted, 3);
    }

    #[test]
    fn a_rate_without_burst_spaces_every_start() {
        let limit = limit("h rate=2/s parallel=10");
        let admission = limit.admit(&HostUse::default(), now(), 4);
        assert_eq!(admission.admitted, 1);
        assert_eq!(admission.tat, Some(now() + ms(500)));
        assert_eq!(admission.hold_until, Some(now() + ms(500)));
    }

    fn delivery(id: i64, url: Option<&str>) -> Job {
        let spec = JobDraft {
            name: Some(format!("j{id}")),
            cron_expression: Some("* * * * *".into()),
            start_time: Some(utc("2025-01-01T00:00:00Z")),
            target: url.map(|url| serde_json::json!({"type": "http", "url": url})),
            ..JobDraft::default()
        }
        .validate(utc("2025-01-01T00:00:00Z"))
        .unwrap();
        Job {
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
            tenant: Tenant::default_tenant(),
            created_by: None,
            updated_by: None,
        }
    }

    fn plan(decision: FireDecision) -> FirePlan {
        FirePlan {
            scheduled_for: now(),
            due_at: None,
            decision,
            next_run: Some(now() + ms(60_000)),
            next_fire: None,
            fire_count: 1,
        }
    }

    #[test]
    fn a_claim_keeps_the_earliest_admitted_fires_of_each_limited_host_and_every_other() {
        let limits = HostLimits::parse("slow.example parallel=2; paced.example rate=1/s").unwrap();
        let planned = vec![
            (
                delivery(1, Some("https://slow.example/a")),
                plan(FireDecision::Run),
            ),
            (
                delivery(2, Some("https://free.example/a")),
                plan(FireDecision::Run),
            ),
            // A skipped fire does not deliver: it is written, and uses no room.
            (
                delivery(3, Some("https://slow.example/b")),
                plan(FireDecision::Skip(SkipReason::Misfire {
                    late_seconds: 120,
                    grace_seconds: 60,
                })),
            ),
            (
                delivery(4, Some("https://SLOW.example/c")),
                plan(FireDecision::Run),
            ),
            (
                delivery(5, Some("https://slow.example/d")),
                plan(FireDecision::Run),
            ),
            (
                delivery(6, Some("https://paced.example/")),
                plan(FireDecision::Run),
            ),
            (delivery(7, None), plan(FireDecision::Run)),
            (
                delivery(8, Some("https://paced.example/")),
                plan(FireDecision::Replace),
            ),
        ];
        assert_eq!(limits.hosts_in(&planned), ["paced.example", "slow.example"]);
        let used = HashMap::from([(
            "slow.example".to_string(),
            HostUse {
                running: 0,
                tat: None,
            },
        )]);
        let claim = limits.admit_claim(planned, &used, now());
        let kept: Vec<i64> = claim.planned.iter().map(|(job, _)| job.id.0).collect();
        assert_eq!(kept, [1, 2, 3, 4, 6, 7]);
        let left: Vec<i64> = claim.left.iter().map(|job| job.id.0).collect();
        assert_eq!(left, [5, 8]);
        let hosts: Vec<(&str, usize, Option<DateTime<Utc>>)> = claim
            .admissions
            .iter()
            .map(|(host, a)| (host.as_str(), a.admitted, a.hold_until))
            .collect();
        assert_eq!(
            hosts,
            [
                ("paced.example", 1, Some(now() + ms(1_000))),
                ("slow.example", 2, Some(now() + ms(500))),
            ]
        );
    }
}
