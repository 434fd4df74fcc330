//! A receiver's `Retry-After` (RFC 9110 §10.2.3) on a 429 or 503 answer: the delay it asks
//! for before the next request, as delay-seconds or an HTTP-date. What makes a delivery
//! `throttled` instead of failed (`scheduler_core::Execution::Throttled`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The delay an answer with `status` and `headers` asks for, when it is a 429 or 503 with a
/// `Retry-After` that parses; `None` otherwise (any other status, no header, a value that is
/// neither delay-seconds nor an HTTP-date). A date in the past is a zero delay; a huge number
/// of seconds saturates (the core bounds the wait either way).
pub fn throttle_delay(
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    parse(value, now)
}

/// `value` as delay-seconds (digits only) or an IMF-fixdate (also the older RFC 850 and
/// asctime forms RFC 9110 says to accept, as far as RFC 2822 covers them).
fn parse(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: too many for a u64 still means "a long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        "2015-10-21T07:28:00Z".parse().unwrap()
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        }
        throttle_delay(StatusCode::from_u16(status).unwrap(), &headers, now())
    }

    #[test]
    fn seconds_and_dates_on_429_and_503_are_delays() {
        assert_eq!(answer(429, Some("120")), Some(Duration::from_secs(120)));
        assert_eq!(answer(503, Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(answer(429, Some("0")), Some(Duration::ZERO));
        assert_eq!(
            answer(503, Some("Wed, 21 Oct 2015 07:28:30 GMT")),
            Some(Duration::from_secs(30))
        );
        // A date already past: call again now (the core waits its minimum).
        assert_eq!(
            answer(429, Some("Wed, 21 Oct 2015 07:00:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(
            answer(429, Some("99999999999999999999999")),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn other_statuses_and_unreadable_values_are_not_throttles() {
        assert_eq!(answer(500, Some("5")), None);
        assert_eq!(answer(200, Some("5")), None);
        assert_eq!(answer(302, Some("5")), None);
        assert_eq!(answer(429, None), None);
        for bad in [
            "",
            "-5",
            "5.5",
            "soon",
            "1e3",
            "Wed, 99 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(answer(429, Some(bad)), None, "{bad:?}");
        }
    }
}
