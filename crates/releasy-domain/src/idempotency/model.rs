//! Idempotency keys and the records kept for them.

use crate::{Timestamp, ValidationError};

/// A client-chosen idempotency key: 1 to 128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest accepted key.
    pub const MAX_LEN: usize = 128;

    /// Checks a key.
    ///
    /// # Errors
    /// [`ValidationError`] on `Idempotency-Key` when it is empty, longer than 128
    /// characters or not printable ASCII.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty()
            || raw.len() > Self::MAX_LEN
            || !raw.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ValidationError::new(
                "Idempotency-Key",
                format!("must be 1 to {} printable ASCII characters", Self::MAX_LEN),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A response kept to be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// The body, as sent.
    pub body: String,
}

/// Whether the first request with a key has finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// Still running (or abandoned by a crashed instance).
    InProgress,
    /// Finished with this response.
    Completed(StoredResponse),
}

/// What is kept for one key within one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The endpoint and caller the key belongs to.
    pub scope: String,
    /// The key.
    pub key: IdempotencyKey,
    /// A digest of the first request, to detect reuse with another body.
    pub fingerprint: String,
    /// Its state.
    pub state: IdempotencyState,
    /// When the first request claimed the key.
    pub created_at: Timestamp,
}
