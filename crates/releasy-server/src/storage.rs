//! Choosing the artifact store: S3 when the `RELEASY_ARTIFACT_*` variables are set,
//! otherwise the embedded filesystem store in the data directory.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use releasy_domain::ports::{Clock, ErrorChain, ObjectStore};
use releasy_storage_fs::{FsObjectStore, FsStoreError, SigningKey, SigningKeyError};
use releasy_storage_s3::{S3ConfigError, S3ObjectStore};

use crate::settings::Settings;

/// The file holding the generated signing key of the embedded store.
pub const SIGNING_KEY_FILE: &str = "storage-signing-key";
/// The folder of the embedded store's objects, in the data directory.
pub const OBJECTS_DIR: &str = "objects";

/// How often the embedded store is swept for uploads a dead process left.
const ABANDONED_UPLOAD_PERIOD: Duration = Duration::from_secs(60);

/// The artifact store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The S3 settings cannot be used.
    #[error("the S3 artifact store cannot be set up")]
    S3(#[source] S3ConfigError),
    /// The embedded store's signing key could not be loaded, made or accepted.
    #[error("the embedded artifact store's signing key cannot be used")]
    SigningKey(#[source] SigningKeyError),
    /// The embedded store could not be opened in the data directory.
    #[error("the embedded artifact store cannot be opened")]
    Embedded(#[source] FsStoreError),
    /// A command that checks stored objects found no embedded store where it looked.
    #[error(
        "no embedded artifact store at {}: is RELEASY_DATA_DIR the server's data directory?",
        .0.display()
    )]
    NoEmbeddedStore(std::path::PathBuf),
}

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
            let store = S3ObjectStore::new(s3.clone())
                .map_err(StorageError::S3)?
                .with_conditional_put(settings.artifact_conditional_put);
            tracing::info!(bucket = %s3.bucket, endpoint = ?s3.endpoint, "artifacts stored in S3");
            return Ok(Self {
                store: Arc::new(store),
                embedded: None,
            });
        }
        let mut key = match &settings.storage_signing_secret {
            Some(secret) => SigningKey::from_secret(secret.clone()),
            None => SigningKey::load_or_generate(settings.data_dir.join(SIGNING_KEY_FILE)),
        }
        .map_err(StorageError::SigningKey)?;
        if let Some(previous) = &settings.storage_signing_secret_previous {
            let previous =
                SigningKey::from_secret(previous.clone()).map_err(StorageError::SigningKey)?;
            key = key.with_previous(previous);
        }
        let root = settings.data_dir.join(OBJECTS_DIR);
        let store = FsObjectStore::new(root.clone(), settings.public_base_url.clone(), key)
            .map_err(StorageError::Embedded)?
            .with_clock(clock)
            .with_joined_digest_max_bytes(settings.artifact_inline_verify_max_bytes);
        tracing::info!(path = %root.display(), "artifacts stored on local disk (embedded store)");
        let store = Arc::new(store);
        Ok(Self {
            store: store.clone(),
            embedded: Some(store),
        })
    }

    /// As [`Self::from_settings`], for a command that checks what a server stored
    /// (`verify-artifacts`): the embedded store must be there already. Run with another
    /// data directory than the server's, such a command would make an empty store, find
    /// no object and fail every artifact, which stops every download.
    ///
    /// # Errors
    /// [`StorageError::NoEmbeddedStore`] when the data directory holds no embedded
    /// store; otherwise as [`Self::from_settings`].
    pub fn existing_from_settings(
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StorageError> {
        let root = settings.data_dir.join(OBJECTS_DIR);
        if settings.s3.is_none() && !root.is_dir() {
            return Err(StorageError::NoEmbeddedStore(root));
        }
        Self::from_settings(settings, clock)
    }

    /// `s3` or `filesystem`, as traces name the store.
    pub fn kind(&self) -> &'static str {
        if self.embedded.is_some() {
            "filesystem"
        } else {
            "s3"
        }
    }

    /// Removes, every minute, the temporary files of uploads to the embedded store whose
    /// receiving process died (an instance sharing the data directory may crash while
    /// this one runs); nothing for S3, whose incomplete uploads are the upload
    /// sweeper's.
    pub fn spawn_abandoned_upload_cleanup(&self) {
        let Some(store) = self.embedded.clone() else {
            return;
        };
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ABANDONED_UPLOAD_PERIOD);
            every.tick().await; // the store cleaned up when it was created
            loop {
                every.tick().await;
                let store = store.clone();
                match tokio::task::spawn_blocking(move || store.remove_abandoned_uploads()).await {
                    Ok(removed) if removed.files > 0 => tracing::info!(
                        files = removed.files,
                        bytes = removed.bytes,
                        "removed uploads a crashed process left behind"
                    ),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(error = %ErrorChain(&err), "could not look for abandoned uploads")
                    }
                }
            }
        });
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
