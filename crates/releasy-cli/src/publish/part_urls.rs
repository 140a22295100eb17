//! The presigned URLs of an upload in parts, renewed before they expire: sending tens
//! of gigabytes takes longer than a URL lives (900 s by default), so a part that
//! starts late asks the server's upload state for fresh URLs instead of being refused.

use std::collections::HashMap;

use tokio::sync::Mutex;

use crate::api::{ApiClient, ApiError};
use crate::dto::{Multipart, UploadState};
use crate::error::CliError;
use crate::output::now;

/// A URL this close to its expiry is not used: a part starts only with a URL that
/// stays valid while its request reaches the store (clocks a little apart included).
pub const EXPIRY_MARGIN_SECONDS: i64 = 60;

/// Where an unfinished upload's state is: the parts the server holds, and fresh URLs
/// for the rest.
pub fn upload_state_path(release_id: &str, artifact_id: &str) -> String {
    format!("/v1/releases/{release_id}/artifacts/{artifact_id}/upload")
}

/// Where each part still to send goes, as the server last presigned it.
pub struct PartUrls<'a> {
    client: &'a ApiClient,
    /// `GET` here answers the upload's state with fresh URLs for its missing parts.
    state_path: String,
    current: Mutex<Presigned>,
}

struct Presigned {
    by_part: HashMap<u32, String>,
    expires_at: i64,
}

/// Why a part could not be sent.
#[derive(Debug)]
pub enum PartFailure {
    /// The upload was aborted or swept (its state is gone): a fresh one may take its
    /// place.
    UploadGone,
    /// Anything else.
    Failed(CliError),
}

impl From<CliError> for PartFailure {
    fn from(err: CliError) -> Self {
        Self::Failed(err)
    }
}

impl<'a> PartUrls<'a> {
    /// The URLs of `plan`, expiring at `expires_at` (Unix seconds), for the upload whose
    /// state is at `state_path`.
    pub fn new(
        client: &'a ApiClient,
        state_path: String,
        plan: &Multipart,
        expires_at: i64,
    ) -> Self {
        let by_part = plan
            .parts
            .iter()
            .map(|part| (part.part_number, part.upload_url.clone()))
            .collect();
        Self {
            client,
            state_path,
            current: Mutex::new(Presigned {
                by_part,
                expires_at,
            }),
        }
    }

    /// A URL for `part_number` that does not expire within the margin, renewed from
    /// the server when the ones at hand would (one renewal for all parts waiting).
    ///
    /// # Errors
    /// [`PartFailure::UploadGone`] when the upload no longer exists; API errors of the
    /// renewal.
    pub async fn for_part(&self, part_number: u32) -> Result<String, PartFailure> {
        let mut current = self.current.lock().await;
        if current.expires_at <= now() + EXPIRY_MARGIN_SECONDS {
            match self.renewed().await? {
                Some(renewed) => *current = renewed,
                None => return Err(PartFailure::UploadGone),
            }
        }
        current.by_part.get(&part_number).cloned().ok_or_else(|| {
            CliError::from(ApiError::Unexpected {
                status: 200,
                detail: format!("the server offers no URL for part {part_number}, still to send"),
            })
            .into()
        })
    }

    async fn renewed(&self) -> Result<Option<Presigned>, CliError> {
        let state: UploadState = match self.client.get(&self.state_path, &[]).await {
            Ok(state) => state,
            Err(ApiError::Status { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (Some(missing), Some(expires_at)) = (state.multipart, state.expires_at) else {
            return Err(ApiError::Unexpected {
                status: 200,
                detail: "the upload's state has no URLs for the parts still to send".to_owned(),
            }
            .into());
        };
        Ok(Some(Presigned {
            by_part: missing
                .parts
                .into_iter()
                .map(|part| (part.part_number, part.upload_url))
                .collect(),
            expires_at,
        }))
    }
}
