//! Connection settings for an S3-compatible bucket (the `RELEASY_ARTIFACT_*` variables).

/// Where artifacts are stored and how to sign requests for them.
///
/// Its `Debug` hides the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket holding every artifact (`RELEASY_ARTIFACT_BUCKET`).
    pub bucket: String,
    /// The signing region, e.g. `us-east-1` (`RELEASY_ARTIFACT_REGION`). Without an
    /// endpoint it must be a region rust-s3 knows, which also gives the endpoint.
    pub region: String,
    /// The base URL of an S3-compatible service, e.g. `http://127.0.0.1:9000`
    /// (`RELEASY_ARTIFACT_ENDPOINT`). `None` means AWS S3 for `region`.
    pub endpoint: Option<String>,
    /// The access key id (`RELEASY_ARTIFACT_ACCESS_KEY`).
    pub access_key: String,
    /// The secret access key (`RELEASY_ARTIFACT_SECRET_KEY`).
    pub secret_key: String,
    /// Address objects as `{endpoint}/{bucket}/{key}` rather than
    /// `{bucket}.{endpoint}/{key}` (`RELEASY_ARTIFACT_PATH_STYLE`). Most self-hosted
    /// services (MinIO, Garage, s3s) need this.
    pub path_style: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// An [`S3Config`] that cannot be used. Messages name the setting, never its secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3ConfigError {
    /// A required setting is empty.
    #[error("artifact storage setting `{0}` is empty")]
    Empty(&'static str),
    /// The region is not one rust-s3 knows, and no endpoint says where it is.
    #[error("unknown artifact storage region `{0}`: set an endpoint for it")]
    UnknownRegion(String),
    /// The endpoint is not an `http://` or `https://` base URL without a path.
    #[error("artifact storage endpoint `{0}` must be an http:// or https:// URL without a path")]
    InvalidEndpoint(String),
    /// rust-s3 refused the settings.
    #[error("artifact storage settings were refused")]
    Client(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret_key() {
        let config = S3Config {
            bucket: "artifacts".into(),
            region: "us-east-1".into(),
            endpoint: None,
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "super-secret-value".into(),
            path_style: false,
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("super-secret-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(debug.contains("artifacts"), "{debug}");
    }
}
