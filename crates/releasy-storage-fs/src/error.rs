//! What can go wrong in the embedded store, for logs; the HTTP routes and the port
//! implementation turn these into answers that leak nothing.

use std::path::PathBuf;

use releasy_domain::ports::StoreError;

/// An object key the store refuses to turn into a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("object key refused: {reason}")]
pub struct InvalidKey {
    /// Why the key was refused.
    pub reason: &'static str,
}

/// A failure of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum FsStoreError {
    /// The key could escape the store's root or is otherwise unusable as a path.
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),
    /// The public base URL is not an absolute `http` or `https` URL.
    #[error("public base URL must start with http:// or https://: {0:?}")]
    InvalidBaseUrl(String),
    /// A filesystem operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What the store was doing.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The blocking task doing the filesystem work did not finish.
    #[error("filesystem task failed: {0}")]
    Blocking(String),
}

impl FsStoreError {
    /// An [`FsStoreError::Io`] for `action` on `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl FsStoreError {
    /// Whether the store cannot take the request now but may later (a full or
    /// read-only disk, a quota, a busy or slow device, no memory or file descriptor to
    /// spare, no thread to run it on), rather than failing for a reason of its own.
    pub(crate) fn is_unavailable(&self) -> bool {
        use std::io::ErrorKind;
        matches!(
            self,
            Self::Io { source, .. } if matches!(
                source.kind(),
                ErrorKind::StorageFull
                    | ErrorKind::ReadOnlyFilesystem
                    | ErrorKind::ResourceBusy
                    | ErrorKind::TimedOut
                    | ErrorKind::QuotaExceeded
                    | ErrorKind::OutOfMemory
            ) || out_of_file_descriptors(source)
        ) || matches!(self, Self::Blocking(_))
    }
}

/// `EMFILE` or `ENFILE`: the process or the system has as many files open as it may, which
/// passes as connections and transfers end (std has no stable kind for them).
fn out_of_file_descriptors(error: &std::io::Error) -> bool {
    cfg!(unix) && matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl From<FsStoreError> for StoreError {
    fn from(err: FsStoreError) -> Self {
        if err.is_unavailable() {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Internal(Box::new(err))
        }
    }
}
