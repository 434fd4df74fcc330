//! Query strings of the job and run lists, read as the handlers read them: nothing panics, and
//! an accepted query has a page from 1, a page size of 1-500 and an offset no arithmetic
//! overflowed to get.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_core::{JobQuery, RunListRequest};
use scheduler_server::api::body::ParamReader;

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

    let mut params = ParamReader::default();
    let number = params.integer("page", page.as_deref());
    let size = params.integer("page_size", page_size.as_deref());
    let active = params.boolean("is_active", is_active.as_deref());
    if let Ok(query) = params.finish(JobQuery::new(number, size, active, ordering.as_deref())) {
        assert!(query.page() >= 1);
        assert!((1..=JobQuery::MAX_PAGE_SIZE).contains(&query.page_size()));
        let exact = (query.page() - 1).checked_mul(query.page_size());
        assert_eq!(query.offset(), exact.unwrap_or(u64::MAX));
    }

    let mut params = ParamReader::default();
    let list = RunListRequest {
        page: params.integer("page", page.as_deref()),
        page_size: params.integer("page_size", page_size.as_deref()),
        status,
        trigger,
        job_id: None,
        scheduled_after: params.instant("scheduled_after", after.as_deref()),
        scheduled_before: params.instant("scheduled_before", before.as_deref()),
    };
    if let Ok(query) = params.finish(list.validate()) {
        assert!(query.page() >= 1);
        let _ = query.offset();
    }
});
