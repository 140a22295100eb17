//! Entitlements: which products a customer may see and download, when, and which of
//! their releases (channels, versions, and what stays after the end).

mod access;
mod customer_access;
mod explain;
mod model;
mod quota;
mod scope;
mod service;

pub use access::{AccessDecision, AccessReason, Grant, ReleaseFacts, decide};
pub use customer_access::{CustomerAccess, ProductGrant, ProductVisibility};
pub use explain::{AccessExplanation, ExplainError};
pub use model::{Entitlement, EntitlementChanges, EntitlementWindow, Metadata};
pub use quota::{
    Allowance, DownloadQuota, ENDED_PERIOD_KEPT_SECONDS, MeteredGrant, QuotaPeriod, QuotaUsage,
    QuotaWindow, counts_reset_by, soonest_reset,
};
pub use scope::EntitlementScope;
pub use service::{EntitlementError, EntitlementService, NewEntitlement};
