//! Health responses.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"status": "ok"}` or `{"status": "unavailable"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when healthy.
    pub status: &'static str,
}
