//! Query strings of the job and run lists, read by the handlers' own readers
//! (`read_job_query`, `RawRunQuery::read`): nothing panics, and
//! an accepted query has a page from 1, a page size of 1-500 and an offset no arithmetic
//! overflowed to get. Cursors: any token is decoded without a panic (and refused, being
//! unsigned), and any JSON signed as a cursor position is read for every ordering without a
//! panic (a token longer than
//! `MAX_TOKEN_CHARS` is refused, even one we signed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scheduler_core::{
    CursorCodec, CursorKey, Direction, JobPosition, JobQuery, MAX_TOKEN_CHARS, OrderField, Tenant,
};
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
    let mut search = None;
    let mut cursor = None;
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
            "search" => &mut search,
            "cursor" => &mut cursor,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.into_owned());
    }

    if let Ok(query) = read_job_query(
        page.as_deref(),
        page_size.as_deref(),
        is_active.as_deref(),
        ordering.as_deref(),
        search.as_deref(),
        cursor.as_deref(),
    ) {
        assert!((1..=JobQuery::MAX_PAGE_SIZE).contains(&query.page_size()));
        if let Some(page) = query.page() {
            assert!(page >= 1);
            let exact = (page - 1).checked_mul(query.page_size());
            assert_eq!(query.offset(), exact.unwrap_or(u64::MAX));
        }
    }

    let codec = CursorCodec::new(CursorKey::from_bytes([1; 32]));
    let tenant = Tenant::default_tenant();
    if let Some(token) = cursor.as_deref() {
        assert!(codec.decode(&tenant, "jobs:id", token).is_err());
        if let Ok(position) = serde_json::from_str::<serde_json::Value>(token) {
            let signed = codec.encode(&tenant, "jobs:id", Direction::Forward, position);
            // Any JSON can be signed, but only tokens up to the bound are read back (the
            // positions the server makes stay under it: see MAX_TOKEN_CHARS).
            let read_back = codec.decode(&tenant, "jobs:id", &signed);
            if signed.len() > MAX_TOKEN_CHARS {
                assert!(read_back.is_err());
                return;
            }
            let (_, decoded) = read_back.expect("own token");
            for field in [
                OrderField::Id,
                OrderField::Name,
                OrderField::NextRun,
                OrderField::CreatedAt,
            ] {
                if let Ok(read) = JobPosition::from_value(field, &decoded) {
                    assert_eq!(JobPosition::from_value(field, &read.to_value()), Ok(read));
                }
            }
        }
    }

    let runs = RawRunQuery {
        page: page.as_deref(),
        page_size: page_size.as_deref(),
        status: status.as_deref(),
        trigger: trigger.as_deref(),
        job_id: None,
        scheduled_after: after.as_deref(),
        scheduled_before: before.as_deref(),
        cursor: cursor.as_deref(),
    };
    if let Ok(query) = runs.read() {
        assert!(query.page().is_none_or(|page| page >= 1));
        let _ = query.offset();
    }
});
