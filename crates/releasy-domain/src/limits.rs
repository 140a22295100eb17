//! The configurable bounds the use cases enforce.

/// Lifetimes the services apply; the server reads them from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest download-token lifetime a customer may ask for, and the default.
    pub download_token_max_ttl_seconds: i64,
    /// How long presigned upload and download URLs stay valid.
    pub presign_expires_seconds: i64,
}

impl Default for Limits {
    /// The contract's defaults: 600 s tokens, 900 s presigned URLs.
    fn default() -> Self {
        Self {
            download_token_max_ttl_seconds: 600,
            presign_expires_seconds: 900,
        }
    }
}
