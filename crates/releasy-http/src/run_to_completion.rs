//! Requests that may write run to completion even when the client goes away.
//!
//! actix drops a request's future when its connection closes. Dropped midway, a write
//! would leave work half done: an idempotency key claimed but never completed (every
//! retry would then be told the request is still in progress), a release deleted from
//! the database but its files left in the store. So each request whose method may write
//! (`POST`, `PUT`, `PATCH`, `DELETE`) runs as a task of its own, detached from its
//! connection: the response of an abandoned request is simply discarded. Reads (`GET`,
//! `HEAD`, `OPTIONS`) have nothing to finish and run inline.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

use crate::error::ApiError;

/// The middleware function (wrap it with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the wrapped service returns; a handler that panicked becomes a 500.
pub async fn run_to_completion<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if !may_write(req.method()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    match actix_web::rt::spawn(next.call(req)).await {
        Ok(result) => result.map(ServiceResponse::map_into_left_body),
        Err(join_error) => Err(ApiError::internal(&join_error).into()),
    }
}

/// Whether a request of this method may change something.
fn may_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_methods_run_inline() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(may_write(&method), "{method}");
        }
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!may_write(&method), "{method}");
        }
    }
}
