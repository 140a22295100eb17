//! Releases: a product's version, moving between draft and published.

mod channel;
mod details;
mod editing;
mod immutability;
mod lifecycle;
mod model;
mod requirement;
mod service;
mod sight;
mod updates;
mod version_order;
mod yanking;

pub use channel::Channel;
pub use details::{ReleaseChanges, ReleaseMetadata, ReleaseNotes, Yank, YankReason};
pub use editing::UpdateReleaseError;
pub use immutability::{SealBasis, SealError, SealOutcome};
pub use lifecycle::{LifecycleError, ReleaseStatus};
pub use model::{
    OrderKeyBound, Product, Release, ReleaseFilter, ReleaseOrder, ReleasePosition, Version,
};
pub use requirement::{PrecedenceBound, VersionRequirement};
pub use service::{
    CreateReleaseError, DeleteReleaseError, DeletedRelease, ListReleasesError, NewRelease,
    ReleaseListing, ReleaseQuery, ReleaseService, ReleaseViewer, TransitionError,
};
pub use updates::NewestQuery;
pub use version_order::{NOT_SEMVER, SEMVER_KEYS_FROM, semver_order_key};
pub use yanking::YankError;
