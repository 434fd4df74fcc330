//! Listing jobs: the validated page/filter/ordering request and the page it returns.

use crate::auth::Tenant;
use crate::error::{Invalid, ValidationErrors};
use crate::job::Job;

/// The column a job list is sorted by; ties are always broken by `id` ascending.
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

/// A validated request for one page of jobs. Built only by [`JobQuery::new`] (or
/// `default()`), so `page >= 1` and `page_size` is in range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobQuery {
    /// 1-based page number.
    page: u64,
    /// Jobs per page, 1 to [`JobQuery::MAX_PAGE_SIZE`].
    page_size: u64,
    /// Only active (`Some(true)`) or inactive (`Some(false)`) jobs; all when `None`.
    is_active: Option<bool>,
    /// Sort order.
    ordering: JobOrdering,
    /// Only this tenant's jobs (every list the API serves has one).
    tenant: Option<Tenant>,
}

impl Default for JobQuery {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: Self::DEFAULT_PAGE_SIZE,
            is_active: None,
            ordering: JobOrdering::default(),
            tenant: None,
        }
    }
}

impl JobQuery {
    /// Page size when none is asked for.
    pub const DEFAULT_PAGE_SIZE: u64 = 50;
    /// Largest page size accepted.
    pub const MAX_PAGE_SIZE: u64 = 500;

    /// Builds a query from optional raw parts, collecting every failure.
    ///
    /// # Errors
    /// Each bad parameter: `page`, `page_size`, `ordering`.
    pub fn new(
        page: Option<i64>,
        page_size: Option<i64>,
        is_active: Option<bool>,
        ordering: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let (page, page_size) = checked_page(&mut errors, page, page_size);
        let ordering = match ordering {
            None => Some(JobOrdering::default()),
            Some(raw) => errors.check("ordering", JobOrdering::parse(raw)),
        };
        match ordering {
            Some(ordering) if errors.is_empty() => Ok(Self {
                page,
                page_size,
                is_active,
                ordering,
                tenant: None,
            }),
            _ => Err(errors),
        }
    }

    /// The 1-based page number.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Jobs per page.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The `is_active` filter.
    pub fn is_active(&self) -> Option<bool> {
        self.is_active
    }

    /// The sort order.
    pub fn ordering(&self) -> JobOrdering {
        self.ordering
    }

    /// The tenant filter.
    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_ref()
    }

    /// The same query restricted to `tenant`'s jobs.
    #[must_use]
    pub fn for_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        self.page.saturating_sub(1).saturating_mul(self.page_size)
    }
}

/// Checks a page number (1 and above) and a page size (1 to [`JobQuery::MAX_PAGE_SIZE`]),
/// recording what is wrong; absent values take the defaults. Shared by job and run lists.
pub(crate) fn checked_page(
    errors: &mut ValidationErrors,
    page: Option<i64>,
    page_size: Option<i64>,
) -> (u64, u64) {
    let page = match page {
        None => Some(1),
        Some(p) => errors.check(
            "page",
            u64::try_from(p)
                .ok()
                .filter(|p| *p >= 1)
                .ok_or(Invalid::BelowMinimum { min: 1 }),
        ),
    };
    let max = JobQuery::MAX_PAGE_SIZE;
    let page_size = match page_size {
        None => Some(JobQuery::DEFAULT_PAGE_SIZE),
        Some(s) => errors.check(
            "page_size",
            u64::try_from(s)
                .ok()
                .filter(|s| (1..=max).contains(s))
                .ok_or(Invalid::OutOfRange {
                    min: 1,
                    max: max.cast_signed(),
                }),
        ),
    };
    (
        page.unwrap_or(1),
        page_size.unwrap_or(JobQuery::DEFAULT_PAGE_SIZE),
    )
}

/// One page of jobs and the total matching the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    /// Jobs matching the filter across all pages.
    pub total: u64,
    /// This page's jobs, in the requested order.
    pub items: Vec<Job>,
}

impl JobPage {
    /// True when a page follows this one.
    pub fn has_next(&self, query: &JobQuery) -> bool {
        let shown = u64::try_from(self.items.len()).unwrap_or(u64::MAX);
        query.offset().saturating_add(shown) < self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
