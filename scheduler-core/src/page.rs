//! Pages of a list, shared by the job and run lists: which rows a store reads (a [`Window`]:
//! an offset, or a keyset from a cursor), what it returns ([`Page`]), and what a use case
//! answers with its navigation ([`Listing`] with [`PageLink`]s).

use crate::cursor::{Direction, Keyset};

/// Which rows of an ordered, filtered list a store reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Window<P> {
    /// A numbered page: skip `offset` rows, read `limit`. Costs O(offset): the original's
    /// `page=`.
    Offset {
        /// Rows skipped.
        offset: u64,
        /// Rows read.
        limit: u64,
    },
    /// A cursor page: up to `limit` rows from a position, read from an index range. Costs
    /// O(limit) wherever the position is.
    Keyset {
        /// Where to start and which way to read.
        keyset: Keyset<P>,
        /// Rows read.
        limit: u64,
    },
}

impl<P> Window<P> {
    /// Most rows the page holds.
    pub fn limit(&self) -> u64 {
        match self {
            Self::Offset { limit, .. } | Self::Keyset { limit, .. } => *limit,
        }
    }
}

/// What a store returns for a [`Window`].
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Rows matching the filter across all pages: for numbered pages only (cursor pages are
    /// never counted).
    pub total: Option<u64>,
    /// The page's rows, in list order (also when read backwards).
    pub items: Vec<T>,
    /// Whether more rows follow in the direction read: after the page for numbered pages
    /// and forward cursors, before it for backward cursors.
    pub more: bool,
}

impl<T> Page<T> {
    /// A page with nothing in it.
    pub fn empty(total: Option<u64>) -> Self {
        Self {
            total,
            items: Vec::new(),
            more: false,
        }
    }
}

/// How a client reaches a neighbouring page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageLink {
    /// The numbered page (`page=N`).
    Number(u64),
    /// The cursor page (`cursor=<token>`).
    Cursor(String),
}

/// A page as a use case answers it: the rows, the count for numbered pages, and the links.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    /// Rows matching the filter (numbered pages only).
    pub total: Option<u64>,
    /// The page's rows, in list order.
    pub items: Vec<T>,
    /// The page after this one, if any.
    pub next: Option<PageLink>,
    /// The page before this one, if any.
    pub previous: Option<PageLink>,
}

impl<T> Listing<T> {
    /// The same listing with each row turned into another.
    pub fn map<U>(self, row: impl FnMut(T) -> U) -> Listing<U> {
        Listing {
            total: self.total,
            items: self.items.into_iter().map(row).collect(),
            next: self.next,
            previous: self.previous,
        }
    }
}

/// The links around `page`, read through `window`; `page_number` is the numbered page
/// (`None` for cursor pages); `cursor` makes the token for reading a direction from a row.
pub(crate) fn navigation<T, P>(
    window: &Window<P>,
    page_number: u64,
    page: &Page<T>,
    cursor: impl Fn(Direction, &T) -> String,
) -> (Option<PageLink>, Option<PageLink>) {
    match window {
        Window::Offset { .. } => (
            page.more
                .then(|| PageLink::Number(page_number.saturating_add(1))),
            (page_number > 1).then(|| PageLink::Number(page_number - 1)),
        ),
        Window::Keyset { keyset, .. } => {
            let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
                // Nothing shown (rows deleted since the link was made): nowhere to link from.
                return (None, None);
            };
            let after_last = PageLink::Cursor(cursor(Direction::Forward, last));
            let before_first = PageLink::Cursor(cursor(Direction::Backward, first));
            match keyset.direction {
                Direction::Forward => (
                    page.more.then_some(after_last),
                    keyset.from.is_some().then_some(before_first),
                ),
                Direction::Backward => (Some(after_last), page.more.then_some(before_first)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: Vec<u32>, more: bool) -> Page<u32> {
        Page {
            total: None,
            items,
            more,
        }
    }

    fn token(direction: Direction, row: &u32) -> String {
        format!("{direction:?}:{row}")
    }

    fn keyset(from: Option<u32>, direction: Direction) -> Window<u32> {
        Window::Keyset {
            keyset: Keyset { from, direction },
            limit: 2,
        }
    }

    #[test]
    fn numbered_pages_link_to_their_neighbours() {
        let window = Window::<u32>::Offset {
            offset: 2,
            limit: 2,
        };
        assert_eq!(
            navigation(&window, 2, &page(vec![3, 4], true), token),
            (Some(PageLink::Number(3)), Some(PageLink::Number(1)))
        );
        assert_eq!(
            navigation(&window, 1, &page(vec![1], false), token),
            (None, None)
        );
    }

    #[test]
    fn the_first_cursor_page_has_no_previous_link() {
        let links = navigation(
            &keyset(None, Direction::Forward),
            1,
            &page(vec![1, 2], true),
            token,
        );
        assert_eq!(links, (Some(PageLink::Cursor("Forward:2".into())), None));
    }

    #[test]
    fn a_forward_page_links_back_from_its_first_row() {
        let links = navigation(
            &keyset(Some(2), Direction::Forward),
            1,
            &page(vec![3, 4], false),
            token,
        );
        assert_eq!(links, (None, Some(PageLink::Cursor("Backward:3".into()))));
    }

    #[test]
    fn a_backward_page_links_forward_from_its_last_row() {
        let links = navigation(
            &keyset(Some(5), Direction::Backward),
            1,
            &page(vec![3, 4], true),
            token,
        );
        assert_eq!(
            links,
            (
                Some(PageLink::Cursor("Forward:4".into())),
                Some(PageLink::Cursor("Backward:3".into()))
            )
        );
        let start = navigation(
            &keyset(Some(3), Direction::Backward),
            1,
            &page(vec![1, 2], false),
            token,
        );
        assert_eq!(start, (Some(PageLink::Cursor("Forward:2".into())), None));
    }

    #[test]
    fn an_empty_cursor_page_has_no_links() {
        let links = navigation(
            &keyset(Some(9), Direction::Forward),
            1,
            &page(vec![], false),
            token,
        );
        assert_eq!(links, (None, None));
    }
}
