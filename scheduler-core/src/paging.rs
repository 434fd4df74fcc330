//! How a client asks for one page of a list, whichever list: a page size and either a page
//! number (the original's `page=`) or a cursor. Job lists and run lists read it the same way.

use crate::cursor::Keyset;
use crate::error::{Invalid, ValidationErrors};
use crate::page::Window;

/// How a list is paged, as the client asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Paging {
    /// The numbered page (1-based): the original's `page=`, O(offset) deep down.
    Number(u64),
    /// Cursor pages: `None` for the first, otherwise the token of a link, not yet verified.
    Cursor(Option<String>),
}

/// A checked page request: a page size from 1 to [`PageRequest::MAX_SIZE`], and a page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Rows per page.
    page_size: u64,
    /// Which page.
    paging: Paging,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page_size: Self::DEFAULT_SIZE,
            paging: Paging::Number(1),
        }
    }
}

impl PageRequest {
    /// Page size when none is asked for.
    pub const DEFAULT_SIZE: u64 = 50;
    /// Largest page size accepted.
    pub const MAX_SIZE: u64 = 500;

    /// Reads `page` (1 and above; default 1), `page_size` (1 to [`PageRequest::MAX_SIZE`];
    /// default 50) and `cursor` (`Some("")` for the first cursor page, or a link's token; not
    /// with `page`), recording what is wrong under each parameter's name.
    pub(crate) fn read(
        errors: &mut ValidationErrors,
        page: Option<i64>,
        page_size: Option<i64>,
        cursor: Option<&str>,
    ) -> Option<Self> {
        let number = match page {
            None => Some(1),
            Some(p) => errors.check(
                "page",
                u64::try_from(p)
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or(Invalid::BelowMinimum { min: 1 }),
            ),
        };
        let max = Self::MAX_SIZE;
        let size = match page_size {
            None => Some(Self::DEFAULT_SIZE),
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
        let paging = match (cursor, page) {
            (None, _) => number.map(Paging::Number),
            (Some(_), Some(_)) => errors.check("cursor", Err(Invalid::CursorWithPage)),
            (Some(token), None) if token.trim().is_empty() => Some(Paging::Cursor(None)),
            (Some(token), None) => Some(Paging::Cursor(Some(token.trim().to_string()))),
        };
        Some(Self {
            page_size: size?,
            paging: paging?,
        })
    }

    /// The numbered page, or `None` for cursor pages.
    pub fn page(&self) -> Option<u64> {
        match self.paging {
            Paging::Number(page) => Some(page),
            Paging::Cursor(_) => None,
        }
    }

    /// How the list is paged.
    pub fn paging(&self) -> &Paging {
        &self.paging
    }

    /// Rows per page.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// Rows to skip before a numbered page (0 for cursor pages).
    pub fn offset(&self) -> u64 {
        self.page()
            .unwrap_or(1)
            .saturating_sub(1)
            .saturating_mul(self.page_size)
    }

    /// The rows a store reads: from `keyset` when a cursor was resolved, else the numbered
    /// page or the first cursor page.
    pub fn window<P>(&self, keyset: Option<Keyset<P>>) -> Window<P> {
        match (&self.paging, keyset) {
            (_, Some(keyset)) => Window::Keyset {
                keyset,
                limit: self.page_size,
            },
            (Paging::Number(_), None) => Window::Offset {
                offset: self.offset(),
                limit: self.page_size,
            },
            (Paging::Cursor(_), None) => Window::Keyset {
                keyset: Keyset::first(),
                limit: self.page_size,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(
        page: Option<i64>,
        size: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<PageRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let request = PageRequest::read(&mut errors, page, size, cursor);
        match request {
            Some(request) if errors.is_empty() => Ok(request),
            _ => Err(errors),
        }
    }

    #[test]
    fn absent_parts_take_the_first_page_of_fifty() {
        assert_eq!(read(None, None, None).unwrap(), PageRequest::default());
        assert_eq!(
            read(None, None, Some(" ")).unwrap().paging(),
            &Paging::Cursor(None)
        );
        assert_eq!(
            read(None, Some(10), Some(" abc ")).unwrap().paging(),
            &Paging::Cursor(Some("abc".into()))
        );
    }

    #[test]
    fn every_bad_part_is_named() {
        let errors = read(Some(0), Some(501), None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "page_size"]);
        let errors = read(Some(2), None, Some("x")).unwrap_err();
        assert_eq!(errors.iter().next().unwrap().field, "cursor");
    }

    #[test]
    fn a_numbered_page_skips_the_pages_before_it() {
        let request = read(Some(3), Some(20), None).unwrap();
        assert_eq!((request.page(), request.offset()), (Some(3), 40));
        assert_eq!(
            request.window::<i64>(None),
            Window::Offset {
                offset: 40,
                limit: 20
            }
        );
    }
}
