//! Every request runs as a task of its own, to completion, even when the client goes
//! away.
//!
//! actix drops a request's future when its connection closes. Dropped midway, a write
//! would leave work half done: an idempotency key claimed but never completed (every
//! retry would then be told the request is still in progress), a release deleted from
//! the database but its files left in the store. Detached from its connection, the
//! request finishes and the response of an abandoned request is simply discarded.
//!
//! Reads are detached too, for speed: a handler polled inline is polled by its
//! connection's dispatcher, which reads and writes the socket again at every wake-up of
//! the handler (each database round trip). As a task of its own the handler wakes only
//! itself, and the dispatcher once, when the response is ready. Measured on SQLite
//! (paired `releasy-bench` runs, 2 cores): download resolve 5 to 14 % and admin
//! listings 9 to 15 % more requests per second than inline; see
//! `docs/benchmark-notes.md`.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Instrument as _;

use crate::error::ApiError;

/// The middleware function (wrap it with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the wrapped service returns; a handler that panicked becomes a 500.
pub async fn run_to_completion<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    // The task runs in the request's span: its log lines, its statements and its
    // store calls belong to the request.
    match actix_web::rt::spawn(next.call(req).in_current_span()).await {
        Ok(result) => result.map(ServiceResponse::map_into_left_body),
        Err(join_error) => Err(ApiError::internal(&join_error).into()),
    }
}
