//! Entitlements: which products a customer may see and download, and when.

mod model;

pub use model::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
