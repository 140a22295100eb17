//! Releases: a product's version, moving between draft and published.

mod lifecycle;
mod model;
mod service;

pub use lifecycle::{LifecycleError, ReleaseStatus};
pub use model::{Product, Release, ReleaseFilter, Version};
pub use service::{
    CreateReleaseError, DeleteReleaseError, DeletedRelease, ListReleasesError, ReleaseListing,
    ReleaseQuery, ReleaseService, ReleaseViewer, TransitionError,
};
