//! Audit event bodies.

use serde::{Deserialize, Serialize};

/// One audit event.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Event id.
    pub id: String,
    /// The customer concerned.
    pub customer_id: Option<String>,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub event: String,
    /// Details.
    pub payload: serde_json::Value,
    /// When (Unix seconds).
    pub created_at: i64,
}

/// `GET /v1/admin/audit-events`.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuditEventList {
    /// The events, newest first.
    pub events: Vec<AuditEvent>,
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
}
