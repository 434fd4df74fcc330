//! Listing jobs: the request a client makes ([`JobListRequest`] → [`JobQuery`]), the slice a
//! store reads ([`JobSlice`]: filter, ordering, window) and the positions cursors hold
//! ([`JobPosition`]).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::cursor::{InvalidCursor, Keyset};
use crate::error::{Invalid, ValidationErrors};
use crate::job::{Job, JobId};
use crate::page::{Page, Window};
use crate::paging::{PageRequest, Paging};
use crate::tenant::Tenant;

/// The column a job list is sorted by; ties are broken by `id` in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderField {
    /// Database identity (creation order).
    Id,
    /// Job name.
    Name,
    /// Next fire instant (jobs that never fire sort last ascending).
    NextRun,
    /// Creation instant.
    CreatedAt,
}

/// A sort column and direction, written `name` or `-name` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobOrdering {
    /// The column.
    pub field: OrderField,
    /// True for descending (`-` prefix).
    pub descending: bool,
}

impl Default for JobOrdering {
    fn default() -> Self {
        Self {
            field: OrderField::Id,
            descending: false,
        }
    }
}

impl JobOrdering {
    /// The values accepted on the wire.
    pub const CHOICES: &'static [&'static str] = &[
        "id",
        "-id",
        "name",
        "-name",
        "next_run",
        "-next_run",
        "created_at",
        "-created_at",
    ];

    /// Parses `id`, `-name`, `next_run`, ...
    ///
    /// # Errors
    /// [`Invalid::NotAChoice`] listing the accepted values.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let field = match name {
            "id" => OrderField::Id,
            "name" => OrderField::Name,
            "next_run" => OrderField::NextRun,
            "created_at" => OrderField::CreatedAt,
            _ => {
                return Err(Invalid::NotAChoice {
                    value: raw.to_string(),
                    choices: Self::CHOICES,
                });
            }
        };
        Ok(Self { field, descending })
    }

    /// The list a cursor of this ordering belongs to (`jobs:-name`): a cursor made for one
    /// ordering is refused by another.
    pub fn cursor_scope(&self) -> String {
        format!("jobs:{}", self.as_wire())
    }

    /// The wire spelling (`-name`).
    pub fn as_wire(&self) -> String {
        let name = match self.field {
            OrderField::Id => "id",
            OrderField::Name => "name",
            OrderField::NextRun => "next_run",
            OrderField::CreatedAt => "created_at",
        };
        if self.descending {
            format!("-{name}")
        } else {
            name.to_string()
        }
    }
}

/// What a client asks of the job list, as read from a request: every part optional. Checked
/// by [`JobListRequest::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobListRequest {
    /// Numbered page, from 1 (`page=`); default 1. Not with `cursor`.
    pub page: Option<i64>,
    /// Jobs per page, 1 to [`JobQuery::MAX_PAGE_SIZE`]; default 50.
    pub page_size: Option<i64>,
    /// Only active (`true`) or paused (`false`) jobs.
    pub is_active: Option<bool>,
    /// `id`, `-name`, ...; default `id`.
    pub ordering: Option<String>,
    /// Only jobs whose name contains this text, ignoring case.
    pub search: Option<String>,
    /// Cursor pages: `Some("")` for the first, or the token of a `next`/`previous` link.
    pub cursor: Option<String>,
}

impl JobListRequest {
    /// Checks every part, collecting every failure (the cursor token itself is verified by
    /// the use case, which knows the caller).
    ///
    /// # Errors
    /// Each bad parameter: `page`, `page_size`, `ordering`, `search`, `cursor` (with `page`).
    pub fn validate(&self) -> Result<JobQuery, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let page = PageRequest::read(
            &mut errors,
            self.page,
            self.page_size,
            self.cursor.as_deref(),
        );
        let ordering = match &self.ordering {
            None => Some(JobOrdering::default()),
            Some(raw) => errors.check("ordering", JobOrdering::parse(raw)),
        };
        let search = match &self.search {
            None => Some(None),
            Some(raw) => errors.check("search", checked_search(raw)),
        };
        match (ordering, search, page) {
            (Some(ordering), Some(search), Some(page)) if errors.is_empty() => Ok(JobQuery {
                page,
                ordering,
                filter: JobFilter {
                    tenant: None,
                    is_active: self.is_active,
                    search,
                },
            }),
            _ => Err(errors),
        }
    }
}

/// A name search: trimmed, at most 255 characters, no NUL; blank means no search.
fn checked_search(raw: &str) -> Result<Option<String>, Invalid> {
    crate::text::reject_nul(raw)?;
    let trimmed = raw.trim();
    if trimmed.chars().count() > crate::job_values::JobName::MAX_CHARS {
        return Err(Invalid::TooLong {
            max: crate::job_values::JobName::MAX_CHARS,
        });
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
}

/// Which jobs a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JobFilter {
    /// Only this tenant's jobs (every list the use cases serve has one).
    pub tenant: Option<Tenant>,
    /// Only active (`Some(true)`) or paused (`Some(false)`) jobs.
    pub is_active: Option<bool>,
    /// Only jobs whose name contains this (trimmed, non-empty) text, ignoring case.
    pub search: Option<String>,
}

/// A validated request for one page of jobs. Built by [`JobListRequest::validate`],
/// [`JobQuery::new`] (numbered pages) or `default()`, so `page >= 1` and `page_size` is in
/// range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JobQuery {
    /// Which page, and its size.
    page: PageRequest,
    /// Sort order.
    ordering: JobOrdering,
    /// Which jobs.
    filter: JobFilter,
}

impl JobQuery {
    /// Page size when none is asked for.
    pub const DEFAULT_PAGE_SIZE: u64 = PageRequest::DEFAULT_SIZE;
    /// Largest page size accepted.
    pub const MAX_PAGE_SIZE: u64 = PageRequest::MAX_SIZE;

    /// A numbered-page query from optional raw parts, collecting every failure.
    ///
    /// # Errors
    /// Each bad parameter: `page`, `page_size`, `ordering`.
    pub fn new(
        page: Option<i64>,
        page_size: Option<i64>,
        is_active: Option<bool>,
        ordering: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        JobListRequest {
            page,
            page_size,
            is_active,
            ordering: ordering.map(str::to_string),
            ..JobListRequest::default()
        }
        .validate()
    }

    /// The numbered page, or `None` for cursor pages.
    pub fn page(&self) -> Option<u64> {
        self.page.page()
    }

    /// How the list is paged.
    pub fn paging(&self) -> &Paging {
        self.page.paging()
    }

    /// Jobs per page.
    pub fn page_size(&self) -> u64 {
        self.page.page_size()
    }

    /// The `is_active` filter.
    pub fn is_active(&self) -> Option<bool> {
        self.filter.is_active
    }

    /// The sort order.
    pub fn ordering(&self) -> JobOrdering {
        self.ordering
    }

    /// Which jobs the list holds.
    pub fn filter(&self) -> &JobFilter {
        &self.filter
    }

    /// Rows to skip before a numbered page (0 for cursor pages).
    pub fn offset(&self) -> u64 {
        self.page.offset()
    }

    /// The rows a store reads for a numbered page, or the first cursor page, of `tenant`'s
    /// jobs (a cursor token is resolved by the use case instead).
    pub fn slice_for(
        &self,
        tenant: Option<Tenant>,
        keyset: Option<Keyset<JobPosition>>,
    ) -> JobSlice {
        let window = self.page.window(keyset);
        JobSlice {
            filter: JobFilter {
                tenant,
                ..self.filter.clone()
            },
            ordering: self.ordering,
            window,
        }
    }
}

/// A job's value in the column a list is sorted by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Sorted by id: the id is the key.
    Id,
    /// The job's name.
    Name(String),
    /// Its next fire (`None`: never; such jobs sort last ascending, first descending).
    NextRun(Option<DateTime<Utc>>),
    /// Its creation instant.
    CreatedAt(DateTime<Utc>),
}

/// A job's place in a sorted list: its sort key and id (ties are broken by id, in the
/// ordering's direction). What a cursor holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobPosition {
    /// The sort column's value.
    pub key: SortKey,
    /// The job's id.
    pub id: JobId,
}

impl JobPosition {
    /// Where `job` sits in a list sorted by `field`.
    pub fn of(job: &Job, field: OrderField) -> Self {
        let key = match field {
            OrderField::Id => SortKey::Id,
            OrderField::Name => SortKey::Name(job.spec.name.as_str().to_string()),
            OrderField::NextRun => SortKey::NextRun(job.next_run),
            OrderField::CreatedAt => SortKey::CreatedAt(job.created_at),
        };
        Self { key, id: job.id }
    }

    /// The position as a cursor carries it: `[id]`, or `[key, id]`.
    pub fn to_value(&self) -> Value {
        let instant =
            |at: &DateTime<Utc>| Value::from(at.to_rfc3339_opts(SecondsFormat::Micros, true));
        let id = Value::from(self.id.0);
        match &self.key {
            SortKey::Id => Value::Array(vec![id]),
            SortKey::Name(name) => Value::Array(vec![Value::from(name.as_str()), id]),
            SortKey::NextRun(at) => {
                Value::Array(vec![at.as_ref().map_or(Value::Null, instant), id])
            }
            SortKey::CreatedAt(at) => Value::Array(vec![instant(at), id]),
        }
    }

    /// Reads a position written by [`JobPosition::to_value`] for a list sorted by `field`.
    ///
    /// # Errors
    /// [`InvalidCursor`] for any other shape.
    pub fn from_value(field: OrderField, value: &Value) -> Result<Self, InvalidCursor> {
        let instant = |value: &Value| {
            value
                .as_str()
                .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                .map(|at| at.with_timezone(&Utc))
                .ok_or(InvalidCursor)
        };
        let id_of = |value: &Value| value.as_i64().map(JobId).ok_or(InvalidCursor);
        let (key, id) = match (field, value.as_array().map(Vec::as_slice)) {
            (OrderField::Id, Some([id])) => (SortKey::Id, id_of(id)?),
            (OrderField::Name, Some([name, id])) => (
                SortKey::Name(name.as_str().ok_or(InvalidCursor)?.to_string()),
                id_of(id)?,
            ),
            (OrderField::NextRun, Some([Value::Null, id])) => (SortKey::NextRun(None), id_of(id)?),
            (OrderField::NextRun, Some([at, id])) => {
                (SortKey::NextRun(Some(instant(at)?)), id_of(id)?)
            }
            (OrderField::CreatedAt, Some([at, id])) => {
                (SortKey::CreatedAt(instant(at)?), id_of(id)?)
            }
            _ => return Err(InvalidCursor),
        };
        Ok(Self { key, id })
    }
}

/// What a store reads for one job list page: which jobs, in which order, which rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobSlice {
    /// Which jobs.
    pub filter: JobFilter,
    /// Sort order (ties by id in the same direction).
    pub ordering: JobOrdering,
    /// Which rows.
    pub window: Window<JobPosition>,
}

impl JobSlice {
    /// The first numbered page of every job, by id (tests and tools).
    pub fn everything(limit: u64) -> Self {
        Self {
            filter: JobFilter::default(),
            ordering: JobOrdering::default(),
            window: Window::Offset { offset: 0, limit },
        }
    }
}

/// One page of jobs as a store returns it.
pub type JobPage = Page<Job>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_position_makes_a_token_that_is_read_back() {
        use crate::cursor::{CursorCodec, CursorKey, Direction, MAX_TOKEN_CHARS};
        use crate::job_values::JobName;
        // Control characters are escaped as `\u00XX`: the longest JSON a name can make.
        let raw: String = std::iter::repeat_n('\u{1}', JobName::MAX_CHARS).collect();
        let name = JobName::parse(&raw).unwrap();
        let position = JobPosition {
            key: SortKey::Name(name.as_str().to_string()),
            id: JobId(i64::MIN),
        };
        let ordering = JobOrdering::parse("-name").unwrap();
        let tenant = Tenant::parse(&"t".repeat(Tenant::MAX_CHARS)).unwrap();
        let codec = CursorCodec::new(CursorKey::from_bytes([9; 32]));
        let token = codec.encode(
            &tenant,
            &ordering.cursor_scope(),
            Direction::Backward,
            position.to_value(),
        );
        assert!(
            token.len() > 2_048,
            "the case 2,048 refused: {}",
            token.len()
        );
        assert!(token.len() <= MAX_TOKEN_CHARS, "{}", token.len());
        let (direction, value) = codec
            .decode(&tenant, &ordering.cursor_scope(), &token)
            .unwrap();
        assert_eq!(direction, Direction::Backward);
        assert_eq!(
            JobPosition::from_value(OrderField::Name, &value),
            Ok(position)
        );
    }

    #[test]
    fn defaults_are_first_page_of_fifty_by_id() {
        let q = JobQuery::new(None, None, None, None).unwrap();
        assert_eq!(q, JobQuery::default());
        assert_eq!(q.offset(), 0);
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let errors = JobQuery::new(Some(0), Some(501), None, Some("color")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "page_size", "ordering"]);
    }

    #[test]
    fn ordering_round_trips_its_wire_form() {
        for wire in JobOrdering::CHOICES {
            assert_eq!(JobOrdering::parse(wire).unwrap().as_wire(), *wire);
        }
        assert!(JobOrdering::parse("--id").is_err());
    }

    #[test]
    fn offset_follows_page_and_size() {
        let q = JobQuery::new(Some(3), Some(20), None, None).unwrap();
        assert_eq!(q.offset(), 40);
        let huge = JobQuery::new(Some(i64::MAX), Some(500), None, None).unwrap();
        assert_eq!(huge.offset(), u64::MAX);
    }

    #[test]
    fn an_empty_cursor_asks_for_the_first_cursor_page() {
        let request = JobListRequest {
            cursor: Some(String::new()),
            ..JobListRequest::default()
        };
        let query = request.validate().unwrap();
        assert_eq!(query.paging(), &Paging::Cursor(None));
        assert_eq!(query.page(), None);
    }

    #[test]
    fn a_cursor_with_a_page_number_is_refused_on_cursor() {
        let request = JobListRequest {
            page: Some(2),
            cursor: Some("abc".into()),
            ..JobListRequest::default()
        };
        assert_eq!(
            request.validate(),
            Err(ValidationErrors::single("cursor", Invalid::CursorWithPage))
        );
    }

    #[test]
    fn a_search_is_trimmed_bounded_and_free_of_nul() {
        let search = |raw: &str| {
            JobListRequest {
                search: Some(raw.into()),
                ..JobListRequest::default()
            }
            .validate()
            .map(|q| q.filter().search.clone())
        };
        assert_eq!(search("  weekly "), Ok(Some("weekly".into())));
        assert_eq!(search("   "), Ok(None));
        assert_eq!(
            search("a\u{0}b"),
            Err(ValidationErrors::single("search", Invalid::NulCharacter))
        );
        assert_eq!(
            search(&"x".repeat(256)),
            Err(ValidationErrors::single(
                "search",
                Invalid::TooLong { max: 255 }
            ))
        );
    }

    #[test]
    fn positions_round_trip_for_every_ordering() {
        let at: DateTime<Utc> = "2025-06-23T09:00:00.123456Z".parse().unwrap();
        for (field, key) in [
            (OrderField::Id, SortKey::Id),
            (OrderField::Name, SortKey::Name("Weekly \"report\"".into())),
            (OrderField::NextRun, SortKey::NextRun(Some(at))),
            (OrderField::NextRun, SortKey::NextRun(None)),
            (OrderField::CreatedAt, SortKey::CreatedAt(at)),
        ] {
            let position = JobPosition { key, id: JobId(42) };
            assert_eq!(
                JobPosition::from_value(field, &position.to_value()),
                Ok(position)
            );
        }
    }

    #[test]
    fn a_position_of_another_ordering_is_refused() {
        let by_name = JobPosition {
            key: SortKey::Name("a".into()),
            id: JobId(1),
        }
        .to_value();
        assert_eq!(
            JobPosition::from_value(OrderField::Id, &by_name),
            Err(InvalidCursor)
        );
        assert_eq!(
            JobPosition::from_value(OrderField::CreatedAt, &by_name),
            Err(InvalidCursor)
        );
        assert_eq!(
            JobPosition::from_value(OrderField::Id, &serde_json::json!(["1"])),
            Err(InvalidCursor)
        );
    }
}
