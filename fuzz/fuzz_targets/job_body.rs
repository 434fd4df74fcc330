//! The lenient job body reader (create, replace and update bodies): any JSON never panics, and
//! an accepted create body validates into a job whose next run, if any, is in the future.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use scheduler_server::api::body::{read_draft, read_patch};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(now) = "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>() else {
        return;
    };
    if let Ok(draft) = read_draft(&body) {
        if let Ok(spec) = draft.validate(now) {
            if let Some(next) = spec.next_run(now, 0) {
                assert!(next > now, "next run {next} is not after {now}");
            }
        }
    }
    let _ = read_patch(&body);
});
