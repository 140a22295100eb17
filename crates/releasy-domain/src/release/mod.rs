//! Releases: a product's version, moving between draft and published.

mod lifecycle;
mod model;

pub use lifecycle::{LifecycleError, ReleaseStatus};
pub use model::{Product, Release, ReleaseFilter, Version};
