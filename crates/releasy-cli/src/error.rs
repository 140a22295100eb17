//! Every way a command can fail, each with its exit code and a code word for `--json`.

use std::path::PathBuf;

use serde_json::json;

use crate::api::{ApiError, ClientSetupError};
use crate::config::ConfigError;
use crate::exit::Exit;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The settings could not be resolved.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No client could be made (usually: missing credentials).
    #[error(transparent)]
    Setup(#[from] ClientSetupError),
    /// The server or a storage URL refused or failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Arguments that cannot work together.
    #[error("{0}")]
    Usage(String),
    /// Nothing matched what was asked for.
    #[error("{0}")]
    NotFound(String),
    /// What exists conflicts with what was asked for.
    #[error("{0}")]
    Conflict(String),
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file changed between hashing and uploading it.
    #[error("{} changed while it was being uploaded; run the command again", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// A download's sha256 differs from the listed checksum.
    #[error(
        "checksum mismatch for {}: expected sha256 {expected}, got {actual}; the file was deleted",
        path.display()
    )]
    ChecksumMismatch {
        /// The target that was not written.
        path: PathBuf,
        /// The listed checksum.
        expected: String,
        /// What was downloaded.
        actual: String,
    },
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// The exit code this error ends the run with.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Config(_) | Self::Usage(_) => Exit::Usage,
            Self::Setup(ClientSetupError::MissingCredentials(_)) => Exit::Auth,
            Self::Setup(ClientSetupError::Http(_)) => Exit::Failure,
            Self::Api(e) => e.exit(),
            Self::NotFound(_) => Exit::NotFound,
            Self::Conflict(_) => Exit::Conflict,
            Self::Io { .. } | Self::FileChanged { .. } => Exit::Failure,
            Self::ChecksumMismatch { .. } => Exit::ChecksumMismatch,
        }
    }

    /// A short code word: the server's error code, or the CLI's own.
    pub fn code(&self) -> &str {
        match self {
            Self::Config(_) => "config_error",
            Self::Setup(ClientSetupError::MissingCredentials(_)) => "missing_credentials",
            Self::Setup(ClientSetupError::Http(_)) => "client_error",
            Self::Api(e) => e.code(),
            Self::Usage(_) => "usage",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Io { .. } => "io_error",
            Self::FileChanged { .. } => "file_changed",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
        }
    }

    /// The line printed on standard error.
    pub fn human(&self) -> String {
        match self {
            Self::Api(ApiError::Status { .. }) => format!("error: {self}"),
            _ => format!("error: {}: {self}", self.code()),
        }
    }

    /// The JSON printed on standard error with `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let (message, status) = match self {
            Self::Api(e) => (
                e.server_message()
                    .map_or_else(|| e.to_string(), str::to_owned),
                e.status(),
            ),
            _ => (self.to_string(), None),
        };
        json!({
            "error": { "code": self.code(), "message": message, "status": status },
            "exit_code": self.exit().code(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_keep_their_code_and_message() {
        let err = CliError::Api(ApiError::Status {
            status: 404,
            code: "not_found".into(),
            message: "release not found".into(),
        });
        assert_eq!(err.exit(), Exit::NotFound);
        assert_eq!(
            err.human(),
            "error: not_found: release not found (HTTP 404)"
        );
        assert_eq!(
            err.to_json(),
            json!({"error": {"code": "not_found", "message": "release not found", "status": 404}, "exit_code": 4})
        );
        let usage = CliError::Usage("choose --platform".into());
        assert_eq!(usage.human(), "error: usage: choose --platform");
        assert_eq!(usage.exit(), Exit::Usage);
    }
}
