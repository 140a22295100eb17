//! Entitlements: which products a customer may see and download, and when.

mod access;
mod model;
mod service;

pub use access::{AccessDecision, AccessReason, EntitlementScope, Grant, ReleaseFacts, decide};
pub use model::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
pub use service::{EntitlementError, EntitlementService, NewEntitlement};
