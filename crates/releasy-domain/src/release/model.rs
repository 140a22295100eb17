//! The release record and its identifying values.

use crate::release::{
    Channel, ReleaseMetadata, ReleaseNotes, ReleaseStatus, Yank, semver_order_key,
};
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
    /// When it was first published: set by the first publication and kept by
    /// unpublishing and publishing again. The perpetual fallback judges by it
    /// ([`crate::entitlement::ReleaseFacts`]).
    pub first_published_at: Option<Timestamp>,
    /// Its channel: set at creation, or [`Channel::of_version`].
    pub channel: Channel,
    /// Release notes (markdown).
    pub notes: Option<ReleaseNotes>,
    /// Free-form details.
    pub metadata: Option<ReleaseMetadata>,
    /// Set while the release is yanked.
    pub yank: Option<Yank>,
    /// When it was published under the immutable-releases policy, from which moment on
    /// its record and artifacts never change ([`Release::is_immutable`]).
    pub sealed_at: Option<Timestamp>,
}

impl Release {
    /// A new draft of `version`, on `channel` or the one its version implies.
    pub fn draft(
        product: Product,
        version: Version,
        channel: Option<Channel>,
        now: Timestamp,
    ) -> Self {
        Self {
            id: ReleaseId::generate(),
            channel: channel.unwrap_or_else(|| Channel::of_version(&version)),
            product,
            version,
            status: ReleaseStatus::Draft,
            created_at: now,
            published_at: None,
            first_published_at: None,
            notes: None,
            metadata: None,
            yank: None,
            sealed_at: None,
        }
    }

    /// Whether it is yanked.
    pub fn is_yanked(&self) -> bool {
        self.yank.is_some()
    }

    /// Whether it is yanked with its downloads refused.
    pub fn downloads_blocked(&self) -> bool {
        self.yank.as_ref().is_some_and(|y| y.blocks_downloads)
    }
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReleaseOrder {
    /// Newest first, by `created_at` then id (the contract's default).
    #[default]
    Newest,
    /// Highest version first ([`Version::precedence`]); equal versions (and every
    /// version that is not semver, after the semver ones) newest first.
    Version,
}

/// A release's place in a listing's order: its version's order key (which
/// [`ReleaseOrder::Version`] reads first), then its creation time and id (both
/// descending: [`ReleaseOrder::Newest`] reads only these, and the version order breaks
/// ties with them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReleasePosition {
    /// [`Version::order_key`].
    pub order_key: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its id.
    pub id: ReleaseId,
}

impl ReleasePosition {
    /// Where `release` stands.
    pub fn of(release: &Release) -> Self {
        Self {
            order_key: release.version.order_key(),
            created_at: release.created_at,
            id: release.id,
        }
    }

    /// Whether `release` comes after this position in `order`: in
    /// [`ReleaseOrder::Version`] a lower order key, or the same one and an older
    /// creation, or the same creation and a lower id; in [`ReleaseOrder::Newest`] an
    /// older creation, or the same one and a lower id (ids compared as text, as the
    /// databases compare them).
    pub fn precedes(&self, order: ReleaseOrder, release: &Release) -> bool {
        let (created_at, id) = (release.created_at, release.id.to_string());
        match order {
            ReleaseOrder::Newest => (created_at, id) < (self.created_at, self.id.to_string()),
            ReleaseOrder::Version => {
                let key = release.version.order_key();
                (key.as_str(), created_at, id)
                    < (
                        self.order_key.as_str(),
                        self.created_at,
                        self.id.to_string(),
                    )
            }
        }
    }
}

/// A bound on [`Version::order_key`]: keys compare as versions do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderKeyBound {
    /// The key.
    pub key: String,
    /// Whether the key itself is within.
    pub inclusive: bool,
}

impl OrderKeyBound {
    /// The bound at `version`'s key.
    pub fn at(version: &semver::Version, inclusive: bool) -> Self {
        Self {
            key: semver_order_key(version),
            inclusive,
        }
    }

    /// Whether `key` is at or above this bound, as a lower one.
    pub fn admits_from_below(&self, key: &str) -> bool {
        key > self.key.as_str() || (self.inclusive && key == self.key)
    }

    /// Whether `key` is at or below this bound, as an upper one.
    pub fn admits_from_above(&self, key: &str) -> bool {
        key < self.key.as_str() || (self.inclusive && key == self.key)
    }
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
    /// Only these channels; `None` means any channel.
    pub channels_in: Option<Vec<Channel>>,
    /// Leave yanked releases out.
    pub exclude_yanked: bool,
    /// Only versions whose [`Version::order_key`] is at or above this bound.
    pub order_key_min: Option<OrderKeyBound>,
    /// Only versions whose [`Version::order_key`] is at or below this bound.
    pub order_key_max: Option<OrderKeyBound>,
    /// Only releases with an artifact for this platform (ASCII case ignored, as
    /// updaters match platforms) that can be downloaded (verified, or registered before
    /// bytes were checked).
    pub downloadable_on: Option<String>,
    /// Only the releases after this one in [`Self::order`]: where the read before
    /// stopped, so that releases withdrawn or added meanwhile neither move one out of
    /// sight nor show one twice (as an offset would).
    pub after: Option<ReleasePosition>,
    /// The order.
    pub order: ReleaseOrder,
}
