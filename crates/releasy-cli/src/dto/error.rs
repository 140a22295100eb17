//! The API's error body: `{"error": {"code": ..., "message": ...}}`.

use serde::Deserialize;

/// An error response.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Its code and message.
#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable code, such as `not_found`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}
