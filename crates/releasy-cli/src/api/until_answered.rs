//! A `POST` asked again, under one `Idempotency-Key`, while its answer is lost.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Answer, ApiClient, ApiError};

/// The first pause between two asks; each later one doubles, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

impl ApiClient {
    /// `POST path` under a random `Idempotency-Key`, asked again with the same key while
    /// the answer is lost on the way or not ready ([`answer_lost`]), for up to
    /// `patience` counted from the first loss (an attempt that failed late, a timeout or
    /// a proxy's `504`, still gets its retries). A request the server carried out before
    /// its answer was lost is replayed, not carried out again. The key is random, not
    /// derived from the request, because the server seals the stored answer under it.
    /// `on_retry` hears of each loss that is asked again.
    ///
    /// # Errors
    /// The last [`ApiError`] once `patience` ran out, or the first that is an answer.
    pub async fn post_until_answered<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        patience: Duration,
        on_retry: impl Fn(&ApiError),
    ) -> Result<Answer<T>, ApiError> {
        let idempotency_key = uuid::Uuid::new_v4().simple().to_string();
        let mut give_up_at = None;
        let mut pause = FIRST_PAUSE;
        loop {
            match self.post(path, body, Some(&idempotency_key)).await {
                Err(err) if answer_lost(&err) => {
                    let give_up_at = *give_up_at.get_or_insert_with(|| Instant::now() + patience);
                    let left = give_up_at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(err);
                    }
                    on_retry(&err);
                    // The last attempt is made at the deadline itself.
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                answered => return answered,
            }
        }
    }
}

/// Whether a request's answer never arrived ([`ApiError::is_transient`]), or is not
/// ready yet (the first request with the key still runs on the server).
pub fn answer_lost(err: &ApiError) -> bool {
    err.is_transient() || err.code() == "idempotency_in_progress"
}
