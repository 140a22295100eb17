//! The configurable bounds and policies the use cases enforce.

/// Lifetimes, sizes and policies the services apply; the server reads them from
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest download-token lifetime a customer may ask for, and the default.
    pub download_token_max_ttl_seconds: i64,
    /// How long presigned upload URLs stay valid.
    pub presign_expires_seconds: i64,
    /// The longest a resolved download link stays valid; it never outlives its token
    /// either (see [`crate::download::DownloadGrant::link_lifetime_seconds`]).
    pub download_url_ttl_seconds: i64,
    /// Files declared larger than this are uploaded in parts of this size.
    pub artifact_part_size_bytes: u64,
    /// Uploads presigned longer ago than this and never registered are swept.
    pub artifact_upload_ttl_seconds: i64,
    /// Registration reads objects up to this size through SHA-256 while the client
    /// waits; larger ones (whose digest the store did not record) are checked in the
    /// background.
    pub artifact_inline_verify_max_bytes: u64,
    /// Whether every product's releases are sealed when published
    /// (`RELEASY_IMMUTABLE_RELEASES`); a product may also ask for it on its own.
    pub immutable_releases: bool,
}

impl Default for Limits {
    /// The contract's defaults: 600 s tokens, 900 s upload URLs, download links of at
    /// most 300 s, 64 MiB parts, abandoned uploads swept after a day, objects up to
    /// 1 GiB verified while registration waits, releases mutable unless a product asks.
    fn default() -> Self {
        Self {
            download_token_max_ttl_seconds: 600,
            presign_expires_seconds: 900,
            download_url_ttl_seconds: 300,
            artifact_part_size_bytes: crate::artifact::ArtifactService::DEFAULT_PART_SIZE,
            artifact_upload_ttl_seconds:
                crate::artifact::ArtifactService::DEFAULT_UPLOAD_TTL_SECONDS,
            artifact_inline_verify_max_bytes:
                crate::artifact::VerificationPolicy::DEFAULT_INLINE_MAX_BYTES,
            immutable_releases: false,
        }
    }
}
