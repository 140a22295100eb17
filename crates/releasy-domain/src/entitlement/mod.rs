//! Entitlements: which products a customer may see and download, and when.

mod model;
mod service;

pub use model::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
pub use service::{EntitlementError, EntitlementService, NewEntitlement};
