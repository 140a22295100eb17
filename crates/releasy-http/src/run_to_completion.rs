//! Requests run to completion even when the client goes away.
//!
//! actix drops a request's future when its connection closes. Dropped midway, a handler
//! would leave work half done (an idempotency key claimed but never completed), and a
//! SQLite query cancelled on actix's single-threaded workers panics inside diesel-async.
//! Running each request as its own task detaches it from the connection: the response of
//! an abandoned request is simply discarded.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// The middleware function (wrap it with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the wrapped service returns; a handler that panicked becomes a 500.
pub async fn run_to_completion(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    match actix_web::rt::spawn(next.call(req)).await {
        Ok(result) => result,
        Err(join_error) => Err(ApiError::internal(&join_error).into()),
    }
}
