//! The small pieces dashboard pages are made of: instants, durations, run status badges,
//! and the links of a paged table.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use scheduler_core::{RunStatus, WireEnum};

/// An instant as `2025-06-23 09:00:00 UTC` in a `<time>` element; `—` when absent.
pub fn instant(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! {
            time datetime=(crate::api::wire_time::format_instant(at)) {
                (at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            }
        },
        None => html! { span.none aria-label="none" { "—" } },
    }
}

/// An instant in UTC and, beside it, on the wall clock of `tz` with its offset
/// (`2025-11-02 01:30:00 UTC · 2025-11-01 21:30 EDT`); the zone part is left out for UTC.
pub fn zoned_instant(at: Option<DateTime<Utc>>, zone: &scheduler_core::Timezone) -> Markup {
    let Some(utc) = at else {
        return instant(None);
    };
    html! {
        (instant(Some(utc)))
        @if zone.name() != "UTC" {
            " · " span.local { (utc.with_timezone(&zone.tz()).format("%Y-%m-%d %H:%M %Z").to_string()) }
        }
    }
}

/// An instant on the wall clock of `zone` alone (`2025-11-01 21:30 EDT`), in a `<time>`
/// element carrying the UTC instant.
pub fn local_instant(at: DateTime<Utc>, zone: &scheduler_core::Timezone) -> Markup {
    html! {
        time datetime=(crate::api::wire_time::format_instant(at)) {
            (at.with_timezone(&zone.tz()).format("%Y-%m-%d %H:%M %Z").to_string())
        }
    }
}

/// A duration as `850 ms`, `12.3 s`, `4 min 05 s`; `—` when absent (still running).
pub fn duration(length: Option<chrono::Duration>) -> Markup {
    let Some(length) = length else {
        return html! { span.none aria-label="none" { "—" } };
    };
    html! { (duration_text(length)) }
}

/// A duration in words, as [`duration`] shows it (`850 ms`, `12.3 s`, `4 min 05 s`).
pub fn duration_text(length: chrono::Duration) -> String {
    let ms = length.num_milliseconds().max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{}.{} s", ms / 1_000, (ms % 1_000) / 100)
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1_000)
    }
}

/// Whether a run in `status` ended badly (highlighted).
pub fn is_failure(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Abandoned
    )
}

/// A run status as a coloured badge with its name in words.
pub fn status_badge(status: RunStatus) -> Markup {
    let name = status.as_str();
    html! { span class={"badge status-" (name)} { (name.replace('_', " ")) } }
}

/// Every run status, in the order filters list them.
pub const STATUSES: [RunStatus; 8] = [
    RunStatus::Running,
    RunStatus::Succeeded,
    RunStatus::Failed,
    RunStatus::TimedOut,
    RunStatus::Skipped,
    RunStatus::Abandoned,
    RunStatus::Cancelled,
    RunStatus::Throttled,
];

/// The `Previous`/`Next` links of a paged table.
pub fn pager(previous: Option<&str>, next: Option<&str>) -> Markup {
    html! {
        @if previous.is_some() || next.is_some() {
            nav.pager aria-label="Pages" {
                @if let Some(previous) = previous {
                    a href=(previous) rel="prev" { "← Previous" }
                }
                @if let Some(next) = next {
                    a href=(next) rel="next" { "Next →" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_sensible_unit() {
        let d = |ms| duration(Some(chrono::Duration::milliseconds(ms))).into_string();
        assert_eq!(d(850), "850 ms");
        assert_eq!(d(12_345), "12.3 s");
        assert_eq!(d(245_000), "4 min 05 s");
        assert!(duration(None).into_string().contains('—'));
    }

    #[test]
    fn instants_are_written_in_utc_with_a_machine_readable_twin() {
        let at = "2025-06-23T09:00:00Z".parse().ok();
        let html = instant(at).into_string();
        assert!(html.contains("2025-06-23 09:00:00 UTC"), "{html}");
        assert!(html.contains("datetime=\"2025-06-23T09:00:00Z\""), "{html}");
    }
}
