//! Cron expressions as a client sends them: parsing never panics, and an accepted expression's
//! upcoming runs, in UTC and in zones with DST, start at or after the instant asked about and
//! strictly increase; the next run strictly after an instant is after it.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use scheduler_core::CronSchedule;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(schedule) = CronSchedule::parse(text) else {
        return;
    };
    let _ = schedule.describe();
    let Ok(after) = "2026-03-08T06:30:00Z".parse::<DateTime<Utc>>() else {
        return;
    };
    for tz in [
        chrono_tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
    ] {
        let runs = schedule.upcoming(after, tz, 3);
        if let Some(first) = runs.first() {
            assert!(
                *first >= after,
                "{text:?} in {tz}: {first} is before {after}"
            );
        }
        for pair in runs.windows(2) {
            assert!(
                pair[1] > pair[0],
                "{text:?} in {tz}: {pair:?} do not increase"
            );
        }
        if let Some(next) = schedule.next_after(after, tz) {
            assert!(
                next > after,
                "{text:?} in {tz}: {next} is not after {after}"
            );
        }
    }
});
