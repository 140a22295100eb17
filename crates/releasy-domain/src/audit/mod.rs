//! The audit trail: who authenticated, when, and with what outcome.

mod model;
mod service;

pub use model::{AuditEvent, AuditFilter, AuthOutcome, AuthReason};
pub use service::AuditService;
