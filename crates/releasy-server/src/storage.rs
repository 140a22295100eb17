//! Choosing the artifact store: S3 when the `RELEASY_ARTIFACT_*` variables are set,
//! otherwise the embedded filesystem store in the data directory.

use std::sync::Arc;

use actix_web::web;
use releasy_domain::ports::{Clock, ObjectStore};
use releasy_storage_fs::{FsObjectStore, SigningKey};
use releasy_storage_s3::{S3Config, S3ObjectStore};

use crate::settings::Settings;

/// The file holding the generated signing key of the embedded store.
pub const SIGNING_KEY_FILE: &str = "storage-signing-key";
/// The folder of the embedded store's objects, in the data directory.
pub const OBJECTS_DIR: &str = "objects";

/// The artifact store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("artifact storage: {0}")]
pub struct StorageError(String);

/// The chosen store, and the routes it needs mounted (the embedded store serves its own
/// presigned URLs).
pub struct ArtifactStorage {
    /// The store, as the domain's port.
    pub store: Arc<dyn ObjectStore>,
    embedded: Option<Arc<FsObjectStore>>,
}

impl std::fmt::Debug for ArtifactStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStorage")
            .field("store", &self.store)
            .finish()
    }
}

impl ArtifactStorage {
    /// Builds the store `settings` ask for.
    ///
    /// # Errors
    /// [`StorageError`] when the S3 settings are unusable or the data directory cannot
    /// hold the embedded store.
    pub fn from_settings(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, StorageError> {
        if let Some(s3) = &settings.s3 {
            let store = S3ObjectStore::new(S3Config {
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                endpoint: s3.endpoint.clone(),
                access_key: s3.access_key.clone(),
                secret_key: s3.secret_key.clone(),
                path_style: s3.path_style,
            })
            .map_err(|e| StorageError(e.to_string()))?;
            tracing::info!(bucket = %s3.bucket, endpoint = ?s3.endpoint, "artifacts stored in S3");
            return Ok(Self {
                store: Arc::new(store),
                embedded: None,
            });
        }
        let key = match &settings.storage_signing_secret {
            Some(secret) => SigningKey::from_secret(secret.clone()),
            None => SigningKey::load_or_generate(settings.data_dir.join(SIGNING_KEY_FILE)),
        }
        .map_err(|e| StorageError(e.to_string()))?;
        let root = settings.data_dir.join(OBJECTS_DIR);
        let store = FsObjectStore::new(root.clone(), settings.public_base_url.clone(), key)
            .map_err(|e| StorageError(e.to_string()))?
            .with_clock(clock);
        tracing::info!(path = %root.display(), "artifacts stored on local disk (embedded store)");
        let store = Arc::new(store);
        Ok(Self {
            store: store.clone(),
            embedded: Some(store),
        })
    }

    /// Mounts the embedded store's upload and download routes (nothing for S3).
    pub fn routes(&self) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
        let embedded = self.embedded.clone();
        move |config: &mut web::ServiceConfig| {
            if let Some(store) = embedded {
                releasy_storage_fs::configure(store)(config);
            }
        }
    }
}
