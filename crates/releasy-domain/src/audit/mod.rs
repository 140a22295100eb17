//! The audit trail: every change (who made it, through which request, what it was
//! before and after), every key authentication, and the hash chain that makes the
//! trail tamper-evident.

mod chain;
mod changes;
mod model;
mod origin;
mod retention;
mod service;

pub use chain::{
    ChainBounds, ChainBreak, ChainHash, ChainLink, ChainVerifier, ChainedEvent, EncodedEvent,
};
pub use changes::names;
pub use model::{AuditEvent, AuditFilter, AuthOutcome, AuthReason};
pub use origin::{Actor, IdSeed, Origin};
pub use retention::{AuditRetention, Prunable, RetentionStopped, prunable_prefix};
pub use service::{
    AWAITING_COUNTED, AuditService, LINK_BATCH, PRUNE_BATCH, VerifiedChain, VerifyError,
};
