//! `Cache-Control: no-store` on every API answer (`/v1/…`) that sets no policy of its
//! own. Callers authenticate with headers of their own (`x-releasy-admin-key`,
//! `x-releasy-api-key`), which shared caches do not know to keep apart (they hold back
//! answers to requests with `Authorization` only, RFC 9111 §3.5), and a `200` may be
//! kept by heuristic: a proxy between a vendor's CI and the server must never hand one
//! caller's customer list, presigned upload URLs or audit events to another. The answers
//! that say what they allow keep it (`private, no-cache` on the ETag-validated release
//! lists).

use std::fmt;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError};

/// The middleware function (wrap it with `actix_web::middleware::from_fn`), outside the
/// others, so that their refusals (a `431`, a `429`) are covered too, and an error a
/// layer below returned is answered with the header as well.
///
/// # Errors
/// Whatever the wrapped service returns, answered with the header.
pub async fn no_store_by_default(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // (The request cannot be kept to answer an error with: routing needs it unshared.)
    let api = req.path().starts_with("/v1/");
    match next.call(req).await {
        Ok(mut response) => {
            if api {
                no_store_unless_set(response.headers_mut());
            }
            Ok(response)
        }
        Err(error) if api => Err(NoStore(error).into()),
        Err(error) => Err(error),
    }
}

fn no_store_unless_set(headers: &mut HeaderMap) {
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// An error answered as it would be, with `Cache-Control: no-store`.
#[derive(Debug)]
struct NoStore(Error);

impl fmt::Display for NoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl ResponseError for NoStore {
    fn status_code(&self) -> StatusCode {
        self.0.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.0.error_response();
        no_store_unless_set(response.headers_mut());
        response
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::BoxBody;
    use actix_web::middleware::from_fn;
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, web};

    use super::*;
    use crate::error::ApiError;

    /// A layer below that refuses with an error, not a response.
    async fn refusing(
        _req: ServiceRequest,
        _next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        Err(ApiError::bad_request("a layer below refused").into())
    }

    #[actix_web::test]
    async fn an_error_from_a_layer_below_is_answered_with_no_store() {
        let app = test::init_service(
            App::new()
                .route("/v1/thing", web::get().to(HttpResponse::Ok))
                .route("/live", web::get().to(HttpResponse::Ok))
                .wrap(from_fn(refusing))
                .wrap(from_fn(no_store_by_default)),
        )
        .await;
        let api = TestRequest::get().uri("/v1/thing").to_request();
        let refused = test::try_call_service(&app, api).await.err().unwrap();
        let response = refused.error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers().get(CACHE_CONTROL).unwrap(), "no-store");
        let probe = TestRequest::get().uri("/live").to_request();
        let refused = test::try_call_service(&app, probe).await.err().unwrap();
        assert!(
            refused
                .error_response()
                .headers()
                .get(CACHE_CONTROL)
                .is_none()
        );
    }
}
