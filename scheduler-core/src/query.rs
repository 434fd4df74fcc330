//! Listing jobs: the validated page/filter/ordering request and the page it returns.

use serde::{Deserialize, Serialize};

use crate::error::ValidationErrors;
use crate::job::Job;

/// The column a job list is sorted by; ties are always broken by `id` ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    pub const ACCEPTED: &'static str =
        "id, -id, name, -name, next_run, -next_run, created_at, -created_at";

    /// Parses `id`, `-name`, `next_run`, ...
    ///
    /// # Errors
    /// A user-facing message listing the accepted values.
    pub fn parse(raw: &str) -> Result<Self, String> {
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
                return Err(format!(
                    "Select a valid choice. '{raw}' is not one of: {}.",
                    Self::ACCEPTED
                ));
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

/// A validated request for one page of jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobQuery {
    /// 1-based page number.
    pub page: u64,
    /// Jobs per page, 1 to [`JobQuery::MAX_PAGE_SIZE`].
    pub page_size: u64,
    /// Only active (`Some(true)`) or inactive (`Some(false)`) jobs; all when `None`.
    pub is_active: Option<bool>,
    /// Sort order.
    pub ordering: JobOrdering,
}

impl Default for JobQuery {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: Self::DEFAULT_PAGE_SIZE,
            is_active: None,
            ordering: JobOrdering::default(),
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
    /// Each bad parameter with its message (`page`, `page_size`, `ordering`).
    pub fn new(
        page: Option<i64>,
        page_size: Option<i64>,
        is_active: Option<bool>,
        ordering: Option<&str>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let page = match page {
            None => 1,
            Some(p) if p >= 1 => p.unsigned_abs(),
            Some(_) => {
                errors.add("page", "Ensure this value is greater than or equal to 1.");
                1
            }
        };
        let page_size = match page_size {
            None => Self::DEFAULT_PAGE_SIZE,
            Some(s) if (1..=Self::MAX_PAGE_SIZE as i64).contains(&s) => s.unsigned_abs(),
            Some(_) => {
                errors.add(
                    "page_size",
                    format!(
                        "Ensure this value is between 1 and {}.",
                        Self::MAX_PAGE_SIZE
                    ),
                );
                Self::DEFAULT_PAGE_SIZE
            }
        };
        let ordering = match ordering.map(JobOrdering::parse) {
            None => JobOrdering::default(),
            Some(Ok(o)) => o,
            Some(Err(message)) => {
                errors.add("ordering", message);
                JobOrdering::default()
            }
        };
        errors.into_result(Self {
            page,
            page_size,
            is_active,
            ordering,
        })
    }

    /// Rows to skip before this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

/// One page of jobs and the total matching the filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    /// Jobs matching the filter across all pages.
    pub total: u64,
    /// This page's jobs, in the requested order.
    pub items: Vec<Job>,
}

impl JobPage {
    /// True when a page follows this one.
    pub fn has_next(&self, query: &JobQuery) -> bool {
        query.offset() + (self.items.len() as u64) < self.total
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
        for wire in [
            "id",
            "-id",
            "name",
            "-name",
            "next_run",
            "-next_run",
            "created_at",
            "-created_at",
        ] {
            assert_eq!(JobOrdering::parse(wire).unwrap().as_wire(), wire);
        }
        assert!(JobOrdering::parse("--id").is_err());
    }

    #[test]
    fn offset_follows_page_and_size() {
        let q = JobQuery::new(Some(3), Some(20), None, None).unwrap();
        assert_eq!(q.offset(), 40);
    }
}
