//! Paging rules shared by every listing: a bounded page size, an offset, and the opaque
//! keyset cursor of customer listings.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Timestamp, ValidationError};

/// Number of items on one page: 1 to 200, 50 when the caller gives none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The page size used when the caller gives none.
    pub const DEFAULT: Self = Self(50);
    /// The largest page a caller may ask for.
    pub const MAX: u32 = 200;
    /// A page of [`PageLimit::MAX`] items.
    pub const LARGEST: Self = Self(Self::MAX);

    /// A page of `n` items, kept within `1..=MAX` (for pages the server itself asks
    /// for).
    pub const fn clamped(n: u32) -> Self {
        if n == 0 {
            Self(1)
        } else if n > Self::MAX {
            Self::LARGEST
        } else {
            Self(n)
        }
    }

    /// Checks a requested page size; `None` gives the default.
    ///
    /// # Errors
    /// [`ValidationError`] on `limit` when the value is outside `1..=200`.
    pub fn parse(requested: Option<i64>) -> Result<Self, ValidationError> {
        match requested {
            None => Ok(Self::DEFAULT),
            Some(n) if (1..=i64::from(Self::MAX)).contains(&n) => Ok(Self(n as u32)),
            Some(_) => Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Self::MAX),
            )),
        }
    }

    /// The page size.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Number of items to skip: zero or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Offset(u64);

impl Offset {
    /// Checks a requested offset; `None` gives 0.
    ///
    /// # Errors
    /// [`ValidationError`] on `offset` when the value is negative.
    pub fn parse(requested: Option<i64>) -> Result<Self, ValidationError> {
        match requested {
            None => Ok(Self(0)),
            Some(n) if n >= 0 => Ok(Self(n as u64)),
            Some(_) => Err(ValidationError::new("offset", "must not be negative")),
        }
    }

    /// Skips `n` items.
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The number of items to skip.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// One page request: the size and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageRequest {
    /// How many items at most.
    pub limit: PageLimit,
    /// How many items to skip first.
    pub offset: Offset,
}

/// The position after the last item of a page in a listing ordered newest first by
/// `(created_at, id)`. It names a place in the order, not an index, so items created
/// while a caller walks the pages neither repeat nor shift others out of view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// `created_at` of the last item already returned.
    pub created_at: Timestamp,
    /// Id of the last item already returned, as text (ties on `created_at` sort by it).
    pub id: String,
}

impl Cursor {
    /// The opaque form sent to clients: base64 of `created_at:id`.
    pub fn encode(&self) -> String {
        STANDARD.encode(format!("{}:{}", self.created_at, self.id))
    }

    /// Reads a cursor a client sent back.
    ///
    /// # Errors
    /// [`ValidationError`] on `cursor` when the value is not one this server produced.
    pub fn decode(opaque: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("cursor", "is not a valid cursor");
        let bytes = STANDARD.decode(opaque.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (seconds, id) = text.split_once(':').ok_or_else(invalid)?;
        let seconds: i64 = seconds.parse().map_err(|_| invalid())?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Self {
            created_at: Timestamp::from_unix_seconds(seconds),
            id: id.hyphenated().to_string(),
        })
    }
}

/// Where a customer listing starts: an offset (older clients) or a cursor, never both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageStart {
    /// Skip this many items.
    Offset(Offset),
    /// Continue after this position.
    After(Cursor),
}

impl PageStart {
    /// Combines the `offset` and `cursor` parameters of a request.
    ///
    /// # Errors
    /// [`ValidationError`] when both are given, or either is malformed.
    pub fn parse(offset: Option<i64>, cursor: Option<&str>) -> Result<Self, ValidationError> {
        match (offset, cursor) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                "cursor",
                "cannot be combined with offset",
            )),
            (_, Some(c)) => Cursor::decode(c).map(Self::After),
            (o, None) => Offset::parse(o).map(Self::Offset),
        }
    }
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorPage<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_to_fifty_and_accepts_one_to_two_hundred() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 50);
        assert_eq!(PageLimit::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(PageLimit::parse(Some(200)).unwrap().get(), 200);
    }

    #[test]
    fn limit_outside_range_names_the_field() {
        for bad in [0, -1, 201] {
            let err = PageLimit::parse(Some(bad)).unwrap_err();
            assert_eq!(err.field, "limit");
        }
    }

    #[test]
    fn negative_offset_is_rejected() {
        assert_eq!(Offset::parse(Some(-1)).unwrap_err().field, "offset");
        assert_eq!(Offset::parse(Some(7)).unwrap().get(), 7);
    }

    #[test]
    fn cursor_round_trips_and_matches_the_documented_shape() {
        let cursor = Cursor {
            created_at: Timestamp::from_unix_seconds(1_735_312_000),
            id: "0b0e8f7e-4c4a-4d55-9d1e-3f3e8f0a1b2c".into(),
        };
        let opaque = cursor.encode();
        assert_eq!(
            STANDARD.decode(&opaque).unwrap(),
            b"1735312000:0b0e8f7e-4c4a-4d55-9d1e-3f3e8f0a1b2c"
        );
        assert_eq!(Cursor::decode(&opaque).unwrap(), cursor);
    }

    #[test]
    fn garbage_cursor_is_rejected() {
        for bad in ["", "!!!", "MTIz", &STANDARD.encode("12:not-a-uuid")] {
            assert_eq!(Cursor::decode(bad).unwrap_err().field, "cursor");
        }
    }

    #[test]
    fn cursor_and_offset_together_are_rejected() {
        let cursor = Cursor {
            created_at: Timestamp::from_unix_seconds(1),
            id: uuid::Uuid::nil().to_string(),
        }
        .encode();
        assert!(PageStart::parse(Some(0), Some(&cursor)).is_err());
        assert!(matches!(
            PageStart::parse(None, Some(&cursor)).unwrap(),
            PageStart::After(_)
        ));
        assert_eq!(
            PageStart::parse(None, None).unwrap(),
            PageStart::Offset(Offset::default())
        );
    }
}
