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

/// The state of the unfinished upload at `state_path`; `None` when the server no longer
/// has it (completed, aborted or swept: `404`).
///
/// # Errors
/// API errors other than that `404`.
pub async fn upload_state(
    client: &ApiClient,
    state_path: &str,
) -> Result<Option<UploadState>, CliError> {
    match client.get(state_path, &[]).await {
        Ok(state) => Ok(Some(state)),
        Err(ApiError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
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
    /// The parts the server held at the last renewal, with their ETags and sizes: a
    /// part sent again because its answer was lost may be among them.
    held: HashMap<u32, (String, u64)>,
    expires_at: i64,
}

/// Where a part goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartTarget {
    /// `PUT` it to this URL.
    Send(String),
    /// The server holds it already, whole, under this ETag (its earlier attempt landed
    /// though its answer was lost): nothing to send.
    Held(String),
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
                held: HashMap::new(),
                expires_at,
            }),
        }
    }

    /// Where part `part_number` (of `len` bytes) goes: a URL that does not expire
    /// within the margin, renewed from the server when the ones at hand would (one
    /// renewal for all parts waiting), or nothing to send when the renewal found the
    /// part held already, whole.
    ///
    /// # Errors
    /// [`PartFailure::UploadGone`] when the upload no longer exists; API errors of the
    /// renewal.
    pub async fn for_part(&self, part_number: u32, len: u64) -> Result<PartTarget, PartFailure> {
        let mut current = self.current.lock().await;
        if current.expires_at <= now() + EXPIRY_MARGIN_SECONDS {
            match self.renewed().await? {
                Some(renewed) => *current = renewed,
                None => return Err(PartFailure::UploadGone),
            }
        }
        current.target(part_number, len).ok_or_else(|| {
            CliError::from(ApiError::Unexpected {
                status: 200,
                detail: format!("the server offers no URL for part {part_number}, still to send"),
            })
            .into()
        })
    }

    /// Whether the upload is gone (aborted or swept): a part refused `404` by the store
    /// means that, or a URL the store does not know.
    ///
    /// # Errors
    /// API errors of the look.
    pub async fn upload_is_gone(&self) -> Result<bool, CliError> {
        Ok(upload_state(self.client, &self.state_path).await?.is_none())
    }

    async fn renewed(&self) -> Result<Option<Presigned>, CliError> {
        upload_state(self.client, &self.state_path)
            .await?
            .map(Presigned::from_state)
            .transpose()
    }
}

impl Presigned {
    /// What an upload's state offers: URLs for the parts it misses (none, and no
    /// expiry, when it misses none), and the parts it holds.
    fn from_state(state: UploadState) -> Result<Self, CliError> {
        let held: HashMap<u32, (String, u64)> = state
            .uploaded_parts
            .into_iter()
            .filter_map(|part| Some((part.part_number, (part.etag?, part.size))))
            .collect();
        let missing = state.multipart.filter(|missing| !missing.parts.is_empty());
        let (by_part, expires_at) = match (missing, state.expires_at) {
            (Some(missing), Some(expires_at)) => (
                missing
                    .parts
                    .into_iter()
                    .map(|part| (part.part_number, part.upload_url))
                    .collect(),
                expires_at,
            ),
            // Every part is held: no URL is needed, so none expires.
            (None, _) if !held.is_empty() => (HashMap::new(), i64::MAX),
            _ => {
                return Err(ApiError::Unexpected {
                    status: 200,
                    detail: "the upload's state has no URLs for the parts still to send".to_owned(),
                }
                .into());
            }
        };
        Ok(Self {
            by_part,
            held,
            expires_at,
        })
    }

    /// Where part `part_number` of `len` bytes goes, if anywhere is known.
    fn target(&self, part_number: u32, len: u64) -> Option<PartTarget> {
        if let Some(url) = self.by_part.get(&part_number) {
            return Some(PartTarget::Send(url.clone()));
        }
        self.held
            .get(&part_number)
            .filter(|(_, size)| *size == len)
            .map(|(etag, _)| PartTarget::Held(etag.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: serde_json::Value) -> UploadState {
        serde_json::from_value(json).unwrap()
    }

    /// A part whose answer was lost, sent again after the URLs were renewed: the
    /// renewal offers no URL for it because the server holds it, and it is taken as
    /// held rather than failing the run.
    #[test]
    fn a_renewal_finds_parts_whose_answer_was_lost() {
        let renewed = Presigned::from_state(state(serde_json::json!({
            "uploaded_parts": [
                {"part_number": 1, "size": 10, "etag": "\"a\""},
                {"part_number": 3, "size": 4, "etag": null}
            ],
            "multipart": {"upload_id": "u", "part_size": 10, "part_count": 3,
                "parts": [{"part_number": 2, "upload_url": "https://store/2"}]},
            "expires_at": 2_000_000_000
        })))
        .unwrap();
        assert_eq!(
            renewed.target(2, 10),
            Some(PartTarget::Send("https://store/2".to_owned()))
        );
        assert_eq!(
            renewed.target(1, 10),
            Some(PartTarget::Held("\"a\"".to_owned()))
        );
        assert_eq!(renewed.target(1, 9), None, "held with another size");
        assert_eq!(
            renewed.target(3, 4),
            None,
            "held without an ETag to name it by"
        );
    }

    /// As the server answers it: the plan with no part left to send, and no expiry.
    #[test]
    fn a_state_missing_no_part_needs_no_url() {
        let renewed = Presigned::from_state(state(serde_json::json!({
            "uploaded_parts": [{"part_number": 1, "size": 10, "etag": "\"a\""}],
            "multipart": {"upload_id": "u", "part_size": 10, "part_count": 1, "parts": []},
            "expires_at": null
        })))
        .unwrap();
        assert_eq!(renewed.expires_at, i64::MAX);
        assert_eq!(
            renewed.target(1, 10),
            Some(PartTarget::Held("\"a\"".to_owned()))
        );
        let nothing = Presigned::from_state(state(serde_json::json!({
            "uploaded_parts": [],
            "multipart": {"upload_id": "u", "part_size": 10, "part_count": 1, "parts": []},
            "expires_at": null
        })));
        assert!(nothing.is_err(), "neither held nor to send");
    }
}
