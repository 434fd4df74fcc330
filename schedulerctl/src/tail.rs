//! `runs tail`: follow runs as they start and finish by polling the newest page of the runs
//! list (`/scheduler/runs/`, or one job's). Each run is printed when first seen, and once
//! more when a run seen `running` reaches a final status. Runs that existed at the start are
//! not printed, except those running then, which are printed when they finish.
//!
//! Stops at Ctrl-C (exit 0), after `--for` (exit 0; 8 if `--count` was not reached), or
//! once `--count` runs have been printed with a final status (exit 0). A server that cannot
//! be reached, or answers 429/502/503/504, is retried at the next poll with one warning.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::Value;

use crate::cli::TailArgs;
use crate::client::Client;
use crate::failure::Failure;
use crate::listing::{next_query, page_parts};
use crate::output::{self, Format};
use crate::paths::runs_path;
use crate::tables;

/// Runs asked for per poll; more new runs than this between two polls are read from the
/// following pages, up to [`CATCH_UP_PAGES`].
const PAGE_SIZE: u64 = 100;

/// Pages read in one poll when every run on them is new (a burst of runs).
const CATCH_UP_PAGES: usize = 10;

/// What the follower knows of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Seen running; `printed` is false for a run that was running at the start.
    Running {
        /// Whether it was printed.
        printed: bool,
    },
    /// Seen in a final status (printed, or existing at the start).
    Final,
}

/// The pure part of `runs tail`: which runs it has seen, and what a new observation adds.
#[derive(Debug, Default)]
pub(crate) struct Follower {
    /// Runs seen, by id.
    known: HashMap<i64, Known>,
    /// Runs printed with a final status.
    finished: u64,
}

impl Follower {
    /// Records the runs that exist at the start, printing nothing.
    pub(crate) fn baseline(&mut self, runs: &[Value]) -> Result<(), Failure> {
        for run in runs {
            let known = if is_running(run) {
                Known::Running { printed: false }
            } else {
                Known::Final
            };
            self.known.insert(run_id(run)?, known);
        }
        Ok(())
    }

    /// The runs of `runs` to print (oldest first): those never seen, and those seen
    /// running that no longer are.
    pub(crate) fn observe(&mut self, runs: &[Value]) -> Result<Vec<Value>, Failure> {
        let mut ordered = runs
            .iter()
            .map(|run| Ok((run_id(run)?, run)))
            .collect::<Result<Vec<_>, Failure>>()?;
        ordered.sort_by_key(|(id, _)| *id);
        let mut print = Vec::new();
        for (id, run) in ordered {
            let running = is_running(run);
            let now = if running {
                Known::Running { printed: true }
            } else {
                Known::Final
            };
            let news = match self.known.entry(id) {
                Entry::Vacant(entry) => {
                    entry.insert(now);
                    true
                }
                Entry::Occupied(mut entry) => {
                    let was_running = matches!(entry.get(), Known::Running { .. });
                    if was_running && !running {
                        entry.insert(Known::Final);
                    }
                    was_running && !running
                }
            };
            if news {
                if !running {
                    self.finished = self.finished.saturating_add(1);
                }
                print.push(run.clone());
            }
        }
        Ok(print)
    }

    /// Runs known to be running that `seen` (ids of the latest poll) does not hold: they
    /// fell off the newest page and are asked for one by one.
    pub(crate) fn running_beyond(&self, seen: &[i64]) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .known
            .iter()
            .filter(|(id, known)| matches!(known, Known::Running { .. }) && !seen.contains(id))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Forgets a run (deleted with its job, or pruned).
    pub(crate) fn forget(&mut self, id: i64) {
        self.known.remove(&id);
    }

    /// Forgets finished runs older than `oldest` (the oldest id of the newest page): newer
    /// ones are never below it, so memory stays bounded by a page or so.
    pub(crate) fn prune_below(&mut self, oldest: i64) {
        self.known
            .retain(|id, known| *id >= oldest || matches!(known, Known::Running { .. }));
    }

    /// How many runs were printed with a final status.
    pub(crate) fn finished(&self) -> u64 {
        self.finished
    }

    /// Whether an id was seen, for the catch-up of a burst.
    fn knows(&self, id: i64) -> bool {
        self.known.contains_key(&id)
    }
}

/// A run's id, or a bad answer.
fn run_id(run: &Value) -> Result<i64, Failure> {
    run.get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| Failure::BadAnswer("a run without a numeric \"id\"".into()))
}

/// Whether a run is still running.
fn is_running(run: &Value) -> bool {
    run.get("status").and_then(Value::as_str) == Some("running")
}

/// How following ended.
enum Ended {
    /// `--count` reached, or a failure.
    Done(Result<(), Failure>),
    /// Ctrl-C.
    Interrupted,
    /// `--for` ran out.
    Deadline,
}

/// `runs tail`.
pub(crate) async fn follow(
    client: &Client,
    format: Format,
    args: &TailArgs,
) -> Result<(), Failure> {
    let mut follower = Follower::default();
    let deadline = async {
        match args.for_ {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let interrupted = async {
        // Without a signal handler, only --for, --count or a kill end the command.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let ended = tokio::select! {
        result = follow_until_count(client, format, args, &mut follower) => Ended::Done(result),
        () = interrupted => Ended::Interrupted,
        () = deadline => Ended::Deadline,
    };
    match ended {
        Ended::Done(result) => result,
        Ended::Interrupted => Ok(()),
        Ended::Deadline => match args.count {
            Some(wanted) if follower.finished() < wanted => Err(Failure::TimedOut {
                finished: follower.finished(),
                wanted,
            }),
            _ => Ok(()),
        },
    }
}

/// Polls until `--count` runs have finished (forever without `--count`).
async fn follow_until_count(
    client: &Client,
    format: Format,
    args: &TailArgs,
    follower: &mut Follower,
) -> Result<(), Failure> {
    let path = runs_path(args.job);
    let first = retrying(|| newest(client, &path, None)).await?;
    follower.baseline(&first)?;
    let mut header_printed = false;
    // `--last N`: the newest N runs that exist now, oldest first, before following.
    let last = usize::try_from(args.last).unwrap_or(usize::MAX);
    for run in first.iter().take(last).rev() {
        print_run(format, run, &mut header_printed)?;
    }
    let of_job = args.job.map_or(String::new(), |id| format!(" of job {id}"));
    output::note(&format!("following runs{of_job}; Ctrl-C to stop"));
    let mut warned = false;
    loop {
        tokio::time::sleep(args.interval).await;
        let polled = poll(client, &path, follower).await;
        let runs = match polled {
            Ok(runs) => {
                if warned {
                    output::note("reconnected");
                    warned = false;
                }
                runs
            }
            Err(failure) if failure.is_transient() => {
                if !warned {
                    output::note(&format!("warning: {failure}; retrying"));
                    warned = true;
                }
                continue;
            }
            Err(failure) => return Err(failure),
        };
        for run in &runs {
            print_run(format, run, &mut header_printed)?;
        }
        if args
            .count
            .is_some_and(|wanted| follower.finished() >= wanted)
        {
            return Ok(());
        }
    }
}

/// Prints one run: a JSON line, or a table line (after the header, once).
fn print_run(format: Format, run: &Value, header_printed: &mut bool) -> Result<(), Failure> {
    match format {
        Format::Json => output::emit_json(run),
        Format::Table => {
            if !*header_printed {
                output::emit(&tables::run_line_header())?;
                *header_printed = true;
            }
            output::emit(&tables::run_line(run))
        }
    }
}

/// One poll: the newest runs, and those still running beyond them; returns what to print.
async fn poll(client: &Client, path: &str, follower: &mut Follower) -> Result<Vec<Value>, Failure> {
    let fetched = newest(client, path, Some(follower)).await?;
    let mut print = follower.observe(&fetched)?;
    let ids = fetched
        .iter()
        .map(run_id)
        .collect::<Result<Vec<_>, Failure>>()?;
    for id in follower.running_beyond(&ids) {
        match client.get(&format!("/scheduler/runs/{id}/"), &[]).await {
            Ok(answer) => print.extend(follower.observe(&[answer.json()?])?),
            Err(Failure::Refused(refusal)) if refusal.status == 404 => follower.forget(id),
            Err(failure) => return Err(failure),
        }
    }
    if let Some(oldest) = ids.iter().min() {
        follower.prune_below(*oldest);
    }
    Ok(print)
}

/// The newest page of runs; with a `follower`, also the following pages while every run
/// on a page is new to it (at most [`CATCH_UP_PAGES`]).
async fn newest(
    client: &Client,
    path: &str,
    follower: Option<&Follower>,
) -> Result<Vec<Value>, Failure> {
    let mut query = vec![("page_size".to_string(), PAGE_SIZE.to_string())];
    let mut runs = Vec::new();
    for _ in 0..CATCH_UP_PAGES {
        let page = client.get(path, &query).await?.json()?;
        let (items, next) = page_parts(&page)?;
        let all_new = match follower {
            Some(follower) => items
                .iter()
                .all(|run| run_id(run).is_ok_and(|id| !follower.knows(id))),
            None => false,
        };
        runs.extend(items);
        match next {
            Some(next) if all_new => query = next_query(&next)?,
            _ => break,
        }
    }
    Ok(runs)
}

/// `attempt` until it succeeds or fails for good: the first page of a tail waits for a
/// server that is restarting, like the polls after it.
async fn retrying<F, T>(mut attempt: impl FnMut() -> F) -> Result<T, Failure>
where
    F: std::future::Future<Output = Result<T, Failure>>,
{
    let mut warned = false;
    loop {
        match attempt().await {
            Err(failure) if failure.is_transient() => {
                if !warned {
                    output::note(&format!("warning: {failure}; retrying"));
                    warned = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(id: i64, status: &str) -> Value {
        json!({"id": id, "job_id": 1, "status": status})
    }

    fn ids(runs: &[Value]) -> Vec<(i64, String)> {
        runs.iter()
            .map(|r| {
                (
                    r["id"].as_i64().unwrap(),
                    r["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn runs_existing_at_the_start_are_not_printed() {
        let mut follower = Follower::default();
        follower
            .baseline(&[run(2, "succeeded"), run(1, "failed")])
            .unwrap();
        assert!(
            follower
                .observe(&[run(2, "succeeded"), run(1, "failed")])
                .unwrap()
                .is_empty()
        );
        assert_eq!(follower.finished(), 0);
    }

    #[test]
    fn a_new_run_is_printed_once_then_again_when_it_finishes() {
        let mut follower = Follower::default();
        follower.baseline(&[]).unwrap();
        assert_eq!(
            ids(&follower.observe(&[run(5, "running")]).unwrap()),
            [(5, "running".into())]
        );
        assert!(follower.observe(&[run(5, "running")]).unwrap().is_empty());
        assert_eq!(follower.finished(), 0);
        assert_eq!(
            ids(&follower.observe(&[run(5, "succeeded")]).unwrap()),
            [(5, "succeeded".into())]
        );
        assert!(follower.observe(&[run(5, "succeeded")]).unwrap().is_empty());
        assert_eq!(follower.finished(), 1);
    }

    #[test]
    fn new_runs_are_printed_oldest_first() {
        let mut follower = Follower::default();
        let printed = follower
            .observe(&[run(9, "failed"), run(7, "succeeded")])
            .unwrap();
        assert_eq!(
            ids(&printed),
            [(7, "succeeded".into()), (9, "failed".into())]
        );
        assert_eq!(follower.finished(), 2);
    }

    #[test]
    fn a_run_running_at_the_start_is_printed_when_it_finishes() {
        let mut follower = Follower::default();
        follower.baseline(&[run(3, "running")]).unwrap();
        assert_eq!(follower.running_beyond(&[]), [3]);
        assert!(follower.running_beyond(&[3]).is_empty());
        assert_eq!(
            ids(&follower.observe(&[run(3, "timed_out")]).unwrap()),
            [(3, "timed_out".into())]
        );
        assert!(follower.running_beyond(&[]).is_empty());
    }

    #[test]
    fn pruning_keeps_running_runs_and_recent_ones() {
        let mut follower = Follower::default();
        follower
            .baseline(&[run(1, "running"), run(2, "succeeded"), run(10, "succeeded")])
            .unwrap();
        follower.prune_below(5);
        assert!(follower.knows(1) && !follower.knows(2) && follower.knows(10));
        follower.forget(1);
        assert!(!follower.knows(1));
    }

    #[test]
    fn a_run_without_an_id_is_a_bad_answer() {
        let mut follower = Follower::default();
        assert!(matches!(
            follower.observe(&[json!({"status": "running"})]),
            Err(Failure::BadAnswer(_))
        ));
    }
}
