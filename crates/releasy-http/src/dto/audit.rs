//! Audit bodies.

use releasy_domain::audit::AuditEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/admin/audit-events` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditEventListQuery {
    /// Events about this customer.
    pub customer_id: Option<String>,
    /// Events by this actor, such as `api_key`.
    pub actor: Option<String>,
    /// Events with this name, such as `api_key.auth`.
    pub event: Option<String>,
    /// At or after (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub created_from: Option<String>,
    /// At or before (Unix seconds).
    #[param(value_type = Option<i64>)]
    pub created_to: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<i64>)]
    pub offset: Option<String>,
}

/// One audit event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventResponse {
    /// Event id.
    pub id: String,
    /// The customer concerned, or `null`.
    pub customer_id: Option<String>,
    /// Who acted: `admin_key`, `operator` (an identity-provider token), `api_key` (a
    /// customer key) or `system`.
    pub actor: String,
    /// What happened: `api_key.auth`, `auth.throttled`, `artifact.changed`, or a change
    /// such as `customer.created`, `key.revoked`, `entitlement.updated`,
    /// `release.published`, `artifact.registered`, `download_token.issued`.
    pub event: String,
    /// Details. A change's payload holds `actor_id` (the token's `sub`, the key's id),
    /// `request_id` (`x-request-id`), `client_address`, `target` (the ids it touched)
    /// and `before`/`after` summaries; never a secret.
    pub payload: serde_json::Value,
    /// When (Unix seconds).
    pub created_at: i64,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            customer_id: e.customer_id.map(|c| c.to_string()),
            actor: e.actor,
            event: e.event,
            payload: e.payload,
            created_at: e.created_at.unix_seconds(),
        }
    }
}

/// A page of audit events, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventListResponse {
    /// The events.
    pub events: Vec<AuditEventResponse>,
    /// The page size used.
    pub limit: i64,
    /// The offset used.
    pub offset: i64,
}
