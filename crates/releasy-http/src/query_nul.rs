//! Query strings carrying a NUL character (`%00`) are refused, 400, before any handler.
//!
//! Free-text filters (`name`, `plan`, `actor`, `event`, `platform`, ...) go to the
//! database as they are, and PostgreSQL cannot hold U+0000 in text: left to it, such a
//! filter would be a server error instead of the client's mistake. No parameter means
//! anything with a NUL, so the rule is stated once, for every query.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// The middleware function (wrap it with `actix_web::middleware::from_fn`).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn refuse_nul_in_query<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if holds_nul(req.query_string()) {
        let refusal = ApiError::bad_request("query must not contain NUL characters (%00)");
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Whether the percent-encoded query decodes to a NUL somewhere (`%2500` is the text
/// `%00`, not a NUL).
fn holds_nul(query: &str) -> bool {
    query.as_bytes().windows(3).any(|w| w == b"%00") || query.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_encoded_or_raw_nul_counts() {
        assert!(holds_nul("name=a%00b"));
        assert!(holds_nul("x=1&name=%00"));
        assert!(holds_nul("name=a\0"));
        assert!(!holds_nul("name=%2500"));
        assert!(!holds_nul("name=100%25&limit=100"));
        assert!(!holds_nul(""));
    }
}
