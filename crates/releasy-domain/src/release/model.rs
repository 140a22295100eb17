//! The release record and its identifying values.

use crate::release::ReleaseStatus;
use crate::text::bounded_text_type;
use crate::{ReleaseId, Timestamp};

bounded_text_type!(
    /// A product name such as `releasy-server`: trimmed, 1 to 128 characters.
    Product,
    field = "product",
    max = 128
);

bounded_text_type!(
    /// A version such as `1.2.3`: trimmed, 1 to 128 characters.
    Version,
    field = "version",
    max = 128
);

/// A release as stored. `(product, version)` is unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Its id.
    pub id: ReleaseId,
    /// The product.
    pub product: Product,
    /// The version.
    pub version: Version,
    /// Draft or published.
    pub status: ReleaseStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was published; `None` for drafts.
    pub published_at: Option<Timestamp>,
}

/// Filters of a release listing; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ReleaseFilter {
    /// Exactly this product.
    pub product: Option<String>,
    /// Exactly this version.
    pub version: Option<String>,
    /// Exactly this status.
    pub status: Option<ReleaseStatus>,
    /// Only these products (a customer's entitled products); `None` means any product.
    pub products_in: Option<Vec<String>>,
}
