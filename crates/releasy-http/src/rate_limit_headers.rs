//! The `RateLimit-Policy` and `RateLimit` headers (IETF httpapi draft) on every answer
//! to a key that has a request budget, including its 429s and its other errors.

use actix_web::Error;
use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use releasy_domain::rate_limit::BudgetState;

/// The header naming the budget.
pub const RATE_LIMIT_POLICY_HEADER: &str = "ratelimit-policy";
/// The header saying what is left of it.
pub const RATE_LIMIT_HEADER: &str = "ratelimit";

/// The middleware function (wrap it with `actix_web::middleware::from_fn`). The customer
/// key extractor leaves the key's [`BudgetState`] in the request's extensions; without
/// one (no budget configured, no customer key) the answer is untouched.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn rate_limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(req).await?;
    let budget = response
        .request()
        .extensions()
        .get::<BudgetState>()
        .copied();
    if let Some(budget) = budget {
        let headers = response.headers_mut();
        for (name, value) in [
            (RATE_LIMIT_POLICY_HEADER, budget.policy_header()),
            (RATE_LIMIT_HEADER, budget.rate_limit_header()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    Ok(response)
}
