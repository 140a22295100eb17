//! The `Idempotency-Key` header on create-style endpoints: the domain decides (claim,
//! replay, conflict); this module fingerprints the request and keeps the response.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use releasy_domain::audit::{IdSeed, Origin};
use releasy_domain::idempotency::{Begin, IdempotencyKey, StoredResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Set on a response replayed from an earlier request.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// Runs `work` at most once per `Idempotency-Key` (when the header is present) for this
/// endpoint and caller, answering retries with the stored response. `body` is the
/// parsed request: two requests are "the same" when their parsed bodies are equal.
///
/// `work` gets `origin` seeded with the request (`Origin::new_id` then derives the ids
/// it creates from the key, the endpoint, the caller and the body). When `work` fails,
/// `recover` is asked for what an earlier run of the same request created under those
/// ids: a run cut off after its change committed (its instance killed before the
/// response was kept) left the change, and the retry answers with it instead of
/// failing (or creating a second one).
///
/// # Errors
/// The error of `work`, or the idempotency errors (invalid key, conflict, in progress).
pub async fn idempotent<T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    caller: &str,
    body: &impl Serialize,
    origin: &Origin,
    work: impl AsyncFnOnce(Origin) -> Result<T, ApiError>,
    recover: impl AsyncFnOnce(Origin) -> Result<Option<T>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Some(raw_key) = req.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        let value = work(origin.clone()).await?;
        return Ok(HttpResponse::Ok().json(value));
    };
    let key = IdempotencyKey::parse(raw_key.to_str().unwrap_or_default())?;
    // The path (not the route pattern) so a key reused under another parent id is a
    // different request, and the caller so two callers' keys never collide.
    let scope = format!("{} {} {caller}", req.method(), req.path());
    let fingerprint = fingerprint(body)?;
    let origin = origin
        .clone()
        .with_id_seed(IdSeed::of(&scope, &key, &fingerprint));
    let idempotency = &state.services.idempotency;
    let claim = match idempotency.begin(&scope, &key, &fingerprint).await? {
        Begin::Replay(stored) => return Ok(replay(stored)),
        Begin::Proceed(claim) => claim,
    };
    let outcome = match work(origin.clone()).await {
        Ok(value) => Ok(value),
        Err(err) => match recover(origin).await {
            Ok(Some(earlier)) => Ok(earlier),
            Ok(None) => Err(err),
            Err(recover_err) => {
                tracing::warn!(error = %recover_err, "could not look for an earlier run of an idempotent request");
                Err(err)
            }
        },
    };
    match outcome {
        Ok(value) => {
            let body = serde_json::to_string(&value).map_err(|e| ApiError::internal(&e))?;
            let stored = StoredResponse {
                status: StatusCode::OK.as_u16(),
                body: body.clone(),
            };
            // The work is done: a failure to keep its response must not turn it into an
            // error (a retry would then find the key in progress, or recover it).
            if let Err(err) = idempotency.finish(&claim, stored).await {
                tracing::warn!(error = %err, "could not store the response for Idempotency-Key replay");
            }
            Ok(HttpResponse::Ok()
                .content_type("application/json")
                .body(body))
        }
        Err(err) => {
            // Nothing was created: free the key so the client can retry.
            if let Err(release_err) = idempotency.abandon(&claim).await {
                tracing::warn!(error = %release_err, "could not release idempotency key");
            }
            Err(err)
        }
    }
}

/// The `recover` of a request whose run leaves nothing a retry could find (or for which
/// running again is harmless): a retry simply runs it again.
pub async fn nothing_to_recover<T>(_: Origin) -> Result<Option<T>, ApiError> {
    Ok(None)
}

fn fingerprint(body: &impl Serialize) -> Result<String, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(&e))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .content_type("application/json")
        .insert_header((REPLAYED_HEADER, "true"))
        .body(stored.body)
}
