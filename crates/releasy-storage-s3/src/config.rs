//! Connection settings for an S3-compatible bucket (the `RELEASY_ARTIFACT_*` variables).

use s3::Region;

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

impl S3Config {
    /// Checks the settings as [`S3ObjectStore::new`](crate::S3ObjectStore::new) does,
    /// without building a client: a configuration check can refuse them before
    /// anything is opened.
    ///
    /// # Errors
    /// [`S3ConfigError::Empty`], [`S3ConfigError::UnknownRegion`] (no endpoint and a
    /// region rust-s3 does not know) or [`S3ConfigError::InvalidEndpoint`] (not an
    /// `http(s)://host[:port]` URL).
    pub fn validate(&self) -> Result<(), S3ConfigError> {
        self.checked().map(drop)
    }

    /// Where requests go: the endpoint without trailing slashes, and the region to
    /// sign for (with the endpoint in it when one is given).
    pub(crate) fn checked(&self) -> Result<CheckedPlace, S3ConfigError> {
        for (name, value) in [
            ("bucket", &self.bucket),
            ("region", &self.region),
            ("access_key", &self.access_key),
            ("secret_key", &self.secret_key),
        ] {
            if value.trim().is_empty() {
                return Err(S3ConfigError::Empty(name));
            }
        }
        let endpoint = self.endpoint.as_deref().map(bare_endpoint).transpose()?;
        let region = match &endpoint {
            Some(endpoint) => Region::Custom {
                region: self.region.clone(),
                endpoint: endpoint.clone(),
            },
            None => match self.region.parse::<Region>() {
                // rust-s3 turns an unknown name into a custom region whose endpoint is
                // the name itself: refuse it rather than sign for a host that is not S3.
                Ok(Region::Custom { .. }) | Err(_) => {
                    return Err(S3ConfigError::UnknownRegion(self.region.clone()));
                }
                Ok(known) => known,
            },
        };
        Ok(CheckedPlace { endpoint, region })
    }
}

/// Where a checked [`S3Config`] sends its requests.
pub(crate) struct CheckedPlace {
    pub(crate) endpoint: Option<String>,
    pub(crate) region: Region,
}

/// `endpoint` without trailing slashes, when it is `http(s)://host[:port]`.
fn bare_endpoint(endpoint: &str) -> Result<String, S3ConfigError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let invalid = || S3ConfigError::InvalidEndpoint(endpoint.to_owned());
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(invalid)?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(invalid());
    }
    Ok(trimmed.to_owned())
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
    fn endpoints_must_be_bare_http_urls() {
        assert_eq!(
            bare_endpoint("http://127.0.0.1:9000/").ok().as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert!(bare_endpoint("https://s3.example.com").is_ok());
        for bad in [
            "127.0.0.1:9000",
            "ftp://host",
            "http://",
            "http://host/prefix",
            "http://user:pw@host",
        ] {
            assert!(
                matches!(bare_endpoint(bad), Err(S3ConfigError::InvalidEndpoint(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn validation_refuses_what_the_store_would() {
        let aws = |region: &str| S3Config {
            bucket: "artifacts".into(),
            region: region.into(),
            endpoint: None,
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "secret".into(),
            path_style: false,
        };
        aws("eu-west-1").validate().unwrap();
        assert!(matches!(
            aws("auto").validate(),
            Err(S3ConfigError::UnknownRegion(region)) if region == "auto"
        ));
        let with_endpoint = |endpoint: &str| S3Config {
            endpoint: Some(endpoint.into()),
            ..aws("auto")
        };
        with_endpoint("https://account.r2.cloudflarestorage.com")
            .validate()
            .unwrap();
        assert!(matches!(
            with_endpoint("http://minio:9000/s3").validate(),
            Err(S3ConfigError::InvalidEndpoint(_))
        ));
        let empty = S3Config {
            bucket: " ".into(),
            ..aws("eu-west-1")
        };
        assert!(matches!(
            empty.validate(),
            Err(S3ConfigError::Empty("bucket"))
        ));
    }

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
