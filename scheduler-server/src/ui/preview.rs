//! The live preview of a cron expression beside the job form: `GET /ui/preview` answers an
//! HTML fragment (the expression's reading and its next 5 fires, or why it is invalid) that
//! htmx swaps in as the expression is typed. The core's `PreviewRequest` decides; the
//! server's `wording` words its errors, as the API's `/scheduler/cron/preview/` does. With
//! the form's calendars (`calendars`, `on_excluded`), each fire on a day one of them excludes
//! is marked "excluded by <name>", or "moved to <local time>" when such fires move.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use scheduler_core::{
    CalendarName, JobCalendars, JobService, OnExcluded, PreviewRequest, Timezone, ValidationErrors,
    WireEnum,
};

use super::cells::{local_instant, zoned_instant};
use super::form::calendar_names;
use crate::error::{ApiError, FieldErrors, field_errors};

/// Fires listed by the preview.
pub const PREVIEW_COUNT: i64 = 5;

/// The calendars a preview marks fires by: the caller's calendars named in `names` (the
/// form's comma-separated text; empty: none), skipping or moving as `on_excluded` says
/// (empty: skip); or why they cannot be, worded by field (`calendars`, `on_excluded`).
pub async fn calendars(
    jobs: &JobService,
    names: &str,
    on_excluded: &str,
) -> Result<JobCalendars, FieldErrors> {
    let mut calendars = match jobs.calendar_rules(&calendar_names(names)).await {
        Ok(calendars) => calendars,
        Err(error) => {
            return Err(match ApiError::from(error) {
                ApiError::Validation(fields) => fields,
                other => FieldErrors::from([("calendars".into(), vec![other.message().into()])]),
            });
        }
    };
    let choice = on_excluded.trim();
    if !choice.is_empty() {
        match OnExcluded::parse(choice) {
            Ok(choice) => calendars.on_excluded = choice,
            Err(problem) => {
                return Err(field_errors(&ValidationErrors::single(
                    "on_excluded",
                    problem,
                )));
            }
        }
    }
    Ok(calendars)
}

/// What a calendar does to one fire, beside it: skipped ("excluded by <name>") or moved
/// ("moved to <local time> (excluded by <name>)"); nothing for a fire no calendar excludes.
pub fn calendar_mark(
    excluded_by: Option<&CalendarName>,
    moved_to: Option<DateTime<Utc>>,
    zone: &Timezone,
) -> Markup {
    html! {
        @match (excluded_by, moved_to) {
            (Some(name), Some(to)) => {
                " " span.moved { "moved to " (local_instant(to, zone)) " (excluded by " (name.as_str()) ")" }
            },
            (Some(name), None) => { " " span.excluded { "excluded by " (name.as_str()) } },
            (None, _) => {},
        }
    }
}

/// The preview of `expression` read in `timezone` (empty: UTC) from `now`, its fires marked
/// by `calendars` (or, when they could not be read, unmarked under why).
pub fn fragment(
    expression: &str,
    timezone: &str,
    calendars: &Result<JobCalendars, FieldErrors>,
    now: DateTime<Utc>,
) -> Markup {
    if expression.trim().is_empty() {
        return html! { p.help { "Type an expression to see when it fires." } };
    }
    let request = PreviewRequest {
        expression: Some(expression.to_string()),
        timezone: (!timezone.trim().is_empty()).then(|| timezone.to_string()),
        count: Some(PREVIEW_COUNT),
        calendars: calendars.as_ref().cloned().unwrap_or_default(),
        ..PreviewRequest::default()
    };
    match request.evaluate(now) {
        Ok(preview) => html! {
            p.reading { (preview.schedule.describe()) " (" (preview.timezone.name()) ")" }
            @if let Err(problems) = calendars {
                ul.field-error.preview-error #preview-calendar-error {
                    @for problem in problems.values().flatten() { li { (problem) } }
                }
            }
            @if preview.next_runs.is_empty() {
                p.help { "This expression never fires." }
            } @else {
                ol.fires {
                    @for (i, at) in preview.next_runs.iter().enumerate() {
                        @let mark = preview.marks.get(i);
                        li {
                            (zoned_instant(Some(*at), &preview.timezone))
                            (calendar_mark(mark.and_then(|m| m.excluded_by.as_ref()),
                                mark.and_then(|m| m.moved_to), &preview.timezone))
                        }
                    }
                }
            }
        },
        Err(errors) => html! {
            ul.field-error.preview-error {
                @for (_, problems) in field_errors(&errors) {
                    @for problem in problems { li { (problem) } }
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::CalendarDraft;

    /// No calendars.
    fn none() -> Result<JobCalendars, FieldErrors> {
        Ok(JobCalendars::default())
    }

    /// The calendar `holidays` (UTC) excluding `dates`, as a job lists it.
    fn holidays(dates: serde_json::Value, on_excluded: OnExcluded) -> JobCalendars {
        let def = CalendarDraft {
            name: Some("holidays".into()),
            dates: Some(dates),
            ..CalendarDraft::default()
        }
        .validate()
        .unwrap();
        JobCalendars {
            names: JobCalendars::parse_names(&["holidays".into()]).unwrap(),
            on_excluded,
            rules: Vec::new(),
        }
        .resolve(&[def])
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2025-06-23T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn fires_are_shown_in_the_zone_beside_utc_across_a_dst_change() {
        let html = fragment(
            "30 1 * * *",
            "America/New_York",
            &none(),
            "2025-11-01T00:00:00Z".parse().unwrap(),
        )
        .into_string();
        // 01:30 EDT on 1 and 2 November (on the 2nd 01:30 occurs twice; it fires once, at
        // the first occurrence, EDT), then 01:30 EST from the 3rd.
        assert!(html.contains("2025-11-01 05:30:00 UTC"), "{html}");
        assert!(html.contains("2025-11-01 01:30 EDT"), "{html}");
        assert!(html.contains("2025-11-03 01:30 EST"), "{html}");
    }

    #[test]
    fn a_valid_expression_lists_five_fires_with_its_reading() {
        let html = fragment("0 9 * * 1", "UTC", &none(), now()).into_string();
        assert_eq!(html.matches("<li>").count(), 5, "{html}");
        assert!(html.contains("2025-06-30 09:00"), "{html}");
    }

    #[test]
    fn an_invalid_expression_shows_the_api_wording() {
        let html = fragment("61 * * * *", "", &none(), now()).into_string();
        assert!(html.contains("Invalid CRON expression"), "{html}");
        let zone = fragment("@daily", "Mars/Olympus", &none(), now()).into_string();
        assert!(zone.contains("Unknown time zone"), "{zone}");
    }

    #[test]
    fn fires_on_excluded_days_are_marked_skipped_or_moved() {
        let dates = serde_json::json!([{"date": "2025-06-24"}]);
        let skip = Ok(holidays(dates.clone(), OnExcluded::Skip));
        let html = fragment("0 9 * * *", "UTC", &skip, now()).into_string();
        assert_eq!(html.matches("<li>").count(), 5, "{html}");
        assert_eq!(html.matches("excluded by holidays").count(), 1, "{html}");
        assert!(
            html.contains("2025-06-24 09:00:00 UTC</time> <span class=\"excluded\">"),
            "{html}"
        );
        let moved = Ok(holidays(dates, OnExcluded::Move));
        let html = fragment("0 9 * * *", "UTC", &moved, now()).into_string();
        assert!(
            html.contains("moved to <time datetime=\"2025-06-25T09:00:00Z\">2025-06-25 09:00 UTC"),
            "{html}"
        );
        let unknown: Result<JobCalendars, FieldErrors> = Err(FieldErrors::from([(
            "calendars".to_string(),
            vec!["No calendar named \"x\".".to_string()],
        )]));
        let html = fragment("0 9 * * *", "UTC", &unknown, now()).into_string();
        assert!(html.contains("No calendar named &quot;x&quot;."), "{html}");
        assert_eq!(
            html.matches("<li>").count(),
            6,
            "five fires and the error: {html}"
        );
    }
}
