//! The command line: every command, flag and environment variable, as clap types. What the
//! commands do is in `commands/`; this file only says what they take.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::duration;
use crate::exit::EXIT_CODES_HELP;
use crate::output::Output;

/// `schedulerctl`: the scheduler's command-line client.
#[derive(Debug, Parser)]
#[command(
    name = "schedulerctl",
    version,
    about = "Command-line client of the job scheduler's REST API",
    long_about = "Command-line client of the job scheduler's REST API: jobs, runs, cron \
                  previews, calendars of excluded days, notification channels, API keys and \
                  the audit trail. Talks to the server over HTTP only.\n\n\
                  Tables by default; --output json prints the server's JSON as received \
                  (lists with --all: one array of every item; runs tail: one run per line).",
    after_help = EXIT_CODES_HELP
)]
pub(crate) struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub(crate) global: Global,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes, before or after the command's name.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The server's base URL.
    #[arg(
        long,
        env = "SCHEDULER_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub(crate) url: String,
    /// API key, sent as `Authorization: Bearer <key>`. Prefer the environment variable: a
    /// flag is visible to other users in the process list.
    #[arg(long, env = "SCHEDULER_KEY", hide_env_values = true, global = true)]
    pub(crate) key: Option<String>,
    /// Output: human tables, or the server's JSON.
    #[arg(
        long,
        short = 'o',
        value_enum,
        default_value_t = Output::Table,
        global = true
    )]
    pub(crate) output: Output,
    /// Longest wait for one answer (e.g. 30s, 2m, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse, global = true)]
    pub(crate) timeout: Duration,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Jobs: list, show, create, change, delete, pause, resume, run now, history.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Runs: list, show, follow, cancel, replay.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Cron expressions: preview their next fire times.
    #[command(subcommand)]
    Cron(CronCommand),
    /// Calendars of days jobs do not fire on: list, show, import from .ics, apply, delete.
    #[command(subcommand)]
    Calendars(CalendarsCommand),
    /// Notification channels, where your tenant is told of failed runs, missed fires and
    /// recoveries: list, show, create, apply, delete, test (needs an admin key).
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Notifications: what was sent to your channels, and what waits or failed.
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// API keys of your tenant (needs an admin key).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit trail: who changed which job, calendar, channel or key, when and how (needs
    /// an admin key).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Make the server's jobs match files (YAML or JSON: owner: <name>, jobs: [...]), in one
    /// transaction: create, update and, with --prune, delete the owner's jobs. --dry-run
    /// shows the plan and changes nothing.
    Apply(ApplyArgs),
    /// Show what `apply` would change; exits 1 when the server differs from the files.
    Diff(FileSetArgs),
    /// Export: `get jobs` prints jobs as the file `apply` reads (YAML; -o json for JSON).
    #[command(subcommand)]
    Get(GetCommand),
    /// Print a shell completion script, e.g. `schedulerctl completions bash >
    /// /etc/bash_completion.d/schedulerctl`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The files of `apply` and `diff`, and what the apply may do.
#[derive(Debug, Args)]
pub(crate) struct FileSetArgs {
    /// A job file (.yaml, .yml or .json; `-` reads YAML or JSON from standard input) or a
    /// directory of them; repeat for more.
    #[arg(long = "filename", short = 'f', value_name = "PATH", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Whose jobs these are (overrides the files' `owner`).
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Delete the owner's jobs the files no longer list.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Take over listed jobs that no file manages yet (created through the API or the
    /// dashboard) instead of refusing their names.
    #[arg(long)]
    pub(crate) adopt: bool,
}

/// `schedulerctl apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The files and what the apply may do.
    #[command(flatten)]
    pub(crate) set: FileSetArgs,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `schedulerctl get ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum GetCommand {
    /// Every job of your tenant (or of one owner) as a file `apply` reads: the fields a file
    /// sets, header values masked as `***` (an apply keeps the stored value for them).
    Jobs {
        /// Only the jobs this owner's files manage (and the file names the owner).
        #[arg(long)]
        owner: Option<String>,
    },
}

/// `schedulerctl jobs ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List jobs (the first page; --all for every one).
    List(JobListArgs),
    /// Show one job.
    Get {
        /// The job's id.
        id: i64,
    },
    /// Create a job from flags and/or a JSON body (--file).
    Create(Box<CreateArgs>),
    /// Change some of a job's fields (PATCH): only what is given changes.
    Update(Box<UpdateArgs>),
    /// Delete a job and its run history.
    Delete {
        /// The job's id.
        id: i64,
    },
    /// Pause a job: no fires until it is resumed.
    Pause {
        /// The job's id.
        id: i64,
        /// Why (shown with the job until it is resumed).
        #[arg(long)]
        note: Option<String>,
        /// Resume by itself at this instant (RFC 3339, e.g. 2030-01-06T06:00:00Z).
        #[arg(long, value_name = "INSTANT")]
        until: Option<String>,
    },
    /// Run now the fires the job's schedule would have made in [--from, --to), a past range
    /// (at most 1,000 fires; an instant that already has a run is not run again).
    Backfill {
        /// The job's id.
        id: i64,
        /// The range's first instant (inclusive), RFC 3339.
        #[arg(long, value_name = "INSTANT")]
        from: String,
        /// Its end (exclusive), RFC 3339, not in the future.
        #[arg(long, value_name = "INSTANT")]
        to: String,
    },
    /// The maintenance switch: pause every active job of your tenant, or those whose name
    /// starts with --name-prefix.
    PauseMany {
        /// Only jobs whose name starts with this (exactly).
        #[arg(long)]
        name_prefix: Option<String>,
        /// Why (shown with each job until it is resumed).
        #[arg(long)]
        note: Option<String>,
        /// Resume them by themselves at this instant (RFC 3339).
        #[arg(long, value_name = "INSTANT")]
        until: Option<String>,
    },
    /// The maintenance switch's other half: resume every paused job of your tenant, or those
    /// whose name starts with --name-prefix.
    ResumeMany {
        /// Only jobs whose name starts with this (exactly).
        #[arg(long)]
        name_prefix: Option<String>,
    },
    /// Resume a paused job; its next run is computed from now.
    Resume {
        /// The job's id.
        id: i64,
    },
    /// Start a run of the job now (its schedule is unchanged).
    Run {
        /// The job's id.
        id: i64,
    },
    /// A job's history: who created, changed, paused, resumed it, when, and each change's
    /// fields (before → after), newest first.
    ///
    /// In the table a change reads `field: before → after`: text without its quotes, an empty
    /// text as "", null (unset) as -, other JSON compact; each value is cut to 60 characters
    /// and the CHANGES cell to 500 (-o json has every change whole).
    History {
        /// The job's id.
        id: i64,
        /// Which page.
        #[command(flatten)]
        pages: CursorPageArgs,
    },
}

/// Which page of a list, or every page.
#[derive(Debug, Args)]
pub(crate) struct PageArgs {
    /// The page to show, from 1.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) page: Option<u64>,
    /// Items per page, 1-500 (the server's default is 50).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=500))]
    pub(crate) page_size: Option<u64>,
    /// Follow the pages to the end and show every item (read as cursor pages: each page
    /// costs the server the same however far it is).
    #[arg(long, conflicts_with = "page")]
    pub(crate) all: bool,
    /// Show a cursor page: the cursor a previous listing printed ("" for the first). Cursor
    /// pages have no count and cost the same however deep; --page N costs more the larger N.
    #[arg(long, conflicts_with_all = ["page", "all"])]
    pub(crate) cursor: Option<String>,
}

/// Which page of a list that has cursor pages only (the audit trail), or every page.
#[derive(Debug, Args)]
pub(crate) struct CursorPageArgs {
    /// Items per page, 1-500 (the server's default is 50).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=500))]
    pub(crate) page_size: Option<u64>,
    /// Follow the pages to the end and show every item.
    #[arg(long)]
    pub(crate) all: bool,
    /// Show a cursor page: the cursor a previous listing printed ("" for the first).
    #[arg(long, conflicts_with = "all")]
    pub(crate) cursor: Option<String>,
}

impl CursorPageArgs {
    /// The same request as [`PageArgs`] (with no `--page`), for [`crate::listing::fetch`].
    pub(crate) fn pages(&self) -> PageArgs {
        PageArgs {
            page: None,
            page_size: self.page_size,
            all: self.all,
            cursor: self.cursor.clone(),
        }
    }
}

/// `jobs list`.
#[derive(Debug, Args)]
pub(crate) struct JobListArgs {
    /// Only active jobs.
    #[arg(long, conflicts_with = "paused")]
    pub(crate) active: bool,
    /// Only paused jobs.
    #[arg(long)]
    pub(crate) paused: bool,
    /// Sort by id, name, next_run or created_at; prefix - for descending (e.g. -next_run).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) ordering: Option<String>,
    /// Only jobs whose name contains this text, ignoring case.
    #[arg(long)]
    pub(crate) search: Option<String>,
    /// Which page.
    #[command(flatten)]
    pub(crate) pages: PageArgs,
}

/// What a run does when it is missed while every replica was down.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum MisfirePolicy {
    /// Run once for all the fires missed.
    FireOnce,
    /// Skip fires later than the grace.
    Skip,
    /// Run each missed fire within the catch-up window, oldest first (the last 100 at most).
    CatchUp,
}

/// Whether runs of a job may overlap.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ConcurrencyPolicy {
    /// Start a run even while another runs.
    Allow,
    /// Skip a fire while a run is running.
    Forbid,
    /// Stop the running run and start the new one.
    Replace,
    /// Keep one fire pending and start it when the running run ends.
    BufferOne,
}

/// The fields of a job that flags can set; each overrides the same field of `--file`.
#[derive(Debug, Args)]
pub(crate) struct JobFields {
    /// A JSON body to start from (`-` reads standard input); the flags override its fields.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// The job's name (unique in your tenant).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Standard 5-field cron expression or macro, e.g. "0 9 * * 1" or @daily.
    #[arg(long, value_name = "EXPRESSION", conflicts_with_all = ["every", "run_at"])]
    pub(crate) cron: Option<String>,
    /// Instead of cron: fire every SECONDS from the start time (e.g. 5400: every 90 minutes).
    #[arg(long, value_name = "SECONDS", conflicts_with = "run_at")]
    pub(crate) every: Option<u32>,
    /// Instead of cron: fire once, at this RFC 3339 instant (in the future).
    #[arg(long, value_name = "INSTANT")]
    pub(crate) run_at: Option<String>,
    /// Complete the job after N scheduled fires have run (0 on update removes the limit).
    #[arg(long, value_name = "N")]
    pub(crate) max_runs: Option<u32>,
    /// Delay each fire by up to SECONDS (the same delay on every replica; 0 removes it).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) jitter: Option<u32>,
    /// IANA time zone the expression is read in (server default UTC).
    #[arg(long)]
    pub(crate) timezone: Option<String>,
    /// Free text.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Parameters as a JSON object, e.g. '{"action": "report"}'.
    #[arg(long, value_name = "JSON")]
    pub(crate) params: Option<String>,
    /// No run before this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) start_time: Option<String>,
    /// No run after this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) end_time: Option<String>,
    /// Deliver runs to this http(s) URL (a POST unless --target-method says otherwise).
    #[arg(long, value_name = "URL")]
    pub(crate) target_url: Option<String>,
    /// The target's HTTP method (server default POST).
    #[arg(long, value_name = "METHOD", requires = "target_url")]
    pub(crate) target_method: Option<String>,
    /// A header sent with every delivery, as "Name: value" (repeatable).
    #[arg(long, value_name = "HEADER", requires = "target_url")]
    pub(crate) target_header: Vec<String>,
    /// What happens to fires missed while every replica was down.
    #[arg(long, value_enum)]
    pub(crate) misfire_policy: Option<MisfirePolicy>,
    /// How late a fire may be and still count as on time.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) misfire_grace_seconds: Option<u32>,
    /// With --misfire-policy catch-up: how far back missed fires run.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) catch_up_window_seconds: Option<u32>,
    /// Whether runs may overlap.
    #[arg(long, value_enum)]
    pub(crate) concurrency_policy: Option<ConcurrencyPolicy>,
    /// Retries of a failed or timed-out run.
    #[arg(long, value_name = "N")]
    pub(crate) max_retries: Option<u32>,
    /// First retry delay, doubled per retry.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) retry_backoff_seconds: Option<u32>,
    /// A run taking longer is stopped and marked timed_out.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout_seconds: Option<u32>,
    /// Pause the job after this many consecutive failed runs (0: never).
    #[arg(long, value_name = "N")]
    pub(crate) pause_after_failures: Option<u32>,
    /// A cron job's local time that occurs twice when clocks go back: once or twice.
    #[arg(long, value_parser = ["once", "twice"])]
    pub(crate) dst_overlap: Option<String>,
    /// No fire on the days this calendar of your tenant excludes (repeatable; on update the
    /// calendars given replace the job's list).
    #[arg(long = "calendar", value_name = "NAME")]
    pub(crate) calendars: Vec<String>,
    /// A fire on a day a calendar excludes: skip it (recorded as a skipped run) or move it to
    /// the same time on the next allowed day (server default skip).
    #[arg(long, value_parser = ["skip", "move"])]
    pub(crate) on_excluded: Option<String>,
}

/// `jobs create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The job's fields.
    #[command(flatten)]
    pub(crate) fields: JobFields,
    /// Create it paused (is_active false).
    #[arg(long)]
    pub(crate) paused: bool,
}

/// `jobs update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The job's id.
    pub(crate) id: i64,
    /// The fields to change.
    #[command(flatten)]
    pub(crate) fields: JobFields,
    /// Remove the end time (runs go on without bound).
    #[arg(long, conflicts_with = "end_time")]
    pub(crate) no_end_time: bool,
    /// Remove the HTTP target (runs go to the handler named by parameters.action).
    #[arg(long, conflicts_with = "target_url")]
    pub(crate) no_target: bool,
    /// Remove every calendar from the job (it fires on every day again).
    #[arg(long, conflicts_with = "calendars")]
    pub(crate) no_calendars: bool,
}

/// `schedulerctl runs ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// List runs, newest first (across jobs, or of one job with --job).
    List(RunListArgs),
    /// Show one run.
    Get {
        /// The run's id.
        id: i64,
    },
    /// Follow runs as they start and finish, until Ctrl-C (or --for, --count).
    Tail(TailArgs),
    /// Cancel a running run: it stops and is recorded cancelled, never retried.
    Cancel {
        /// The run's id.
        id: i64,
    },
    /// Replay an ended run, or in bulk every run matching --status (and the other filters).
    ///
    /// A replay is a new run of the same fire: the job's parameters and target as they are
    /// now, the same scheduled_for, the next attempt, trigger replay, replay_of the original.
    /// A run is replayed once: asked again, the server answers with the replay made before
    /// (reported as "already replayed", exit 0).
    ///
    /// In bulk (`--status failed`, no ID) the matching runs are listed newest first, up to
    /// --limit, and replayed one request at a time; the table gives each one's ORIGINAL,
    /// REPLAY and STATUS (started, already replayed, or the error), and a summary line goes
    /// to standard error. Runs that are themselves replays (trigger replay) match too: they
    /// are runs like any other, so a failed replay is replayed again (its next attempt).
    /// When a replay fails the others are still sent, and the exit code is the first
    /// failure's; after a failure the following requests would share (no connection, 401,
    /// 403, 429) the rest are not sent. --dry-run lists the runs and sends nothing.
    Replay(ReplayArgs),
}

/// `runs replay`: one run by ID, or the runs matching `--status` and the other filters.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "status"])))]
pub(crate) struct ReplayArgs {
    /// The run's id (or, instead, --status and the other filters for a bulk replay).
    #[arg(conflicts_with_all = ["job", "after", "before", "limit", "dry_run"])]
    pub(crate) id: Option<i64>,
    /// Bulk: replay the runs with this status, e.g. failed or timed_out.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Bulk: only runs of this job.
    #[arg(long, value_name = "ID", requires = "status")]
    pub(crate) job: Option<i64>,
    /// Bulk: only runs for fires at or after this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT", requires = "status")]
    pub(crate) after: Option<String>,
    /// Bulk: only runs for fires before this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT", requires = "status")]
    pub(crate) before: Option<String>,
    /// Bulk: replay at most this many runs, the newest (1-1000).
    #[arg(long, value_name = "N", default_value_t = 100, requires = "status",
        value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) limit: u64,
    /// Bulk: list the runs that would be replayed and send nothing.
    #[arg(long, requires = "status")]
    pub(crate) dry_run: bool,
}

/// `runs list`.
#[derive(Debug, Args)]
pub(crate) struct RunListArgs {
    /// Only runs of this job.
    #[arg(long, value_name = "ID")]
    pub(crate) job: Option<i64>,
    /// Only runs with this status: running, succeeded, failed, timed_out, skipped, abandoned,
    /// cancelled, throttled.
    #[arg(long)]
    pub(crate) status: Option<String>,
    /// Only runs with this trigger: schedule, manual, retry, backfill, replay.
    #[arg(long)]
    pub(crate) trigger: Option<String>,
    /// Only runs for fires at or after this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) after: Option<String>,
    /// Only runs for fires before this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) before: Option<String>,
    /// Which page.
    #[command(flatten)]
    pub(crate) pages: PageArgs,
}

/// `runs tail`.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Only runs of this job.
    #[arg(long, value_name = "ID")]
    pub(crate) job: Option<i64>,
    /// Time between two polls of the server.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration::parse)]
    pub(crate) interval: Duration,
    /// Stop after this long (exit 8 if --count runs have not finished by then).
    #[arg(long = "for", value_name = "DURATION", value_parser = duration::parse)]
    pub(crate) for_: Option<Duration>,
    /// Stop once this many runs have finished (been printed with a final status).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,
    /// First print the N newest runs (oldest of them first), then follow.
    #[arg(long, value_name = "N", default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=100))]
    pub(crate) last: u64,
}

/// `schedulerctl cron ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CronCommand {
    /// Show how the server reads an expression and its next fire times.
    Preview(PreviewArgs),
}

/// `cron preview`.
#[derive(Debug, Args)]
pub(crate) struct PreviewArgs {
    /// The expression; several words are joined by spaces (quote it to keep * from the
    /// shell: '0 9 * * 1').
    #[arg(required = true, num_args = 1..)]
    pub(crate) expression: Vec<String>,
    /// IANA time zone (server default UTC).
    #[arg(long)]
    pub(crate) timezone: Option<String>,
    /// List fires at or after this RFC 3339 instant (default now).
    #[arg(long, value_name = "INSTANT")]
    pub(crate) after: Option<String>,
    /// How many fires to list, 1-100 (server default 5).
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..=100))]
    pub(crate) count: Option<u64>,
    /// Mark the fires on days this calendar of your tenant excludes (repeatable).
    #[arg(long = "calendar", value_name = "NAME")]
    pub(crate) calendars: Vec<String>,
    /// What happens to a marked fire, as a job's on_excluded: skip, or move (shows where to).
    #[arg(long, value_parser = ["skip", "move"])]
    pub(crate) on_excluded: Option<String>,
}

/// `schedulerctl calendars ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CalendarsCommand {
    /// List your tenant's calendars.
    List,
    /// Show one calendar and its dates.
    #[command(visible_alias = "get")]
    Show {
        /// The calendar's name.
        name: String,
    },
    /// Create a calendar from the events of an iCalendar file (.ics), or replace it.
    ///
    /// Each event's days (bank holidays, a shutdown) become one of its dates; a yearly rule
    /// on a fixed date makes a yearly date. With --replace it is created or replaced, and
    /// the jobs using it get their next run recomputed.
    Import(ImportArgs),
    /// Create or replace a calendar from a JSON file that names it.
    ///
    /// The body as the API takes it: {"name", "timezone", "description", "dates":
    /// [{"date"} | {"from", "to"}, "yearly"?, "label"?]}; it is sent (PUT) to its name.
    Apply {
        /// The JSON file (`-` reads standard input).
        #[arg(long, short = 'f', value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete a calendar (refused while a job lists it).
    Delete {
        /// The calendar's name.
        name: String,
    },
}

/// `calendars import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The calendar's name (letters, digits, -, _ and ., unique in your tenant).
    pub(crate) name: String,
    /// The iCalendar file (`-` reads standard input).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// IANA time zone the dates are read in (server default UTC).
    #[arg(long)]
    pub(crate) timezone: Option<String>,
    /// Free text.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Create or replace the calendar of this name (a PUT: its timezone and description are
    /// replaced too, by the flags' or the defaults); without it a taken name is refused.
    #[arg(long)]
    pub(crate) replace: bool,
}

/// `schedulerctl audit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// List your tenant's audit entries, newest first (the first page; --all for every one).
    ///
    /// In the table a change reads `field: before → after`: text without its quotes, an empty
    /// text as "", null (unset) as -, other JSON compact; each value is cut to 60 characters
    /// and the CHANGES cell to 500 (-o json has every change whole).
    List(AuditListArgs),
}

/// `audit list`.
#[derive(Debug, Args)]
pub(crate) struct AuditListArgs {
    /// Only entries about this kind of thing.
    #[arg(long, value_parser = ["job", "calendar", "channel", "key"])]
    pub(crate) kind: Option<String>,
    /// Only entries about this job or key id, or calendar or channel name.
    #[arg(long)]
    pub(crate) subject: Option<String>,
    /// Only changes by this actor, exactly: a key's name, "dashboard: <key name>", or local.
    #[arg(long)]
    pub(crate) actor: Option<String>,
    /// Only entries at or after this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) since: Option<String>,
    /// Only entries before this RFC 3339 instant.
    #[arg(long, value_name = "INSTANT")]
    pub(crate) until: Option<String>,
    /// Which page.
    #[command(flatten)]
    pub(crate) pages: CursorPageArgs,
}

/// `schedulerctl channels ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ChannelsCommand {
    /// List your tenant's channels.
    List,
    /// Show one channel (header values are never shown: the server sends `***`).
    #[command(visible_alias = "get")]
    Show {
        /// The channel's name.
        name: String,
    },
    /// Create a channel from flags (a taken name is refused; `apply` replaces).
    ///
    /// A webhook gets a signed JSON POST at --target-url, a slack channel a `{"text": ...}`
    /// POST at its incoming-webhook --target-url, an email channel a message to each --to
    /// address. Private and local addresses are refused unless the server allows them.
    Create(ChannelCreateArgs),
    /// Create or replace channels from a JSON file: one channel, or a list of them.
    ///
    /// Each is the body as the API takes it: {"name", "kind", "url", "headers", "to",
    /// "events", "jobs", "enabled"}, sent (PUT) to its name, in the file's order; a header
    /// value written `***` keeps the stored one. The first channel refused stops the rest.
    /// With -o json: the channel as the server answered, or for a list one array of them.
    Apply(ChannelApplyArgs),
    /// Delete a channel; its undelivered notifications fail.
    Delete {
        /// The channel's name.
        name: String,
    },
    /// Queue a test message to a channel; prints the notification's id alone (`notifications
    /// list` shows whether it was sent).
    Test {
        /// The channel's name.
        name: String,
    },
}

/// How a channel delivers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ChannelKind {
    /// A signed JSON POST to --target-url.
    Webhook,
    /// A Slack-compatible incoming webhook at --target-url.
    Slack,
    /// An e-mail to each --to address, through the server's SMTP relay.
    Email,
}

/// `channels create`.
#[derive(Debug, Args)]
pub(crate) struct ChannelCreateArgs {
    /// The channel's name (letters, digits, -, _ and ., unique in your tenant).
    pub(crate) name: String,
    /// How it delivers.
    #[arg(long, value_enum)]
    pub(crate) kind: ChannelKind,
    /// Webhook and slack: the http(s) URL posted to (the API's `url`; `--url` is the
    /// server's).
    #[arg(long, value_name = "URL")]
    pub(crate) target_url: Option<String>,
    /// Webhook: a header sent with every message, as "Name: value" (repeatable; the value is
    /// never shown again).
    #[arg(long, value_name = "HEADER")]
    pub(crate) header: Vec<String>,
    /// Email: a recipient address (repeatable, up to 20).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) to: Vec<String>,
    /// An event it is told of (repeatable; default every one): a run failed or timed out for
    /// good (retries exhausted), a fire was missed, the job paused itself, or recovered.
    #[arg(long, value_name = "EVENT",
        value_parser = ["failed", "timed_out", "missed", "auto_paused", "recovered"])]
    pub(crate) event: Vec<String>,
    /// Only this job's events (repeatable; default every job of your tenant).
    #[arg(long, value_name = "ID")]
    pub(crate) job: Vec<i64>,
    /// Create it disabled: nothing is sent to it.
    #[arg(long)]
    pub(crate) disabled: bool,
}

/// `channels apply`: the file as an argument, or as `--file` (like `calendars apply`).
#[derive(Debug, Args)]
pub(crate) struct ChannelApplyArgs {
    /// The JSON file (`-` reads standard input).
    #[arg(value_name = "FILE", required_unless_present = "file")]
    pub(crate) path: Option<PathBuf>,
    /// The same, as a flag.
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "path")]
    pub(crate) file: Option<PathBuf>,
}

/// `schedulerctl notifications ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum NotificationsCommand {
    /// List your tenant's notifications, newest first, up to --limit.
    ///
    /// The JOB column reads `name (id)`; a test message's is "(test)". With -o json: one
    /// array of the notifications.
    List(NotificationListArgs),
}

/// `notifications list`.
#[derive(Debug, Args)]
pub(crate) struct NotificationListArgs {
    /// Only notifications with this status.
    #[arg(long, value_parser = ["pending", "sending", "sent", "failed"])]
    pub(crate) status: Option<String>,
    /// Only notifications about this job.
    #[arg(long, value_name = "ID")]
    pub(crate) job: Option<i64>,
    /// Show at most this many, the newest (1-10000).
    #[arg(long, value_name = "N", default_value_t = 50,
        value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) limit: u64,
}

/// A key's scope.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Scope {
    /// GET requests only.
    Read,
    /// Also every change and run now.
    Write,
    /// Also keys and signing secrets.
    Admin,
}

/// `schedulerctl keys ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// List your tenant's keys (never their secrets).
    List,
    /// Create a key in your tenant over the API (`POST /scheduler/keys/`, an admin key; no
    /// stronger than your own); prints the key alone on standard output, once. A tenant's
    /// first key is made on the server's host: `scheduler-server keys create --tenant T`.
    Create {
        /// A name for the key, recorded as created_by/updated_by of the jobs it writes.
        #[arg(long)]
        name: String,
        /// What it may do (server default read).
        #[arg(long, value_enum)]
        scope: Option<Scope>,
    },
    /// Revoke a key; every replica refuses it within a second.
    Revoke {
        /// The key's id (from keys list).
        id: i64,
    },
}

impl Scope {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// The error for the server's `--url` written after `channels create`, where it reads as
/// the channel's URL but is the global option: the request, and the key with it, would go to
/// the channel's address. `args` is the command line, program name first; `None` when it
/// has no such `--url`.
pub(crate) fn misplaced_server_url(args: &[OsString]) -> Option<String> {
    let start = args
        .windows(2)
        .position(|pair| pair[0] == "channels" && pair[1] == "create")?;
    let misplaced = args
        .iter()
        .skip(start + 2)
        .take_while(|arg| *arg != "--")
        .any(|arg| arg == "--url" || arg.to_string_lossy().starts_with("--url="));
    misplaced.then(|| {
        "--url after `channels create` is the server's URL (a global option), not the \
         channel's: give the channel's as --target-url, and the server's before `channels` \
         or in SCHEDULER_URL (nothing was sent)"
            .to_string()
    })
}

impl ChannelKind {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
        }
    }
}

impl MisfirePolicy {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MisfirePolicy::FireOnce => "fire_once",
            MisfirePolicy::Skip => "skip",
            MisfirePolicy::CatchUp => "catch_up",
        }
    }
}

impl ConcurrencyPolicy {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConcurrencyPolicy::Allow => "allow",
            ConcurrencyPolicy::Forbid => "forbid",
            ConcurrencyPolicy::Replace => "replace",
            ConcurrencyPolicy::BufferOne => "buffer_one",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_servers_url_after_channels_create_is_refused() {
        let args =
            |line: &str| -> Vec<OsString> { line.split_whitespace().map(OsString::from).collect() };
        for refused in [
            "schedulerctl channels create ops --kind slack --url https://hooks.example/x",
            "schedulerctl -o json channels create ops --url=https://hooks.example/x",
        ] {
            assert!(misplaced_server_url(&args(refused)).is_some(), "{refused}");
        }
        for allowed in [
            "schedulerctl --url http://h:1 channels create ops --target-url https://x/",
            "schedulerctl channels list --url http://h:1",
            "schedulerctl jobs create --url http://h:1 --name n",
            "schedulerctl channels create -- --url",
        ] {
            assert!(misplaced_server_url(&args(allowed)).is_none(), "{allowed}");
        }
    }

    #[test]
    fn global_options_go_after_the_command_too() {
        let cli = Cli::try_parse_from([
            "schedulerctl",
            "jobs",
            "get",
            "3",
            "--output",
            "json",
            "--url",
            "http://h:1",
        ])
        .unwrap();
        assert!(matches!(cli.global.output, Output::Json));
        assert_eq!(cli.global.url, "http://h:1");
    }
}
