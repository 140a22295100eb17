//! Health responses.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"status": "ok"}` (a failed check answers the error body instead).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when healthy.
    pub status: &'static str,
}
