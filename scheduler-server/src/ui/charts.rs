//! The dashboard's pictures, drawn on the server as inline SVG: no script, and nothing the
//! page's content policy refuses — the geometry is in SVG attributes, the colours in the
//! stylesheet's classes (`status-fill-<status>`, `late-mark`, `p50`, `p99`).
//!
//! - [`timeline`] (a job's page): its recent runs, oldest left, one bar per run, coloured
//!   by status, its height proportional to the run's duration (a running run's time so
//!   far); a triangle above a bar marks a scheduled fire that started at least
//!   [`LATE_MARK`] late. Each bar links to its run's page.
//! - [`overview`] (the front page): the tenant's last 24 hours ([`DayStats`]) as runs per
//!   hour, stacked by status ([`runs_per_hour`]), and fire lateness p50 and p99 per hour
//!   ([`lateness`]).
//!
//! Every bar, point and mark carries a `<title>` (the browser's tooltip) and `data-*`
//! attributes saying what it stands for; each chart has a legend beside it in HTML.

use chrono::{DateTime, Duration, Utc};
use maud::{Markup, html};
use scheduler_core::run_stats::HOURS;
use scheduler_core::{DayStats, HourBucket, JobRun, RunSample, RunStatus, WireEnum};

use super::cells::duration_text;
use super::run;

/// Runs drawn on a job's timeline (its newest).
pub const TIMELINE_RUNS: usize = 50;

/// How late a scheduled fire must start to be marked on the timeline.
pub const LATE_MARK: Duration = Duration::seconds(1);

/// The lowest bar drawn, so a run of no length (a skip) is still seen.
const MIN_BAR: f64 = 2.0;

/// The widest bar of a timeline.
const MAX_BAR: f64 = 36.0;

/// The order statuses are stacked in, bottom first: failures on top, where they are seen.
const STACK: [RunStatus; 8] = [
    RunStatus::Succeeded,
    RunStatus::Running,
    RunStatus::Throttled,
    RunStatus::Skipped,
    RunStatus::Cancelled,
    RunStatus::Abandoned,
    RunStatus::TimedOut,
    RunStatus::Failed,
];

/// A chart's canvas in the SVG's own units: its size and the margins around the plot.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Width of the whole drawing.
    width: f64,
    /// Height of the whole drawing.
    height: f64,
    /// Left margin (the value labels).
    left: f64,
    /// Right margin.
    right: f64,
    /// Top margin (the timeline's lateness marks).
    top: f64,
    /// Bottom margin (the time labels).
    bottom: f64,
}

impl Frame {
    /// Width of the plot.
    fn plot_width(self) -> f64 {
        self.width - self.left - self.right
    }

    /// Height of the plot: the tallest bar.
    fn plot_height(self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// The baseline's y.
    fn base(self) -> f64 {
        self.height - self.bottom
    }

    /// The `viewBox` attribute.
    fn view_box(self) -> String {
        format!("0 0 {} {}", num(self.width), num(self.height))
    }
}

/// The job page's timeline.
const TIMELINE: Frame = Frame {
    width: 960.0,
    height: 190.0,
    left: 64.0,
    right: 10.0,
    top: 22.0,
    bottom: 24.0,
};

/// Each of the front page's charts.
const HOURLY: Frame = Frame {
    width: 600.0,
    height: 210.0,
    left: 56.0,
    right: 10.0,
    top: 12.0,
    bottom: 24.0,
};

/// A coordinate as written in the SVG: one decimal.
fn num(value: f64) -> String {
    format!("{value:.1}")
}

/// `part` of `whole` as a share of `span`; `0` for an empty whole.
fn scaled(part: f64, whole: f64, span: f64) -> f64 {
    if whole > 0.0 {
        span * part / whole
    } else {
        0.0
    }
}

/// Milliseconds as a float, for scales.
#[allow(clippy::cast_precision_loss)] // lengths drawn on a chart: far below 2^52 ms
fn millis(length: Duration) -> f64 {
    length.num_milliseconds().max(0) as f64
}

/// A count as a float, for scales.
#[allow(clippy::cast_precision_loss)] // counts of runs: far below 2^52
fn float(count: u64) -> f64 {
    count as f64
}

/// A status as people read it (`timed out`).
fn status_words(status: RunStatus) -> String {
    status.as_str().replace('_', " ")
}

/// One run's bar on a job's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineBar {
    /// The run's id.
    pub run: i64,
    /// Its status: the bar's colour.
    pub status: RunStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it ran (a running run: so far): the bar's height.
    pub length: Duration,
    /// How late its scheduled fire started, when at least [`LATE_MARK`].
    pub late: Option<Duration>,
    /// The bar's left edge.
    pub x: f64,
    /// Its width.
    pub width: f64,
    /// Its height.
    pub height: f64,
}

/// The bars of the timeline of `runs` (newest first, as lists give them; at most
/// [`TIMELINE_RUNS`] drawn) at `now`, oldest on the left, the newest at the right end: the
/// runs share the width, each bar at most 36 units wide, so a few runs do not make a few
/// wide blocks.
pub fn timeline_bars(runs: &[JobRun], now: DateTime<Utc>) -> Vec<TimelineBar> {
    let shown: Vec<&JobRun> = runs.iter().take(TIMELINE_RUNS).rev().collect();
    let lengths: Vec<Duration> = shown
        .iter()
        .map(|JobRun { run, .. }| {
            run.duration()
                .unwrap_or(now - run.started_at)
                .max(Duration::zero())
        })
        .collect();
    let longest = lengths.iter().copied().map(millis).fold(0.0, f64::max);
    let slots = shown.len().max(1);
    let slot = TIMELINE.plot_width() / float(u64::try_from(slots).unwrap_or(u64::MAX));
    let width = (slot * 0.7).clamp(1.0, MAX_BAR);
    shown
        .iter()
        .zip(lengths)
        .enumerate()
        .map(|(i, (JobRun { run, .. }, length))| {
            let index = float(u64::try_from(i).unwrap_or(0));
            TimelineBar {
                run: run.id.0,
                status: run.status,
                started_at: run.started_at,
                late: RunSample::of(run)
                    .fire_lateness()
                    .filter(|late| *late >= LATE_MARK),
                x: TIMELINE.left + index * slot + (slot - width) / 2.0,
                width,
                height: scaled(millis(length), longest, TIMELINE.plot_height()).max(MIN_BAR),
                length,
            }
        })
        .collect()
}

/// The tooltip of a timeline bar.
fn bar_title(bar: &TimelineBar) -> String {
    let mut title = format!(
        "Run #{} · {} · {}{} · started {}",
        bar.run,
        status_words(bar.status),
        duration_text(bar.length),
        if bar.status == RunStatus::Running {
            " so far"
        } else {
            ""
        },
        bar.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    if let Some(late) = bar.late {
        title.push_str(&format!(" · {} late", duration_text(late)));
    }
    title
}

/// The value axis: the baseline, a guide at the top, and their labels.
fn axes(frame: Frame, top_label: &str, base_label: &str) -> Markup {
    let end = frame.width - frame.right;
    html! {
        line.grid x1=(num(frame.left)) y1=(num(frame.top)) x2=(num(end)) y2=(num(frame.top)) {}
        line.axis x1=(num(frame.left)) y1=(num(frame.base())) x2=(num(end)) y2=(num(frame.base())) {}
        text.value-label x=(num(frame.left - 6.0)) y=(num(frame.top + 4.0)) text-anchor="end" { (top_label) }
        text.value-label x=(num(frame.left - 6.0)) y=(num(frame.base())) text-anchor="end" { (base_label) }
    }
}

/// A legend of `statuses`' colours, and of the lateness mark when `late` is true.
fn legend(statuses: &[RunStatus], late: bool) -> Markup {
    html! {
        ul.legend {
            @for status in statuses {
                li { span class={"swatch status-fill-" (status.as_str())} {} (status_words(*status)) }
            }
            @if late {
                li {
                    svg.key viewBox="0 0 10 10" width="10" height="10" aria-hidden="true" {
                        polygon.late-mark points="0,1 10,1 5,9" {}
                    }
                    "scheduled fire started ≥ " (duration_text(LATE_MARK)) " late"
                }
            }
        }
    }
}

/// The statuses among `present`, in stacking order.
fn present(present: impl Fn(RunStatus) -> bool) -> Vec<RunStatus> {
    STACK
        .into_iter()
        .filter(|status| present(*status))
        .collect()
}

/// An instant to the minute, as the timeline's ends are labelled.
fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A job's timeline: its newest runs of `runs` (newest first) at `now`, or a line saying
/// there are none.
pub fn timeline(runs: &[JobRun], now: DateTime<Utc>) -> Markup {
    let bars = timeline_bars(runs, now);
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return html! { p.empty #no-timeline { "No runs yet." } };
    };
    let longest = bars.iter().map(|bar| bar.length).max().unwrap_or_default();
    let frame = TIMELINE;
    let statuses = present(|status| bars.iter().any(|bar| bar.status == status));
    let any_late = bars.iter().any(|bar| bar.late.is_some());
    html! {
        div.chart-wrap {
            svg.chart #run-timeline viewBox=(frame.view_box()) role="img"
                aria-labelledby="run-timeline-title run-timeline-desc"
                data-runs=(bars.len()) {
                title #run-timeline-title { "The last " (bars.len()) " runs, oldest first" }
                desc #run-timeline-desc {
                    "One bar per run: its colour is its status, its height its duration; a \
                     triangle above a bar marks a scheduled fire that started late."
                }
                (axes(frame, &duration_text(longest), "0"))
                @for bar in &bars {
                    a href=(run::path(bar.run)) {
                        rect class={"bar status-fill-" (bar.status.as_str())}
                            x=(num(bar.x)) y=(num(frame.base() - bar.height))
                            width=(num(bar.width)) height=(num(bar.height))
                            data-run-id=(bar.run) data-status=(bar.status.as_str()) {
                            title { (bar_title(bar)) }
                        }
                    }
                    @if let Some(late) = bar.late {
                        @let middle = bar.x + bar.width / 2.0;
                        polygon.late-mark data-run-id=(bar.run)
                            points={
                                (num(middle - 5.0)) "," (num(frame.top - 14.0)) " "
                                (num(middle + 5.0)) "," (num(frame.top - 14.0)) " "
                                (num(middle)) "," (num(frame.top - 5.0))
                            } {
                            title { "Run #" (bar.run) ": started " (duration_text(late)) " late" }
                        }
                    }
                }
                text.time-label x=(num(frame.left)) y=(num(frame.height - 6.0)) {
                    (minute(first.started_at))
                }
                @if minute(last.started_at) != minute(first.started_at) {
                    text.time-label x=(num(frame.width - frame.right)) y=(num(frame.height - 6.0))
                        text-anchor="end" {
                        (minute(last.started_at))
                    }
                }
            }
        }
        (legend(&statuses, any_late))
    }
}

/// The left edge of hour `index`'s slot, and the slot's width.
fn hour_slot(frame: Frame, index: usize) -> (f64, f64) {
    let slot = frame.plot_width() / float(u64::try_from(HOURS).unwrap_or(24));
    (
        frame.left + float(u64::try_from(index).unwrap_or(0)) * slot,
        slot,
    )
}

/// The hour labels under an hourly chart: every sixth hour's start.
fn hour_labels(frame: Frame, hours: &[HourBucket]) -> Markup {
    html! {
        @for (i, bucket) in hours.iter().enumerate() {
            @if i % 6 == 0 {
                @let (x, _) = hour_slot(frame, i);
                text.time-label x=(num(x)) y=(num(frame.height - 6.0)) {
                    (bucket.hour.format("%H:00").to_string())
                }
            }
        }
    }
}

/// An hour's span in words (`09:00–10:00 UTC`).
fn hour_words(hour: DateTime<Utc>) -> String {
    format!(
        "{}–{} UTC",
        hour.format("%H:00"),
        (hour + Duration::hours(1)).format("%H:00")
    )
}

/// One status's part of an hour's stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct HourBar {
    /// The hour.
    pub hour: DateTime<Utc>,
    /// The status: the colour.
    pub status: RunStatus,
    /// Its runs in the hour.
    pub count: u64,
    /// The left edge.
    pub x: f64,
    /// The top edge.
    pub y: f64,
    /// Its width.
    pub width: f64,
    /// Its height: proportional to `count`, the busiest hour's stack the plot's height.
    pub height: f64,
}

/// The stacked bars of runs per hour of `day`, bottom first within each hour (failures on top);
/// none when the day had no runs.
pub fn hour_bars(day: &DayStats) -> Vec<HourBar> {
    let frame = HOURLY;
    let most = float(day.hours.iter().map(HourBucket::total).max().unwrap_or(0));
    let mut bars = Vec::new();
    for (i, bucket) in day.hours.iter().enumerate() {
        let (x, slot) = hour_slot(frame, i);
        let width = slot * 0.72;
        let mut bottom = frame.base();
        for status in STACK {
            let count = bucket.count(status);
            if count == 0 {
                continue;
            }
            let height = scaled(float(count), most, frame.plot_height());
            bottom -= height;
            bars.push(HourBar {
                hour: bucket.hour,
                status,
                count,
                x: x + (slot - width) / 2.0,
                y: bottom,
                width,
                height,
            });
        }
    }
    bars
}

/// Runs per hour of `day`, stacked by status, or a line saying there were none.
pub fn runs_per_hour(day: &DayStats) -> Markup {
    let bars = hour_bars(day);
    if bars.is_empty() {
        return html! { p.empty #no-runs-per-hour { "No runs in the last 24 hours." } };
    }
    let most = day.hours.iter().map(HourBucket::total).max().unwrap_or(0);
    let frame = HOURLY;
    let statuses = present(|status| bars.iter().any(|bar| bar.status == status));
    html! {
        div.chart-wrap {
            svg.chart #runs-per-hour viewBox=(frame.view_box()) role="img"
                aria-labelledby="runs-per-hour-title" data-runs=(day.total()) {
                title #runs-per-hour-title {
                    "Runs per hour over the last 24 hours, by status: " (day.total()) " runs"
                }
                (axes(frame, &most.to_string(), "0"))
                @for bar in &bars {
                    rect class={"bar status-fill-" (bar.status.as_str())}
                        x=(num(bar.x)) y=(num(bar.y)) width=(num(bar.width)) height=(num(bar.height))
                        data-hour=(bar.hour.format("%Y-%m-%dT%H:00:00Z").to_string())
                        data-status=(bar.status.as_str()) data-count=(bar.count) {
                        title { (hour_words(bar.hour)) ": " (bar.count) " " (status_words(bar.status)) }
                    }
                }
                (hour_labels(frame, &day.hours))
            }
        }
        (legend(&statuses, false))
    }
}

/// One hour's point on the lateness chart.
struct LatePoint {
    /// The slot's middle.
    x: f64,
    /// Its hour.
    hour: DateTime<Utc>,
    /// p50, p99.
    values: [Duration; 2],
    /// Fires counted.
    fires: usize,
}

/// Fire lateness p50 and p99 per hour of `day`, or a line saying no scheduled fire started.
pub fn lateness(day: &DayStats) -> Markup {
    let frame = HOURLY;
    let points: Vec<Option<LatePoint>> = day
        .hours
        .iter()
        .enumerate()
        .map(|(i, bucket)| {
            let (x, slot) = hour_slot(frame, i);
            bucket.lateness.map(|late| LatePoint {
                x: x + slot / 2.0,
                hour: bucket.hour,
                values: [late.p50, late.p99],
                fires: late.fires,
            })
        })
        .collect();
    let highest = points.iter().flatten().map(|point| point.values[1]).max();
    let (Some(highest), Some(whole)) = (highest, day.lateness) else {
        return html! {
            p.empty #no-lateness { "No scheduled fire started in the last 24 hours." }
        };
    };
    let y = |value: Duration| {
        frame.base() - scaled(millis(value), millis(highest), frame.plot_height())
    };
    // A line per run of consecutive hours with fires; an hour alone is its point only.
    let lines = |which: usize| -> Vec<String> {
        points
            .split(Option::is_none)
            .filter(|run| run.len() > 1)
            .map(|run| {
                run.iter()
                    .flatten()
                    .map(|point| format!("{},{}", num(point.x), num(y(point.values[which]))))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    html! {
        div.chart-wrap {
            svg.chart #lateness viewBox=(frame.view_box()) role="img"
                aria-labelledby="lateness-title" {
                title #lateness-title {
                    "Fire lateness per hour over the last 24 hours: p50 " (duration_text(whole.p50))
                    ", p99 " (duration_text(whole.p99)) " over " (whole.fires) " fires"
                }
                (axes(frame, &duration_text(highest), "0"))
                // p99 as a ring, p50 as a dot drawn over it: both seen when they are equal.
                @for (which, class, radius) in [(1, "p99", "5.5"), (0, "p50", "3.5")] {
                    @for points in lines(which) {
                        polyline class={"line " (class)} points=(points) {}
                    }
                    @for point in points.iter().flatten() {
                        circle class={"point " (class)} cx=(num(point.x)) cy=(num(y(point.values[which])))
                            r=(radius) data-hour=(point.hour.format("%Y-%m-%dT%H:00:00Z").to_string()) {
                            title {
                                (hour_words(point.hour)) ": " (class) " " (duration_text(point.values[which]))
                                " (" (point.fires) @if point.fires == 1 { " fire)" } @else { " fires)" }
                            }
                        }
                    }
                }
                (hour_labels(frame, &day.hours))
            }
        }
        ul.legend {
            li { span.swatch.p50 {} "p50 (median)" }
            li { span.swatch.p99 {} "p99" }
        }
    }
}

/// The front page's section: the last 24 hours' runs per hour and fire lateness, or
/// "unavailable" when the store could not say (`None`).
pub fn overview(day: Option<&DayStats>) -> Markup {
    html! {
        section.overview aria-labelledby="overview-title" {
            h2 #overview-title { "Last 24 hours" }
            @match day {
                None => { p.empty #overview-unavailable { "Run statistics are unavailable right now." } },
                Some(day) => {
                    div.charts {
                        figure.chart-box #runs-per-hour-figure {
                            figcaption { "Runs per hour, by status" }
                            (runs_per_hour(day))
                        }
                        figure.chart-box #lateness-figure {
                            figcaption {
                                "Fire lateness (scheduled fires)"
                                @if let Some(whole) = day.lateness {
                                    span.figure-note {
                                        " · p50 " (duration_text(whole.p50)) " · p99 "
                                        (duration_text(whole.p99))
                                    }
                                }
                            }
                            (lateness(day))
                        }
                    }
                    @if day.truncated {
                        p.help #overview-truncated {
                            "Drawn from the newest "
                            (scheduler_core::run_stats::MAX_SAMPLES) " runs of the day."
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::{JobId, Run, RunId, RunSamples, RunTrigger};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// Run `id` of a job, started at `start`, `late_ms` after its fire, lasting `ms` (`None`:
    /// running).
    fn run(id: i64, start: &str, late_ms: i64, ms: Option<i64>, status: RunStatus) -> JobRun {
        let started_at = at(start);
        JobRun {
            run: Run {
                id: RunId(id),
                job_id: JobId(1),
                scheduled_for: started_at - Duration::milliseconds(late_ms),
                due_at: None,
                trigger: RunTrigger::Schedule,
                attempt: 1,
                retries: 0,
                throttles: 0,
                status,
                started_at,
                finished_at: ms.map(|ms| started_at + Duration::milliseconds(ms)),
                heartbeat_at: started_at,
                retry_at: None,
                error: None,
                worker: "w".into(),
                replay_of: None,
            },
            job_name: Some("job".into()),
        }
    }

    /// How many times `needle` is in `haystack`.
    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    /// The value of attribute `name` in each element of `svg` that has `marker` in its tag.
    fn attribute(svg: &str, marker: &str, name: &str) -> Vec<f64> {
        svg.split('<')
            .filter(|tag| tag.contains(marker))
            .filter_map(|tag| {
                let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = start + tag[start..].find('"')?;
                tag[start..end].parse().ok()
            })
            .collect()
    }

    #[test]
    fn a_timeline_draws_one_bar_per_run_oldest_left_coloured_by_status() {
        let now = at("2025-06-23T10:00:00Z");
        // Newest first, as the run list gives them.
        let runs = [
            run(4, "2025-06-23T09:59:00Z", 0, None, RunStatus::Running),
            run(3, "2025-06-23T09:30:00Z", 0, Some(0), RunStatus::Skipped),
            run(2, "2025-06-23T09:20:00Z", 0, Some(2_000), RunStatus::Failed),
            run(
                1,
                "2025-06-23T09:10:00Z",
                0,
                Some(1_000),
                RunStatus::Succeeded,
            ),
        ];
        let bars = timeline_bars(&runs, now);
        assert_eq!(
            bars.iter().map(|bar| bar.run).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(bars.windows(2).all(|pair| pair[0].x < pair[1].x));
        // Four runs share the width: the newest ends the plot, no bar is a wide block.
        assert!(bars[3].x > TIMELINE.left + 0.75 * TIMELINE.plot_width());
        assert!(bars.iter().all(|bar| (bar.width - MAX_BAR).abs() < 1e-9));
        let html = timeline(&runs, now).into_string();
        assert_eq!(count(&html, "<rect class=\"bar "), 4, "{html}");
        for status in ["succeeded", "failed", "skipped", "running"] {
            assert_eq!(
                count(&html, &format!("class=\"bar status-fill-{status}\"")),
                1
            );
            assert_eq!(count(&html, &format!("swatch status-fill-{status}")), 1);
        }
        assert!(html.contains("<a href=\"/ui/runs/2\">"), "{html}");
        assert!(html.contains("Run #2 · failed · 2.0 s · started 2025-06-23 09:20:00 UTC"));
        // A running run's bar is its time so far: 60 s, the tallest.
        assert!(html.contains("Run #4 · running · 1 min 00 s so far"));
        assert!(html.contains("data-runs=\"4\""));
        assert_eq!(
            count(&html, "class=\"time-label\""),
            2,
            "the first and last start"
        );
        assert!(
            !html.contains("style"),
            "the content policy refuses inline style"
        );
    }

    #[test]
    fn a_bars_height_is_proportional_to_its_runs_duration() {
        let now = at("2025-06-23T10:00:00Z");
        let runs = [
            run(3, "2025-06-23T09:30:00Z", 0, Some(0), RunStatus::Skipped),
            run(2, "2025-06-23T09:20:00Z", 0, Some(4_000), RunStatus::Failed),
            run(
                1,
                "2025-06-23T09:10:00Z",
                0,
                Some(1_000),
                RunStatus::Succeeded,
            ),
        ];
        let bars = timeline_bars(&runs, now);
        let tallest = TIMELINE.plot_height();
        assert!((bars[1].height - tallest).abs() < 1e-9);
        assert!((bars[0].height - tallest / 4.0).abs() < 1e-9);
        assert!(
            (bars[2].height - MIN_BAR).abs() < 1e-9,
            "a skip is still seen"
        );
        // As drawn: heights, and tops that rest every bar on the baseline.
        let html = timeline(&runs, now).into_string();
        let heights = attribute(&html, "rect class=\"bar", "height");
        assert_eq!(heights.len(), 3);
        assert!((heights[1] / heights[0] - 4.0).abs() < 0.01, "{heights:?}");
        let tops = attribute(&html, "rect class=\"bar", "y");
        for (top, height) in tops.iter().zip(&heights) {
            assert!(
                (top + height - TIMELINE.base()).abs() < 0.11,
                "{top} + {height}"
            );
        }
    }

    #[test]
    fn scheduled_fires_that_started_late_are_marked() {
        let now = at("2025-06-23T10:00:00Z");
        let mut manual = run(
            4,
            "2025-06-23T09:40:00Z",
            5_000,
            Some(10),
            RunStatus::Succeeded,
        );
        manual.run.trigger = RunTrigger::Manual;
        let runs = [
            manual,
            run(
                3,
                "2025-06-23T09:30:00Z",
                999,
                Some(10),
                RunStatus::Succeeded,
            ),
            run(
                2,
                "2025-06-23T09:20:00Z",
                3_100,
                Some(10),
                RunStatus::Succeeded,
            ),
            run(
                1,
                "2025-06-23T09:10:00Z",
                1_000,
                Some(10),
                RunStatus::Failed,
            ),
        ];
        let bars = timeline_bars(&runs, now);
        let late: Vec<_> = bars.iter().map(|bar| bar.late).collect();
        assert_eq!(
            late,
            [
                Some(Duration::milliseconds(1_000)),
                Some(Duration::milliseconds(3_100)),
                None,
                None
            ]
        );
        let html = timeline(&runs, now).into_string();
        assert_eq!(
            count(&html, "<polygon class=\"late-mark\" data-run-id"),
            2,
            "{html}"
        );
        assert!(html.contains("Run #2: started 3.1 s late"));
        assert!(
            html.contains("scheduled fire started ≥ 1.0 s late"),
            "the legend"
        );
        let on_time = [run(
            1,
            "2025-06-23T09:10:00Z",
            0,
            Some(10),
            RunStatus::Succeeded,
        )];
        let html = timeline(&on_time, now).into_string();
        assert_eq!(count(&html, "late-mark"), 0, "{html}");
        assert_eq!(
            count(&html, "class=\"time-label\""),
            1,
            "one start, one label"
        );
    }

    #[test]
    fn a_timeline_draws_at_most_the_newest_fifty_runs_and_says_when_there_are_none() {
        let now = at("2025-06-23T10:00:00Z");
        let runs: Vec<JobRun> = (0..60)
            .rev()
            .map(|i| {
                let start = at("2025-06-23T08:00:00Z") + Duration::minutes(i);
                run(
                    i + 1,
                    &start.to_rfc3339(),
                    0,
                    Some(100),
                    RunStatus::Succeeded,
                )
            })
            .collect();
        let bars = timeline_bars(&runs, now);
        assert_eq!(bars.len(), TIMELINE_RUNS);
        assert_eq!((bars[0].run, bars[49].run), (11, 60));
        let right = bars[49].x + bars[49].width;
        assert!(right <= TIMELINE.width - TIMELINE.right + 1e-9);
        let empty = timeline(&[], now).into_string();
        assert!(
            empty.contains("No runs yet.") && !empty.contains("<svg"),
            "{empty}"
        );
    }

    fn day(samples: &[(&str, RunStatus, i64)]) -> DayStats {
        let now = at("2025-06-23T09:40:00Z");
        let samples = samples
            .iter()
            .map(|(start, status, late_ms)| {
                let started_at = at(start);
                RunSample {
                    scheduled_for: started_at - Duration::milliseconds(*late_ms),
                    due_at: None,
                    started_at,
                    status: *status,
                    trigger: RunTrigger::Schedule,
                    attempt: 1,
                }
            })
            .collect();
        DayStats::of(
            &RunSamples {
                samples,
                truncated: false,
            },
            now,
        )
    }

    #[test]
    fn runs_per_hour_are_stacked_by_status_in_proportion_to_the_busiest_hour() {
        let day = day(&[
            ("2025-06-23T09:01:00Z", RunStatus::Succeeded, 10),
            ("2025-06-23T09:02:00Z", RunStatus::Succeeded, 10),
            ("2025-06-23T09:03:00Z", RunStatus::Failed, 10),
            ("2025-06-23T09:04:00Z", RunStatus::Failed, 10),
            ("2025-06-23T08:30:00Z", RunStatus::Succeeded, 10),
        ]);
        let bars = hour_bars(&day);
        let summary: Vec<_> = bars.iter().map(|bar| (bar.status, bar.count)).collect();
        assert_eq!(
            summary,
            [
                (RunStatus::Succeeded, 1),
                (RunStatus::Succeeded, 2),
                (RunStatus::Failed, 2)
            ]
        );
        let plot = HOURLY.plot_height();
        // The busiest hour (4 runs) fills the plot; its failures sit on its successes.
        let (ok, failed) = (&bars[1], &bars[2]);
        assert!((ok.height + failed.height - plot).abs() < 1e-9);
        assert!((ok.y - failed.height - failed.y).abs() < 1e-9);
        assert!((bars[0].height - plot / 4.0).abs() < 1e-9);
        assert!(bars[0].x < ok.x && (ok.x - failed.x).abs() < 1e-9);
        let html = runs_per_hour(&day).into_string();
        assert_eq!(count(&html, "<rect class=\"bar "), 3, "{html}");
        assert_eq!(count(&html, "class=\"bar status-fill-failed\""), 1);
        assert!(html.contains("data-hour=\"2025-06-23T09:00:00Z\""));
        assert!(html.contains("09:00–10:00 UTC: 2 failed"));
        assert!(html.contains("data-runs=\"5\""));
        // Hour labels every six hours: 10:00, 16:00, 22:00, 04:00.
        assert_eq!(count(&html, "class=\"time-label\""), 4);
        let empty = runs_per_hour(&self::day(&[])).into_string();
        assert!(empty.contains("No runs in the last 24 hours."), "{empty}");
    }

    #[test]
    fn lateness_is_drawn_as_p50_and_p99_points_joined_over_consecutive_hours() {
        let day = day(&[
            ("2025-06-23T09:01:00Z", RunStatus::Succeeded, 10),
            ("2025-06-23T09:02:00Z", RunStatus::Succeeded, 400),
            ("2025-06-23T08:30:00Z", RunStatus::Failed, 20),
            ("2025-06-23T05:30:00Z", RunStatus::Succeeded, 30),
            // Not a start: no lateness.
            ("2025-06-23T07:30:00Z", RunStatus::Skipped, 5_000),
        ]);
        let html = lateness(&day).into_string();
        assert_eq!(count(&html, "<circle class=\"point p50\""), 3, "{html}");
        assert_eq!(count(&html, "<circle class=\"point p99\""), 3);
        // 08:00 and 09:00 are consecutive: one line each; 05:00 stands alone.
        assert_eq!(count(&html, "<polyline class=\"line p50\""), 1);
        assert_eq!(count(&html, "<polyline class=\"line p99\""), 1);
        assert!(
            html.contains("09:00–10:00 UTC: p99 400 ms (2 fires)"),
            "{html}"
        );
        assert!(html.contains("p50 20 ms, p99 400 ms over 4 fires"));
        // The highest p99 is the top of the plot.
        let tops = attribute(&html, "point p99", "cy");
        let highest = tops.iter().copied().fold(f64::MAX, f64::min);
        assert!((highest - HOURLY.top).abs() < 0.11, "{tops:?}");
        let none = lateness(&self::day(&[(
            "2025-06-23T07:30:00Z",
            RunStatus::Skipped,
            5,
        )]));
        assert!(
            none.into_string()
                .contains("No scheduled fire started in the last 24 hours.")
        );
    }

    #[test]
    fn the_overview_says_when_statistics_are_unavailable_or_cut() {
        let html = overview(None).into_string();
        assert!(html.contains("Run statistics are unavailable right now."));
        let mut cut = day(&[("2025-06-23T09:01:00Z", RunStatus::Succeeded, 10)]);
        cut.truncated = true;
        let html = overview(Some(&cut)).into_string();
        assert!(html.contains("id=\"runs-per-hour\"") && html.contains("id=\"lateness\""));
        assert!(
            html.contains("Drawn from the newest 50000 runs of the day."),
            "{html}"
        );
        assert!(html.contains("p50 10 ms · p99 10 ms"));
    }
}
