//! Query strings of the job and run lists, read by the handlers' own readers
//! (`read_job_query`, `RawRunQuery::read`): nothing panics, and
//! an accepted query has a page from 1, a page size of 1-500 and an offset no arithmetic
//! overflowed to get.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_core::JobQuery;
use scheduler_server::api::body::{RawRunQuery, read_job_query};

fuzz_target!(|data: &[u8]| {
    let mut page = None;
    let mut page_size = None;
    let mut is_active = None;
    let mut ordering = None;
    let mut status = None;
    let mut trigger = None;
    let mut after = None;
    let mut before = None;
    // The first value of a repeated parameter wins, as in the handlers.
    for (key, value) in form_urlencoded::parse(data) {
        let slot = match key.as_ref() {
            "page" => &mut page,
            "page_size" => &mut page_size,
            "is_active" => &mut is_active,
            "ordering" => &mut ordering,
            "status" => &mut status,
            "trigger" => &mut trigger,
            "scheduled_after" => &mut after,
            "scheduled_before" => &mut before,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.into_owned());
    }

    if let Ok(query) = read_job_query(
        page.as_deref(),
        page_size.as_deref(),
        is_active.as_deref(),
        ordering.as_deref(),
    ) {
        assert!(query.page() >= 1);
        assert!((1..=JobQuery::MAX_PAGE_SIZE).contains(&query.page_size()));
        let exact = (query.page() - 1).checked_mul(query.page_size());
        assert_eq!(query.offset(), exact.unwrap_or(u64::MAX));
    }

    let runs = RawRunQuery {
        page: page.as_deref(),
        page_size: page_size.as_deref(),
        status: status.as_deref(),
        trigger: trigger.as_deref(),
        job_id: None,
        scheduled_after: after.as_deref(),
        scheduled_before: before.as_deref(),
    };
    if let Ok(query) = runs.read() {
        assert!(query.page() >= 1);
        let _ = query.offset();
    }
});
