//! The error body.

use serde::Serialize;
use utoipa::ToSchema;

/// `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, such as `bad_request`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ErrorBody {
    /// A body for `code` and `message`.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}
