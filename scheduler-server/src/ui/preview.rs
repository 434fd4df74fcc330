//! The live preview of a cron expression beside the job form: `GET /ui/preview` answers an
//! HTML fragment (the expression's reading and its next 5 fires, or why it is invalid) that
//! htmx swaps in as the expression is typed. The core's `PreviewRequest` decides; the
//! server's `wording` words its errors, as the API's `/scheduler/cron/preview/` does.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use scheduler_core::PreviewRequest;

use super::cells::zoned_instant;
use crate::error::field_errors;

/// Fires listed by the preview.
pub const PREVIEW_COUNT: i64 = 5;

/// The preview of `expression` read in `timezone` (empty: UTC) from `now`.
pub fn fragment(expression: &str, timezone: &str, now: DateTime<Utc>) -> Markup {
    if expression.trim().is_empty() {
        return html! { p.help { "Type an expression to see when it fires." } };
    }
    let request = PreviewRequest {
        expression: Some(expression.to_string()),
        timezone: (!timezone.trim().is_empty()).then(|| timezone.to_string()),
        count: Some(PREVIEW_COUNT),
        ..PreviewRequest::default()
    };
    match request.evaluate(now) {
        Ok(preview) => html! {
            p.reading { (preview.schedule.describe()) " (" (preview.timezone.name()) ")" }
            @if preview.next_runs.is_empty() {
                p.help { "This expression never fires." }
            } @else {
                ol.fires {
                    @for at in &preview.next_runs { li { (zoned_instant(Some(*at), &preview.timezone)) } }
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

    fn now() -> DateTime<Utc> {
        "2025-06-23T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn fires_are_shown_in_the_zone_beside_utc_across_a_dst_change() {
        let html = fragment(
            "30 1 * * *",
            "America/New_York",
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
        let html = fragment("0 9 * * 1", "UTC", now()).into_string();
        assert_eq!(html.matches("<li>").count(), 5, "{html}");
        assert!(html.contains("2025-06-30 09:00"), "{html}");
    }

    #[test]
    fn an_invalid_expression_shows_the_api_wording() {
        let html = fragment("61 * * * *", "", now()).into_string();
        assert!(html.contains("Invalid CRON expression"), "{html}");
        let zone = fragment("@daily", "Mars/Olympus", now()).into_string();
        assert!(zone.contains("Unknown time zone"), "{zone}");
    }
}
